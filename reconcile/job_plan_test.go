package reconcile

import "testing"

// migrationStack is web with app waiting for the job migrate, which runs
// image migrate:V, and app at environment appEnv.
func migrationStack(v, appEnv string) (*Stack, *Service, *Service) {
	migrate := service("migrate", "migrate:"+v)
	migrate.Spec.Restart = "no"
	migrate.Hash = migrate.Spec.Hash()
	app := service("app", "app:1", appEnv)
	app.DependsOn = map[string]Dependency{"migrate": {Condition: ConditionCompleted, Required: true}}
	return stack("web", migrate, app), migrate, app
}

// done is the container of a job's replica after a run that exited code.
func done(stack string, svc *Service, rev string, code int) Container {
	c := running(stack, svc, 1, rev)
	c.State, c.ExitCode = StateExited, code
	return c
}

// TestPlanJobs pins what `moor plan --steps` shows of a job: when it runs
// (a first deploy, a change of its config or image, a failed run), that
// it runs in a new container that is waited for until it exits, that its
// dependents are replaced after it, and when it does not run.
func TestPlanJobs(t *testing.T) {
	st1, migrate1, app1 := migrationStack("1", "V=1")
	st2, _, _ := migrationStack("2", "V=2")
	stApp, _, _ := migrationStack("1", "V=2")
	tests := []struct {
		name string
		d    *Desired
		o    *Observed
		c    Constraints
		want string
	}{
		{
			name: "first deploy: the job runs, app is created once it completed",
			d:    desired(st1),
			o:    &Observed{Images: map[string]string{"app:1": "sha256:a", "migrate:1": "sha256:m"}},
			want: `
create-network web/network/default (missing)
    1 create-network web_default
create web/app/1 (missing) after job migrate
    after web/network/default
    after migrate is completed_successfully
    1 create web-app-1
    2 start web-app-1
    3 wait web-app-1 ready (running)
run-job web/migrate/1 (missing)
    after web/network/default
    1 create web-migrate-1
    2 start web-migrate-1
    3 wait web-migrate-1 exited 0`,
		},
		{
			name: "completed: nothing to do",
			d:    desired(st1),
			o:    observed(done("web", migrate1, rev1, 0), running("web", app1, 1, rev1)),
		},
		{
			name: "a new release: its job runs anew, app is replaced after it",
			d:    desired(st2),
			o:    withImages(observed(done("web", migrate1, rev1, 0), running("web", app1, 1, rev1)), "migrate:2"),
			want: `
replace web/app/1 (config changed: environment) after job migrate [start-first, batch 1/1, rollback on failure]
    after migrate is completed_successfully
    1 create web-app-1-candidate                         undo: remove web-app-1-candidate
    2 start web-app-1-candidate
    3 wait web-app-1-candidate ready (running 2s without a restart)
    4 expose web-app-1-candidate
    5 stop web-app-1                                     undo: start web-app-1
    6 rename web-app-1 -> web-app-1-retired              undo: rename web-app-1-retired -> web-app-1
    7 rename web-app-1-candidate -> web-app-1            undo: remove web-app-1
    8 remove web-app-1-retired
run-job web/migrate/1 (config changed: image)
    1 stop web-migrate-1
    2 remove web-migrate-1
    3 create web-migrate-1
    4 start web-migrate-1
    5 wait web-migrate-1 exited 0`,
		},
		{
			name: "a release that leaves the job alone does not run it",
			d:    desired(stApp),
			o:    observed(done("web", migrate1, rev1, 0), running("web", app1, 1, rev1)),
			want: `
replace web/app/1 (config changed: environment) [start-first, batch 1/1, rollback on failure]
    1 create web-app-1-candidate                         undo: remove web-app-1-candidate
    2 start web-app-1-candidate
    3 wait web-app-1-candidate ready (running 2s without a restart)
    4 expose web-app-1-candidate
    5 stop web-app-1                                     undo: start web-app-1
    6 rename web-app-1 -> web-app-1-retired              undo: rename web-app-1-retired -> web-app-1
    7 rename web-app-1-candidate -> web-app-1            undo: remove web-app-1
    8 remove web-app-1-retired`,
		},
		{
			name: "held after a failed run: app is held with it, nothing runs",
			d:    desired(st2),
			o:    withImages(observed(done("web", migrate1, rev2, 3), running("web", app1, 1, rev1)), "migrate:2"),
			c:    Constraints{Held: map[string]string{"web/migrate": "main@2222222 failed"}},
			want: `
held web/app (waits for job migrate, held: main@2222222 failed)
held web/migrate (main@2222222 failed)`,
		},
		{
			name: "held job, app in sync: app is not held",
			d:    desired(st1),
			o:    observed(done("web", migrate1, rev1, 3), running("web", app1, 1, rev1)),
			c:    Constraints{Held: map[string]string{"web/migrate": "main@1111111 failed"}},
			want: `held web/migrate (main@1111111 failed)`,
		},
		{
			name: "the job's image cannot be pulled: app is blocked with it",
			d:    desired(st2),
			o:    observed(done("web", migrate1, rev1, 0), running("web", app1, 1, rev1)),
			c:    Constraints{FailedPulls: map[string]string{"migrate:2": "pull migrate:2: not found"}},
			want: `
blocked web/app (waits for job migrate, blocked: pull migrate:2: not found)
blocked web/migrate (pull migrate:2: not found)`,
		},
		{
			name: "a run an earlier apply did not see end: waited for, not run again",
			d:    desired(stApp),
			o: func() *Observed {
				c := done("web", migrate1, rev1, 0)
				c.State = StateRunning
				return observed(c, running("web", app1, 1, rev1))
			}(),
			want: `
replace web/app/1 (config changed: environment) after job migrate [start-first, batch 1/1, rollback on failure]
    after migrate is completed_successfully
    1 create web-app-1-candidate                         undo: remove web-app-1-candidate
    2 start web-app-1-candidate
    3 wait web-app-1-candidate ready (running 2s without a restart)
    4 expose web-app-1-candidate
    5 stop web-app-1                                     undo: start web-app-1
    6 rename web-app-1 -> web-app-1-retired              undo: rename web-app-1-retired -> web-app-1
    7 rename web-app-1-candidate -> web-app-1            undo: remove web-app-1
    8 remove web-app-1-retired
run-job web/migrate/1 (running since an earlier apply: waited for)
    1 wait web-migrate-1 exited 0`,
		},
		{
			name: "a retired container of the job (a replacement an older moor left): removed, never started again",
			d:    desired(st1),
			o: func() *Observed {
				old := done("web", migrate1, rev1, 0)
				old.ID, old.Name, old.Retired = "id-old", "web-migrate-1"+RetiredSuffix, true
				return observed(old, done("web", migrate1, rev1, 0), running("web", app1, 1, rev1))
			}(),
			want: `remove web/migrate/web-migrate-1-retired (leftover of an interrupted replacement)`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assertPlan(t, MakePlan(tt.d, tt.o, tt.c), tt.want)
		})
	}
}

func withImages(o *Observed, refs ...string) *Observed {
	for _, r := range refs {
		o.Images[r] = "sha256:" + r
	}
	return o
}
