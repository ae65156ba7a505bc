package writeback

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fusekit/fusekit/sdk"
)

// FS buffers writes in memory in front of a backend sdk.FileSystem. It is
// itself an sdk.FileSystem and an sdk.Syncer; see the package
// documentation for the model.
type FS struct {
	backend sdk.FileSystem
	opts    Options
	// ctx is used for the backend calls write-back makes on its own; it is
	// canceled when Close has stopped the workers.
	ctx    context.Context
	cancel context.CancelFunc

	// nsMu orders namespace changes with the mtime write-back sets by
	// name: Rename and Unlink hold it exclusively, setMtime shares it, so
	// the name a worker reads is still the file's name when it is used.
	nsMu sync.RWMutex

	mu sync.Mutex
	// names maps the name of every open (or still draining) file to its
	// node. A node that was unlinked or renamed over is absent but still
	// in live. Guarded by mu; the node's name field changes under mu and
	// the node's mu together.
	names map[string]*node
	live  map[*node]struct{} // guarded by mu
	// closed is set by Close; also guarded by mu. isClosed reads the
	// atomic copy without the lock.
	closed     bool
	closedFlag atomic.Bool
	// stopped is set once the workers are told to exit; waits that depend
	// on write-back give up then.
	stopped atomic.Bool

	acctMu   sync.Mutex
	acctCond *sync.Cond
	// dirty is the buffered (in whole pages), in-flight and reserved byte
	// count of the whole FS. Guarded by acctMu.
	dirty int64
	// failedHeld is the part of dirty that failing files hold (the sum of
	// their node.held). Up to MaxDirty of it does not count against the
	// limit, so that files whose write-back keeps failing cannot stop
	// writers of every other file. Guarded by acctMu.
	failedHeld int64
	// pressure counts writers blocked on MaxDirty; while there are any,
	// every file's data is urgent.
	pressure atomic.Int32
	// space is the backend's free space by its last StatFS, for the
	// admission of buffered writes (roomLocked). Guarded by acctMu.
	space struct {
		asked      bool  // StatFS was asked at least once
		known      bool  // and reported a capacity
		refreshing bool  // a writer is asking now
		avail      int64 // bytes free for unprivileged users
		sent       int64 // FS.sent when it was asked
		at         time.Time
	}
	// sent counts the bytes written to the backend, written back or
	// through, for the estimate of its free space.
	sent atomic.Int64
	// spaceStale is set by each tick of the age flusher: the next write
	// asks StatFS again.
	spaceStale atomic.Bool

	// pages holds the dirty buffers' pages, chunks the buffers chunks are
	// sent from (at most one per worker is in use).
	pages, chunks *bufPool

	qMu   sync.Mutex
	qCond *sync.Cond
	// queue holds nodes waiting for a worker; a node is in it at most
	// once (node.queued). Guarded by qMu, as are node.queued and qStop.
	queue []*node
	qStop bool

	errMu sync.Mutex
	// orphans are failures no application could be told of (closing a
	// backend file after the last handle went) since the last SyncFS;
	// orphansDropped counts those beyond maxOrphans. lastErr and
	// lastErrName feed Stats. All guarded by errMu.
	orphans        []error
	orphansDropped int
	lastErr        error
	lastErrName    string

	stats struct {
		inflight      atomic.Int64
		written       atomic.Int64
		errors        atomic.Int64
		retries       atomic.Int64
		throttleWaits atomic.Int64
	}

	journal  *journal     // nil without Options.Journal; set before the workers start
	replayed replayReport // what New's replay did; read-only afterwards

	workers     sync.WaitGroup
	stopFlusher chan struct{}
	closeOnce   sync.Once
	closeErr    error
}

// maxOrphans bounds the errors SyncFS keeps between calls; the rest are
// counted.
const maxOrphans = 32

var (
	_ sdk.FileSystem = (*FS)(nil)
	_ sdk.Syncer     = (*FS)(nil)
	_ sdk.Symlinker  = (*FS)(nil)
	_ sdk.Linker     = (*FS)(nil)
	_ sdk.Xattrer    = (*FS)(nil)
	_ sdk.Mknoder    = (*FS)(nil)
	_ sdk.Accesser   = (*FS)(nil)
	_ sdk.DirSyncer  = (*FS)(nil)
)

