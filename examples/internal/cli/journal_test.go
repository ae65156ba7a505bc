package cli

import (
	"flag"
	"io"
	"testing"
	"time"

	"github.com/fusekit/fusekit/sdk/writeback"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func parseJournal(t *testing.T, args ...string) *Journal {
	t.Helper()
	var j Journal
	fl := flag.NewFlagSet("test", flag.ContinueOnError)
	fl.SetOutput(io.Discard)
	j.Register(fl)
	require.NoError(t, fl.Parse(args))
	return &j
}

func TestJournalFlags(t *testing.T) {
	var o writeback.Options
	require.NoError(t, parseJournal(t).options(true, &o))
	assert.Equal(t, writeback.Options{}, o, "no -journal: memory only")

	j := parseJournal(t, "-journal", "/j", "-journal-sync", "always", "-journal-max", "64M", "-journal-fsync")
	require.NoError(t, j.options(true, &o))
	assert.Equal(t, writeback.Options{Journal: "/j", JournalSync: writeback.JournalSyncEveryWrite, JournalMaxBytes: 64 << 20, JournalFsync: true}, o)

	o = writeback.Options{}
	require.NoError(t, parseJournal(t, "-journal", "/j", "-journal-sync", "250ms").options(true, &o))
	assert.Equal(t, 250*time.Millisecond, o.JournalSync)

	assert.ErrorContains(t, parseJournal(t, "-journal", "/j").Check(false), "-journal needs -writeback")
	assert.ErrorContains(t, parseJournal(t, "-journal-fsync").Check(true), "need -journal")
	assert.ErrorContains(t, parseJournal(t, "-journal", "/j", "-journal-sync", "sometimes").Check(true), `got "sometimes"`)
	assert.ErrorContains(t, parseJournal(t, "-journal", "/j", "-journal-sync", "-1s").Check(true), "positive period")
}
