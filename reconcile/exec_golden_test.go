package reconcile_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/moor-dev/moor/reconcile"
	"github.com/moor-dev/moor/runtime"
)

// TestRolloutJournalGolden pins what the executor asks of the engine for a
// rollout, call by call, in the fake's journal: the steps of the plan in
// order, the undo of a replica that fails, and what each failure action
// does with the rest.
func TestRolloutJournalGolden(t *testing.T) {
	tests := []struct {
		name     string
		replicas int
		update   reconcile.UpdateConfig
		fail     func(f *runtime.Fake)
		want     string
	}{
		{
			name:     "start-first, healthy",
			replicas: 1,
			want: `
CreateContainer web-api-1-candidate
StartContainer web-api-1-candidate
Expose web-api-1-candidate
StopContainer web-api-1
RenameContainer web-api-1 -> web-api-1-retired
RenameContainer web-api-1-candidate -> web-api-1
RemoveContainer web-api-1-retired`,
		},
		{
			name:     "stop-first, the new container does not start: every step undone",
			replicas: 1,
			update:   reconcile.UpdateConfig{Order: reconcile.OrderStopFirst},
			fail: func(f *runtime.Fake) {
				f.FailOnce("StartContainer", "web-api-1", errors.New("port is already allocated"))
			},
			want: `
CreateContainer web-api-1-candidate
Expose web-api-1-candidate
StopContainer web-api-1
RenameContainer web-api-1 -> web-api-1-retired
RenameContainer web-api-1-candidate -> web-api-1
StartContainer web-api-1: failed
RemoveContainer web-api-1
RenameContainer web-api-1-retired -> web-api-1
StartContainer web-api-1`,
		},
		{
			name:     "rollback: replica 2 fails, replica 1 gets its old container back, replica 3 is not touched",
			replicas: 3,
			fail: func(f *runtime.Fake) {
				f.FailAlways("StartContainer", "web-api-2-candidate", errors.New("port is already allocated"))
			},
			want: `
CreateContainer web-api-1-candidate
StartContainer web-api-1-candidate
Expose web-api-1-candidate
StopContainer web-api-1
RenameContainer web-api-1 -> web-api-1-retired
RenameContainer web-api-1-candidate -> web-api-1
CreateContainer web-api-2-candidate
StartContainer web-api-2-candidate: failed
RemoveContainer web-api-2-candidate
RemoveContainer web-api-1
RenameContainer web-api-1-retired -> web-api-1
StartContainer web-api-1`,
		},
		{
			name:     "pause: replica 1 keeps the new version, replica 3 is not touched",
			replicas: 3,
			update:   reconcile.UpdateConfig{FailureAction: reconcile.FailurePause},
			fail: func(f *runtime.Fake) {
				f.FailAlways("StartContainer", "web-api-2-candidate", errors.New("port is already allocated"))
			},
			want: `
CreateContainer web-api-1-candidate
StartContainer web-api-1-candidate
Expose web-api-1-candidate
StopContainer web-api-1
RenameContainer web-api-1 -> web-api-1-retired
RenameContainer web-api-1-candidate -> web-api-1
RemoveContainer web-api-1-retired
CreateContainer web-api-2-candidate
StartContainer web-api-2-candidate: failed
RemoveContainer web-api-2-candidate`,
		},
		{
			name:     "continue: the failed replica keeps its old container, the others are replaced",
			replicas: 3,
			update:   reconcile.UpdateConfig{FailureAction: reconcile.FailureContinue},
			fail: func(f *runtime.Fake) {
				f.FailAlways("StartContainer", "web-api-2-candidate", errors.New("port is already allocated"))
			},
			want: `
CreateContainer web-api-1-candidate
StartContainer web-api-1-candidate
Expose web-api-1-candidate
StopContainer web-api-1
RenameContainer web-api-1 -> web-api-1-retired
RenameContainer web-api-1-candidate -> web-api-1
RemoveContainer web-api-1-retired
CreateContainer web-api-2-candidate
StartContainer web-api-2-candidate: failed
RemoveContainer web-api-2-candidate
CreateContainer web-api-3-candidate
StartContainer web-api-3-candidate
Expose web-api-3-candidate
StopContainer web-api-3
RenameContainer web-api-3 -> web-api-3-retired
RenameContainer web-api-3-candidate -> web-api-3
RemoveContainer web-api-3-retired`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := runtime.NewFake()
			f.Publish("app:1", "sha256:1")
			converge(t, f, want("main@sha1:1", svc("api", "app:1", tt.replicas, "A=1")), 2)
			next := svc("api", "app:1", tt.replicas, "A=2")
			next.Update = tt.update
			d := want("main@sha1:2", next)
			if tt.fail != nil {
				tt.fail(f)
			}
			f.ResetCalls()
			applyOnce(t, executor(f), f, d)
			got := strings.Join(f.Journal(), "\n")
			if diff := cmp.Diff(strings.TrimPrefix(tt.want, "\n"), got); diff != "" {
				t.Errorf("journal mismatch (-want +got):\n%s\ngot:\n%s", diff, got)
			}
			f.ClearFaults()
			converge(t, f, d, 2)
		})
	}
}

// TestLeftoverOfAnInterruptedCreate: a create an interrupted run had in
// flight can complete after the next run looked at the engine. Its
// container, which carries this instance's owner, is removed and the
// create made again; one that carries another owner is never touched.
func TestLeftoverOfAnInterruptedCreate(t *testing.T) {
	for _, owner := range []string{"me", "someone-else"} {
		t.Run(owner, func(t *testing.T) {
			f := runtime.NewFake()
			f.Publish("app:1", "sha256:1")
			v1 := want("main@sha1:1", svc("api", "app:1", 1, "A=1"))
			v1.Owner = "me"
			converge(t, f, v1, 2)
			v2 := want("main@sha1:2", svc("api", "app:1", 1, "A=2"))
			v2.Owner = "me"
			obs, _ := f.Observe(t.Context())
			p := reconcile.MakePlan(v2, obs, reconcile.Constraints{})
			// The engine finishes the interrupted run's create now.
			labels := reconcile.ContainerLabels(v2, v2.Stacks["web"], v2.Stacks["web"].Services["api"], 1)
			labels[reconcile.LabelOwner] = owner
			late, err := f.CreateContainer(t.Context(), "web-api-1"+reconcile.CandidateSuffix, v2.Stacks["web"].Services["api"].Spec, labels)
			if err != nil {
				t.Fatal(err)
			}
			res := executor(f).Apply(t.Context(), p)
			_, lateErr := f.InspectContainer(t.Context(), late)
			if owner == "me" {
				if len(res.Failed()) != 0 || lateErr == nil {
					t.Errorf("the leftover was not replaced: %+v, late container err %v", res.Failed(), lateErr)
				}
				return
			}
			if len(res.Failed()) != 1 || !strings.Contains(res.Failed()[0].Err.Error(), "moor does not manage") || lateErr != nil {
				t.Errorf("another owner's container: %+v, late container err %v", res.Failed(), lateErr)
			}
		})
	}
}
