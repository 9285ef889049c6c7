package config

import (
	"errors"
	"fmt"
	"strings"
)

// Error is one problem in a config, at a place in its file when it came
// from one: "moor.yaml:12: sources[1].name: duplicate name ...".
type Error struct {
	File  string // "" when the Config was built in code
	Line  int    // 0 when unknown
	Field string // "sources[1].name"; "" for the file as a whole
	Msg   string
	Err   error // the cause, if any (a duration or cron parse error)
}

func (e *Error) Error() string {
	var b strings.Builder
	switch {
	case e.File != "" && e.Line > 0:
		fmt.Fprintf(&b, "%s:%d: ", e.File, e.Line)
	case e.File != "":
		fmt.Fprintf(&b, "%s: ", e.File)
	case e.Line > 0:
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Msg)
	if e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// validator collects the problems of a config, placing each at the line of
// its field when the config came from a file.
type validator struct {
	file string
	pos  map[string]int // field -> line; nil for a Config built in code
	errs []error
}

// line finds the line of field, or of the nearest enclosing field that the
// file has (a missing repo is reported at its source's line).
func (v *validator) line(field string) int {
	for f := field; f != ""; {
		if l, ok := v.pos[f]; ok {
			return l
		}
		i := strings.LastIndexAny(f, ".[")
		if i < 0 {
			break
		}
		f = f[:i]
	}
	return 0
}

// where names field for a message: "sources[0], line 4".
func (v *validator) where(field string) string {
	if l := v.line(field); l > 0 {
		return fmt.Sprintf("%s, line %d", field, l)
	}
	return field
}

func (v *validator) add(field, msg string) {
	v.errs = append(v.errs, &Error{File: v.file, Line: v.line(field), Field: field, Msg: msg})
}

func (v *validator) err() error { return errors.Join(v.errs...) }

// suggest returns the known key closest to key if it is a likely typo.
func suggest(key string, known []string) string {
	best, bestDist := "", 3 // at most two edits away
	for _, k := range known {
		if d := editDistance(key, k); d < bestDist {
			best, bestDist = k, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
