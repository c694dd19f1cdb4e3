package validation_test

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
	"github.com/peering-operator/peering-operator/internal/peeringdb"
	"github.com/peering-operator/peering-operator/internal/peeringdb/pdbtest"
	"github.com/peering-operator/peering-operator/internal/validation"
)

// IXs of the real sample used below.
const (
	decix   = 31 // DE-CIX Frankfurt
	linx    = 18 // LINX LON1
	eqzh    = 29 // Equinix Zurich
	nlix    = 64 // NL-ix
	dixie   = 92 // DIX-IE
	unknown = 999999
)

// sampleCache is an empty cache on a local PeeringDB test server serving
// the real sample; load loads what one validation needs, as the controller
// does before validating.
func sampleCache(t *testing.T) *peeringdb.Cache {
	t.Helper()
	srv := pdbtest.NewServer(pdbtest.Options{})
	t.Cleanup(srv.Close)
	cl, err := peeringdb.New(peeringdb.Options{BaseURL: srv.BaseURL, RequestsPerMinute: peeringdb.Unlimited})
	if err != nil {
		t.Fatal(err)
	}
	return peeringdb.NewCache(cl, peeringdb.CacheOptions{})
}

func load(t *testing.T, c *peeringdb.Cache, ixID int, asns ...uint32) {
	t.Helper()
	if err := c.EnsureLoaded(context.Background(), ixID, asns...); err != nil && !errors.Is(err, peeringdb.ErrNotFound) {
		t.Fatal(err)
	}
}

func addrs(ss ...string) []netip.Addr {
	var out []netip.Addr
	for _, s := range ss {
		out = append(out, netip.MustParseAddr(s))
	}
	return out
}

func sessionAddrs(r validation.Result) []string {
	var out []string
	for _, s := range r.Sessions {
		out = append(out, s.Address.String())
	}
	return out
}

type failure struct {
	reason string
	final  bool
}

