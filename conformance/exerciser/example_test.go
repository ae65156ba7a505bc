package exerciser_test

import (
	"fmt"

	"github.com/fusekit/fusekit/conformance/exerciser"
)

// A sequence printed by a Divergence can be pasted back and replayed.
func ExampleParseOps() {
	ops, err := exerciser.ParseOps(`
		# from a divergence report
		write off=0x1000 len=0x200 data=1
		17: truncate size=0x800
		read off=0x0 len=0x1000
	`)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(exerciser.FormatOps(ops))
	// Output:
	// write off=0x1000 len=0x200 data=1
	// truncate size=0x800
	// read off=0x0 len=0x1000
}

// The same seed always generates the same operations.
func ExampleGenerateFile() {
	ops, err := exerciser.GenerateFile(exerciser.Config{Seed: 42, Ops: 4})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(exerciser.FormatOps(ops))
	// Output:
	// read off=0x4912 len=0xd08
	// write off=0x307b9 len=0xa82e data=2
	// reopen
	// read off=0x24ebc len=0x2f6
}
