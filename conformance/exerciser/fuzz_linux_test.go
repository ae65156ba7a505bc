package exerciser_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fusekit/fusekit/conformance/exerciser"
)

// fuzzMaxOps bounds one fuzz input, so that an iteration stays short.
const fuzzMaxOps = 400

// fuzzSeeds are a few starting inputs: random bytes from fixed seeds, plus
// the all-zero input.
func fuzzSeeds(f *testing.F, opSize int) {
	f.Add(make([]byte, 10*opSize))
	for seed := range uint64(4) {
		r := rand.New(rand.NewPCG(seed, seed))
		b := make([]byte, (20+10*int(seed))*opSize)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		f.Add(b)
	}
}

// fuzzTarget is a place a fuzz input runs: a native directory or a mount.
type fuzzTarget struct {
	name     string
	dir      string
	features exerciser.Features
}

// fuzzTargets mounts every SDK filesystem once for the whole FuzzXxx call
// and adds the native temporary directory.
//
// An input costs milliseconds, so minimising a new input can take go
// test's default minute (the exec count stands still meanwhile); pass
// -fuzzminimizetime=5s for livelier runs.
func fuzzTargets(f *testing.F) []fuzzTarget {
	targets := []fuzzTarget{{
		name:     "native",
		dir:      f.TempDir(),
		features: exerciser.Features{Mmap: true, ODirect: true, HardLinks: true, Symlinks: true},
	}}
	for _, st := range sdkTargets() {
		targets = append(targets, fuzzTarget{name: st.name, dir: st.mount(f), features: st.features})
	}
	return targets
}

// fuzzConfig keeps files small and shrinking short, so that a fuzz input
// that fails is reported quickly and minimally.
func fuzzConfig(features exerciser.Features) exerciser.Config {
	return exerciser.Config{
		MaxSize:    64 << 10,
		MaxOpLen:   16 << 10,
		Features:   features,
		ShrinkTime: 10 * time.Second,
	}
}

// FuzzFile drives file mode with fuzzed sequences on a native directory
// and on a mount of each of the SDK's own filesystems.
func FuzzFile(f *testing.F) {
	fuzzSeeds(f, 5)
	targets := fuzzTargets(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, ft := range targets {
			cfg := fuzzConfig(ft.features)
			ops := exerciser.DecodeFile(data, cfg)
			ops = ops[:min(len(ops), fuzzMaxOps)]
			_, err := exerciser.ReplayFile(exerciser.NativeFile(ft.dir), ops, cfg)
			require.NoError(t, err, "on %s", ft.name)
		}
	})
}

// FuzzNamespace drives namespace mode with fuzzed sequences on a native
// directory and on a mount of each of the SDK's own filesystems.
func FuzzNamespace(f *testing.F) {
	fuzzSeeds(f, 3)
	targets := fuzzTargets(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, ft := range targets {
			cfg := fuzzConfig(ft.features)
			ops := exerciser.DecodeNamespace(data, cfg)
			ops = ops[:min(len(ops), fuzzMaxOps)]
			_, err := exerciser.ReplayNamespace(exerciser.NativeNamespace(ft.dir), ops, cfg)
			require.NoError(t, err, "on %s", ft.name)
		}
	})
}
