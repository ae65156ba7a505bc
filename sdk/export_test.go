package sdk

import "time"

// SetReleaseGrace shortens how long s.Unmount waits for the libfuse loop
// after its deadline, for tests of a request that never returns; the real
// bound (releaseGrace) would make each such test take a minute.
func SetReleaseGrace(s *Server, d time.Duration) { s.grace = d }

// WithoutFusermountWatcher leaves libfuse's auto_unmount option out but
// keeps the SDK's watchdog, so that a test sees what the watchdog alone
// does.
func WithoutFusermountWatcher(o *Options) { o.noFusermountWatcher = true }
