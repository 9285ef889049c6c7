package runtime

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/moby/moby/api/types/blkiodev"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"

	"github.com/moor-dev/moor/reconcile"
)

// TestBuildCreateHostConfigFields checks the create request carries every
// field compose passes to HostConfig as compose v2's getCreateConfigs does.
func TestBuildCreateHostConfigFields(t *testing.T) {
	spec := reconcile.ContainerSpec{
		Image: "app:1", Runtime: "runc", Ipc: "shareable", Pid: "container:db", Uts: "host",
		UsernsMode: "host", Cgroup: "private", GroupAdd: []string{"audio"}, OomScoreAdj: -100,
		StorageOpt: map[string]string{"size": "1G"}, Isolation: "default", VolumesFrom: []string{"data-1:ro"},
		DeviceCgroupRules: []string{"c 1:3 mr"},
		DeviceRequests: []reconcile.DeviceRequest{
			{Driver: "nvidia", Count: -1, Capabilities: []string{"gpu"}},
			{DeviceIDs: []string{"0"}},
		},
		Blkio: &reconcile.Blkio{
			Weight:          300,
			WeightDevice:    []reconcile.WeightDevice{{Path: "/dev/sda", Weight: 400}},
			DeviceReadBps:   []reconcile.ThrottleDevice{{Path: "/dev/sda", Rate: 1}},
			DeviceReadIOps:  []reconcile.ThrottleDevice{{Path: "/dev/sda", Rate: 2}},
			DeviceWriteBps:  []reconcile.ThrottleDevice{{Path: "/dev/sda", Rate: 3}},
			DeviceWriteIOps: []reconcile.ThrottleDevice{{Path: "/dev/sda", Rate: 4}},
		},
		Resources: reconcile.Resources{
			MemoryBytes: 64 << 20, CgroupParent: "moor", MemorySwap: -1, MemorySwappiness: 10,
			OomKillDisable: true, CPUCount: 2, CPUPercent: 5000, CPUPeriod: 100000, CPUQuota: 50000,
			CPURealtimePeriod: 1000000, CPURealtimeRuntime: 950000,
		},
	}
	req, err := buildCreate(spec, nil, "web-api-1", "api", "1.41")
	if err != nil {
		t.Fatal(err)
	}
	hc := req.HostConfig
	swappiness, yes := int64(10), true
	got := []any{hc.VolumesFrom, hc.Runtime, hc.IpcMode, hc.PidMode, hc.UTSMode, hc.UsernsMode, hc.CgroupnsMode, hc.GroupAdd, hc.OomScoreAdj, hc.StorageOpt, hc.Isolation, hc.Resources}
	want := []any{[]string{"data-1:ro"}, "runc", container.IpcMode("shareable"), container.PidMode("container:db"), container.UTSMode("host"),
		container.UsernsMode("host"), container.CgroupnsMode("private"), []string{"audio"}, -100,
		map[string]string{"size": "1G"}, container.Isolation("default"),
		container.Resources{
			Memory: 64 << 20, CgroupParent: "moor", MemorySwap: -1, MemorySwappiness: &swappiness,
			OomKillDisable: &yes, CPUCount: 2, CPUPercent: 5000, CPUPeriod: 100000, CPUQuota: 50000,
			CPURealtimePeriod: 1000000, CPURealtimeRuntime: 950000,
			DeviceCgroupRules: []string{"c 1:3 mr"},
			DeviceRequests: []container.DeviceRequest{
				{Driver: "nvidia", Count: -1, Capabilities: [][]string{{"gpu"}}},
				{DeviceIDs: []string{"0"}, Capabilities: [][]string{nil}},
			},
			BlkioWeight:          300,
			BlkioWeightDevice:    []*blkiodev.WeightDevice{{Path: "/dev/sda", Weight: 400}},
			BlkioDeviceReadBps:   []*blkiodev.ThrottleDevice{{Path: "/dev/sda", Rate: 1}},
			BlkioDeviceReadIOps:  []*blkiodev.ThrottleDevice{{Path: "/dev/sda", Rate: 2}},
			BlkioDeviceWriteBps:  []*blkiodev.ThrottleDevice{{Path: "/dev/sda", Rate: 3}},
			BlkioDeviceWriteIOps: []*blkiodev.ThrottleDevice{{Path: "/dev/sda", Rate: 4}},
		},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("host config (-want +got):\n%s", d)
	}

	// Unset, the new fields leave the request as it was.
	req, err = buildCreate(reconcile.ContainerSpec{Image: "app:1"}, nil, "web-api-1", "api", "1.41")
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(container.Resources{}, req.HostConfig.Resources); d != "" {
		t.Errorf("resources of an empty spec (-want +got):\n%s", d)
	}
}

