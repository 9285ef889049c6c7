package reconcile

import (
	"strconv"
	"strings"
)

// What a container prints, and what its health check prints, may hold
// secrets: an app that dumps its configuration when it fails to start, a
// check that echoes a connection string. Errors quote such output behind a
// fixed label, as a Go string literal, so that it can be told apart from
// the rest of the message: the ledger, the log and `moor status` on the
// host keep it, and WithholdOutput takes it out of copies shown to others.
var outputLabels = []string{"last output: ", "health check said: ", "hook said: "}

// Withheld is what WithholdOutput puts in the place of output.
const Withheld = "(withheld)"

// quoteOutput is label (one of outputLabels) and s, on one line, cut to
// its last max bytes and quoted.
func quoteOutput(label, s string, max int) string {
	return label + strconv.Quote(oneLine(s, max))
}

// WithholdOutput returns msg with every container or health check output
// that an error quoted replaced by Withheld. Where a label is not followed
// by a quoted string, the rest of msg is withheld.
func WithholdOutput(msg string) string {
	var b strings.Builder
	for {
		i, label := -1, ""
		for _, l := range outputLabels {
			if j := strings.Index(msg, l); j >= 0 && (i < 0 || j < i) {
				i, label = j, l
			}
		}
		if i < 0 {
			b.WriteString(msg)
			return b.String()
		}
		b.WriteString(msg[:i+len(label)])
		b.WriteString(Withheld)
		q, err := strconv.QuotedPrefix(msg[i+len(label):])
		if err != nil {
			return b.String()
		}
		msg = msg[i+len(label)+len(q):]
	}
}
