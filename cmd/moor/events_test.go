package main

import (
	"errors"
	"fmt"
	"io/fs"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/moor-dev/moor/controller"
	"github.com/moor-dev/moor/internal/testkit"
)

// The tests of this file run `moor run` behind an engine proxy that counts
// its Engine API calls and can cut its stream of events.

// runBehind runs `moor run` on the stack's repository, with its engine
// behind proxy, until the test ends.
func runBehind(t *testing.T, proxy *testkit.EngineProxy, repo, stack, state string, args ...string) {
	t.Helper()
	startMoorEnv(t, []string{"DOCKER_HOST=" + proxy.Host()}, append([]string{"run", "--repo", repo, "--name", stack, "--state-dir", state,
		"--listen", "off", "--log-format", "json", "--log-level", "debug"}, args...)...)
}

// runStatus reads the source's status; nil before its first run.
func runStatus(t *testing.T, state, source string) *controller.Status {
	t.Helper()
	st, err := controller.ReadStatus(state, source)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// nextPoll waits for the source's next run (each one rewrites its status)
// and returns its status.
func nextPoll(t *testing.T, state, source string) *controller.Status {
	t.Helper()
	last := runStatus(t, state, source).LastRun
	var st *controller.Status
	testkit.Eventually(t, 20*time.Second, "the next poll", func() bool {
		st = runStatus(t, state, source)
		return st.LastRun.After(last)
	})
	return st
}

// engineCalls counts the requests other than for the stream of events.
func engineCalls(p *testkit.EngineProxy) int {
	n := 0
	for k, v := range p.Calls() {
		if k != "GET /events" {
			n += v
		}
	}
	return n
}

func isRunning(t *testing.T, cli *client.Client, name string) bool {
	t.Helper()
	res, err := cli.ContainerInspect(t.Context(), name, client.ContainerInspectOptions{})
	return err == nil && res.Container.State != nil && res.Container.State.Running
}

// converged waits until moor run has applied rev and follows the
// engine's events.
func converged(t *testing.T, proxy *testkit.EngineProxy, state, stack, rev string) {
	t.Helper()
	testkit.Eventually(t, 60*time.Second, "converged, the engine's events followed", func() bool {
		st := runStatus(t, state, stack)
		return st != nil && st.Applied == rev && proxy.Streams() == 1
	})
}

func twoServices(img string) string {
	// Restarted unless stopped: a container without a restart policy
	// that exits 0 is a one-shot job done, not drift.
	return fmt.Sprintf("services:\n  a:\n    image: %[1]s\n    restart: unless-stopped\n  b:\n    image: %[1]s\n    restart: unless-stopped\n", img)
}

// convergedBehindProxy deploys two services of a stack of its own with
// moor run behind a counting engine proxy, at the given poll and drift
// intervals, and waits until moor has converged and follows the engine's
// events.
func convergedBehindProxy(t *testing.T, interval, driftInterval string) (stack, state string, proxy *testkit.EngineProxy) {
	t.Helper()
	img := testkit.TestImage(t)
	stack = testkit.StackName(t)
	testkit.CleanupStack(t, stack)
	proxy = testkit.StartEngineProxy(t)
	repo := testkit.NewRepo(t)
	repo.Write(stack+"/compose.yaml", twoServices(img))
	rev := "main@sha1:" + repo.Commit("two services")
	state = t.TempDir()
	runBehind(t, proxy, repo.Dir, stack, state, "--interval", interval, "--drift-interval", driftInterval)
	converged(t, proxy, state, stack, rev)
	return stack, state, proxy
}

// TestRunPollsWithoutTheEngine: once converged, moor run's polls of an
// unchanged repository make no Engine API call; a container removed and
// another stopped by hand are repaired within seconds, through the
// engine's events, although the drift interval is an hour.
func TestRunPollsWithoutTheEngine(t *testing.T) {
	cli := testkit.Docker(t)
	stack, state, proxy := convergedBehindProxy(t, "1s", "1h")
	bystander := testkit.Unrelated(t, stack)

	// The drift check that follows the subscription may still be due:
	// then the polls after it are the quiet ones.
	var checked time.Time
	testkit.Eventually(t, 30*time.Second, "three polls in a row without an Engine API call", func() bool {
		calls, st := engineCalls(proxy), runStatus(t, state, stack)
		for range 3 {
			nextPoll(t, state, stack)
		}
		after := runStatus(t, state, stack)
		checked = after.LastDriftCheck
		return engineCalls(proxy) == calls && after.LastDriftCheck.Equal(st.LastDriftCheck) && after.Result == controller.ResultNoop
	})
	if checked.IsZero() {
		t.Error("the status shows no drift check")
	}

	ids := containers(t, cli, stack)
	ctx := t.Context()
	if _, err := cli.ContainerRemove(ctx, stack+"-a-1", client.ContainerRemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.ContainerStop(ctx, stack+"-b-1", client.ContainerStopOptions{}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	testkit.Eventually(t, 20*time.Second, "a-1 created and b-1 started again", func() bool {
		got := containers(t, cli, stack)
		return got[stack+"-a-1"] != "" && got[stack+"-a-1"] != ids[stack+"-a-1"] &&
			isRunning(t, cli, stack+"-a-1") && isRunning(t, cli, stack+"-b-1")
	})
	t.Logf("repaired %s after the change by hand", time.Since(start).Round(10*time.Millisecond))
	if got := containers(t, cli, stack); got[stack+"-b-1"] != ids[stack+"-b-1"] {
		t.Errorf("b-1 was replaced, want the same container started")
	}
	// The repair's run records its check once it has verified the host,
	// after the containers are back.
	testkit.Eventually(t, 20*time.Second, "the repair's drift check in the status", func() bool {
		return runStatus(t, state, stack).LastDriftCheck.After(checked)
	})
	testkit.AssertAlive(t, bystander)
}

// TestRunEventsAfterEngineReconnect: when the stream of events breaks (an
// engine restart), moor run subscribes again, checks for drift once it is
// back (a container removed meanwhile is created again), and follows the
// new stream, with a poll interval and a drift interval of an hour.
func TestRunEventsAfterEngineReconnect(t *testing.T) {
	cli := testkit.Docker(t)
	stack, _, proxy := convergedBehindProxy(t, "1h", "1h")
	ids := containers(t, cli, stack)
	ctx := t.Context()

	proxy.CutEvents()
	subscriptions := proxy.Calls()["GET /events"]
	testkit.Eventually(t, 20*time.Second, "moor asking for the events again", func() bool {
		return proxy.Calls()["GET /events"] > subscriptions
	})
	if _, err := cli.ContainerRemove(ctx, stack+"-a-1", client.ContainerRemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	proxy.RestoreEvents()
	testkit.Eventually(t, 60*time.Second, "a-1 created again once the events are back", func() bool {
		got := containers(t, cli, stack)
		return got[stack+"-a-1"] != "" && got[stack+"-a-1"] != ids[stack+"-a-1"] && isRunning(t, cli, stack+"-a-1") && proxy.Streams() == 1
	})

	if _, err := cli.ContainerStop(ctx, stack+"-b-1", client.ContainerStopOptions{}); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 20*time.Second, "b-1 started again through the new stream", func() bool {
		return isRunning(t, cli, stack+"-b-1")
	})
}

// TestRunDriftCheckOnSchedule: with events followed, the engine is still
// observed on the drift interval, and only then: the polls between two
// checks make no Engine API call.
func TestRunDriftCheckOnSchedule(t *testing.T) {
	t.Parallel() // its own stack, state and ports; it mostly waits on the engine
	testkit.Docker(t)
	stack, state, proxy := convergedBehindProxy(t, "1s", "3s")

	st := nextPoll(t, state, stack)
	lists := proxy.Calls()["GET /containers/json"]
	checks, polls, quiet := 0, 0, 0
	for checks < 3 {
		calls := engineCalls(proxy)
		next := nextPoll(t, state, stack)
		polls++
		switch {
		case next.LastDriftCheck.After(st.LastDriftCheck):
			checks++
			// Due 3s after the last one began; the times are the observes'.
			if gap := next.LastDriftCheck.Sub(st.LastDriftCheck); checks > 1 && gap < 2*time.Second {
				t.Errorf("drift checks %s apart, want about the 3s of the drift interval", gap)
			}
		case engineCalls(proxy) != calls:
			t.Fatalf("a poll between drift checks made %d Engine API calls", engineCalls(proxy)-calls)
		default:
			quiet++
		}
		st = next
		if polls > 30 {
			t.Fatalf("%d drift checks in %d polls, want one every 3s", checks, polls)
		}
	}
	if quiet == 0 {
		t.Errorf("every one of %d polls checked the engine", polls)
	}
	// The count taken after a status may already hold the next check's
	// list: only its growth is exact enough to assert.
	if got := proxy.Calls()["GET /containers/json"] - lists; got < checks-1 {
		t.Errorf("%d drift checks listed the containers %d times", checks, got)
	}
}
