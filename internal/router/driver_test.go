package router

import (
	"errors"
	"net/netip"
	"slices"
	"testing"
)

// Informational communities: standard a:b (16-bit) and large a:b:c
// (32-bit); well-known and reserved ones refused; sorted numerically and
// deduplicated, as routers print them back.
func TestCommunities(t *testing.T) {
	for _, bad := range []string{"", "1", "1:2:3:4", "65536:1", "1:65536", "65535:0", "65535:65281", "0:100", "0:1:2", "4294967296:1:1",
		"-1:2", "a:b", "01:2", "1: 2", "64500:100 additive"} {
		if _, err := ParseCommunity(bad); err == nil {
			t.Errorf("ParseCommunity(%q): no error", bad)
		}
	}
	std, large, err := SortedCommunities([]string{"64500:3100", "4200000000:1:31", "64500:200", "64500:9:9", "64500:200"})
	if err != nil {
		t.Fatal(err)
	}
	str := func(cs []Community) []string {
		var out []string
		for _, c := range cs {
			out = append(out, c.String())
		}
		return out
	}
	if got := str(std); !slices.Equal(got, []string{"64500:200", "64500:3100"}) {
		t.Errorf("standard: %v", got)
	}
	if got := str(large); !slices.Equal(got, []string{"64500:9:9", "4200000000:1:31"}) {
		t.Errorf("large: %v", got)
	}
	n := Neighbor{Address: netip.MustParseAddr("192.0.2.1"), PeerASN: 64501, Communities: []string{"65535:0"}}
	if err := n.Validate(); !errors.Is(err, ErrInvalid) {
		t.Errorf("a well-known community as informational: %v", err)
	}
	n = Neighbor{Address: netip.MustParseAddr("192.0.2.1"), PeerASN: 64501, RouteServerClient: true, LocalPref: 200}
	if err := n.Validate(); !errors.Is(err, ErrInvalid) {
		t.Errorf("a local preference on a route-server client: %v", err)
	}
}

// An RTR server reaches a router CLI: a plain address or a DNS name only.
func TestRTRServerValidated(t *testing.T) {
	base := Desired{LocalASN: 64500, RouterID: netip.MustParseAddr("192.0.2.1")}
	for _, bad := range []RTRServer{{Host: "fe80::1%eth0; rm -rf", Port: 323}, {Host: "192.0.2.1\nrpki", Port: 323}, {Host: "::ffff:192.0.2.1", Port: 323},
		{Host: "RTR.example", Port: 323}, {Host: "192.0.2.1", Port: 0}, {Host: "", Port: 323}} {
		d := base
		d.RPKI = []RTRServer{bad}
		if err := d.Validate(); !errors.Is(err, ErrInvalid) {
			t.Errorf("RTR server %q: %v", bad.Host, err)
		}
	}
	d := base
	d.RPKI = []RTRServer{{Host: "192.0.2.53", Port: 3323}, {Host: "2001:db8::53", Port: 323}, {Host: "rtr.example.net", Port: 8282}}
	if err := d.Validate(); err != nil {
		t.Error(err)
	}
}