func TestValidateRequest(t *testing.T) {
	c := sampleCache(t)
	for _, tc := range []struct {
		name     string
		in       validation.Request
		want     []failure // empty: OK
		sessions []string
		mention  []string // words the first message must contain
	}{
		{
			name:     "HE at DE-CIX, default addresses",
			in:       validation.Request{IXID: decix, PeerASN: 6939},
			sessions: []string{"80.81.192.172", "2001:7f8::1b1b:0:1"},
		},
		{
			name:     "MTS at DE-CIX, one of its two ports",
			in:       validation.Request{IXID: decix, PeerASN: 8359, Addresses: addrs("80.81.193.78", "2001:7f8::20a7:0:2")},
			sessions: []string{"80.81.193.78", "2001:7f8::20a7:0:2"},
		},
		{
			name:     "IPv4-mapped request is the IPv4 address",
			in:       validation.Request{IXID: decix, PeerASN: 6939, Addresses: addrs("::ffff:80.81.192.172")},
			sessions: []string{"80.81.192.172"},
		},
		{
			name:     "DALnet at NL-ix: ipaddr6 null, only IPv4 session",
			in:       validation.Request{IXID: nlix, PeerASN: 31800},
			sessions: []string{"193.239.116.162"},
		},
		{
			name:     "Init7 at DE-CIX bilaterally is fine",
			in:       validation.Request{IXID: decix, PeerASN: 13030},
			sessions: []string{"80.81.192.67", "2001:7f8::32e6:0:1", "80.81.193.67", "2001:7f8::32e6:0:2"},
		},
		{
			name:    "unknown IX",
			in:      validation.Request{IXID: unknown, PeerASN: 6939},
			want:    []failure{{peeringv1.ReasonIXNotFound, true}},
			mention: []string{"999999"},
		},
		{
			name:    "ASN not in PeeringDB",
			in:      validation.Request{IXID: decix, PeerASN: 64496},
			want:    []failure{{peeringv1.ReasonNetworkNotFound, true}},
			mention: []string{"AS64496"},
		},
		{
			name:    "port at DE-CIX whose network is outside the data",
			in:      validation.Request{IXID: decix, PeerASN: 3856},
			want:    []failure{{peeringv1.ReasonNetworkNotFound, true}},
			mention: []string{"AS3856"},
		},
		{
			name:    "Secura is not at DE-CIX",
			in:      validation.Request{IXID: decix, PeerASN: 29452},
			want:    []failure{{peeringv1.ReasonNotAtIX, true}},
			mention: []string{"AS29452", "Secura Hosting Ltd", "DE-CIX Frankfurt", "ix 31"},
		},
		{
			name:     "address in the LAN but not HE's",
			in:       validation.Request{IXID: decix, PeerASN: 6939, Addresses: addrs("80.81.192.172", "80.81.192.173")},
			want:     []failure{{peeringv1.ReasonAddressMismatch, true}},
			sessions: []string{"80.81.192.172", "80.81.192.173"},
			mention:  []string{"80.81.192.173", "AS6939", "80.81.192.172"},
		},
		{
			name:    "address outside the DE-CIX LAN",
			in:      validation.Request{IXID: decix, PeerASN: 6939, Addresses: addrs("192.0.2.1")},
			want:    []failure{{peeringv1.ReasonAddressOutsideLAN, true}, {peeringv1.ReasonAddressMismatch, true}},
			mention: []string{"192.0.2.1", "80.81.192.0/21", "2001:7f8::/64"},
		},
		{
			name:    "policy No is held",
			in:      validation.Request{IXID: linx, PeerASN: 29452},
			want:    []failure{{peeringv1.ReasonPeerPolicyNo, false}},
			mention: []string{"AS29452", `"No"`},
		},
		{
			name:    "never via route servers on a route-server port",
			in:      validation.Request{IXID: decix, PeerASN: 13030, RouteServer: true},
			want:    []failure{{peeringv1.ReasonNeverViaRouteServers, true}},
			mention: []string{"AS13030", "Init7", "route server"},
		},
		{
			name:    "non-operational port is held",
			in:      validation.Request{IXID: eqzh, PeerASN: 30781},
			want:    []failure{{peeringv1.ReasonNotOperational, false}},
			mention: []string{"AS30781", "194.42.48.20", "Equinix Zurich"},
		},
		{
			name: "port without any address is held",
			in:   validation.Request{IXID: dixie, PeerASN: 2497},
			want: []failure{{peeringv1.ReasonNoSessionAddresses, false}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			load(t, c, tc.in.IXID, tc.in.PeerASN)
			r := validation.ValidateRequest(c, tc.in)
			var got []failure
			for _, f := range r.Failures {
				got = append(got, failure{f.Reason, f.Final})
				if f.Message == "" {
					t.Errorf("%s without message", f.Reason)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("failures %v, want %v\n%s", got, tc.want, r.Message())
			}
			if r.OK() != (len(tc.want) == 0) {
				t.Errorf("OK() = %v", r.OK())
			}
			if len(tc.want) > 0 {
				anyFinal := slices.ContainsFunc(tc.want, func(f failure) bool { return f.final })
				if r.Final() != anyFinal || r.Reason() != tc.want[0].reason {
					t.Errorf("Final() %v Reason() %q", r.Final(), r.Reason())
				}
			}
			if tc.sessions != nil && !slices.Equal(sessionAddrs(r), tc.sessions) {
				t.Errorf("sessions %v, want %v", sessionAddrs(r), tc.sessions)
			}
			for _, w := range tc.mention {
				if !strings.Contains(r.Failures[0].Message, w) {
					t.Errorf("message %q does not mention %q", r.Failures[0].Message, w)
				}
			}
		})
	}
}

func TestValidateRequestPeerInfo(t *testing.T) {
	c := sampleCache(t)
	load(t, c, decix, 6939)
	r := validation.ValidateRequest(c, validation.Request{IXID: decix, PeerASN: 6939})
	p := r.Peer
	if !r.PeerFound || p.Name != "Hurricane Electric" || p.NetID != 291 || p.PolicyGeneral != "Open" ||
		p.IRRASSet != "RADB::AS-HURRICANE RADB::AS-HURRICANEV6" || len(p.ASSets) != 2 ||
		p.InfoPrefixes4 == nil || *p.InfoPrefixes4 != 210000 || *p.InfoPrefixes6 != 180000 {
		t.Errorf("peer %+v", p)
	}
	if r.IXName != "DE-CIX Frankfurt" || len(r.LANPrefixes) != 2 {
		t.Errorf("IX %q %v", r.IXName, r.LANPrefixes)
	}
	s := r.Sessions[0]
	if s.Family != "ipv4" || s.NetIXLANID != 1240 || !s.IsRSPeer || !s.Operational || s.Speed != 800000 {
		t.Errorf("session %+v", s)
	}
	if r.Sessions[1].Family != "ipv6" {
		t.Errorf("second session %+v", r.Sessions[1])
	}
}

// LINX LON1 has only its IPv6 prefix in the sample: the IPv4 LAN check
// cannot run, and says so, but IPv6 is still checked.
func TestValidateRequestPartialLAN(t *testing.T) {
	c := sampleCache(t)
	load(t, c, linx, 15169)
	r := validation.ValidateRequest(c, validation.Request{IXID: linx, PeerASN: 15169,
		Addresses: addrs("195.66.224.125", "2001:7f8:4::3b41:1")})
	if !r.OK() {
		t.Fatalf("failures: %s", r.Message())
	}
	if len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], "no IPv4 prefix") {
		t.Errorf("warnings %q", r.Warnings)
	}
	r = validation.ValidateRequest(c, validation.Request{IXID: linx, PeerASN: 15169, Addresses: addrs("2001:db8::1")})
	if r.Reason() != peeringv1.ReasonAddressOutsideLAN {
		t.Errorf("reason %q: %s", r.Reason(), r.Message())
	}
}

