package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moor-dev/moor/config"
	"github.com/moor-dev/moor/controller"
	"github.com/moor-dev/moor/internal/testkit"
)

// moorProcess is a moor run started by runFromConfig.
type moorProcess struct {
	cmd  *exec.Cmd
	addr string
	logs *syncBuffer
}

// runFromConfig writes the config file fmt.Sprintf(cfg, args...) and runs
// moor run on it until the test ends; its log is shown if the test fails.
func runFromConfig(t *testing.T, cfg string, args ...any) *moorProcess {
	t.Helper()
	bin, err := buildMoor()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "moor.yaml")
	if err := os.WriteFile(file, []byte(fmt.Sprintf(cfg, args...)), 0o600); err != nil {
		t.Fatal(err)
	}
	p := &moorProcess{logs: &syncBuffer{}}
	p.cmd = exec.Command(bin, "run", "--config", file, "--log-format", "json")
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("moor run log:\n%s", p.logs.String())
		}
	})
	return p
}

// proc reads a figure of moor's process: its resident memory in KiB
// (VmRSS) and its open file descriptors.
func (p *moorProcess) proc(t *testing.T) (rssKiB int, fds int) {
	t.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`VmRSS:\s+(\d+) kB`).FindSubmatch(status)
	if m == nil {
		t.Fatalf("no VmRSS in /proc/%d/status", p.cmd.Process.Pid)
	}
	rssKiB, _ = strconv.Atoi(string(m[1]))
	entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", p.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	return rssKiB, len(entries)
}

// metric sums the samples of a counter or gauge on moor's /metrics whose
// line starts with prefix (a name, with labels if given).
func metric(t *testing.T, addr, prefix string) float64 {
	t.Helper()
	code, body, err := testkit.HTTPGet("http://" + addr + "/metrics")
	if err != nil || code != 200 {
		t.Fatalf("/metrics: %d %v", code, err)
	}
	sum := 0.0
	for _, line := range strings.Split(body, "\n") {
		if !strings.HasPrefix(line, prefix) {
			continue
		}
		fields := strings.Fields(line)
		v, err := strconv.ParseFloat(fields[len(fields)-1], 64)
		if err != nil {
			t.Fatalf("/metrics: %q: %v", line, err)
		}
		sum += v
	}
	return sum
}

// signedGeneric is a generic webhook of body, signed with secret.
func signedGeneric(t *testing.T, url, secret, body string) *http.Request {
	t.Helper()
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(body))
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Moor-Signature", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	return req
}

