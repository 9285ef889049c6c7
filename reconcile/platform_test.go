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
