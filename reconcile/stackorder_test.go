package reconcile

import (
	"testing"
)

// needing is st with x-moor.depends_on set to needs.
func needing(st *Stack, needs ...string) *Stack {
	st.DependsOn = needs
	return st
}

func TestPlanStackOrder(t *testing.T) {
	db := service("db", "db:1")
	db.Spec.Healthcheck = &Healthcheck{Test: []string{"CMD", "true"}}
	db.Hash = db.Spec.Hash()
	api := service("api", "app:1")
	apiNew := service("api", "app:1", "A=2")
	web := service("web", "app:1")
	webNew := service("web", "app:1", "W=2")
	other := service("other", "app:1")
	images := map[string]string{"app:1": "sha256:app", "db:1": "sha256:db"}

	tests := []struct {
		name string
		d    *Desired
		o    *Observed
		c    Constraints
		want string
	}{
		{
			name: "first deploy: each stack after those it needs, the unrelated one at once",
			d:    desired(stack("a", db), needing(stack("b", api), "a"), needing(stack("c", web), "b"), stack("x", other)),
			o:    &Observed{Images: images},
			want: `
create-network a/network/default (missing)
create-network b/network/default (missing)
create-network c/network/default (missing)
create-network x/network/default (missing)
create a/db/1 (missing)
create x/other/1 (missing)
create b/api/1 (missing) after stack a
create c/web/1 (missing) after stacks a, b`,
		},
		{
			name: "the waits, step by step: healthy where there is a healthcheck",
			d:    desired(stack("a", db), needing(stack("b", api), "a")),
			o:    &Observed{Images: images},
			want: `
create-network a/network/default (missing)
    1 create-network a_default
create-network b/network/default (missing)
    1 create-network b_default
create a/db/1 (missing)
    after a/network/default
    1 create a-db-1
    2 start a-db-1
    3 wait a-db-1 ready (healthy)
create b/api/1 (missing) after stack a
    after b/network/default
    after stack a: db is healthy
    1 create b-api-1
    2 start b-api-1
    3 wait b-api-1 ready (running)`,
		},
		{
			name: "a needed stack that does not change is not waited for",
			d:    desired(stack("a", db), needing(stack("b", apiNew), "a")),
			o:    observed(running("a", db, 1, rev1), running("b", api, 1, rev1)),
			want: `replace b/api/1 (config changed: environment) [start-first, batch 1/1, rollback on failure]`,
		},
		{
			name: "what a stack needs through another is waited for too",
			d:    desired(stack("a", db), needing(stack("b", api), "a"), needing(stack("c", webNew), "b")),
			o: func() *Observed {
				o := observed(running("b", api, 1, rev1), running("c", web, 1, rev1))
				o.Images["db:1"] = "sha256:db"
				return o
			}(),
			want: `
create-network a/network/default (missing)
create a/db/1 (missing)
replace c/web/1 (config changed: environment) after stack a [start-first, batch 1/1, rollback on failure]`,
		},
		{
			name: "stacks removed from git: dependents first",
			d:    desired(stack("x", other)),
			o: observed(running("a", db, 1, rev1), running("b", api, 1, rev1), running("c", web, 1, rev1),
				running("x", other, 1, rev1)),
			c: Constraints{StackNeeds: map[string][]string{"b": {"a"}, "c": {"b"}}},
			want: `
remove c/web/1 (stack removed from git)
remove b/api/1 (stack removed from git) after stack c
remove a/db/1 (stack removed from git) after stacks b, c
remove-network a/network/a_default (stack removed from git)
remove-network b/network/b_default (stack removed from git)
remove-network c/network/c_default (stack removed from git)`,
		},
		{
			name: "a stack removed from git that a remaining one needed is removed at once",
			d:    desired(stack("x", other)),
			o:    observed(running("a", db, 1, rev1), running("x", other, 1, rev1)),
			c:    Constraints{StackNeeds: map[string][]string{"x": {"a"}}},
			want: `
remove a/db/1 (stack removed from git)
remove-network a/network/a_default (stack removed from git)`,
		},
		{
			name: "a needed stack held back holds its dependents, and theirs",
			d:    desired(stack("a", service("db", "db:2")), needing(stack("b", apiNew), "a"), needing(stack("c", service("web", "web:2")), "b"), stack("x", other)),
			o:    observed(running("a", db, 1, rev1), running("b", api, 1, rev1), running("c", web, 1, rev1)),
			c:    Constraints{Held: map[string]string{"a/db": "rollout failed"}},
			want: `
create-network x/network/default (missing)
create x/other/1 (missing)
held a/db (rollout failed)
held b/api (needs stack a, whose a/db is held)
held c/web (needs stack a, whose a/db is held)`,
		},
		{
			name: "a converged dependent of a held stack is left as it is",
			d:    desired(stack("a", service("db", "db:2")), needing(stack("b", api), "a")),
			o:    observed(running("a", db, 1, rev1), running("b", api, 1, rev1)),
			c:    Constraints{Held: map[string]string{"a/db": "rollout failed"}},
			want: `held a/db (rollout failed)`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { assertPlan(t, MakePlan(tt.d, tt.o, tt.c), tt.want) })
	}
}

// TestPlanStackOrderWithoutCycles: a cycle the loader would refuse still
// makes a plan whose waits cannot go round it.
func TestPlanStackOrderWithoutCycles(t *testing.T) {
	d := desired(needing(stack("a", service("db", "db:1")), "b"), needing(stack("b", service("api", "app:1")), "a"))
	p := MakePlan(d, &Observed{Images: map[string]string{"app:1": "x", "db:1": "y"}}, Constraints{})
	waits := map[string][]string{}
	for _, op := range p.Ops {
		for _, w := range op.Waits {
			waits[op.Stack] = append(waits[op.Stack], w.Stack)
		}
	}
	if len(waits["a"]) > 0 && len(waits["b"]) > 0 {
		t.Errorf("a and b wait for each other:\n%s", p.Detail())
	}
}
