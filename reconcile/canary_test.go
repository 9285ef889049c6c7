package reconcile

import "testing"

// TestPlanCanary: a stack whose change waits for its canary hosts is held
// as a suspended one is, with the canary's reason; the stacks that need it
// wait for it, and the others are applied.
func TestPlanCanary(t *testing.T) {
	api := service("api", "app:1", "A=1")
	apiNew := service("api", "app:1", "A=2")
	web := service("web", "app:1")
	webNew := service("web", "app:1", "W=2")
	ran := observed(running("web", api, 1, rev1), running("front", web, 1, rev1), running("other", service("x", "app:1"), 1, rev1))
	const why = "waiting for canary edge-1 at 1a2b3c4 (edge-1 is at 9f8e7d6, applying)"
	const failed = "waiting for canary edge-1 at 1a2b3c4: edge-1 failed at it (service web/api: health check failed); held until a new commit"

	for _, tt := range []struct {
		name string
		d    *Desired
		c    Constraints
		want string
	}{
		{
			name: "the held stack waits, the others are applied",
			d:    desired(stack("web", apiNew), stack("front", webNew), stack("other", service("x", "app:1"))),
			c:    Constraints{Canary: map[string]string{"web": why}},
			want: `
replace front/web/1 (config changed: environment) [start-first, batch 1/1, rollback on failure]
hold replace web/api/1 (config changed: environment) [start-first, batch 1/1, rollback on failure]: ` + why,
		},
		{
			name: "a stack that needs a held one waits for it",
			d:    desired(stack("web", apiNew), needing(stack("front", webNew), "web"), stack("other", service("x", "app:1"))),
			c:    Constraints{Canary: map[string]string{"web": failed}},
			want: `
hold replace web/api/1 (config changed: environment) [start-first, batch 1/1, rollback on failure]: ` + failed + `
hold replace front/web/1 (config changed: environment) [start-first, batch 1/1, rollback on failure]: needs stack web, which is ` + failed,
		},
		{
			name: "a suspension says more than the canary",
			d:    desired(stack("web", apiNew), stack("front", web), stack("other", service("x", "app:1"))),
			c:    Constraints{Canary: map[string]string{"web": why}, Suspended: map[string]string{"web": "suspended (by alice at 2026-12-01T09:00:00Z)"}},
			want: `hold replace web/api/1 (config changed: environment) [start-first, batch 1/1, rollback on failure]: suspended (by alice at 2026-12-01T09:00:00Z)`,
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := MakePlan(tt.d, ran, tt.c)
			assertPlan(t, p, tt.want)
			if p.Converged() {
				t.Errorf("a plan with held ops is converged: %q", p.String())
			}
		})
	}
}
