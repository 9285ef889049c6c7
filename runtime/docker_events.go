package runtime

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/client"

	"github.com/moor-dev/moor/reconcile"
)

var _ reconcile.Events = (*Docker)(nil)

// refusalWait is how long Events waits for the engine to refuse a
// subscription.
const refusalWait = 100 * time.Millisecond

// eventActions are the engine's actions that can move the host away from
// the revision, by kind. What moor itself does makes them too; the
// controller tells its own apart.
var eventActions = map[events.Type][]events.Action{
	events.ContainerEventType: {events.ActionDie, events.ActionStop, events.ActionKill, events.ActionOOM,
		events.ActionDestroy, events.ActionRename, events.ActionUpdate},
	events.NetworkEventType: {events.ActionDestroy, events.ActionDisconnect},
	events.VolumeEventType:  {events.ActionDestroy},
}

// Events subscribes to the engine's events about containers, networks
// and volumes (one long-lived request, counted as one call). The engine
// filters them by kind and action. It copies a container's labels into
// its events, but not a network's or a volume's, so the filter on moor's
// labels is applied here, to containers only: a filter on labels in the
// request would drop every network and volume event.
//
// The engine answers the request before it sends any event: once Events
// returns, what happens is reported.
func (d *Docker) Events(ctx context.Context) (<-chan reconcile.Event, <-chan error, error) {
	f := make(client.Filters)
	for kind, actions := range eventActions {
		f = f.Add("type", string(kind))
		for _, a := range actions {
			f = f.Add("event", string(a))
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	d.call()
	res := d.cli.Events(ctx, client.EventsListOptions{Filters: f})
	// The client returns once the request is answered, and reports a
	// refusal on its error channel just after: a moment's wait tells a
	// refused subscription from one in place. Events meanwhile wait.
	select {
	case err := <-res.Err:
		cancel()
		if err == nil {
			err = errors.New("the engine ended the stream")
		}
		return nil, nil, fmt.Errorf("engine events: %w", classify(err))
	case <-time.After(refusalWait):
	}
	out := make(chan reconcile.Event)
	errc := make(chan error, 1)
	go func() {
		defer cancel()
		defer close(errc)
		defer close(out)
		for {
			select {
			case m := <-res.Messages:
				ev, ok := fromMessage(m)
				if !ok {
					continue
				}
				select {
				case out <- ev:
				case <-ctx.Done():
					errc <- ctx.Err()
					return
				}
			case err := <-res.Err:
				if err == nil {
					err = errors.New("the engine ended the stream")
				}
				errc <- fmt.Errorf("engine events: %w", classify(err))
				return
			}
		}
	}()
	return out, errc, nil
}

// fromMessage is the domain's view of an engine event: false for a
// container without moor's labels, or a kind or action moor does not
// watch.
func fromMessage(m events.Message) (reconcile.Event, bool) {
	if !watched(m.Type, m.Action) {
		return reconcile.Event{}, false
	}
	attrs := m.Actor.Attributes
	ev := reconcile.Event{Kind: string(m.Type), Action: string(m.Action), ID: m.Actor.ID, Name: attrs["name"]}
	switch m.Type {
	case events.ContainerEventType:
		stack, ok := attrs[reconcile.LabelStack]
		if !ok {
			return reconcile.Event{}, false
		}
		ev.Stack, ev.Source = stack, attrs[reconcile.LabelSource]
	case events.VolumeEventType:
		ev.Name = m.Actor.ID
	}
	return ev, true
}

func watched(kind events.Type, action events.Action) bool {
	for _, a := range eventActions[kind] {
		if a == action {
			return true
		}
	}
	return false
}
