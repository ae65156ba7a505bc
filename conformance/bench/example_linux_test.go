package bench_test

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/fusekit/fusekit/conformance/bench"
)

func ExampleParseWorkloads() {
	ws, err := bench.ParseWorkloads("core,randr4k")
	if err != nil {
		fmt.Println(err)
		return
	}
	var names []string
	for _, w := range ws {
		names = append(names, w.Name)
	}
	fmt.Println(strings.Join(names, " "))
	_, err = bench.ParseWorkloads("w8k")
	fmt.Println(err != nil)
	// Output:
	// w1m w4k r1m r4k create stat unlink randr4k
	// true
}

// ExampleRunner compares two plain directories; a real comparison puts
// native storage first and FUSE daemons after it, as cmd: targets.
func ExampleRunner() {
	a, _ := os.MkdirTemp("", "bench-a-")
	b, _ := os.MkdirTemp("", "bench-b-")
	defer os.RemoveAll(a)
	defer os.RemoveAll(b)
	targets, err := bench.ParseTargets([]string{"a=" + a, "b=" + b})
	if err != nil {
		fmt.Println(err)
		return
	}
	ws, _ := bench.ParseWorkloads("w4k,create")
	cfg := bench.DefaultConfig()
	cfg.Size, cfg.Files = 64<<10, 20
	cfg.Cold = false // dropping the page cache needs root
	r := &bench.Runner{Targets: targets, Workloads: ws, Reps: 3, Config: cfg}
	rep, err := r.Run(context.Background())
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range rep.Summaries() {
		fmt.Println(s.Workload, s.Target, s.Unit, s.N)
	}
	// Output:
	// w4k a MiB/s 3
	// w4k b MiB/s 3
	// create a ops/s 3
	// create b ops/s 3
}
