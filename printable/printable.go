// Package printable makes text that comes from outside moor safe to print
// on a terminal or in a log line. A repository decides its commits' authors
// and subjects, its compose files' keys and values (which errors quote),
// and a Git server the names of its refs; any of them may hold an escape
// sequence that recolours, moves the cursor or retitles the terminal, or a
// line break that forges a line of moor's output or log.
//
// Escape is the one rule: every character that a terminal or a log line
// would act on instead of show is written as an escape. Stored data (the
// ledger, status files, JSON output) keeps the text as it is; it is escaped
// where it is printed.
package printable

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Escape returns s with what a terminal or a log line would act on written
// as escapes: the C0 controls as \n, \r, \t or \xNN (ESC is \x1b), DEL as
// \x7f, the C1 controls as \u0080 to \u009f, the Unicode line and paragraph
// separators and the bidirectional controls as \u2028 and the like, and
// bytes that are not UTF-8 as \xNN. Everything else, backslashes included,
// is left as it is, so escaping twice changes nothing more; a string with
// nothing to escape is returned as is.
func Escape(s string) string {
	i := 0
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		if needs(r, size) {
			break
		}
		i += size
	}
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	b.WriteString(s[:i])
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		if !needs(r, size) {
			b.WriteString(s[i : i+size])
			i += size
			continue
		}
		switch {
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == utf8.RuneError && size == 1, r < 0x80:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
		i += size
	}
	return b.String()
}

// needs reports whether the rune r, of size bytes, is to be escaped.
func needs(r rune, size int) bool {
	switch {
	case r == utf8.RuneError && size == 1: // not UTF-8
		return true
	case r < 0x20, r == 0x7f, 0x80 <= r && r <= 0x9f:
		return true
	case r == 0x2028, r == 0x2029: // line and paragraph separators
		return true
	case r == 0x061c, r == 0x200e, r == 0x200f, // bidirectional marks
		0x202a <= r && r <= 0x202e, 0x2066 <= r && r <= 0x2069: // embeddings, overrides, isolates
		return true
	}
	return false
}

// Lines is Escape for a text of several lines whose line breaks are moor's
// own (a stored list of errors, a plan): each line is escaped, and the
// '\n' between them kept, each followed by indent.
func Lines(s, indent string) string {
	if !strings.Contains(s, "\n") {
		return Escape(s)
	}
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = Escape(l)
	}
	return strings.Join(lines, "\n"+indent)
}

// Error returns err's message escaped, but for the line breaks that
// errors.Join put between the errors it joined: a line break inside the
// text of one error (a compose key, a commit subject) is escaped like any
// other control character, so that it cannot pass for a line of moor's.
// The structure is read from err's chain: a joined error's text is its
// errors' texts, one a line; a wrapping error's text ends in the text of
// the error it wraps. Error(nil) is "".
func Error(err error) string {
	if err == nil {
		return ""
	}
	text := err.Error()
	var wrapped []error
	switch u := err.(type) {
	case interface{ Unwrap() []error }:
		wrapped = u.Unwrap()
	case interface{ Unwrap() error }:
		wrapped = []error{u.Unwrap()}
	}
	if len(wrapped) > 1 && strings.Contains(text, "\n") {
		texts := make([]string, 0, len(wrapped))
		for _, w := range wrapped {
			if w != nil {
				texts = append(texts, w.Error())
			}
		}
		if text == strings.Join(texts, "\n") {
			parts := make([]string, 0, len(wrapped))
			for _, w := range wrapped {
				if w != nil {
					parts = append(parts, Error(w))
				}
			}
			return strings.Join(parts, "\n")
		}
	}
	// The wrapped error whose text is the longest tail of err's: what
	// comes before it is err's own.
	var tail error
	for _, w := range wrapped {
		if w == nil {
			continue
		}
		wt := w.Error()
		if wt != "" && strings.HasSuffix(text, wt) && (tail == nil || len(wt) > len(tail.Error())) {
			tail = w
		}
	}
	if tail == nil {
		return Escape(text)
	}
	return Escape(text[:len(text)-len(tail.Error())]) + Error(tail)
}
