package report

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/fwdiag/fwdiag/catalog"
	"github.com/fwdiag/fwdiag/diagnose"
)

// TestMeasuredTimeoutInJSONTextAndChange: a measured bracket reaches the
// JSON (bounds, profiles, need, the finding that carries it), the text
// report's header, and the change, whose new value is what K2 needs, not
// the silence measured; redacted, the device's address is not shown.
func TestMeasuredTimeoutInJSONTextAndChange(t *testing.T) {
	nat, server := netip.MustParseAddr("198.51.100.1"), netip.MustParseAddr("198.51.100.20")
	cat := catalog.NewCatalog(catalog.DefaultServices())
	svc, _ := cat.Lookup(19283, catalog.UDP, "")
	b := diagnose.Bracket{Transport: catalog.UDP, Device: nat, Above: 4 * time.Second, Survived: 2, Below: 7 * time.Second, Died: 1,
		Need: catalog.K2ClientUDPIdle, Product: catalog.K2}
	res := &diagnose.Result{Brackets: []diagnose.Bracket{b}, Findings: []diagnose.Finding{{
		Kind: diagnose.UDPLateResponse, Severity: diagnose.Warning, Service: svc, Transport: catalog.UDP, Port: 19283,
		Client: nat, Server: server, Count: 1, Samples: []time.Duration{7 * time.Second},
		Facts: &diagnose.UDPLateFacts{Late: 1, Refused: 1, Bracket: b,
			ICMPFacts: diagnose.ICMPFacts{From: map[netip.Addr]int{nat: 1}, Codes: map[diagnose.ICMPCode]int{{Type: 3, Code: 3}: 1}}}}}}
	r := Build(res, nil, "t")
	if len(r.Measured) != 1 {
		t.Fatalf("got %d measured timeouts; want 1", len(r.Measured))
	}
	m := r.Measured[0]
	if m.Device != "198.51.100.1" || m.LongerThanS == nil || *m.LongerThanS != 4 || m.ShorterThanS == nil || *m.ShorterThanS != 7 ||
		m.Contradictory || len(m.Profiles) != 0 || m.NeedS == nil || *m.NeedS != 900 || len(m.Findings) != 1 || m.Findings[0] != r.Findings[0].ID {
		t.Errorf("got %+v; want the NAT, 4 s to 7 s, no profile, need 900 s, the finding", m)
	}
	if !strings.Contains(m.Words, "longer than 4.0 s and less than 7.0 s") || !strings.Contains(m.Words, "15.0 min") {
		t.Errorf("words %q; want the bracket and the need", m.Words)
	}
	if len(r.Changes) != 1 || r.Changes[0].MinTimeoutS == nil || *r.Changes[0].MinTimeoutS != 900 ||
		!strings.Contains(r.Changes[0].What, "measured now: longer than 4.0 s and less than 7.0 s") {
		t.Errorf("got changes %+v; want one above 900 s that says what was measured", r.Changes)
	}
	var buf bytes.Buffer
	if err := WriteText(&buf, r); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "Measured: The device at 198.51.100.1 keeps UDP state for longer than 4.0 s") {
		t.Errorf("text report lacks the measured line:\n%s", buf.String())
	}
	red := BuildWith(res, nil, Options{Version: "t", Redactor: NewRedactor([]byte("k"))})
	if m := red.Measured[0]; m.Device == "198.51.100.1" || strings.Contains(m.Words, "198.51.100.1") {
		t.Errorf("redacted report shows the device: %+v", m)
	}
	// Nothing measured: the field is left out.
	res.Brackets = nil
	if r := Build(res, nil, "t"); r.Measured != nil {
		t.Errorf("got %+v; want no measured timeouts", r.Measured)
	}
}