// TestBuildCreateMounts checks SELinux relabelling (only binds take it),
// bind.recursive and the volume options.
func TestBuildCreateMounts(t *testing.T) {
	spec := reconcile.ContainerSpec{Image: "app:1", Mounts: []reconcile.Mount{
		{Type: reconcile.MountBind, Source: "/srv/a", Target: "/a", ReadOnly: true, SELinux: "z", Propagation: "rslave"},
		{Type: reconcile.MountBind, Source: "/srv/b", Target: "/b", SELinux: "Z", Content: "sha256:00"},
		{Type: reconcile.MountBind, Source: "/srv/c", Target: "/c", Recursive: "disabled"},
		{Type: reconcile.MountVolume, Source: "v", Target: "/v", VolumeLabels: map[string]string{"k": "v"}},
	}}
	req, err := buildCreate(spec, nil, "web-api-1", "api", "1.41")
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"/srv/a:/a:ro,z,rslave", "/srv/b:/b:rw,Z"}, req.HostConfig.Binds); d != "" {
		t.Errorf("binds (-want +got):\n%s", d)
	}
	wantMounts := []mount.Mount{
		{Type: mount.TypeBind, Source: "/srv/c", Target: "/c", BindOptions: &mount.BindOptions{NonRecursive: true}},
		{Type: mount.TypeVolume, Source: "v", Target: "/v", VolumeOptions: &mount.VolumeOptions{Labels: map[string]string{"k": "v"}}},
	}
	if d := cmp.Diff(wantMounts, req.HostConfig.Mounts); d != "" {
		t.Errorf("mounts (-want +got):\n%s", d)
	}
}

