package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/moor-dev/moor/internal/hammer"
	"github.com/moor-dev/moor/internal/testkit"
	"github.com/moor-dev/moor/ledger"
)

// The rollout tests replace the containers of a service while a client
// hammers it, and count what the client saw: the evidence that a
// start-first rollout drops no request, that a change whose new container
// never becomes healthy never gets traffic and leaves the old one serving,
// and how long a stop-first service is down.

// rolloutService is one web service of the test app for the rollout tests.
type rolloutService struct {
	replicas int
	port     int               // published on 127.0.0.1 when > 0 (stop-first)
	env      map[string]string // VERSION and the change's switches
}

func (s rolloutService) compose(img string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "services:\n  web:\n    image: %s\n    environment:\n", img)
	keys := make([]string, 0, len(s.env))
	for k := range s.env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "      %s: %q\n", k, s.env[k])
	}
	if s.port > 0 {
		fmt.Fprintf(&b, "    ports:\n      - \"127.0.0.1:%d:8080\"\n", s.port)
	}
	// The probe names port 8080, so a container that listens elsewhere
	// (PORT=9999) fails it. A probe a second and two retries: a healthy
	// container is ready after about a second, an unhealthy one is found
	// out after about two.
	b.WriteString(`    healthcheck:
      test: ["CMD", "/testapp", "health", "http://127.0.0.1:8080/health"]
      interval: 1s
      timeout: 1s
      retries: 2
    stop_grace_period: 5s
`)
	fmt.Fprintf(&b, "    deploy:\n      replicas: %d\n      update_config:\n        parallelism: 1\n", s.replicas)
	return b.String()
}

// hammerBox is `testapp hammer` running in a container on a stack's
// network, labelled so that CleanupStack removes it.
type hammerBox struct {
	t   testing.TB
	cli *client.Client
	id  string
}

// startHammerBox starts a hammer of url on the network of stack (which
// must exist: apply first).
func startHammerBox(t testing.TB, cli *client.Client, stack, url string) *hammerBox {
	t.Helper()
	netName := stack + "_default"
	nets, err := cli.NetworkList(t.Context(), client.NetworkListOptions{Filters: make(client.Filters).Add("label", "moor.stack="+stack)})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, n := range nets.Items {
		found = found || n.Name == netName
	}
	if !found {
		t.Fatalf("stack %s has no network %s", stack, netName)
	}
	created, err := cli.ContainerCreate(t.Context(), client.ContainerCreateOptions{
		Name: stack + "-hammer",
		Config: &container.Config{
			Image:  testkit.TestImage(t),
			Cmd:    []string{"hammer", url},
			Labels: map[string]string{testkit.LabelOwner: stack},
		},
		HostConfig: &container.HostConfig{NetworkMode: container.NetworkMode(netName)},
	})
	if err != nil {
		t.Fatalf("create hammer: %v", err)
	}
	if _, err := cli.ContainerStart(t.Context(), created.ID, client.ContainerStartOptions{}); err != nil {
		t.Fatalf("start hammer: %v", err)
	}
	return &hammerBox{t: t, cli: cli, id: created.ID}
}

var progressRE = regexp.MustCompile(`hammer: requests=(\d+) failed=(\d+) versions=(\{.*\})`)

// logs returns the hammer's stdout and stderr (the last tail lines of each;
// "all" for everything).
func (h *hammerBox) logs(tail string) (stdout, stderr string) {
	h.t.Helper()
	rc, err := h.cli.ContainerLogs(context.Background(), h.id, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Tail: tail})
	if err != nil {
		h.t.Fatalf("hammer logs: %v", err)
	}
	defer rc.Close()
	var out, errb bytes.Buffer
	if _, err := stdcopy.StdCopy(&out, &errb, rc); err != nil {
		h.t.Fatalf("hammer logs: %v", err)
	}
	return out.String(), errb.String()
}

