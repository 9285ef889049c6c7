package main

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/moor-dev/moor/internal/testkit"
)

// moorImageRepo is the repository of the image TestContainerImage builds
// from the Dockerfile; its tag is a hash of the Dockerfile and the binary,
// so the image is reused across runs until either changes.
const moorImageRepo = "moor-test-image"

// imageTestVersion is the version compiled into the image's binary.
const imageTestVersion = "image-test"

var moorImage struct {
	once sync.Once
	ref  string
	err  error
}

// moorImageRef builds moor's image as scripts/image does (a static binary,
// then the repository's Dockerfile around it) once per test process, and
// returns its reference.
func moorImageRef(t *testing.T, cli *client.Client) string {
	t.Helper()
	moorImage.once.Do(func() { moorImage.ref, moorImage.err = buildMoorImage(cli) })
	if moorImage.err != nil {
		t.Fatalf("moor image: %v", moorImage.err)
	}
	return moorImage.ref
}

func buildMoorImage(cli *client.Client) (string, error) {
	root, err := filepath.Abs("../..")
	if err != nil {
		return "", err
	}
	dockerfile, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "moor-image-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "moor")
	cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=false",
		"-ldflags", "-s -w -X main.Version="+imageTestVersion, "-o", bin, "./cmd/moor")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/moor: %w\n%s", err, out)
	}
	binary, err := os.ReadFile(bin)
	if err != nil {
		return "", err
	}
	sum := sha256.New()
	sum.Write(dockerfile)
	sum.Write(binary)
	ref := moorImageRepo + ":" + hex.EncodeToString(sum.Sum(nil))[:12]

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := cli.ImageInspect(ctx, ref); err == nil {
		return ref, nil
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range []struct {
		name string
		mode int64
		data []byte
	}{{"Dockerfile", 0o644, dockerfile}, {"moor", 0o755, binary}} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.data))}); err != nil {
			return "", err
		}
		if _, err := tw.Write(f.data); err != nil {
			return "", err
		}
	}
	if err := tw.Close(); err != nil {
		return "", err
	}
	version := imageTestVersion
	res, err := cli.ImageBuild(ctx, &buf, client.ImageBuildOptions{
		Tags: []string{ref}, Remove: true, ForceRemove: true,
		BuildArgs: map[string]*string{"VERSION": &version},
		Labels:    map[string]string{testkit.LabelTestImage: "1"},
	})
	if err != nil {
		return "", fmt.Errorf("build %s: %w", ref, err)
	}
	log, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return "", fmt.Errorf("build %s: %w", ref, err)
	}
	if _, err := cli.ImageInspect(ctx, ref); err != nil {
		return "", fmt.Errorf("build %s: %w\n%s", ref, err, log)
	}
	// Images of older binaries go, so that edits do not pile them up.
	imgs, err := cli.ImageList(ctx, client.ImageListOptions{Filters: make(client.Filters).Add("reference", moorImageRepo)})
	if err == nil {
		for _, img := range imgs.Items {
			for _, tag := range img.RepoTags {
				if tag != ref {
					cli.ImageRemove(ctx, tag, client.ImageRemoveOptions{PruneChildren: true})
				}
			}
		}
	}
	return ref, nil
}

// execIn runs a command in a running container and returns its exit code
// and output (stdout and stderr).
func execIn(t *testing.T, cli *client.Client, id string, cmd ...string) (int, string) {
	t.Helper()
	ex, err := cli.ExecCreate(t.Context(), id, client.ExecCreateOptions{Cmd: cmd, AttachStdout: true, AttachStderr: true})
	if err != nil {
		t.Fatalf("exec %v: %v", cmd, err)
	}
	att, err := cli.ExecAttach(t.Context(), ex.ID, client.ExecAttachOptions{})
	if err != nil {
		t.Fatalf("exec %v: %v", cmd, err)
	}
	defer att.Close()
	var out bytes.Buffer
	if _, err := stdcopy.StdCopy(&out, &out, att.Reader); err != nil {
		t.Fatalf("exec %v: read output: %v", cmd, err)
	}
	res, err := cli.ExecInspect(t.Context(), ex.ID, client.ExecInspectOptions{})
	if err != nil {
		t.Fatalf("exec %v: %v", cmd, err)
	}
	t.Logf("exec %s -> %d\n%s", strings.Join(cmd, " "), res.ExitCode, out.String())
	return res.ExitCode, out.String()
}

func containerOutput(t *testing.T, cli *client.Client, id string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rc, err := cli.ContainerLogs(ctx, id, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true})
	if err != nil {
		return fmt.Sprintf("(logs: %v)", err)
	}
	defer rc.Close()
	var out bytes.Buffer
	stdcopy.StdCopy(&out, &out, rc)
	return out.String()
}

