// Package faultfs wraps an afero.Fs to make it slow and unreliable on
// purpose, for tests and benchmarks of code that sits above a backend.
//
// Three knobs are available, all safe to change from any goroutine while the
// filesystem is in use:
//
//   - Latency is added to every call (Fs and File methods alike), as a
//     round trip to a remote store would be.
//   - Bandwidth caps the bytes per second moved by reads and writes, shared
//     by every file of one Fs (a token bucket that allows a burst of
//     Config.Burst bytes).
//   - Rules inject errors: a Rule names an operation, a path glob, how many
//     matching calls fail and the error they fail with. Temporary wraps an
//     error so that it reports Temporary() == true, the way a network error
//     does, for code that retries such errors.
//
// Calls counts every call per operation, failed or not, so a test can check
// that an operation happened (or did not) without timing anything.
//
// Operation names are the lower-case verbs below; a Rule with an empty Op
// matches them all.
//
//	open      Open, OpenFile, Create
//	stat      Stat, LstatIfPossible, File.Stat
//	read      File.Read, File.ReadAt
//	write     File.Write, File.WriteAt, File.WriteString
//	seek      File.Seek
//	readdir   File.Readdir, File.Readdirnames
//	sync      File.Sync
//	truncate  File.Truncate
//	close     File.Close
//	mkdir     Mkdir, MkdirAll
//	remove    Remove, RemoveAll
//	rename    Rename
//	chmod     Chmod
//	chown     Chown
//	chtimes   Chtimes
//	symlink   SymlinkIfPossible
//	readlink  ReadlinkIfPossible
package faultfs

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/spf13/afero"
)

// ErrInjected is the error a Rule with a nil Err fails with.
var ErrInjected = errors.New("faultfs: injected failure")

// Operation names, for Rule.Op and Calls.
const (
	OpOpen     = "open"
	OpStat     = "stat"
	OpRead     = "read"
	OpWrite    = "write"
	OpSeek     = "seek"
	OpReaddir  = "readdir"
	OpSync     = "sync"
	OpTruncate = "truncate"
	OpClose    = "close"
	OpMkdir    = "mkdir"
	OpRemove   = "remove"
	OpRename   = "rename"
	OpChmod    = "chmod"
	OpChown    = "chown"
	OpChtimes  = "chtimes"
	OpSymlink  = "symlink"
	OpReadlink = "readlink"
)

var knownOps = map[string]bool{
	OpOpen: true, OpStat: true, OpRead: true, OpWrite: true, OpSeek: true,
	OpReaddir: true, OpSync: true, OpTruncate: true, OpClose: true,
	OpMkdir: true, OpRemove: true, OpRename: true, OpChmod: true,
	OpChown: true, OpChtimes: true, OpSymlink: true, OpReadlink: true,
}

// Config sets the initial behaviour of an Fs. The zero value adds nothing:
// no latency, no bandwidth limit.
type Config struct {
	// Latency is slept before every call.
	Latency time.Duration
	// Bandwidth caps read and write throughput in bytes per second for the
	// whole Fs; zero means unlimited.
	Bandwidth int64
	// Burst is how many bytes may move at full speed after an idle period.
	// Zero means Bandwidth/10, at least 4096 bytes.
	Burst int64
}

// Rule makes matching calls fail.
type Rule struct {
	// Op is the operation to fail (OpWrite, ...); empty matches every
	// operation.
	Op string
	// Path is a path.Match glob matched against the cleaned slash-separated
	// name the call was made with; empty matches every path. A rename
	// matches when either name does.
	Path string
	// Skip lets this many matching calls through before failing.
	Skip int
	// Count is how many matching calls fail after Skip; zero or negative
	// means every matching call until Clear.
	Count int
	// Err is the error returned; nil means ErrInjected. Wrap it with
	// Temporary to make it look retryable.
	Err error
}

type rule struct {
	Rule
	skipped int
	failed  int
}

// Fs is an afero.Fs that delays, throttles and fails calls to a base Fs.
type Fs struct {
	base afero.Fs

	mu sync.Mutex // guards everything below
	// latency is slept before each call.
	latency time.Duration
	bucket  bucket
	rules   []*rule
	calls   map[string]int
}

