package reconcile

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestRolloutGolden pins how each kind of op is carried out: the steps,
// their undo, the batches and failure policy of a rollout, what waits for
// what. `moor plan --steps` prints this text.
func TestRolloutGolden(t *testing.T) {
	healthy := func(s *Service) *Service {
		s.Spec.Healthcheck = &Healthcheck{Test: []string{"CMD", "/app", "health"}}
		s.Hash = s.Spec.Hash()
		return s
	}
	published := func(s *Service) *Service {
		grace := 10 * time.Second
		s.Spec.Ports = []Port{{Target: 8080, Published: "80", Protocol: "tcp"}}
		s.Spec.StopGracePeriod = &grace
		s.Hash = s.Spec.Hash()
		return s
	}
	replicas := func(s *Service, n int, u UpdateConfig) *Service {
		s.Replicas, s.Update = n, u
		return s
	}
	tests := []struct {
		name string
		d    *Desired
		o    *Observed
		want string
	}{
		{
			name: "start-first: the candidate is ready before the old one stops",
			d:    desired(stack("web", healthy(service("api", "app:1", "A=2")))),
			o:    observed(running("web", healthy(service("api", "app:1", "A=1")), 1, rev1)),
			want: `
replace web/api/1 (config changed: environment) [start-first, batch 1/1, rollback on failure]
    1 create web-api-1-candidate                         undo: remove web-api-1-candidate
    2 start web-api-1-candidate
    3 wait web-api-1-candidate ready (healthy)
    4 expose web-api-1-candidate
    5 stop web-api-1                                     undo: start web-api-1
    6 rename web-api-1 -> web-api-1-retired              undo: rename web-api-1-retired -> web-api-1
    7 rename web-api-1-candidate -> web-api-1            undo: remove web-api-1
    8 remove web-api-1-retired`,
		},
		{
			name: "stop-first: a published port is freed before the new container starts",
			d:    desired(stack("web", published(service("api", "app:1", "A=2")))),
			o:    observed(running("web", published(service("api", "app:1", "A=1")), 1, rev1)),
			want: `
replace web/api/1 (config changed: environment) [stop-first, batch 1/1, rollback on failure]
    1 create web-api-1-candidate                         undo: remove web-api-1-candidate
    2 expose web-api-1-candidate
    3 stop web-api-1 within 10s                          undo: start web-api-1
    4 rename web-api-1 -> web-api-1-retired              undo: rename web-api-1-retired -> web-api-1
    5 rename web-api-1-candidate -> web-api-1            undo: remove web-api-1
    6 start web-api-1
    7 wait web-api-1 ready (running 2s without a restart)
    8 remove web-api-1-retired`,
		},
		{
			name: "batches of two, rolled back as a whole: old containers stay until all succeeded",
			d:    desired(stack("web", replicas(service("api", "app:1", "A=2"), 3, UpdateConfig{Parallelism: 2, Monitor: 5 * time.Second}))),
			o: func() *Observed {
				old := replicas(service("api", "app:1", "A=1"), 3, UpdateConfig{})
				return observed(running("web", old, 1, rev1), running("web", old, 2, rev1), running("web", old, 3, rev1))
			}(),
			want: `
replace web/api/1 (config changed: environment) [start-first, batch 1/2, rollback on failure]
    1 create web-api-1-candidate                         undo: remove web-api-1-candidate
    2 start web-api-1-candidate
    3 wait web-api-1-candidate ready (running 5s without a restart)
    4 expose web-api-1-candidate
    5 stop web-api-1                                     undo: start web-api-1
    6 rename web-api-1 -> web-api-1-retired              undo: rename web-api-1-retired -> web-api-1
    7 rename web-api-1-candidate -> web-api-1            undo: remove web-api-1
    8 remove web-api-1-retired once the rollout succeeded
replace web/api/2 (config changed: environment) [start-first, batch 1/2, rollback on failure]
    1 create web-api-2-candidate                         undo: remove web-api-2-candidate
    2 start web-api-2-candidate
    3 wait web-api-2-candidate ready (running 5s without a restart)
    4 expose web-api-2-candidate
    5 stop web-api-2                                     undo: start web-api-2
    6 rename web-api-2 -> web-api-2-retired              undo: rename web-api-2-retired -> web-api-2
    7 rename web-api-2-candidate -> web-api-2            undo: remove web-api-2
    8 remove web-api-2-retired once the rollout succeeded
replace web/api/3 (config changed: environment) [start-first, batch 2/2, rollback on failure]
    1 create web-api-3-candidate                         undo: remove web-api-3-candidate
    2 start web-api-3-candidate
    3 wait web-api-3-candidate ready (running 5s without a restart)
    4 expose web-api-3-candidate
    5 stop web-api-3                                     undo: start web-api-3
    6 rename web-api-3 -> web-api-3-retired              undo: rename web-api-3-retired -> web-api-3
    7 rename web-api-3-candidate -> web-api-3            undo: remove web-api-3
    8 remove web-api-3-retired once the rollout succeeded`,
		},
		{
			name: "pause past a failure ratio, with a delay: each old container goes with its replica",
			d: desired(stack("web", replicas(service("api", "app:1", "A=2"), 2,
				UpdateConfig{Delay: 10 * time.Second, FailureAction: FailurePause, MaxFailureRatio: 0.5}))),
			o: func() *Observed {
				old := replicas(service("api", "app:1", "A=1"), 2, UpdateConfig{})
				return observed(running("web", old, 1, rev1), running("web", old, 2, rev1))
			}(),
			want: `
replace web/api/1 (config changed: environment) [start-first, batch 1/2, pause past 1 failed]
    1 create web-api-1-candidate                         undo: remove web-api-1-candidate
    2 start web-api-1-candidate
    3 wait web-api-1-candidate ready (running 2s without a restart)
    4 expose web-api-1-candidate
    5 stop web-api-1                                     undo: start web-api-1
    6 rename web-api-1 -> web-api-1-retired              undo: rename web-api-1-retired -> web-api-1
    7 rename web-api-1-candidate -> web-api-1            undo: remove web-api-1
    8 remove web-api-1-retired
replace web/api/2 (config changed: environment) [start-first, batch 2/2 after 10s, pause past 1 failed]
    1 create web-api-2-candidate                         undo: remove web-api-2-candidate
    2 start web-api-2-candidate
    3 wait web-api-2-candidate ready (running 2s without a restart)
    4 expose web-api-2-candidate
    5 stop web-api-2                                     undo: start web-api-2
    6 rename web-api-2 -> web-api-2-retired              undo: rename web-api-2-retired -> web-api-2
    7 rename web-api-2-candidate -> web-api-2            undo: remove web-api-2
    8 remove web-api-2-retired`,
		},
		{
			name: "an interrupted replacement: the failed new container goes, the old one comes back",
			d:    desired(stack("web", service("api", "app:1", "A=1"))),
			o: func() *Observed {
				api := service("api", "app:1", "A=1")
				old := running("web", api, 1, rev1)
				old.ID, old.Name, old.Retired, old.State = "id-old", old.Name+RetiredSuffix, true, StateExited
				failed := running("web", service("api", "app:1", "A=2"), 1, rev2)
				failed.ID, failed.State, failed.ExitCode = "id-new", StateExited, 1
				return observed(old, failed)
			}(),
			want: `
remove web/api/1 (interrupted replacement: new container exited, its old one is restored)
    1 stop web-api-1
    2 remove web-api-1
restore web/api/1 (interrupted replacement: new container exited)
    1 rename web-api-1-retired -> web-api-1
    2 start web-api-1
    3 wait web-api-1 ready (running)`,
		},
		{
			name: "a first deploy: pulls and networks first, dependents wait for their dependencies",
			d: func() *Desired {
				db := healthy(service("db", "db:1"))
				api := service("api", "app:1")
				api.DependsOn = map[string]Dependency{"db": {Condition: ConditionHealthy, Required: true}}
				return desired(stack("web", api, db))
			}(),
			o: &Observed{Images: map[string]string{"app:1": "sha256:a"}},
			want: `
create-network web/network/default (missing)
    1 create-network web_default
pull db:1 (not present, wanted by web/db)
    1 pull db:1
create web/api/1 (missing)
    after web/network/default
    after db is healthy
    1 create web-api-1
    2 start web-api-1
    3 wait web-api-1 ready (running)
create web/db/1 (missing)
    after db:1, web/network/default
    1 create web-db-1
    2 start web-db-1
    3 wait web-db-1 ready (healthy)`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := MakePlan(tt.d, tt.o, Constraints{}).Detail()
			want := strings.TrimPrefix(tt.want, "\n") + "\n"
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("plan mismatch (-want +got):\n%s\ngot:\n%s", diff, got)
			}
		})
	}
}
