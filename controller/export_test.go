package controller

import "time"

// SetBuild makes c act as another build of moor, whose cached loads are
// not c's.
func SetBuild(c *Controller, build string) { c.build = build }

// SetNow sets c's clock (holds.go), as the loop's does.
func SetNow(c *Controller, now func() time.Time) { c.timeNow = now }
