//go:build linux && !fuse3

package passthrough

// benchTags are the build tags cgofuse's example is built with, so that
// the benchmark compares the same libfuse.
const benchTags = ""
