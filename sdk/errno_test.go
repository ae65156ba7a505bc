package sdk

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
	"testing"

	"github.com/spf13/afero"
	"github.com/stretchr/testify/assert"
)

type quotaError struct{}

func (quotaError) Error() string        { return "over quota" }
func (quotaError) Errno() syscall.Errno { return syscall.EDQUOT }

func TestErrno(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want syscall.Errno
	}{
		{"nil", nil, 0},
		{"raw errno", syscall.ENOTDIR, syscall.ENOTDIR},
		{"path error keeps the precise errno", &fs.PathError{Op: "open", Path: "a", Err: syscall.ENOTDIR}, syscall.ENOTDIR},
		{"wrapped errno", fmt.Errorf("backend: %w", syscall.EXDEV), syscall.EXDEV},
		{"Errno method", fmt.Errorf("put: %w", quotaError{}), syscall.EDQUOT},
		{"fs.ErrNotExist", fs.ErrNotExist, syscall.ENOENT},
		{"os.ErrNotExist wrapped", fmt.Errorf("x: %w", os.ErrNotExist), syscall.ENOENT},
		{"fs.ErrExist", fs.ErrExist, syscall.EEXIST},
		{"fs.ErrPermission", fs.ErrPermission, syscall.EACCES},
		{"fs.ErrInvalid", fs.ErrInvalid, syscall.EINVAL},
		{"fs.ErrClosed", fs.ErrClosed, syscall.EBADF},
		{"afero closed", afero.ErrFileClosed, syscall.EBADF},
		{"afero not found", afero.ErrFileNotFound, syscall.ENOENT},
		{"afero exists", afero.ErrFileExists, syscall.EEXIST},
		{"afero out of range", afero.ErrOutOfRange, syscall.EINVAL},
		{"afero too large", afero.ErrTooLarge, syscall.EFBIG},
		{"afero no symlink", &os.LinkError{Op: "symlink", Err: afero.ErrNoSymlink}, syscall.EOPNOTSUPP},
		{"unsupported", errors.ErrUnsupported, syscall.EOPNOTSUPP},
		{"deadline", context.DeadlineExceeded, syscall.ETIMEDOUT},
		{"canceled", context.Canceled, syscall.EINTR},
		{"ENOSYS is never passed on", syscall.ENOSYS, syscall.EOPNOTSUPP},
		{"zero errno is still an error", syscall.Errno(0), syscall.EIO},
		{"unknown error is EIO", errors.New("boom"), syscall.EIO},
		{"sentinel ErrNoAttr", ErrNoAttr, syscall.ENODATA},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			assert.Equal(t, c.want, Errno(c.err))
		})
	}
}

func TestCallerContext(t *testing.T) {
	_, ok := CallerFromContext(context.Background())
	assert.False(t, ok)
	ctx := WithCaller(context.Background(), Caller{Uid: 1000, Gid: 100, Pid: 42})
	c, ok := CallerFromContext(ctx)
	assert.True(t, ok)
	assert.Equal(t, Caller{Uid: 1000, Gid: 100, Pid: 42}, c)
}
