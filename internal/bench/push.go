package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// pushResult is the latency from a commit reaching the repository moor
// follows to the new container answering with the new value, per commit.
type pushResult struct {
	trigger string
	latency []time.Duration
	// stages are the stages of each deploy's run, as moor logged them
	// (milliseconds by stage name).
	stages []map[string]float64
}

// A trigger is how moor learns of a new commit.
type trigger int

const (
	triggerPoll    trigger = iota // an HTTP remote, polled every second
	triggerWebhook                // an HTTP remote, a generic webhook after each push, interval 1h
	triggerWatch                  // a repository on this host, watched, interval 1h
)

func (t trigger) String() string {
	switch t {
	case triggerPoll:
		return "poll every 1s (smart HTTP remote)"
	case triggerWebhook:
		return "generic webhook sent after the push, interval 1h (smart HTTP remote)"
	default:
		return "local repository, watched (commit in its working tree), interval 1h"
	}
}

const pushSecret = "moor-bench-secret"

// push measures push-to-deploy latency of `moor run` for each trigger.
// The service publishes a port, so each deploy is a stop-first
// replacement.
func (b *bench) push(ctx context.Context) error {
	root, err := b.dir("remotes")
	if err != nil {
		return err
	}
	srv, err := startGitServer(root)
	if err != nil {
		return err
	}
	defer srv.close()
	for _, t := range []trigger{triggerPoll, triggerWebhook, triggerWatch} {
		if err := b.cleanup(ctx); err != nil {
			return err
		}
		res, err := b.pushOf(ctx, srv, t)
		if err != nil {
			return fmt.Errorf("%s: %w", t, err)
		}
		b.rep.push = append(b.rep.push, res)
	}
	if err := b.cleanup(ctx); err != nil {
		return err
	}
	res, err := b.pushFloor(ctx)
	if err != nil {
		return fmt.Errorf("Engine floor: %w", err)
	}
	b.rep.pushFloor = &res
	return nil
}

// pushFloor measures the Engine floor of a commit reaching the service:
// the web service deployed by `moor apply`, then replaced -pushes times by
// the bench itself as moor replaces it (create new, stop old, start new),
// each timed from the create to the port answering the new VERSION, with
// the port probed from before the create as in moor's figures.
func (b *bench) pushFloor(ctx context.Context) (pushResult, error) {
	res := pushResult{trigger: "Engine floor: create new, stop old, start new, until the port answers"}
	defer b.cleanup(context.WithoutCancel(ctx))
	dir := b.name("push")
	// The engine's own socket, as moor run's in this part.
	f, port, err := b.floorWeb(ctx, b.cli, "push", dir)
	if err != nil {
		return res, err
	}
	for i := 1; i <= b.opt.pushes; i++ {
		b.logf("push to deploy, Engine floor, %d/%d", i, b.opt.pushes)
		v := strconv.Itoa(i)
		// Requests go on through the swap, as they do while moor
		// deploys: one that finds no container between the stop and the
		// start leaves the host's neighbour entry for the address
		// unresolved, and the new container, which gets the old one's
		// address, is reached only when the kernel asks again.
		type servedAt struct {
			at  time.Time
			err error
		}
		probe := make(chan servedAt, 1)
		go func() {
			at, err := waitServes(ctx, port, v, time.Minute)
			probe <- servedAt{at, err}
		}()
		start, err := f.replace(ctx, v)
		if err != nil {
			return res, err
		}
		served := <-probe
		if served.err != nil {
			return res, served.err
		}
		res.latency = append(res.latency, served.at.Sub(start))
		if err := f.removeRetired(ctx); err != nil {
			return res, err
		}
	}
	return res, nil
}

