package writeback

import (
	"slices"
	"strings"
	"time"
)

// Stats are the FS's write-back numbers at one moment.
type Stats struct {
	// DirtyBytes counts buffered data in whole pages of 4 KiB (as the
	// kernel counts dirty pages, so that it measures memory whatever the
	// write pattern), the data being written back and what writers have
	// reserved; MaxDirty bounds it. Besides it, each worker holds one
	// ChunkSize buffer while it sends a chunk.
	DirtyBytes int64
	// DirtyFiles counts files with buffered or in-flight data.
	DirtyFiles int
	// QueuedWriteBacks counts files waiting for a worker.
	QueuedWriteBacks int
	// InFlightWriteBacks counts backend writes under way.
	InFlightWriteBacks int
	// OldestDirtyAge is the age of the oldest buffered byte, zero if none.
	OldestDirtyAge time.Duration
	// WrittenBytes is the total written back.
	WrittenBytes int64
	// WriteBackErrors counts failed write-backs (after retries) and failed
	// closes of backend files; Retries counts retried chunks.
	WriteBackErrors int64
	Retries         int64
	// ThrottleWaits counts the times a writer blocked on a dirty limit.
	ThrottleWaits int64
	// LastError is the most recent write-back error and LastErrorName the
	// file it hit.
	LastError     error
	LastErrorName string
}

// FileStats describes one file that has buffered data or a write-back
// error pending.
type FileStats struct {
	Name string // "" once unlinked
	// DirtyBytes counts the file's buffered and in-flight bytes, exactly.
	DirtyBytes int64
	DirtySince time.Time
	// Err is the last write-back error of the file while it is failing.
	Err error
}

// Stats returns the current numbers.
func (f *FS) Stats() Stats {
	s := Stats{
		InFlightWriteBacks: int(f.stats.inflight.Load()),
		WrittenBytes:       f.stats.written.Load(),
		WriteBackErrors:    f.stats.errors.Load(),
		Retries:            f.stats.retries.Load(),
		ThrottleWaits:      f.stats.throttleWaits.Load(),
	}
	f.acctMu.Lock()
	s.DirtyBytes = f.dirty
	f.acctMu.Unlock()
	f.qMu.Lock()
	s.QueuedWriteBacks = len(f.queue)
	f.qMu.Unlock()
	f.errMu.Lock()
	s.LastError, s.LastErrorName = f.lastErr, f.lastErrName
	f.errMu.Unlock()
	now := time.Now()
	for _, n := range f.liveNodes() {
		n.mu.Lock()
		if !n.buf.empty() || len(n.flight) > 0 {
			s.DirtyFiles++
		}
		if !n.dirtySince.IsZero() {
			s.OldestDirtyAge = max(s.OldestDirtyAge, now.Sub(n.dirtySince))
		}
		n.mu.Unlock()
	}
	return s
}

// Files lists the files that have buffered data or a failing write-back,
// by name.
func (f *FS) Files() []FileStats {
	var out []FileStats
	for _, n := range f.liveNodes() {
		n.mu.Lock()
		st := FileStats{Name: n.name, DirtyBytes: n.buf.len(), DirtySince: n.dirtySince}
		for _, c := range n.flight {
			st.DirtyBytes += int64(len(c.data))
		}
		if n.failSeq.Load() != n.repairedSeq.Load() {
			st.Err = n.lastErr
		}
		n.mu.Unlock()
		if st.DirtyBytes > 0 || st.Err != nil {
			out = append(out, st)
		}
	}
	slices.SortFunc(out, func(a, b FileStats) int { return strings.Compare(a.Name, b.Name) })
	return out
}
