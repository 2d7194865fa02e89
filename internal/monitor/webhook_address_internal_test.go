package monitor

import (
	"net/netip"
	"os"
	"strings"
	"testing"
)

// Every internal range is refused, in each of its IPv6 forms, and public
// addresses, including those next to the refused ranges, are not.
func TestInternalKind(t *testing.T) {
	cases := []struct{ addr, want string }{
		{"127.0.0.1", "loopback"},
		{"127.255.255.254", "loopback"},
		{"::1", "loopback"},
		{"10.0.0.5", "private network"},
		{"172.16.0.1", "private network"},
		{"172.31.255.255", "private network"},
		{"192.168.1.1", "private network"},
		{"fc00::1", "private network"},
		{"fd12:3456::1", "private network"},
		{"169.254.169.254", "link-local"},
		{"169.254.0.1", "link-local"},
		{"fe80::1", "link-local"},
		{"fe80::1%eth0", "link-local"},
		{"fd00:ec2::254", "private network"}, // the IPv6 metadata address
		{"100.64.0.1", "carrier-grade NAT"},
		{"100.127.255.255", "carrier-grade NAT"},
		{"0.0.0.0", "unspecified"},
		{"0.1.2.3", "unspecified"},
		{"::", "unspecified"},
		{"224.0.0.1", "multicast"},
		{"239.255.255.250", "multicast"},
		{"ff02::1", "multicast"},
		{"ff0e::1", "multicast"},
		{"255.255.255.255", "broadcast"},
		{"240.0.0.1", "reserved"},
		{"198.18.0.1", "reserved"},
		{"192.0.0.170", "reserved"},
		{"fec0::1", "reserved"},
		{"fec0::1%eth0", "reserved"},
		{"64:ff9b::a00:5%eth0", "IPv6 form of 10.0.0.5"},
		{"::ffff:127.0.0.1", "IPv6 form of 127.0.0.1, a loopback"},
		{"::ffff:10.0.0.5", "IPv6 form of 10.0.0.5, in a private network"},
		{"::ffff:169.254.169.254", "IPv6 form of 169.254.169.254, link-local"},
		{"::ffff:100.64.0.1", "carrier-grade NAT"},
		{"::ffff:0.0.0.0", "unspecified"},
		{"::ffff:255.255.255.255", "broadcast"},
		{"::127.0.0.1", "IPv6 form of 127.0.0.1"},
		{"64:ff9b::a00:5", "IPv6 form of 10.0.0.5"},
		{"64:ff9b:1::a9fe:a9fe", "IPv6 form of 169.254.169.254"},
		{"2002:7f00:1::1", "IPv6 form of 127.0.0.1"},
		{"2002:c0a8:101::1", "IPv6 form of 192.168.1.1"},
		// Public.
		{"93.184.215.14", ""},
		{"8.8.8.8", ""},
		{"1.1.1.1", ""},
		{"9.255.255.255", ""},
		{"11.0.0.0", ""},
		{"172.15.255.255", ""},
		{"172.32.0.0", ""},
		{"192.167.255.255", ""},
		{"169.253.255.255", ""},
		{"100.63.255.255", ""},
		{"100.128.0.0", ""},
		{"223.255.255.255", ""},
		{"2606:4700:4700::1111", ""},
		{"2001:4860:4860::8888", ""},
		{"::ffff:93.184.215.14", ""},
		{"64:ff9b::808:808", ""},
		{"2002:808:808::1", ""},
	}
	for _, c := range cases {
		got := internalKind(netip.MustParseAddr(c.addr))
		if c.want == "" && got != "" || !strings.Contains(got, c.want) {
			t.Errorf("internalKind(%s) = %q, want %q", c.addr, got, c.want)
		}
	}
}

