package monitor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"syscall"
	"time"
)

// A subscriber chooses the URL, and a tenant admin is not trusted with the
// platform's own network: unless WebhookConfig.AllowPrivateNetworks is set,
// deliveries go to public addresses only. The guard sits in the dialer's
// Control function, which sees the address about to be connected after
// every resolution, so a name that resolves (or re-resolves) to an
// internal address is refused like the address itself. Subscribe refuses
// the URLs that name such an address outright, so the mistake shows early.

// Ranges the netip methods do not name.
var (
	thisNetwork = netip.MustParsePrefix("0.0.0.0/8")      // RFC 1122: "this host"; 0.0.0.0 reaches the local host
	sharedNAT   = netip.MustParsePrefix("100.64.0.0/10")  // RFC 6598: carrier-grade NAT, often inside clouds
	ietfProto   = netip.MustParsePrefix("192.0.0.0/24")   // RFC 6890: protocol assignments
	benchmark   = netip.MustParsePrefix("198.18.0.0/15")  // RFC 2544: used inside some networks
	reservedV4  = netip.MustParsePrefix("240.0.0.0/4")    // RFC 1112: reserved, with the broadcast address
	siteLocal   = netip.MustParsePrefix("fec0::/10")      // RFC 3879: deprecated, still routed inside some networks
	nat64       = netip.MustParsePrefix("64:ff9b::/96")   // RFC 6052: an IPv4 address behind a NAT64
	nat64Local  = netip.MustParsePrefix("64:ff9b:1::/48") // RFC 8215
	sixToFour   = netip.MustParsePrefix("2002::/16")      // RFC 3056: an IPv4 address in bits 16 to 48
	v4Compat    = netip.MustParsePrefix("::/96")          // RFC 4291: deprecated IPv4-compatible form
	broadcastV4 = netip.AddrFrom4([4]byte{255, 255, 255, 255})
)

// internalKind says why deliveries to ip are refused, completing "address
// ip is ...", or returns "" for a public address.
func internalKind(ip netip.Addr) string {
	ip = ip.WithZone("") // a zoned address matches no netip.Prefix, and the zone does not change where it goes
	if v4, ok := embeddedIPv4(ip); ok {
		if kind := internalKind(v4); kind != "" {
			return "an IPv6 form of " + v4.String() + ", " + kind
		}
		return ""
	}
	switch {
	case !ip.IsValid():
		return "not an IP address"
	case ip.IsUnspecified() || thisNetwork.Contains(ip):
		return "unspecified, which reaches this host"
	case ip.IsLoopback():
		return "a loopback address"
	case ip.IsPrivate():
		return "in a private network"
	case ip.IsLinkLocalUnicast():
		return "link-local, where cloud metadata services answer"
	case sharedNAT.Contains(ip):
		return "in the shared address space of carrier-grade NAT"
	case ip.IsMulticast():
		return "multicast"
	case ip == broadcastV4:
		return "the broadcast address"
	case ietfProto.Contains(ip) || benchmark.Contains(ip) || reservedV4.Contains(ip) || siteLocal.Contains(ip):
		return "in a reserved range"
	}
	return ""
}

// embeddedIPv4 returns the IPv4 address an IPv6 address stands for: an
// IPv4-mapped, IPv4-compatible, NAT64 or 6to4 one reaches that IPv4
// address on a network that routes it.
func embeddedIPv4(ip netip.Addr) (netip.Addr, bool) {
	if !ip.Is6() {
		return netip.Addr{}, false
	}
	b := ip.As16()
	switch {
	case ip.Is4In6():
		return ip.Unmap(), true
	case nat64.Contains(ip), nat64Local.Contains(ip):
		return netip.AddrFrom4([4]byte(b[12:16])), true
	case sixToFour.Contains(ip):
		return netip.AddrFrom4([4]byte(b[2:6])), true
	case v4Compat.Contains(ip) && !ip.IsUnspecified() && !ip.IsLoopback():
		return netip.AddrFrom4([4]byte(b[12:16])), true
	}
	return netip.Addr{}, false
}

// addressError is a delivery refused for its receiver's address. It is
// recorded as the attempt's error and not retried: the address is the
// subscriber's choice, and another attempt would be refused the same way.
type addressError struct {
	addr netip.Addr
	kind string
}

func (e *addressError) Error() string {
	return fmt.Sprintf("address %s is %s; deliveries there are refused", e.addr, e.kind)
}

// refuseInternal is the dialer's Control function: it runs once the
// address is resolved, just before each connection is made.
func refuseInternal(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("webhook receiver address %q does not parse: %w", address, err)
	}
	if kind := internalKind(ap.Addr()); kind != "" {
		return &addressError{addr: ap.Addr(), kind: kind}
	}
	return nil
}

// refusal returns the addressError inside a failed attempt's error.
func refusal(err error) *addressError {
	var ae *addressError
	if errors.As(err, &ae) {
		return ae
	}
	return nil
}

// newDeliveryClient returns the client of deliveries. It uses no proxy: a
// proxy would make the connection in the platform's stead, past the
// dialer's check. It follows no redirect: a redirect could send the event
// to an address the subscriber did not give, and a 3xx is a failed attempt.
func (w *Webhooks) newDeliveryClient() *http.Client {
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	if !w.cfg.AllowPrivateNetworks {
		dialer.Control = refuseInternal
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil
	t.DialContext = func(ctx context.Context, network, address string) (net.Conn, error) {
		if w.resolve != nil {
			address = w.resolve(address)
		}
		return dialer.DialContext(ctx, network, address)
	}
	return &http.Client{Transport: t, Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
}

// internalHost says why a URL's host names an internal address, completing
// "host h ...", or returns "" when it does not visibly: a host name is
// checked again each time a delivery connects.
func internalHost(host string) string {
	name := strings.TrimSuffix(strings.ToLower(host), ".")
	if name == "localhost" || strings.HasSuffix(name, ".localhost") {
		return "names this host"
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return ""
	}
	if kind := internalKind(ip); kind != "" {
		return "is " + kind
	}
	return ""
}
