// Package writeback is a userspace write-back cache for fusekit
// filesystems: a sdk.FileSystem middleware that acknowledges writes once
// they are in memory and sends them to the backend later, in large
// contiguous chunks, from a bounded pool of workers.
//
//	wb, err := writeback.New(aferofs.New(fs), writeback.Options{})
//	srv, err := sdk.Mount(wb, dir, nil)
//	...
//	srv.Unmount(ctx)  // calls wb.SyncFS: every buffered byte is written back
//	wb.Close(ctx)     // stops the workers
//
// # Model
//
// Every file opened through FS gets a node, shared by all the handles open
// on it and found by name; Rename and Unlink re-key the name map, and the
// node keeps writing to the backend file it opened, so data follows the
// open file, never a path. A node holds the dirty data, the chunks
// workers are sending, and the file's size and mtime while it has dirty
// data: Stat, fstat and ReadDir report those, and reads through any handle
// merge the buffer over the backend's bytes. After the last chunk a worker
// sets the backend's mtime to that of the last buffered write, so stat
// never goes back in time, and hands size and times back to the backend.
//
// The dirty data is a list of coalesced byte ranges over 4 KiB pages
// (ChunkSize-sized when ChunkSize is smaller) that hold the bytes: a write
// copies into pages, a chunk is gathered from them into a buffer and the
// pages go back to a free list at once. Pages and chunk buffers are reused
// from one write to the next and given back to the Go runtime after a tick
// of the age flusher without use: a steady stream of writes allocates
// nothing, which matters because fresh memory (page faults, zeroing,
// garbage collection) cost more than the copy in the profiles behind
// docs/performance.md section 3 (sftp write-back cp 94 → 146 MB/s once
// gone). The dirty limits count
// whole pages, so they bound memory whatever the write pattern, as the
// kernel's count of dirty pages does.
//
// Write-back starts when a file has a chunk's worth of data, when the whole
// FS passes half of MaxDirty, when data is older than MaxAge, and when
// someone waits for it: Flush (every close(2)), Sync (fsync, followed by
// the backend's Sync), SyncFS (syncfs, unmount), Truncate, SetTimes, Link,
// O_DIRECT I/O, the last handle's Close, and writers blocked on a dirty
// limit. Only then does a file's last partial chunk go out: on its own,
// write-back sends whole chunks, at multiples of ChunkSize, and ranges a
// sequential writer has left behind, so a file written front to back
// reaches the backend in full chunks. Up to InFlightPerFile chunks of one
// file are in flight at once, each sent by its own worker; they are taken
// in offset order and a chunk that overlaps one in flight waits for it, so
// newer bytes never land under older ones. Writers block while their file
// is at MaxDirtyPerFile or the FS at MaxDirty; they never fail for it.
// The data of files whose write-back is failing counts against MaxDirty
// only past a second MaxDirty of it, so that files that keep failing
// cannot block the writers of every other file; memory stays bounded by
// twice MaxDirty.
//
// Truncate waits for the chunks in flight, truncates the backend, then drops
// the buffered bytes past the new size, so write-back can never resurrect
// them. Handles opened with O_DIRECT, O_SYNC or O_DSYNC, or that Policy or
// WriteThrough exclude, write through: buffered data overlapping their
// range is written back first, and buffered writes overlapping an
// unbuffered write in progress wait for it. Their reads write back the
// buffered data past their offset first (on failure they read the merged
// buffer instead). The SDK places O_APPEND writes at the size fstat
// reports, which includes the buffer; FS never passes O_APPEND or O_DIRECT
// to the backend.
//
// # A full backend
//
// Data acknowledged to write(2) must fit in the backend when it is written
// back, so buffered writes are admitted against the backend's free space,
// as ext4 stops delaying allocation when its free blocks fall below twice
// the dirty ones: FS buffers while everything buffered stays under half
// of the free space the backend's StatFS last reported (less the bytes
// sent to it since), and past that writes go through to the backend,
// which refuses what it cannot hold with ENOSPC at write(2). StatFS is
// asked at the first write, then at most once per tick of the age flusher
// (at most a second apart), and again before a write is sent through, at
// most every 100 ms; it costs about 2 µs on the passthrough adapter. A
// backend whose StatFS fails or reports no capacity buffers everything.
//
// A write-back can still fail for lack of space (ENOSPC, EDQUOT, EFBIG):
// someone else filled the backend. From then on the file's writes go
// through until its failed data has reached the backend or a truncate has
// dropped it, so nothing more is acknowledged that may not fit. When a
// file is unlinked or renamed over and its last handle is closed, its
// buffered data is dropped and its backend files are closed, as the
// kernel drops the dirty pages of an unlinked inode: the backend's space
// is freed at once and a failed write-back of the file is not retried nor
// reported as lost. A backend that can make hard links (sdk.Linker) is
// asked first (fstat) whether the file has another name; then it is
// written back as usual. The failure of one file never fails operations
// on another, and a read-only handle's close(2) does not fail for data
// that others wrote.
//
// # Errors
//
// A chunk that fails with a temporary error (IsTemporary) is retried with
// doubling backoff, Retries times; a timer queues the file again, so the
// workers write other files back meanwhile. Then, like any other failure,
// the error becomes a WriteBackError that is sticky on the file, errseq
// style: a handle returns a failure that happened since it was opened or
// since it last returned one, once, from its next WriteAt, Flush or Sync,
// unless the failure was repaired first (the data reached the backend at a
// later try, or a truncate or unlink dropped it): a handle that had not
// asked yet is not told of a failure that no longer costs anything. Stats
// and Options.OnError see every failure. The data stays buffered and is
// retried at the next flush or after MaxAge; a write-back error is never
// only logged. It maps to EIO, or to the backend's errno when that is not a
// temporary one (ENOSPC stays ENOSPC).
//
// SyncFS, and so sdk.Server.Unmount and Server.Sync, reports state, each
// thing once: a *DataLostError, which errors.Is(err, ErrDataLost) finds,
// naming every file whose acknowledged data is still not on the backend
// after the drain, its bytes and its last error; failures nobody else
// could be told of (closing a backend file after the last handle) since
// the previous SyncFS; the backend's own SyncFS error. A failure that an
// application heard of, or that was repaired, is not repeated: a run in
// which nothing was lost unmounts without an error. Close reports the
// data it could not write back as a DataLostError with Final set.
//
// # Crash window
//
// Data acknowledged to write(2) but not yet written back is lost if the
// process dies: close(2), fsync(2), syncfs(2) and unmount are the points
// after which it is on the backend (and, for fsync, synced there).
//
// # Locking
//
// Lock order, outermost first:
//
//	FS.nsMu (namespace changes vs. setting mtime by name)
//	FS.mu   (name map, live set)
//	node.mu (everything about one file)
//	FS.qMu, FS.acctMu, FS.errMu, bufPool.mu (leaves; never held together)
//
// No lock is held across a backend call, except nsMu (shared) around the
// SetTimes that write-back makes by name. Each struct field says which lock
// guards it.
//
// # Limits
//
// Two names of one backend file (hard links) opened through different
// names get separate buffers; Link writes the source's buffer back first.
// Besides the pages MaxDirty counts, each worker holds one ChunkSize
// buffer while it sends a chunk. Chunks of one file sent together may
// complete in any order, so after a crash the backend file can have a
// hole where an earlier chunk had not landed yet. The optional
// capabilities (symlinks, links, xattrs, mknod, access) are always present
// on FS and answer sdk.ErrNotSupported when the backend lacks them. For
// xattrs the SDK sees that at mount (ListXattr of the root) and turns them
// off, so the kernel does not ask for security.capability before every
// write(2); sdk.Options.NoXattrs says so explicitly.
package writeback
