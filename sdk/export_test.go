package sdk

import "time"

// SetReleaseGrace shortens how long s.Unmount waits for the libfuse loop
// after its deadline, for tests of a request that never returns; the real
// bound (releaseGrace) would make each such test take a minute.
func SetReleaseGrace(s *Server, d time.Duration) { s.grace = d }
