package compose

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func stackFile(xmoor string) string {
	return xmoor + `
services:
  app:
    image: app:1
`
}

func TestStackNeedsLoad(t *testing.T) {
	st, _ := mustLoadWeb(t, map[string]string{"web/compose.yaml": stackFile("x-moor:\n  depends_on: [proxy, db]\n")}, Options{})
	if diff := cmp.Diff([]string{"db", "proxy"}, st.DependsOn); diff != "" {
		t.Errorf("DependsOn (-want +got):\n%s", diff)
	}
	st, _ = mustLoadWeb(t, map[string]string{"web/compose.yaml": stackFile("")}, Options{})
	if st.DependsOn != nil {
		t.Errorf("DependsOn without x-moor: %v", st.DependsOn)
	}
}

func TestStackNeedsRefused(t *testing.T) {
	for _, tt := range []struct{ name, xmoor, want string }{
		{"not a mapping", "x-moor: [db]", `stack web (web/compose.yaml): x-moor: must be a mapping (depends_on: [STACK, ...]), not a list`},
		{"unknown key", "x-moor:\n  needs: [db]", `stack web (web/compose.yaml): x-moor: unknown key "needs": moor knows canary, depends_on, host_labels, hosts`},
		{"a string", "x-moor:\n  depends_on: db", `stack web (web/compose.yaml): x-moor.depends_on: must be a list of stack names, not a string`},
		{"a mapping", "x-moor:\n  depends_on: {db: {condition: service_healthy}}", `stack web (web/compose.yaml): x-moor.depends_on: must be a list of stack names, not a mapping`},
		{"a number in it", "x-moor:\n  depends_on: [db, 3]", `stack web (web/compose.yaml): x-moor.depends_on[1]: must be a stack name, not a number`},
		{"a path", "x-moor:\n  depends_on: [../db]", `stack web (web/compose.yaml): x-moor.depends_on[0] "../db": not a stack name (the name of a stack's directory)`},
		{"twice", "x-moor:\n  depends_on: [db, db]", `stack web (web/compose.yaml): x-moor.depends_on[1] "db": listed twice`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := loadWeb(t, map[string]string{"web/compose.yaml": stackFile(tt.xmoor)}, Options{})
			if err == nil || err.Error() != tt.want {
				t.Errorf("error:\n got %v\nwant %s", err, tt.want)
			}
		})
	}
}

// loadAll loads a repository of stacks, each given by its x-moor block,
// and returns the loaded stacks' names and the broken ones' errors.
func loadAll(t *testing.T, stacks map[string]string) ([]string, map[string]string) {
	t.Helper()
	root := t.TempDir()
	files := map[string]string{}
	for name, xmoor := range stacks {
		files[name+"/compose.yaml"] = stackFile(xmoor)
	}
	writeTree(t, root, files)
	d, err := Load(t.Context(), root, Options{})
	if err != nil {
		t.Fatal(err)
	}
	broken := map[string]string{}
	for name, err := range d.Broken {
		broken[name] = err.Error()
	}
	return slices.Sorted(maps.Keys(d.Stacks)), broken
}

func needs(names ...string) string {
	return "x-moor:\n  depends_on: [" + strings.Join(names, ", ") + "]\n"
}

func TestCheckOrder(t *testing.T) {
	for _, tt := range []struct {
		name       string
		stacks     map[string]string
		wantLoaded []string
		wantBroken map[string]string
	}{
		{
			name:       "a chain loads",
			stacks:     map[string]string{"a": "", "b": needs("a"), "c": needs("b", "a")},
			wantLoaded: []string{"a", "b", "c"},
			wantBroken: map[string]string{},
		},
		{
			name:       "a cycle is refused, named from each of its stacks; who needs it is held back",
			stacks:     map[string]string{"a": needs("b"), "b": needs("a"), "c": needs("a"), "d": ""},
			wantLoaded: []string{"d"},
			wantBroken: map[string]string{
				"a": "stack a (a/compose.yaml): x-moor.depends_on: cycle a -> b -> a",
				"b": "stack b (b/compose.yaml): x-moor.depends_on: cycle b -> a -> b",
				"c": "stack c (c/compose.yaml): x-moor.depends_on: needs stack a, which is broken: it is left as it runs until a loads",
			},
		},
		{
			name:       "a stack that needs itself",
			stacks:     map[string]string{"a": needs("a")},
			wantLoaded: nil,
			wantBroken: map[string]string{"a": "stack a (a/compose.yaml): x-moor.depends_on: cycle a -> a"},
		},
		{
			name:       "the shortest cycle is named",
			stacks:     map[string]string{"a": needs("b", "c"), "b": needs("c"), "c": needs("a")},
			wantLoaded: nil,
			wantBroken: map[string]string{
				"a": "stack a (a/compose.yaml): x-moor.depends_on: cycle a -> c -> a",
				"b": "stack b (b/compose.yaml): x-moor.depends_on: cycle b -> c -> a -> b",
				"c": "stack c (c/compose.yaml): x-moor.depends_on: cycle c -> a -> c",
			},
		},
		{
			name:       "a missing stack holds back its dependents, and theirs",
			stacks:     map[string]string{"b": needs("db"), "c": needs("b"), "d": ""},
			wantLoaded: []string{"d"},
			wantBroken: map[string]string{
				"b": "stack b (b/compose.yaml): x-moor.depends_on: needs stack db, which is not in the revision: it is left as it runs",
				"c": "stack c (c/compose.yaml): x-moor.depends_on: needs stack b, which is broken: it is left as it runs until b loads",
			},
		},
		{
			name:       "a broken stack holds back its dependents",
			stacks:     map[string]string{"db": "x-moor: 1\n", "web": needs("db")},
			wantLoaded: nil,
			wantBroken: map[string]string{
				"db":  "stack db (db/compose.yaml): x-moor: must be a mapping (depends_on: [STACK, ...]), not a number",
				"web": "stack web (web/compose.yaml): x-moor.depends_on: needs stack db, which is broken: it is left as it runs until db loads",
			},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			loaded, broken := loadAll(t, tt.stacks)
			if diff := cmp.Diff(tt.wantLoaded, loaded); diff != "" {
				t.Errorf("loaded (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantBroken, broken); diff != "" {
				t.Errorf("broken (-want +got):\n%s", diff)
			}
		})
	}
}
