package main

import (
	"fmt"

	"github.com/moor-dev/moor/controller"
	"github.com/moor-dev/moor/server"
)

// apiActions is a source's controller as the actions of moor run's API
// (/api/v1/) take it. The controller has no Suspend and Resume yet: until
// it does, suspendUnavailable answers them, and then this returns ctl.
func apiActions(ctl *controller.Controller) server.Actions { return suspendUnavailable{ctl} }

// suspendUnavailable is a controller that cannot suspend: the API answers
// its Suspend and Resume with 501.
type suspendUnavailable struct{ *controller.Controller }

func (suspendUnavailable) Suspend(stack, by string) error {
	return fmt.Errorf("suspending a source or stack is %w", server.ErrNotAvailable)
}

func (suspendUnavailable) Resume(stack string) error {
	return fmt.Errorf("resuming a source or stack is %w", server.ErrNotAvailable)
}
