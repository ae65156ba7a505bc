package bench

import (
	"bytes"
	"sync"
)

// Tail keeps the last bytes a process wrote, for error messages that quote
// what a daemon printed before it failed. It is safe for concurrent writes
// (a process's stdout and stderr share one), and the zero value keeps the
// last 4 KiB.
type Tail struct {
	Max int // bytes kept; 0 means 4 KiB

	mu  sync.Mutex
	buf []byte // guarded by mu; at most Max bytes between writes
}

func (t *Tail) Write(p []byte) (int, error) {
	max := t.Max
	if max <= 0 {
		max = 4 << 10
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if extra := len(t.buf) - max; extra > 0 {
		t.buf = append(t.buf[:0], t.buf[extra:]...)
	}
	return len(p), nil
}

// String returns the kept output without surrounding white space, or
// "(no output)".
func (t *Tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if s := bytes.TrimSpace(t.buf); len(s) > 0 {
		return string(s)
	}
	return "(no output)"
}
