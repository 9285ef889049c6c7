package controller_test

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/robfig/cron/v3"
	"go.uber.org/zap/zaptest"

	"github.com/moor-dev/moor/config"
	"github.com/moor-dev/moor/controller"
	"github.com/moor-dev/moor/fault"
	"github.com/moor-dev/moor/internal/testkit"
	"github.com/moor-dev/moor/ledger"
	"github.com/moor-dev/moor/reconcile"
	"github.com/moor-dev/moor/runtime"
)

// engineLoop is a controller on the real engine, its loop running on the
// real clock, with image_updates on a schedule too far off to fire: the
// test fires it with TriggerImageCheck.
type engineLoop struct {
	t      *testing.T
	ctl    *controller.Controller
	state  string
	ledger string
	ran    chan error
}

// The source is named after the stack: a source name another test's
// containers carry (runtime's contract tests label theirs "test") would
// make them this source's.
func startEngineLoop(t *testing.T, name, repo string) *engineLoop {
	t.Helper()
	rt, err := runtime.NewDocker(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close() })
	e := &engineLoop{t: t, state: t.TempDir(), ran: make(chan error, 16)}
	e.ledger = filepath.Join(e.state, "ledger.jsonl")
	l, err := ledger.Open(e.ledger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	src := config.Source{Name: name, Repo: repo, Ref: "main", Timeout: 2 * time.Minute,
		ImageUpdates: config.ImageUpdates{Schedule: "@every 24h"}}
	e.ctl = controller.New(src, e.state, rt, l, zaptest.NewLogger(t))
	e.ctl.Ran = func(_ *controller.Outcome, err error) { e.ran <- err }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.ctl.Loop(ctx, cron.Every(24*time.Hour), nil)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return e
}

// next waits for the loop's next run to end and returns its error.
func (e *engineLoop) next() error {
	e.t.Helper()
	select {
	case err := <-e.ran:
		return err
	case <-time.After(3 * time.Minute):
		e.t.Fatal("no run of the loop within 3 minutes")
		return nil
	}
}

func (e *engineLoop) records() []ledger.Record {
	e.t.Helper()
	recs, _, err := ledger.Read(e.ledger)
	if err != nil {
		e.t.Fatal(err)
	}
	return recs
}

// running is the container of name as the engine shows it: its ID and its
// image's ID.
func running(t *testing.T, cli *client.Client, name string) (id, image string) {
	t.Helper()
	res, err := cli.ContainerInspect(t.Context(), name, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatalf("inspect %s: %v", name, err)
	}
	if res.Container.State == nil || !res.Container.State.Running {
		t.Fatalf("%s is not running: %+v", name, res.Container.State)
	}
	return res.Container.ID, res.Container.Image
}

// registryDigest is the digest the registry at reg names repo:tag by,
// asked over its own HTTP API.
func registryDigest(t *testing.T, reg, repo, tag string) string {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodHead, "http://"+reg+"/v2/"+repo+"/manifests/"+tag, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", strings.Join([]string{
		"application/vnd.docker.distribution.manifest.v2+json", "application/vnd.docker.distribution.manifest.list.v2+json",
		"application/vnd.oci.image.manifest.v1+json", "application/vnd.oci.image.index.v1+json",
	}, ", "))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	d := res.Header.Get("Docker-Content-Digest")
	if res.StatusCode != http.StatusOK || d == "" {
		t.Fatalf("HEAD %s/%s:%s: %s, digest %q", reg, repo, tag, res.Status, d)
	}
	return d
}

// removeDigestRefs removes the references repo@sha256:… that pulls and
// pushes of the test's registry left on the images, not the images.
func removeDigestRefs(t *testing.T, cli *client.Client, repo string) {
	ctx := context.Background()
	imgs, err := cli.ImageList(ctx, client.ImageListOptions{Filters: make(client.Filters).Add("reference", repo)})
	if err != nil {
		t.Logf("list images of %s: %v", repo, err)
		return
	}
	for _, img := range imgs.Items {
		for _, rd := range img.RepoDigests {
			if strings.HasPrefix(rd, repo+"@") {
				cli.ImageRemove(ctx, rd, client.ImageRemoveOptions{}) // a reference in use stays
			}
		}
	}
}

func imageID(t *testing.T, cli *client.Client, image string) string {
	t.Helper()
	res, err := cli.ImageInspect(t.Context(), image)
	if err != nil {
		t.Fatalf("inspect %s: %v", image, err)
	}
	return res.ID
}

