package overlay

import (
	"context"

	"github.com/fusekit/fusekit/sdk"
)

// file is an open layer file that reports the overlay's inode number.
type file struct {
	sdk.File
	ino uint64
}

// Flush implements sdk.Flusher for layers that flush (a write-back upper).
func (f *file) Flush(ctx context.Context) error {
	if fl, ok := f.File.(sdk.Flusher); ok {
		return fl.Flush(ctx)
	}
	return nil
}

// statFile is a file whose layer can stat an open handle.
type statFile struct {
	file
	st sdk.FileStater
}

// Stat implements sdk.FileStater.
func (f *statFile) Stat(ctx context.Context) (sdk.Attr, error) {
	a, err := f.st.Stat(ctx)
	a.Ino = f.ino
	return a, err
}

var (
	_ sdk.Flusher    = (*file)(nil)
	_ sdk.FileStater = (*statFile)(nil)
)

// wrapFile wraps an opened layer file. fstat is answered from the handle
// only when the handle's attributes are the merged ones: not for a stub
// opened for reading, whose data handle belongs to a lower file with the
// lower's metadata.
func wrapFile(f sdk.File, ino uint64, handleIsTruth bool) sdk.File {
	base := file{File: f, ino: ino}
	if st, ok := f.(sdk.FileStater); ok && handleIsTruth {
		return &statFile{file: base, st: st}
	}
	return &base
}
