//go:build !linux

// Command fusekit-bench compares filesystems on Linux; see main.go.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "fusekit-bench: only Linux is supported")
	os.Exit(2)
}
