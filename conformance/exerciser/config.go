package exerciser

import (
	"fmt"
	"io"
	"time"
)

// Features switches on the operations a target may not support. The zero
// value exercises only what every POSIX filesystem must do.
type Features struct {
	// Mmap enables mapread and mapwrite (shared mappings, msync).
	Mmap bool
	// ODirect enables dread and dwrite (O_DIRECT, 4096-aligned).
	ODirect bool
	// HardLinks enables link in namespace mode.
	HardLinks bool
	// Symlinks enables symlink in namespace mode.
	Symlinks bool
}

// Config describes one run. The zero value is usable: seed 0, DefaultOps
// operations, DefaultMaxSize bytes, no optional features.
type Config struct {
	// Seed selects the sequence; the same seed, Ops, sizes and Features
	// generate the same operations.
	Seed uint64
	// Ops is the number of operations to generate; 0 means DefaultOps.
	Ops int
	// MaxSize bounds the file size in file mode; 0 means DefaultMaxSize.
	// Writes and truncates past it are folded back into range. With
	// ODirect it must be at least DirectAlign.
	MaxSize int64
	// MaxOpLen bounds the length of one read or write; 0 means
	// DefaultMaxOpLen, and it is capped at MaxSize.
	MaxOpLen int64
	// Features selects the optional operations.
	Features Features
	// Log, if not nil, receives one line per operation as it runs, with
	// the values actually used after folding into range.
	Log io.Writer
	// ShrinkTime bounds the time spent shrinking a failing sequence; 0
	// means DefaultShrinkTime and a negative value disables shrinking.
	ShrinkTime time.Duration
}

// Defaults for the zero fields of Config.
const (
	DefaultOps        = 10000
	DefaultMaxSize    = 256 << 10
	DefaultMaxOpLen   = 64 << 10
	DefaultShrinkTime = 30 * time.Second
)

// withDefaults returns c with zero fields filled in, or an error naming the
// field that is out of range.
func (c Config) withDefaults() (Config, error) {
	if c.Ops == 0 {
		c.Ops = DefaultOps
	}
	if c.MaxSize == 0 {
		c.MaxSize = DefaultMaxSize
	}
	if c.MaxOpLen == 0 {
		c.MaxOpLen = DefaultMaxOpLen
	}
	if c.ShrinkTime == 0 {
		c.ShrinkTime = DefaultShrinkTime
	}
	switch {
	case c.Ops < 0:
		return c, fmt.Errorf("exerciser: Config.Ops is %d, want >= 0", c.Ops)
	case c.MaxSize < 1 || c.MaxSize > 1<<30:
		return c, fmt.Errorf("exerciser: Config.MaxSize is %d, want 1 to 1 GiB", c.MaxSize)
	case c.MaxOpLen < 1:
		return c, fmt.Errorf("exerciser: Config.MaxOpLen is %d, want >= 1", c.MaxOpLen)
	case c.Features.ODirect && c.MaxSize < DirectAlign:
		return c, fmt.Errorf("exerciser: Config.MaxSize is %d, want >= %d with ODirect", c.MaxSize, DirectAlign)
	}
	c.MaxOpLen = min(c.MaxOpLen, c.MaxSize)
	return c, nil
}

// maxDirectLen is the largest O_DIRECT transfer: MaxOpLen rounded up to the
// alignment, but never more than the aligned MaxSize.
func (c Config) maxDirectLen() int64 {
	return min(alignUp(c.MaxOpLen), c.MaxSize&^(DirectAlign-1))
}

func alignUp(n int64) int64 { return (n + DirectAlign - 1) &^ (DirectAlign - 1) }

func alignDown(n int64) int64 { return n &^ (DirectAlign - 1) }