func (b *bench) pushOf(ctx context.Context, srv *gitServer, t trigger) (pushResult, error) {
	res := pushResult{trigger: t.String()}
	defer b.cleanup(context.WithoutCancel(ctx))
	dir := b.name("push")
	source := b.name("push")
	r, port, err := b.webRepo(ctx, "push", dir)
	if err != nil {
		return res, err
	}
	url, bare := r.dir, ""
	if t != triggerWatch {
		if url, bare, err = srv.bare(ctx, fmt.Sprintf("deploy-%d", t)); err != nil {
			return res, err
		}
		if err := r.push(ctx, bare); err != nil {
			return res, err
		}
	}
	state, err := b.dir("state")
	if err != nil {
		return res, err
	}
	interval := "1h"
	if t == triggerPoll {
		interval = "1s"
	}
	args := []string{"run", "--repo", url, "--name", source, "--state-dir", state,
		"--interval", interval, "--listen", "off", "--log-format", "json"}
	var hookURL string
	if t == triggerWebhook {
		hookPort, err := freePort()
		if err != nil {
			return res, err
		}
		cfg, err := writeHookConfig(state, url, source, hookPort)
		if err != nil {
			return res, err
		}
		args = []string{"run", "--config", cfg}
		hookURL = fmt.Sprintf("http://127.0.0.1:%d/hooks/generic/%s", hookPort, source)
	}
	// The engine's own socket: the proxy would add its hop to the latency.
	d, err := b.startDaemon("unix://"+b.opt.engine, args...)
	if err != nil {
		return res, err
	}
	defer d.stop()
	if _, err := d.waitApplied(ctx, 0, time.Minute); err != nil {
		return res, err
	}
	if _, err := waitServes(ctx, port, "0", time.Minute); err != nil {
		return res, err
	}
	for i := 1; i <= b.opt.pushes; i++ {
		b.logf("push to deploy, %s, %d/%d", res.trigger, i, b.opt.pushes)
		// Commits land at random points of the poll interval.
		if err := sleep(ctx, time.Duration(rand.Int64N(int64(time.Second)))); err != nil {
			return res, err
		}
		applied := d.applied()
		v := strconv.Itoa(i)
		if err := r.write(dir, webService(b.image, port, v)); err != nil {
			return res, err
		}
		if err := r.commit(ctx, "web v"+v); err != nil {
			return res, err
		}
		if bare != "" {
			if err := r.push(ctx, bare); err != nil {
				return res, err
			}
		}
		// The commit is in the repository moor follows.
		pushed := time.Now()
		if t == triggerWebhook {
			code, err := sendHook(ctx, hookURL)
			if err != nil {
				return res, err
			}
			if code != http.StatusAccepted {
				return res, fmt.Errorf("webhook answered %d, want 202\n%s", code, d.log())
			}
		}
		served, err := waitServes(ctx, port, v, time.Minute)
		if err != nil {
			return res, fmt.Errorf("%w\n%s", err, d.log())
		}
		res.latency = append(res.latency, served.Sub(pushed))
		// The next commit waits for this apply to end (the old container
		// removed once the new one is healthy).
		line, err := d.waitApplied(ctx, applied, time.Minute)
		if err != nil {
			return res, err
		}
		if line.stages != nil {
			res.stages = append(res.stages, line.stages)
		}
	}
	return res, nil
}

// writeHookConfig writes moor's configuration file for one source that
// takes generic webhooks, and its secret, into dir.
func writeHookConfig(dir, repo, source string, port int) (string, error) {
	secret := filepath.Join(dir, "hook-secret")
	if err := os.WriteFile(secret, []byte(pushSecret+"\n"), 0o600); err != nil {
		return "", err
	}
	cfg := fmt.Sprintf(`state_dir: %s
listen: 127.0.0.1:%d
log_format: json
sources:
  - name: %s
    repo: %s
    interval: 1h
    webhook:
      secret_file: %s
`, dir, port, source, repo, secret)
	path := filepath.Join(dir, "moor.yaml")
	return path, os.WriteFile(path, []byte(cfg), 0o600)
}

// sendHook POSTs a generic push hook signed with HMAC-SHA256 of the body.
func sendHook(ctx context.Context, url string) (int, error) {
	body := `{"ref": "refs/heads/main"}`
	mac := hmac.New(sha256.New, []byte(pushSecret))
	mac.Write([]byte(body))
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Moor-Signature", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("webhook: %w", err)
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}
