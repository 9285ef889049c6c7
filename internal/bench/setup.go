package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/moby/moby/client"
)

// bench is one run of the command: its work dir, the binaries it built, the
// proxy both tools talk through, and the report it fills in.
type bench struct {
	opt   options
	log   io.Writer
	root  string // the module's root
	work  string // temp dir: repositories, state dirs, the proxy's socket
	moor  string // the moor binary
	image string // the test app image
	cli   *client.Client
	proxy *proxy
	rep   report
	seq   int    // numbers the work dir's subdirectories
	tag   string // names this run's stacks (see name)
	// stale are networks the engine would not remove for an endpoint no
	// container holds: cleanup does not wait for them again.
	stale map[string]bool

	closed bool
}

// appImageRepo names the bench's test app image; the tag is the first 12
// hex of the app binary's sha256, so an unchanged app is not rebuilt.
const appImageRepo = "moor-bench-app"

// labelBenchImage marks the images the bench builds, so stale ones can go.
const labelBenchImage = "moor.bench"

func setup(ctx context.Context, o options, log io.Writer) (*bench, error) {
	b := &bench{opt: o, log: log, tag: fmt.Sprintf("%04x", rand.Uint32()>>16), stale: map[string]bool{}}
	root, err := moduleRoot()
	if err != nil {
		return nil, err
	}
	b.root = root
	if b.work, err = os.MkdirTemp("", "moorbench-"); err != nil {
		return nil, fmt.Errorf("work dir: %w", err)
	}
	b.cli, err = client.New(client.WithHost("unix://"+o.engine), client.WithAPIVersionNegotiation())
	if err != nil {
		return b, fmt.Errorf("docker client: %w", err)
	}
	if _, err := b.cli.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		return b, fmt.Errorf("docker engine at %s: %w", o.engine, err)
	}
	if b.rep.compose, err = composeVersion(ctx, o.compose); err != nil {
		return b, err
	}
	if err := b.cleanup(ctx); err != nil { // leftovers of a killed run
		return b, err
	}
	b.logf("building moor")
	b.moor = filepath.Join(b.work, "moor")
	if err := b.goBuild(ctx, b.moor, "./cmd/moor", nil); err != nil {
		return b, err
	}
	if b.image, err = b.buildImage(ctx); err != nil {
		return b, err
	}
	if b.proxy, err = startProxy(filepath.Join(b.work, "docker.sock"), o.engine); err != nil {
		return b, err
	}
	b.rep.machine = b.machine()
	b.rep.engine = b.engineVersion(ctx)
	b.rep.date = time.Now().UTC().Format("2006-01-02")
	b.rep.build = b.revision(ctx)
	b.rep.command = "go run ./internal/bench"
	if a := os.Args[1:]; len(a) > 0 {
		b.rep.command += " " + strings.Join(a, " ")
	}
	return b, nil
}

// close removes everything the bench created but the image. Calling it
// again does nothing.
func (b *bench) close() {
	if b.closed {
		return
	}
	b.closed = true
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if b.cli != nil {
		if err := b.cleanup(ctx); err != nil {
			b.logf("cleanup: %v", err)
		}
		b.cli.Close()
	}
	if b.proxy != nil {
		b.proxy.close()
	}
	if b.work != "" {
		if b.opt.keepWork {
			b.logf("work dir kept: %s", b.work)
		} else {
			os.RemoveAll(b.work)
		}
	}
}

func (b *bench) logf(format string, a ...any) {
	fmt.Fprintf(b.log, "bench: %s %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, a...))
}

// dir makes a fresh subdirectory of the work dir.
func (b *bench) dir(name string) (string, error) {
	b.seq++
	d := filepath.Join(b.work, fmt.Sprintf("%02d-%s", b.seq, name))
	if err := os.MkdirAll(d, 0o755); err != nil {
		return "", fmt.Errorf("mkdir %s: %w", d, err)
	}
	return d, nil
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("run the bench inside moor's module")
	}
	return filepath.Dir(gomod), nil
}

// goBuild builds pkg into out, as `go build` does in the module's root,
// with env added to the environment.
func (b *bench) goBuild(ctx context.Context, out, pkg string, env []string, flags ...string) error {
	args := append([]string{"build", "-o", out}, flags...)
	cmd := exec.CommandContext(ctx, "go", append(args, pkg)...)
	cmd.Dir = b.root
	cmd.Env = append(os.Environ(), env...)
	if msg, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", pkg, err, msg)
	}
	return nil
}

