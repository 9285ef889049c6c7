package controller_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/moor-dev/moor/config"
)

// TestPlanIsWhatApplyRuns: for every scenario, what `moor plan` prints is
// the plan `moor apply` then carries out, op for op, and the plan is the
// golden one. Both take the controller's one path from the ref to the plan,
// as an operator's run (Explicit).
func TestPlanIsWhatApplyRuns(t *testing.T) {
	twoStacks := map[string]string{
		"web/compose.yaml": stack("app=app:1", "worker=app:1"),
		"db/compose.yaml":  stack("db=db:1"),
	}
	tests := []struct {
		name  string
		opts  []func(*config.Source)
		setup func(h *harness) // from the harness's first commit, not applied
		want  string
	}{
		{
			name:  "first deploy",
			setup: func(h *harness) {},
			want: `
create-network db/network/default (missing)
create-network web/network/default (missing)
pull app:1 (not present, wanted by web/app)
pull db:1 (not present, wanted by db/db)
sync-files db/files (missing)
sync-files web/files (missing)
create db/db/1 (missing)
create web/app/1 (missing)
create web/worker/1 (missing)`,
		},
		{
			name: "one service changed, one scaled, one gone",
			setup: func(h *harness) {
				h.mustApply()
				h.commit("change", map[string]string{
					"web/compose.yaml": stack("app=app:2") + "    deploy:\n      replicas: 2\n",
				})
			},
			want: `
pull app:2 (not present, wanted by web/app)
sync-files web/files (tracked files changed)
create web/app/2 (missing)
replace web/app/1 (config changed: image) [start-first, batch 1/1, rollback on failure]
remove web/worker/1 (service removed from git)`,
		},
		{
			name: "a stack removed from git",
			setup: func(h *harness) {
				h.mustApply()
				h.commit("no db", map[string]string{"db/compose.yaml": ""})
			},
			want: `
remove db/db/1 (stack removed from git)
remove-network db/network/db_default (stack removed from git)`,
		},
		{
			name: "a container stopped by hand, drift reported: an explicit run repairs it",
			opts: []func(*config.Source){reportDrift},
			setup: func(h *harness) {
				h.mustApply()
				h.fake.StopByHand("web-app-1")
			},
			want: `
start web/app/1 (exited with code 0)
note: the host drifted from the revision it was converged to; this apply repairs it (a controller run only reports it: drift: report)`,
		},
		{
			name: "an interrupted replacement is undone",
			setup: func(h *harness) {
				h.mustApply()
				h.fake.RenameByHand("web-app-1", "web-app-1-retired")
				h.fake.StopByHand("web-app-1-retired")
			},
			want: `restore web/app/1 (interrupted replacement: new container missing)`,
		},
		{
			name: "an image that must not be pulled blocks its service, not the others",
			setup: func(h *harness) {
				h.mustApply()
				h.commit("never", map[string]string{
					"web/compose.yaml": stack("app=app:9", "worker=app:2") + "    pull_policy: never\n",
				})
			},
			want: `
pull app:9 (not present, wanted by web/app)
sync-files web/files (tracked files changed)
replace web/app/1 (config changed: image) [start-first, batch 1/1, rollback on failure]
blocked web/worker (image app:2 is not present and pull_policy is never)`,
		},
		{
			name: "a broken stack is left as it runs",
			setup: func(h *harness) {
				h.mustApply()
				h.commit("broken", map[string]string{"db/compose.yaml": "services: [\n"})
			},
			want: `broken db`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, twoStacks, tt.opts...)
			h.fake.Publish("app:9", "sha256:app-9")
			tt.setup(h)
			h.ctl.Explicit = true
			planned, err := h.ctl.Plan(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			got := planned.Plan.String()
			if i := strings.Index(got, "broken db ("); i >= 0 {
				got = got[:i+len("broken db")] + "\n" // the loader's message is the compose tests' business
			}
			if diff := cmp.Diff(strings.TrimPrefix(tt.want, "\n")+"\n", got); diff != "" {
				t.Errorf("plan (-want +got):\n%s", diff)
			}
			out, _ := h.apply()
			if diff := cmp.Diff(planned.Plan.String(), out.Plan.String()); diff != "" {
				t.Errorf("apply planned otherwise than plan (-plan +apply):\n%s", diff)
			}
			var ran []string
			if out.Result != nil {
				for _, r := range out.Result.Ops {
					ran = append(ran, r.Op.String())
				}
			}
			var want []string
			for _, op := range planned.Plan.Ops {
				want = append(want, op.String())
			}
			if diff := cmp.Diff(want, ran); diff != "" {
				t.Errorf("apply ran otherwise than plan printed (-plan +ran):\n%s", diff)
			}
		})
	}
}
