//go:build !linux || cgo

package sdk

import (
	"errors"
	"reflect"
)

// ErrDataLost is wrapped by an error that says data acknowledged to an
// application never reached the backend. A Syncer that buffers writes
// (sdk/writeback) returns it from SyncFS, so Server.Unmount and
// Server.Wait report it; errors.Is(err, ErrDataLost) is the test for
// "something was lost", whatever else went wrong.
// Its own message is the phrase such errors start with.
var ErrDataLost = errors.New("data lost")

// finalDrain composes the drain errors of an unmount: early is what the
// drain before the unmount returned, final what the drain in Destroy
// returned after it (ran says whether it did). A drain's error describes
// the state at its end, so the final drain's account of lost data
// supersedes the early one's (the data may have been written since, or
// its report would be repeated); anything else the early drain reported
// is kept, once.
func finalDrain(early, final error, ran bool) error {
	if !ran {
		return early
	}
	seen := make(map[string]bool)
	for _, e := range flatten(final) {
		seen[e.Error()] = true
	}
	var keep []error
	for _, e := range flatten(early) {
		if errors.Is(e, ErrDataLost) || seen[e.Error()] {
			continue
		}
		seen[e.Error()] = true
		keep = append(keep, e)
	}
	return errors.Join(append(keep, final)...)
}

// joinType is the type errors.Join returns.
var joinType = reflect.TypeOf(errors.Join(errors.ErrUnsupported))

// flatten lists the errors joined in err by errors.Join, recursively, or
// err alone. Other errors that wrap several (a list of lost files, say)
// stay whole.
func flatten(err error) []error {
	if err == nil {
		return nil
	}
	j, ok := err.(interface{ Unwrap() []error })
	if !ok || reflect.TypeOf(err) != joinType {
		return []error{err}
	}
	var out []error
	for _, e := range j.Unwrap() {
		out = append(out, flatten(e)...)
	}
	return out
}
