package exerciser

import (
	"errors"
	"syscall"
)

// memFile is an in-memory FileTarget for tests. Its hooks plant bugs.
type memFile struct {
	data []byte
	// ignoreTruncate, if set, says which truncates the "filesystem" drops.
	ignoreTruncate func(oldSize, newSize int64) bool
	// dropWrite, if set, says which writes are acknowledged but lost.
	dropWrite func(off int64, n int) bool
}

func (m *memFile) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(m.data)) {
		return 0, nil
	}
	return copy(p, m.data[off:]), nil
}

func (m *memFile) WriteAt(p []byte, off int64) (int, error) {
	if m.dropWrite != nil && m.dropWrite(off, len(p)) {
		return len(p), nil
	}
	if end := off + int64(len(p)); end > int64(len(m.data)) {
		m.data = append(m.data, make([]byte, end-int64(len(m.data)))...)
	}
	return copy(m.data[off:], p), nil
}

func (m *memFile) Truncate(size int64) error {
	if m.ignoreTruncate != nil && m.ignoreTruncate(int64(len(m.data)), size) {
		return nil
	}
	if size <= int64(len(m.data)) {
		m.data = m.data[:size]
		return nil
	}
	m.data = append(m.data, make([]byte, size-int64(len(m.data)))...)
	return nil
}

func (m *memFile) Size() (int64, error) { return int64(len(m.data)), nil }
func (m *memFile) Sync() error          { return nil }
func (m *memFile) Reopen() error        { return nil }
func (m *memFile) Close() error         { return nil }

func (m *memFile) MapRead(p []byte, off int64) error {
	if off+int64(len(p)) > int64(len(m.data)) {
		return syscall.EFAULT
	}
	copy(p, m.data[off:])
	return nil
}

func (m *memFile) MapWrite(p []byte, off int64) error {
	if off+int64(len(p)) > int64(len(m.data)) {
		return syscall.EFAULT
	}
	_, err := m.WriteAt(p, off)
	return err
}

func (m *memFile) DirectReadAt(p []byte, off int64) (int, error) {
	if off%DirectAlign != 0 || len(p)%DirectAlign != 0 {
		return 0, syscall.EINVAL
	}
	return m.ReadAt(p, off)
}

func (m *memFile) DirectWriteAt(p []byte, off int64) (int, error) {
	if off%DirectAlign != 0 || len(p)%DirectAlign != 0 {
		return 0, syscall.EINVAL
	}
	return m.WriteAt(p, off)
}

// memFiles returns a factory of memFiles configured by setup.
func memFiles(setup func(*memFile)) FileFactory {
	return func() (FileTarget, error) {
		m := &memFile{}
		if setup != nil {
			setup(m)
		}
		return m, nil
	}
}

// buggyTree wraps a NamespaceTarget and plants a bug in Unlink.
type buggyTree struct {
	NamespaceTarget
	ignoreUnlink func(name string) bool
}

func (b buggyTree) Unlink(name string) error {
	if b.ignoreUnlink(name) {
		return nil
	}
	return b.NamespaceTarget.Unlink(name)
}

var errSetup = errors.New("setup failed")