// TestRunSurvivesHostileClients: two thousand webhooks that send 768 KiB
// of a 1 MiB body and stall, and four thousand connections that send
// nothing, each connecting again a second after moor closes it, against a
// real moor run that polls a remote repository every second. While they
// hold on: /healthz answers the probes (each on a new connection) within
// two seconds, never missing two in a row nor more than one in twenty (a
// probe whose connection lands while the machine is starved can be the
// one closed to make room), moor's resident memory and open files stay
// bounded, and a commit pushed meanwhile is deployed.
//
// The flood needs some 6,300 descriptors in the test process, which
// testkit.Flood makes sure of; the 21,000 idle connections that once took
// all of moor's descriptors would not fit under this machine's limit of
// 20,000, and need not: moor holds 256 whatever the number.
func TestRunSurvivesHostileClients(t *testing.T) {
	cli := testkit.Docker(t)
	img := testkit.TestImage(t)
	stack := testkit.StackName(t)
	testkit.CleanupStack(t, stack)
	repo := testkit.NewRepo(t)
	repo.Write(stack+"/compose.yaml", workerCompose(img, "1"))
	repo.Commit("v1")
	root := t.TempDir()
	bare := filepath.Join(root, "deploy.git")
	repo.Git("clone", "--quiet", "--bare", repo.Dir, bare)
	git := testkit.GitHTTP(t, root, "", "")
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "secret"), []byte("s3cret\n"), 0o600)
	port := testkit.FreePort(t)
	p := runFromConfig(t, `state_dir: %s
listen: 127.0.0.1:%d
sources:
  - name: %s
    repo: %s
    interval: 1s
    webhook:
      secret_file: %s
`, filepath.Join(dir, "state"), port, stack, git.URL("deploy.git"), filepath.Join(dir, "secret"))
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	worker := stack + "-worker-1"
	testkit.Eventually(t, 30*time.Second, "v1 deployed", func() bool { return containers(t, cli, stack)[worker] != "" })
	first := containers(t, cli, stack)[worker]
	rssBefore, fdsBefore := p.proc(t)

	flood := &testkit.Flood{
		Addr: addr, Path: "/hooks/generic/" + stack, SlowBodies: 2000, Idle: 4000, Pause: time.Second,
		Headers:  []string{"X-Moor-Signature: sha256=" + strings.Repeat("0", 64)},
		BodySize: 1 << 20, BodySent: 768 << 10, PieceEvery: 100 * time.Millisecond,
	}
	flood.Start(t)

	health := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	var latencies []time.Duration
	missed, lastMissed := 0, false
	rssPeak, fdsPeak := rssBefore, fdsBefore
	pushed, deployed := false, false
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	start := time.Now()
	for ; time.Since(start) < 8*time.Second || !deployed; <-tick.C {
		if time.Since(start) > 40*time.Second {
			t.Fatalf("v2, pushed under the flood, not deployed after 40s (%s)", flood.Stats())
		}
		t0 := time.Now()
		res, err := health.Get("http://" + addr + "/healthz")
		if err != nil {
			// A health checker takes a miss and asks again; two in a row
			// would mark moor down.
			missed++
			t.Logf("/healthz under the flood (%s): %v", flood.Stats(), err)
			if lastMissed {
				t.Fatalf("/healthz missed twice in a row under the flood (%s): %v", flood.Stats(), err)
			}
			lastMissed = true
			continue
		}
		lastMissed = false
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("/healthz under the flood: %s", res.Status)
		}
		latencies = append(latencies, time.Since(t0))
		rss, fds := p.proc(t)
		rssPeak, fdsPeak = max(rssPeak, rss), max(fdsPeak, fds)
		if !pushed && time.Since(start) > 2*time.Second {
			repo.Write(stack+"/compose.yaml", workerCompose(img, "2"))
			repo.Commit("v2")
			repo.Git("push", "--quiet", bare, "main")
			pushed = true
		}
		if pushed && !deployed {
			id := containers(t, cli, stack)[worker]
			deployed = id != "" && id != first
		}
	}
	stats := flood.Stats()
	slices.Sort(latencies)
	t.Logf("flood: %s", stats)
	t.Logf("/healthz: %d probes answered, %d missed, median %s, slowest %s", len(latencies), missed, latencies[len(latencies)/2], latencies[len(latencies)-1])
	if missed*20 > len(latencies) {
		t.Errorf("/healthz missed %d of %d probes under the flood, want at most one in twenty", missed, missed+len(latencies))
	}
	t.Logf("moor's RSS: %.1f MiB before, %.1f MiB at most under the flood; open files: %d before, %d at most",
		float64(rssBefore)/1024, float64(rssPeak)/1024, fdsBefore, fdsPeak)
	t.Logf("v2 deployed %s after the flood began", time.Since(start).Round(100*time.Millisecond))
	// Bodies hold at most 2 MiB, and each of 256 connections a few KiB
	// (with its goroutine): tens of MiB at most, not the gigabytes of
	// buffered bodies.
	if grew := rssPeak - rssBefore; grew > 100<<10 {
		t.Errorf("moor's RSS grew by %.1f MiB under the flood, want under 100 MiB", float64(grew)/1024)
	}
	if fdsPeak > fdsBefore+config.DefaultMaxConnections+16 {
		t.Errorf("moor had %d files open under the flood (%d before), want at most %d more", fdsPeak, fdsBefore, config.DefaultMaxConnections+16)
	}
	if evicted := metric(t, addr, "moor_http_connections_evicted_total"); evicted == 0 {
		t.Error("no connection was closed to make room")
	}
}

