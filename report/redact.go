package report

import (
	"crypto/hmac"
	"crypto/sha256"
	"net/netip"
	"reflect"
	"regexp"
)

// Redactor replaces IP addresses with stable pseudonyms so that a report can
// leave the customer's site. The mapping is prefix-preserving (the scheme of
// Crypto-PAn, with HMAC-SHA256 as the pseudo-random function): two addresses
// that share an n-bit prefix map to pseudonyms that share an n-bit prefix,
// so subnets, NAT pools and "same host" relations survive redaction while
// the real addresses do not. The same key gives the same pseudonyms, so
// reports redacted with one key can be compared.
type Redactor struct {
	key []byte
}

// NewRedactor returns a redactor keyed with key (any length; a site secret).
func NewRedactor(key []byte) *Redactor { return &Redactor{key: append([]byte(nil), key...)} }

// Addr returns the pseudonym of a.
func (r *Redactor) Addr(a netip.Addr) netip.Addr {
	if a.Is4In6() {
		a = a.Unmap()
	}
	in := a.AsSlice()
	out := make([]byte, len(in))
	mac := hmac.New(sha256.New, r.key)
	prefix := make([]byte, len(in)+1)
	for bit := 0; bit < len(in)*8; bit++ {
		// The flip of bit i depends only on the bits before it.
		prefix[0] = byte(bit)
		for i := range in {
			prefix[1+i] = 0
		}
		for b := 0; b < bit; b++ {
			if in[b/8]&(0x80>>(b%8)) != 0 {
				prefix[1+b/8] |= 0x80 >> (b % 8)
			}
		}
		mac.Reset()
		mac.Write(prefix)
		flip := mac.Sum(nil)[0] & 1
		v := (in[bit/8] >> (7 - bit%8)) & 1
		if v^flip == 1 {
			out[bit/8] |= 0x80 >> (bit % 8)
		}
	}
	p, _ := netip.AddrFromSlice(out)
	return p
}

// MAC returns the pseudonym of a hardware address (6 bytes for Ethernet,
// or the up to 8 of a Linux cooked header): a keyed hash of it with the
// locally administered bit set, so that it names neither the vendor nor the
// card while one host keeps one pseudonym. The group bit is kept, and the
// all-zeros and broadcast addresses, which name nobody, stay as they are.
func (r *Redactor) MAC(hw []byte) []byte {
	out := append([]byte(nil), hw...)
	if len(hw) == 0 || allBytes(hw, 0) || allBytes(hw, 0xFF) {
		return out
	}
	mac := hmac.New(sha256.New, r.key)
	mac.Write([]byte("mac\x00"))
	mac.Write(hw)
	sum := mac.Sum(nil)
	copy(out, sum)
	out[0] = out[0]&^0x03 | 0x02 | hw[0]&0x01
	return out
}

func allBytes(b []byte, v byte) bool {
	for _, c := range b {
		if c != v {
			return false
		}
	}
	return true
}

// addrPattern finds IPv4 and IPv6 literals in free text.
var addrPattern = regexp.MustCompile(`[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}|\b\d{1,3}(?:\.\d{1,3}){3}\b`)

// Text replaces every address literal in s.
func (r *Redactor) Text(s string) string {
	return addrPattern.ReplaceAllStringFunc(s, func(m string) string {
		a, err := netip.ParseAddr(m)
		if err != nil {
			return m
		}
		return r.Addr(a).String()
	})
}

// Apply redacts the report in place. A report built from a diagnosis is
// built again from its typed values with every address written as its
// pseudonym (tables, findings' words and filters alike), so nothing
// depends on finding addresses in text. A report read back from JSON has
// no typed values: there every string is searched for address literals
// instead. Input paths are kept: they name the customer's files, not hosts.
func (r *Redactor) Apply(rep *Report) {
	if rep.res != nil {
		o := rep.opts
		o.Version, o.Redactor = rep.Tool.Version, r
		*rep = *BuildWith(rep.res, rep.inputs, o)
		return
	}
	paths := map[string]bool{}
	for _, in := range rep.Inputs {
		paths[in.Path] = true
	}
	r.walk(reflect.ValueOf(rep).Elem(), paths)
}

func (r *Redactor) walk(v reflect.Value, keep map[string]bool) {
	switch v.Kind() {
	case reflect.String:
		if v.CanSet() && !keep[v.String()] {
			v.SetString(r.Text(v.String()))
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				r.walk(v.Field(i), keep)
			}
		}
	case reflect.Slice, reflect.Array:
		for i := 0; i < v.Len(); i++ {
			r.walk(v.Index(i), keep)
		}
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			r.walk(v.Elem(), keep)
		}
	}
}
