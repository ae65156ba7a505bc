package cli

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testDaemonMode tells the test binary, re-executed by Detach, how to behave
// as the daemon.
const testDaemonMode = "FUSEKIT_CLI_TEST_DAEMON_MODE"

func TestMain(m *testing.M) {
	if mode := os.Getenv(testDaemonMode); mode != "" {
		d := StartDaemon()
		if d == nil {
			os.Exit(90) // Detach did not mark the child
		}
		switch mode {
		case "ok":
			fmt.Fprintln(d.Stdout(), "serving")
			d.Ready()
			fmt.Fprintln(d.Stderr(), "after ready: logged, not reported")
			d.Exit(0)
			os.Exit(0)
		case "fail":
			fmt.Fprintln(d.Stderr(), "daemon: the mountpoint is busy")
			d.Exit(3)
			os.Exit(3)
		case "die":
			os.Exit(7) // without a report
		}
		os.Exit(91)
	}
	os.Exit(m.Run())
}

// TestDetach runs the protocol with the test binary as the daemon: success
// only on the daemon's report, its error text and status on failure, and
// its exit reported when it dies without a word.
func TestDetach(t *testing.T) {
	for _, c := range []struct {
		mode    string
		code    int
		stderr  string
		logWant string
	}{
		{"ok", 0, "", "serving\nafter ready: logged, not reported\n"},
		{"fail", 3, "daemon: the mountpoint is busy\n", "daemon: the mountpoint is busy\n"},
		{"die", 1, "the daemon died before mounting (exit status 7)", ""},
	} {
		t.Run(c.mode, func(t *testing.T) {
			t.Setenv(testDaemonMode, c.mode)
			logFile := filepath.Join(t.TempDir(), "log")
			var stderr bytes.Buffer
			code := Detach("prog", []string{"-test.run=^$"}, logFile, &stderr, nil)
			assert.Equal(t, c.code, code)
			if c.stderr == "" {
				assert.Empty(t, stderr.String())
			} else {
				assert.Contains(t, stderr.String(), c.stderr)
			}
			// The "ok" daemon may still be writing its last line.
			require.Eventually(t, func() bool {
				log, _ := os.ReadFile(logFile)
				return string(log) == c.logWant
			}, time.Minute, 10*time.Millisecond)
		})
	}
}
