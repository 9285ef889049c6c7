package controller

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/robfig/cron/v3"
	"go.uber.org/zap"

	"github.com/moor-dev/moor/ledger"
	"github.com/moor-dev/moor/printable"
	"github.com/moor-dev/moor/reconcile"
)

// Image updates without a commit (the source's image_updates). The
// repository is the source of truth: a tag that moves in its registry
// changes nothing on the host unless the source opts in. Then, on its
// schedule, the loop runs the pipeline as for any trigger, with one more
// fact in the observation: the digest the registry names each checked tag
// by (Runtime.RegistryDigest, a manifest inspect: nothing is pulled). The
// planner pulls a tag that moved and replaces the services that run it,
// under their rollout, health gates and rollback (reconcile/imageupdate.go).
//
// A run whose revision is not the one the last run loaded (a commit came in
// between) is a commit's deploy as any other: the registry is not asked,
// and the next check is at the schedule's next turn. An operator's run
// with Controller.CheckImages (moor plan --images, moor apply --images)
// asks about the revision it resolves, whatever ran before.
//
// An update whose rollout fails is rolled back and held: the service keeps
// its old image until the registry names the tag by another digest, a new
// commit comes, or an operator runs `moor apply`. It is not retried on a
// timer, since the same digest would fail the same way.

// Run kinds in the ledger: a commit's deploy ("") or an image update.
const KindImageUpdate = "image update"

// ImageCheck is what an image check of the registry found: what `moor
// status` shows of the last one.
type ImageCheck struct {
	At       time.Time `json:"at"`
	Revision string    `json:"revision,omitempty"`
	// Tags is how many tags the registry was asked about.
	Tags int `json:"tags"`
	// Updated are the services whose tag moved and were rolled out (or
	// tried to be): the plan has ops for them.
	Updated []reconcile.ImageUpdate `json:"updated,omitempty"`
	// Skipped says why the registry was not asked.
	Skipped string `json:"skipped,omitempty"`
	// Errors are the tags the registry did not answer for, with why.
	Errors []string `json:"errors,omitempty"`
}

// Image check results, for the metric.
const (
	imageCheckUnchanged = "unchanged"
	imageCheckUpdated   = "updated"
	imageCheckFailed    = "failed"
	imageCheckSkipped   = "skipped"
)

func (ic *ImageCheck) result() string {
	switch {
	case ic.Skipped != "":
		return imageCheckSkipped
	case len(ic.Errors) > 0:
		return imageCheckFailed // what moved meanwhile is in the ledger
	case len(ic.Updated) > 0:
		return imageCheckUpdated
	}
	return imageCheckUnchanged
}

// summary says what the check found, as `moor status` prints it.
func (ic *ImageCheck) summary() string {
	if ic.Skipped != "" {
		return "skipped: " + ic.Skipped
	}
	var parts []string
	if len(ic.Updated) == 0 {
		parts = append(parts, fmt.Sprintf("%d tags, none moved", ic.Tags))
	}
	for _, u := range ic.Updated {
		parts = append(parts, fmt.Sprintf("%s/%s: %s moved to %s", u.Stack, u.Service, u.Image, reconcile.ShortDigest(u.To)))
	}
	for _, e := range ic.Errors {
		parts = append(parts, "not answered: "+e)
	}
	return strings.Join(parts, "\n")
}

// imageState is the controller's side of image checks. The loop's
// goroutine owns run and rev; poke is any goroutine's; mu guards last.
type imageState struct {
	once sync.Once
	poke chan struct{}
	// run: the run under way checks the registry; rev is the revision
	// the run before it loaded.
	run bool
	rev string
	// held: an image check's plan was held (a suspension, a closed
	// window); the first run that is not held checks again.
	held bool
	// last is the last check (status); mu guards it for readers.
	mu   sync.Mutex
	last *ImageCheck
}

func (c *Controller) initImages() {
	c.images.once.Do(func() { c.images.poke = make(chan struct{}, 1) })
}

// TriggerImageCheck asks the loop for an image check now, as its
// image_updates schedule does; it does nothing for a source without one.
// It never blocks; requests coalesce.
func (c *Controller) TriggerImageCheck() {
	c.initImages()
	select {
	case c.images.poke <- struct{}{}:
	default:
	}
}

// imageSchedule is when the loop checks the registry, or nil: never.
func (c *Controller) imageSchedule() cron.Schedule {
	sched, err := c.Source.ImageSchedule()
	if err != nil { // config.Validate refuses it first
		c.Log.Error("image updates off", zap.Error(err))
	}
	return sched
}

