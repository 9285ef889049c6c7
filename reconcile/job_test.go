package reconcile_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/moor-dev/moor/reconcile"
	"github.com/moor-dev/moor/runtime"
)

// jobStack is a release of the web stack: app, which waits for the job
// migrate to complete successfully (compose's migration pattern), both at
// version v.
func jobStack(v string) *reconcile.Desired {
	migrate := svc("migrate", "migrate:"+v, 1)
	migrate.Spec.Restart = "no"
	migrate.Hash = migrate.Spec.Hash()
	app := svc("app", "app:1", 2, "VERSION="+v)
	app.DependsOn = map[string]reconcile.Dependency{"migrate": {Condition: reconcile.ConditionCompleted, Required: true}}
	return want("main@sha1:"+v, migrate, app)
}

// jobFake is a fake whose migrate:1 and migrate:2 jobs succeed and whose
// migrate:3 fails with exit code 3 after printing 30 lines.
func jobFake() *runtime.Fake {
	f := runtime.NewFake()
	f.Publish("app:1", "sha256:a1")
	for _, v := range []string{"1", "2", "3"} {
		f.Publish("migrate:"+v, "sha256:m"+v)
	}
	f.JobImage("migrate:1", 0, "migrated to 1")
	f.JobImage("migrate:2", 0, "migrated to 2")
	var out []string
	for i := range 30 {
		out = append(out, "step "+string(rune('a'+i%26)))
	}
	out = append(out, "error: relation users does not exist")
	f.JobImage("migrate:3", 3, out...)
	return f
}

// jobRuns counts the starts of the job's containers in the fake's journal.
func jobRuns(f *runtime.Fake) int {
	n := 0
	for _, l := range f.Journal() {
		if strings.HasPrefix(l, "StartContainer web-migrate-1") {
			n++
		}
	}
	return n
}

// appVersions is the VERSION of app's running replicas, by name.
func appVersions(t *testing.T, f *runtime.Fake) string {
	t.Helper()
	obs, err := f.Observe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, c := range obs.Containers {
		if c.Service != "app" {
			continue
		}
		out = append(out, c.Name+"="+c.State+"@"+strings.TrimPrefix(c.Labels[reconcile.LabelRevision], "main@sha1:"))
	}
	return strings.Join(out, " ")
}

// TestJobRunsOncePerChange: a release runs its job once, before its
// dependents are replaced; the plans after it are empty, so the job does
// not run again on the next poll, and a release that leaves the job alone
// does not run it.
func TestJobRunsOncePerChange(t *testing.T) {
	f := jobFake()
	if n := converge(t, f, jobStack("1"), 3); n != 1 {
		t.Errorf("first deploy took %d applies", n)
	}
	if runs := jobRuns(f); runs != 1 {
		t.Errorf("first deploy ran the job %d times, want 1", runs)
	}
	f.ResetCalls()
	d := jobStack("2")
	res := applyOnce(t, executor(f), f, d)
	if failed := res.Failed(); len(failed) > 0 {
		t.Fatalf("release 2 failed:\n%s", outcomes(res))
	}
	journal := f.Journal()
	ran, replaced := -1, -1
	for i, l := range journal {
		if l == "StartContainer web-migrate-1" && ran < 0 {
			ran = i
		}
		if strings.HasPrefix(l, "CreateContainer web-app-") && replaced < 0 {
			replaced = i
		}
	}
	if ran < 0 || replaced < ran {
		t.Errorf("app was replaced before the job ran:\n%s", strings.Join(journal, "\n"))
	}
	if got := appVersions(t, f); got != "web-app-1=running@2 web-app-2=running@2" {
		t.Errorf("app after release 2: %s", got)
	}
	// The next polls, and a release that only changes app.
	for range 3 {
		if n := converge(t, f, d, 1); n != 0 {
			t.Fatalf("release 2 is not converged after its apply:\n%s", f)
		}
	}
	app3 := jobStack("2")
	app3.Revision = "main@sha1:2b"
	app3.Stacks["web"].Services["app"].Spec.Env = []string{"VERSION=2b"}
	app3.Stacks["web"].Services["app"].Hash = app3.Stacks["web"].Services["app"].Spec.Hash()
	converge(t, f, app3, 2)
	if runs := jobRuns(f); runs != 1 {
		t.Errorf("release 2, its polls and a release that leaves the job alone ran it %d times, want 1", runs)
	}
	// Its container is kept, exited 0, until its next run.
	c, err := f.InspectContainer(context.Background(), "web-migrate-1")
	if err != nil || c.State != reconcile.StateExited || c.ExitCode != 0 || c.Labels[reconcile.LabelRevision] != "main@sha1:2" {
		t.Errorf("the job's container after its run: %+v, %v", c, err)
	}
}

