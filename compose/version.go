package compose

import (
	"bytes"

	"go.yaml.in/yaml/v4"
)

// versionWarning is the stack's warning for a top-level version.
const versionWarning = `the top-level "version" is obsolete and ignored: remove it`

// dropVersion comments out the top-level `version: "3.8"` line of a
// compose file, so that compose-go does not log that it is obsolete
// through its global logger, which names no stack (and remembers every
// file it has warned about for the life of the process); the stack gets
// versionWarning instead. Line numbers stay as they are. A version written
// any other way (a multi-line value, a flow mapping) is left to compose-go.
func dropVersion(data []byte) ([]byte, bool) {
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil {
		return data, false
	}
	root := mapping(&doc)
	if root == nil || root != doc.Content[0] {
		return data, false // an alias or an odd document: leave it
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if k.Value != "version" || k.Kind != yaml.ScalarNode || k.Column != 1 || v.Kind != yaml.ScalarNode || v.Line != k.Line {
			continue
		}
		if v.Style&(yaml.LiteralStyle|yaml.FoldedStyle|yaml.TaggedStyle) != 0 || k.Style&yaml.TaggedStyle != 0 || v.Anchor != "" || bytes.Contains([]byte(v.Value), []byte("\n")) {
			return data, false
		}
		start := lineStart(data, k.Line)
		if start < 0 {
			return data, false
		}
		out := make([]byte, 0, len(data)+1)
		out = append(out, data[:start]...)
		out = append(out, '#')
		out = append(out, data[start:]...)
		// The value may go on on the next lines ("3
		//   .8"): then the file is no longer the same, less its version.
		var check yaml.Node
		if yaml.Unmarshal(out, &check) != nil || mapping(&check) == nil || len(mapping(&check).Content) != len(root.Content)-2 {
			return data, false
		}
		return out, true
	}
	return data, false
}

// lineStart is the offset of line n (1-based) in data, -1 past its end.
func lineStart(data []byte, n int) int {
	off := 0
	for line := 1; line < n; line++ {
		i := bytes.IndexByte(data[off:], '\n')
		if i < 0 {
			return -1
		}
		off += i + 1
	}
	return off
}