// New returns an FS that buffers writes to backend. It starts the
// write-back workers and the age-based flusher; Close stops them.
func New(backend sdk.FileSystem, opts Options) (*FS, error) {
	if backend == nil {
		return nil, errors.New("writeback: New needs a backend filesystem, got nil")
	}
	o, err := opts.resolve()
	if err != nil {
		return nil, err
	}
	f := &FS{
		backend:     backend,
		opts:        o,
		names:       make(map[string]*node),
		live:        make(map[*node]struct{}),
		stopFlusher: make(chan struct{}),
		pages:       newBufPool(min(pageSize, o.ChunkSize)),
		chunks:      newBufPool(o.ChunkSize),
	}
	f.ctx, f.cancel = context.WithCancel(context.Background())
	f.acctCond = sync.NewCond(&f.acctMu)
	f.qCond = sync.NewCond(&f.qMu)
	if o.Journal != "" {
		if err := f.initJournal(o); err != nil {
			if f.journal != nil {
				_ = f.journal.close()
			}
			f.cancel()
			return nil, err
		}
	}
	for range o.Workers {
		f.workers.Go(f.worker)
	}
	f.workers.Go(f.flusher)
	return f, nil
}

// Backend returns the filesystem FS writes back to.
func (f *FS) Backend() sdk.FileSystem { return f.backend }

func (f *FS) isClosed() bool { return f.closedFlag.Load() }

// buffered decides whether a handle opened with flags buffers its writes.
func (f *FS) buffered(name string, flags int) bool {
	if oDirect != 0 && flags&oDirect != 0 {
		return false
	}
	if flags&(oSync|oDsync) != 0 {
		return false
	}
	if f.opts.WriteThrough {
		return false
	}
	if f.opts.Policy != nil {
		return f.opts.Policy(name, flags)
	}
	return true
}

// lookup returns the node open under name, if any.
func (f *FS) lookup(name string) *node {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.names[name]
}

// liveNodes returns every node, for FS-wide walks.
func (f *FS) liveNodes() []*node {
	f.mu.Lock()
	defer f.mu.Unlock()
	nodes := make([]*node, 0, len(f.live))
	for n := range f.live {
		nodes = append(nodes, n)
	}
	return nodes
}

// Stat reports the backend's attributes, with the size and times the
// buffered data gives the file while it has any.
func (f *FS) Stat(ctx context.Context, name string) (sdk.Attr, error) {
	if f.isClosed() {
		return sdk.Attr{}, ErrClosed
	}
	// The node is looked at before the backend: if write-back finishes in
	// between, the backend's answer is already new enough.
	var ov overlay
	if n := f.lookup(name); n != nil {
		ov = n.attrOverlay()
	}
	a, err := f.backend.Stat(ctx, name)
	if err != nil {
		return a, err
	}
	ov.apply(&a)
	return a, nil
}

// ReadDir lists the backend directory; entries that carry attributes get
// the buffered size and times of files that have dirty data.
func (f *FS) ReadDir(ctx context.Context, name string) ([]sdk.DirEntry, error) {
	if f.isClosed() {
		return nil, ErrClosed
	}
	prefix := name + "/"
	if name == "." {
		prefix = ""
	}
	overlays := make(map[string]overlay)
	f.mu.Lock()
	for p, n := range f.names {
		if rest, ok := strings.CutPrefix(p, prefix); ok && !strings.Contains(rest, "/") {
			overlays[rest] = overlay{n: n}
		}
	}
	f.mu.Unlock()
	for k, ov := range overlays {
		overlays[k] = ov.n.attrOverlay()
	}
	ents, err := f.backend.ReadDir(ctx, name)
	if err != nil {
		return nil, err
	}
	for i := range ents {
		if ov, ok := overlays[ents[i].Name]; ok && ents[i].Attr != nil {
			a := *ents[i].Attr
			ov.apply(&a)
			ents[i].Attr = &a
		}
	}
	return ents, nil
}

func (f *FS) Mkdir(ctx context.Context, name string, perm uint32) error {
	if f.isClosed() {
		return ErrClosed
	}
	return f.backend.Mkdir(ctx, name, perm)
}

func (f *FS) Rmdir(ctx context.Context, name string) error {
	if f.isClosed() {
		return ErrClosed
	}
	return f.backend.Rmdir(ctx, name)
}

