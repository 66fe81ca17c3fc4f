// Package golden compares a test's text output with its golden file, or
// rewrites the file when the test runs with -update: one way of keeping
// reviewed output, for the packages whose goldens are plain text files
// (explain's words, fix's snippets).
package golden

import (
	"os"
	"testing"
)

// Check compares got with the file at path; with update it writes got
// there instead. what names the output in the failure ("words",
// "snippets"); pkg is the package path for the -update hint.
func Check(t *testing.T, path, got string, update bool, what, pkg string) {
	t.Helper()
	if update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test %s -update writes it)", err, pkg)
	}
	if got != string(want) {
		t.Errorf("%s differ from %s:\ngot:\n%s\nwant:\n%s", what, path, got, want)
	}
}