// progress returns the hammer's last progress line: how many requests it
// made (to the last hundred), and the versions that answered them.
func (h *hammerBox) progress() (int, map[string]int) {
	h.t.Helper()
	_, stderr := h.logs("5")
	m := progressRE.FindAllStringSubmatch(stderr, -1)
	if len(m) == 0 {
		return 0, nil
	}
	last := m[len(m)-1]
	n, _ := strconv.Atoi(last[1])
	var versions map[string]int
	if err := json.Unmarshal([]byte(last[3]), &versions); err != nil {
		h.t.Fatalf("hammer progress %q: %v", last[0], err)
	}
	return n, versions
}

func (h *hammerBox) requests() int {
	n, _ := h.progress()
	return n
}

// waitRequests waits until the hammer made at least n requests and returns
// the versions that answered them (and maybe some more).
func (h *hammerBox) waitRequests(n int) map[string]int {
	h.t.Helper()
	var versions map[string]int
	testkit.Eventually(h.t, 30*time.Second, fmt.Sprintf("the hammer to make %d requests", n), func() bool {
		var got int
		got, versions = h.progress()
		return got >= n
	})
	return versions
}

// stop stops the hammer with SIGTERM and returns its summary.
func (h *hammerBox) stop() hammer.Summary {
	h.t.Helper()
	timeout := 10
	if _, err := h.cli.ContainerStop(h.t.Context(), h.id, client.ContainerStopOptions{Signal: "SIGTERM", Timeout: &timeout}); err != nil {
		h.t.Fatalf("stop hammer: %v", err)
	}
	res, err := h.cli.ContainerInspect(h.t.Context(), h.id, client.ContainerInspectOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	stdout, stderr := h.logs("all")
	if code := res.Container.State.ExitCode; code != 0 {
		h.t.Fatalf("hammer exited %d:\n%s%s", code, stdout, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	var sum hammer.Summary
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &sum); err != nil {
		h.t.Fatalf("hammer summary %q: %v", stdout, err)
	}
	return sum
}

// localHammer hammers a published port from the test process.
type localHammer struct {
	h      *hammer.Hammer
	cancel context.CancelFunc
	done   chan hammer.Summary
}

func startLocalHammer(t testing.TB, url string) *localHammer {
	ctx, cancel := context.WithCancel(context.Background())
	l := &localHammer{h: &hammer.Hammer{URL: url}, cancel: cancel, done: make(chan hammer.Summary, 1)}
	go func() { l.done <- l.h.Run(ctx) }()
	t.Cleanup(func() { l.stop() })
	return l
}

func (l *localHammer) stop() hammer.Summary {
	l.cancel()
	s := <-l.done
	l.done <- s // a second stop gets the same summary
	return s
}

// waitFor waits until the hammer's summary so far satisfies cond.
func (l *localHammer) waitFor(t testing.TB, msg string, cond func(hammer.Summary) bool) {
	t.Helper()
	testkit.Eventually(t, 30*time.Second, msg, func() bool { return cond(l.h.Summary()) })
}

// ledgerRecords reads `moor history --json` of stack.
func ledgerRecords(t testing.TB, m *moor, stack string) []ledger.Record {
	t.Helper()
	var out, errb bytes.Buffer
	if code := run(t.Context(), []string{"history", "--json", "-n", "0", "--stack", stack, "--state-dir", m.stateDir}, &out, &errb); code != 0 {
		t.Fatalf("moor history exited %d: %s", code, errb.String())
	}
	var recs []ledger.Record
	if err := json.Unmarshal(out.Bytes(), &recs); err != nil {
		t.Fatalf("moor history --json: %v\n%s", err, out.String())
	}
	return recs
}

// failedOps returns the ledger's failed ops on resource (stack/service/N).
func failedOps(recs []ledger.Record, resource string) []ledger.OpResult {
	var out []ledger.OpResult
	for _, r := range recs {
		for _, op := range r.Ops {
			if op.Result == "failed" && strings.Contains(op.Op, " "+resource+" ") {
				out = append(out, op)
			}
		}
	}
	return out
}

// statusLine returns the line of `moor status` about stack/service.
func statusLine(t testing.TB, m *moor, stack, service string) string {
	t.Helper()
	code, out := m.run("status")
	if code != 0 {
		t.Fatalf("moor status exited %d", code)
	}
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == stack+"/"+service {
			return line
		}
	}
	t.Fatalf("moor status has no line for %s/%s:\n%s", stack, service, out)
	return ""
}

// TestRolloutStartFirstDropsNothing: a healthy change rolled out start-first
// (the default without a published port), replica by replica, while a
// client on the stack's network hammers the service by its name: no
// request fails, the client sees the old version and then the new one, and
// every replica runs a new container.
func TestRolloutStartFirstDropsNothing(t *testing.T) {
	cli := testkit.Docker(t)
	img := testkit.TestImage(t)
	stack := testkit.StackName(t)
	testkit.CleanupStack(t, stack)
	bystander := testkit.Unrelated(t, stack)
	repo := testkit.NewRepo(t)
	m := newMoor(t, repo.Dir, stack)

	svc := rolloutService{replicas: 2, env: map[string]string{"VERSION": "1"}}
	repo.Write(stack+"/compose.yaml", svc.compose(img))
	repo.Commit("v1")
	m.mustApply()
	before := containers(t, cli, stack)
	if len(before) != 2 {
		t.Fatalf("containers after the first deploy: %v", before)
	}

	h := startHammerBox(t, cli, stack, "http://web:8080/")
	h.waitRequests(100)

	svc.env["VERSION"] = "2"
	repo.Write(stack+"/compose.yaml", svc.compose(img))
	repo.Commit("v2")
	started := time.Now()
	m.mustApply()
	took := time.Since(started)
	// Progress lines come every 100 requests: every request after the
	// line at (last line after the apply) + 200 began after the apply
	// returned, and must be answered by v2.
	settled := h.waitRequests(h.requests() + 200)
	h.waitRequests(h.requests() + 200)
	sum := h.stop()
	t.Logf("start-first rollout of 2 replicas took %s; the hammer saw %+v", took.Round(time.Millisecond), sum)
	if sum.Versions["1"] != settled["1"] {
		t.Errorf("v1 answered %d requests after the rollout had finished", sum.Versions["1"]-settled["1"])
	}

	if sum.Failed != 0 {
		t.Errorf("%d of %d requests failed during a start-first rollout (longest outage %s): %q", sum.Failed, sum.Requests, sum.LongestOutage(), sum.Errors)
	}
	if sum.Versions["1"] == 0 || sum.Versions["2"] == 0 || sum.Versions["1"]+sum.Versions["2"] != sum.Requests-sum.Failed {
		t.Errorf("versions served: %v of %d requests; want both 1 and 2 and nothing else", sum.Versions, sum.Requests)
	}
	after := containers(t, cli, stack)
	for name, id := range before {
		if after[name] == "" || after[name] == id {
			t.Errorf("%s was not replaced: %s -> %s", name, rolloutShort(id), rolloutShort(after[name]))
		}
	}
	if len(after) != len(before) {
		t.Errorf("containers after the rollout: %v, want exactly %v's names", after, before)
	}
	if code, out := m.run("plan", "--exit-code"); code != exitOK {
		t.Errorf("not converged after the rollout:\n%s", out)
	}
	testkit.AssertAlive(t, bystander)
}

// unhealthyChanges are changes whose new container never passes its
// healthcheck: one that answers its health endpoint with 500, one that
// does not listen on the service's port at all (it would fail every request
// that reached it).
var unhealthyChanges = []struct {
	name   string
	env    map[string]string
	reason string // in the ledger's and status's reason
}{
	{"health-500", map[string]string{"UNHEALTHY": "1"}, "status 500"},
	{"not-listening", map[string]string{"PORT": "9999"}, "connection refused"},
}

// TestRolloutStartFirstUnhealthyNeverServes: a start-first change whose new
// container never becomes healthy. While a client hammers the service, the
// apply fails, the new container never gets a request (no answer from the
// new version, no failed request), the old containers keep their IDs, and
// status and the ledger say why. Another apply at the same revision tries
// again, with the same outcome.
func TestRolloutStartFirstUnhealthyNeverServes(t *testing.T) {
	for _, change := range unhealthyChanges {
		t.Run(change.name, func(t *testing.T) {
			cli := testkit.Docker(t)
			img := testkit.TestImage(t)
			stack := testkit.StackName(t)
			testkit.CleanupStack(t, stack)
			bystander := testkit.Unrelated(t, stack)
			repo := testkit.NewRepo(t)
			m := newMoor(t, repo.Dir, stack)

			svc := rolloutService{replicas: 2, env: map[string]string{"VERSION": "1"}}
			repo.Write(stack+"/compose.yaml", svc.compose(img))
			good := repo.Commit("v1")
			m.mustApply()
			before := containers(t, cli, stack)

			h := startHammerBox(t, cli, stack, "http://web:8080/")
			h.waitRequests(100)

			svc.env = map[string]string{"VERSION": "2"}
			for k, v := range change.env {
				svc.env[k] = v
			}
			repo.Write(stack+"/compose.yaml", svc.compose(img))
			bad := repo.Commit("v2, " + change.name)
			started := time.Now()
			code, out := m.run("apply")
			took := time.Since(started)
			if code == 0 {
				t.Fatalf("apply of a change that never becomes healthy exited 0:\n%s", out)
			}
			// The retry: an explicit apply tries the failing change again.
			if code, out := m.run("apply"); code == 0 || strings.Contains(out, "held back") {
				t.Fatalf("second apply at the failing revision: exit %d, want a new failed attempt:\n%s", code, out)
			}
			h.waitRequests(h.requests() + 200)
			sum := h.stop()
			t.Logf("failed start-first rollout took %s; the hammer saw %+v", took.Round(time.Millisecond), sum)

			if sum.Failed != 0 {
				t.Errorf("%d of %d requests failed while an unhealthy candidate came and went: %q", sum.Failed, sum.Requests, sum.Errors)
			}
			if sum.Versions["2"] != 0 || sum.Versions["1"] != sum.Requests-sum.Failed {
				t.Errorf("versions served: %v of %d requests; the never-ready v2 must get none", sum.Versions, sum.Requests)
			}
			// A candidate that does not listen would show up here even
			// when the dialer fell back to the name's other address.
			if sum.AddressDialFailures != 0 {
				t.Errorf("%d connection attempts failed, so the name pointed at a container that was not serving: %q", sum.AddressDialFailures, sum.AddressDialErrors)
			}
			if after := containers(t, cli, stack); !equalMaps(before, after) {
				t.Errorf("the old containers were not kept: %v -> %v", before, after)
			}
			for name := range before {
				res, err := cli.ContainerInspect(t.Context(), name, client.ContainerInspectOptions{})
				if err != nil || !res.Container.State.Running || !contains(res.Container.Config.Env, "VERSION=1") {
					t.Errorf("%s after the failed rollout: %v %+v", name, err, res.Container.State)
				}
			}

			line := statusLine(t, m, stack, "web")
			for _, want := range []string{"degraded", "running main@" + good[:7], "main@" + bad[:7] + " failed", "unhealthy", change.reason} {
				if !strings.Contains(line, want) {
					t.Errorf("status lacks %q:\n%s", want, line)
				}
			}
			if _, history := m.run("history", "--stack", stack); !strings.Contains(history, "failed  replace "+stack+"/web/1") || !strings.Contains(history, change.reason) {
				t.Errorf("moor history does not show the failed replace and why:\n%s", history)
			}
			failed := failedOps(ledgerRecords(t, m, stack), stack+"/web/1")
			if len(failed) != 2 {
				t.Fatalf("the ledger has %d failed replaces of web/1, want one per apply: %+v", len(failed), failed)
			}
			for _, op := range failed {
				for _, want := range []string{"new container is unhealthy", "health check said", change.reason, "old container restored"} {
					if !strings.Contains(op.Error, want) {
						t.Errorf("ledger error lacks %q: %s", want, op.Error)
					}
				}
			}
			testkit.AssertAlive(t, bystander)
		})
	}
}

// TestRolloutStopFirstUnhealthyComesBack: a stop-first change (the default
// when a host port is published) whose new container never becomes
// healthy, hammered from the host through the published port. The old
// container has to stop before the new one can bind the port, so there is
// downtime: it is measured and logged. The apply fails, the old container
// (same ID) serves the old version again, and status and the ledger say
// why.
func TestRolloutStopFirstUnhealthyComesBack(t *testing.T) {
	for _, change := range unhealthyChanges {
		t.Run(change.name, func(t *testing.T) {
			cli := testkit.Docker(t)
			img := testkit.TestImage(t)
			stack := testkit.StackName(t)
			testkit.CleanupStack(t, stack)
			bystander := testkit.Unrelated(t, stack)
			repo := testkit.NewRepo(t)
			m := newMoor(t, repo.Dir, stack)
			port := testkit.FreePort(t)
			url := fmt.Sprintf("http://127.0.0.1:%d/", port)

			svc := rolloutService{replicas: 1, port: port, env: map[string]string{"VERSION": "1"}}
			repo.Write(stack+"/compose.yaml", svc.compose(img))
			good := repo.Commit("v1")
			m.mustApply()
			before := containers(t, cli, stack)
			get(t, url)

			h := startLocalHammer(t, url)
			h.waitFor(t, "100 requests", func(s hammer.Summary) bool { return s.Requests >= 100 })
			if s := h.h.Summary(); s.Failed != 0 {
				t.Fatalf("requests failed before the change: %+v", s)
			}

			svc.env = map[string]string{"VERSION": "2"}
			for k, v := range change.env {
				svc.env[k] = v
			}
			repo.Write(stack+"/compose.yaml", svc.compose(img))
			bad := repo.Commit("v2, " + change.name)
			started := time.Now()
			code, out := m.run("apply")
			took := time.Since(started)
			if code == 0 {
				t.Fatalf("apply of a change that never becomes healthy exited 0:\n%s", out)
			}
			// Back on the old version: 100 more answers of v1 after the apply.
			v1 := h.h.Summary().Versions["1"]
			h.waitFor(t, "100 answers from v1 after the apply", func(s hammer.Summary) bool { return s.Versions["1"] >= v1+100 })
			sum := h.stop()
			t.Logf("stop-first failed rollout (%s) took %s; downtime (longest run of failed requests) %s; %d of %d requests failed; versions %v; the hammer saw %+v",
				change.name, took.Round(time.Millisecond), sum.LongestOutage(), sum.Failed, sum.Requests, sum.Versions, sum)

			if sum.Failed == 0 || sum.LongestOutageMS <= 0 {
				t.Errorf("no downtime measured, but stop-first stops the old container first: %+v", sum)
			}
			if sum.LongestOutage() > 20*time.Second {
				t.Errorf("downtime %s: the old container was not restored promptly", sum.LongestOutage())
			}
			if change.env["PORT"] != "" && sum.Versions["2"] != 0 {
				t.Errorf("a v2 that does not listen answered %d requests", sum.Versions["2"])
			}
			if body := get(t, url); !strings.Contains(body, "version=1") {
				t.Errorf("after the failed rollout the service answers %q", body)
			}
			if after := containers(t, cli, stack); !equalMaps(before, after) {
				t.Errorf("the old container was not restored: %v -> %v", before, after)
			}

			line := statusLine(t, m, stack, "web")
			for _, want := range []string{"degraded", "running main@" + good[:7], "main@" + bad[:7] + " failed", "unhealthy", change.reason} {
				if !strings.Contains(line, want) {
					t.Errorf("status lacks %q:\n%s", want, line)
				}
			}
			failed := failedOps(ledgerRecords(t, m, stack), stack+"/web/1")
			if len(failed) != 1 {
				t.Fatalf("the ledger has %d failed replaces of web/1, want 1: %+v", len(failed), failed)
			}
			for _, want := range []string{"new container is unhealthy", "health check said", change.reason, "old container restored"} {
				if !strings.Contains(failed[0].Error, want) {
					t.Errorf("ledger error lacks %q: %s", want, failed[0].Error)
				}
			}
			testkit.AssertAlive(t, bystander)
		})
	}
}

func rolloutShort(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