// TestImageUpdateOnTheEngine: a stack runs REGISTRY/moor/app:1 from a real
// registry; the tag is pushed again with a new image. A drift check
// changes nothing (the host's tag still names the old image); the image
// check asks the registry, pulls the tag and replaces the container, and
// the ledger records an image update with both digests. Then the tag is
// pushed with an image that never turns healthy: the update is rolled
// back, the running container is kept, and a second check of the same
// digest does not try it again.
func TestImageUpdateOnTheEngine(t *testing.T) {
	cli := testkit.Docker(t)
	reg := testkit.Registry(t)
	stack := testkit.StackName(t)
	testkit.CleanupStack(t, stack)
	bystander := testkit.Unrelated(t, stack)
	// The images by ID: their testkit tags are the cache's, which a
	// test process built from another test app may take away.
	v1 := imageID(t, cli, testkit.TestImage(t))
	v2 := imageID(t, cli, testkit.VariantImage(t, "image-update-2"))
	broken := imageID(t, cli, testkit.EnvImage(t, "image-update-unhealthy", map[string]string{"UNHEALTHY": "1"}))
	ref := testkit.Push(t, reg, v1, "moor/app:1")
	t.Cleanup(func() { removeDigestRefs(t, cli, reg+"/moor/app") })
	d1 := registryDigest(t, reg, "moor/app", "1")
	// pushAgain pushes img under the tag as a CI job would, from another
	// host: the local tag keeps naming what the host pulled (was).
	pushAgain := func(img, was string) string {
		testkit.Push(t, reg, img, "moor/app:1")
		testkit.TagImage(t, was, ref)
		return registryDigest(t, reg, "moor/app", "1")
	}

	repo := testkit.NewRepo(t)
	repo.Write(stack+"/compose.yaml", fmt.Sprintf(`services:
  app:
    image: %s
    healthcheck:
      test: ["CMD", "/testapp", "health", "http://127.0.0.1:8080/health"]
      interval: 1s
      timeout: 1s
      retries: 2
`, ref))
	rev := "main@sha1:" + repo.Commit("app:1")
	e := startEngineLoop(t, stack, repo.Dir)
	if err := e.next(); err != nil {
		t.Fatalf("first deploy: %v", err)
	}
	name := reconcile.ContainerName(stack, "app", 1)
	oldID, oldImage := running(t, cli, name)
	if oldImage != v1 {
		t.Fatalf("%s runs %s, want %s", name, oldImage, v1)
	}

	d2 := pushAgain(v2, v1)
	// A run without the registry check leaves it: the repository did not
	// change, and neither did the host's tag.
	e.ctl.Trigger()
	if err := e.next(); err != nil {
		t.Fatalf("a run after the push: %v", err)
	}
	if id, _ := running(t, cli, name); id != oldID {
		t.Fatalf("%s was replaced by a run that did not check the registry", name)
	}

	e.ctl.TriggerImageCheck()
	if err := e.next(); err != nil {
		t.Fatalf("image update: %v", err)
	}
	newID, newImage := running(t, cli, name)
	if newID == oldID || newImage != v2 {
		t.Fatalf("after the image update %s is %s of %s; want a new container of %s", name, newID[:12], newImage, v2)
	}
	if _, err := cli.ContainerInspect(t.Context(), oldID, client.ContainerInspectOptions{}); err == nil {
		t.Errorf("the old container %s is still there", oldID[:12])
	}
	recs := e.records()
	last := recs[len(recs)-1]
	want := []ledger.ImageUpdate{{Stack: stack, Service: "app", Image: ref, From: d1, To: d2}}
	if last.Kind != controller.KindImageUpdate || last.Result != controller.ResultSuccess || last.Revision != rev ||
		fmt.Sprint(last.Images) != fmt.Sprint(want) {
		t.Fatalf("last ledger record: %q %s at %s, images %v; want a successful image update of %s with %v",
			last.Kind, last.Result, last.Revision, last.Images, rev, want)
	}
	if recs[0].Kind != "" || len(recs) != 2 {
		t.Errorf("ledger: %d records, the first of kind %q; want the deploy and the image update", len(recs), recs[0].Kind)
	}

	// A tag pushed with a broken image: rolled back, and held.
	d3 := pushAgain(broken, v2)
	e.ctl.TriggerImageCheck()
	if err := e.next(); err == nil {
		t.Fatal("an update to an image that never turns healthy succeeded")
	}
	if id, _ := running(t, cli, name); id != newID {
		t.Fatalf("after the failed update %s is %s, want %s kept running", name, id[:12], newID[:12])
	}
	recs = e.records()
	last = recs[len(recs)-1]
	if last.Kind != controller.KindImageUpdate || last.Result == controller.ResultSuccess ||
		len(last.Images) != 1 || last.Images[0].From != d2 || last.Images[0].To != d3 {
		t.Fatalf("last ledger record: %q %s, images %v; want a failed image update from %s to %s", last.Kind, last.Result, last.Images, d2, d3)
	}
	st, err := controller.ReadStatus(e.state, stack)
	if err != nil {
		t.Fatal(err)
	}
	if f := st.Failures[stack+"/app"]; f.Digest != d3 {
		t.Fatalf("status failures %+v, want %s/app held at %s", st.Failures, stack, d3)
	}

	n := len(recs)
	e.ctl.TriggerImageCheck()
	if err := e.next(); fault.Of(err) != fault.Held {
		t.Fatalf("a check of the held digest: %v, want the service held back", err)
	}
	if id, _ := running(t, cli, name); id != newID {
		t.Fatalf("the held update was tried again: %s is %s", name, id[:12])
	}
	for _, r := range e.records()[n:] {
		if len(r.Ops) > 0 {
			t.Errorf("a check of the held digest ran %v", r.Ops)
		}
	}
	testkit.AssertAlive(t, bystander)
}
