package reconcile_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/moor-dev/moor/reconcile"
	"github.com/moor-dev/moor/runtime"
)

// withFiles is want(rev, svcs...) whose stack directory must hold the
// tracked files of rev (digest d).
func withFiles(rev, d string, svcs ...*reconcile.Service) *reconcile.Desired {
	des := want(rev, svcs...)
	des.Stacks["web"].Files = &reconcile.StackFiles{Revision: rev, Digest: d, Files: []string{"web/compose.yaml"}}
	return des
}

func applyWithFiles(t *testing.T, f *runtime.Fake, files *runtime.FakeFiles, d *reconcile.Desired) (*reconcile.Plan, *reconcile.Result) {
	t.Helper()
	obs, err := f.Observe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	obs.Files, _ = files.ObserveFiles(context.Background())
	p := reconcile.MakePlan(d, obs, reconcile.Constraints{})
	ex := executor(f)
	ex.Files = files
	return p, ex.Apply(context.Background(), p)
}

// TestStackFilesFollowTheRollout: a stack's tracked files are written
// before its containers are created, once per change of their content; when
// none of the stack's new containers comes up, its files go back to those
// its old containers run.
func TestStackFilesFollowTheRollout(t *testing.T) {
	f, files := runtime.NewFake(), runtime.NewFakeFiles()
	f.Publish("app:1", "sha256:1")
	p, _ := applyWithFiles(t, f, files, withFiles("r1", "d1", svc("api", "app:1", 1, "A=1")))
	if got := p.String(); !strings.HasPrefix(got, "create-network web/network/default (missing)\npull app:1 (not present, wanted by web/api)\nsync-files web/files (missing)\ncreate web/api/1 (missing)\n") {
		t.Fatalf("first plan:\n%s", got)
	}
	if p, _ := applyWithFiles(t, f, files, withFiles("r1b", "d1", svc("api", "app:1", 1, "A=1"))); !p.Empty() {
		t.Fatalf("a revision with the same files planned:\n%s", p)
	}

	// r2 changes the files and the service; the new container never starts.
	f.FailAlways("StartContainer", "web-api-1"+reconcile.CandidateSuffix, errors.New("port is already allocated"))
	_, res := applyWithFiles(t, f, files, withFiles("r2", "d2", svc("api", "app:1", 1, "A=2")))
	want := []string{"SyncFiles web r1", "SyncFiles web r2", "SyncFiles web r1"}
	if diff := cmp.Diff(want, files.Journal()); diff != "" {
		t.Errorf("syncs (-want +got):\n%s", diff)
	}
	for _, r := range res.Ops {
		if r.Op.Kind == reconcile.OpSyncFiles && (!r.RolledBack || !strings.Contains(r.Err.Error(), "files are back")) {
			t.Errorf("the sync of a failed rollout: %+v", r)
		}
	}

	// Fixed: the files and the container move to r2.
	f.ClearFaults()
	applyWithFiles(t, f, files, withFiles("r2", "d2", svc("api", "app:1", 1, "A=2")))
	if got := files.String(); got != "files web r2\n" {
		t.Errorf("after the fix: %s", got)
	}
}
