package controller

// SetBuild makes c act as another build of moor, whose cached loads are
// not c's.
func SetBuild(c *Controller, build string) { c.build = build }
