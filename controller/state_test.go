package controller_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/moor-dev/moor/config"
	"github.com/moor-dev/moor/controller"
	"github.com/moor-dev/moor/internal/testkit"
)

// damage overwrites a state file of the harness's source.
func (h *harness) damage(name, content string) {
	h.t.Helper()
	if err := os.WriteFile(filepath.Join(h.state, "sources", source, name), []byte(content), 0o600); err != nil {
		h.t.Fatal(err)
	}
}

// TestStatusOfDamagedState: a state file of one source that cannot be read
// is reported in that source's place; the other source is shown whole.
func TestStatusOfDamagedState(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		file    string
		content string
		want    string // in the problem, besides the file's name
	}{
		{"status.json", "{\"source\": \"test\", \x1b", "last run found is unknown"},
		{"decisions.json", "[]", "starts afresh"},
		{"desired.json", `{"version": 99}`, "states of its services are unknown"},
	} {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, map[string]string{"web/compose.yaml": stack("app=app:1")})
			h.mustApply()
			other := testkit.NewRepo(t)
			other.Write("db/compose.yaml", stack("db=db:1"))
			other.Commit("db")
			octl := controller.New(config.Source{Name: "other", Repo: other.Dir, Ref: "main"}, h.state, h.rt, h.ledger, zap.NewNop())
			if _, err := octl.Apply(t.Context()); err != nil {
				t.Fatal(err)
			}
			h.damage(tt.file, tt.content)

			obs, err := h.fake.Observe(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			reports, err := controller.ReadReports(h.state, obs, time.Now())
			if err != nil {
				t.Fatalf("ReadReports with a damaged %s: %v", tt.file, err)
			}
			var out bytes.Buffer
			controller.WriteReport(&out, reports, time.Now())
			if len(reports) != 2 {
				t.Fatalf("%d reports, want both sources:\n%s", len(reports), &out)
			}
			damaged, whole := reports[1], reports[0]
			if damaged.Source != source || whole.Source != "other" {
				t.Fatalf("reports of %s and %s, want other and %s", whole.Source, damaged.Source, source)
			}
			if len(whole.Problems) > 0 || len(whole.Services) != 1 || whole.Services[0].State != controller.StateInSync {
				t.Errorf("the other source: problems %v, services %+v", whole.Problems, whole.Services)
			}
			if len(damaged.Problems) != 1 || !strings.Contains(damaged.Problems[0], filepath.Join("sources", source, tt.file)) ||
				!strings.Contains(damaged.Problems[0], tt.want) {
				t.Errorf("problems of the damaged source = %q, want one naming %s and saying %q", damaged.Problems, tt.file, tt.want)
			}
			for _, want := range []string{"source other", "db/db", "source test", "problem  ", "web/app"} {
				if !strings.Contains(out.String(), want) {
					t.Errorf("moor status lacks %q:\n%s", want, &out)
				}
			}
		})
	}
}

// TestRunsOnDamagedState: a controller whose state files are damaged
// (status, decisions, desired state, rollout marker, a snapshot's
// metadata) converges all the same, and its run writes them whole again.
func TestRunsOnDamagedState(t *testing.T) {
	t.Parallel()
	h := newHarness(t, map[string]string{"web/compose.yaml": stack("app=app:1")})
	h.mustApply()
	for _, name := range []string{"status.json", "decisions.json", "desired.json", "rollout.json"} {
		h.damage(name, "\x00garbage")
	}
	meta := filepath.Join("snapshots", commitOf(h.rev)+".json")
	if err := os.Chmod(filepath.Join(h.state, "sources", source, meta), 0o644); err != nil {
		t.Fatal(err)
	}
	h.damage(meta, "{")

	h.ctl = h.newController()
	h.mustApply()
	if st := h.status(); st.Revision != h.rev || st.Applied != h.rev || st.Result != controller.ResultNoop {
		t.Errorf("status after the run: %s, revision %s, applied %s; want noop at %s", st.Result, st.Revision, st.Applied, h.rev)
	}
	obs, err := h.fake.Observe(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	reports, err := controller.ReadReports(h.state, obs, time.Now())
	if err != nil || len(reports) != 1 || len(reports[0].Problems) > 0 {
		t.Fatalf("reports after the run: %+v, %v", reports, err)
	}
}
