package blocker

import "time"

// StallAfter is how long one reason may hold, with nothing progressing,
// before a wait says so prominently.
const StallAfter = 30 * time.Second

// Stall tells a wait when the reason it shows has held for After with
// no progress: the moment to say so, once for each reason.
type Stall struct {
	After time.Duration // StallAfter when 0

	key      string
	progress int
	since    time.Time
	said     map[string]bool
}

// Observe records the reason shown now (its Key, "" for none) and how
// far the wait got (a count that grows as things become ready). It
// reports true the one time a reason has held for After without
// progress.
func (s *Stall) Observe(now time.Time, key string, progress int) bool {
	after := s.After
	if after == 0 {
		after = StallAfter
	}
	if key != s.key || progress != s.progress || s.since.IsZero() {
		s.key, s.progress, s.since = key, progress, now
		return false
	}
	if key == "" || s.said[key] || now.Sub(s.since) < after {
		return false
	}
	if s.said == nil {
		s.said = map[string]bool{}
	}
	s.said[key] = true
	return true
}