// The dialer's check reads the address the dialer is about to connect to.
func TestRefuseInternal(t *testing.T) {
	cases := []struct {
		address string
		want    string
	}{
		{"10.0.0.5:443", "address 10.0.0.5 is in a private network; deliveries there are refused"},
		{"[::1]:8080", "address ::1 is a loopback address; deliveries there are refused"},
		{"[fe80::1%eth0]:443", "address fe80::1%eth0 is link-local"},
		{"93.184.215.14:443", ""},
		{"[2606:4700:4700::1111]:443", ""},
		{"example.com:443", "does not parse"},
	}
	for _, c := range cases {
		err := refuseInternal("tcp", c.address, nil)
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("refuseInternal(%s) = %v, want %q", c.address, err, c.want)
		}
	}
}

func TestInternalHost(t *testing.T) {
	cases := []struct{ host, want string }{
		{"localhost", "names this host"},
		{"LocalHost.", "names this host"},
		{"api.localhost", "names this host"},
		{"10.0.0.5", "is in a private network"},
		{"::ffff:127.0.0.1", "is an IPv6 form of 127.0.0.1"},
		{"example.com", ""},
		{"localhost.example.com", ""},
		{"8.8.8.8", ""},
	}
	for _, c := range cases {
		if got := internalHost(c.host); got != c.want && !(c.want != "" && strings.HasPrefix(got, c.want)) {
			t.Errorf("internalHost(%s) = %q, want %q", c.host, got, c.want)
		}
	}
}

// Every numeric form a common resolver reads as an internal address is
// refused when subscribed, naming the address; with private networks
// allowed, the non-canonical forms are still refused, saying how to write
// the address.
func TestHostRefusalNumericForms(t *testing.T) {
	strict, lax := &Webhooks{}, &Webhooks{cfg: WebhookConfig{AllowPrivateNetworks: true}}
	cases := []struct{ host, strict, lax string }{
		{"127.1", "is read as 127.0.0.1, a loopback address", "write it as 127.0.0.1"},
		{"127.0.1", "is read as 127.0.0.1, a loopback", "write it as 127.0.0.1"},
		{"2130706433", "is read as 127.0.0.1, a loopback", "write it as 127.0.0.1"},
		{"0x7f000001", "is read as 127.0.0.1, a loopback", "write it as 127.0.0.1"},
		{"0X7F000001", "is read as 127.0.0.1", "write it as 127.0.0.1"},
		{"0x7f.0.0.1", "is read as 127.0.0.1, a loopback", "write it as 127.0.0.1"},
		{"0x7f.1", "is read as 127.0.0.1", "write it as 127.0.0.1"},
		{"0177.0.0.1", "is read as 127.0.0.1, a loopback", "write it as 127.0.0.1"},
		{"017700000001", "is read as 127.0.0.1, a loopback", "write it as 127.0.0.1"},
		{"127.000.000.001", "is read as 127.0.0.1, a loopback", "write it as 127.0.0.1"},
		{"127.0.0.1.", "is read as 127.0.0.1, a loopback", "write it as 127.0.0.1"},
		{"0", "is read as 0.0.0.0, unspecified", "write it as 0.0.0.0"},
		{"0x", "is read as 0.0.0.0, unspecified", "write it as 0.0.0.0"},
		{"0.0", "is read as 0.0.0.0", "write it as 0.0.0.0"},
		{"0xa9.0xfe.0xa9.0xfe", "is read as 169.254.169.254, link-local", "write it as 169.254.169.254"},
		{"2852039166", "is read as 169.254.169.254, link-local", "write it as 169.254.169.254"},
		{"012.0.0.5", "is read as 10.0.0.5, in a private network", "write it as 10.0.0.5"},
		{"0x0000000000000000000000007f.1", "is read as 127.0.0.1", "write it as 127.0.0.1"},
		// Octal to glibc and browsers (8.0.0.1), decimal to older parsers.
		{"010.0.0.1", "is read by some resolvers as 10.0.0.1, in a private network", "write it as 8.0.0.1"},
		{"１２７。０。０。１", "(127.0.0.1) is a loopback address", ""}, // IDNA maps it to 127.0.0.1, as the HTTP client does
		{"１２７.1", "is read as 127.0.0.1", "write it as 127.0.0.1"},
		// Public, written oddly: refused either way, saying how to write it.
		{"134744072", "write it as 8.8.8.8", "write it as 8.8.8.8"},
		{"8.8.8.8.", "write it as 8.8.8.8", "write it as 8.8.8.8"},
		{"010.8.8.8", "is read by some resolvers as 10.8.8.8", "write it as 8.8.8.8"},
		{"0x08080808", "write it as 8.8.8.8", "write it as 8.8.8.8"},
		// Ending in a number without being an address.
		{"256.0.0.1", "ends in a number but is no IPv4 address", "ends in a number"},
		{"1.2.3.4.5", "ends in a number", "ends in a number"},
		{"hooks.example.09", "ends in a number", "ends in a number"},
		{"example.0x", "ends in a number", "ends in a number"},
		{"99999999999999999999", "ends in a number", "ends in a number"},
		{"4294967296", "ends in a number", "ends in a number"},
		// Names from /etc/hosts.
		{"localhost.localdomain", "names this host", ""},
		{"LOCALHOST.localdomain.", "names this host", ""},
		{"ip6-localhost", "names this host", ""},
		{"ip6-loopback", "names this host", ""},
		{"localhost4.localdomain4", "names this host", ""},
		// Canonical and public.
		{"8.8.8.8", "", ""},
		{"10.0.0.5", "is in a private network", ""},
		{"hooks.example.com", "", ""},
		{"1password.com", "", ""},
		{"0x.example.com", "", ""},
		{"example.com.", "", ""},
	}
	for _, c := range cases {
		for _, w := range []struct {
			w    *Webhooks
			want string
		}{{strict, c.strict}, {lax, c.lax}} {
			got := w.w.hostRefusal(c.host)
			if w.want == "" && got != "" || w.want != "" && !strings.Contains(got, w.want) {
				t.Errorf("hostRefusal(%s) with private networks allowed %v = %q, want %q",
					c.host, w.w.cfg.AllowPrivateNetworks, got, w.want)
			}
		}
	}
}