// TestContainerImage runs moor from its own image (the repository's
// Dockerfile), as the README says: the Docker socket mounted, a state
// volume, the deploy repository mounted read-only at its own path. The
// image holds no git, so the local repository is read in process. moor
// converges the stack, answers /healthz, `moor status` and `moor history`
// work inside its container, and it stops cleanly on SIGTERM, leaving the
// stack running, its own container and an unrelated one untouched.
func TestContainerImage(t *testing.T) {
	t.Parallel() // its own stack, state and ports; it mostly waits on the engine
	cli := testkit.Docker(t)
	host := cli.DaemonHost()
	socket, ok := strings.CutPrefix(host, "unix://")
	if !ok {
		if os.Getenv("CI") != "" {
			t.Fatalf("the engine is at %s; mounting its socket needs a unix socket", host)
		}
		t.Skipf("the engine is at %s; mounting its socket needs a unix socket", host)
	}
	img := testkit.TestImage(t)
	moorImg := moorImageRef(t, cli)
	stack := testkit.StackName(t)
	testkit.CleanupStack(t, stack)
	bystander := testkit.Unrelated(t, stack)
	port, moorPort := testkit.FreePort(t), testkit.FreePort(t)

	repo := testkit.NewRepo(t)
	repo.Write(stack+"/compose.yaml", fmt.Sprintf(`services:
  web:
    image: %s
    environment:
      VERSION: in-docker
    ports:
      - "127.0.0.1:%d:8080"
    restart: unless-stopped
`, img, port))
	head := repo.Commit("first deploy from the image")

	ctx := t.Context()
	owner := map[string]string{testkit.LabelOwner: stack}
	state := stack + "-state"
	if _, err := cli.VolumeCreate(ctx, client.VolumeCreateOptions{Name: state, Labels: owner}); err != nil {
		t.Fatal(err)
	}
	listen := network.MustParsePort("9100/tcp")
	created, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name: stack + "-moor",
		Config: &container.Config{
			Image:        moorImg,
			Cmd:          []string{"run", "--repo", repo.Dir, "--name", stack, "--interval", "2s", "--listen", "0.0.0.0:9100", "--log-format", "json"},
			Labels:       owner,
			ExposedPorts: network.PortSet{listen: {}},
		},
		HostConfig: &container.HostConfig{
			Mounts: []mount.Mount{
				{Type: mount.TypeBind, Source: socket, Target: "/var/run/docker.sock"},
				{Type: mount.TypeVolume, Source: state, Target: "/var/lib/moor"},
				{Type: mount.TypeBind, Source: repo.Dir, Target: repo.Dir, ReadOnly: true},
			},
			PortBindings: network.PortMap{listen: {{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: fmt.Sprint(moorPort)}}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	id := created.ID
	if _, err := cli.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("moor's container output:\n%s", containerOutput(t, cli, id))
		}
	})

	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	testkit.Eventually(t, 60*time.Second, "the stack deployed by moor's container answers "+url, func() bool {
		if c, err := cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{}); err != nil || !c.Container.State.Running {
			t.Fatalf("moor's container is not running: %v %+v\n%s", err, c.Container.State, containerOutput(t, cli, id))
		}
		code, body, err := testkit.HTTPGet(url)
		return err == nil && code == 200 && strings.Contains(body, "version=in-docker")
	})

	web := containers(t, cli, stack)[stack+"-web-1"]
	if web == "" {
		t.Fatalf("no container %s-web-1: %v", stack, containers(t, cli, stack))
	}
	c, err := cli.ContainerInspect(ctx, web, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	labels := c.Container.Config.Labels
	for k, want := range map[string]string{"moor.stack": stack, "moor.service": "web", "moor.source": stack, "moor.revision": "main@sha1:" + head} {
		if labels[k] != want {
			t.Errorf("label %s = %q, want %q", k, labels[k], want)
		}
	}
	if !c.Container.State.Running {
		t.Errorf("%s is not running: %+v", stack+"-web-1", c.Container.State)
	}

	if code, body, err := testkit.HTTPGet(fmt.Sprintf("http://127.0.0.1:%d/healthz", moorPort)); err != nil || code != 200 || strings.TrimSpace(body) != "ok" {
		t.Errorf("moor's /healthz: %d %q %v", code, body, err)
	}
	// The default state dir is the image's MOOR_STATE_DIR: no --state-dir.
	code, out := execIn(t, cli, id, "/moor", "status")
	inSync := regexp.MustCompile(`(?m)^  ` + regexp.QuoteMeta(stack+"/web") + `\s+in-sync\s+1/1`)
	if code != 0 || !inSync.MatchString(out) || !strings.Contains(out, "applied  main@sha1:"+head) {
		t.Errorf("moor status in the container: exit %d, want %s/web in-sync 1/1 applied at %s:\n%s", code, stack, head, out)
	}
	if code, out := execIn(t, cli, id, "/moor", "history"); code != 0 || !strings.Contains(out, "first deploy from the image") {
		t.Errorf("moor history in the container: exit %d\n%s", code, out)
	}
	if code, out := execIn(t, cli, id, "/moor", "version"); code != 0 || strings.TrimSpace(out) != "moor "+imageTestVersion {
		t.Errorf("moor version in the container: exit %d %q", code, out)
	}
	testkit.AssertAlive(t, bystander)

	// SIGTERM (docker stop) ends moor cleanly and leaves the stack running.
	timeout := 30
	if _, err := cli.ContainerStop(ctx, id, client.ContainerStopOptions{Timeout: &timeout}); err != nil {
		t.Fatal(err)
	}
	if c, err := cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{}); err != nil || c.Container.State.ExitCode != 0 {
		t.Errorf("moor's container after docker stop: %v, state %+v", err, c.Container.State)
	}
	testkit.AssertAlive(t, web)
}
