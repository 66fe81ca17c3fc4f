package bloom

import (
	"math/bits"
	"testing"
)

// TestFilterNeverMissesAndMostlyRejects: every key added may be there,
// through a Clear and adds after it; of 100,000 keys never added, at
// 16,384 keys in, fewer than one in forty may be (the documented one in
// seventy, with room for the hash), and after Clear none is.
func TestFilterNeverMissesAndMostlyRejects(t *testing.T) {
	h := func(i uint64) uint64 { hi, lo := bits.Mul64(i+1, 0x9e3779b97f4a7c15); return hi ^ lo }
	var f Filter
	for round := 0; round < 2; round++ {
		for i := uint64(0); i < 16384; i++ {
			f.Add(h(i))
		}
		for i := uint64(0); i < 16384; i++ {
			if !f.MayHave(h(i)) {
				t.Fatalf("round %d: key %d added, said absent", round, i)
			}
		}
		fp := 0
		for i := uint64(1 << 32); i < 1<<32+100_000; i++ {
			if f.MayHave(h(i)) {
				fp++
			}
		}
		if fp*40 > 100_000 {
			t.Errorf("round %d: %d of 100000 absent keys may be there; want under 2,500", round, fp)
		}
		f.Clear()
		if f.MayHave(h(0)) {
			t.Errorf("round %d: a key said present after Clear", round)
		}
	}
}
