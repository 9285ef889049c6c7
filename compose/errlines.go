package compose

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// stackError is every problem of one stack, one a line, each line
// starting with the stack (and its file): a reader of any one line knows
// which stack, service and field it is about. Its structure is that of
// errors.Join (printable.Error keeps its line breaks), and errors.Is
// finds ErrUnsupported and the other marks in any of its lines.
type stackError struct {
	prefix string
	lines  []error
}

// bound keeps the first lines of e that fit in max bytes and ends with
// one that says how many more problems there are: a stack with a hundred
// problems is reported line by line, not cut in the middle of one.
func (e *stackError) bound(max int) *stackError {
	const room = 64 // for the last line
	n := 0
	for i, l := range e.lines {
		n += len(l.Error()) + 1
		if n > max-room && i > 0 {
			more := fmt.Errorf("… and %d more problems", len(e.lines)-i)
			return &stackError{prefix: e.prefix, lines: append(e.lines[:i:i], &lineError{prefix: e.prefix, err: more})}
		}
	}
	return e
}

func newStackError(sd StackDir, prefix string, err error) *stackError {
	e := &stackError{prefix: prefix}
	for _, l := range problemLines(err) {
		e.lines = append(e.lines, &lineError{prefix: prefix + l.prefix, err: repoPaths(sd, l.err)})
	}
	return e
}

func (e *stackError) Error() string {
	texts := make([]string, len(e.lines))
	for i, l := range e.lines {
		texts[i] = l.Error()
	}
	return strings.Join(texts, "\n")
}

func (e *stackError) Unwrap() []error { return e.lines }

// lineError is one problem: err with the prefixes of the errors that
// wrapped it ("service api: ").
type lineError struct {
	prefix string
	err    error
}

func (e *lineError) Error() string { return e.prefix + e.err.Error() }
func (e *lineError) Unwrap() error { return e.err }

// problemLines splits err into its problems. An error that wraps a list
// of problems with a prefix ("service api: " around the problems of the
// service's mounts) gives its prefix to each of them, not to the first
// only.
func problemLines(err error) []lineError {
	if err == nil {
		return nil
	}
	text := err.Error()
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var parts []string
		var lines []lineError
		for _, e := range j.Unwrap() {
			if e != nil {
				parts = append(parts, e.Error())
				lines = append(lines, problemLines(e)...)
			}
		}
		if strings.Join(parts, "\n") == text { // errors.Join, not fmt's %w %w
			return lines
		}
	} else if inner := errors.Unwrap(err); inner != nil {
		in := inner.Error()
		if strings.Contains(in, "\n") && strings.HasSuffix(text, in) {
			prefix := text[:len(text)-len(in)]
			lines := problemLines(inner)
			for i := range lines {
				lines[i].prefix = prefix + lines[i].prefix
			}
			return lines
		}
	}
	return []lineError{{err: err}}
}

// repoPaths is err with the paths of the repository that compose-go puts
// in its messages ("validating /var/lib/moor/snapshots/…/web/compose.yaml")
// written relative to the repository, as moor's own messages write them.
func repoPaths(sd StackDir, err error) error {
	if err == nil || sd.Root == "" {
		return err
	}
	root := filepath.Clean(sd.Root) + string(filepath.Separator)
	text := err.Error()
	if !strings.Contains(text, root) {
		return err
	}
	return &relError{err: err, text: strings.ReplaceAll(text, root, "")}
}

type relError struct {
	err  error
	text string
}

func (e *relError) Error() string { return e.text }
func (e *relError) Unwrap() error { return e.err }
