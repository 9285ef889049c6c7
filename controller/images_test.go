package controller_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/moor-dev/moor/config"
	"github.com/moor-dev/moor/controller"
	"github.com/moor-dev/moor/ledger"
	"github.com/moor-dev/moor/runtime"
)

func imageUpdates(schedule string) func(*config.Source) {
	return func(s *config.Source) { s.ImageUpdates.Schedule = schedule }
}

// imageChecks is how many image checks the metrics counted, by result.
func (h *harness) imageChecks() map[string]int { return h.byResult("moor_image_checks_total") }

// TestLoopChecksImagesOnTheirSchedule: with image_updates, the image
// schedule is a trigger of its own: a check that finds nothing moved
// changes nothing and writes no ledger line; one that finds a tag pushed
// again pulls it and replaces the service that runs it, and the ledger
// says it was an image update, with both digests.
func TestLoopChecksImagesOnTheirSchedule(t *testing.T) {
	t.Parallel()
	h := newHarness(t, map[string]string{"web/compose.yaml": stack("app=app:1", "db=db:1")}, imageUpdates("@every 10m"))
	l := startLoop(h, time.Hour)
	l.idle(2)
	app, db := h.container("web-app-1"), h.container("web-db-1")
	if n := h.calls("RegistryDigest"); n != 0 {
		t.Fatalf("the startup run asked the registry %d times; it deploys the commit", n)
	}

	// The image schedule comes before the poll's hour.
	before := l.clock.Now()
	if !l.tick() {
		t.Fatal("the image schedule did not run the pipeline")
	}
	if waited := l.clock.Now().Sub(before); waited != 10*time.Minute {
		t.Fatalf("the image check came after %s, want 10m", waited)
	}
	if n := h.calls("RegistryDigest"); n != 2 {
		t.Fatalf("the image check asked the registry about %d tags, want 2 (app:1, db:1)", n)
	}
	if n := len(h.records()); n != 1 {
		t.Fatalf("%d ledger records after an image check that found nothing, want the first deploy's only", n)
	}
	if got := h.imageChecks(); got["unchanged"] != 1 {
		t.Errorf("image checks counted: %v, want one unchanged", got)
	}

	// app:1 is pushed again: the next check rolls it out.
	h.fake.Publish("app:1", "sha256:app-1-rebuilt")
	if !l.tick() {
		t.Fatal("the second image check did not run")
	}
	if c := h.container("web-app-1"); c.ID == app.ID || c.ImageID != "sha256:app-1-rebuilt" {
		t.Fatalf("web-app-1 after the tag moved: %s of %s; want a new container of sha256:app-1-rebuilt", c.ID, c.ImageID)
	}
	if c := h.container("web-db-1"); c.ID != db.ID {
		t.Errorf("web-db-1 was replaced; its tag did not move")
	}
	recs := h.records()
	last := recs[len(recs)-1]
	want := []ledger.ImageUpdate{{Stack: "web", Service: "app", Image: "app:1",
		From: runtime.FakeDigest("sha256:app-1"), To: runtime.FakeDigest("sha256:app-1-rebuilt")}}
	if len(recs) != 2 || last.Kind != controller.KindImageUpdate || last.Result != controller.ResultSuccess ||
		last.Revision != h.rev || !cmp.Equal(last.Images, want) {
		t.Fatalf("ledger after the update: %d records, last %s %q at %s, images %+v; want an image update of %s with %+v",
			len(recs), last.Result, last.Kind, last.Revision, last.Images, h.rev, want)
	}
	cause := "replace web/app/1 (image updated: app:1 " + short12(want[0].From) + " -> " + short12(want[0].To) + ")"
	if !slices.ContainsFunc(last.Ops, func(op ledger.OpResult) bool { return strings.HasPrefix(op.Op, cause) && op.Result == "ok" }) {
		t.Errorf("ledger ops %+v, want %s…", last.Ops, cause)
	}
	if recs[0].Kind != "" {
		t.Errorf("the first deploy was recorded as %q, want a commit's deploy", recs[0].Kind)
	}
	st := h.status()
	if st.LastImageCheck == nil || st.LastImageCheck.Tags != 2 || len(st.LastImageCheck.Updated) != 1 {
		t.Errorf("status: last image check %+v, want 2 tags and web/app updated", st.LastImageCheck)
	}
	var text strings.Builder
	controller.WriteReport(&text, []controller.SourceReport{*h.ctl.Report()}, time.Now())
	if !strings.Contains(text.String(), "images last checked in the registry ") ||
		!strings.Contains(text.String(), ": web/app: app:1 moved to "+short12(want[0].To)) {
		t.Errorf("moor status:\n%s\nwant the last image check, and what moved", text.String())
	}
	if got := h.imageChecks(); got["updated"] != 1 {
		t.Errorf("image checks counted: %v, want one updated", got)
	}

	// Converged: the next check finds nothing to do.
	if !l.tick() {
		t.Fatal("the third image check did not run")
	}
	if n := len(h.records()); n != 2 {
		t.Errorf("%d ledger records after a check of a converged host, want 2", n)
	}
}

