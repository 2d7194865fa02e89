package monitor

import (
	"net/netip"
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
