package runtime_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/moor-dev/moor/internal/testkit"
	"github.com/moor-dev/moor/reconcile"
	"github.com/moor-dev/moor/runtime"
)

// newDocker returns the adapter for the engine testkit finds, or skips.
func newDocker(t *testing.T) *runtime.Docker {
	t.Helper()
	testkit.Docker(t) // skips (or fails under CI) without an engine
	d, err := runtime.NewDocker(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// labels are the labels the executor puts on replica n of service.
func labels(stack, service string, n int) map[string]string {
	return map[string]string{
		reconcile.LabelStack:                  stack,
		reconcile.LabelService:                service,
		reconcile.LabelRevision:               "main@sha1:0123456789abcdef0123456789abcdef01234567",
		reconcile.LabelConfigHash:             "sha256:feedface",
		reconcile.LabelSource:                 "test",
		reconcile.LabelComposeProject:         stack,
		reconcile.LabelComposeService:         service,
		reconcile.LabelComposeContainerNumber: fmt.Sprint(n),
		reconcile.LabelComposeOneoff:          "False",
	}
}

func inspectRaw(t *testing.T, id string) container.InspectResponse {
	t.Helper()
	res, err := testkit.Docker(t).ContainerInspect(t.Context(), id, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatalf("inspect %s: %v", id, err)
	}
	return res.Container
}

// create creates and starts a container of spec in stack.
func create(t *testing.T, d *runtime.Docker, stack, service string, n int, spec reconcile.ContainerSpec) string {
	t.Helper()
	id, err := d.CreateContainer(t.Context(), reconcile.ContainerName(stack, service, n), spec, labels(stack, service, n))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.StartContainer(t.Context(), id); err != nil {
		t.Fatal(err)
	}
	return id
}

func findContainer(obs *reconcile.Observed, name string) (reconcile.Container, bool) {
	for _, c := range obs.Containers {
		if c.Name == name {
			return c, true
		}
	}
	return reconcile.Container{}, false
}

func observe(t *testing.T, d *runtime.Docker) *reconcile.Observed {
	t.Helper()
	obs, err := d.Observe(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return obs
}

func TestDockerObserve(t *testing.T) {
	t.Parallel()
	d := newDocker(t)
	stack := testkit.StackName(t)
	testkit.CleanupStack(t, stack)
	unrelated := testkit.Unrelated(t, stack)
	img := testkit.TestImage(t)
	ctx := t.Context()

	health := &reconcile.Healthcheck{Test: []string{"CMD", "/testapp", "health"}, Interval: 200 * time.Millisecond, Retries: 3}
	web := create(t, d, stack, "web", 1, reconcile.ContainerSpec{Image: img, Healthcheck: health})
	job := create(t, d, stack, "job", 2, reconcile.ContainerSpec{Image: img, Env: []string{"EXIT_CODE=3"}})
	retiredName := reconcile.ContainerName(stack, "web", 2) + reconcile.RetiredSuffix
	if _, err := d.CreateContainer(ctx, retiredName, reconcile.ContainerSpec{Image: img}, labels(stack, "web", 2)); err != nil {
		t.Fatal(err)
	}
	net := reconcile.NetworkSpec{Name: stack + "_default"}
	if err := d.CreateNetwork(ctx, net, map[string]string{reconcile.LabelStack: stack, reconcile.LabelSource: "test", reconcile.LabelComposeProject: stack}); err != nil {
		t.Fatal(err)
	}
	if err := d.CreateVolume(ctx, reconcile.VolumeSpec{Name: stack + "_data"}, map[string]string{reconcile.LabelStack: stack, reconcile.LabelComposeProject: stack}); err != nil {
		t.Fatal(err)
	}

	var obs *reconcile.Observed
	testkit.Eventually(t, 20*time.Second, "web healthy and job exited in a list", func() bool {
		before := d.Calls()
		obs = observe(t, d)
		if got := d.Calls() - before; got != 4 {
			t.Fatalf("Observe made %d engine calls, want 4", got)
		}
		w, _ := findContainer(obs, reconcile.ContainerName(stack, "web", 1))
		j, _ := findContainer(obs, reconcile.ContainerName(stack, "job", 2))
		return w.Health == reconcile.HealthHealthy && j.State == reconcile.StateExited
	})

	w, _ := findContainer(obs, reconcile.ContainerName(stack, "web", 1))
	raw := inspectRaw(t, web)
	want := reconcile.Container{
		ID: web, Name: stack + "-web-1", Stack: stack, Service: "web", Number: 1, Source: "test",
		Revision: "main@sha1:0123456789abcdef0123456789abcdef01234567", ConfigHash: "sha256:feedface", Project: stack, ComposeService: "web",
		Image: img, ImageID: raw.Image, State: reconcile.StateRunning, Health: reconcile.HealthHealthy,
		Labels: raw.Config.Labels,
	}
	if diff := cmp.Diff(want, w, ignoreCreated); diff != "" {
		t.Errorf("observed web (-want +got):\n%s", diff)
	}
	if w.Created.IsZero() || time.Since(w.Created) > time.Hour {
		t.Errorf("web Created = %v", w.Created)
	}
	if obs.Images[img] != raw.Image {
		t.Errorf("Images[%s] = %q, want %q", img, obs.Images[img], raw.Image)
	}
	j, _ := findContainer(obs, reconcile.ContainerName(stack, "job", 2))
	if j.ID != job || j.ExitCode != 3 || j.Health != "" {
		t.Errorf("job = %+v, want exited with 3, no health", j)
	}
	r, ok := findContainer(obs, retiredName)
	if !ok || !r.Retired || r.State != reconcile.StateCreated || r.Number != 2 {
		t.Errorf("retired = %+v, want Retired, created, number 2", r)
	}
	for _, c := range obs.Containers {
		if c.ID == unrelated {
			t.Errorf("Observe lists the unlabelled container %s", c.Name)
		}
	}
	var names []string
	for _, c := range obs.Containers {
		if c.Stack == stack {
			names = append(names, c.Name)
		}
	}
	wantNames := []string{stack + "-job-2", stack + "-web-1", retiredName}
	if diff := cmp.Diff(wantNames, names); diff != "" {
		t.Errorf("containers of the stack, in order (-want +got):\n%s", diff)
	}
	if !hasNetwork(obs, stack+"_default", stack) || !hasVolume(obs, stack+"_data", stack) {
		t.Errorf("observed networks %+v volumes %+v: want %s_default and %s_data", obs.Networks, obs.Volumes, stack, stack)
	}
	testkit.AssertAlive(t, unrelated)
}

var ignoreCreated = cmp.FilterPath(func(p cmp.Path) bool { return p.String() == "Created" }, cmp.Ignore())

func hasNetwork(obs *reconcile.Observed, name, stack string) bool {
	for _, n := range obs.Networks {
		if n.Name == name && n.Stack == stack && n.ID != "" {
			return true
		}
	}
	return false
}

func hasVolume(obs *reconcile.Observed, name, stack string) bool {
	for _, v := range obs.Volumes {
		if v.Name == name && v.Stack == stack {
			return true
		}
	}
	return false
}

func TestDockerIdempotent(t *testing.T) {
	t.Parallel()
	d := newDocker(t)
	stack := testkit.StackName(t)
	testkit.CleanupStack(t, stack)
	ctx := t.Context()
	own := map[string]string{reconcile.LabelStack: stack, reconcile.LabelComposeProject: stack}

	net := reconcile.NetworkSpec{Name: stack + "_default"}
	for range 2 {
		if err := d.CreateNetwork(ctx, net, own); err != nil {
			t.Fatal(err)
		}
	}
	res, err := testkit.Docker(t).NetworkList(ctx, client.NetworkListOptions{Filters: make(client.Filters).Add("name", net.Name)})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Items) != 1 {
		t.Errorf("after two creates: %d networks named %s, want 1", len(res.Items), net.Name)
	}
	// A network of the name that moor did not make counts as there.
	if _, err := testkit.Docker(t).NetworkCreate(ctx, stack+"_ext", client.NetworkCreateOptions{Labels: map[string]string{testkit.LabelOwner: stack}}); err != nil {
		t.Fatal(err)
	}
	if err := d.CreateNetwork(ctx, reconcile.NetworkSpec{Name: stack + "_ext"}, own); err != nil {
		t.Errorf("create over an existing unlabelled network: %v", err)
	}
	if err := d.CreateNetwork(ctx, reconcile.NetworkSpec{Name: stack + "_missing", External: true}, own); !errors.Is(err, reconcile.ErrNotFound) {
		t.Errorf("create of a missing external network = %v, want ErrNotFound", err)
	}
	for range 2 {
		if err := d.CreateVolume(ctx, reconcile.VolumeSpec{Name: stack + "_data"}, own); err != nil {
			t.Fatal(err)
		}
	}

	id := create(t, d, stack, "web", 1, reconcile.ContainerSpec{Image: testkit.TestImage(t), Networks: []reconcile.NetworkAttachment{{Name: net.Name}}})
	if err := d.StartContainer(ctx, id); err != nil {
		t.Errorf("second start: %v", err)
	}
	if err := d.RenameContainer(ctx, id, stack+"-web-1"); err != nil {
		t.Errorf("rename to its own name: %v", err)
	}
	zero := time.Duration(0)
	for range 2 {
		if err := d.StopContainer(ctx, id, &zero); err != nil {
			t.Errorf("stop: %v", err)
		}
	}
	if c, err := d.InspectContainer(ctx, id); err != nil || c.State != reconcile.StateExited {
		t.Errorf("after stop: %+v, %v", c, err)
	}
	for range 2 {
		if err := d.RemoveContainer(ctx, id); err != nil {
			t.Errorf("remove: %v", err)
		}
	}
	for range 2 {
		if err := d.RemoveNetwork(ctx, net.Name); err != nil {
			t.Errorf("remove network: %v", err)
		}
	}
	for name, err := range map[string]error{
		"start":   d.StartContainer(ctx, id),
		"stop":    d.StopContainer(ctx, id, nil),
		"rename":  d.RenameContainer(ctx, id, stack+"-x"),
		"inspect": func() error { _, err := d.InspectContainer(ctx, id); return err }(),
		"logs":    func() error { _, err := d.Logs(ctx, id, 1); return err }(),
	} {
		if !errors.Is(err, reconcile.ErrNotFound) || !strings.Contains(err.Error(), id) {
			t.Errorf("%s of a removed container = %v, want ErrNotFound naming it", name, err)
		}
	}
}

func TestDockerConflict(t *testing.T) {
	t.Parallel()
	d := newDocker(t)
	stack := testkit.StackName(t)
	testkit.CleanupStack(t, stack)
	ctx := t.Context()
	spec := reconcile.ContainerSpec{Image: testkit.TestImage(t)}
	a, err := d.CreateContainer(ctx, stack+"-a-1", spec, labels(stack, "a", 1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.CreateContainer(ctx, stack+"-a-1", spec, labels(stack, "a", 1)); !errors.Is(err, reconcile.ErrConflict) {
		t.Errorf("second create of one name = %v, want ErrConflict", err)
	}
	if _, err := d.CreateContainer(ctx, stack+"-b-1", spec, labels(stack, "b", 1)); err != nil {
		t.Fatal(err)
	}
	if err := d.RenameContainer(ctx, a, stack+"-b-1"); !errors.Is(err, reconcile.ErrConflict) {
		t.Errorf("rename onto a taken name = %v, want ErrConflict", err)
	}
	missing := reconcile.ContainerSpec{Image: "moor-test-absent:nope"}
	_, err = d.CreateContainer(ctx, stack+"-c-1", missing, labels(stack, "c", 1))
	want := fmt.Sprintf("create container %s-c-1: image moor-test-absent:nope not present", stack)
	if err == nil || err.Error() != want || !errors.Is(err, reconcile.ErrNotFound) {
		t.Errorf("create from a missing image = %v, want %q (ErrNotFound)", err, want)
	}
	// Engines differ on whether create or start finds a network missing.
	bad := reconcile.ContainerSpec{Image: spec.Image, Networks: []reconcile.NetworkAttachment{{Name: stack + "_nonet"}}}
	id, err := d.CreateContainer(ctx, stack+"-d-1", bad, labels(stack, "d", 1))
	if err == nil {
		err = d.StartContainer(ctx, id)
	}
	if err == nil || !strings.Contains(err.Error(), stack+"_nonet") || strings.Contains(err.Error(), "image") {
		t.Errorf("create and start on a missing network = %v, want an error about the network", err)
	}
}

func TestDockerLogs(t *testing.T) {
	t.Parallel()
	d := newDocker(t)
	stack := testkit.StackName(t)
	testkit.CleanupStack(t, stack)
	ctx := t.Context()
	id := create(t, d, stack, "job", 1, reconcile.ContainerSpec{Image: testkit.TestImage(t), Env: []string{"EXIT_CODE=3"}})
	var c reconcile.Container
	testkit.Eventually(t, 10*time.Second, "job exits", func() bool {
		var err error
		c, err = d.InspectContainer(ctx, id)
		return err == nil && c.State == reconcile.StateExited
	})
	if c.ExitCode != 3 {
		t.Errorf("exit code %d, want 3", c.ExitCode)
	}
	logs, err := d.Logs(ctx, id, 10)
	if err != nil {
		t.Fatal(err)
	}
	if logs != "testapp: exiting with code 3\n" {
		t.Errorf("logs = %q, want the app's one line, demultiplexed", logs)
	}

	srv := create(t, d, stack, "web", 1, reconcile.ContainerSpec{Image: testkit.TestImage(t), Env: []string{"VERSION=v7"}})
	testkit.Eventually(t, 10*time.Second, "server logs", func() bool {
		logs, err = d.Logs(ctx, srv, 1)
		return err == nil && strings.Contains(logs, "version=v7")
	})
	if strings.Count(logs, "\n") != 1 {
		t.Errorf("Logs(1) = %q, want one line", logs)
	}
}

func TestDockerPull(t *testing.T) {
	t.Parallel()
	d := newDocker(t)
	reg := testkit.Registry(t)
	ref := testkit.Push(t, reg, testkit.TestImage(t), "moor/app:v1")
	if obs := observe(t, d); obs.Images[ref] != "" {
		t.Fatalf("%s present before the pull", ref)
	}
	if err := d.Pull(t.Context(), ref, ""); err != nil {
		t.Fatal(err)
	}
	obs := observe(t, d)
	if obs.Images[ref] == "" || obs.Images[ref] != obs.Images[testkit.TestImage(t)] {
		t.Errorf("after pull Images[%s] = %q, want the test image's ID %q", ref, obs.Images[ref], obs.Images[testkit.TestImage(t)])
	}
	digested := false
	for r, id := range obs.Images {
		if strings.HasPrefix(r, reg+"/moor/app@sha256:") && id == obs.Images[ref] {
			digested = true
		}
	}
	if !digested {
		t.Errorf("Images has no %s/moor/app@sha256:… entry for the pulled image", reg)
	}

	missing := reg + "/moor/app:nope"
	err := d.Pull(t.Context(), missing, "")
	if err == nil || !strings.HasPrefix(err.Error(), "pull "+missing+": ") {
		t.Errorf("pull of a missing tag = %v, want an error naming %s", err, missing)
	}
}

// TestDockerPullAuth pulls from a registry with basic auth using the
// credentials of a docker CLI config.json found through DOCKER_CONFIG.
func TestDockerPullAuth(t *testing.T) {
	d := newDocker(t)
	reg := testkit.RegistryWithAuth(t, "moor", "s3cret")
	ref := testkit.Push(t, reg, testkit.TestImage(t), "private/app:v1")

	t.Setenv("DOCKER_CONFIG", t.TempDir())
	if err := d.Pull(t.Context(), ref, ""); err == nil {
		t.Fatalf("pull without credentials succeeded")
	}
	dir := t.TempDir()
	auth := base64.StdEncoding.EncodeToString([]byte("moor:s3cret"))
	cfg := fmt.Sprintf(`{"auths": {%q: {"auth": %q}}}`, reg, auth)
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOCKER_CONFIG", dir)
	t.Cleanup(func() { removeImage(t, ref) })
	if err := d.Pull(t.Context(), ref, ""); err != nil {
		t.Fatalf("pull with config.json credentials: %v", err)
	}
}

func removeImage(t *testing.T, ref string) {
	_, err := testkit.Docker(t).ImageRemove(context.Background(), ref, client.ImageRemoveOptions{})
	if err != nil && !strings.Contains(err.Error(), "No such image") {
		t.Logf("remove %s: %v", ref, err)
	}
}

func TestNewDockerUnreachable(t *testing.T) {
	host := "unix://" + filepath.Join(t.TempDir(), "absent.sock")
	t.Setenv("DOCKER_HOST", host)
	d, err := runtime.NewDocker(t.Context())
	if err == nil {
		d.Close()
		t.Fatal("NewDocker succeeded without an engine")
	}
	if !strings.HasPrefix(err.Error(), "docker engine at "+host+": ") {
		t.Errorf("error = %q, want it to name %s", err, host)
	}
}
