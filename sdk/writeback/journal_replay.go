package writeback

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/fusekit/fusekit/sdk"
)

// rop is one journaled operation of a file, to replay: a write's data is
// read back from its segment when it is applied.
type rop struct {
	typ uint8
	off int64
	seg uint64 // segment sequence number of a write
	pos int64  // offset of a write's payload in the segment
	n   int    // a write's length
}

// rfile is what the journal says about one file id.
type rfile struct {
	id    uint64
	name  string
	ident identity
	begun bool
	ops   []rop
}

// scanJournal reads the segments in order and returns the files with
// unacknowledged operations. It stops at the first record that is not
// valid; everything from there on is counted in torn.
func scanJournal(dir string, seqs []uint64) (files map[uint64]*rfile, maxID uint64, torn int64, tornErr error, err error) {
	files = make(map[uint64]*rfile)
	for i, seq := range seqs {
		path := filepath.Join(dir, segName(seq))
		if tornErr != nil {
			if st, err := os.Stat(path); err == nil {
				torn += st.Size()
			}
			continue
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, 0, 0, nil, fmt.Errorf("writeback: reading journal segment: %w", err)
		}
		var pos int
		for pos < len(data) {
			r, n, err := decodeRecord(data[pos:])
			if err != nil {
				tornErr = fmt.Errorf("journal segment %s at byte %d (segment %d of %d): %w", segName(seq), pos, i+1, len(seqs), err)
				torn += int64(len(data) - pos)
				break
			}
			maxID = max(maxID, r.id)
			applyRecord(files, r, seq, int64(pos+recHdrLen))
			pos += n
		}
	}
	return files, maxID, torn, tornErr, nil
}

// applyRecord folds one record into the file table.
func applyRecord(files map[uint64]*rfile, r record, seq uint64, payloadPos int64) {
	rf := files[r.id]
	switch r.typ {
	case recOpen:
		ident, name := parseOpen(r.data)
		files[r.id] = &rfile{id: r.id, name: name, ident: ident}
		return
	case recAck:
		delete(files, r.id)
		return
	case recCont:
		ident, name := parseOpen(r.data)
		if rf == nil {
			// The episode's older records are gone with their segments:
			// all of them were on the backend.
			rf = &rfile{id: r.id, ident: ident}
			files[r.id] = rf
		}
		rf.name = name
		rf.begun = rf.begun || r.off == 1
		return
	}
	if rf == nil {
		return // its open record was in a segment given back: acknowledged
	}
	switch r.typ {
	case recWrite:
		rf.ops = append(rf.ops, rop{typ: recWrite, off: r.off, seg: seq, pos: payloadPos, n: len(r.data)})
	case recTrunc:
		rf.ops = append(rf.ops, rop{typ: recTrunc, off: r.off})
	case recName:
		rf.name = string(r.data)
	case recBegin:
		rf.begun = true
	}
}

// replayReport is what a replay did, for Stats.
type replayReport struct {
	files, dropped int
	bytes          int64
	conflicts      []JournalConflict
	torn           int64
	tornErr        error
}