// TestBuildCreateNeedsNewerEngine: a field the engine's API does not know is
// an error naming the field and the engine it needs, never dropped.
func TestBuildCreateNeedsNewerEngine(t *testing.T) {
	net := []reconcile.NetworkAttachment{{Name: "web_default"}}
	tests := []struct {
		name string
		spec reconcile.ContainerSpec
		api  string
		want string // "" for success
	}{
		{"subpath on 1.41", reconcile.ContainerSpec{Mounts: []reconcile.Mount{{Type: reconcile.MountVolume, Source: "v", Target: "/v", Subpath: "x"}}}, "1.41",
			"volumes.volume.subpath (on /v) needs Docker Engine 26.0 or later (API 1.45); this engine speaks API 1.41"},
		{"annotations on 1.41", reconcile.ContainerSpec{Annotations: map[string]string{"a": "b"}}, "1.41",
			"annotations needs Docker Engine 24.0 or later (API 1.43); this engine speaks API 1.41"},
		{"annotations on 1.43", reconcile.ContainerSpec{Annotations: map[string]string{"a": "b"}}, "1.43", ""},
		{"subpath on 1.45", reconcile.ContainerSpec{Mounts: []reconcile.Mount{{Type: reconcile.MountVolume, Source: "v", Target: "/v", Subpath: "x"}}}, "1.45", ""},
		{"recursive readonly on 1.41", reconcile.ContainerSpec{Mounts: []reconcile.Mount{{Type: reconcile.MountBind, Source: "/s", Target: "/s", Recursive: "readonly"}}}, "1.41",
			"volumes.bind.recursive readonly (on /s) needs Docker Engine 25.0 or later (API 1.44)"},
		{"mac_address on 1.41", reconcile.ContainerSpec{MacAddress: "02:42:ac:11:00:02", Networks: net}, "1.41", ""},
		{"bad mac_address on 1.41", reconcile.ContainerSpec{MacAddress: "02:42", Networks: net}, "1.41", `mac_address "02:42"`},
		{"mac_address on 1.44", reconcile.ContainerSpec{MacAddress: "02:42:ac:11:00:02", Networks: net}, "1.44", ""},
		{"mac_address without networks", reconcile.ContainerSpec{MacAddress: "02:42:ac:11:00:02", NetworkMode: "host"}, "1.44", "mac_address"},
		{"selinux and recursive", reconcile.ContainerSpec{Mounts: []reconcile.Mount{{Type: reconcile.MountBind, Source: "/s", Target: "/s", SELinux: "z", Recursive: "disabled"}}}, "1.44", "bind.selinux and bind.recursive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.spec.Image = "app:1"
			req, err := buildCreate(tt.spec, nil, "web-api-1", "api", tt.api)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("buildCreate: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			if tt.name == "mac_address on 1.44" && (req.endpoints["web_default"].MacAddress.String() != "02:42:ac:11:00:02" || req.legacyMAC != "") {
				t.Errorf("primary endpoint MAC = %v, container-wide %q", req.endpoints["web_default"].MacAddress, req.legacyMAC)
			}
			if tt.name == "mac_address on 1.41" && (req.legacyMAC != "02:42:ac:11:00:02" || len(req.endpoints["web_default"].MacAddress) != 0) {
				t.Errorf("container-wide MAC = %q, endpoint %v", req.legacyMAC, req.endpoints["web_default"].MacAddress)
			}
		})
	}
}

// TestBuildCreateCDIDevices: a device named by its CDI name is a request of
// the cdi driver, as compose makes it, and needs an engine that has one.
func TestBuildCreateCDIDevices(t *testing.T) {
	spec := reconcile.ContainerSpec{Image: "app:1", Devices: []reconcile.Device{
		{Host: "nvidia.com/gpu=all", Container: "nvidia.com/gpu=all"},
		{Host: "/dev/null", Container: "/dev/nothing"},
	}}
	req, err := buildCreate(spec, nil, "web-api-1", "api", "1.44")
	if err != nil {
		t.Fatal(err)
	}
	r := req.HostConfig.Resources
	if d := cmp.Diff([]container.DeviceRequest{{Driver: "cdi", DeviceIDs: []string{"nvidia.com/gpu=all"}}}, r.DeviceRequests); d != "" {
		t.Errorf("device requests (-want +got):\n%s", d)
	}
	if len(r.Devices) != 1 || r.Devices[0].PathOnHost != "/dev/null" {
		t.Errorf("devices = %+v, want /dev/null only", r.Devices)
	}
	if _, err := buildCreate(spec, nil, "web-api-1", "api", "1.41"); err == nil || !strings.Contains(err.Error(), "devices nvidia.com/gpu=all (a CDI device) needs Docker Engine 25.0 or later") {
		t.Errorf("on API 1.41: %v", err)
	}
}

// TestWithField adds the container-wide MacAddress to a create request's
// JSON and keeps the rest.
func TestWithField(t *testing.T) {
	b, err := withField([]byte(`{"Image":"app:1","HostConfig":{"Init":true}}`), "MacAddress", "02:42:ac:11:00:02")
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"HostConfig":{"Init":true},"Image":"app:1","MacAddress":"02:42:ac:11:00:02"}`; string(b) != want {
		t.Errorf("got %s, want %s", b, want)
	}
}