// TestLoopWithoutImageUpdatesNeverAsksTheRegistry: off by default, a tag
// pushed again changes nothing until a commit asks for it.
func TestLoopWithoutImageUpdatesNeverAsksTheRegistry(t *testing.T) {
	t.Parallel()
	h := newHarness(t, map[string]string{"web/compose.yaml": stack("app=app:1")})
	l := startLoop(h, 10*time.Minute)
	l.idle(2)
	app := h.container("web-app-1")
	h.fake.Publish("app:1", "sha256:app-1-rebuilt")
	turn := l.clock.turns()
	h.ctl.TriggerImageCheck()
	l.idle(turn + 1)
	for range 3 {
		l.tick()
	}
	if n := h.calls("RegistryDigest"); n != 0 {
		t.Errorf("the registry was asked %d times without image_updates", n)
	}
	if c := h.container("web-app-1"); c.ID != app.ID {
		t.Errorf("web-app-1 was replaced without image_updates")
	}
	if n := len(h.records()); n != 1 {
		t.Errorf("%d ledger records, want the first deploy's only", n)
	}
}

// TestImageUpdateFailsAndIsHeld: an update whose new image never turns
// healthy is rolled back, and held: later checks of the same digest do not
// try it again; a newer digest does.
func TestImageUpdateFailsAndIsHeld(t *testing.T) {
	t.Parallel()
	h := newHarness(t, map[string]string{"web/compose.yaml": healthchecked("app:1")}, imageUpdates("@every 10m"))
	l := startLoop(h, time.Hour)
	l.idle(2)
	old := h.container("web-app-1")

	h.fake.Publish("app:1", "sha256:app-1-broken")
	h.fake.UnhealthyImage("sha256:app-1-broken")
	if !l.tick() {
		t.Fatal("the image check did not run")
	}
	if c := h.container("web-app-1"); c.ID != old.ID || !c.Running() {
		t.Fatalf("after a failed update web-app-1 is %s %s, want the old %s running", c.ID, c.State, old.ID)
	}
	recs := h.records()
	if last := recs[len(recs)-1]; len(recs) != 2 || last.Kind != controller.KindImageUpdate || last.Result == controller.ResultSuccess {
		t.Fatalf("ledger: %d records, last %q %s; want a failed image update", len(recs), last.Kind, last.Result)
	}
	f := h.status().Failures["web/app"]
	if f.Digest != runtime.FakeDigest("sha256:app-1-broken") {
		t.Fatalf("failure %+v, want it to hold the digest that failed", f)
	}

	// The same digest is not tried again, however long it waits.
	creates := h.calls("CreateContainer")
	for range 4 {
		l.tick()
	}
	if n := h.calls("CreateContainer"); n != creates {
		t.Errorf("the held update was tried again: %d more creates", n-creates)
	}
	for _, r := range h.records()[2:] {
		if len(r.Ops) > 0 || r.Kind != "" {
			t.Errorf("a run while held was recorded as %q with ops %v, want the hold only", r.Kind, r.Ops)
		}
	}
	if st := h.status(); !strings.Contains(st.Held["web/app"], "held until the tag moves again") {
		t.Errorf("status held: %q", st.Held["web/app"])
	}

	// A newer digest lets it go.
	h.fake.Publish("app:1", "sha256:app-1-fixed")
	if !l.tick() {
		t.Fatal("the image check did not run")
	}
	if c := h.container("web-app-1"); c.ID == old.ID || c.ImageID != "sha256:app-1-fixed" {
		t.Fatalf("after a newer digest web-app-1 is %s of %s, want a new container of sha256:app-1-fixed", c.ID, c.ImageID)
	}
	if st := h.status(); len(st.Failures) != 0 || len(st.Held) != 0 {
		t.Errorf("status after the fixed image: failures %v, held %v", st.Failures, st.Held)
	}
}

