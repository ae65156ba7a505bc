package conformance

import (
	"os"
	"testing"
)

// RunT runs every test as a subtest of t, named after the test, so that
// "go test -run 'TestX/rename/'" selects a group. Each runs exactly as Run
// runs it (fresh subdirectory, recorder, timeout); the outcome is then
// reported to t: Fail and XPass with t.Error, XFail with t.Log (the known
// limitation is printed, never hidden), Skip with t.Skip and its reason.
func RunT(t *testing.T, dir string, f Features) {
	t.Helper()
	if st, err := os.Stat(dir); err != nil {
		t.Fatalf("conformance: target %v", err)
	} else if !st.IsDir() {
		t.Fatalf("conformance: target %s is not a directory", dir)
	}
	for _, w := range unusedLimitations(f) {
		t.Errorf("conformance: %s", w)
	}
	for _, tc := range Tests() {
		t.Run(tc.Name, func(t *testing.T) {
			r := runTest(dir, f, tc, 0)
			for _, line := range r.Logs {
				t.Log(line)
			}
			switch r.Status {
			case Pass:
			case XFail:
				t.Logf("XFAIL %s", r.Message)
			case Skip:
				t.Skip(r.Message)
			default:
				t.Errorf("%s %s", r.Status, r.Message)
			}
		})
	}
}
