package sftpfs

import (
	"errors"
	"io/fs"
	"strings"
	"syscall"
	"testing"

	"github.com/fusekit/fusekit/sdk"
	"github.com/pkg/sftp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestServerPathStaysBeneathTheRoot(t *testing.T) {
	sub := &Fs{root: "/srv/data"}
	top := &Fs{root: "/"}
	for _, tc := range []struct{ name, sub, top string }{
		{"", "/srv/data", "/"},
		{".", "/srv/data", "/"},
		{"/", "/srv/data", "/"},
		{"a", "/srv/data/a", "/a"},
		{"/a/b", "/srv/data/a/b", "/a/b"},
		{"a//b/./c/", "/srv/data/a/b/c", "/a/b/c"},
		{"a/../b", "/srv/data/b", "/b"},
		{"a/b/../..", "/srv/data", "/"},
		{`a\..\..\b`, `/srv/data/a\..\..\b`, `/a\..\..\b`}, // backslash is a plain byte on the server
		{"...", "/srv/data/...", "/..."},
	} {
		got, err := sub.serverPath("op", tc.name)
		require.NoError(t, err, "%q", tc.name)
		assert.Equal(t, tc.sub, got, "%q under /srv/data", tc.name)
		got, err = top.serverPath("op", tc.name)
		require.NoError(t, err, "%q", tc.name)
		assert.Equal(t, tc.top, got, "%q under /", tc.name)
	}
}

func TestServerPathRefusesEscapesAndNUL(t *testing.T) {
	f := &Fs{root: "/srv/data"}
	for _, name := range []string{"..", "/..", "../data/x", "a/../..", "a/../../data", "./../x", "a/b/../../../x"} {
		_, err := f.serverPath("open", name)
		require.Error(t, err, "%q", name)
		assert.ErrorIs(t, err, fs.ErrInvalid, "%q", name)
		assert.Equal(t, syscall.EINVAL, sdk.Errno(err), "%q", name)
		assert.Contains(t, err.Error(), "climbs above the sftpfs root")
		var pe *fs.PathError
		require.ErrorAs(t, err, &pe)
		assert.Equal(t, name, pe.Path, "the error names the bad name")
	}
	// The server would cut "..\x00x" at the NUL and act on the parent.
	_, err := f.serverPath("open", "..\x00x")
	assert.ErrorContains(t, err, "NUL byte")
	assert.Equal(t, syscall.EINVAL, sdk.Errno(err))
}

// FuzzServerPath checks the confinement on any name: a path that is
// accepted is clean, NUL-free and beneath the root, and it is the path the
// name means.
func FuzzServerPath(f *testing.F) {
	for _, seed := range []string{"", ".", "/", "a/b", "a/../b", "..", "a/../../b", "a\x00b", "//a//", "a/./../.."} {
		f.Add(seed)
	}
	fsys := &Fs{root: "/srv/data"}
	f.Fuzz(func(t *testing.T, name string) {
		p, err := fsys.serverPath("op", name)
		if err != nil {
			if !errors.Is(err, fs.ErrInvalid) {
				t.Fatalf("%q: error %v does not wrap fs.ErrInvalid", name, err)
			}
			return
		}
		if strings.IndexByte(p, 0) >= 0 {
			t.Fatalf("%q became %q, which holds a NUL", name, p)
		}
		if p != "/srv/data" && !strings.HasPrefix(p, "/srv/data/") {
			t.Fatalf("%q escaped to %q", name, p)
		}
		for elem := range strings.SplitSeq(strings.TrimPrefix(p, "/srv/data"), "/") {
			if elem == "." || elem == ".." {
				t.Fatalf("%q became %q, which is not clean", name, p)
			}
		}
	})
}

func TestErrnoMapsStatusCodes(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want syscall.Errno
	}{
		{fs.ErrNotExist, syscall.ENOENT},
		{fs.ErrPermission, syscall.EACCES},
		{&fs.PathError{Op: "remove", Path: "/x", Err: fs.ErrNotExist}, syscall.ENOENT},
		{&sftp.StatusError{Code: uint32(sftp.ErrSSHFxBadMessage)}, syscall.EINVAL},
		{&sftp.StatusError{Code: uint32(sftp.ErrSSHFxOpUnsupported)}, syscall.EOPNOTSUPP},
		{&sftp.StatusError{Code: uint32(sftp.ErrSSHFxFailure)}, syscall.EIO},
		{sftp.ErrSSHFxConnectionLost, syscall.EIO},
		{syscall.EEXIST, syscall.EEXIST},
	} {
		err := pathError("op", "name", tc.err)
		assert.Equal(t, tc.want, sdk.Errno(err), "%v", tc.err)
	}
	assert.True(t, isFailure(&fs.PathError{Err: &sftp.StatusError{Code: uint32(sftp.ErrSSHFxFailure)}}))
	assert.False(t, isFailure(fs.ErrNotExist))
	assert.Equal(t, sftp.ErrSSHFxConnectionLost, statusCode(sftp.ErrSSHFxConnectionLost))
}

func TestNewRefusesBadArguments(t *testing.T) {
	_, err := New(nil, "/")
	assert.ErrorContains(t, err, "client is nil")
	// The root is checked before the client is used.
	for _, root := range []string{"", "relative", "/a/../b", "/a/", "/a\x00"} {
		_, err := New(&sftp.Client{}, root)
		assert.ErrorContains(t, err, "must be an absolute, clean server path", "%q", root)
	}
}
