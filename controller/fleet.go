package controller

import "github.com/moor-dev/moor/compose"

// composeHost is the host whose stacks the source's revisions are loaded
// for (compose/fleet.go); nil, when the controller was given no host
// name, reads no fleet directory.
func (c *Controller) composeHost() *compose.Host {
	if c.Host.Name == "" {
		return nil
	}
	return &compose.Host{Name: c.Host.Name, Labels: c.Host.Labels}
}
