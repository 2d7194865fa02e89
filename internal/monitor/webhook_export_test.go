package monitor

import (
	"context"
	"net"
	"net/netip"
)

// ResolveAs makes w connect to addr whenever a delivery dials host:port,
// as a name that re-resolves to another address would; the dialer's check
// then sees addr. Call it before Run.
func ResolveAs(w *Webhooks, hostPort, addr string) {
	w.resolve = func(address string) string {
		if address == hostPort {
			return addr
		}
		return address
	}
}

// LookupAs makes w resolve host names when subscribing as answers says; a
// name answers lists no address for does not resolve.
func LookupAs(w *Webhooks, answers map[string][]string) {
	w.lookup = func(_ context.Context, host string) ([]netip.Addr, error) {
		var addrs []netip.Addr
		for _, a := range answers[host] {
			addrs = append(addrs, netip.MustParseAddr(a))
		}
		if len(addrs) == 0 {
			return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
		}
		return addrs, nil
	}
}
