package monitor

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
