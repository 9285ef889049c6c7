package controller

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"go.uber.org/zap"

	"github.com/moor-dev/moor/reconcile"
)

// Backoff bounds of a broken subscription to the engine's events: an
// engine restart takes seconds.
const (
	eventsBackoffMin = time.Second
	eventsBackoffMax = 30 * time.Second
)

// WatchEngine follows the engine's events for the sources of ctls until
// ctx is done. An event about a container, network or volume of a source
// asks it for a drift check (CheckDrift), unless the source's own apply is
// making it. When the subscription breaks (the engine restarts), the
// sources poll as if nothing were followed (every poll a drift check) and
// WatchEngine subscribes again, with a jittered backoff; once it is back,
// every source gets a drift check, since what happened meanwhile was not
// reported. clock nil is the real one.
func WatchEngine(ctx context.Context, engine reconcile.Events, ctls []*Controller, log *zap.Logger, clock Clock) {
	if clock == nil {
		clock = reconcile.RealClock{}
	}
	if log == nil {
		log = zap.NewNop()
	}
	var backoff time.Duration
	broken := ""
	for ctx.Err() == nil {
		evs, errc, err := engine.Events(ctx)
		if err == nil {
			since := clock.Now()
			for _, c := range ctls {
				c.Watched(true)
				c.CheckDrift()
			}
			if broken != "" {
				log.Info("following the engine's events again")
				broken = ""
			}
			err = follow(ctx, evs, errc, ctls)
			for _, c := range ctls {
				c.Watched(false)
			}
			if clock.Now().Sub(since) > eventsBackoffMax {
				backoff = 0 // it worked for a while: a new outage starts afresh
			}
		}
		if ctx.Err() != nil {
			return
		}
		if msg := err.Error(); msg != broken {
			log.Warn("not following the engine's events; every poll checks the engine for drift until they are back", zap.Error(err))
			broken = msg
		}
		backoff = min(max(2*backoff, eventsBackoffMin), eventsBackoffMax)
		select {
		case <-ctx.Done():
			return
		case <-clock.After(backoff + time.Duration(rand.Int64N(int64(backoff)/5))):
		}
	}
}

// follow hands each event to the sources it concerns until the
// subscription ends, and returns why it did.
func follow(ctx context.Context, evs <-chan reconcile.Event, errc <-chan error, ctls []*Controller) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case ev, ok := <-evs:
			if !ok {
				return streamEnd(ctx, errc)
			}
			for _, c := range ctls {
				if c.concerns(ev) {
					c.Log.Debug("engine event: drift check", zap.String("kind", ev.Kind), zap.String("action", ev.Action),
						zap.String("name", ev.Name), zap.String("stack", ev.Stack))
					c.CheckDrift()
				}
			}
		case err := <-errc:
			if err == nil {
				return streamEnd(ctx, errc)
			}
			return err
		}
	}
}

func streamEnd(ctx context.Context, errc <-chan error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case err, ok := <-errc:
		if ok && err != nil {
			return err
		}
	default:
	}
	return errEventsEnded
}

var errEventsEnded = errors.New("the engine ended its stream of events")
