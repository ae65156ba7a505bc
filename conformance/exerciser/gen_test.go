package exerciser

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestGenerateFileDeterministic(t *testing.T) {
	cfg := Config{Seed: 99, Ops: 3000, Features: Features{Mmap: true, ODirect: true}}
	a, err := GenerateFile(cfg)
	require.NoError(t, err)
	b, err := GenerateFile(cfg)
	require.NoError(t, err)
	require.Len(t, a, 3000)
	assert.Equal(t, a, b, "the same seed generates the same ops")

	cfg.Seed = 100
	c, err := GenerateFile(cfg)
	require.NoError(t, err)
	assert.NotEqual(t, a, c)

	// Every kind occurs, and every op is already in range for the state
	// it runs in, so the log shows the values actually used.
	counts := map[Kind]int{}
	var size int64
	full, err := cfg.withDefaults()
	require.NoError(t, err)
	for i, o := range a {
		counts[o.Kind]++
		e, skip := effective(o, size, &full)
		if !skip {
			assert.Equal(t, o, e, "op %d", i)
		}
		size = sizeAfter(e, size)
		assert.LessOrEqual(t, size, full.MaxSize)
	}
	for _, w := range fileWeights {
		assert.Positive(t, counts[w.kind], w.kind.String())
	}
}

func TestGenerateFileFeaturesOff(t *testing.T) {
	ops, err := GenerateFile(Config{Seed: 1, Ops: 2000})
	require.NoError(t, err)
	for _, o := range ops {
		assert.NotContains(t, []Kind{OpMapRead, OpMapWrite, OpDirectRead, OpDirectWrite}, o.Kind)
	}
}

func TestGenerateNamespace(t *testing.T) {
	cfg := Config{Seed: 5, Ops: 3000, Features: Features{HardLinks: true, Symlinks: true}}
	a, err := GenerateNamespace(cfg)
	require.NoError(t, err)
	b, err := GenerateNamespace(cfg)
	require.NoError(t, err)
	assert.Equal(t, a, b)

	// Both outcomes of every kind occur: the mix tests errors as well as
	// success.
	o := newNSOracle()
	ok, failed := map[Kind]int{}, map[Kind]int{}
	for _, op := range a {
		if o.apply(op) == 0 {
			ok[op.Kind]++
		} else {
			failed[op.Kind]++
		}
	}
	for _, w := range namespaceWeights {
		assert.Positive(t, ok[w.kind], "successful %s", w.kind)
		if w.kind != OpVerify && w.kind != OpSymlink {
			assert.Positive(t, failed[w.kind], "failing %s", w.kind)
		}
	}

	plain, err := GenerateNamespace(Config{Seed: 5, Ops: 2000})
	require.NoError(t, err)
	for _, op := range plain {
		assert.NotContains(t, []Kind{OpLink, OpSymlink}, op.Kind)
	}
}

func TestConfigErrors(t *testing.T) {
	for cfg, want := range map[*Config]string{
		{Ops: -1}:      "Config.Ops is -1",
		{MaxSize: -5}:  "Config.MaxSize is -5",
		{MaxOpLen: -1}: "Config.MaxOpLen is -1",
		{MaxSize: 100, Features: Features{ODirect: true}}: "want >= 4096 with ODirect",
	} {
		_, err := GenerateFile(*cfg)
		assert.ErrorContains(t, err, want)
		_, err = ReplayFile(memFiles(nil), nil, *cfg)
		assert.ErrorContains(t, err, want)
	}
}

func TestDecodeNeverFails(t *testing.T) {
	cfg := Config{MaxSize: 10000, Features: Features{Mmap: true, ODirect: true}}
	ops := DecodeFile([]byte{0, 0xff, 0xff, 0xff, 0xff, 1, 0, 0, 0, 0, 7}, cfg)
	require.Len(t, ops, 2, "the trailing partial op is dropped")
	assert.Equal(t, OpWrite, ops[0].Kind)
	assert.Less(t, ops[0].Off, int64(10000))
	assert.Empty(t, DecodeFile(nil, cfg))
	assert.Empty(t, DecodeFile([]byte{1, 2, 3}, Config{MaxSize: -1}), "an invalid config decodes to nothing")

	ns := DecodeNamespace([]byte{0, 1, 2, 255, 255, 255}, Config{})
	require.Len(t, ns, 2)
	for _, op := range ns {
		assert.NoError(t, checkName(op.Path))
	}
}
