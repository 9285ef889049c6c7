package runtime_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/moor-dev/moor/reconcile"
	"github.com/moor-dev/moor/runtime"
)

const (
	id1 = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	id2 = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
)

func newFake(t *testing.T) *runtime.Fake {
	t.Helper()
	f := runtime.NewFake()
	f.AddImage("app:1", id1)
	if err := f.CreateNetwork(t.Context(), reconcile.NetworkSpec{Name: "web_default"}, map[string]string{reconcile.LabelStack: "web"}); err != nil {
		t.Fatal(err)
	}
	return f
}

func fakeCreate(t *testing.T, f *runtime.Fake, service string, n int, spec reconcile.ContainerSpec) string {
	t.Helper()
	id, err := f.CreateContainer(t.Context(), reconcile.ContainerName("web", service, n), spec, labels("web", service, n))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.StartContainer(t.Context(), id); err != nil {
		t.Fatal(err)
	}
	return id
}

func inspectFake(t *testing.T, f *runtime.Fake, id string) reconcile.Container {
	t.Helper()
	c, err := f.InspectContainer(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var healthcheck = &reconcile.Healthcheck{Test: []string{"CMD", "/testapp", "health"}}

func TestFakeString(t *testing.T) {
	f := newFake(t)
	ctx := t.Context()
	f.AddImage("docker.io/library/busybox", id2)
	fakeCreate(t, f, "api", 1, reconcile.ContainerSpec{Image: "app:1", Healthcheck: healthcheck})
	inspectFake(t, f, "web-api-1")
	job := fakeCreate(t, f, "job", 1, reconcile.ContainerSpec{Image: "app:1"})
	f.Exit("web-job-1", 3)
	if _, err := f.CreateContainer(ctx, "web-new-1", reconcile.ContainerSpec{Image: "app:1"}, labels("web", "new", 1)); err != nil {
		t.Fatal(err)
	}
	f.AddUnmanaged("bystander")
	if err := f.CreateVolume(ctx, reconcile.VolumeSpec{Name: "web_data"}, map[string]string{reconcile.LabelStack: "web"}); err != nil {
		t.Fatal(err)
	}
	want := `container bystander running image=busybox:latest imageid=sha256:222222222222 unmanaged
container web-api-1 running health=healthy image=app:1 imageid=sha256:111111111111 hash=sha256:feedface rev=main@sha1:0123456789ab
container web-job-1 exited exit=3 image=app:1 imageid=sha256:111111111111 hash=sha256:feedface rev=main@sha1:0123456789ab
container web-new-1 created image=app:1 imageid=sha256:111111111111 hash=sha256:feedface rev=main@sha1:0123456789ab
image app:1 sha256:111111111111
image busybox:latest sha256:222222222222
network web_default stack=web
volume web_data stack=web
`
	if diff := cmp.Diff(want, f.String()); diff != "" {
		t.Errorf("String() (-want +got):\n%s", diff)
	}
	if logs, _ := f.Logs(ctx, job, 1); logs != "web-job-1: exited with code 3\n" {
		t.Errorf("Logs(job, 1) = %q", logs)
	}
}

// TestFakeObserve checks that Observe goes through the engine's list
// rendering: exit codes and health from status text, a moved tag shown as
// the image ID, unmanaged containers left out.
func TestFakeObserve(t *testing.T) {
	f := newFake(t)
	fakeCreate(t, f, "api", 1, reconcile.ContainerSpec{Image: "app:1", Healthcheck: healthcheck})
	fakeCreate(t, f, "job", 1, reconcile.ContainerSpec{Image: "app:1"})
	f.Exit("web-job-1", 3)
	f.AddUnmanaged("bystander")

	obs, err := f.Observe(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range obs.Containers {
		got = append(got, fmt.Sprintf("%s %s/%d %s exit=%d health=%q image=%s", c.Name, c.Service, c.Number, c.State, c.ExitCode, c.Health, c.Image))
	}
	want := []string{
		`web-api-1 api/1 running exit=0 health="starting" image=app:1`,
		`web-job-1 job/1 exited exit=3 health="" image=app:1`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("observed (-want +got):\n%s", diff)
	}
	if c := obs.Containers[0]; !c.Created.Equal(time.Date(2025, 1, 1, 0, 0, 2, 0, time.UTC)) || c.Labels[reconcile.LabelStack] != "web" {
		t.Errorf("created %v labels %v", c.Created, c.Labels)
	}

	f.AddImage("app:1", id2) // the tag moves; the containers keep the old image
	obs, _ = f.Observe(t.Context())
	if c := obs.Containers[0]; c.Image != id1 || c.ImageID != id1 || obs.Images["app:1"] != id2 {
		t.Errorf("after the tag moved: image %s id %s, Images[app:1] %s", c.Image, c.ImageID, obs.Images["app:1"])
	}
}

func TestFakeHealth(t *testing.T) {
	f := newFake(t)
	f.AddImage("sick:1", id2)
	f.UnhealthyImage("sick:1")
	f.AddImage("crash:1", id2)
	f.CrashImage("crash:1")
	tests := []struct {
		service string
		spec    reconcile.ContainerSpec
		pin     string
		state   string
		exit    int
		health  string
	}{
		{"plain", reconcile.ContainerSpec{Image: "app:1"}, "", reconcile.StateRunning, 0, ""},
		{"checked", reconcile.ContainerSpec{Image: "app:1", Healthcheck: healthcheck}, "", reconcile.StateRunning, 0, reconcile.HealthHealthy},
		{"nocheck", reconcile.ContainerSpec{Image: "app:1", Healthcheck: &reconcile.Healthcheck{Test: []string{"NONE"}}}, "", reconcile.StateRunning, 0, ""},
		{"sick", reconcile.ContainerSpec{Image: "sick:1", Healthcheck: healthcheck}, "", reconcile.StateRunning, 0, reconcile.HealthUnhealthy},
		{"pinned", reconcile.ContainerSpec{Image: "app:1", Healthcheck: healthcheck}, reconcile.HealthUnhealthy, reconcile.StateRunning, 0, reconcile.HealthUnhealthy},
		{"crash", reconcile.ContainerSpec{Image: "crash:1"}, "", reconcile.StateExited, 1, ""},
		{"crashloop", reconcile.ContainerSpec{Image: "crash:1", Restart: "always"}, "", reconcile.StateRestarting, 1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.service, func(t *testing.T) {
			id := fakeCreate(t, f, tt.service, 1, tt.spec)
			if tt.pin != "" {
				f.SetHealth(id, tt.pin)
			}
			c := inspectFake(t, f, id)
			if c.State != tt.state || c.ExitCode != tt.exit || c.Health != tt.health {
				t.Errorf("got %s exit %d health %q, want %s exit %d health %q", c.State, c.ExitCode, c.Health, tt.state, tt.exit, tt.health)
			}
		})
	}

	// A pinned health survives a restart.
	id := fakeCreate(t, f, "restarted", 1, reconcile.ContainerSpec{Image: "app:1", Healthcheck: healthcheck})
	f.SetHealth(id, reconcile.HealthUnhealthy)
	f.StopByHand("web-restarted-1")
	if err := f.StartContainer(t.Context(), id); err != nil {
		t.Fatal(err)
	}
	if c := inspectFake(t, f, id); c.Health != reconcile.HealthUnhealthy {
		t.Errorf("after restart: health %q, want the pinned unhealthy", c.Health)
	}
}

func TestFakeFaults(t *testing.T) {
	f := newFake(t)
	ctx := t.Context()
	boom := errors.New("boom")
	id := fakeCreate(t, f, "api", 1, reconcile.ContainerSpec{Image: "app:1"})

	f.FailOnce("StopContainer", "web-api-1", boom) // by name, called by ID
	if err := f.StopContainer(ctx, id, nil); !errors.Is(err, boom) || err.Error() != "stop container "+id+": boom" {
		t.Errorf("first stop = %v, want the injected boom, wrapped", err)
	}
	if err := f.StopContainer(ctx, id, nil); err != nil {
		t.Errorf("second stop = %v, want the one-shot fault gone", err)
	}

	f.FailAlways("Pull", "app:2", boom)
	f.Publish("app:2", id2)
	for range 2 {
		if err := f.Pull(ctx, "docker.io/library/app:2", ""); !errors.Is(err, boom) {
			t.Errorf("pull = %v, want the sticky boom", err)
		}
	}
	if err := f.Pull(ctx, "app:3", ""); !errors.Is(err, reconcile.ErrNotFound) || !strings.HasPrefix(err.Error(), "pull app:3: ") {
		t.Errorf("pull of an unpublished ref = %v, want ErrNotFound", err)
	}
	f.ClearFaults()
	if err := f.Pull(ctx, "app:2", ""); err != nil {
		t.Errorf("pull after ClearFaults: %v", err)
	}

	f.FailOnce("Observe", "*", boom)
	if _, err := f.Observe(ctx); !errors.Is(err, boom) {
		t.Errorf("observe = %v, want boom", err)
	}
	f.FailOnce("CreateContainer", "*", boom)
	if _, err := f.CreateContainer(ctx, "web-x-1", reconcile.ContainerSpec{Image: "app:1"}, nil); !errors.Is(err, boom) {
		t.Errorf("create = %v, want boom", err)
	}

	calls := f.Calls()
	want := map[string]int{"CreateNetwork": 1, "CreateContainer": 2, "StartContainer": 1, "StopContainer": 2, "Pull": 4, "Observe": 1}
	if diff := cmp.Diff(want, calls); diff != "" {
		t.Errorf("Calls() (-want +got):\n%s", diff)
	}
	f.ResetCalls()
	if len(f.Calls()) != 0 {
		t.Errorf("after ResetCalls: %v", f.Calls())
	}
	defer func() {
		if recover() == nil {
			t.Errorf("FailOnce of an unknown method did not panic")
		}
	}()
	f.FailOnce("StartContainers", "*", boom)
}

func TestFakeHandChanges(t *testing.T) {
	f := newFake(t)
	ctx := t.Context()
	id := fakeCreate(t, f, "api", 1, reconcile.ContainerSpec{Image: "app:1", Networks: []reconcile.NetworkAttachment{{Name: "web_default"}}})

	if err := f.RemoveNetwork(ctx, "web_default"); err == nil {
		t.Errorf("removed a network a running container uses")
	}
	f.RenameByHand("web-api-1", "web-api-1"+reconcile.RetiredSuffix)
	obs, _ := f.Observe(ctx)
	if len(obs.Containers) != 1 || !obs.Containers[0].Retired {
		t.Errorf("after a rename to -retired: %+v", obs.Containers)
	}
	f.StopByHand(id)
	if c := inspectFake(t, f, id); c.State != reconcile.StateExited || c.ExitCode != 0 {
		t.Errorf("after StopByHand: %s exit %d", c.State, c.ExitCode)
	}
	if err := f.RemoveNetwork(ctx, "web_default"); err != nil {
		t.Errorf("remove a network only a stopped container uses: %v", err)
	}
	f.RemoveByHand(id)
	if _, err := f.InspectContainer(ctx, id); !errors.Is(err, reconcile.ErrNotFound) {
		t.Errorf("after RemoveByHand: %v", err)
	}

	f.AddUnmanaged("web-api-1")
	_, err := f.CreateContainer(ctx, "web-api-1", reconcile.ContainerSpec{Image: "app:1"}, labels("web", "api", 1))
	if !errors.Is(err, reconcile.ErrConflict) {
		t.Errorf("create over an unmanaged container's name = %v, want ErrConflict", err)
	}
	if obs, _ := f.Observe(ctx); len(obs.Containers) != 0 {
		t.Errorf("Observe lists the unmanaged container: %+v", obs.Containers)
	}

	// A named volume a container mounts is created, without labels, so
	// Observe does not list it.
	fakeCreate(t, f, "db", 1, reconcile.ContainerSpec{Image: "app:1", Mounts: []reconcile.Mount{{Type: reconcile.MountVolume, Source: "loose", Target: "/data"}}})
	if !strings.Contains(f.String(), "volume loose unmanaged\n") {
		t.Errorf("no unlabelled volume in:\n%s", f)
	}
}

// TestFakeConcurrent runs the executor's kind of parallel use under -race.
func TestFakeConcurrent(t *testing.T) {
	f := newFake(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			name := reconcile.ContainerName("web", "svc", i)
			id, err := f.CreateContainer(ctx, name, reconcile.ContainerSpec{Image: "app:1", Healthcheck: healthcheck}, labels("web", "svc", i))
			if err != nil {
				t.Error(err)
				return
			}
			_ = f.StartContainer(ctx, id)
			_, _ = f.InspectContainer(ctx, id)
			_, _ = f.Observe(ctx)
			_ = f.StopContainer(ctx, id, nil)
			_ = f.RemoveContainer(ctx, id)
			_ = f.String()
		})
	}
	wg.Wait()
	if obs, _ := f.Observe(ctx); len(obs.Containers) != 0 {
		t.Errorf("left %d containers", len(obs.Containers))
	}
}
