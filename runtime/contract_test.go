package runtime_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/moor-dev/moor/internal/testkit"
	"github.com/moor-dev/moor/reconcile"
	"github.com/moor-dev/moor/runtime"
)

// contract checks the reconcile.Runtime contract on rt: idempotency,
// conflicts, not-found errors and what Observe shows. It runs against the
// engine and the fake alike, so the fake cannot drift from the engine.
// image must be local; missing must not be pullable.
func contract(t *testing.T, rt reconcile.Runtime, stack, image, missing string) {
	ctx := t.Context()
	own := map[string]string{reconcile.LabelStack: stack, reconcile.LabelSource: "test", reconcile.LabelComposeProject: stack}
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	wantIs := func(what string, err, kind error) {
		t.Helper()
		if !errors.Is(err, kind) {
			t.Errorf("%s = %v, want %v", what, err, kind)
		}
	}

	net := reconcile.NetworkSpec{Name: stack + "_default"}
	must("create network", rt.CreateNetwork(ctx, net, own))
	must("create network again", rt.CreateNetwork(ctx, net, own))
	wantIs("create missing external network", rt.CreateNetwork(ctx, reconcile.NetworkSpec{Name: stack + "_ext", External: true}, own), reconcile.ErrNotFound)
	vol := reconcile.VolumeSpec{Name: stack + "_data"}
	must("create volume", rt.CreateVolume(ctx, vol, own))
	must("create volume again", rt.CreateVolume(ctx, vol, own))

	name := reconcile.ContainerName(stack, "web", 1)
	spec := reconcile.ContainerSpec{
		Image:    image,
		Networks: []reconcile.NetworkAttachment{{Name: net.Name}},
		Mounts:   []reconcile.Mount{{Type: reconcile.MountVolume, Source: vol.Name, Target: "/data"}},
	}
	id, err := rt.CreateContainer(ctx, name, spec, labels(stack, "web", 1))
	must("create container", err)
	_, err = rt.CreateContainer(ctx, name, spec, labels(stack, "web", 1))
	wantIs("create container again", err, reconcile.ErrConflict)

	obs, err := rt.Observe(ctx)
	must("observe", err)
	c, ok := findContainer(obs, name)
	if !ok || c.ID != id || c.State != reconcile.StateCreated || c.Stack != stack || c.Service != "web" ||
		c.Number != 1 || c.Source != "test" || c.ConfigHash != "sha256:feedface" || c.Retired ||
		c.Image != image || c.ImageID == "" || c.ImageID != obs.Images[image] {
		t.Errorf("observed %+v\nwant created %s of %s (%s)", c, name, image, obs.Images[image])
	}
	if !hasNetwork(obs, net.Name, stack) || !hasVolume(obs, vol.Name, stack) {
		t.Errorf("observe: networks %+v volumes %+v, want %s and %s", obs.Networks, obs.Volumes, net.Name, vol.Name)
	}

	for range 2 {
		must("start", rt.StartContainer(ctx, id))
	}
	wantState(t, rt, id, reconcile.StateRunning)
	// Exec: a non-zero exit is a result, with the command's output.
	failing := reconcile.Hook{Command: []string{"/testapp", "exit", "3", "went", "wrong"}}
	res, err := rt.Exec(ctx, id, failing)
	must("exec", err)
	if res.ExitCode != 3 || strings.TrimSpace(res.Output) != "went wrong" {
		t.Errorf("exec of a failing command = %+v, want exit code 3 and its output", res)
	}
	must("rename to its own name", rt.RenameContainer(ctx, id, name))
	must("retire", rt.RenameContainer(ctx, id, name+reconcile.RetiredSuffix))
	obs, err = rt.Observe(ctx)
	must("observe", err)
	if c, ok := findContainer(obs, name+reconcile.RetiredSuffix); !ok || !c.Retired || c.State != reconcile.StateRunning {
		t.Errorf("after retiring: %+v, want a running retired container", c)
	}
	other, err := rt.CreateContainer(ctx, name, spec, labels(stack, "web", 1))
	must("create a second container under the freed name", err)
	wantIs("rename onto a taken name", rt.RenameContainer(ctx, id, name), reconcile.ErrConflict)
	must("remove the second", rt.RemoveContainer(ctx, other))
	must("rename back", rt.RenameContainer(ctx, id, name))

	zero := time.Duration(0)
	for range 2 {
		must("stop", rt.StopContainer(ctx, id, &zero))
	}
	wantState(t, rt, id, reconcile.StateExited)
	_, err = rt.Exec(ctx, id, failing)
	wantIs("exec in a stopped container", err, reconcile.ErrConflict)
	must("start again", rt.StartContainer(ctx, id))
	wantState(t, rt, name, reconcile.StateRunning) // by name, too

	for range 2 {
		must("remove", rt.RemoveContainer(ctx, id))
	}
	_, err = rt.InspectContainer(ctx, id)
	wantIs("inspect removed", err, reconcile.ErrNotFound)
	wantIs("start removed", rt.StartContainer(ctx, id), reconcile.ErrNotFound)
	wantIs("stop removed", rt.StopContainer(ctx, id, nil), reconcile.ErrNotFound)
	wantIs("rename removed", rt.RenameContainer(ctx, id, name), reconcile.ErrNotFound)
	_, err = rt.Exec(ctx, id, failing)
	wantIs("exec in a removed container", err, reconcile.ErrNotFound)
	_, err = rt.Logs(ctx, id, 1)
	wantIs("logs of removed", err, reconcile.ErrNotFound)

	for range 2 {
		must("remove network", rt.RemoveNetwork(ctx, net.Name))
	}
	obs, err = rt.Observe(ctx)
	must("observe", err)
	if _, ok := findContainer(obs, name); ok || hasNetwork(obs, net.Name, stack) {
		t.Errorf("after removal: containers %+v networks %+v", obs.Containers, obs.Networks)
	}
	if !hasVolume(obs, vol.Name, stack) {
		t.Errorf("removing the container removed the named volume %s", vol.Name)
	}

	gone := reconcile.ContainerSpec{Image: missing}
	_, err = rt.CreateContainer(ctx, stack+"-gone-1", gone, labels(stack, "gone", 1))
	if want := "create container " + stack + "-gone-1: image " + missing + " not present"; err == nil || err.Error() != want {
		t.Errorf("create from a missing image = %v, want %q", err, want)
	}
	wantIs("create from a missing image", err, reconcile.ErrNotFound)
	if err := rt.Pull(ctx, missing, ""); err == nil || !strings.HasPrefix(err.Error(), "pull "+missing+": ") {
		t.Errorf("pull of a missing image = %v, want an error naming it", err)
	}
}

func wantState(t *testing.T, rt reconcile.Runtime, id, state string) {
	t.Helper()
	// The engine may take a moment to stop a container.
	testkit.Eventually(t, 10*time.Second, "container "+id+" "+state, func() bool {
		c, err := rt.InspectContainer(t.Context(), id)
		return err == nil && c.State == state
	})
}

func TestDockerContract(t *testing.T) {
	t.Parallel()
	d := newDocker(t)
	stack := testkit.StackName(t)
	testkit.CleanupStack(t, stack)
	unrelated := testkit.Unrelated(t, stack)
	contract(t, d, stack, testkit.TestImage(t), "moor-test-absent:nope")
	testkit.AssertAlive(t, unrelated)
}

func TestFakeContract(t *testing.T) {
	f := runtime.NewFake()
	f.AddImage("app:1", "sha256:1111111111111111111111111111111111111111111111111111111111111111")
	f.ExecExits("/testapp exit 3 went wrong", 3, "went wrong\n")
	contract(t, f, "web", "app:1", "app:absent")
}