// replay writes back everything the journal holds that was not
// acknowledged, before New returns. A file whose backend copy changed
// behind the journal is not written over: its data goes to the conflicts
// directory. On any backend error the journal is kept whole and the error
// returned: the next mount replays it again, which gives the same result
// (operations are applied in their order from the start each time).
func (f *FS) replay(ctx context.Context, j *journal, seqs []uint64) (replayReport, error) {
	var rep replayReport
	files, maxID, torn, tornErr, err := scanJournal(j.dir, seqs)
	if err != nil {
		return rep, err
	}
	rep.torn, rep.tornErr = torn, tornErr
	j.nextID = maxID + 1
	if tornErr != nil {
		f.journalNote("", fmt.Errorf("writeback: %d bytes at the end of the journal were not replayed: %w", torn, tornErr))
	}
	ids := make([]uint64, 0, len(files))
	for id, rf := range files {
		if len(rf.ops) > 0 {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(a, b int) bool { return ids[a] < ids[b] })
	for _, id := range ids {
		rf := files[id]
		if rf.name == "" {
			rep.dropped++
			continue
		}
		a, err := f.backend.Stat(ctx, rf.name)
		reason := ""
		switch {
		case errors.Is(err, fs.ErrNotExist):
			reason = "it no longer exists"
		case err != nil:
			return rep, fmt.Errorf("writeback: replaying the journal: stat %q: %w", rf.name, err)
		default:
			reason = rf.ident.conflict(a, rf.begun)
		}
		if reason != "" {
			c, err := setAside(j, rf, reason)
			if err != nil {
				return rep, err
			}
			f.journalNote(rf.name, fmt.Errorf("writeback: journal replay: %s", c))
			rep.conflicts = append(rep.conflicts, c)
			continue
		}
		// From here the backend file changes: a replay cut short by a
		// crash must not take the change for somebody else's.
		if !rf.begun {
			if _, err := j.append(recBegin, id, 0, false); err != nil {
				return rep, err
			}
			if err := j.sync(); err != nil {
				return rep, err
			}
		}
		n, err := f.replayFile(ctx, j, rf)
		if err != nil {
			return rep, fmt.Errorf("writeback: replaying the journal into %q: %w", rf.name, err)
		}
		rep.files++
		rep.bytes += n
	}
	return rep, nil
}

// conflict says why the backend attributes a do not match the identity
// the journal recorded, or "". Once write-back of the episode had begun,
// the backend's size and mtime may be anything the layer left there, so
// only the inode is compared.
func (id identity) conflict(a sdk.Attr, begun bool) string {
	if id.ino != 0 && a.Ino != 0 && id.ino != a.Ino {
		return fmt.Sprintf("inode %d, journaled for inode %d", a.Ino, id.ino)
	}
	if a.Mode != 0 && !a.IsRegular() {
		return "it is no longer a regular file"
	}
	if begun {
		return ""
	}
	if a.Size != id.size {
		return fmt.Sprintf("size %d, journaled over size %d", a.Size, id.size)
	}
	if m := a.Mtime.UnixNano(); m != id.mtime && !sameSecondCoarse(m, id.mtime) {
		return fmt.Sprintf("mtime %v, journaled over %v", a.Mtime.UTC(), time.Unix(0, id.mtime).UTC())
	}
	return ""
}

// sameSecondCoarse accepts two mtimes as equal when one of them has no
// sub-second part and they fall in the same second: backends that keep
// whole seconds (sftp) report the other one rounded.
func sameSecondCoarse(a, b int64) bool {
	const s = int64(time.Second)
	return (a%s == 0 || b%s == 0) && a/s == b/s
}

// replayFile applies a file's operations in order and returns the bytes
// written.
func (f *FS) replayFile(ctx context.Context, j *journal, rf *rfile) (int64, error) {
	bf, err := f.backend.Open(ctx, rf.name, oRdwr, 0)
	if err != nil {
		return 0, err
	}
	var written int64
	segs := make(map[uint64]*os.File)
	defer func() {
		for _, s := range segs {
			s.Close()
		}
	}()
	// Contiguous writes are sent as one, up to ChunkSize: a dd's 4 KiB
	// records would otherwise cost one backend round trip each.
	var run []byte
	var runOff int64
	flush := func() error {
		if len(run) == 0 {
			return nil
		}
		err := f.writeRetrying(ctx, bf, run, runOff)
		written += int64(len(run))
		run = run[:0]
		return err
	}
	apply := func() error {
		for _, op := range rf.ops {
			if op.typ == recTrunc {
				if err := flush(); err != nil {
					return err
				}
				if err := bf.Truncate(ctx, op.off); err != nil {
					return err
				}
				continue
			}
			if len(run) > 0 && (op.off != runOff+int64(len(run)) || len(run)+op.n > f.opts.ChunkSize) {
				if err := flush(); err != nil {
					return err
				}
			}
			sf := segs[op.seg]
			if sf == nil {
				if sf, err = os.Open(filepath.Join(j.dir, segName(op.seg))); err != nil {
					return err
				}
				segs[op.seg] = sf
			}
			if len(run) == 0 {
				runOff = op.off
			}
			k := len(run)
			run = append(run, make([]byte, op.n)...)
			if _, err := sf.ReadAt(run[k:], op.pos); err != nil && op.n > 0 {
				return err
			}
		}
		if err := flush(); err != nil {
			return err
		}
		if j.syncEvery != 0 {
			// The journal is given back after replay: what it promised
			// to survive a power failure must be durable on the backend.
			return bf.Sync(ctx, false)
		}
		return nil
	}
	err = apply()
	if cerr := bf.Close(); err == nil {
		err = cerr
	}
	return written, err
}

// writeRetrying writes p at off, retrying temporary errors as write-back
// does.
func (f *FS) writeRetrying(ctx context.Context, bf sdk.File, p []byte, off int64) error {
	backoff := f.opts.RetryBackoff
	for attempt := 0; ; attempt++ {
		m, err := bf.WriteAt(ctx, p, off)
		if err == nil && m < len(p) {
			err = io.ErrShortWrite
		}
		if err == nil {
			return nil
		}
		if !IsTemporary(err) || attempt >= f.opts.Retries {
			return err
		}
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return err
		}
		backoff = min(2*backoff, f.opts.MaxBackoff)
	}
}

