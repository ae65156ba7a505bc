package exerciser

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRunNative(t *testing.T) {
	rep, err := Run(t.TempDir(), Config{Seed: 1, Ops: 20000, Features: Features{Mmap: true, ODirect: true}})
	require.NoError(t, err)
	require.Equal(t, "file", rep.Mode)
	t.Logf("%d ops in %v: %v", rep.Ops, rep.Elapsed, rep.Counts)
}

func TestRunNamespaceNative(t *testing.T) {
	rep, err := RunNamespace(t.TempDir(), Config{Seed: 1, Ops: 5000, Features: Features{HardLinks: true, Symlinks: true}})
	require.NoError(t, err)
	t.Logf("%d ops in %v: %v", rep.Ops, rep.Elapsed, rep.Counts)
}

func TestShrinkNamespaceBug(t *testing.T) {
	dir := t.TempDir()
	native := NativeNamespace(dir)
	newTarget := func() (NamespaceTarget, error) {
		nt, err := native()
		if err != nil {
			return nil, err
		}
		// The planted bug: unlink below a subdirectory says yes and does
		// nothing.
		return buggyTree{nt, func(name string) bool { return strings.Count(name, "/") >= 1 }}, nil
	}
	cfg := Config{Seed: 3, Ops: 2000, Features: Features{HardLinks: true, Symlinks: true}}
	ops, err := GenerateNamespace(cfg)
	require.NoError(t, err)
	_, err = ReplayNamespace(newTarget, ops, cfg)
	var d *Divergence
	require.ErrorAs(t, err, &d)
	require.NotNil(t, d.Minimal, d.ShrinkNote)
	assert.LessOrEqual(t, len(d.Minimal), 3, "minimal sequence:\n%s", FormatOps(d.Minimal))
	last := d.Minimal[len(d.Minimal)-1]
	assert.Equal(t, OpUnlink, last.Kind, "minimal sequence:\n%s", FormatOps(d.Minimal))
	// Unlinking a missing a/b "succeeds", or an unlinked file stays.
	assert.Contains(t, d.MinimalWant, "ENOENT")
	assert.Contains(t, last.Path, "/")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, entries, "every candidate's directory is removed")
}

// TestOracleMatchesKernel replays the oracle's unit-test sequences on the
// native filesystem: every errno the oracle predicts there is the kernel's.
func TestOracleMatchesKernel(t *testing.T) {
	for name, steps := range map[string][]nsStep{"errnos": errnoSteps, "rename": renameSteps} {
		var ops []Op
		for _, s := range steps {
			op, err := ParseOp(s.op)
			require.NoError(t, err)
			ops = append(ops, op)
		}
		_, err := ReplayNamespace(NativeNamespace(t.TempDir()), ops, Config{ShrinkTime: -1})
		require.NoError(t, err, name)
	}
}
