package flows

import (
	"math/bits"
	"math/rand/v2"
)

// flowTable maps flow keys to the live flows (V is *Conn or *UDPFlow).
//
// Why not map[flowKey]V: a Go map hashes a struct key by loading it from
// memory in 16-byte blocks just after it was written in 8-byte words, and
// that load stalls on store forwarding at every packet (perf annotate put
// most of addTCP's cycles on it); hashing the words here, in registers, and
// keying a map by the 64-bit result (the map's fast path for integer keys)
// removes it. Keys whose hashes collide share a chain.
//
// The hash is seeded per process, so a capture crafted to make flows
// collide cannot aim at this run's chains.
type flowTable[V comparable] struct {
	m map[uint64]*tableSlot[V]
	n int
}

type tableSlot[V comparable] struct {
	key  flowKey
	val  V
	next *tableSlot[V]
}

var tableSeed = [6]uint64{rand.Uint64() | 1, rand.Uint64(), rand.Uint64() | 1, rand.Uint64(), rand.Uint64() | 1, rand.Uint64() | 1}

// mix is wyhash's mixing step: the two halves of the 128-bit product, xored.
func mix(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

func (k *flowKey) hash() uint64 {
	h := mix(k.a0^tableSeed[0], k.a1^tableSeed[1])
	h = mix(h^k.b0^tableSeed[2], k.b1^tableSeed[3])
	return mix(h^k.meta^tableSeed[4], tableSeed[5])
}

func (k *flowKey) equal(o *flowKey) bool {
	return k.a0 == o.a0 && k.a1 == o.a1 && k.b0 == o.b0 && k.b1 == o.b1 && k.meta == o.meta
}

func newFlowTable[V comparable]() flowTable[V] {
	return flowTable[V]{m: map[uint64]*tableSlot[V]{}}
}

// get returns k's flow, or the zero V.
func (t *flowTable[V]) get(k *flowKey) V {
	for s := t.m[k.hash()]; s != nil; s = s.next {
		if s.key.equal(k) {
			return s.val
		}
	}
	var zero V
	return zero
}

// set makes v k's flow, replacing the flow it had.
func (t *flowTable[V]) set(k *flowKey, v V) {
	h := k.hash()
	head := t.m[h]
	for s := head; s != nil; s = s.next {
		if s.key.equal(k) {
			s.val = v
			return
		}
	}
	t.m[h] = &tableSlot[V]{key: *k, val: v, next: head}
	t.n++
}

func (t *flowTable[V]) len() int { return t.n }

// each calls fn for every flow, in no particular order.
func (t *flowTable[V]) each(fn func(V)) {
	for _, s := range t.m {
		for ; s != nil; s = s.next {
			fn(s.val)
		}
	}
}

// removeIf removes every flow for which drop returns true.
func (t *flowTable[V]) removeIf(drop func(V) bool) {
	for h, head := range t.m {
		var kept *tableSlot[V]
		for s := head; s != nil; {
			next := s.next
			if drop(s.val) {
				t.n--
			} else {
				s.next, kept = kept, s
			}
			s = next
		}
		if kept == nil {
			delete(t.m, h)
		} else {
			t.m[h] = kept
		}
	}
}
