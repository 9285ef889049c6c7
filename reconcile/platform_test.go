package reconcile

import (
	"strings"
	"testing"
)

// TestPlanPullsForPlatform: the pull carries the service's platform, and a
// second stack that wants the same image for another platform is blocked
// with the reason: a tag names one image, of one platform.
func TestPlanPullsForPlatform(t *testing.T) {
	arm := service("api", "app:1")
	arm.Spec.Platform = "linux/arm64"
	arm.Hash = arm.Spec.Hash()
	amd := service("api", "app:1")
	p := MakePlan(desired(stack("a", arm), stack("b", amd)), &Observed{Images: map[string]string{}}, Constraints{})
	steps := ""
	for _, op := range p.Ops {
		for _, s := range op.Steps {
			if s.Kind == StepPull {
				steps += s.String() + "\n"
			}
		}
	}
	if steps != "pull app:1 for linux/arm64\n" {
		t.Errorf("pull steps = %q, want one for linux/arm64", steps)
	}
	want := "image app:1 is pulled for linux/arm64 for a/api, and b/api wants it for the engine's own platform"
	if got := p.Blocked["b/api"]; got != want {
		t.Errorf("blocked b/api = %q, want %q", got, want)
	}
	if !strings.Contains(p.String(), "blocked b/api (") {
		t.Errorf("plan does not say b/api is blocked:\n%s", p)
	}
}

// TestChangedFieldsNameNewFields: a change of a field added to the spec is
// named as the compose file names it in a replacement's cause.
func TestChangedFieldsNameNewFields(t *testing.T) {
	a := ContainerSpec{Image: "x:1"}
	b := ContainerSpec{Image: "x:1", Ipc: "host", Platform: "linux/arm64", GroupAdd: []string{"audio"},
		Blkio: &Blkio{Weight: 300}, Files: []File{{Target: "/c", Digest: "sha256:1", Content: "c"}}}
	got := ChangedFields(a.FieldDigests(), b.FieldDigests())
	want := []string{"blkio_config", "configs", "group_add", "ipc", "platform"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("changed = %v, want %v", got, want)
	}
	c := b
	c.Files = []File{{Target: "/c", Digest: "sha256:1", Content: "other"}}
	if c.Hash() != b.Hash() {
		t.Error("the hash covers a file's content, not only its digest")
	}
}