// TestJobFailureKeepsDependentsOld: release 3's migration fails. app is
// not replaced: both replicas keep running release 1; the apply's result
// names the job, its exit code and its last output, on the job's op and
// on its dependents'; the job's container is kept; and the next plans of a
// controller, which holds the failed job, leave app as it runs.
func TestJobFailureKeepsDependentsOld(t *testing.T) {
	f := jobFake()
	converge(t, f, jobStack("1"), 2)
	f.ResetCalls()
	d := jobStack("3")
	res := applyOnce(t, executor(f), f, d)
	if got := appVersions(t, f); got != "web-app-1=running@1 web-app-2=running@1" {
		t.Errorf("app after a failed migration: %s", got)
	}
	for _, l := range f.Journal() {
		if strings.Contains(l, "web-app-") {
			t.Errorf("app was touched after its job failed: %s", l)
		}
	}
	jobErrs := map[string]*reconcile.JobError{}
	for _, r := range res.Ops {
		var je *reconcile.JobError
		if errors.As(r.Err, &je) {
			jobErrs[r.Op.Resource] = je
		}
	}
	for _, rsc := range []string{"web/migrate/1", "web/app/1", "web/app/2"} {
		je := jobErrs[rsc]
		if je == nil {
			t.Errorf("%s did not fail with the job's error:\n%s", rsc, outcomes(res))
			continue
		}
		lines := strings.Split(je.Output, "\n")
		if je.Service != "migrate" || je.ExitCode != 3 || len(lines) != reconcile.JobOutputLines ||
			lines[len(lines)-1] != "error: relation users does not exist" {
			t.Errorf("%s: job error %+v (%d lines)", rsc, je, len(lines))
		}
	}
	for _, r := range res.Ops {
		if r.Op.Service == "app" && !r.Skipped {
			t.Errorf("%s: not skipped: %v", r.Op, r.Err)
		}
	}
	if je := jobErrs["web/migrate/1"]; je != nil {
		want := `job web/migrate exited with code 3; last output: "step l\nstep m`
		if !strings.HasPrefix(je.Error(), want) || strings.Contains(reconcile.WithholdOutput(je.Error()), "relation") {
			t.Errorf("job error reads %q", je.Error())
		}
	}
	c, err := f.InspectContainer(context.Background(), "web-migrate-1")
	if err != nil || c.State != reconcile.StateExited || c.ExitCode != 3 || c.Labels[reconcile.LabelRevision] != "main@sha1:3" {
		t.Errorf("the failed job's container is not kept: %+v, %v", c, err)
	}

	obs, _ := f.Observe(context.Background())
	held := reconcile.Constraints{Held: map[string]string{"web/migrate": "main@3 failed"}}
	assertPlanText(t, reconcile.MakePlan(d, obs, held).String(), `
held web/app (waits for job migrate, held: main@3 failed)
held web/migrate (main@3 failed)`)
	// Once the hold is due (or on `moor apply`), the job runs again, anew.
	assertPlanText(t, reconcile.MakePlan(d, obs, reconcile.Constraints{}).String(), `
replace web/app/1 (config changed: environment) after job migrate [start-first, batch 1/2, rollback on failure]
replace web/app/2 (config changed: environment) after job migrate [start-first, batch 2/2, rollback on failure]
run-job web/migrate/1 (exited with code 3)`)
}

