//go:build linux && fuse3

package passthrough

const benchTags = "fuse3"
