package compose

import (
	"testing"

	"go.yaml.in/yaml/v4"
)

// FuzzDropVersion: commenting out the version never changes what else the
// file says, and reading a file as written never panics.
func FuzzDropVersion(f *testing.F) {
	for _, s := range []string{
		"version: '3.8'\nservices:\n  a:\n    image: x\n    ports: [\"80:80\", {target: 1}]\n",
		"version: \"3\n  .8\"\nservices: {}\n",
		"services: {}\nversion: 3 # x\n",
		"---\nversion: 3\n",
		"x: &a [1]\nversion: *a\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 4096 {
			return
		}
		if _, err := scanYAML(data, 20); err != nil {
			return // refused before anything reads it
		}
		scanWritten(data)
		out, ok := dropVersion(data)
		if !ok {
			return
		}
		var before, after map[string]any
		errBefore, errAfter := yaml.Unmarshal(data, &before), yaml.Unmarshal(out, &after)
		if (errBefore != nil) != (errAfter != nil) {
			t.Fatalf("%q -> %q: parse error %v, then %v", data, out, errBefore, errAfter)
		}
		if errBefore != nil {
			return
		}
		delete(before, "version")
		if len(before) != len(after) {
			t.Fatalf("%q -> %q: %d keys, want %d", data, out, len(after), len(before))
		}
	})
}