// buildImage builds the test app statically into a FROM scratch image with
// the classic builder (nothing to pull), unless the tag exists.
func (b *bench) buildImage(ctx context.Context) (string, error) {
	dir, err := b.dir("image")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "testapp")
	if err := b.goBuild(ctx, bin, "./internal/testapp", []string{"CGO_ENABLED=0", "GOOS=linux"}, "-trimpath", "-buildvcs=false", "-ldflags=-s -w"); err != nil {
		return "", err
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		return "", fmt.Errorf("read test app: %w", err)
	}
	sum := sha256.Sum256(data)
	tag := hex.EncodeToString(sum[:])[:12]
	ref := appImageRepo + ":" + tag
	if _, err := b.cli.ImageInspect(ctx, ref); err == nil {
		return ref, nil
	}
	b.logf("building image %s", ref)
	// /tmp exists so that the app's unhealthy switch works in scratch.
	if err := os.Mkdir(filepath.Join(dir, "tmp"), 0o1777); err != nil {
		return "", fmt.Errorf("image context: %w", err)
	}
	dockerfile := "FROM scratch\nCOPY testapp /testapp\nCOPY tmp /tmp\nENTRYPOINT [\"/testapp\"]\n"
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		return "", fmt.Errorf("image context: %w", err)
	}
	cmd := exec.CommandContext(ctx, "docker", "build", "-q", "-t", ref, "--label", labelBenchImage+"=1", dir)
	cmd.Env = append(os.Environ(), "DOCKER_BUILDKIT=0", "DOCKER_HOST=unix://"+b.opt.engine)
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("docker build %s: %w\n%s", ref, err, msg)
	}
	b.pruneImages(ctx, ref)
	return ref, nil
}

// pruneImages removes the bench images of older app binaries.
func (b *bench) pruneImages(ctx context.Context, keep string) {
	imgs, err := b.cli.ImageList(ctx, client.ImageListOptions{Filters: make(client.Filters).Add("label", labelBenchImage+"=1")})
	if err != nil {
		return
	}
	for _, img := range imgs.Items {
		for _, t := range img.RepoTags {
			if strings.HasPrefix(t, appImageRepo+":") && t != keep {
				b.cli.ImageRemove(ctx, t, client.ImageRemoveOptions{})
			}
		}
	}
}

// machine describes the host's CPUs and memory.
func (b *bench) machine() string {
	cpu := "unknown CPU"
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	mem := ""
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		if _, err := fmt.Sscanf(string(data), "MemTotal: %d kB", &kb); err == nil {
			mem = fmt.Sprintf(", %.0f GiB", float64(kb)/(1<<20))
		}
	}
	return fmt.Sprintf("%d vCPUs (%s)%s", runtime.NumCPU(), cpu, mem)
}

// engineVersion names the engine and its API version.
func (b *bench) engineVersion(ctx context.Context) string {
	v, err := b.cli.ServerVersion(ctx, client.ServerVersionOptions{})
	if err != nil {
		return "Docker Engine ?"
	}
	return fmt.Sprintf("Docker Engine %s (API %s)", v.Version, v.APIVersion)
}

// composeVersion runs `COMPOSE version --short`: the compose command must
// work before anything is measured with it.
func composeVersion(ctx context.Context, compose string) (string, error) {
	cmd := strings.Fields(compose)
	if len(cmd) == 0 {
		return "", fmt.Errorf("-compose is empty")
	}
	out, err := exec.CommandContext(ctx, cmd[0], append(cmd[1:], "version", "--short")...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s version (build it with ./scripts/compose-v2): %w\n%s", compose, err, out)
	}
	return fmt.Sprintf("`%s` %s", compose, strings.TrimSpace(string(out))), nil
}

// revision names the commit moor was built from, and whether the working
// tree had changes on top of it.
func (b *bench) revision(ctx context.Context) string {
	out, err := exec.CommandContext(ctx, "git", "-C", b.root, "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "an unknown revision"
	}
	rev := strings.TrimSpace(string(out))
	dirty, err := exec.CommandContext(ctx, "git", "--no-optional-locks", "-C", b.root, "status", "--porcelain", "--untracked-files=no").Output()
	if err == nil && len(bytes.TrimSpace(dirty)) > 0 {
		rev += " with uncommitted changes"
	}
	return rev
}
