package report

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/fwdiag/fwdiag/diagnose"
)

// TestSchemaListsEveryKind: the schema's enum of finding kinds is exactly
// the kinds diagnose makes, so a new kind cannot reach a report that its
// own schema rejects, and the schema names no kind that does not exist.
func TestSchemaListsEveryKind(t *testing.T) {
	var s struct {
		Properties struct {
			Findings struct {
				Items struct {
					Properties struct {
						Kind struct {
							Enum []string `json:"enum"`
						} `json:"kind"`
					} `json:"properties"`
				} `json:"items"`
			} `json:"findings"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(Schema, &s); err != nil {
		t.Fatal(err)
	}
	enum := s.Properties.Findings.Items.Properties.Kind.Enum
	var kinds []string
	for _, k := range diagnose.Kinds {
		kinds = append(kinds, string(k))
	}
	slices.Sort(enum)
	slices.Sort(kinds)
	if !slices.Equal(enum, kinds) {
		t.Errorf("schema kinds %v; diagnose kinds %v", enum, kinds)
	}
}
