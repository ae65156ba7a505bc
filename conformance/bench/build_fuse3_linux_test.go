//go:build fuse3

package bench

// wantLibfuse is the library a test daemon built from this test binary loads.
const wantLibfuse = "libfuse3"
