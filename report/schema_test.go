package report

import (
	"encoding/json"
	"fmt"
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

// TestSchemaDescribesEveryField: every property the schema names carries a
// description, and every object closes itself with additionalProperties
// false, so a field the report emits without documenting it fails schema
// validation in the golden tests instead of reaching a ticket unexplained.
func TestSchemaDescribesEveryField(t *testing.T) {
	var root map[string]any
	if err := json.Unmarshal(Schema, &root); err != nil {
		t.Fatal(err)
	}
	var walk func(path string, node map[string]any)
	walk = func(path string, node map[string]any) {
		if props, ok := node["properties"].(map[string]any); ok {
			if ap, ok := node["additionalProperties"]; !ok || ap != false {
				t.Errorf("%s: object without additionalProperties:false", path)
			}
			for name, p := range props {
				pm, ok := p.(map[string]any)
				if !ok {
					t.Errorf("%s.%s: not an object", path, name)
					continue
				}
				if d, _ := pm["description"].(string); d == "" {
					if _, isRef := pm["$ref"]; !isRef {
						t.Errorf("%s.%s: no description", path, name)
					}
				}
				walk(path+"."+name, pm)
			}
		}
		for _, key := range []string{"items", "additionalProperties"} {
			if sub, ok := node[key].(map[string]any); ok {
				walk(path+"["+key+"]", sub)
			}
		}
		for _, key := range []string{"$defs", "definitions"} {
			if defs, ok := node[key].(map[string]any); ok {
				for name, d := range defs {
					if dm, ok := d.(map[string]any); ok {
						walk(path+"#"+name, dm)
					}
				}
			}
		}
		for _, key := range []string{"oneOf", "anyOf", "allOf"} {
			if alts, ok := node[key].([]any); ok {
				for i, a := range alts {
					if am, ok := a.(map[string]any); ok {
						walk(fmt.Sprintf("%s/%s[%d]", path, key, i), am)
					}
				}
			}
		}
	}
	walk("report", root)
}