// The machine's own name is refused by name, however the system resolves it.
func TestHostRefusalOwnName(t *testing.T) {
	own, err := os.Hostname()
	if err != nil || own == "" {
		t.Fatalf("os.Hostname() = %q, %v", own, err)
	}
	w := &Webhooks{}
	for _, h := range []string{own, strings.ToUpper(own) + "."} {
		if got := w.hostRefusal(h); !strings.Contains(got, "names this host") {
			t.Errorf("hostRefusal(%s) = %q, want it refused as this host", h, got)
		}
	}
}

// The readings follow inet_aton: 1 to 4 parts, the last filling the rest.
func TestIPv4Readings(t *testing.T) {
	cases := []struct {
		host    string
		want    []string
		numeric bool
	}{
		{"1", []string{"0.0.0.1"}, true},
		{"1.2", []string{"1.0.0.2"}, true},
		{"1.2.3", []string{"1.2.0.3"}, true},
		{"1.2.65535", []string{"1.2.255.255"}, true},
		{"1.2.65536", nil, true},
		{"1.16777215", []string{"1.255.255.255"}, true},
		{"4294967295", []string{"255.255.255.255"}, true},
		{"0377.0377.0377.0377", []string{"255.255.255.255"}, true},
		{"08.0.0.1", []string{"8.0.0.1"}, true}, // not octal: the decimal reading only
		{"1.2.3.4.5", nil, true},
		{"1.2.3.", []string{"1.2.0.3"}, true},
		{"1..3", nil, true},
		{"example.com", nil, false},
		{"0x7g", nil, false},
		{".", nil, false},
	}
	for _, c := range cases {
		addrs, numeric := ipv4Readings(c.host)
		var got []string
		for _, a := range addrs {
			got = append(got, a.String())
		}
		if numeric != c.numeric || strings.Join(got, ",") != strings.Join(c.want, ",") {
			t.Errorf("ipv4Readings(%s) = %v %v, want %v %v", c.host, got, numeric, c.want, c.numeric)
		}
	}
}
