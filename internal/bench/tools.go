package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// sample is what one run of a tool cost: wall time, the CPU time of the
// process (user+sys from wait4, which includes the children it waited for),
// and the Engine API requests it made.
type sample struct {
	wall, cpu time.Duration
	calls     counts
}

// add sums o into s: a loop of several compose invocations is one run.
func (s *sample) add(o sample) {
	s.wall += o.wall
	s.cpu += o.cpu
	if s.calls == nil {
		s.calls = counts{}
	}
	s.calls.add(o.calls)
}

// tool is one of the two ways to converge the host being compared.
type tool struct {
	name string // "moor" or "compose"
	// up converges the stacks under repo (dirs, in this order), returning
	// the cost and the output. state is moor's state dir.
	up func(ctx context.Context, repo, state string, dirs []string) (sample, string, error)
	// project is the compose project of stack dir under this tool.
	project func(dir string) string
}

func (b *bench) moorTool(source string) tool {
	return tool{
		name: "moor",
		up: func(ctx context.Context, repo, state string, _ []string) (sample, string, error) {
			return b.exec(ctx, repo, b.moor, "apply", "--repo", repo, "--name", source,
				"--state-dir", state, "--log-level", "warn")
		},
		project: func(dir string) string { return dir },
	}
}

// composeProject is compose's project for a stack dir: a distinct name, so
// that the two tools never share containers.
func composeProject(dir string) string {
	return strings.Replace(dir, "moorbench-", "moorbench-compose-", 1)
}

func (b *bench) composeTool() tool {
	return tool{
		name: "compose",
		// One invocation per stack, one after the other, as a cron job
		// running `docker compose up -d` in each directory would.
		up: func(ctx context.Context, repo, _ string, dirs []string) (sample, string, error) {
			var total sample
			var out strings.Builder
			for _, d := range dirs {
				s, o, err := b.compose(ctx, filepath.Join(repo, d), "-p", composeProject(d), "-f", "compose.yaml", "up", "-d")
				total.add(s)
				out.WriteString(o)
				if err != nil {
					return total, out.String(), err
				}
			}
			return total, out.String(), nil
		},
		project: composeProject,
	}
}

// compose runs the compose command (-compose: `docker compose`, the CLI
// plugin) with args in dir, through the counting proxy.
func (b *bench) compose(ctx context.Context, dir string, args ...string) (sample, string, error) {
	cmd := strings.Fields(b.opt.compose)
	return b.exec(ctx, dir, cmd[0], append(cmd[1:], args...)...)
}

// execTimeout bounds one run of a tool, so that a hang fails the bench.
const execTimeout = 5 * time.Minute

// exec runs a tool through the counting proxy and measures it.
func (b *bench) exec(ctx context.Context, dir, bin string, args ...string) (sample, string, error) {
	ctx, cancel := context.WithTimeout(ctx, execTimeout)
	defer cancel()
	before := b.proxy.snapshot()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "DOCKER_HOST=unix://"+b.proxy.path)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	s := sample{wall: time.Since(start), calls: b.proxy.snapshot().minus(before)}
	if cmd.ProcessState != nil {
		s.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	if err != nil {
		return s, out.String(), fmt.Errorf("%s %s: %w\n%s", filepath.Base(bin), strings.Join(args, " "), err, out.String())
	}
	return s, out.String(), nil
}

// repo is a deploy repository: a git working tree, branch main, driven with
// the git binary and none of the machine's git config.
type repo struct {
	dir string
}

func (b *bench) newRepo(ctx context.Context, name string) (*repo, error) {
	d, err := b.dir(name)
	if err != nil {
		return nil, err
	}
	r := &repo{dir: d}
	return r, r.git(ctx, "init", "--quiet", "--initial-branch=main")
}

func (r *repo) git(ctx context.Context, args ...string) error {
	full := append([]string{"-c", "user.name=moor bench", "-c", "user.email=bench@moor.invalid", "-c", "commit.gpgsign=false"}, args...)
	cmd := exec.CommandContext(ctx, "git", full...)
	cmd.Dir = r.dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL="+os.DevNull, "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("git %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// write writes the compose file of stack dir.
func (r *repo) write(dir, compose string) error {
	p := filepath.Join(r.dir, dir, "compose.yaml")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return os.WriteFile(p, []byte(compose), 0o644)
}

func (r *repo) commit(ctx context.Context, msg string) error {
	if err := r.git(ctx, "add", "-A"); err != nil {
		return err
	}
	return r.git(ctx, "commit", "--quiet", "-m", msg)
}

// plainServices is a stack of n independent services svcFIRST..: the test
// app with two environment variables, no port and no healthcheck. rev is
// the REV of each service, by its number.
func plainServices(image string, first, n int, rev func(i int) string) string {
	var s strings.Builder
	s.WriteString("services:\n")
	for i := first; i < first+n; i++ {
		fmt.Fprintf(&s, "  svc%d:\n    image: %s\n    environment:\n      N: \"%d\"\n      REV: \"%s\"\n", i, image, i, rev(i))
	}
	return s.String()
}

// webService is a stack of one web service publishing a host port, with a
// healthcheck: moor replaces it stop-first.
func webService(image string, port int, version string) string {
	return fmt.Sprintf(`services:
  web:
    image: %s
    environment:
      VERSION: "%s"
    ports:
      - "127.0.0.1:%d:8080"
    healthcheck:
      test: ["CMD", "/testapp", "health"]
      interval: 1s
      timeout: 2s
      retries: 3
    restart: unless-stopped
`, image, version, port)
}
