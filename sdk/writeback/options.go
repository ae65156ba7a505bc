package writeback

import (
	"fmt"
	"time"
)

// Default option values.
const (
	DefaultChunkSize       = 4 << 20
	DefaultMaxDirty        = 256 << 20
	DefaultMaxDirtyPerFile = 64 << 20
	DefaultMaxAge          = 5 * time.Second
	DefaultWorkers         = 4
	DefaultInFlightPerFile = 2
	DefaultRetries         = 5
	DefaultRetryBackoff    = 100 * time.Millisecond
	DefaultMaxBackoff      = 5 * time.Second
)

// Options configure an FS. The zero value buffers every file with the
// defaults above.
type Options struct {
	// WriteThrough turns buffering off: every write goes to the backend
	// before it is acknowledged. The ordering guarantees and the
	// observability stay.
	WriteThrough bool
	// Policy, when set, chooses per open whether the handle buffers its
	// writes (true) or writes through (false); name is the file's name and
	// flags its open(2) flags. It cannot be combined with WriteThrough.
	// O_DIRECT, O_SYNC and O_DSYNC opens always write through, whatever
	// Policy says.
	Policy func(name string, flags int) bool

	// ChunkSize is the largest piece sent to the backend in one WriteAt.
	ChunkSize int
	// MaxDirty bounds the buffered bytes of the whole FS; writers block
	// while it is reached. Up to another MaxDirty held by files whose
	// write-back is failing does not count. It must be at least
	// ChunkSize.
	MaxDirty int64
	// MaxDirtyPerFile bounds the buffered bytes of one file, so a single
	// writer cannot take the whole budget. At most MaxDirty; zero means
	// the smaller of DefaultMaxDirtyPerFile and MaxDirty.
	MaxDirtyPerFile int64
	// MaxAge is how long data may stay buffered before it is written back
	// although nobody asked: files that stay open still reach the backend.
	MaxAge time.Duration
	// Workers is the number of goroutines writing back; each sends one
	// chunk at a time.
	Workers int
	// InFlightPerFile is how many chunks of one file may be in flight at
	// once, each sent by its own worker: they are taken in offset order and
	// never overlap, so a file's bytes reach the backend in the order they
	// were written, though a backend may complete them in any order. Zero
	// means the smaller of DefaultInFlightPerFile and Workers; it is at
	// most Workers.
	InFlightPerFile int

	// Retries is how many times a chunk that failed with a temporary error
	// (see IsTemporary) is tried again; negative means never.
	Retries int
	// RetryBackoff is the wait before the first retry; it doubles for each
	// further retry, up to MaxBackoff.
	RetryBackoff time.Duration
	MaxBackoff   time.Duration

	// OnError, when set, hears of every failed write-back, from the
	// goroutine that saw it; it must not call back into the FS. The error
	// is reported to the application as well: this is for logs and
	// metrics.
	OnError func(name string, err error)
}

// OptionError reports an invalid Options field.
type OptionError struct {
	Field  string
	Value  any
	Reason string
}

func (e *OptionError) Error() string {
	return fmt.Sprintf("writeback: invalid Options.%s = %v: %s", e.Field, e.Value, e.Reason)
}

// resolve checks o and fills in the defaults.
func (o Options) resolve() (Options, error) {
	if o.WriteThrough && o.Policy != nil {
		return o, &OptionError{"Policy", "non-nil", "cannot be combined with WriteThrough, which turns buffering off for every file"}
	}
	for _, f := range []struct {
		name string
		v    int64
	}{
		{"ChunkSize", int64(o.ChunkSize)},
		{"MaxDirty", o.MaxDirty},
		{"MaxDirtyPerFile", o.MaxDirtyPerFile},
		{"MaxAge", int64(o.MaxAge)},
		{"Workers", int64(o.Workers)},
		{"InFlightPerFile", int64(o.InFlightPerFile)},
		{"RetryBackoff", int64(o.RetryBackoff)},
		{"MaxBackoff", int64(o.MaxBackoff)},
	} {
		if f.v < 0 {
			return o, &OptionError{f.name, f.v, "must not be negative"}
		}
	}
	if o.ChunkSize == 0 {
		o.ChunkSize = DefaultChunkSize
	}
	if o.MaxDirty == 0 {
		o.MaxDirty = max(DefaultMaxDirty, int64(o.ChunkSize))
	}
	if o.MaxDirty < int64(o.ChunkSize) {
		return o, &OptionError{"MaxDirty", o.MaxDirty, fmt.Sprintf("must be at least ChunkSize (%d)", o.ChunkSize)}
	}
	if o.MaxDirtyPerFile == 0 {
		o.MaxDirtyPerFile = min(DefaultMaxDirtyPerFile, o.MaxDirty)
	}
	if o.MaxDirtyPerFile > o.MaxDirty {
		return o, &OptionError{"MaxDirtyPerFile", o.MaxDirtyPerFile, fmt.Sprintf("must not exceed MaxDirty (%d)", o.MaxDirty)}
	}
	if o.MaxAge == 0 {
		o.MaxAge = DefaultMaxAge
	}
	if o.Workers == 0 {
		o.Workers = DefaultWorkers
	}
	if o.InFlightPerFile == 0 {
		o.InFlightPerFile = min(DefaultInFlightPerFile, o.Workers)
	}
	if o.InFlightPerFile > o.Workers {
		return o, &OptionError{"InFlightPerFile", o.InFlightPerFile, fmt.Sprintf("must not exceed Workers (%d)", o.Workers)}
	}
	switch {
	case o.Retries == 0:
		o.Retries = DefaultRetries
	case o.Retries < 0:
		o.Retries = 0
	}
	if o.RetryBackoff == 0 {
		o.RetryBackoff = DefaultRetryBackoff
	}
	if o.MaxBackoff == 0 {
		o.MaxBackoff = max(DefaultMaxBackoff, o.RetryBackoff)
	}
	return o, nil
}
