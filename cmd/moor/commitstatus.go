package main

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/moor-dev/moor/controller"
	"github.com/moor-dev/moor/forge"
)

// forgeFlush is how long moor waits on exit for the commit statuses still
// queued: a one-shot moor apply posts its verdict, and a forge that does
// not answer delays the exit by this much at most, never the deploy.
const forgeFlush = 15 * time.Second

// reportCommitStatus makes ctl post its deploy states to the forge when
// its source has a commit_status block; the Reporter returned (nil
// without one) is closed by parts.close.
func reportCommitStatus(ctl *controller.Controller, m *forge.Metrics, log *zap.Logger) *forge.Reporter {
	cs := ctl.Source.CommitStatus
	if cs.Provider == "" {
		return nil
	}
	r := forge.New(ctl.Source.Name, cs, ctl.Host.Name, log, m)
	ctl.Deploy = func(ev controller.DeployEvent) {
		r.Report(forge.Status{Commit: ev.Revision.Commit, State: forge.State(ev.State), Description: ev.Description})
	}
	return r
}

func closeReporters(rs []*forge.Reporter) {
	ctx, cancel := context.WithTimeout(context.Background(), forgeFlush)
	defer cancel()
	for _, r := range rs {
		r.Close(ctx)
	}
}
