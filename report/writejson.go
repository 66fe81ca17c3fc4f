package report

import (
	"bytes"
	"encoding/json"
	"sync"
)

// The JSON of an hour of a busy site is 4-6 MB, four fifths of it the flow
// and host listings, and encoding/json writes it on one goroutine in two
// passes (marshal, then indent the whole): 60-90 ms, longer than the text
// report and the diagnosis together, while the second core, idle once the
// capture is read, waits. marshalJSON cuts the four long listings into
// runs, writes them on two goroutines while this one writes the rest with
// those fields null, and splices them in; the bytes are json.Encoder's
// (TestWriteJSONIsTheEncoders), so the file and its schema are what they
// were. On the hour with one scanner (4 MB): 56-85 ms before, 32-55 after.

// jsonIndent is the report's indentation step; a top-level field's value
// starts one step in.
const jsonIndent = "  "

// jsonPart is a run of a long top-level listing, written on its own
// goroutine: the listings are cut into runs of about equal length so that
// the longest (tcp_flows, two fifths of the bytes) does not decide the time.
type jsonPart struct {
	field string // the listing's JSON name
	value any    // the run, a slice
	out   []byte
	err   error
}

// jsonRuns is how many runs the listings are cut into in all: enough to
// keep both cores busy to the end.
const jsonRuns = 8

// cut appends s, under field, as runs of at most per elements (none for
// an empty or nil listing).
func cut[T any](parts []*jsonPart, field string, s []T, per int) []*jsonPart {
	for i := 0; i < len(s); i += per {
		parts = append(parts, &jsonPart{field: field, value: s[i:min(i+per, len(s))]})
	}
	return parts
}

// marshalJSON returns the report's indented JSON with a final newline.
func marshalJSON(r *Report) ([]byte, error) {
	total := len(r.Hosts) + len(r.NPASessions) + len(r.UDPFlows) + len(r.TCPFlows)
	if total < 256 {
		// A small report: one pass is quicker than the goroutines.
		var b bytes.Buffer
		err := writeJSONPlain(&b, r)
		return b.Bytes(), err
	}
	per := (total + jsonRuns - 1) / jsonRuns
	var parts []*jsonPart
	parts = cut(parts, "hosts", r.Hosts, per)
	parts = cut(parts, "npa_sessions", r.NPASessions, per)
	parts = cut(parts, "udp_flows", r.UDPFlows, per)
	parts = cut(parts, "tcp_flows", r.TCPFlows, per)
	rest := *r
	// The listings written in runs leave a null in their place; an empty
	// one stays, written as [] by the one pass.
	if len(r.Hosts) > 0 {
		rest.Hosts = nil
	}
	if len(r.NPASessions) > 0 {
		rest.NPASessions = nil
	}
	if len(r.UDPFlows) > 0 {
		rest.UDPFlows = nil
	}
	if len(r.TCPFlows) > 0 {
		rest.TCPFlows = nil
	}
	work := make(chan *jsonPart, len(parts))
	for _, p := range parts {
		work <- p
	}
	close(work)
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range work {
				p.out, p.err = json.MarshalIndent(p.value, jsonIndent, jsonIndent)
			}
		}()
	}
	var head bytes.Buffer
	err := writeJSONPlain(&head, &rest)
	wg.Wait()
	if err != nil {
		return nil, err
	}
	size := head.Len()
	for _, p := range parts {
		if p.err != nil {
			return nil, p.err
		}
		size += len(p.out)
	}
	out := make([]byte, 0, size)
	h := head.Bytes()
	for i := 0; i < len(parts); {
		field := parts[i].field
		// The field sits at the top level, one step in, and is never the
		// last: "\n  \"tcp_flows\": null,\n" (no string holds a raw
		// newline, so this is found only where the field is).
		hole := []byte("\n" + jsonIndent + `"` + field + `": null,` + "\n")
		at := bytes.Index(h, hole)
		if at < 0 {
			var b bytes.Buffer // not where it must be: the slow way
			err := writeJSONPlain(&b, r)
			return b.Bytes(), err
		}
		at += len(hole) - len("null,\n")
		out = append(out, h[:at]...)
		h = h[at+len("null"):]
		// The runs joined: "[\n    a,\n    b\n  ]" and "[\n    c\n  ]" make
		// "[\n    a,\n    b,\n    c\n  ]".
		end := []byte("\n" + jsonIndent + "]")
		for first := true; i < len(parts) && parts[i].field == field; i++ {
			b := parts[i].out
			if !first {
				out = append(out, ',')
				b = b[1:] // the "["
			}
			if i+1 < len(parts) && parts[i+1].field == field {
				b = b[:len(b)-len(end)]
			}
			out = append(out, b...)
			first = false
		}
	}
	return append(out, h...), nil
}
