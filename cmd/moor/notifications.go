package main

import (
	"context"
	"path/filepath"

	"go.uber.org/zap"

	"github.com/moor-dev/moor/controller"
	"github.com/moor-dev/moor/notify"
)

// startNotifier starts delivering the notifications of p's config until
// ctx ends, and returns the Ran hook of a source that detects its changes;
// with no targets, a hook that does nothing. moor run alone notifies: a
// one-shot moor apply prints what it did to whoever ran it.
func startNotifier(ctx context.Context, p *parts) (func(source string) func(*controller.Outcome, error), error) {
	cfg := p.cfg.Notifications
	if len(cfg.Targets) == 0 {
		return func(string) func(*controller.Outcome, error) { return nil }, nil
	}
	targets, err := notify.Targets(cfg)
	if err != nil {
		return nil, err
	}
	n := &notify.Notifier{Log: p.log.With(zap.String("component", "notify")), UnreachableAfter: cfg.UnreachableAfter,
		StateDir: filepath.Join(p.cfg.StateDir, "notify")}
	n.Start(ctx, targets, notify.NewMetrics(p.metrics))
	return n.Ran, nil
}

// both calls each non-nil hook in turn.
func both(hooks ...func(*controller.Outcome, error)) func(*controller.Outcome, error) {
	return func(out *controller.Outcome, err error) {
		for _, h := range hooks {
			if h != nil {
				h(out, err)
			}
		}
	}
}