var (
	_ afero.Fs        = (*Fs)(nil)
	_ afero.Lstater   = (*Fs)(nil)
	_ afero.Symlinker = (*Fs)(nil)
)

// New wraps base. A negative Latency, Bandwidth or Burst is treated as zero.
func New(base afero.Fs, cfg Config) *Fs {
	f := &Fs{base: base, calls: make(map[string]int)}
	f.latency = max(cfg.Latency, 0)
	f.bucket.set(cfg.Bandwidth, cfg.Burst)
	return f
}

// SetLatency changes the per-call latency.
func (f *Fs) SetLatency(d time.Duration) {
	f.mu.Lock()
	f.latency = max(d, 0)
	f.mu.Unlock()
}

// SetBandwidth changes the bandwidth limit (bytes per second, zero for
// none) and the burst (zero for the default).
func (f *Fs) SetBandwidth(bytesPerSecond, burst int64) {
	f.mu.Lock()
	f.bucket.set(bytesPerSecond, burst)
	f.mu.Unlock()
}

// Inject adds a rule. Rules are checked in the order they were added; the
// first rule that decides to fail a call wins. It panics on an unknown Op
// or a malformed Path glob, which are mistakes in the test itself.
func (f *Fs) Inject(r Rule) {
	if r.Op != "" && !knownOps[r.Op] {
		panic(fmt.Sprintf("faultfs: unknown Rule.Op %q", r.Op))
	}
	if r.Path != "" {
		if _, err := path.Match(r.Path, ""); err != nil {
			panic(fmt.Sprintf("faultfs: bad Rule.Path glob %q: %v", r.Path, err))
		}
	}
	if r.Err == nil {
		r.Err = ErrInjected
	}
	f.mu.Lock()
	f.rules = append(f.rules, &rule{Rule: r})
	f.mu.Unlock()
}

// Clear removes every rule.
func (f *Fs) Clear() {
	f.mu.Lock()
	f.rules = nil
	f.mu.Unlock()
}

// Pending reports how many failures the rules still hold; rules without a
// Count are not included.
func (f *Fs) Pending() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, r := range f.rules {
		if r.Count > 0 {
			n += r.Count - r.failed
		}
	}
	return n
}

// Calls returns how many calls of op were made, including failed ones. An
// empty op counts every call.
func (f *Fs) Calls(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if op == "" {
		n := 0
		for _, c := range f.calls {
			n += c
		}
		return n
	}
	return f.calls[op]
}

// ResetCalls sets every counter back to zero.
func (f *Fs) ResetCalls() {
	f.mu.Lock()
	clear(f.calls)
	f.mu.Unlock()
}

// enter counts the call, sleeps the latency and returns the injected error,
// if a rule fails this call.
func (f *Fs) enter(op string, names ...string) error {
	f.mu.Lock()
	f.calls[op]++
	lat := f.latency
	err := f.match(op, names)
	f.mu.Unlock()
	if lat > 0 {
		time.Sleep(lat)
	}
	if err != nil {
		name := ""
		if len(names) > 0 {
			name = names[0]
		}
		return &os.PathError{Op: op, Path: name, Err: err}
	}
	return nil
}

// match runs the rules for one call; f.mu is held.
func (f *Fs) match(op string, names []string) error {
	for _, r := range f.rules {
		if r.Op != "" && r.Op != op {
			continue
		}
		if !r.matchPath(names) {
			continue
		}
		if r.Count > 0 && r.failed >= r.Count {
			continue
		}
		if r.skipped < r.Skip {
			r.skipped++
			continue
		}
		r.failed++
		return r.Err
	}
	return nil
}

func (r *rule) matchPath(names []string) bool {
	if r.Path == "" {
		return true
	}
	for _, n := range names {
		if ok, _ := path.Match(r.Path, clean(n)); ok {
			return true
		}
	}
	return false
}

// clean turns an OS-style name into the slash-separated form globs match:
// no leading slash, no "./".
func clean(name string) string {
	name = path.Clean("/" + strings.ReplaceAll(name, "\\", "/"))
	if name == "/" {
		return "."
	}
	return name[1:]
}

// transfer waits until the bandwidth limit lets n bytes through.
func (f *Fs) transfer(n int) {
	if n <= 0 {
		return
	}
	f.mu.Lock()
	d := f.bucket.take(int64(n), time.Now())
	f.mu.Unlock()
	if d > 0 {
		time.Sleep(d)
	}
}

