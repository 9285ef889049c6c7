package reconcile

import "testing"

// TestPlanWaiting: suspensions and a closed deploy window are constraints;
// the ops they hold are planned and shown, and none of them is applied.
func TestPlanWaiting(t *testing.T) {
	api := service("api", "app:1", "A=1")
	apiNew := service("api", "app:1", "A=2")
	db := service("db", "db:1")
	dbNew := service("db", "db:2")
	web := service("web", "app:1")
	webNew := service("web", "app:1", "W=2")
	cache := service("cache", "cache:1")
	ran := observed(running("web", api, 1, rev1), running("data", db, 1, rev1), running("front", web, 1, rev1))
	ran.Images["db:2"] = "sha256:db2"
	const (
		byAlice = "suspended (by alice at 2026-12-01T09:00:00Z)"
		bySrc   = "suspended (by moor suspend at 2026-12-01T08:00:00Z)"
		window  = "waiting for window (opens at 2026-12-01T22:00:00Z)"
	)

	tests := []struct {
		name string
		d    *Desired
		o    *Observed
		c    Constraints
		want string
	}{
		{
			name: "a suspended stack waits, the others are applied",
			d:    desired(stack("web", apiNew), stack("data", dbNew), stack("front", web)),
			o:    ran,
			c:    Constraints{Suspended: map[string]string{"data": byAlice}},
			want: `
replace web/api/1 (config changed: environment) [start-first, batch 1/1, rollback on failure]
hold replace data/db/1 (config changed: image) [start-first, batch 1/1, rollback on failure]: ` + byAlice,
		},
		{
			name: "a suspended stack that changes nothing holds nothing",
			d:    desired(stack("web", apiNew), stack("data", db), stack("front", web)),
			o:    ran,
			c:    Constraints{Suspended: map[string]string{"data": byAlice}},
			want: `replace web/api/1 (config changed: environment) [start-first, batch 1/1, rollback on failure]`,
		},
		{
			name: "the whole source suspended: every op waits, pulls and removals too",
			d:    desired(stack("web", apiNew, cache), stack("data", dbNew)),
			o:    ran,
			c:    Constraints{Suspended: map[string]string{"": bySrc}},
			want: `
hold pull cache:1 (not present, wanted by web/cache): ` + bySrc + `
hold replace data/db/1 (config changed: image) [start-first, batch 1/1, rollback on failure]: ` + bySrc + `
hold remove front/web/1 (stack removed from git): ` + bySrc + `
hold replace web/api/1 (config changed: environment) [start-first, batch 1/1, rollback on failure]: ` + bySrc + `
hold create web/cache/1 (missing): ` + bySrc + `
hold remove-network front/network/front_default (stack removed from git): ` + bySrc,
		},
		{
			name: "a stack that needs a suspended one waits for it",
			d:    desired(stack("data", dbNew), needing(stack("front", webNew), "data"), stack("web", apiNew)),
			o:    ran,
			c:    Constraints{Suspended: map[string]string{"data": byAlice}},
			want: `
replace web/api/1 (config changed: environment) [start-first, batch 1/1, rollback on failure]
hold replace data/db/1 (config changed: image) [start-first, batch 1/1, rollback on failure]: ` + byAlice + `
hold replace front/web/1 (config changed: environment) [start-first, batch 1/1, rollback on failure]: needs stack data, which is ` + byAlice,
		},
		{
			name: "a pull that an applied op wants is applied with it",
			d:    desired(stack("a", service("cache", "cache:1")), stack("b", service("cache", "cache:1"))),
			o:    &Observed{Images: map[string]string{}},
			c:    Constraints{Suspended: map[string]string{"a": byAlice}},
			want: `
create-network b/network/default (missing)
pull cache:1 (not present, wanted by a/cache)
create b/cache/1 (missing)
hold create-network a/network/default (missing): ` + byAlice + `
hold create a/cache/1 (missing): ` + byAlice,
		},
		{
			name: "a closed window holds every op",
			d:    desired(stack("web", apiNew), stack("data", db), stack("front", web)),
			o:    ran,
			c:    Constraints{Window: window},
			want: `hold replace web/api/1 (config changed: environment) [start-first, batch 1/1, rollback on failure]: ` + window,
		},
		{
			name: "a closed window with nothing to do is converged",
			d:    desired(stack("web", api), stack("data", db), stack("front", web)),
			o:    ran,
			c:    Constraints{Window: window},
			want: ``,
		},
		{
			name: "suspension says more than the window",
			d:    desired(stack("web", apiNew), stack("data", dbNew), stack("front", web)),
			o:    ran,
			c:    Constraints{Window: window, Suspended: map[string]string{"data": byAlice}},
			want: `
hold replace data/db/1 (config changed: image) [start-first, batch 1/1, rollback on failure]: ` + byAlice + `
hold replace web/api/1 (config changed: environment) [start-first, batch 1/1, rollback on failure]: ` + window,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := MakePlan(tt.d, tt.o, tt.c)
			assertPlan(t, p, tt.want)
			if (tt.want == "") != p.Converged() {
				t.Errorf("Converged() = %v for plan %q", p.Converged(), p.String())
			}
			for _, op := range p.Ops {
				for _, need := range op.Needs {
					for _, w := range p.Waiting {
						if w.Resource == need {
							t.Errorf("%s needs %s, which waits", op, need)
						}
					}
				}
			}
		})
	}
}
