package flows

import (
	"math/bits"
	"math/rand/v2"

	"github.com/fwdiag/fwdiag/internal/bloom"
)

// flowTable maps flow keys to the live flows (V is *Conn or *UDPFlow): an
// open-addressing table with linear probing, the keys in the slots.
//
// Why not map[flowKey]V: a Go map hashes a struct key by loading it from
// memory in 16-byte blocks just after it was written in 8-byte words, and
// that load stalls on store forwarding at every packet (perf annotate put
// most of addTCP's cycles on it). Here the key's words are hashed in
// registers, and a lookup touches one slot, whose key is compared in place,
// where a map of chains touched the map's group, then the chain, then the
// flow: with tens of thousands of flows each of those is a cache miss.
//
// The hash is seeded per process, so a capture crafted to make flows
// collide cannot aim at this run's probe sequences.
type flowTable[V comparable] struct {
	slots []tableSlot[V] // a power of two long; a zero val is an empty slot
	n     int
	// spare is an empty array as long as slots, which a sweep (removeIf)
	// rebuilds into and hands the old array back to: sweeping a full table
	// every few thousand new flows (a scan, a flood) would otherwise leave
	// a table's worth of garbage each time.
	spare []tableSlot[V]
	peak  int // the most flows held since the last fit
	// filter, when set, holds every key in the table (and maybe some that
	// left since the last removal): a scanner's new attempt is told it has
	// no live connection without a lookup in a table of megabytes.
	filter *bloom.Filter
}

// absent reports whether the key of hash h is certainly not in the table
// (false without a filter).
func (t *flowTable[V]) absent(h uint64) bool { return t.filter != nil && !t.filter.MayHave(h) }

type tableSlot[V comparable] struct {
	key flowKey
	val V
	// at is the sweeps' note on the flow (removeIfAt): a capture time
	// before which it need not be looked at. Set zero with every flow and
	// by whoever changes the flow (find, then at = 0).
	at int64
}

const tableMinSize = 1024

var tableSeed = [6]uint64{rand.Uint64() | 1, rand.Uint64(), rand.Uint64() | 1, rand.Uint64(), rand.Uint64() | 1, rand.Uint64() | 1}

