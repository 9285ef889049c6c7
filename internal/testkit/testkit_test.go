package testkit

import (
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/volume"
	"github.com/moby/moby/client"
	"github.com/moby/moby/client/pkg/versions"

	"github.com/moor-dev/moor/reconcile"
)

// box describes a container of the test image for these tests.
type box struct {
	owner   string // LabelOwner, for CleanupStack(owner)
	name    string // container name; random if ""
	network string // user network to join; default bridge if ""
	publish bool   // publish 8080 on a free 127.0.0.1 port
	cfg     container.Config
}

// run creates and starts the container b and returns its ID and host port.
func run(t *testing.T, b box) (string, int) {
	t.Helper()
	cli := Docker(t)
	cfg := b.cfg
	cfg.Image = TestImage(t)
	cfg.Labels = map[string]string{LabelOwner: b.owner}
	for k, v := range b.cfg.Labels {
		cfg.Labels[k] = v
	}
	var hc container.HostConfig
	port := 0
	if b.publish {
		port = FreePort(t)
		p := network.MustParsePort("8080/tcp")
		cfg.ExposedPorts = network.PortSet{p: {}}
		hc.PortBindings = network.PortMap{p: {{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: fmt.Sprint(port)}}}
	}
	if b.network != "" {
		hc.NetworkMode = container.NetworkMode(b.network)
	}
	created, err := cli.ContainerCreate(t.Context(), client.ContainerCreateOptions{Name: b.name, Config: &cfg, HostConfig: &hc})
	if err != nil {
		t.Fatalf("create container: %v", err)
	}
	t.Cleanup(func() { removeContainer(t, created.ID) })
	if _, err := cli.ContainerStart(t.Context(), created.ID, client.ContainerStartOptions{}); err != nil {
		t.Fatalf("start container: %v", err)
	}
	return created.ID, port
}

func containerLogs(t *testing.T, id string) string {
	t.Helper()
	rc, err := Docker(t).ContainerLogs(t.Context(), id, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true})
	if err != nil {
		t.Fatalf("logs %s: %v", short(id), err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc) // multiplexed frames; Contains checks suffice
	if err != nil {
		t.Fatalf("logs %s: %v", short(id), err)
	}
	return string(b)
}

func inspect(t *testing.T, id string) container.InspectResponse {
	t.Helper()
	res, err := Docker(t).ContainerInspect(t.Context(), id, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatalf("inspect %s: %v", id, err)
	}
	return res.Container
}

