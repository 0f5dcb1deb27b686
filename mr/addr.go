package mr

import (
	"fmt"
	"strings"
)

// DefaultAddr is the address the master listens on and workers dial when
// neither is told otherwise: a unix socket in the current directory, so a
// master and its workers started in one directory find each other.
const DefaultAddr = "unix:.mr-master.sock"

// ParseAddr splits an address into the network and address that net.Dial
// takes. "unix:/path" is a unix socket; anything else is TCP "host:port".
func ParseAddr(addr string) (network, address string, err error) {
	if p, ok := strings.CutPrefix(addr, "unix:"); ok {
		if p == "" {
			return "", "", fmt.Errorf("address %q: empty unix socket path", addr)
		}
		return "unix", p, nil
	}
	if !strings.Contains(addr, ":") {
		return "", "", fmt.Errorf("address %q: want host:port or unix:/path", addr)
	}
	return "tcp", addr, nil
}
