package controller_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/moor-dev/moor/controller"
	"github.com/moor-dev/moor/ledger"
	"github.com/moor-dev/moor/reconcile"
)

// migration is a compose file of app, of image appImage, which waits for
// the job migrate, of image job, to complete successfully.
func migration(job, appImage string) string {
	return fmt.Sprintf(`services:
  migrate:
    image: %s
    restart: "no"
  app:
    image: %s
    restart: unless-stopped
    depends_on:
      migrate:
        condition: service_completed_successfully
`, job, appImage)
}

// jobHarness is a harness at release 1 (migrate:1, app:1), converged; the
// job's image migrate:bad exits 3 after printing its error.
func jobHarness(t *testing.T) *harness {
	t.Helper()
	h := newHarness(t, map[string]string{"web/compose.yaml": migration("migrate:1", "app:1")})
	for _, img := range []string{"migrate:1", "migrate:2", "migrate:bad"} {
		h.fake.Publish(img, "sha256:"+strings.ReplaceAll(img, ":", "-"))
	}
	h.fake.JobImage("migrate:1", 0, "migrated to 1")
	h.fake.JobImage("migrate:2", 0, "migrated to 2")
	h.fake.JobImage("migrate:bad", 3, "applying 0042_users", `ERROR: relation "users" does not exist`)
	h.mustApply()
	return h
}

// jobStarts is how many times the job's container was started.
func jobStarts(h *harness) int {
	n := 0
	for _, l := range h.fake.Journal() {
		if strings.HasPrefix(l, "StartContainer web-migrate-1") {
			n++
		}
	}
	return n
}

// TestFailedJobHoldsItsDependents: a release whose migration fails leaves
// app on the old release, and records the failure of both, with the job's
// name, exit code and output, in the status and the ledger. The next runs
// hold both: the job does not run again, app is not replaced. A new commit
// runs the job again, once, and rolls app out after it.
func TestFailedJobHoldsItsDependents(t *testing.T) {
	t.Parallel()
	h := jobHarness(t)
	if n := jobStarts(h); n != 1 {
		t.Fatalf("the first deploy started the job %d times", n)
	}
	oldApp := h.container("web-app-1").ID
	bad := h.commit("release 2, a broken migration", map[string]string{"web/compose.yaml": migration("migrate:bad", "app:2")})
	out, err := h.apply()
	if err == nil {
		t.Fatal("the apply of a failing migration succeeded")
	}
	if c := h.container("web-app-1"); c.ID != oldApp || c.Image != "app:1" || !c.Running() {
		t.Fatalf("app after its job failed: %s %s (%s), want the old %s running", c.ID, c.Image, c.State, oldApp)
	}
	if c := h.container("web-migrate-1"); c.Image != "migrate:bad" || c.ExitCode != 3 {
		t.Errorf("the failed job's container is not kept: %+v", c)
	}

	wantErr := `job web/migrate exited with code 3; last output: "applying 0042_users\nERROR: relation \"users\" does not exist"`
	// The run's outcome, for notifications.
	var jobs []string
	for _, r := range out.Result.Ops {
		var je *reconcile.JobError
		if errors.As(r.Err, &je) {
			jobs = append(jobs, fmt.Sprintf("%s: %s %d", r.Op.Resource, reconcile.ServiceKey(je.Stack, je.Service), je.ExitCode))
		}
	}
	if got := strings.Join(jobs, "; "); got != "web/app/1: web/migrate 3; web/migrate/1: web/migrate 3" {
		t.Errorf("the outcome's job errors: %s", got)
	}
	if failed := out.Result.FailedJobs(); len(failed) != 1 || failed[0].Service != "migrate" || failed[0].ExitCode != 3 ||
		failed[0].Container != "web-migrate-1" || !strings.HasSuffix(failed[0].Output, `ERROR: relation "users" does not exist`) {
		t.Errorf("the outcome's failed jobs: %+v", failed)
	}
	// The status: both failed at the bad revision, for the job's reason.
	st := h.status()
	for _, key := range []string{"web/migrate", "web/app"} {
		f := st.Failures[key]
		if f.Revision != bad || f.Reason != wantErr {
			t.Errorf("status failure of %s: %+v\nwant reason %s", key, f, wantErr)
		}
	}
	// The ledger: the job's op failed, app's was skipped, both for the job.
	recs := h.records()
	last := recs[len(recs)-1]
	var ops []string
	for _, op := range last.Ops {
		if op.Service == "" || strings.HasPrefix(op.Op, "pull ") { // pulls, the stack's files
			continue
		}
		if op.Job == nil || *op.Job != (ledger.Job{Name: "web/migrate", ExitCode: 3, Output: "applying 0042_users\nERROR: relation \"users\" does not exist"}) {
			t.Errorf("ledger op %s: job %+v", op.Op, op.Job)
		}
		ops = append(ops, op.Result+" "+op.Op)
		if !strings.Contains(op.Error, wantErr) {
			t.Errorf("ledger op %s: error %q", op.Op, op.Error)
		}
	}
	if got := strings.Join(ops, "\n"); got != "skipped replace web/app/1 (config changed: image) after job migrate [start-first, batch 1/1, rollback on failure]\nfailed run-job web/migrate/1 (config changed: image)" {
		t.Errorf("ledger ops:\n%s", got)
	}

	// The next runs hold both: nothing runs, nothing is replaced.
	starts := jobStarts(h)
	for range 3 {
		_, err := h.apply()
		if err == nil || !strings.Contains(err.Error(), "held back") {
			t.Errorf("a run after the failed job: %v, want it held back", err)
		}
	}
	if n := jobStarts(h); n != starts {
		t.Errorf("held runs started the job %d more times", n-starts)
	}
	if c := h.container("web-app-1"); c.ID != oldApp {
		t.Errorf("a held run replaced app")
	}
	obs, _ := h.fake.Observe(t.Context())
	reports, err := controller.ReadReports(h.state, obs, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, sr := range reports[0].Services {
		if sr.State != controller.StateDegraded || !strings.Contains(sr.Reason, wantErr) {
			t.Errorf("moor status: %s/%s %s %q", sr.Stack, sr.Service, sr.State, sr.Reason)
		}
	}

	// A new commit, a fixed migration: it runs once, then app is replaced.
	h.commit("release 2, the migration fixed", map[string]string{"web/compose.yaml": migration("migrate:2", "app:2")})
	h.mustApply()
	if c := h.container("web-app-1"); c.Image != "app:2" || !c.Running() {
		t.Errorf("app after the fixed release: %s (%s)", c.Image, c.State)
	}
	for range 2 {
		h.mustApply()
	}
	if n := jobStarts(h); n != starts+1 {
		t.Errorf("the fixed release and its polls started the job %d times, want 1", n-starts)
	}
}
