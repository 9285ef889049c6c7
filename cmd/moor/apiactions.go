package main

import (
	"github.com/moor-dev/moor/controller"
	"github.com/moor-dev/moor/server"
)

// apiActions is a source's controller as the actions of moor run's API
// (/api/v1/) take it: sync now, retry, suspend and resume.
func apiActions(ctl *controller.Controller) server.Actions { return ctl }
