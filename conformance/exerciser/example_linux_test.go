package exerciser_test

import (
	"errors"
	"fmt"
	"os"

	"github.com/fusekit/fusekit/conformance/exerciser"
)

func ExampleRun() {
	dir, err := os.MkdirTemp("", "exerciser-example-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	rep, err := exerciser.Run(dir, exerciser.Config{Seed: 1, Ops: 2000})
	var d *exerciser.Divergence
	switch {
	case errors.As(err, &d):
		// d.Error() has the seed, the failing op, the end of the log and
		// the minimal failing sequence.
		fmt.Println(d)
	case err != nil:
		fmt.Println("could not run:", err)
	default:
		fmt.Println(rep.Mode, rep.Ops, "ops, no divergence")
	}
	// Output:
	// file 2000 ops, no divergence
}

func ExampleReplayNamespace() {
	dir, err := os.MkdirTemp("", "exerciser-example-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	// Renaming a directory onto a non-empty one must fail (ENOTEMPTY);
	// the oracle predicts that, so this sequence passes on a POSIX target.
	ops, err := exerciser.ParseOps(`
		mkdir a
		mkdir b
		create b/f data=1
		rename a b
		rename b a
		verify
	`)
	if err != nil {
		fmt.Println(err)
		return
	}
	rep, err := exerciser.ReplayNamespace(exerciser.NativeNamespace(dir), ops, exerciser.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(rep.Counts[exerciser.OpRename], "renames")
	// Output:
	// 2 renames
}
