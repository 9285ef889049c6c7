package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// pollLayout is the host `moor run` polls while unchanged.
var pollLayout = layout{label: "unchanged poll in `moor run`, 100 services in 1 stack", key: "poll", stacks: 1, per: 100}

// pollResult is what `moor run` costs per unchanged poll.
type pollResult struct {
	window     time.Duration
	polls      int           // runs over the window, from moor_run_duration_seconds_count
	noops      int           // of which moor_runs_total says result=noop
	perPoll    time.Duration // moor_run_duration_seconds_sum over the window ÷ polls
	calls      counts        // Engine API requests over the window
	floor      []sample      // one list of the stack's containers
	interval   string
	services   int
	metricsURL string
}

// pollIdle runs `moor run` at a 1s interval on a converged host whose
// repository does not change and reads, over -poll, how many runs it made
// and how long they took (its own /metrics: the run duration histogram's
// sum and count) and how many Engine API requests it made (the proxy).
func (b *bench) pollIdle(ctx context.Context) error {
	res := pollResult{interval: "1s", services: pollLayout.services()}
	r, err := b.newRepo(ctx, pollLayout.key)
	if err != nil {
		return err
	}
	dir := b.dirs(pollLayout)[0]
	if err := r.write(dir, plainServices(b.image, 0, pollLayout.per, func(int) string { return "0" })); err != nil {
		return err
	}
	if err := r.commit(ctx, pollLayout.label); err != nil {
		return err
	}
	state, err := b.dir("state")
	if err != nil {
		return err
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	source := b.name("poll")
	res.metricsURL = fmt.Sprintf("http://127.0.0.1:%d/metrics", port)
	b.logf("unchanged polls: %d services, interval %s, watched for %s", res.services, res.interval, b.opt.poll)
	d, err := b.startDaemon("unix://"+b.proxy.path, "run", "--repo", r.dir, "--name", source,
		"--state-dir", state, "--interval", res.interval, "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--log-format", "json")
	if err != nil {
		return err
	}
	defer d.stop()
	if _, err := d.waitApplied(ctx, 0, 5*time.Minute); err != nil {
		return err
	}
	if _, err := b.waitRunning(ctx, res.services, time.Minute, dir); err != nil {
		return err
	}
	// The first unchanged polls: caches filled, connections open.
	if err := sleep(ctx, 3*time.Second); err != nil {
		return err
	}
	m0, err := runMetrics(ctx, res.metricsURL, source)
	if err != nil {
		return err
	}
	c0 := b.proxy.snapshot()
	start := time.Now()
	if err := sleep(ctx, b.opt.poll); err != nil {
		return err
	}
	m1, err := runMetrics(ctx, res.metricsURL, source)
	if err != nil {
		return err
	}
	res.calls = b.proxy.snapshot().minus(c0)
	res.window = time.Since(start)
	res.polls = int(m1.count - m0.count)
	res.noops = int(m1.noops - m0.noops)
	if res.polls == 0 {
		return fmt.Errorf("moor run made no run in %s at an interval of %s:\n%s", res.window, res.interval, d.log())
	}
	res.perPoll = time.Duration((m1.sum - m0.sum) / float64(res.polls) * float64(time.Second))
	if n := d.applied(); n != 1 {
		return fmt.Errorf("moor run applied %d times on an unchanged repository:\n%s", n, d.log())
	}
	cli, err := b.floorClient(ctx)
	if err != nil {
		return err
	}
	defer cli.Close()
	for range b.opt.reps {
		s, err := b.floorList(ctx, cli, []string{dir})
		if err != nil {
			return err
		}
		res.floor = append(res.floor, s)
	}
	b.rep.poll = &res
	return nil
}

// runStats are the run metrics of one source at one moment.
type runStats struct {
	sum          float64 // seconds
	count, noops float64
}

// runMetrics reads moor_run_duration_seconds_{sum,count} and
// moor_runs_total{result="noop"} of source from moor's /metrics.
func runMetrics(ctx context.Context, url, source string) (runStats, error) {
	var st runStats
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return st, err
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return st, fmt.Errorf("metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("metrics: %s", resp.Status)
	}
	src := `source="` + source + `"`
	found := 0
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		name, rest, ok := strings.Cut(line, "{")
		if !ok || !strings.Contains(rest, src) {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		switch {
		case name == "moor_run_duration_seconds_sum":
			st.sum = v
			found++
		case name == "moor_run_duration_seconds_count":
			st.count = v
			found++
		case name == "moor_runs_total" && strings.Contains(rest, `result="noop"`):
			st.noops = v
		}
	}
	if err := sc.Err(); err != nil {
		return st, fmt.Errorf("metrics: %w", err)
	}
	if found != 2 {
		return st, fmt.Errorf("metrics: no moor_run_duration_seconds of %s at %s", source, url)
	}
	return st, nil
}
