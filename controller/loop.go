package controller

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/robfig/cron/v3"
	"go.uber.org/zap"
)

// Clock is the time the loop runs on; tests drive a fake one.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Backoff bounds after a failed run.
const (
	backoffMin = 5 * time.Second
	backoffMax = 5 * time.Minute
)

// Loop converges the source on every trigger until ctx is done: at start,
// on its schedule (jittered by up to a tenth of the interval so that many
// hosts polling one server spread out), and on Trigger. Triggers coalesce
// into one pending run; two runs never overlap. After a failure the next
// run waits for a growing backoff, unless the source moved to a new
// revision, which is tried at the next tick.
//
// An apply in flight when ctx ends finishes (within the source's timeout):
// a stop never cuts a replacement in half on purpose, and one cut by a kill
// is repaired by the next run.
func (c *Controller) Loop(ctx context.Context, sched cron.Schedule, clock Clock) {
	if clock == nil {
		clock = realClock{}
	}
	c.initTrigger()
	c.Trigger() // startup
	var (
		backoff   time.Duration
		retryAt   time.Time
		failedRev string
	)
	for {
		now := clock.Now()
		next := sched.Next(now)
		wait := next.Sub(now)
		wait += time.Duration(rand.Int64N(int64(wait)/10 + 1))
		triggered := false
		select {
		case <-ctx.Done():
			return
		case <-c.trigger:
			triggered = true
		case <-clock.After(wait):
		}
		if !triggered && backoff > 0 && clock.Now().Before(retryAt) && !c.moved(ctx, failedRev) {
			c.Log.Debug("backing off", zap.Time("until", retryAt), zap.String("revision", failedRev))
			continue
		}
		out, err := c.applyDetached(ctx)
		if err == nil {
			backoff, failedRev = 0, ""
			continue
		}
		backoff = min(max(2*backoff, backoffMin), backoffMax)
		backoff += time.Duration(rand.Int64N(int64(backoff) / 5))
		retryAt = clock.Now().Add(backoff)
		failedRev = ""
		if out != nil && out.Snapshot != nil {
			failedRev = out.Snapshot.Revision.String()
		}
		c.Log.Warn("run failed; backing off", zap.Duration("backoff", backoff), zap.Error(err))
	}
}

// applyDetached runs one apply that a cancelled ctx does not cut short.
func (c *Controller) applyDetached(ctx context.Context) (*Outcome, error) {
	timeout := c.Source.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Minute
	}
	runCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	return c.Apply(runCtx)
}

// moved reports whether the source now resolves to another revision than
// rev: a new commit ends a backoff. It costs one ref listing.
func (c *Controller) moved(ctx context.Context, rev string) bool {
	if c.WorkDir != "" || rev == "" {
		return false
	}
	got, err := c.git.Resolve(ctx)
	return err == nil && got.String() != rev
}

// Trigger asks for a run as soon as the current one (if any) ends. It never
// blocks: triggers that arrive while one is pending coalesce into it.
func (c *Controller) Trigger() {
	c.initTrigger()
	select {
	case c.trigger <- struct{}{}:
	default:
	}
}

func (c *Controller) initTrigger() {
	c.triggerOnce.Do(func() { c.trigger = make(chan struct{}, 1) })
}

// triggerState is embedded in Controller.
type triggerState struct {
	triggerOnce sync.Once
	trigger     chan struct{}
}

// WatchLocal triggers a run whenever a ref of the source's repository
// changes, for a repository on this host (a bare repository people push
// to): a push deploys at once, whatever the interval. It returns
// gitsource.ErrNotLocal for a remote repository, and otherwise runs until
// ctx is done.
func (c *Controller) WatchLocal(ctx context.Context) error {
	return c.git.Watch(ctx, c.Trigger)
}
