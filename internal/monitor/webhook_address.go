package monitor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/byok-dev/byok/internal/store"
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

// hostRefusal says why a subscription to a URL whose host is host is
// refused, completing "webhook url u: ", or returns "" when it is not. A
// host written as a number in any form but the canonical one is refused
// whatever the network policy: resolvers disagree on what such a host is
// (glibc reads "0177.0.0.1" as 127.0.0.1, Go's resolver as a name to look
// up, an old parser as 177.0.0.1), and a receiver has no need for it.
func (w *Webhooks) hostRefusal(raw string) string {
	host := foldHost(raw)
	if _, err := netip.ParseAddr(host); err != nil {
		if addrs, numeric := ipv4Readings(host); numeric && (w.cfg.AllowPrivateNetworks || internalHost(host) == "") {
			if len(addrs) == 0 {
				return fmt.Sprintf("host %s ends in a number but is no IPv4 address", raw)
			}
			return fmt.Sprintf("host %s is an IPv4 address in a form resolvers read differently; write it as %s", raw, addrs[0])
		}
	}
	if w.cfg.AllowPrivateNetworks {
		return ""
	}
	if why := internalHost(host); why != "" {
		if host != raw {
			raw += " (" + host + ")"
		}
		return fmt.Sprintf("host %s %s; webhooks are delivered to public addresses only", raw, why)
	}
	return ""
}

// internalHost says why a URL's host names an internal address, completing
// "host h ...", or returns "" when it does not visibly: a host name is
// resolved when subscribed (see checkResolved) and checked again each time
// a delivery connects.
func internalHost(host string) string {
	if ip, err := netip.ParseAddr(host); err == nil {
		if kind := internalKind(ip); kind != "" {
			return "is " + kind
		}
		return ""
	}
	addrs, numeric := ipv4Readings(host)
	for i, a := range addrs {
		if kind := internalKind(a); kind != "" {
			if i == 0 {
				return fmt.Sprintf("is read as %s, %s", a, kind)
			}
			return fmt.Sprintf("is read by some resolvers as %s, %s", a, kind)
		}
	}
	if numeric {
		return ""
	}
	if localName(host) {
		return "names this host"
	}
	return ""
}

// localName reports whether name is one that resolves to this machine on
// usual systems, by RFC 6761 or /etc/hosts: localhost and its subdomains,
// the names Debian and Red Hat give the loopback addresses, and the
// machine's own host name.
func localName(host string) bool {
	name := strings.TrimSuffix(strings.ToLower(host), ".")
	switch {
	case name == "localhost" || strings.HasSuffix(name, ".localhost"):
		return true
	case name == "localhost.localdomain" || name == "localhost4" || name == "localhost6" ||
		strings.HasPrefix(name, "localhost4.") || strings.HasPrefix(name, "localhost6.") ||
		name == "ip6-localhost" || name == "ip6-loopback":
		return true
	}
	own, err := os.Hostname()
	if err != nil || own == "" {
		return false
	}
	own = strings.TrimSuffix(strings.ToLower(own), ".")
	short, _, _ := strings.Cut(own, ".")
	return name == own || name == short
}

// ipv4Readings returns the IPv4 addresses that resolvers read host as when
// it is a number in a form other than the canonical dotted quad; numeric
// reports whether host ends in a number at all, which, by the WHATWG URL
// standard, only an IPv4 address may.
//
// The first reading is that of glibc's inet_aton and of browsers' URL
// parsers: one to four parts, each decimal, octal (a leading 0) or
// hexadecimal (0x), the last filling the remaining bytes, and a trailing
// dot. The second, given when it differs, reads a dotted quad's parts with
// leading zeros as decimal, as some older parsers do.
func ipv4Readings(host string) (addrs []netip.Addr, numeric bool) {
	parts := strings.Split(host, ".")
	if len(parts) > 1 && parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	if !looksNumeric(parts[len(parts)-1]) {
		return nil, false
	}
	if a, ok := inetAton(parts, false); ok {
		addrs = append(addrs, a)
	}
	if a, ok := inetAton(parts, true); ok && len(parts) == 4 && (len(addrs) == 0 || a != addrs[0]) {
		addrs = append(addrs, a)
	}
	return addrs, true
}