// TestWebhookReplaysAreRateLimited: valid (replayed) webhooks sent one
// after another for two seconds cost moor a run or two, not one each; a
// hook after the gap deploys a new commit at once. /status takes the API
// token from api.token_file.
func TestWebhookReplaysAreRateLimited(t *testing.T) {
	cli := testkit.Docker(t)
	img := testkit.TestImage(t)
	stack := testkit.StackName(t)
	testkit.CleanupStack(t, stack)
	repo := testkit.NewRepo(t)
	repo.Write(stack+"/compose.yaml", workerCompose(img, "1"))
	repo.Commit("v1")
	root := t.TempDir()
	bare := filepath.Join(root, "deploy.git")
	repo.Git("clone", "--quiet", "--bare", repo.Dir, bare)
	git := testkit.GitHTTP(t, root, "", "")
	dir := t.TempDir()
	const secret, token = "s3cret", "0123456789abcdef0123456789abcdef"
	os.WriteFile(filepath.Join(dir, "secret"), []byte(secret), 0o600)
	os.WriteFile(filepath.Join(dir, "token"), []byte(token+"\n"), 0o600)
	port := testkit.FreePort(t)
	runFromConfig(t, `state_dir: %s
listen: 127.0.0.1:%d
api:
  token_file: %s
sources:
  - name: %s
    repo: %s
    interval: 1h
    webhook:
      secret_file: %s
`, filepath.Join(dir, "state"), port, filepath.Join(dir, "token"), stack, git.URL("deploy.git"), filepath.Join(dir, "secret"))
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	worker := stack + "-worker-1"
	testkit.Eventually(t, 30*time.Second, "v1 deployed", func() bool { return containers(t, cli, stack)[worker] != "" })
	first := containers(t, cli, stack)[worker]
	runs := func() float64 { return metric(t, addr, "moor_runs_total{") }
	testkit.Eventually(t, 10*time.Second, "the startup run counted", func() bool { return runs() == 1 })

	hook := "http://" + addr + "/hooks/generic/" + stack
	body := `{"ref": "refs/heads/main"}`
	t0 := time.Now()
	sent := 0
	for ; time.Since(t0) < 2*time.Second; sent++ {
		res, err := http.DefaultClient.Do(signedGeneric(t, hook, secret, body))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusAccepted {
			t.Fatalf("a valid hook: %s", res.Status)
		}
	}
	burst := time.Since(t0)
	// Every run the burst may cause starts within two gaps of its end
	// (the last hooks may wait for a run in flight, then for the gap
	// after it): what is counted then is all it cost.
	select {
	case <-time.After(2*controller.TriggerGap + time.Second):
	case <-t.Context().Done():
	}
	fromBurst := runs() - 1
	// One run a gap after the startup run, and one more for every gap the
	// burst lasted; each hook that came during a run waits for the next.
	limit := float64(int(burst/controller.TriggerGap) + 2)
	t.Logf("%d valid hooks in %s cost %.0f runs (at most %.0f allowed)", sent, burst.Round(time.Millisecond), fromBurst, limit)
	if fromBurst < 1 || fromBurst > limit {
		t.Errorf("%d hooks in %s cost %.0f runs, want 1 to %.0f", sent, burst, fromBurst, limit)
	}

	// After the gap, a push with its hook deploys at once; the interval is
	// an hour.
	repo.Write(stack+"/compose.yaml", workerCompose(img, "2"))
	repo.Commit("v2")
	repo.Git("push", "--quiet", bare, "main")
	before := runs()
	res, err := http.DefaultClient.Do(signedGeneric(t, hook, secret, body))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	hooked := time.Now()
	testkit.Eventually(t, 30*time.Second, "v2 deployed by the hook", func() bool {
		id := containers(t, cli, stack)[worker]
		return id != "" && id != first
	})
	t.Logf("the hook after the gap deployed v2 in %s", time.Since(hooked).Round(time.Millisecond))
	testkit.Eventually(t, 30*time.Second, "the hook's run counted", func() bool { return runs() > before })
	if got := runs() - before; got != 1 {
		t.Errorf("%.0f runs for one hook, want 1", got)
	}

	// The token from the file opens /status in full; a wrong one is refused.
	for auth, want := range map[string]int{"": 200, "Bearer " + token: 200, "Bearer " + strings.Repeat("0", 32): 401} {
		req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/status", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		b.ReadFrom(res.Body)
		res.Body.Close()
		if res.StatusCode != want {
			t.Errorf("/status with Authorization %q: %d %s, want %d", auth, res.StatusCode, b.String(), want)
		}
	}
}
