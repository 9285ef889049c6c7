package compose

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/moor-dev/moor/reconcile"
)

// TestLoadStackMapsHostConfigFields loads every field compose passes to the
// engine's HostConfig as it is, and checks the spec carries it as compose
// v2's getCreateConfigs and getDeployResources would.
func TestLoadStackMapsHostConfigFields(t *testing.T) {
	st, _ := mustLoadWeb(t, map[string]string{"web/compose.yaml": `
services:
  api:
    image: app:1
    runtime: runc
    ipc: shareable
    pid: host
    uts: host
    userns_mode: host
    cgroup: private
    cgroup_parent: moor.slice
    group_add: [video, audio]
    mem_limit: 64m
    memswap_limit: 128m
    mem_swappiness: 10
    oom_kill_disable: true
    oom_score_adj: 200
    cpu_count: 2
    cpu_percent: 50
    cpu_period: 100000
    cpu_quota: 50000
    cpu_rt_period: 1000000
    cpu_rt_runtime: 950000
    blkio_config:
      weight: 300
      weight_device:
        - {path: /dev/sda, weight: 400}
      device_read_bps:
        - {path: /dev/sda, rate: 1mb}
      device_write_iops:
        - {path: /dev/sda, rate: 30}
    device_cgroup_rules: ["c 1:3 mr", "a 7:* rmw"]
    storage_opt: {size: 1G}
    mac_address: 02:42:ac:11:00:02
    isolation: default
    annotations: {com.example.a: b}
    volumes_from: ["container:data-1", "container:data-2"]
    gpus:
      - driver: nvidia
        count: 1
    deploy:
      resources:
        reservations:
          devices:
            - capabilities: [gpu, utility]
              device_ids: ["0"]
              driver: nvidia
              options: {a: b}
`}, Options{})
	spec := st.Services["api"].Spec
	got := reconcile.ContainerSpec{
		Runtime: spec.Runtime, Ipc: spec.Ipc, Pid: spec.Pid, Uts: spec.Uts, UsernsMode: spec.UsernsMode,
		Cgroup: spec.Cgroup, GroupAdd: spec.GroupAdd, OomScoreAdj: spec.OomScoreAdj, StorageOpt: spec.StorageOpt,
		MacAddress: spec.MacAddress, Isolation: spec.Isolation, Annotations: spec.Annotations, VolumesFrom: spec.VolumesFrom, DeviceCgroupRules: spec.DeviceCgroupRules,
		DeviceRequests: spec.DeviceRequests, Blkio: spec.Blkio, Resources: spec.Resources,
	}
	want := reconcile.ContainerSpec{
		Runtime: "runc", Ipc: "shareable", Pid: "host", Uts: "host", UsernsMode: "host", Cgroup: "private",
		GroupAdd:          []string{"audio", "video"},
		OomScoreAdj:       200,
		StorageOpt:        map[string]string{"size": "1G"},
		MacAddress:        "02:42:ac:11:00:02",
		Isolation:         "default",
		Annotations:       map[string]string{"com.example.a": "b"},
		VolumesFrom:       []string{"container:data-1", "container:data-2"},
		DeviceCgroupRules: []string{"c 1:3 mr", "a 7:* rmw"},
		DeviceRequests: []reconcile.DeviceRequest{
			{Driver: "nvidia", Count: 1, Capabilities: []string{"gpu"}},
			{Driver: "nvidia", DeviceIDs: []string{"0"}, Capabilities: []string{"gpu", "utility"}, Options: map[string]string{"a": "b"}},
		},
		Blkio: &reconcile.Blkio{
			Weight:          300,
			WeightDevice:    []reconcile.WeightDevice{{Path: "/dev/sda", Weight: 400}},
			DeviceReadBps:   []reconcile.ThrottleDevice{{Path: "/dev/sda", Rate: 1 << 20}},
			DeviceWriteIOps: []reconcile.ThrottleDevice{{Path: "/dev/sda", Rate: 30}},
		},
		Resources: reconcile.Resources{
			MemoryBytes: 64 << 20, CgroupParent: "moor.slice", MemorySwap: 128 << 20, MemorySwappiness: 10,
			OomKillDisable: true, CPUCount: 2, CPUPercent: 5000, CPUPeriod: 100000, CPUQuota: 50000,
			CPURealtimePeriod: 1000000, CPURealtimeRuntime: 950000,
		},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("spec (-want +got):\n%s", d)
	}
	if len(st.Warnings) != 0 {
		t.Errorf("warnings = %q, want none", st.Warnings)
	}
}

