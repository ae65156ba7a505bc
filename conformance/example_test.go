package conformance_test

import (
	"fmt"

	"github.com/fusekit/fusekit/conformance"
)

func ExampleParseFeatures() {
	f, err := conformance.ParseFeatures("all,-xattrs,-odirect,granularity=1s")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(f.Xattrs, f.HardLinks, f.TimeGranularity)
	fmt.Println(f)

	_, err = conformance.ParseFeatures("hardlinks,xatrs")
	fmt.Println(err != nil)
	// Output:
	// false true 1s
	// all,-xattrs,-odirect,granularity=1s
	// true
}

func ExampleSummary() {
	rs := []conformance.Result{
		{Name: "io/sizes", Status: conformance.Pass},
		{Name: "time/utimensat-omit", Status: conformance.XFail, Message: "expected failure (libfuse2 drops it)"},
		{Name: "rename/noreplace", Status: conformance.Skip, Message: "target does not claim renameflags"},
		{Name: "link/hard", Status: conformance.XPass},
	}
	passed, failed, skipped := conformance.Summary(rs)
	fmt.Println(passed, failed, skipped)
	// Output: 2 1 1
}
