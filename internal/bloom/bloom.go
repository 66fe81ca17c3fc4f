// Package bloom is the Bloom filter of 64-bit hashes that the flow tables
// and diagnosis's member sets put in front of their lookups: two bits a
// key in 256 Kbit (32 KB, in the first- or second-level cache), no
// allocation after New. It says that a key is certainly not among those
// added since the last Clear, or may be: at 16,384 keys one absent key in
// seventy may be, at 4,096 one in a thousand.
package bloom

// Filter is a Bloom filter of key hashes (the zero Filter is empty).
type Filter struct {
	bits [1 << 18 / 64]uint64
}

// Add adds the key of hash h.
func (f *Filter) Add(h uint64) {
	i, j := h&(1<<18-1), h>>32&(1<<18-1)
	f.bits[i>>6] |= 1 << (i & 63)
	f.bits[j>>6] |= 1 << (j & 63)
}

// MayHave reports whether the key of hash h may have been added.
func (f *Filter) MayHave(h uint64) bool {
	i, j := h&(1<<18-1), h>>32&(1<<18-1)
	return f.bits[i>>6]&(1<<(i&63)) != 0 && f.bits[j>>6]&(1<<(j&63)) != 0
}

// Clear empties the filter.
func (f *Filter) Clear() { clear(f.bits[:]) }
