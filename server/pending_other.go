//go:build !unix

package server

import "net"

// pending cannot peek here: a connection the server has read nothing from
// counts as silent.
func pending(net.Conn) bool { return false }
