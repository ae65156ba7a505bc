//go:build linux

package conformance_test

import (
	"fmt"
	"os"
	"strings"

	"github.com/fusekit/fusekit/conformance"
)

// Run a group of tests against a directory. The declared limitation does
// not hold on a native directory, so the test it names is reported as XPASS
// (and counted as failed): a limitation that no longer applies is noticed.
func ExampleRun() {
	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	f := conformance.AllFeatures()
	f.Limitations = []conformance.Limitation{{Test: "rename/file", Reason: "renames are lost"}}
	results := conformance.Run(dir, f, conformance.RunOptions{
		Match: func(name string) bool { return strings.HasPrefix(name, "rename/") },
	})
	for _, r := range results {
		fmt.Println(r.Status, r.Name)
	}
	fmt.Println(conformance.Summary(results))
	// Output:
	// XPASS rename/file
	// PASS rename/overwrite
	// PASS rename/directory
	// PASS rename/open-file
	// PASS rename/noreplace
	// PASS rename/exchange
	// 5 1 0
}
