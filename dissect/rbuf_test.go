package dissect

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

// TestRbuf: next hands out the stream in order whatever the reader's chunk
// sizes, returns what is left with the error at the end, and gives up on a
// reader that never makes progress.
func TestRbuf(t *testing.T) {
	data := make([]byte, 10000)
	for i := range data {
		data[i] = byte(i * 7)
	}
	readers := map[string]func() io.Reader{
		"plain":    func() io.Reader { return bytes.NewReader(data) },
		"one-byte": func() io.Reader { return iotest.OneByteReader(bytes.NewReader(data)) },
		"half":     func() io.Reader { return iotest.HalfReader(bytes.NewReader(data)) },
		"data-err": func() io.Reader { return iotest.DataErrReader(bytes.NewReader(data)) },
	}
	for name, mk := range readers {
		b := newRbuf(mk(), 64)
		var got []byte
		for i := 1; ; i = i%64 + 1 {
			s, err := b.next(i)
			got = append(got, s...)
			if err != nil {
				if err != io.EOF || len(s) >= i {
					t.Fatalf("%s: next(%d) = %d bytes, %v; want a short read with io.EOF", name, i, len(s), err)
				}
				break
			}
			if len(s) != i {
				t.Fatalf("%s: next(%d) = %d bytes without an error", name, i, len(s))
			}
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("%s: the stream came out changed (%d of %d bytes)", name, len(got), len(data))
		}
	}
	b := newRbuf(stuck{}, 64)
	if _, err := b.next(8); !errors.Is(err, io.ErrNoProgress) {
		t.Fatalf("a reader stuck at (0, nil) gave %v; want io.ErrNoProgress", err)
	}
	b = newRbuf(bytes.NewReader(data[:5]), 64)
	if s, _ := b.peek(4); !bytes.Equal(s, data[:4]) {
		t.Fatalf("peek(4) = %v", s)
	}
	if s, err := b.next(8); len(s) != 5 || err != io.EOF {
		t.Fatalf("next(8) on 5 bytes = %d bytes, %v; want 5, io.EOF", len(s), err)
	}
}

type stuck struct{}

func (stuck) Read([]byte) (int, error) { return 0, nil }