// short12 is a digest as a plan's cause prints it.
func short12(d string) string { return d[:len("sha256:")+12] }

// TestImageCheckAfterACommitDeploysTheCommit: a commit that came in
// before the image check makes its run a commit's deploy, as today: the
// registry is not asked, and the next check is the schedule's next turn.
func TestImageCheckAfterACommitDeploysTheCommit(t *testing.T) {
	t.Parallel()
	h := newHarness(t, map[string]string{"web/compose.yaml": stack("app=app:1", "db=db:1")}, imageUpdates("@every 10m"))
	l := startLoop(h, time.Hour)
	l.idle(2)
	app := h.container("web-app-1")
	h.fake.Publish("app:1", "sha256:app-1-rebuilt")
	rev2 := h.commit("db 2", map[string]string{"web/compose.yaml": stack("app=app:1", "db=db:2")})
	if !l.tick() {
		t.Fatal("the image schedule did not run the pipeline")
	}
	if n := h.calls("RegistryDigest"); n != 0 {
		t.Errorf("the registry was asked %d times in the run of a new commit", n)
	}
	recs := h.records()
	if last := recs[len(recs)-1]; last.Revision != rev2 || last.Kind != "" || len(last.Images) > 0 {
		t.Fatalf("last record: %q of %s, want the deploy of %s", last.Kind, last.Revision, rev2)
	}
	if c := h.container("web-app-1"); c.ID != app.ID {
		t.Errorf("web-app-1 was replaced by the commit's deploy; the commit did not change it")
	}
	if st := h.status(); st.LastImageCheck == nil || !strings.Contains(st.LastImageCheck.Skipped, "this run deploys the commit") {
		t.Errorf("status: last image check %+v, want it skipped for the commit", st.LastImageCheck)
	}
	if got := h.imageChecks(); got["skipped"] != 1 {
		t.Errorf("image checks counted: %v, want one skipped", got)
	}

	// The next turn checks the new revision's tags.
	if !l.tick() {
		t.Fatal("the next image check did not run")
	}
	if c := h.container("web-app-1"); c.ImageID != "sha256:app-1-rebuilt" {
		t.Errorf("web-app-1 runs %s after the next check, want sha256:app-1-rebuilt", c.ImageID)
	}
}

// TestImageChecksCoalesce: checks asked for while a run is under way
// make one more run, never two at once.
func TestImageChecksCoalesce(t *testing.T) {
	t.Parallel()
	h := newHarness(t, map[string]string{"web/compose.yaml": stack("app=app:1")}, imageUpdates("@every 24h"))
	l := startLoop(h, time.Hour)
	l.idle(2)
	entered, release := h.rt.hold()
	turn := l.clock.turns()
	h.ctl.TriggerImageCheck()
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the image check did not start a run")
	}
	for range 5 {
		h.ctl.TriggerImageCheck()
	}
	release()
	l.idle(turn + 2) // the held run's turn, then the coalesced one's
	if n := h.calls("RegistryDigest"); n != 2 {
		t.Errorf("the registry was asked %d times, want 2: the held check and one for the five asked during it", n)
	}
	if got := h.imageChecks(); got["unchanged"] != 2 {
		t.Errorf("image checks counted: %v, want 2", got)
	}
}

