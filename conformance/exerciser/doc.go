// Package exerciser checks a filesystem with long, seeded, reproducible
// sequences of operations, in the spirit of fsx from xfstests.
//
// File mode (Run, ReplayFile) works on one file: write, read, truncate,
// mmap read and write, fsync, close and reopen, O_DIRECT read and write.
// Every operation is also applied to an oracle, an in-memory copy of the
// file; every read is compared with it byte for byte, the size is checked
// after every operation, and the whole file is read back at the end. The
// bytes a write puts at an offset are a function of the write's Data number
// and the offset, so a wrong byte read back tells which operation wrote it
// ("byte at 0x2000 is from op 17, want from op 42 — a reordered or lost
// write").
//
// Namespace mode (RunNamespace, ReplayNamespace) does the same for a small
// tree: create, mkdir, rename, unlink, rmdir, link and symlink against an
// oracle tree that predicts the errno of every call, failures included, in
// the order Linux checks for them. After each operation the names it
// touched are lstat'ed; verify operations and the end of the run walk the
// whole tree (names, types, link counts, contents, symlink targets).
// Symlink targets always dangle (they contain ':', which names never do),
// so the oracle never has to follow one.
//
// A sequence is generated from Config.Seed (GenerateFile,
// GenerateNamespace), decoded from fuzzer bytes (DecodeFile,
// DecodeNamespace), or parsed from text (ParseOps); any sequence is valid in
// any state, because offsets and lengths are folded into range when an
// operation runs. On the first divergence the run stops and returns a
// *Divergence with the seed, the failing operation and the log, after
// shrinking the sequence by delta debugging (dropping chunks, then single
// operations, then shrinking numbers, each candidate replayed on a fresh
// file or directory) within Config.ShrinkTime. Its Error prints the minimal
// sequence in the text form ParseOps reads.
//
// The system under test is a FileTarget or NamespaceTarget made by a
// factory: NativeFile and NativeNamespace use system calls in a directory
// (usually a FUSE mount), and tests plug in fakes with planted bugs. The
// exerciser runs operations one at a time from one goroutine and keeps no
// global state.
//
// Operations that fault in pages of a shared mapping do so with
// madvise(MADV_POPULATE_*), inside a system call, so that the exerciser can
// run in the same process as the FUSE server it tests without deadlocking
// against the Go garbage collector.
package exerciser
