//go:build !cgo

package sdk

// On Linux the SDK is built on cgofuse, which is C: it needs cgo, a C
// compiler and libfuse's headers (apt-get install gcc libfuse-dev
// libfuse3-dev; or make deps). Without cgo, cgofuse's own errors are a page
// of undefined errno names; this file turns them into one line that says
// what is missing.
var _ = sdk_needs_cgo__build_with_CGO_ENABLED_1_and_gcc_and_libfuse_headers__apt_get_install_gcc_libfuse_dev_libfuse3_dev