// Unlink removes name. An open file's buffered data still goes to the
// backend file it was opened as (keyed by the open file, not by name), so
// readers of the open file keep seeing it; nothing is sent by name again.
func (f *FS) Unlink(ctx context.Context, name string) error {
	if f.isClosed() {
		return ErrClosed
	}
	f.nsMu.Lock()
	defer f.nsMu.Unlock()
	if err := f.backend.Unlink(ctx, name); err != nil {
		return err
	}
	f.mu.Lock()
	n := f.names[name]
	if n != nil {
		delete(f.names, name)
		n.setName("")
	}
	f.mu.Unlock()
	if n != nil {
		// A file already closed whose write-back is still pending (it
		// failed, say) has nobody left to read it.
		_, _ = f.forget(ctx, n)
	}
	return nil
}

// Rename renames in the backend, then moves the open files under oldname
// (and, for a directory, below it) to their new names.
func (f *FS) Rename(ctx context.Context, oldname, newname string, flags sdk.RenameFlags) error {
	if f.isClosed() {
		return ErrClosed
	}
	f.nsMu.Lock()
	defer f.nsMu.Unlock()
	if err := f.backend.Rename(ctx, oldname, newname, flags); err != nil {
		return err
	}
	if oldname == newname {
		return nil
	}
	var over *node
	defer func() {
		if over != nil {
			_, _ = f.forget(ctx, over)
		}
	}()
	f.mu.Lock()
	defer f.mu.Unlock()
	moved := f.takeNames(oldname)
	var swapped map[string]*node
	if flags&sdk.RenameExchange != 0 {
		swapped = f.takeNames(newname)
	} else if n := f.names[newname]; n != nil {
		// The file renamed over is gone from the namespace, as after an
		// unlink. Files below a replaced directory cannot exist: rename(2)
		// only replaces an empty one.
		delete(f.names, newname)
		n.setName("")
		over = n
	}
	for p, n := range moved {
		np := newname + p[len(oldname):]
		f.names[np] = n
		n.setName(np)
	}
	for p, n := range swapped {
		np := oldname + p[len(newname):]
		f.names[np] = n
		n.setName(np)
	}
	return nil
}

// takeNames removes and returns name and every name below it; f.mu is held.
func (f *FS) takeNames(name string) map[string]*node {
	out := make(map[string]*node)
	for p, n := range f.names {
		if p == name || strings.HasPrefix(p, name+"/") {
			out[p] = n
			delete(f.names, p)
		}
	}
	return out
}

// Truncate of an open file is ordered with its buffered data (see
// File.Truncate); other files go straight to the backend.
func (f *FS) Truncate(ctx context.Context, name string, size int64) error {
	if f.isClosed() {
		return ErrClosed
	}
	if n := f.lookup(name); n != nil {
		return n.truncate(ctx, size)
	}
	return f.backend.Truncate(ctx, name, size)
}

func (f *FS) Chmod(ctx context.Context, name string, mode uint32) error {
	if f.isClosed() {
		return ErrClosed
	}
	return f.backend.Chmod(ctx, name, mode)
}

func (f *FS) Chown(ctx context.Context, name string, uid, gid int) error {
	if f.isClosed() {
		return ErrClosed
	}
	return f.backend.Chown(ctx, name, uid, gid)
}

// SetTimes writes the file's buffered data back first, so that the mtime
// write-back sets afterwards cannot override the one asked for here.
func (f *FS) SetTimes(ctx context.Context, name string, atime, mtime time.Time) error {
	if f.isClosed() {
		return ErrClosed
	}
	if n := f.lookup(name); n != nil {
		if err := n.drain(ctx); err != nil {
			return err
		}
	}
	return f.backend.SetTimes(ctx, name, atime, mtime)
}

func (f *FS) StatFS(ctx context.Context) (sdk.StatFS, error) {
	if f.isClosed() {
		return sdk.StatFS{}, ErrClosed
	}
	return f.backend.StatFS(ctx)
}

// SyncFS writes back every buffered byte, waits for it, then calls the
// backend's SyncFS if it has one. Its error says what is wrong now, each
// thing once: a *DataLostError (errors.Is(err, ErrDataLost)) naming the
// files and bytes still not on the backend and each file's last error;
// failures that no application could be told of since the previous SyncFS
// (closing a backend file after its last handle); the backend's SyncFS
// error; the context's error if it ended first. A write-back failure that
// was repaired since (the data reached the backend after all, or was
// truncated or unlinked) is not reported, whether or not an application
// heard of it: it is in Stats and went to Options.OnError.
func (f *FS) SyncFS(ctx context.Context) error {
	if f.isClosed() && f.stopped.Load() {
		return ErrClosed
	}
	err := f.syncAll(ctx)
	var lost error
	// Data a writer buffered after its file was drained is not missing;
	// data that failed, or that the drain did not get to, is.
	if l := f.unwritten(ctx.Err() != nil); l != nil {
		lost = l
	}
	return errors.Join(err, lost, f.takeOrphans())
}