func TestAPIVersionNegotiated(t *testing.T) {
	cli := Docker(t)
	ping, err := cli.Ping(t.Context(), client.PingOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := ping.APIVersion
	if versions.LessThan(client.MaxAPIVersion, want) {
		want = client.MaxAPIVersion
	}
	if got := cli.ClientVersion(); got != want {
		t.Errorf("client speaks API %s, engine %s: want %s", got, ping.APIVersion, want)
	}
	t.Logf("engine API %s, client API %s", ping.APIVersion, cli.ClientVersion())
}

func TestTestImage(t *testing.T) {
	t.Parallel()
	cli := Docker(t)
	ref := TestImage(t)
	if !strings.HasPrefix(ref, "moor-testapp:") || len(ref) != len("moor-testapp:")+12 {
		t.Errorf("TestImage = %q, want moor-testapp:<12 hex>", ref)
	}
	if again := TestImage(t); again != ref {
		t.Errorf("second TestImage = %q, want %q", again, ref)
	}
	img, err := cli.ImageInspect(t.Context(), ref)
	if err != nil {
		t.Fatal(err)
	}
	if img.Config.Labels[LabelTestImage] != "1" {
		t.Errorf("labels %v, want %s=1", img.Config.Labels, LabelTestImage)
	}

	tag := "moor-test-tag/" + StackName(t) + ":x"
	t.Run("tag", func(t *testing.T) {
		TagImage(t, ref, tag)
		tagged, err := cli.ImageInspect(t.Context(), tag)
		if err != nil || tagged.ID != img.ID {
			t.Errorf("tag %s: ID %s, %v; want %s", tag, tagged.ID, err, img.ID)
		}
	})
	if _, err := cli.ImageInspect(t.Context(), tag); !cerrdefs.IsNotFound(err) {
		t.Errorf("tag %s after its test: %v, want not found", tag, err)
	}
	if _, err := cli.ImageInspect(t.Context(), ref); err != nil {
		t.Errorf("untagging removed the test image: %v", err)
	}

	variant := VariantImage(t, "b")
	vimg, err := cli.ImageInspect(t.Context(), variant)
	if err != nil {
		t.Fatal(err)
	}
	if vimg.ID == img.ID {
		t.Errorf("variant %s has the test image's ID %s", variant, img.ID)
	}
	if vimg.Config.Labels["variant"] != "b" || vimg.Config.Labels[LabelTestImage] != "1" {
		t.Errorf("variant labels %v", vimg.Config.Labels)
	}
}

func TestAppServes(t *testing.T) {
	t.Parallel()
	owner := StackName(t)
	CleanupStack(t, owner)
	_, port := run(t, box{owner: owner, publish: true, cfg: container.Config{Env: []string{"VERSION=v7", "GREETING=hi"}, Hostname: "web1"}})
	base := fmt.Sprintf("http://127.0.0.1:%d", port)

	var body string
	Eventually(t, 10*time.Second, "GET / answers", func() bool {
		code, b, err := HTTPGet(base + "/")
		body = b
		return err == nil && code == 200
	})
	if body != "version=v7 host=web1\n" {
		t.Errorf("GET / = %q", body)
	}
	for _, c := range []struct {
		path     string
		wantCode int
		wantBody string
	}{
		{"/health", 200, "ok"},
		{"/env?name=GREETING", 200, "hi"},
		{"/file?path=/data/missing", 404, ""},
	} {
		code, b, err := HTTPGet(base + c.path)
		if err != nil || code != c.wantCode || !strings.HasPrefix(b, c.wantBody) {
			t.Errorf("GET %s = %d %q %v, want %d %q", c.path, code, b, err, c.wantCode, c.wantBody)
		}
	}

	// /tmp exists in the scratch image: flip health at run time.
	if code := put(t, base+"/file?path=/tmp/unhealthy", "x"); code != 204 {
		t.Fatalf("PUT /file = %d", code)
	}
	if code, _, err := HTTPGet(base + "/health"); code != 500 {
		t.Errorf("GET /health after PUT /tmp/unhealthy = %d %v, want 500", code, err)
	}
	if code, b, _ := HTTPGet(base + "/file?path=/tmp/unhealthy"); code != 200 || b != "x" {
		t.Errorf("GET /file = %d %q, want 200 x", code, b)
	}
}

func put(t *testing.T, url, body string) int {
	t.Helper()
	req, err := newPut(url, body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("PUT %s: %v", url, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestHealthcheck(t *testing.T) {
	t.Parallel()
	owner := StackName(t)
	CleanupStack(t, owner)
	hc := func() *container.HealthConfig {
		return &container.HealthConfig{
			Test:     []string{"CMD", "/testapp", "health"},
			Interval: 200 * time.Millisecond,
			Timeout:  2 * time.Second,
			Retries:  1,
		}
	}
	healthy, _ := run(t, box{owner: owner, cfg: container.Config{Healthcheck: hc()}})
	sick, _ := run(t, box{owner: owner, cfg: container.Config{Healthcheck: hc(), Env: []string{"UNHEALTHY=1"}}})

	status := func(id string) container.HealthStatus {
		c := inspect(t, id)
		if c.State == nil || c.State.Health == nil {
			return ""
		}
		return c.State.Health.Status
	}
	Eventually(t, 15*time.Second, "healthy container reports healthy", func() bool { return status(healthy) == container.Healthy })
	Eventually(t, 15*time.Second, "UNHEALTHY=1 container reports unhealthy", func() bool { return status(sick) == container.Unhealthy })
}

func TestExitCodeAndGet(t *testing.T) {
	t.Parallel()
	owner := StackName(t)
	CleanupStack(t, owner)
	cli := Docker(t)

	wait := func(id string) int64 {
		t.Helper()
		res := cli.ContainerWait(t.Context(), id, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
		select {
		case err := <-res.Error:
			t.Fatalf("wait %s: %v", id, err)
		case r := <-res.Result:
			return r.StatusCode
		}
		return -1
	}
	job, _ := run(t, box{owner: owner, cfg: container.Config{Env: []string{"EXIT_CODE=3"}}})
	if code := wait(job); code != 3 {
		t.Errorf("EXIT_CODE=3 exited with %d", code)
	}
	// get against a closed port fails; against nothing at all it is usage.
	get, _ := run(t, box{owner: owner, cfg: container.Config{Cmd: []string{"get", "http://127.0.0.1:1/"}}})
	if code := wait(get); code != 1 {
		t.Errorf("testapp get of a closed port exited with %d, want 1", code)
	}
	// get through a user network, by container name, as services call
	// each other.
	net := owner + "_net"
	if _, err := cli.NetworkCreate(t.Context(), net, client.NetworkCreateOptions{Labels: map[string]string{LabelOwner: owner}}); err != nil {
		t.Fatal(err)
	}
	srvName := owner + "-srv"
	_, port := run(t, box{owner: owner, name: srvName, network: net, publish: true, cfg: container.Config{Env: []string{"VERSION=v9"}}})
	Eventually(t, 10*time.Second, "server answers", func() bool {
		code, _, err := HTTPGet(fmt.Sprintf("http://127.0.0.1:%d/health", port))
		return err == nil && code == 200
	})
	caller, _ := run(t, box{owner: owner, network: net, cfg: container.Config{Cmd: []string{"get", "http://" + srvName + ":8080/"}}})
	if code := wait(caller); code != 0 {
		t.Errorf("testapp get through network %s exited with %d, want 0", net, code)
	}
	if logs := containerLogs(t, caller); !strings.Contains(logs, "version=v9") {
		t.Errorf("testapp get printed %q, want version=v9", logs)
	}

	crash, _ := run(t, box{owner: owner, cfg: container.Config{Env: []string{"CRASH_AFTER=100ms"}}})
	if code := wait(crash); code != 1 {
		t.Errorf("CRASH_AFTER exited with %d, want 1", code)
	}

	// SIGTERM stops it well within the stop timeout (graceful, fast).
	srv, port := run(t, box{owner: owner, publish: true})
	Eventually(t, 10*time.Second, "server answers", func() bool {
		code, _, err := HTTPGet(fmt.Sprintf("http://127.0.0.1:%d/health", port))
		return err == nil && code == 200
	})
	start := time.Now()
	timeout := 10
	if _, err := cli.ContainerStop(t.Context(), srv, client.ContainerStopOptions{Timeout: &timeout}); err != nil {
		t.Fatal(err)
	}
	if c := inspect(t, srv); c.State.ExitCode != 0 || time.Since(start) > 5*time.Second {
		t.Errorf("stop took %s, exit code %d; want fast and 0", time.Since(start), c.State.ExitCode)
	}
}

func TestRegistryPushPull(t *testing.T) {
	t.Parallel()
	cli := Docker(t)
	img := TestImage(t)
	reg := Registry(t)

	ref := Push(t, reg, img, "moor/app:v1")
	if want := reg + "/moor/app:v1"; ref != want {
		t.Errorf("Push = %q, want %q", ref, want)
	}
	if _, err := cli.ImageInspect(t.Context(), ref); !cerrdefs.IsNotFound(err) {
		t.Fatalf("local tag %s after Push: err %v, want not found", ref, err)
	}
	if err := Pull(t, ref, ""); err != nil {
		t.Fatal(err)
	}
	pulled, err := cli.ImageInspect(t.Context(), ref)
	if err != nil {
		t.Fatal(err)
	}
	orig, err := cli.ImageInspect(t.Context(), img)
	if err != nil {
		t.Fatal(err)
	}
	if pulled.ID != orig.ID {
		t.Errorf("pulled ID %s, pushed %s", pulled.ID, orig.ID)
	}
	if err := Pull(t, reg+"/moor/app:nope", ""); err == nil {
		t.Errorf("pull of a missing tag succeeded")
	}
}

func TestRegistryWithAuth(t *testing.T) {
	t.Parallel()
	img := TestImage(t)
	reg := RegistryWithAuth(t, "alice", "s3cret")
	ref := Push(t, reg, img, "moor/app:v1")

	if err := Pull(t, ref, ""); err == nil {
		t.Errorf("anonymous pull from the auth registry succeeded")
	}
	if err := Pull(t, ref, RegistryAuth(t, reg, "alice", "wrong")); err == nil {
		t.Errorf("pull with a wrong password succeeded")
	}
	if err := Pull(t, ref, RegistryAuth(t, reg, "alice", "s3cret")); err != nil {
		t.Errorf("pull with credentials: %v", err)
	}
}

func TestCleanupStack(t *testing.T) {
	t.Parallel()
	cli := Docker(t)
	stack := StackName(t)
	bystander := Unrelated(t, stack+"-bystander")
	labels := map[string]string{reconcile.LabelStack: stack}
	var ids []string

	t.Run("make", func(t *testing.T) {
		CleanupStack(t, stack)
		ctx := t.Context()
		if _, err := cli.NetworkCreate(ctx, stack+"_default", client.NetworkCreateOptions{Labels: labels}); err != nil {
			t.Fatal(err)
		}
		if _, err := cli.VolumeCreate(ctx, client.VolumeCreateOptions{Name: stack + "_data", Labels: labels}); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			id, _ := run(t, box{owner: "other-owner", cfg: container.Config{Labels: map[string]string{reconcile.LabelStack: stack}}})
			ids = append(ids, id)
		}
		owned, _ := run(t, box{owner: stack, cfg: container.Config{}})
		ids = append(ids, owned)
	})

	for _, id := range ids {
		if _, err := cli.ContainerInspect(t.Context(), id, client.ContainerInspectOptions{}); !cerrdefs.IsNotFound(err) {
			t.Errorf("container %s survived cleanup (err %v)", short(id), err)
		}
	}
	f := make(client.Filters).Add("label", reconcile.LabelStack+"="+stack)
	ns, err := cli.NetworkList(t.Context(), client.NetworkListOptions{Filters: f})
	if err != nil || len(ns.Items) != 0 {
		t.Errorf("networks after cleanup: %v %v", ns.Items, err)
	}
	vs, err := cli.VolumeList(t.Context(), client.VolumeListOptions{Filters: f})
	if err != nil || len(vs.Items) != 0 {
		t.Errorf("volumes after cleanup: %v %v", volumeNames(vs.Items), err)
	}
	AssertAlive(t, bystander)
}

func volumeNames(vs []volume.Volume) []string {
	var names []string
	for _, v := range vs {
		names = append(names, v.Name)
	}
	return names
}

func TestStackName(t *testing.T) {
	t.Parallel()
	got := StackName(t)
	if !strings.HasPrefix(got, "t-teststackname-") {
		t.Errorf("StackName = %q", got)
	}
	names := map[string]string{}
	for _, sub := range []string{
		"A very long subtest name that goes on and on and on, variant one",
		"A very long subtest name that goes on and on and on, variant two",
		"ÜBER/weird  chars__",
		"",
	} {
		t.Run(sub, func(t *testing.T) {
			name := StackName(t)
			if len(name) > 40 || !stackNameRE.MatchString(name) {
				t.Errorf("StackName = %q: want %s, at most 40", name, stackNameRE)
			}
			if other, dup := names[name]; dup {
				t.Errorf("StackName %q for both %q and %q", name, other, t.Name())
			}
			names[name] = t.Name()
			if again := StackName(t); again != name {
				t.Errorf("StackName not stable: %q then %q", name, again)
			}
		})
	}
}

func TestRepo(t *testing.T) {
	t.Parallel()
	r := NewRepo(t)
	r.Write("web/compose.yaml", "v1\n")
	first := r.Commit("first")
	if len(first) != 40 || first != r.Head() {
		t.Fatalf("Commit = %q, Head = %q", first, r.Head())
	}
	if b := r.Git("rev-parse", "--abbrev-ref", "HEAD"); b != "main" {
		t.Errorf("branch %q, want main", b)
	}
	url := r.Bare()
	if !strings.HasPrefix(url, "file://") {
		t.Errorf("Bare = %q", url)
	}
	r.Write("web/compose.yaml", "v2\n")
	second := r.Commit("second")
	reverted := r.Revert(second)
	if reverted == second || reverted != r.Head() {
		t.Errorf("Revert = %s, head %s", reverted, r.Head())
	}
	if b, err := os.ReadFile(filepath.Join(r.Dir, "web", "compose.yaml")); err != nil || string(b) != "v1\n" {
		t.Errorf("after revert: %q %v", b, err)
	}
	r.Remove("web")
	r.Commit("remove web")

	r.Push()
	remote := strings.TrimPrefix(url, "file://")
	if got := runGit(t, remote, "rev-parse", "main"); got != r.Head() {
		t.Errorf("bare main = %s, want %s", got, r.Head())
	}
	if got := runGit(t, remote, "log", "--format=%s", "-1", "main~1"); got != `Revert "second"` {
		t.Errorf("bare main~1 subject %q", got)
	}
	if author := r.Git("log", "-1", "--format=%an <%ae>"); author != "moor test <test@moor.invalid>" {
		t.Errorf("author %q", author)
	}
}

// fakeTB records Fatalf and ends the goroutine like testing.T does.
type fakeTB struct {
	testing.TB
	mu     sync.Mutex
	failed string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.mu.Lock()
	f.failed = fmt.Sprintf(format, args...)
	f.mu.Unlock()
	runtime.Goexit()
}

func TestEventually(t *testing.T) {
	t.Parallel()
	n := 0
	Eventually(t, 5*time.Second, "third call", func() bool { n++; return n == 3 })
	if n != 3 {
		t.Errorf("cond called %d times, want 3", n)
	}

	f := &fakeTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		Eventually(f, 120*time.Millisecond, "never", func() bool { return false })
	}()
	<-done
	if !strings.Contains(f.failed, "never") {
		t.Errorf("Eventually on a false condition: Fatalf %q", f.failed)
	}
}

func TestHTTPGetConnectionFailure(t *testing.T) {
	t.Parallel()
	code, _, err := HTTPGet(fmt.Sprintf("http://127.0.0.1:%d/", FreePort(t)))
	if err == nil || code != 0 {
		t.Errorf("HTTPGet of a closed port = %d, %v; want an error", code, err)
	}
}

var stackNameRE = regexp.MustCompile(`^t-[a-z0-9-]+$`)

func newPut(url, body string) (*http.Request, error) {
	return http.NewRequest(http.MethodPut, url, strings.NewReader(body))
}