// bucket is a token bucket whose level may go negative: a transfer larger
// than the burst is let through after waiting for the debt to be repaid,
// which keeps the average rate exact without splitting calls.
type bucket struct {
	rate   float64 // bytes per second; 0 = unlimited
	burst  float64
	tokens float64
	last   time.Time
}

func (b *bucket) set(rate, burst int64) {
	b.rate = float64(max(rate, 0))
	if burst <= 0 {
		burst = max(rate/10, 4096)
	}
	b.burst = float64(burst)
	b.tokens = b.burst
	b.last = time.Time{}
}

// take removes n tokens and returns how long the caller must wait.
func (b *bucket) take(n int64, now time.Time) time.Duration {
	if b.rate == 0 {
		return 0
	}
	if !b.last.IsZero() {
		b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	}
	b.last = now
	b.tokens -= float64(n)
	if b.tokens >= 0 {
		return 0
	}
	return time.Duration(-b.tokens / b.rate * float64(time.Second))
}

// Temporary wraps err so that it reports Temporary() == true, as retryable
// network errors do. errors.Is and errors.As still see err.
func Temporary(err error) error {
	if err == nil {
		err = ErrInjected
	}
	return &temporaryError{err}
}

type temporaryError struct{ err error }

func (e *temporaryError) Error() string   { return "temporary: " + e.err.Error() }
func (e *temporaryError) Unwrap() error   { return e.err }
func (e *temporaryError) Temporary() bool { return true }

// Name reports the wrapped filesystem's name with a prefix.
func (f *Fs) Name() string { return "faultfs(" + f.base.Name() + ")" }

func (f *Fs) Create(name string) (afero.File, error) {
	if err := f.enter(OpOpen, name); err != nil {
		return nil, err
	}
	file, err := f.base.Create(name)
	if err != nil {
		return nil, err
	}
	return &File{fs: f, f: file, name: name}, nil
}

func (f *Fs) Open(name string) (afero.File, error) {
	if err := f.enter(OpOpen, name); err != nil {
		return nil, err
	}
	file, err := f.base.Open(name)
	if err != nil {
		return nil, err
	}
	return &File{fs: f, f: file, name: name}, nil
}

func (f *Fs) OpenFile(name string, flag int, perm os.FileMode) (afero.File, error) {
	if err := f.enter(OpOpen, name); err != nil {
		return nil, err
	}
	file, err := f.base.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &File{fs: f, f: file, name: name}, nil
}

func (f *Fs) Mkdir(name string, perm os.FileMode) error {
	if err := f.enter(OpMkdir, name); err != nil {
		return err
	}
	return f.base.Mkdir(name, perm)
}

func (f *Fs) MkdirAll(name string, perm os.FileMode) error {
	if err := f.enter(OpMkdir, name); err != nil {
		return err
	}
	return f.base.MkdirAll(name, perm)
}

func (f *Fs) Remove(name string) error {
	if err := f.enter(OpRemove, name); err != nil {
		return err
	}
	return f.base.Remove(name)
}

func (f *Fs) RemoveAll(name string) error {
	if err := f.enter(OpRemove, name); err != nil {
		return err
	}
	return f.base.RemoveAll(name)
}

func (f *Fs) Rename(oldname, newname string) error {
	if err := f.enter(OpRename, oldname, newname); err != nil {
		return err
	}
	return f.base.Rename(oldname, newname)
}

func (f *Fs) Stat(name string) (os.FileInfo, error) {
	if err := f.enter(OpStat, name); err != nil {
		return nil, err
	}
	return f.base.Stat(name)
}

// LstatIfPossible uses the base's Lstat when it has one, as afero's own
// wrappers do.
func (f *Fs) LstatIfPossible(name string) (os.FileInfo, bool, error) {
	if err := f.enter(OpStat, name); err != nil {
		return nil, false, err
	}
	if l, ok := f.base.(afero.Lstater); ok {
		return l.LstatIfPossible(name)
	}
	fi, err := f.base.Stat(name)
	return fi, false, err
}