// LastImageCheck is the last image check of the registry, or nil.
func (c *Controller) LastImageCheck() *ImageCheck {
	c.images.mu.Lock()
	defer c.images.mu.Unlock()
	return c.images.last
}

// imagesAfterHold makes the run an image check when one was held and
// nothing holds this one, and reports whether the run checks the registry.
func (c *Controller) imagesAfterHold(cons reconcile.Constraints) bool {
	if c.images.held && len(cons.Suspended) == 0 && cons.Window == "" && !c.CheckImages {
		c.images.run, c.images.rev = true, c.loaded.rev
	}
	return c.images.run || c.CheckImages
}

// checkImages, in an image-update run, asks the registry for the digest
// of every tag the revision's services run and puts it in the observation
// for the planner; a held update whose tag has moved on since is let go.
func (c *Controller) checkImages(ctx context.Context, out *Outcome) {
	if !c.images.run && !c.CheckImages || c.WorkDir != "" {
		return
	}
	d := out.Desired
	ic := &ImageCheck{At: time.Now(), Revision: d.Revision}
	out.ImageCheck = ic
	if !c.CheckImages && d.Revision != c.images.rev {
		ic.Skipped = fmt.Sprintf("the source moved to %s: this run deploys the commit", shortRev(d.Revision))
		return
	}
	var tags []string
	d.EachService(func(_ string, svc *reconcile.Service) {
		if svc.WatchesTag() && !slices.Contains(tags, svc.Spec.Image) {
			tags = append(tags, svc.Spec.Image)
		}
	})
	slices.Sort(tags)
	reg := map[string]string{}
	for _, tag := range tags {
		dg, err := c.Runtime.RegistryDigest(ctx, tag)
		if err != nil {
			ic.Errors = append(ic.Errors, printable.Error(err))
			continue
		}
		reg[tag] = dg
	}
	ic.Tags = len(tags)
	if len(ic.Errors) > 0 {
		// The run goes on without those tags: they run as they ran.
		c.Log.Warn("image check: the registry did not answer for every tag", zap.Strings("errors", ic.Errors))
	}
	out.Observed.Registry = reg
	// A held update is let go once its tag names another image.
	dec := c.decisions()
	for key, f := range dec.Failures {
		if svc := d.Service(key); f.Digest != "" && svc != nil && reg[svc.Spec.Image] != "" && reg[svc.Spec.Image] != f.Digest {
			delete(dec.Failures, key)
			delete(out.Constraints.Held, key)
		}
	}
	ic.Updated = reconcile.ImageUpdates(d, out.Observed)
	c.clock.mark("registry")
}

// planned keeps the image updates the plan acts on: not those of held or
// blocked services.
func (ic *ImageCheck) planned(p *reconcile.Plan) {
	ops := p.ServiceOps()
	ic.Updated = slices.DeleteFunc(ic.Updated, func(u reconcile.ImageUpdate) bool {
		return len(ops[reconcile.ServiceKey(u.Stack, u.Service)]) == 0
	})
}

// noteImageFailures holds the services whose image update failed in this
// run until the tag moves again: their failure records the digest.
func (c *Controller) noteImageFailures(out *Outcome) {
	if out.ImageCheck == nil || out.Plan == nil {
		return
	}
	out.ImageCheck.planned(out.Plan)
	dec := c.decisions()
	for _, u := range out.ImageCheck.Updated {
		key := reconcile.ServiceKey(u.Stack, u.Service)
		if f, ok := dec.Failures[key]; ok {
			f.Image, f.Digest = u.Image, u.To
			dec.Failures[key] = f
		}
	}
}

// recordImages marks the ledger record of an image update, and keeps the
// check for status and metrics.
func (c *Controller) recordImages(rec *ledger.Record, out *Outcome) {
	if out == nil || out.ImageCheck == nil {
		return
	}
	ic := out.ImageCheck
	if out.Plan != nil {
		ic.planned(out.Plan)
	}
	if len(ic.Updated) > 0 {
		rec.Kind = KindImageUpdate
		for _, u := range ic.Updated {
			rec.Images = append(rec.Images, ledger.ImageUpdate{Stack: u.Stack, Service: u.Service, Image: u.Image, From: u.From, To: u.To})
		}
	}
	if len(ic.Errors) > 0 {
		rec.Notes = append(rec.Notes, "image check: "+strings.Join(ic.Errors, "; "))
	}
	c.images.mu.Lock()
	c.images.last = ic
	c.images.mu.Unlock()
	c.Metrics.imageCheck(c.Source.Name, ic)
}