// outcomes is every op of res with its error, one a line.
func outcomes(res *reconcile.Result) string {
	var b strings.Builder
	for _, r := range res.Ops {
		b.WriteString(r.Op.String())
		if r.Err != nil {
			b.WriteString(": " + r.Err.Error())
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func assertPlanText(t *testing.T, got, want string) {
	t.Helper()
	if want = strings.TrimPrefix(want, "\n"); want != "" {
		want += "\n"
	}
	if got != want {
		t.Errorf("plan:\n%s\nwant:\n%s", got, want)
	}
}

// TestJobConvergesFromRandomStates walks a stack with a job through
// releases and hand changes in random order: one apply converges it, the
// plan after that is empty, and the job runs only when its release changes
// it or its container is gone.
func TestJobConvergesFromRandomStates(t *testing.T) {
	releases := []*reconcile.Desired{jobStack("1"), jobStack("2")}
	appOnly := jobStack("2")
	appOnly.Revision = "main@sha1:2b"
	app := appOnly.Stacks["web"].Services["app"]
	app.Spec.Env, app.Replicas = []string{"VERSION=2b"}, 1
	app.Hash = app.Spec.Hash()
	releases = append(releases, appOnly)
	disturb := []func(f *runtime.Fake) bool{ // whether the job must run again
		func(f *runtime.Fake) bool { f.RemoveByHand("web-migrate-1"); return true },
		func(f *runtime.Fake) bool { f.StopByHand("web-app-1"); return false },
		func(f *runtime.Fake) bool { f.RemoveByHand("web-app-1"); return false },
		func(f *runtime.Fake) bool { return false },
	}
	for seed := uint64(1); seed <= 20; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, seed))
			f := jobFake()
			var job string // the job's config hash the host last ran
			for step := 0; step < 8; step++ {
				d := releases[r.IntN(len(releases))]
				f.ResetCalls()
				converge(t, f, d, 2)
				want := 0
				if h := d.Stacks["web"].Services["migrate"].Hash; h != job {
					want, job = 1, h
				}
				if runs := jobRuns(f); runs != want {
					t.Fatalf("step %d (%s): the job ran %d times, want %d", step, d.Revision, runs, want)
				}
				if n := converge(t, f, d, 1); n != 0 {
					t.Fatalf("second plan not empty")
				}
				if disturb[r.IntN(len(disturb))](f) {
					job = ""
				}
			}
		})
	}
}

// TestJobThatDoesNotExit: a job still running after the executor's
// JobTimeout has failed and is stopped; one still running when the apply
// is cancelled (moor stops) is left to run, and the next plan waits for
// it instead of starting it again. Either way app keeps its old
// containers.
func TestJobThatDoesNotExit(t *testing.T) {
	hang := func() (*runtime.Fake, *reconcile.Desired) {
		f := jobFake()
		f.Publish("migrate:hang", "sha256:hang") // runs until stopped
		converge(t, f, jobStack("1"), 2)
		d := jobStack("2")
		m := d.Stacks["web"].Services["migrate"]
		m.Spec.Image = "migrate:hang"
		m.Hash = m.Spec.Hash()
		return f, d
	}
	t.Run("timeout", func(t *testing.T) {
		f, d := hang()
		ex := executor(f)
		ex.JobTimeout = time.Minute
		res := applyOnce(t, ex, f, d)
		jobs := res.FailedJobs()
		if len(jobs) != 1 || jobs[0].ExitCode != -1 || !strings.Contains(jobs[0].Error(), "not ready after 1m0s") ||
			!strings.HasSuffix(jobs[0].Err.Error(), "; stopped") {
			t.Fatalf("failed jobs: %v", jobs)
		}
		if c, _ := f.InspectContainer(context.Background(), "web-migrate-1"); c.State != reconcile.StateExited {
			t.Errorf("the job that timed out is %s, want stopped", c.State)
		}
		if got := appVersions(t, f); got != "web-app-1=running@1 web-app-2=running@1" {
			t.Errorf("app: %s", got)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		f, d := hang()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		ex := executor(f)
		ex.Step = func(op reconcile.Op, i int) {
			if op.Kind == reconcile.OpRunJob && op.Steps[i].Kind == reconcile.StepStart {
				cancel()
			}
		}
		obs, _ := f.Observe(ctx)
		res := ex.Apply(ctx, reconcile.MakePlan(d, obs, reconcile.Constraints{}))
		if jobs := res.FailedJobs(); len(jobs) != 1 || !errors.Is(jobs[0], context.Canceled) {
			t.Fatalf("failed jobs: %v", jobs)
		}
		if c, _ := f.InspectContainer(context.Background(), "web-migrate-1"); c.State != reconcile.StateRunning {
			t.Errorf("the job of a cancelled apply is %s, want still running", c.State)
		}
		if got := appVersions(t, f); got != "web-app-1=running@1 web-app-2=running@1" {
			t.Errorf("app: %s", got)
		}
		obs, _ = f.Observe(context.Background())
		assertPlanText(t, reconcile.MakePlan(d, obs, reconcile.Constraints{}).String(), `
replace web/app/1 (config changed: environment) after job migrate [start-first, batch 1/2, rollback on failure]
replace web/app/2 (config changed: environment) after job migrate [start-first, batch 2/2, rollback on failure]
run-job web/migrate/1 (running since an earlier apply: waited for)`)
	})
}