// setAside writes a conflicting file's journaled operations to a local
// file in the journal's conflicts directory, named after the file, and
// returns the report.
func setAside(j *journal, rf *rfile, reason string) (JournalConflict, error) {
	dir := filepath.Join(j.dir, "conflicts")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return JournalConflict{}, fmt.Errorf("writeback: journal conflicts directory: %w", err)
	}
	base := strings.ReplaceAll(rf.name, "/", "%2F")
	if len(base) > 160 {
		base = base[len(base)-160:]
	}
	path := filepath.Join(dir, fmt.Sprintf("%s.%d.%d.conflict", base, time.Now().Unix(), rf.id))
	out, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return JournalConflict{}, fmt.Errorf("writeback: setting journaled data aside: %w", err)
	}
	segs := make(map[uint64]*os.File)
	werr := func() error {
		for _, op := range rf.ops {
			if op.typ == recTrunc {
				if err := out.Truncate(op.off); err != nil {
					return err
				}
				continue
			}
			sf := segs[op.seg]
			if sf == nil {
				if sf, err = os.Open(filepath.Join(j.dir, segName(op.seg))); err != nil {
					return err
				}
				segs[op.seg] = sf
			}
			data := make([]byte, op.n)
			if _, err := sf.ReadAt(data, op.pos); err != nil && op.n > 0 {
				return err
			}
			if _, err := out.WriteAt(data, op.off); err != nil {
				return err
			}
		}
		return out.Sync()
	}()
	for _, s := range segs {
		s.Close()
	}
	if cerr := out.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = syncDir(dir)
	}
	if werr != nil {
		return JournalConflict{}, fmt.Errorf("writeback: setting journaled data of %q aside: %w", rf.name, werr)
	}
	return JournalConflict{Name: rf.name, SetAside: path, Reason: reason}, nil
}

// dropSegments deletes the replayed segments: everything in them is on
// the backend or set aside.
func (j *journal) dropSegments(seqs []uint64) error {
	for _, seq := range seqs {
		if err := os.Remove(filepath.Join(j.dir, segName(seq))); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("writeback: removing a replayed journal segment: %w", err)
		}
	}
	return syncDir(j.dir)
}

// initJournal opens and replays the journal of o before the FS serves
// anything, then starts a fresh segment. f's workers are not running yet.
func (f *FS) initJournal(o Options) error {
	j, seqs, err := openJournal(o)
	if err != nil {
		return err
	}
	// Replay appends its begin records to a new segment after the old
	// ones, so that a crash during replay keeps them in order.
	if err := j.start(); err != nil {
		j.close()
		return err
	}
	rep, err := f.replay(context.Background(), j, seqs)
	if err == nil {
		err = j.dropSegments(seqs)
	}
	if err == nil {
		// The replay's own records are done with too.
		j.mu.Lock()
		j.collectLocked()
		j.mu.Unlock()
	}
	if err != nil {
		j.close()
		return err
	}
	f.journal = j
	f.replayed = rep
	if o.JournalStrict && len(rep.conflicts) > 0 {
		var names []string
		for _, c := range rep.conflicts {
			names = append(names, c.String())
		}
		return fmt.Errorf("%w: %s", ErrJournalConflict, strings.Join(names, "; "))
	}
	return nil
}

// journalNote reports what replay found to Stats and OnError.
func (f *FS) journalNote(name string, err error) {
	f.recordError(name, err)
	f.tellError(name, err)
}