// syncAll drains every node and syncs the backend; it returns the
// context's error if the drain was cut short and the backend's SyncFS
// error.
func (f *FS) syncAll(ctx context.Context) error {
	var errs []error
	for _, n := range f.liveNodes() {
		err := n.drain(ctx)
		// A node without handles that is now clean is done: retiring it
		// closes its backend files (the workers leave that to the drain
		// while it waits).
		_ = f.maybeRetire(n)
		if err != nil && ctx.Err() != nil {
			errs = append(errs, fmt.Errorf("writeback: write-back cut short: %w", ctx.Err()))
			break
		}
	}
	if s, ok := f.backend.(sdk.Syncer); ok {
		if err := s.SyncFS(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// unwritten lists the data of failing files, or with all every buffered
// byte, and the failures not repaired; nil if there is none.
func (f *FS) unwritten(all bool) *DataLostError {
	var e DataLostError
	for _, n := range f.liveNodes() {
		n.mu.Lock()
		lf := LostFile{Name: n.name, Bytes: n.buf.len()}
		for _, c := range n.flight {
			lf.Bytes += int64(len(c.data))
		}
		failing := n.failSeq.Load() != n.repairedSeq.Load()
		if failing {
			lf.Err = n.lastErr
		}
		n.mu.Unlock()
		switch {
		case lf.Bytes > 0 && (failing || all):
			e.Bytes += lf.Bytes
			e.Files = append(e.Files, lf)
		case failing:
			// No data missing: setting the mtime failed.
			e.Others = append(e.Others, lf.Err)
		}
	}
	if e.Bytes == 0 && len(e.Others) == 0 {
		return nil
	}
	slices.SortFunc(e.Files, func(a, b LostFile) int { return strings.Compare(a.Name, b.Name) })
	return &e
}

// takeOrphans returns the failures recorded by noteOrphan since the last
// call, and forgets them.
func (f *FS) takeOrphans() error {
	f.errMu.Lock()
	defer f.errMu.Unlock()
	errs := f.orphans
	if f.orphansDropped > 0 {
		errs = append(errs, fmt.Errorf("writeback: %d more failures not shown", f.orphansDropped))
	}
	f.orphans, f.orphansDropped = nil, 0
	return errors.Join(errs...)
}

// Close drains every buffered byte (bounded by ctx), stops the workers and
// the flusher, and closes the backend files still held. Data that could not
// be written back is reported with an error wrapping ErrDataLost. Every
// operation fails with ErrClosed afterwards. Close returns once every
// goroutine the FS started has exited; calling it again returns the first
// result.
func (f *FS) Close(ctx context.Context) error {
	f.closeOnce.Do(func() { f.closeErr = f.close(ctx) })
	return f.closeErr
}

// stopWorkers tells the workers and the flusher to stop, wakes every
// goroutine that waits on them, and returns once the workers have exited.
// What is still buffered stays buffered.
func (f *FS) stopWorkers() {
	f.stopped.Store(true)
	close(f.stopFlusher)
	f.qMu.Lock()
	f.qStop = true
	f.qCond.Broadcast()
	f.qMu.Unlock()
	f.acctMu.Lock()
	f.acctCond.Broadcast()
	f.acctMu.Unlock()
	for _, n := range f.liveNodes() {
		n.wake()
	}
	f.workers.Wait()
	f.cancel()
}

func (f *FS) close(ctx context.Context) error {
	f.mu.Lock()
	f.closed = true
	f.closedFlag.Store(true)
	f.mu.Unlock()

	err := f.syncAll(ctx)
	// What is still buffered now is lost (the workers stop next); the
	// list is made before shutdown closes the backend files.
	var lost error
	if l := f.unwritten(true); l != nil {
		l.Final = true
		if f.journal != nil {
			// Every buffered byte was appended to the journal before it was
			// acknowledged.
			l.Journal = f.opts.Journal
		}
		lost = l
	}

	f.stopWorkers()

	errs := []error{err, lost}
	for _, n := range f.liveNodes() {
		errs = append(errs, n.shutdown())
	}
	errs = append(errs, f.takeOrphans())
	if f.journal != nil {
		// What was not written back stays journaled for the next mount.
		errs = append(errs, f.journal.close())
	}
	return errors.Join(errs...)
}

// noteOrphan records a failure that no application can be told of, for
// the next SyncFS (or Close) and Stats, then tells OnError.
func (f *FS) noteOrphan(name string, err error) {
	f.errMu.Lock()
	if len(f.orphans) < maxOrphans {
		f.orphans = append(f.orphans, err)
	} else {
		f.orphansDropped++
	}
	f.errMu.Unlock()
	f.recordError(name, err)
	f.tellError(name, err)
}

// recordError records a failure for Stats. It takes only leaf locks, so a
// worker calls it with the node locked.
func (f *FS) recordError(name string, err error) {
	f.stats.errors.Add(1)
	f.errMu.Lock()
	f.lastErr, f.lastErrName = err, name
	f.errMu.Unlock()
	// Writers throttled on the global limit look for their handle's error
	// when they wake.
	f.acctMu.Lock()
	f.acctCond.Broadcast()
	f.acctMu.Unlock()
}

// tellError calls OnError, with no lock held.
func (f *FS) tellError(name string, err error) {
	if f.opts.OnError != nil {
		f.opts.OnError(name, err)
	}
}

// Optional capabilities. FS always has these methods; when the backend
// lacks the capability they answer sdk.ErrNotSupported (DirSyncer: nil, as
// the SDK does without it). Link writes the source's buffered data back
// first, so that the new name shows it.

func (f *FS) Symlink(ctx context.Context, target, newname string) error {
	s, ok := f.backend.(sdk.Symlinker)
	if !ok {
		return sdk.ErrNotSupported
	}
	return s.Symlink(ctx, target, newname)
}

func (f *FS) Readlink(ctx context.Context, name string) (string, error) {
	s, ok := f.backend.(sdk.Symlinker)
	if !ok {
		return "", sdk.ErrNotSupported
	}
	return s.Readlink(ctx, name)
}

func (f *FS) Link(ctx context.Context, oldname, newname string) error {
	l, ok := f.backend.(sdk.Linker)
	if !ok {
		return sdk.ErrNotSupported
	}
	if n := f.lookup(oldname); n != nil {
		if err := n.drain(ctx); err != nil {
			return err
		}
	}
	return l.Link(ctx, oldname, newname)
}

func (f *FS) GetXattr(ctx context.Context, name, attr string) ([]byte, error) {
	x, ok := f.backend.(sdk.Xattrer)
	if !ok {
		return nil, sdk.ErrNotSupported
	}
	return x.GetXattr(ctx, name, attr)
}

func (f *FS) SetXattr(ctx context.Context, name, attr string, value []byte, flags sdk.XattrFlags) error {
	x, ok := f.backend.(sdk.Xattrer)
	if !ok {
		return sdk.ErrNotSupported
	}
	return x.SetXattr(ctx, name, attr, value, flags)
}

func (f *FS) ListXattr(ctx context.Context, name string) ([]string, error) {
	x, ok := f.backend.(sdk.Xattrer)
	if !ok {
		return nil, sdk.ErrNotSupported
	}
	return x.ListXattr(ctx, name)
}

func (f *FS) RemoveXattr(ctx context.Context, name, attr string) error {
	x, ok := f.backend.(sdk.Xattrer)
	if !ok {
		return sdk.ErrNotSupported
	}
	return x.RemoveXattr(ctx, name, attr)
}

func (f *FS) Mknod(ctx context.Context, name string, mode uint32, dev uint64) error {
	m, ok := f.backend.(sdk.Mknoder)
	if !ok {
		return sdk.ErrNotSupported
	}
	return m.Mknod(ctx, name, mode, dev)
}

func (f *FS) Access(ctx context.Context, name string, mask uint32) error {
	a, ok := f.backend.(sdk.Accesser)
	if !ok {
		return sdk.ErrNotSupported
	}
	return a.Access(ctx, name, mask)
}

func (f *FS) SyncDir(ctx context.Context, name string) error {
	d, ok := f.backend.(sdk.DirSyncer)
	if !ok {
		return nil
	}
	return d.SyncDir(ctx, name)
}