func (f *Fs) SymlinkIfPossible(oldname, newname string) error {
	if err := f.enter(OpSymlink, newname); err != nil {
		return err
	}
	if l, ok := f.base.(afero.Linker); ok {
		return l.SymlinkIfPossible(oldname, newname)
	}
	return &os.LinkError{Op: "symlink", Old: oldname, New: newname, Err: afero.ErrNoSymlink}
}

func (f *Fs) ReadlinkIfPossible(name string) (string, error) {
	if err := f.enter(OpReadlink, name); err != nil {
		return "", err
	}
	if l, ok := f.base.(afero.LinkReader); ok {
		return l.ReadlinkIfPossible(name)
	}
	return "", &os.PathError{Op: "readlink", Path: name, Err: afero.ErrNoReadlink}
}

func (f *Fs) Chmod(name string, mode os.FileMode) error {
	if err := f.enter(OpChmod, name); err != nil {
		return err
	}
	return f.base.Chmod(name, mode)
}

func (f *Fs) Chown(name string, uid, gid int) error {
	if err := f.enter(OpChown, name); err != nil {
		return err
	}
	return f.base.Chown(name, uid, gid)
}

func (f *Fs) Chtimes(name string, atime, mtime time.Time) error {
	if err := f.enter(OpChtimes, name); err != nil {
		return err
	}
	return f.base.Chtimes(name, atime, mtime)
}

// File is an open file of an Fs.
type File struct {
	fs   *Fs
	f    afero.File
	name string // the name it was opened with, for rules
}

var _ afero.File = (*File)(nil)

func (f *File) Name() string { return f.f.Name() }

func (f *File) Close() error {
	if err := f.fs.enter(OpClose, f.name); err != nil {
		// A failed close still releases the base file, as close(2) does.
		_ = f.f.Close()
		return err
	}
	return f.f.Close()
}

func (f *File) Read(p []byte) (int, error) {
	if err := f.fs.enter(OpRead, f.name); err != nil {
		return 0, err
	}
	n, err := f.f.Read(p)
	f.fs.transfer(n)
	return n, err
}

func (f *File) ReadAt(p []byte, off int64) (int, error) {
	if err := f.fs.enter(OpRead, f.name); err != nil {
		return 0, err
	}
	n, err := f.f.ReadAt(p, off)
	f.fs.transfer(n)
	return n, err
}

func (f *File) Seek(offset int64, whence int) (int64, error) {
	if err := f.fs.enter(OpSeek, f.name); err != nil {
		return 0, err
	}
	return f.f.Seek(offset, whence)
}

// Write and WriteAt wait for the bandwidth before writing, so that a slow
// write is slow before it becomes visible, as an upload is.
func (f *File) Write(p []byte) (int, error) {
	if err := f.fs.enter(OpWrite, f.name); err != nil {
		return 0, err
	}
	f.fs.transfer(len(p))
	return f.f.Write(p)
}

func (f *File) WriteAt(p []byte, off int64) (int, error) {
	if err := f.fs.enter(OpWrite, f.name); err != nil {
		return 0, err
	}
	f.fs.transfer(len(p))
	return f.f.WriteAt(p, off)
}

func (f *File) WriteString(s string) (int, error) {
	if err := f.fs.enter(OpWrite, f.name); err != nil {
		return 0, err
	}
	f.fs.transfer(len(s))
	return f.f.WriteString(s)
}

func (f *File) Readdir(count int) ([]os.FileInfo, error) {
	if err := f.fs.enter(OpReaddir, f.name); err != nil {
		return nil, err
	}
	return f.f.Readdir(count)
}

func (f *File) Readdirnames(n int) ([]string, error) {
	if err := f.fs.enter(OpReaddir, f.name); err != nil {
		return nil, err
	}
	return f.f.Readdirnames(n)
}

func (f *File) Stat() (os.FileInfo, error) {
	if err := f.fs.enter(OpStat, f.name); err != nil {
		return nil, err
	}
	return f.f.Stat()
}

func (f *File) Sync() error {
	if err := f.fs.enter(OpSync, f.name); err != nil {
		return err
	}
	return f.f.Sync()
}

func (f *File) Truncate(size int64) error {
	if err := f.fs.enter(OpTruncate, f.name); err != nil {
		return err
	}
	return f.f.Truncate(size)
}
