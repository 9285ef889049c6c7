package server

import (
	"syscall"
)

// deferAccept asks the kernel to hand over a connection only once its
// client has sent something (TCP_DEFER_ACCEPT), for up to
// ReadHeaderTimeout. A client that connects and sends nothing then costs
// moor nothing until that time has passed, and one that sends its request
// is accepted with it, however slowly it got around to sending it.
func deferAccept(network, address string, c syscall.RawConn) error {
	var err error
	c.Control(func(fd uintptr) {
		err = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_DEFER_ACCEPT, int(ReadHeaderTimeout.Seconds()))
	})
	return err
}
