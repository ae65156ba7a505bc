package bench

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func names(ws []Workload) []string {
	var out []string
	for _, w := range ws {
		out = append(out, w.Name)
	}
	return out
}

func TestParseWorkloads(t *testing.T) {
	ws, err := ParseWorkloads("core")
	require.NoError(t, err)
	assert.Equal(t, []string{"w1m", "w4k", "r1m", "r4k", "create", "stat", "unlink"}, names(ws))

	ws, err = ParseWorkloads(" stat, w1m ,stat,,core")
	require.NoError(t, err)
	assert.Equal(t, []string{"stat", "w1m", "w4k", "r1m", "r4k", "create", "unlink"}, names(ws), "order kept, repetitions dropped")

	ws, err = ParseWorkloads("all")
	require.NoError(t, err)
	assert.Equal(t, names(Workloads()), names(ws))
	assert.Len(t, ws, 14)

	_, err = ParseWorkloads("w1m,w2m")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `unknown workload "w2m"`)
	assert.Contains(t, err.Error(), "par2w")

	_, err = ParseWorkloads(" , ")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no workloads")
}

func TestWorkloadCatalogue(t *testing.T) {
	seen := map[string]bool{}
	for _, w := range Workloads() {
		assert.False(t, seen[w.Name], "duplicate %s", w.Name)
		seen[w.Name] = true
		assert.NotEmpty(t, w.Doc, w.Name)
		assert.NotNil(t, w.run, w.Name)
	}
	for _, set := range aliases {
		for _, n := range set {
			assert.True(t, seen[n], "alias names unknown workload %s", n)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	c := DefaultConfig()
	require.NoError(t, c.validate())
	for _, bad := range []func(*Config){
		func(c *Config) { c.Size = 100 },
		func(c *Config) { c.Files = 0 },
		func(c *Config) { c.RandOps = 0 },
	} {
		c := DefaultConfig()
		bad(&c)
		assert.Error(t, c.validate())
	}
}
