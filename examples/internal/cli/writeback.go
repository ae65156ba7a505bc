package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/fusekit/fusekit/sdk"
	"github.com/fusekit/fusekit/sdk/writeback"
)

// Journal holds the write-back journal flags (-journal, -journal-sync,
// -journal-max, -journal-fsync); Register adds them to a flag set.
type Journal struct {
	Dir   string
	Sync  string
	Max   ByteSize
	Fsync bool
}

// Register adds the journal flags to fl.
func (j *Journal) Register(fl *flag.FlagSet) {
	fl.StringVar(&j.Dir, "journal", "", "with -writeback: a local directory where every write is logged before it is acknowledged, so that a crash of this program loses nothing; replayed at the next start")
	fl.StringVar(&j.Sync, "journal-sync", "never", "with -journal: when the journal is made durable against a power failure: never, always (every write), or a period such as 100ms")
	fl.Var(&j.Max, "journal-max", "with -journal: the journal's size limit; writers wait while it is full (default 4 × -writeback-dirty)")
	fl.BoolVar(&j.Fsync, "journal-fsync", false, "with -journal: fsync(2) returns once the data is durable in the journal, before the backend has it (a weaker promise)")
}

// options checks the journal flags and sets them in o. on is -writeback.
func (j *Journal) options(on bool, o *writeback.Options) error {
	if j == nil {
		return nil
	}
	if j.Dir == "" {
		if j.Max != 0 || j.Fsync || (j.Sync != "" && j.Sync != "never") {
			return errors.New("-journal-sync, -journal-max and -journal-fsync need -journal")
		}
		return nil
	}
	if !on {
		return errors.New("-journal needs -writeback")
	}
	o.Journal, o.JournalMaxBytes, o.JournalFsync = j.Dir, int64(j.Max), j.Fsync
	switch j.Sync {
	case "", "never":
	case "always":
		o.JournalSync = writeback.JournalSyncEveryWrite
	default:
		d, err := time.ParseDuration(j.Sync)
		if err != nil || d <= 0 {
			return fmt.Errorf("-journal-sync wants never, always or a positive period, got %q", j.Sync)
		}
		o.JournalSync = d
	}
	return nil
}

// Check reports a bad combination of journal flags; on is -writeback.
func (j *Journal) Check(on bool) error {
	var o writeback.Options
	return j.options(on, &o)
}

// Writeback puts the write-back layer over fsys when on is set (-writeback),
// with maxDirty bytes of dirty memory at most (-writeback-dirty, zero for
// the layer's default) and the journal j asks for (nil: none). wb is nil
// when it is off; the caller closes it after unmounting.
func Writeback(fsys sdk.FileSystem, on bool, maxDirty ByteSize, j *Journal) (mounted sdk.FileSystem, wb *writeback.FS, err error) {
	if !on {
		return fsys, nil, nil
	}
	o := writeback.Options{MaxDirty: int64(maxDirty)}
	if err := j.options(on, &o); err != nil {
		return nil, nil, err
	}
	wb, err = writeback.New(fsys, o)
	if err != nil {
		// Name the flag that is wrong.
		var oe *writeback.OptionError
		switch {
		case errors.As(err, &oe) && oe.Field == "MaxDirty":
			return nil, nil, fmt.Errorf("-writeback-dirty: %w", err)
		case errors.As(err, &oe) && oe.Field == "JournalMaxBytes":
			return nil, nil, fmt.Errorf("-journal-max: %w", err)
		default:
			return nil, nil, fmt.Errorf("-journal %s: %w", o.Journal, err)
		}
	}
	if st := wb.Stats().Journal; st.ReplayedFiles > 0 || len(st.Conflicts) > 0 || st.TornBytes > 0 {
		fmt.Fprintf(os.Stderr, "journal %s: replayed %d files (%d bytes), %d set aside, %d torn bytes\n",
			j.Dir, st.ReplayedFiles, st.ReplayedBytes, len(st.Conflicts), st.TornBytes)
		for _, c := range st.Conflicts {
			fmt.Fprintf(os.Stderr, "journal %s: %s\n", j.Dir, c)
		}
	}
	return wb, wb, nil
}

// CloseWriteback stops the write-back layer after the unmount has drained
// it, prints what it did as prog, and reports whether every byte reached
// the backend. Close is needed even after a clean drain: it stops the
// workers. It is bounded by timeout, since the backend may be what hangs.
func CloseWriteback(prog string, wb *writeback.FS, timeout time.Duration, stdout, stderr io.Writer) bool {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	err := wb.Close(ctx)
	st := wb.Stats()
	fmt.Fprintf(stdout, "%s: write-back: %d bytes written back, %d errors, %d retries\n",
		prog, st.WrittenBytes, st.WriteBackErrors, st.Retries)
	if err != nil {
		fmt.Fprintf(stderr, "%s: write-back: %v\n", prog, err)
		return false
	}
	return true
}
