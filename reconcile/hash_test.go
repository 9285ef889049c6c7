package reconcile

import (
	"testing"
	"time"
)

// TestHashGolden pins the config hash of a fixed spec. If it fails, a change
// (to ContainerSpec, to the loader, or to a library) would recreate every
// container moor runs: make the change hash-neutral instead.
func TestHashGolden(t *testing.T) {
	grace := 10 * time.Second
	yes := true
	spec := ContainerSpec{
		Image:      "registry.example.com/app:1.2.3",
		Command:    []string{"serve", "--port", "8080"},
		Env:        []string{"A=1", "B=two"},
		Labels:     map[string]string{"team": "web"},
		User:       "1000:1000",
		StopSignal: "SIGTERM", StopGracePeriod: &grace,
		Ports:       []Port{{Target: 8080, Published: "80", HostIP: "127.0.0.1", Protocol: "tcp"}},
		Mounts:      []Mount{{Type: MountVolume, Source: "web_data", Target: "/data"}, {Type: MountBind, Source: "/snap/abc/conf", Target: "/conf", ReadOnly: true, Content: "sha256:00"}},
		Networks:    []NetworkAttachment{{Name: "web_default", Aliases: []string{"api"}}},
		Restart:     "unless-stopped",
		Healthcheck: &Healthcheck{Test: []string{"CMD", "/app", "health"}, Interval: 5 * time.Second, Retries: 3},
		Init:        &yes,
		Resources:   Resources{MemoryBytes: 64 << 20},
	}
	const want = "sha256:5078c8385e1b2e1b61fb6d9b0f1619ed2bb975878530546f73a577ea93ecae59"
	if got := spec.Hash(); got != want {
		t.Fatalf("hash of the golden spec changed:\n got %s\nwant %s", got, want)
	}
}

func TestHashIgnoresSnapshotPathOfContent(t *testing.T) {
	a := ContainerSpec{Image: "x:1", Mounts: []Mount{{Type: MountBind, Source: "/state/snapshots/aaa/web/conf", Target: "/c", Content: "sha256:1"}}}
	b := a
	b.Mounts = []Mount{{Type: MountBind, Source: "/state/snapshots/bbb/web/conf", Target: "/c", Content: "sha256:1"}}
	if a.Hash() != b.Hash() {
		t.Fatal("moving the snapshot changed the hash")
	}
	b.Mounts[0].Content = "sha256:2"
	if a.Hash() == b.Hash() {
		t.Fatal("changed content kept the hash")
	}
	if a.Mounts[0].Source != "/state/snapshots/aaa/web/conf" {
		t.Fatal("Hash modified the spec")
	}
}

func TestChangedFields(t *testing.T) {
	a := ContainerSpec{Image: "x:1", Env: []string{"A=1"}, User: "1"}
	b := ContainerSpec{Image: "x:1", Env: []string{"A=2"}, WorkingDir: "/w"}
	got := ChangedFields(a.FieldDigests(), b.FieldDigests())
	want := []string{"environment", "user", "working_dir"}
	if len(got) != len(want) {
		t.Fatalf("got %v want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v want %v", got, want)
		}
	}
	if ChangedFields("", b.FieldDigests()) != nil {
		t.Fatal("no old digests should give no field names")
	}
}
