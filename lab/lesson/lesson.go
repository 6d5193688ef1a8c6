// Package lesson proves a workshop lesson against a cluster: it reads a
// lesson written in Markdown (fenced bash blocks each followed by a
// {{< output >}} block, or prompt transcripts such as
// `user:~/dir $ kubectl get pods` followed by what it printed), runs the
// commands in order in one bash process, and compares what each printed
// with what the lesson says it prints, after normalising what
// legitimately differs from one cluster to the next (ages, generated
// name suffixes, restart counts, timestamps, uids, IPs).
//
// Authors steer it with marks in HTML comments, which do not change how
// the page renders:
//
//	<!-- lab: ignore -->        run the next command, do not compare its output
//	<!-- lab: skip -->          do not run the next command
//	<!-- lab: contains -->      the output shows part of what the command prints
//	<!-- lab: timeout=60s -->   the next command's time limit
//	<!-- lab: verify=NAME -->   the lesson ends with lab NAME: prove it at the end
//
// The package never prints; Run returns a Result and reports progress
// through a callback, and Update rewrites output blocks in memory.
package lesson

import (
	"fmt"
	"time"
)

// Form is how a lesson shows a command.
type Form string

const (
	// Fenced is a ```bash block, its output in a {{< output >}} block.
	Fenced Form = "fenced"
	// Transcript is a prompt line (`$ cmd`) followed by its output lines.
	Transcript Form = "transcript"
)

// Lesson is a parsed lesson: its commands in order, and where each
// expected output sits in the source, so Update can rewrite just those
// bytes.
type Lesson struct {
	// Path is the file as named on the command line; messages use it.
	Path string
	// Src is the file's bytes, unchanged.
	Src   []byte
	Steps []*Step
	// Lab is the lab block the lesson ends with (verify=NAME), "" if none.
	Lab     string
	LabLine int
}

// Step is one command of the lesson and the output the lesson shows
// for it.
type Step struct {
	// Line is the 1-based line of the command (the fence or the prompt).
	Line    int
	Form    Form
	Command string
	// Expected is nil when the lesson shows no output for the command:
	// then the command must exit 0.
	Expected *Output
	Marks    Marks
}

// Output is an expected output block.
type Output struct {
	// Line is the 1-based line where the output starts.
	Line int
	// Start and End are the byte offsets of the output text in Src
	// (End excluded); for a transcript command that printed nothing they
	// are equal.
	Start, End int
	Text       string
	// Elided says the lesson left details out: a line of "..." in the
	// block, or prose between command and block saying so. YAML and JSON
	// are then matched as a subset.
	Elided bool
}

// Marks are an author's instructions for one step.
type Marks struct {
	Ignore   bool          `json:"ignore,omitempty"`
	Skip     bool          `json:"skip,omitempty"`
	Contains bool          `json:"contains,omitempty"`
	Timeout  time.Duration `json:"timeout,omitempty"`
}

// Problem is something in a lesson that stops lab from running it.
type Problem struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Message string `json:"message"`
}

func (p Problem) String() string {
	if p.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Message)
	}
	return fmt.Sprintf("%s: %s", p.File, p.Message)
}

// ParseError holds every problem Parse found, in line order.
type ParseError struct {
	Problems []Problem
}

func (e *ParseError) Error() string {
	s := ""
	for i, p := range e.Problems {
		if i > 0 {
			s += "\n"
		}
		s += p.String()
	}
	return s
}