// mix is wyhash's mixing step: the two halves of the 128-bit product, xored.
func mix(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

func (k *flowKey) hash() uint64 { return metaHash(k.addrHash(), k.meta) }

// addrHash is the part of hash from the key's addresses, which Prepare
// works out off the flow engine's goroutine; metaHash adds the ports,
// the vantage and the protocol.
func (k *flowKey) addrHash() uint64 {
	h := mix(k.a0^tableSeed[0], k.a1^tableSeed[1])
	return mix(h^k.b0^tableSeed[2], k.b1^tableSeed[3])
}

func metaHash(addr, meta uint64) uint64 { return mix(addr^meta^tableSeed[4], tableSeed[5]) }

func (k *flowKey) equal(o *flowKey) bool {
	return k.a0 == o.a0 && k.a1 == o.a1 && k.b0 == o.b0 && k.b1 == o.b1 && k.meta == o.meta
}

func newFlowTable[V comparable]() flowTable[V] {
	return flowTable[V]{slots: make([]tableSlot[V], tableMinSize)}
}

// find returns the slot of k, or the empty slot where k would go.
func (t *flowTable[V]) find(k *flowKey) *tableSlot[V] { return t.findH(k, k.hash()) }

// findH is find for a key whose hash h the caller has.
func (t *flowTable[V]) findH(k *flowKey, h uint64) *tableSlot[V] {
	var zero V
	mask := uint64(len(t.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.val == zero || s.key.equal(k) {
			return s
		}
	}
}

// get returns k's flow, or the zero V.
func (t *flowTable[V]) get(k *flowKey) V { return t.find(k).val }

// set makes v (not the zero V) k's flow, replacing the flow it had.
func (t *flowTable[V]) set(k *flowKey, v V) { t.setH(k, k.hash(), v) }

// setH is set for a key whose hash h the caller has.
func (t *flowTable[V]) setH(k *flowKey, h uint64, v V) {
	var zero V
	s := t.findH(k, h)
	if s.val == zero {
		if (t.n+1)*8 > len(t.slots)*5 { // keep the load under 5/8
			t.rebuild(len(t.slots) * 2)
			s = t.findH(k, h)
		}
		t.n++
		t.peak = max(t.peak, t.n)
		s.key = *k
		if t.filter != nil {
			t.filter.Add(h)
		}
	}
	s.val, s.at = v, 0
}

func (t *flowTable[V]) len() int { return t.n }

// each calls fn for every flow, in no particular order.
func (t *flowTable[V]) each(fn func(V)) {
	var zero V
	for i := range t.slots {
		if v := t.slots[i].val; v != zero {
			fn(v)
		}
	}
}

// removeIf removes every flow for which drop returns true (called once
// per flow).
func (t *flowTable[V]) removeIf(drop func(V) bool) {
	t.removeIfAt(func(v V, _ *int64) bool { return drop(v) })
}

// removeIfAt is removeIf with each flow's slot note (tableSlot.at), which
// drop may read and set: the note sits in the slot, which the sweep reads
// in order anyway, where a field of the flow cost a cache miss per live
// flow at every sweep. The table is rebuilt, in the same pass, only from
// the first flow that goes: a sweep that evicts only probe records
// (probe.go) leaves the live connections where they are.
func (t *flowTable[V]) removeIfAt(drop func(V, *int64) bool) {
	var zero V
	old := t.slots
	for i := range old {
		s := &old[i]
		if s.val == zero || !drop(s.val, &s.at) {
			continue
		}
		// The first to go: move the flows before it, and go on moving.
		if len(t.spare) == len(old) {
			t.slots, t.spare = t.spare, nil
		} else {
			t.slots, t.spare = make([]tableSlot[V], len(old)), nil
		}
		t.n = 0
		if t.filter != nil {
			t.filter.Clear() // the keys that stay go back in
		}
		keep := func(x *tableSlot[V]) {
			h := x.key.hash()
			*t.findH(&x.key, h) = *x
			t.n++
			if t.filter != nil {
				t.filter.Add(h)
			}
		}
		for j := range old[:i] {
			if x := &old[j]; x.val != zero {
				keep(x)
			}
		}
		for j := i + 1; j < len(old); j++ {
			if x := &old[j]; x.val != zero && !drop(x.val, &x.at) {
				keep(x)
			}
		}
		clear(old)
		t.spare = old
		return
	}
}

// rebuild moves the flows into a table of size slots. Removal from a linearly probed
// table must not leave holes in probe sequences; a rebuild cannot, and
// removal happens only in sweeps, which are rare.
func (t *flowTable[V]) rebuild(size int) {
	var zero V
	old := t.slots
	if len(t.spare) == size {
		t.slots, t.spare = t.spare, nil
	} else {
		t.slots, t.spare = make([]tableSlot[V], size), nil
	}
	t.n = 0
	for i := range old {
		s := &old[i]
		if s.val == zero {
			continue
		}
		*t.find(&s.key) = *s
		t.n++
	}
	if len(old) == size {
		clear(old)
		t.spare = old
	}
}

// fit rebuilds the table at a quarter of its size or less when its flows
// have filled under half of that since the last fit: a live table that
// grew for a scan's attempts before they became probe records (probe.go)
// then spreads the few flows left over megabytes, and every lookup misses
// the cache. (Not after each sweep of a flood: the table fills up again
// before the next; shrinking and growing it each time was 40 MB of
// garbage for 10M SYNs.)
func (t *flowTable[V]) fit() {
	size := len(t.slots)
	for size > tableMinSize && t.peak*2 <= size/2 {
		size /= 2
	}
	if size*4 <= len(t.slots) {
		t.rebuild(size)
	}
	t.peak = t.n
}
