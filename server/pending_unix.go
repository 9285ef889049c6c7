//go:build unix

package server

import (
	"net"
	"syscall"
)

// pending reports whether bytes have arrived on c that nobody has read yet.
// It peeks without blocking and without taking c's read lock, which the
// server's goroutine may hold while it waits for those very bytes.
func pending(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	var buf [1]byte
	n := 0
	rc.Control(func(fd uintptr) {
		n, _, _ = syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	})
	return n > 0
}