// TestImageCheckWithoutTheRegistry: a tag the registry does not answer
// for is left as it runs; the status, the log and the metric say so.
func TestImageCheckWithoutTheRegistry(t *testing.T) {
	t.Parallel()
	h := newHarness(t, map[string]string{"web/compose.yaml": stack("app=app:1", "db=db:1")}, imageUpdates("@every 10m"))
	l := startLoop(h, time.Hour)
	l.idle(2)
	app, db := h.container("web-app-1"), h.container("web-db-1")
	h.fake.Publish("app:1", "sha256:app-1-rebuilt")
	h.fake.Publish("db:1", "sha256:db-1-rebuilt")
	h.fake.FailAlways("RegistryDigest", "app:1", errors.New("registry: 503 Service Unavailable"))
	if !l.tick() {
		t.Fatal("the image check did not run")
	}
	if c := h.container("web-app-1"); c.ID != app.ID {
		t.Errorf("web-app-1 was replaced though the registry did not answer for app:1")
	}
	if c := h.container("web-db-1"); c.ID == db.ID {
		t.Errorf("web-db-1 was not updated: the registry answered for db:1")
	}
	ic := h.status().LastImageCheck
	if ic == nil || len(ic.Errors) != 1 || !strings.Contains(ic.Errors[0], "registry digest of app:1: ") || len(ic.Updated) != 1 {
		t.Errorf("status: last image check %+v, want app:1 not answered and web/db updated", ic)
	}
	if got := h.imageChecks(); got["failed"] != 1 {
		t.Errorf("image checks counted: %v, want one failed", got)
	}
	h.fake.ClearFaults()
	if !l.tick() {
		t.Fatal("the next image check did not run")
	}
	if c := h.container("web-app-1"); c.ImageID != "sha256:app-1-rebuilt" {
		t.Errorf("web-app-1 runs %s once the registry answers, want sha256:app-1-rebuilt", c.ImageID)
	}
}

// TestCheckImagesOnAsk: moor plan --images shows what an image check
// would roll out and touches nothing; moor apply --images rolls it out,
// whether the source has image_updates or not.
func TestCheckImagesOnAsk(t *testing.T) {
	t.Parallel()
	h := newHarness(t, map[string]string{"web/compose.yaml": stack("app=app:1")})
	h.mustApply()
	app := h.container("web-app-1")
	h.fake.Publish("app:1", "sha256:app-1-rebuilt")
	if out := h.mustApply(); out.Result != nil {
		t.Fatalf("an apply without --images rolled out a moved tag:\n%s", out.Plan)
	}

	h.ctl.CheckImages = true
	out, err := h.ctl.Plan(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	from, to := short12(runtime.FakeDigest("sha256:app-1")), short12(runtime.FakeDigest("sha256:app-1-rebuilt"))
	want := "pull app:1 (tag moved in the registry to " + to + ", wanted by web/app)\n" +
		"replace web/app/1 (image updated: app:1 " + from + " -> " + to + ") [start-first, batch 1/1, rollback on failure]\n"
	if got := out.Plan.String(); got != want {
		t.Fatalf("plan --images:\n%s\nwant:\n%s", got, want)
	}
	if c := h.container("web-app-1"); c.ID != app.ID {
		t.Fatal("plan --images replaced web-app-1")
	}
	h.mustApply()
	if c := h.container("web-app-1"); c.ImageID != "sha256:app-1-rebuilt" {
		t.Errorf("after apply --images web-app-1 runs %s", c.ImageID)
	}
	recs := h.records()
	if last := recs[len(recs)-1]; last.Kind != controller.KindImageUpdate || len(last.Images) != 1 {
		t.Errorf("last record %q %v, want an image update", last.Kind, last.Images)
	}
}
