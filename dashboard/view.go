package dashboard

import (
	"fmt"
	"strings"
	"time"
)

// shortRev turns "main@sha1:<40 hex>" into "main@abcdef1".
func shortRev(rev string) string {
	ref, sha, ok := strings.Cut(rev, "@sha1:")
	if !ok || len(sha) < 7 {
		return rev
	}
	return ref + "@" + sha[:7]
}

// ago is how long before now t was, to the second; "never" for no time.
func ago(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return now.Sub(t).Round(time.Second).String() + " ago"
}

// sourceData is what the template of one source sees: the page and it.
type sourceData struct {
	Page   view
	Source SourceView
}

// revLink is a revision and the link of its commit, if any.
type revLink struct{ Rev, URL string }

// anchor is an element id made of names, the same for the same names
// however they are split ("web/app" or "web", "app"): a character other
// than a letter, digit, '-' or '.' is written as "_" and its hex code,
// and names are joined by "_".
func anchor(kind string, names ...string) string {
	var b strings.Builder
	b.WriteString(kind)
	for _, n := range strings.Split(strings.Join(names, "/"), "/") {
		b.WriteByte('_')
		for _, c := range []byte(n) {
			switch {
			case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '.':
				b.WriteByte(c)
			default:
				fmt.Fprintf(&b, "_%02x", c)
			}
		}
	}
	return b.String()
}
