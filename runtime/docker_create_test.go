package runtime_test

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"

	"github.com/moor-dev/moor/internal/testkit"
	"github.com/moor-dev/moor/reconcile"
)

// TestDockerCreateContainer creates a container from a spec that sets most
// fields and checks what the engine recorded and what a user would see: the
// service answers on its published port, serves a file from its bind mount
// and is reachable by its aliases on both networks.
func TestDockerCreateContainer(t *testing.T) {
	t.Parallel()
	d := newDocker(t)
	stack := testkit.StackName(t)
	testkit.CleanupStack(t, stack)
	ctx := t.Context()
	img := testkit.TestImage(t)
	own := map[string]string{reconcile.LabelStack: stack, reconcile.LabelComposeProject: stack}

	front, back := stack+"_front", stack+"_back"
	for _, n := range []string{front, back} {
		if err := d.CreateNetwork(ctx, reconcile.NetworkSpec{Name: n}, own); err != nil {
			t.Fatal(err)
		}
	}
	vol := stack + "_data"
	if err := d.CreateVolume(ctx, reconcile.VolumeSpec{Name: vol}, own); err != nil {
		t.Fatal(err)
	}
	hostDir := filepath.Join(t.TempDir(), "created-by-engine")
	port := testkit.FreePort(t)
	grace := 3 * time.Second
	init := true
	spec := reconcile.ContainerSpec{
		Image:           img,
		Env:             []string{"PORT=8080", "VERSION=v1"},
		Labels:          map[string]string{"app.tier": "web"},
		WorkingDir:      "/",
		Hostname:        "apphost",
		Domainname:      "example.test",
		StopSignal:      "SIGINT",
		StopGracePeriod: &grace,
		Ports:           []reconcile.Port{{Target: 8080, Published: fmt.Sprint(port), HostIP: "127.0.0.1", Protocol: "tcp"}},
		Expose:          []string{"9000-9001/udp"},
		Mounts: []reconcile.Mount{
			{Type: reconcile.MountVolume, Source: vol, Target: "/data", NoCopy: true},
			{Type: reconcile.MountBind, Source: hostDir, Target: "/host", ReadOnly: true, CreateHostPath: true},
			{Type: reconcile.MountTmpfs, Target: "/tmp", TmpfsSize: 1 << 20},
		},
		Networks: []reconcile.NetworkAttachment{
			{Name: back, Aliases: []string{"api-back"}},
			{Name: front, Aliases: []string{"api-front"}, Priority: 10},
		},
		Restart:     "on-failure:3",
		Healthcheck: &reconcile.Healthcheck{Test: []string{"CMD", "/testapp", "health"}, Interval: 500 * time.Millisecond, Timeout: 2 * time.Second, StartPeriod: time.Second, Retries: 5},
		CapAdd:      []string{"NET_ADMIN"},
		CapDrop:     []string{"MKNOD"},
		ExtraHosts:  []string{"db.example:10.1.2.3"},
		DNS:         []string{"10.9.9.9"},
		DNSSearch:   []string{"example.test"},
		DNSOptions:  []string{"ndots:2"},
		Sysctls:     map[string]string{"net.ipv4.ip_unprivileged_port_start": "0"},
		Ulimits:     []reconcile.Ulimit{{Name: "nofile", Soft: 1024, Hard: 2048}},
		Logging:     &reconcile.Logging{Driver: "json-file", Options: map[string]string{"max-size": "1m"}},
		Init:        &init,
		ReadOnly:    true,
		SecurityOpt: []string{"no-new-privileges:true"},
		Devices:     []reconcile.Device{{Host: "/dev/null", Container: "/dev/nothing"}},
		Tmpfs:       []string{"/run:size=65536k"},
		Resources:   reconcile.Resources{NanoCPUs: 500_000_000, MemoryBytes: 64 << 20, MemoryReservation: 32 << 20, PidsLimit: 100, CPUShares: 512, CPUSet: "0"},
		ShmSize:     16 << 20,
	}
	id := create(t, d, stack, "api", 1, spec)

	c := inspectRaw(t, id)
	cfg, hc := c.Config, c.HostConfig
	checks := []struct {
		name      string
		got, want any
	}{
		{"env", filterEnv(cfg.Env), []string{"PORT=8080", "VERSION=v1"}},
		{"label app.tier", cfg.Labels["app.tier"], "web"},
		{"label moor.stack", cfg.Labels[reconcile.LabelStack], stack},
		{"hostname", cfg.Hostname, "apphost"},
		{"domainname", cfg.Domainname, "example.test"},
		{"stop signal", cfg.StopSignal, "SIGINT"},
		{"stop timeout", *cfg.StopTimeout, 3},
		{"exposed", sortedPorts(cfg.ExposedPorts), []string{"8080/tcp", "9000/udp", "9001/udp"}},
		{"binding", hc.PortBindings[network.MustParsePort("8080/tcp")], []network.PortBinding{{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: fmt.Sprint(port)}}},
		{"network mode (highest priority)", string(hc.NetworkMode), front},
		{"restart", hc.RestartPolicy, container.RestartPolicy{Name: "on-failure", MaximumRetryCount: 3}},
		{"health test", cfg.Healthcheck.Test, []string{"CMD", "/testapp", "health"}},
		{"health timing", []time.Duration{cfg.Healthcheck.Interval, cfg.Healthcheck.Timeout, cfg.Healthcheck.StartPeriod}, []time.Duration{500 * time.Millisecond, 2 * time.Second, time.Second}},
		{"health retries", cfg.Healthcheck.Retries, 5},
		{"cap add", hc.CapAdd, []string{"CAP_NET_ADMIN"}},
		{"cap drop", hc.CapDrop, []string{"CAP_MKNOD"}},
		{"extra hosts", hc.ExtraHosts, []string{"db.example:10.1.2.3"}},
		{"dns", hc.DNS, []netip.Addr{netip.MustParseAddr("10.9.9.9")}},
		{"dns search", hc.DNSSearch, []string{"example.test"}},
		{"dns options", hc.DNSOptions, []string{"ndots:2"}},
		{"sysctls", hc.Sysctls, map[string]string{"net.ipv4.ip_unprivileged_port_start": "0"}},
		{"ulimits", *hc.Ulimits[0], container.Ulimit{Name: "nofile", Soft: 1024, Hard: 2048}},
		// The daemon may add its own default log options.
		{"log driver", hc.LogConfig.Type, "json-file"},
		{"log max-size", hc.LogConfig.Config["max-size"], "1m"},
		{"init", *hc.Init, true},
		{"read only", hc.ReadonlyRootfs, true},
		{"security opt", hc.SecurityOpt, []string{"no-new-privileges:true"}},
		{"devices", hc.Devices, []container.DeviceMapping{{PathOnHost: "/dev/null", PathInContainer: "/dev/nothing", CgroupPermissions: "rwm"}}},
		{"tmpfs", hc.Tmpfs, map[string]string{"/run": "size=65536k"}},
		{"resources", []int64{hc.NanoCPUs, hc.Memory, hc.MemoryReservation, *hc.PidsLimit, hc.CPUShares}, []int64{500_000_000, 64 << 20, 32 << 20, 100, 512}},
		{"cpuset", hc.CpusetCpus, "0"},
		{"shm", hc.ShmSize, int64(16 << 20)},
		{"binds", hc.Binds, []string{hostDir + ":/host:ro"}},
		{"mounts", hc.Mounts, []mount.Mount{
			{Type: mount.TypeVolume, Source: vol, Target: "/data", VolumeOptions: &mount.VolumeOptions{NoCopy: true}},
			{Type: mount.TypeTmpfs, Target: "/tmp", TmpfsOptions: &mount.TmpfsOptions{SizeBytes: 1 << 20}},
		}},
		{"aliases front", slices.Contains(c.NetworkSettings.Networks[front].Aliases, "api-front"), true},
		{"aliases back", slices.Contains(c.NetworkSettings.Networks[back].Aliases, "api-back"), true},
	}
	for _, c := range checks {
		if diff := cmp.Diff(c.want, c.got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
			t.Errorf("%s (-want +got):\n%s", c.name, diff)
		}
	}

	// What a user sees: healthy, answering on 127.0.0.1:port, serving a file
	// of its bind mount (whose missing source the engine created).
	testkit.Eventually(t, 20*time.Second, "api healthy", func() bool {
		got, err := d.InspectContainer(ctx, id)
		return err == nil && got.Health == reconcile.HealthHealthy
	})
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	if code, body, err := testkit.HTTPGet(url); err != nil || code != 200 || !strings.Contains(body, "version=v1") {
		t.Errorf("GET %s = %d %q %v, want version=v1", url, code, body, err)
	}
	if err := os.WriteFile(filepath.Join(hostDir, "hello"), []byte("from host"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, body, err := testkit.HTTPGet(url + "file?path=/host/hello"); err != nil || code != 200 || body != "from host" {
		t.Errorf("GET /file?path=/host/hello = %d %q %v", code, body, err)
	}

	// Both networks reach it by their aliases.
	for net, alias := range map[string]string{front: "api-front", back: "api-back"} {
		probe := reconcile.ContainerSpec{
			Image:    img,
			Command:  []string{"get", "http://" + alias + ":8080/"},
			Networks: []reconcile.NetworkAttachment{{Name: net}},
		}
		pid := create(t, d, stack, "probe-"+alias, 1, probe)
		var got reconcile.Container
		testkit.Eventually(t, 10*time.Second, "probe of "+alias+" exits", func() bool {
			var err error
			got, err = d.InspectContainer(ctx, pid)
			return err == nil && got.State == reconcile.StateExited
		})
		logs, _ := d.Logs(ctx, pid, 5)
		if got.ExitCode != 0 || !strings.Contains(logs, "version=v1") {
			t.Errorf("GET http://%s:8080/ from %s: exit %d, output %q", alias, net, got.ExitCode, logs)
		}
	}
}

// filterEnv drops what the image adds (PATH).
func filterEnv(env []string) []string {
	var out []string
	for _, e := range env {
		if !strings.HasPrefix(e, "PATH=") {
			out = append(out, e)
		}
	}
	return out
}

func sortedPorts(set network.PortSet) []string {
	var out []string
	for p := range set {
		out = append(out, p.String())
	}
	sort.Strings(out)
	return out
}
