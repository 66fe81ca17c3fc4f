// Package zeekcompat finds Zeek's own test traces for the tests that
// compare fwdiag with Zeek (dissect's tunnels, pcaps' conn_state and
// history): one place that knows where they are and what a missing copy
// means.
package zeekcompat

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// Dir is ../shared/zeek-compat beside the repository: Zeek's own test
// traces with the conn.log Zeek wrote for each (its README says how they
// were made; Zeek is BSD-licensed, COPYING.zeek beside them). CI has it,
// and a missing copy fails there; elsewhere the test skips and says so.
func Dir(t testing.TB) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "..", "..", "..", "shared", "zeek-compat")
	if _, err := os.Stat(filepath.Join(dir, "index.tsv")); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("Zeek's traces are missing in CI: %v", err)
		}
		t.Skipf("no %s: Zeek compatibility not checked", dir)
	}
	return dir
}