// inetAton reads parts as an IPv4 address; decimal reads every part as
// decimal, leading zeros and all.
func inetAton(parts []string, decimal bool) (netip.Addr, bool) {
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	var v uint64
	for i, p := range parts {
		n, ok := parseIPv4Part(p, decimal)
		last := i == len(parts)-1
		if !ok || !last && n > 0xff || last && n >= 1<<(8*(5-len(parts))) {
			return netip.Addr{}, false
		}
		if last {
			v = v<<(8*(5-len(parts))) | n
		} else {
			v = v<<8 | n
		}
	}
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true
}

// parseIPv4Part reads one part of an IPv4 address: 0x and hexadecimal
// digits (none, for browsers, is 0), 0 and octal digits, or decimal digits.
func parseIPv4Part(p string, decimal bool) (uint64, bool) {
	base := 10
	switch {
	case decimal:
	case len(p) >= 2 && (p[:2] == "0x" || p[:2] == "0X"):
		base, p = 16, p[2:]
		if p == "" {
			return 0, true
		}
	case len(p) > 1 && p[0] == '0':
		base, p = 8, p[1:]
	}
	if p == "" {
		return 0, false
	}
	n, err := strconv.ParseUint(p, base, 64)
	if err != nil || n > 0xffffffff {
		return 0, false
	}
	return n, true
}

// looksNumeric reports whether p is a number to the WHATWG URL parser:
// decimal digits, or 0x and hexadecimal digits, valid or not in the base
// a leading 0 implies and whatever their size.
func looksNumeric(p string) bool {
	if len(p) >= 2 && (p[:2] == "0x" || p[:2] == "0X") {
		return strings.Trim(p[2:], "0123456789abcdefABCDEF") == ""
	}
	return p != "" && strings.Trim(p, "0123456789") == ""
}

// foldHost maps a host name as IDNA's lookup mapping does for the
// characters that matter here, so that "１２７。０。０。１", which the HTTP
// client connects to as 127.0.0.1, is checked as that: compatibility
// forms (full-width digits and dots) to ASCII, ideographic full stops to
// dots, and upper to lower case.
func foldHost(host string) string {
	for i := 0; i < len(host); i++ {
		if host[i] >= utf8.RuneSelf {
			return strings.ToLower(strings.ReplaceAll(norm.NFKC.String(host), "\u3002", "."))
		}
	}
	return host
}

// lookupTimeout bounds the resolution of a host name when subscribed.
const lookupTimeout = 3 * time.Second

// checkResolved resolves the host name of a URL checkURL accepted and
// refuses it when any address it resolves to is internal, unless private
// networks are allowed. A name that does not resolve is accepted, and its
// deliveries fail (recorded, retried) until it does: a receiver's record
// may be created after its subscription, and a passing DNS failure should
// not refuse a correct URL. What the name resolves to when a delivery
// connects is checked again (see refuseInternal): this check shows the
// mistake early and is no guard against a name that changes.
func (w *Webhooks) checkResolved(ctx context.Context, rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil || w.cfg.AllowPrivateNetworks {
		return nil
	}
	host := u.Hostname()
	if _, err := netip.ParseAddr(host); err == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	lookup := w.lookup
	if lookup == nil {
		lookup = func(ctx context.Context, host string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		}
	}
	addrs, err := lookup(ctx, host)
	if err != nil {
		return nil
	}
	for _, a := range addrs {
		a = a.Unmap()
		if kind := internalKind(a); kind != "" {
			return errorf(ErrInvalidWebhookURL, nil, "webhook url %q: host %s resolves to %s, which is %s; webhooks are delivered to public addresses only",
				store.Clip(rawURL), host, a, kind)
		}
	}
	return nil
}
