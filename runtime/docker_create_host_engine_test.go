package runtime_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/moby/moby/api/types/container"

	"github.com/moor-dev/moor/internal/testkit"
	"github.com/moor-dev/moor/reconcile"
)

// TestDockerCreateHostConfigFields creates and starts a container with the
// HostConfig fields compose passes as they are and that an engine of API
// 1.41 on cgroup v1 accepts, and checks the engine recorded each one and
// runs the container.
func TestDockerCreateHostConfigFields(t *testing.T) {
	t.Parallel()
	d := newDocker(t)
	stack := testkit.StackName(t)
	testkit.CleanupStack(t, stack)
	ctx := t.Context()
	dir := t.TempDir()
	spec := reconcile.ContainerSpec{
		Image:             testkit.TestImage(t),
		Env:               []string{"PORT=8080"},
		Runtime:           "runc",
		Ipc:               "shareable",
		Uts:               "host",
		UsernsMode:        "host",
		Cgroup:            "private",
		GroupAdd:          []string{"29"},
		OomScoreAdj:       200,
		Isolation:         "default",
		DeviceCgroupRules: []string{"c 1:3 mr"},
		Mounts:            []reconcile.Mount{{Type: reconcile.MountBind, Source: dir, Target: "/shared", ReadOnly: true, SELinux: "z"}},
		Resources: reconcile.Resources{
			MemoryBytes: 64 << 20, MemorySwap: 128 << 20, MemorySwappiness: 10,
			CPUPeriod: 100000, CPUQuota: 50000,
		},
	}
	id := create(t, d, stack, "api", 1, spec)
	hc := inspectRaw(t, id).HostConfig
	got := []any{hc.Runtime, hc.IpcMode, hc.UTSMode, hc.UsernsMode, hc.CgroupnsMode, hc.GroupAdd, hc.OomScoreAdj,
		hc.Isolation, hc.DeviceCgroupRules, hc.Memory, hc.MemorySwap, *hc.MemorySwappiness, hc.CPUPeriod, hc.CPUQuota, hc.Binds}
	want := []any{"runc", container.IpcMode("shareable"), container.UTSMode("host"), container.UsernsMode("host"),
		container.CgroupnsMode("private"), []string{"29"}, 200, container.Isolation("default"), []string{"c 1:3 mr"},
		int64(64 << 20), int64(128 << 20), int64(10), int64(100000), int64(50000), []string{dir + ":/shared:ro,z"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("host config (-want +got):\n%s", diff)
	}
	testkit.Eventually(t, 10*time.Second, "api running", func() bool {
		c, err := d.InspectContainer(ctx, id)
		return err == nil && c.State == reconcile.StateRunning
	})

	// pid container:NAME joins that container's namespace.
	pid := create(t, d, stack, "side", 1, reconcile.ContainerSpec{
		Image: spec.Image, Env: []string{"PORT=8081"}, Pid: "container:" + reconcile.ContainerName(stack, "api", 1), Ipc: "container:" + reconcile.ContainerName(stack, "api", 1),
	})
	shc := inspectRaw(t, pid).HostConfig
	if string(shc.PidMode) != "container:"+reconcile.ContainerName(stack, "api", 1) && string(shc.PidMode) != "container:"+id {
		t.Errorf("pid mode = %q, want the api container's", shc.PidMode)
	}
	if string(shc.IpcMode) != "container:"+reconcile.ContainerName(stack, "api", 1) && string(shc.IpcMode) != "container:"+id {
		t.Errorf("ipc mode = %q, want the api container's", shc.IpcMode)
	}
}

// TestDockerMacAddress: mac_address is the container's MAC address on its
// primary network, on this engine's API version whatever it is.
func TestDockerMacAddress(t *testing.T) {
	t.Parallel()
	d := newDocker(t)
	stack := testkit.StackName(t)
	testkit.CleanupStack(t, stack)
	net := stack + "_default"
	own := map[string]string{reconcile.LabelStack: stack, reconcile.LabelComposeProject: stack}
	if err := d.CreateNetwork(t.Context(), reconcile.NetworkSpec{Name: net}, own); err != nil {
		t.Fatal(err)
	}
	const mac = "02:42:ac:11:00:99"
	id := create(t, d, stack, "api", 1, reconcile.ContainerSpec{
		Image: testkit.TestImage(t), Env: []string{"PORT=8080"}, MacAddress: mac,
		Networks: []reconcile.NetworkAttachment{{Name: net}},
	})
	var got string
	testkit.Eventually(t, 10*time.Second, "api running with its MAC address", func() bool {
		c := inspectRaw(t, id)
		if ep := c.NetworkSettings.Networks[net]; ep != nil {
			got = ep.MacAddress.String()
		}
		return got == mac
	})
	// The engine's errors keep their kind.
	spec := reconcile.ContainerSpec{Image: testkit.TestImage(t), MacAddress: mac, Networks: []reconcile.NetworkAttachment{{Name: net}}}
	if _, err := d.CreateContainer(t.Context(), reconcile.ContainerName(stack, "api", 1), spec, labels(stack, "api", 1)); !errors.Is(err, reconcile.ErrConflict) {
		t.Errorf("create of a taken name: %v, want ErrConflict", err)
	}
}

// TestDockerVolumesFrom: volumes_from container:NAME mounts that container's
// volumes, read-only when asked.
func TestDockerVolumesFrom(t *testing.T) {
	t.Parallel()
	d := newDocker(t)
	stack := testkit.StackName(t)
	testkit.CleanupStack(t, stack)
	img := testkit.TestImage(t)
	data := reconcile.ContainerName(stack, "data", 1)
	create(t, d, stack, "data", 1, reconcile.ContainerSpec{Image: img, Env: []string{"PORT=8080"},
		Mounts: []reconcile.Mount{{Type: reconcile.MountVolume, Target: "/shared"}}})
	id := create(t, d, stack, "api", 1, reconcile.ContainerSpec{Image: img, Env: []string{"PORT=8081"}, VolumesFrom: []string{data + ":ro"}})
	c := inspectRaw(t, id)
	if len(c.HostConfig.VolumesFrom) != 1 || c.HostConfig.VolumesFrom[0] != data+":ro" {
		t.Errorf("volumes_from = %v, want [%s:ro]", c.HostConfig.VolumesFrom, data)
	}
	found := false
	for _, m := range c.Mounts {
		if m.Destination == "/shared" && !m.RW {
			found = true
		}
	}
	if !found {
		t.Errorf("mounts = %+v, want /shared read-only from %s", c.Mounts, data)
	}
}
