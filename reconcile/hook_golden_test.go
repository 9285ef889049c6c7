package reconcile

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestHookStepsGolden pins where the hooks run among the steps (`moor plan
// --steps`): post_start right after each start, before the wait; pre_stop
// before each stop of a container that runs, with the hooks it was created
// with, its failure reported.
func TestHookStepsGolden(t *testing.T) {
	hooked := func(s *Service, v string) *Service {
		s.Spec.PostStart = []Hook{{Command: []string{"/app", "warm", v}}}
		s.Spec.PreStop = []Hook{{Command: []string{"/app", "drain", v}}, {Command: []string{"/app", "flush"}}}
		s.Hash = s.Spec.Hash()
		return s
	}
	stopFirst := func(s *Service) *Service {
		s.Update.Order = OrderStopFirst
		return s
	}
	old := func(s *Service) Container {
		c := running("web", s, 1, rev1)
		c.PreStop = s.Spec.PreStop
		return c
	}
	tests := []struct {
		name string
		d    *Desired
		o    *Observed
		want string
	}{
		{
			name: "create",
			d:    desired(stack("web", hooked(service("api", "app:1"), "1"))),
			o:    observed(),
			want: `
create-network web/network/default (missing)
    1 create-network web_default
pull app:1 (not present, wanted by web/api)
    1 pull app:1
create web/api/1 (missing)
    after app:1, web/network/default
    1 create web-api-1
    2 start web-api-1
    3 post_start web-api-1
    4 wait web-api-1 ready (running)`,
		},
		{
			name: "start-first",
			d:    desired(stack("web", hooked(service("api", "app:1"), "2"))),
			o:    observed(old(hooked(service("api", "app:1"), "1"))),
			want: `
replace web/api/1 (config changed: post_start, pre_stop) [start-first, batch 1/1, rollback on failure]
    1 create web-api-1-candidate                         undo: remove web-api-1-candidate
    2 start web-api-1-candidate
    3 post_start web-api-1-candidate
    4 wait web-api-1-candidate ready (running 2s without a restart)
    5 expose web-api-1-candidate
    6 pre_stop web-api-1 (2 hooks), failure reported
    7 stop web-api-1                                     undo: start web-api-1
    8 rename web-api-1 -> web-api-1-retired              undo: rename web-api-1-retired -> web-api-1
    9 rename web-api-1-candidate -> web-api-1            undo: remove web-api-1
    10 remove web-api-1-retired`,
		},
		{
			name: "stop-first",
			d:    desired(stack("web", stopFirst(hooked(service("api", "app:1"), "2")))),
			o:    observed(old(hooked(service("api", "app:1"), "1"))),
			want: `
replace web/api/1 (config changed: post_start, pre_stop) [stop-first, batch 1/1, rollback on failure]
    1 create web-api-1-candidate                         undo: remove web-api-1-candidate
    2 expose web-api-1-candidate
    3 pre_stop web-api-1 (2 hooks), failure reported
    4 stop web-api-1                                     undo: start web-api-1
    5 rename web-api-1 -> web-api-1-retired              undo: rename web-api-1-retired -> web-api-1
    6 rename web-api-1-candidate -> web-api-1            undo: remove web-api-1
    7 start web-api-1
    8 post_start web-api-1
    9 wait web-api-1 ready (running 2s without a restart)
    10 remove web-api-1-retired`,
		},
		{
			name: "removed from git",
			d:    desired(stack("web", service("db", "db:1"))),
			o:    observed(old(hooked(service("api", "app:1"), "1")), running("web", service("db", "db:1"), 1, rev1)),
			want: `
remove web/api/1 (service removed from git)
    1 pre_stop web-api-1 (2 hooks), failure reported
    2 stop web-api-1
    3 remove web-api-1`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := MakePlan(tt.d, tt.o, Constraints{}).Detail()
			want := strings.TrimPrefix(tt.want, "\n") + "\n"
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("plan mismatch (-want +got):\n%s\ngot:\n%s", diff, got)
			}
		})
	}
}
