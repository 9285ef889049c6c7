package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/moor-dev/moor/controller"
	"github.com/moor-dev/moor/internal/testkit"
)

// jobRelease is release v of a stack whose two web replicas wait for the
// job migrate to complete successfully; the job exits with jobExit.
func jobRelease(img, v string, jobExit int) string {
	return fmt.Sprintf(`services:
  migrate:
    image: %[1]s
    restart: "no"
    environment:
      EXIT_CODE: "%[3]d"
      VERSION: "%[2]s"
  web:
    image: %[1]s
    environment:
      VERSION: "%[2]s"
    healthcheck:
      test: ["CMD", "/testapp", "health", "http://127.0.0.1:8080/health"]
      interval: 1s
      timeout: 1s
      retries: 2
    stop_grace_period: 5s
    deploy:
      replicas: 2
    depends_on:
      migrate:
        condition: service_completed_successfully
`, img, v, jobExit)
}

// jobStarts counts, from now on, the starts of the stack's migrate
// containers by the revision they were made from (their moor.revision
// label), as the engine reports them. It listens to the engine's events
// as they happen: the engine keeps only its last few hundred, which the
// other tests on the machine soon push out.
func jobStarts(t *testing.T, cli *client.Client, stack string) func(rev string) int {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	res := cli.Events(ctx, client.EventsListOptions{
		Filters: make(client.Filters).Add("type", "container").Add("event", "start").
			Add("label", "moor.stack="+stack).Add("label", "com.docker.compose.service=migrate"),
	})
	var mu sync.Mutex
	starts := map[string]int{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case msg := <-res.Messages:
				mu.Lock()
				starts[msg.Actor.Attributes["moor.revision"]]++
				mu.Unlock()
			case err := <-res.Err:
				if err != nil && ctx.Err() == nil {
					t.Errorf("engine events: %v", err)
				}
				return
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return func(rev string) int {
		mu.Lock()
		defer mu.Unlock()
		return starts[rev]
	}
}

// waitRuns waits until the controller recorded a run that started at
// least d after after: the runs between kept doing what they do.
func waitRuns(t *testing.T, state, source string, after time.Time, d time.Duration) {
	t.Helper()
	testkit.Eventually(t, 60*time.Second, fmt.Sprintf("a run %s after %s", d, after.Format(time.TimeOnly)), func() bool {
		st, err := controller.ReadStatus(state, source)
		return err == nil && st.LastRun.After(after.Add(d))
	})
}

// TestJobGatesRollout runs the controller on a stack whose web service
// waits for a migration job, while a client hammers web by its name.
// Release 2's migration fails: web keeps serving release 1 (no request
// fails), the job is not run again on the polls that follow, and status
// and ledger name the job, its exit code and its last output. Release 3's
// migration succeeds: it runs exactly once, before web is replaced.
func TestJobGatesRollout(t *testing.T) {
	cli := testkit.Docker(t)
	img := testkit.TestImage(t)
	stack := testkit.StackName(t)
	testkit.CleanupStack(t, stack)
	bystander := testkit.Unrelated(t, stack)
	repo := testkit.NewRepo(t)
	state := t.TempDir()
	m := &moor{t: t, repo: repo.Dir, stateDir: state, source: stack}
	starts := jobStarts(t, cli, stack)

	repo.Write(stack+"/compose.yaml", jobRelease(img, "1", 0))
	rev1 := "main@sha1:" + repo.Commit("release 1")
	// moor plan shows the job's run and web waiting for it.
	if code, out := m.run("plan"); code != 0 || !strings.Contains(out, "run-job "+stack+"/migrate/1 (missing)\n") ||
		!strings.Contains(out, "create "+stack+"/web/1 (missing) after job migrate\n") {
		t.Errorf("moor plan exited %d; want the job's run, and web after it:\n%s", code, out)
	}
	startMoor(t, "run", "--repo", repo.Dir, "--name", stack, "--state-dir", state,
		"--interval", "1s", "--listen", "off", "--log-format", "json")
	testkit.Eventually(t, 120*time.Second, "release 1 deployed", func() bool {
		st, err := controller.ReadStatus(state, stack)
		return err == nil && st.Applied == rev1
	})
	web := func() map[string]string {
		out := map[string]string{}
		for name, id := range containers(t, cli, stack) {
			if strings.HasPrefix(name, stack+"-web-") {
				out[name] = id
			}
		}
		return out
	}
	before := web()
	h := startHammerBox(t, cli, stack, "http://web:8080/")
	h.waitRequests(100)

	// Release 2: its migration fails.
	repo.Write(stack+"/compose.yaml", jobRelease(img, "2", 3))
	rev2 := "main@sha1:" + repo.Commit("release 2, a failing migration")
	var failedAt time.Time
	testkit.Eventually(t, 60*time.Second, "release 2's migration failed", func() bool {
		st, err := controller.ReadStatus(state, stack)
		f, ok := st.Failures[stack+"/web"]
		failedAt = f.At
		return err == nil && ok && f.Revision == rev2
	})
	waitRuns(t, state, stack, failedAt, 3*time.Second)
	if n := starts(rev2); n != 1 {
		t.Errorf("release 2's failing job started %d times, want once", n)
	}
	if after := web(); !equalMaps(before, after) {
		t.Errorf("web's containers changed after its job failed: %v -> %v", before, after)
	}
	for name := range before {
		res, err := cli.ContainerInspect(t.Context(), name, client.ContainerInspectOptions{})
		if err != nil || !res.Container.State.Running || !contains(res.Container.Config.Env, "VERSION=1") {
			t.Errorf("%s after the failed job: %v %+v", name, err, res.Container.State)
		}
	}
	job := stack + "/migrate exited with code 3"
	for _, svc := range []string{"web", "migrate"} {
		line := statusLine(t, m, stack, svc)
		for _, want := range []string{"degraded", shortRev(rev2) + " failed", job, "testapp: exiting with code 3"} {
			if !strings.Contains(line, want) {
				t.Errorf("status of %s lacks %q:\n%s", svc, want, line)
			}
		}
	}
	var found bool
	for _, rec := range ledgerRecords(t, m, stack) {
		for _, op := range rec.Ops {
			if op.Job == nil || !strings.HasPrefix(op.Op, "run-job "+stack+"/migrate/1") {
				continue
			}
			found = true
			if op.Result != "failed" || op.Job.Name != stack+"/migrate" || op.Job.ExitCode != 3 || op.Job.Output != "testapp: exiting with code 3" {
				t.Errorf("ledger: %+v", op)
			}
		}
	}
	if !found {
		t.Errorf("the ledger has no failed run of the job")
	}

	// Release 3: its migration succeeds, once, and web follows.
	repo.Write(stack+"/compose.yaml", jobRelease(img, "3", 0))
	rev3 := "main@sha1:" + repo.Commit("release 3, the migration fixed")
	var appliedAt time.Time
	testkit.Eventually(t, 90*time.Second, "release 3 deployed", func() bool {
		st, err := controller.ReadStatus(state, stack)
		appliedAt = st.AppliedAt
		return err == nil && st.Applied == rev3
	})
	h.waitRequests(h.requests() + 200)
	waitRuns(t, state, stack, appliedAt, 3*time.Second)
	sum := h.stop()
	t.Logf("the hammer saw %+v", sum)
	if sum.Failed != 0 {
		t.Errorf("%d of %d requests failed: %q", sum.Failed, sum.Requests, sum.Errors)
	}
	if sum.Versions["2"] != 0 || sum.Versions["1"] == 0 || sum.Versions["3"] == 0 {
		t.Errorf("versions served: %v; want 1 then 3, never 2", sum.Versions)
	}
	for rev, want := range map[string]int{rev1: 1, rev2: 1, rev3: 1} {
		if n := starts(rev); n != want {
			t.Errorf("the job of %s started %d times, want %d", shortRev(rev), n, want)
		}
	}
	jobRes, err := cli.ContainerInspect(t.Context(), stack+"-migrate-1", client.ContainerInspectOptions{})
	if err != nil || jobRes.Container.State.Running || jobRes.Container.State.ExitCode != 0 || jobRes.Container.Config.Labels["moor.revision"] != rev3 {
		t.Fatalf("release 3's job container is not kept, exited 0: %v %+v", err, jobRes.Container.State)
	}
	finished, _ := time.Parse(time.RFC3339Nano, jobRes.Container.State.FinishedAt)
	for name := range web() {
		res, err := cli.ContainerInspect(t.Context(), name, client.ContainerInspectOptions{})
		if err != nil || !contains(res.Container.Config.Env, "VERSION=3") {
			t.Errorf("%s after release 3: %v", name, err)
			continue
		}
		if created, _ := time.Parse(time.RFC3339Nano, res.Container.Created); !created.After(finished) {
			t.Errorf("%s created at %s, before its job finished at %s", name, created, finished)
		}
	}
	testkit.AssertAlive(t, bystander)
}

// shortRev is "main@abcdef1" for "main@sha1:abcdef1…".
func shortRev(rev string) string { return "main@" + strings.TrimPrefix(rev, "main@sha1:")[:7] }

// TestKillAtEveryJobStep kills moor with SIGKILL after every step of a
// job's run, then runs it again: the host converges to the release, with
// the job run exactly once for it (a run that started is not started
// again, one that did not start is run), its container kept exited 0, and
// web serving the release (invariant 6).
func TestKillAtEveryJobStep(t *testing.T) {
	t.Parallel() // its own binary, stack and state; it mostly waits on the engine
	cli := testkit.Docker(t)
	bin, err := buildMoorCrash()
	if err != nil {
		t.Fatal(err)
	}
	img := testkit.TestImage(t)
	// A name of its own each run, as in TestKillAtEveryStep.
	stack := fmt.Sprintf("%s-%04x", testkit.StackName(t), rand.IntN(1<<16))
	testkit.CleanupStack(t, stack)
	bystander := testkit.Unrelated(t, stack)
	repo := testkit.NewRepo(t)
	m := newMoor(t, repo.Dir, stack)
	starts := jobStarts(t, cli, stack)

	repo.Write(stack+"/compose.yaml", jobRelease(img, "0", 0))
	repo.Commit("release 0")
	m.mustApply()
	var killed []string
	for step := 1; step <= 5; step++ {
		v := fmt.Sprint(step)
		repo.Write(stack+"/compose.yaml", jobRelease(img, v, 0))
		rev := "main@sha1:" + repo.Commit("release "+v)
		at := fmt.Sprintf("run-job %s/migrate/1 #%d", stack, step)
		if steps := planSteps(t, m); !contains(steps, at) {
			t.Fatalf("the plan has no step %s: %v", at, steps)
		}
		cmd := exec.Command(bin, "apply", "--repo", repo.Dir, "--name", stack, "--state-dir", m.stateDir, "--log-level", "error")
		cmd.Env = append(os.Environ(), "MOOR_TEST_CRASH_AT="+at)
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("%s: moor was not killed at the step (err %v):\n%s", at, err, out)
		}
		killed = append(killed, at)

		m.mustApply()
		if code, out := m.run("plan", "--exit-code"); code != 0 {
			t.Fatalf("%s: not converged after the repair run:\n%s", at, out)
		}
		if n := starts(rev); n != 1 {
			t.Errorf("%s: the job of release %s started %d times, want once", at, v, n)
		}
		got := containers(t, cli, stack)
		if len(got) != 3 {
			t.Errorf("%s: containers %v, want migrate-1, web-1 and web-2", at, got)
		}
		for name := range got {
			res, err := cli.ContainerInspect(t.Context(), name, client.ContainerInspectOptions{})
			if err != nil || !contains(res.Container.Config.Env, "VERSION="+v) {
				t.Fatalf("%s: %s is not release %s: %v", at, name, v, err)
			}
			if job := name == stack+"-migrate-1"; job && (res.Container.State.Running || res.Container.State.ExitCode != 0) ||
				!job && !res.Container.State.Running {
				t.Errorf("%s: %s is %+v", at, name, res.Container.State)
			}
		}
	}
	t.Logf("killed at %v", killed)
	testkit.AssertAlive(t, bystander)
}
