//go:build linux

package sdk_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Building the SDK without cgo fails with one line that says what is
// missing, instead of cgofuse's page of undefined errno names.
func TestBuildWithoutCgoSaysWhy(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	cmd := exec.Command(goTool, "build", "-o", os.DevNull, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOFLAGS=")
	out, err := cmd.CombinedOutput()
	require.Error(t, err, "a build without cgo must fail: %s", out)
	text := string(out)
	assert.Contains(t, text, "sdk_needs_cgo__build_with_CGO_ENABLED_1_and_gcc_and_libfuse_headers")
	assert.NotContains(t, text, "cgofuse", "cgofuse must not be compiled at all")
	lines := strings.Split(strings.TrimSpace(text), "\n")
	assert.LessOrEqual(t, len(lines), 2, "one message (after go's package line): %s", text)
}
