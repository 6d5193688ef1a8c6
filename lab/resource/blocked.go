package resource

import "strings"

// Blocked is what keeps a wait from finishing: the object waited for and
// why it is not ready, for progress reports and errors.
type Blocked struct {
	// Object is what was waited for, like "Deployment dev/fleet".
	Object string `json:"object"`
	// Reason is a short code, like "FailedScheduling".
	Reason string `json:"reason"`
	// Summary says how far the object got, like "0 of 2 pods scheduled".
	Summary string `json:"summary,omitempty"`
	// Message is the scheduler's, kubelet's or controller's own words.
	Message string `json:"message,omitempty"`
	// Hint is one line on what to do.
	Hint string `json:"hint,omitempty"`
	// Group is a phrase that failures with the same cause share, like
	// "pods could not be scheduled (Insufficient cpu)".
	Group string `json:"group,omitempty"`
}

// String is the reason as one line: object, summary, message, hint.
func (b Blocked) String() string {
	var s strings.Builder
	s.WriteString(b.Object)
	for _, part := range []string{b.Summary, b.Message} {
		if part != "" {
			s.WriteString(": ")
			s.WriteString(part)
		}
	}
	if b.Hint != "" {
		s.WriteString(" — ")
		s.WriteString(b.Hint)
	}
	return s.String()
}

// BlockedError is a wait that ended, unfinished, while Blocked held; its
// message is Err's, which names the reason.
type BlockedError struct {
	Blocked Blocked
	Err     error
}

func (e *BlockedError) Error() string { return e.Err.Error() }
func (e *BlockedError) Unwrap() error { return e.Err }
