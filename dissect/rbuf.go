package dissect

import "io"

// rbuf is the readers' input buffer: bufio.Reader's Peek and Discard cost
// four calls and their checks per frame (a tenth of the reading goroutine's
// time on page-cache reads), where a frame usually lies whole in the
// buffer and next can hand it out inline.
type rbuf struct {
	rd   io.Reader
	buf  []byte
	r, w int   // unread data is buf[r:w]
	err  error // the error that ended rd; returned once the data runs out
}

func newRbuf(rd io.Reader, size int) *rbuf { return &rbuf{rd: rd, buf: make([]byte, size)} }

// next consumes and returns the next n bytes (n <= len(buf)). The slice
// aliases the buffer: valid until the next call. With fewer bytes left it
// returns those and the error (io.EOF at a clean end).
func (b *rbuf) next(n int) ([]byte, error) {
	if b.w-b.r >= n {
		s := b.buf[b.r : b.r+n : b.r+n]
		b.r += n
		return s, nil
	}
	s, err := b.peek(n)
	b.r += len(s)
	return s, err
}

// peek returns the next n bytes without consuming them, or fewer with the
// error.
func (b *rbuf) peek(n int) ([]byte, error) {
	if b.w-b.r < n && b.err == nil {
		if b.r > 0 {
			b.w = copy(b.buf, b.buf[b.r:b.w])
			b.r = 0
		}
		for b.w < n && b.err == nil {
			m, err := b.rd.Read(b.buf[b.w:])
			if m < 0 || m > len(b.buf)-b.w {
				m, err = 0, io.ErrShortBuffer // a broken Reader must not break us
			}
			b.w += m
			if err != nil {
				b.err = err
			} else if m == 0 {
				// io.Reader allows (0, nil); many in a row mean a stuck
				// reader, which bufio also gives up on.
				b.err = b.zeroReads()
			}
		}
	}
	if b.w-b.r >= n {
		return b.buf[b.r : b.r+n : b.r+n], nil
	}
	err := b.err
	if err == nil {
		err = io.ErrUnexpectedEOF
	}
	return b.buf[b.r:b.w:b.w], err
}

// zeroReads retries a reader that returned no data and no error, as
// bufio.Reader does (100 times), before calling it stuck.
func (b *rbuf) zeroReads() error {
	for i := 0; i < 100; i++ {
		m, err := b.rd.Read(b.buf[b.w:])
		if m < 0 || m > len(b.buf)-b.w {
			return io.ErrShortBuffer
		}
		b.w += m
		if err != nil {
			return err
		}
		if m > 0 {
			return nil
		}
	}
	return io.ErrNoProgress
}

// Read implements io.Reader: buffered data first, then rd directly (for
// records larger than the buffer, and for the gzip reader layered on top).
func (b *rbuf) Read(p []byte) (int, error) {
	if b.r < b.w {
		n := copy(p, b.buf[b.r:b.w])
		b.r += n
		return n, nil
	}
	if b.err != nil {
		return 0, b.err
	}
	n, err := b.rd.Read(p)
	if err != nil {
		b.err = err
	}
	return n, err
}