func TestValidateOwnPort(t *testing.T) {
	c := sampleCache(t)
	p := netip.MustParsePrefix
	for _, tc := range []struct {
		name     string
		ix       int
		asn      uint32
		v4, v6   netip.Prefix
		own      string
		failures []string
		mention  string
	}{
		{"HE's own port matches", decix, 6939, p("80.81.192.172/21"), p("2001:7f8::1b1b:0:1/64"), validation.OwnEntryMatches, nil, ""},
		{"IPv4 only port", decix, 6939, p("80.81.192.172/21"), netip.Prefix{}, validation.OwnEntryMatches, nil, ""},
		{"second of two ports", decix, 8359, p("80.81.193.78/21"), p("2001:7f8::20a7:0:2/64"), validation.OwnEntryMatches, nil, ""},
		{"addresses of two different ports", decix, 8359, p("80.81.192.78/21"), p("2001:7f8::20a7:0:2/64"), validation.OwnEntryMismatch, nil, "netixlan 3005"},
		{"wrong address", decix, 6939, p("80.81.192.99/21"), p("2001:7f8::1b1b:0:1/64"), validation.OwnEntryMismatch, nil, "80.81.192.172"},
		{"we are not in PeeringDB there", decix, 64500, p("80.81.192.99/21"), netip.Prefix{}, validation.OwnEntryMissing, nil, "AS64500"},
		{"address outside the LAN", decix, 6939, p("10.0.0.1/21"), netip.Prefix{}, validation.OwnEntryMismatch, []string{peeringv1.ReasonAddressOutsideLAN}, ""},
		{"prefix length", decix, 6939, p("80.81.192.172/24"), netip.Prefix{}, validation.OwnEntryMatches, []string{peeringv1.ReasonPrefixLengthMismatch}, ""},
		{"unknown IX", unknown, 6939, p("80.81.192.172/21"), netip.Prefix{}, "", []string{peeringv1.ReasonIXNotFound}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			load(t, c, tc.ix, tc.asn)
			r := validation.ValidateOwnPort(c, tc.ix, tc.asn, tc.v4, tc.v6)
			var reasons []string
			for _, f := range r.Failures {
				reasons = append(reasons, f.Reason)
			}
			if !slices.Equal(reasons, tc.failures) || r.OK() != (len(tc.failures) == 0) {
				t.Errorf("failures %v, want %v", reasons, tc.failures)
			}
			if r.OwnEntry != tc.own {
				t.Errorf("own entry %q, want %q (%s)", r.OwnEntry, tc.own, r.OwnEntryMessage)
			}
			if tc.mention != "" && !strings.Contains(r.OwnEntryMessage, tc.mention) {
				t.Errorf("message %q does not mention %q", r.OwnEntryMessage, tc.mention)
			}
			if tc.ix == decix && len(r.LANPrefixes) != 2 {
				t.Errorf("LAN prefixes %v", r.LANPrefixes)
			}
		})
	}
}

// Before the IX is loaded (PeeringDB down at startup) nothing is final.
func TestValidateBeforeLoad(t *testing.T) {
	c := sampleCache(t)
	r := validation.ValidateRequest(c, validation.Request{IXID: decix, PeerASN: 6939})
	if r.Reason() != peeringv1.ReasonPeeringDBUnavailable || r.Final() {
		t.Errorf("reason %q final %v", r.Reason(), r.Final())
	}
	p := validation.ValidateOwnPort(c, decix, 6939, netip.MustParsePrefix("80.81.192.172/21"), netip.Prefix{})
	if len(p.Failures) != 1 || p.Failures[0].Reason != peeringv1.ReasonPeeringDBUnavailable || p.Failures[0].Final {
		t.Errorf("port failures %+v", p.Failures)
	}
}