// TestLoadStackWarnsSwarmOnly accepts the fields compose ignores on one
// engine, naming each in a warning, and honours what the engine can.
func TestLoadStackWarnsSwarmOnly(t *testing.T) {
	st, _ := mustLoadWeb(t, map[string]string{"web/compose.yaml": `
services:
  api:
    image: app:1
    ports:
      - target: 80
        published: "8080"
        mode: ingress
      - "8081:81"
    credential_spec:
      config: cred
    deploy:
      mode: global
      labels: {team: web}
      endpoint_mode: dnsrr
      placement:
        constraints: [node.role==manager]
      restart_policy:
        condition: unless-stopped
        delay: 5s
        window: 1m
      rollback_config:
        parallelism: 2
        order: start-first
      resources:
        limits:
          cpus: "0.5"
        reservations:
          cpus: "0.25"
          memory: 32m
`}, Options{})
	svc := st.Services["api"]
	if svc.Spec.Restart != "unless-stopped" {
		t.Errorf("restart = %q, want unless-stopped", svc.Spec.Restart)
	}
	if svc.Replicas != 1 {
		t.Errorf("replicas = %d, want 1 (global on one host)", svc.Replicas)
	}
	if svc.Spec.Resources.NanoCPUs != 5e8 || svc.Spec.Resources.MemoryReservation != 32<<20 {
		t.Errorf("resources = %+v, want the limits and the memory reservation", svc.Spec.Resources)
	}
	want := []string{
		"service api: credential_spec has no effect on a single host",
		"service api: deploy.mode global runs one container on a single host",
		"service api: deploy.labels has no effect on a single host",
		"service api: deploy.endpoint_mode has no effect on a single host",
		"service api: deploy.placement has no effect on a single host",
		"service api: deploy.restart_policy.delay has no effect on a single host",
		"service api: deploy.restart_policy.window has no effect on a single host",
		"service api: deploy.rollback_config.parallelism has no effect on a single host",
		"service api: deploy.rollback_config.order has no effect on a single host",
		"service api: deploy.resources.reservations.cpus has no effect on a single host",
	}
	if d := cmp.Diff(want, st.Warnings); d != "" {
		t.Errorf("warnings (-want +got):\n%s", d)
	}
}

// TestLoadStackPlatform: platform (else the stack's DOCKER_DEFAULT_PLATFORM,
// as compose takes it) is normalized, and one image wanted for two
// platforms is refused.
func TestLoadStackPlatform(t *testing.T) {
	st, _ := mustLoadWeb(t, map[string]string{
		"web/compose.yaml": "services:\n  a:\n    image: app:1\n    platform: linux/aarch64\n  b:\n    image: other:1\n",
		"web/.env":         "DOCKER_DEFAULT_PLATFORM=linux/arm/v7\n",
	}, Options{})
	if got := st.Services["a"].Spec.Platform; got != "linux/arm64" {
		t.Errorf("a platform = %q, want linux/arm64", got)
	}
	if got := st.Services["b"].Spec.Platform; got != "linux/arm/v7" {
		t.Errorf("b platform = %q, want linux/arm/v7 (DOCKER_DEFAULT_PLATFORM)", got)
	}
	_, _, err := loadWeb(t, map[string]string{
		"web/compose.yaml": "services:\n  a:\n    image: app:1\n    platform: linux/arm64\n  b:\n    image: app:1\n",
	}, Options{})
	if err == nil || !strings.Contains(err.Error(), "services a and b want image app:1 for platforms linux/arm64 and the engine's own") {
		t.Errorf("err = %v, want the two platforms refused", err)
	}
	_, _, err = loadWeb(t, map[string]string{"web/compose.yaml": "services:\n  a:\n    image: app:1\n    platform: plan9/sparc/x/y\n"}, Options{})
	if err == nil || !strings.Contains(err.Error(), `platform "plan9/sparc/x/y"`) {
		t.Errorf("err = %v, want the bad platform named", err)
	}
}

// TestHashOfEveryOldFieldPinned pins the hash of a service that sets every
// field moor mapped before the fields of hostconfig.go: a field added to
// the spec since must leave it alone, or upgrading moor would replace
// every container.
func TestHashOfEveryOldFieldPinned(t *testing.T) {
	st, _ := mustLoadWeb(t, map[string]string{
		"web/compose.yaml": fullCompose,
		"web/api.env":      "FROM_FILE=yes\nB=from-file-loses\n",
		"web/conf/a.conf":  "a",
		"web/conf/b.conf":  "b",
		"web/app.conf":     "app",
		"web/token.txt":    "s3cret",
	}, Options{})
	const want = "sha256:4dec1e25dbb881664da1cbc934c4473c34fd26625d31ba29c5233dbda7949c49"
	if got := st.Services["api"].Hash; got != want {
		t.Errorf("hash of the full service changed:\n got %s\nwant %s", got, want)
	}
}

// TestComposeHashOfVolumesFrom: compose hashes volumes_from as it resolves
// it, container:NAME[:MODE] as NAME, so the mode does not count.
func TestComposeHashOfVolumesFrom(t *testing.T) {
	hash := func(vf string) string {
		st, _ := mustLoadWeb(t, map[string]string{"web/compose.yaml": "services:\n  api:\n    image: app:1\n    volumes_from: [\"" + vf + "\"]\n"}, Options{})
		return st.Services["api"].Compose.Hash
	}
	if hash("container:data:ro") != hash("container:data") {
		t.Error("the mode of volumes_from changed compose's hash")
	}
	if hash("container:data") == hash("container:other") {
		t.Error("another container kept compose's hash")
	}
}
