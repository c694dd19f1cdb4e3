package controllers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"testing"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
	"github.com/peering-operator/peering-operator/internal/bgptest"
	"github.com/peering-operator/peering-operator/internal/frrtest"
	"github.com/peering-operator/peering-operator/internal/peeringdb/pdbtest"
	"github.com/peering-operator/peering-operator/internal/policy"
)

// ixMember is a member of the IX route server: its own gobgpd, announcing
// routes. Members' ASNs are public-looking: a private one would be refused
// as a bogon ASN, rightly.
type ixMember struct {
	addr   netip.Addr
	asn    uint32
	routes []string
}

// ixRouteServer is the IX's route server of a test: a real gobgpd with
// the AS of DE-CIX's route-server network (AS6695), relaying its members'
// routes transparently (route-server clients: no AS of its own added).
type ixRouteServer struct {
	ns      string // network namespace ("" on loopback)
	rs      *bgptest.Speaker
	members []ixMember
}

// ourRoute is one route in our router's RIB.
type ourRoute struct {
	ASPath           string
	LargeCommunities string
}

// startIXRouteServer runs the route server at addr and its members, each
// dialing it; ours is our router as the route server's client (it dials
// us at oursPort, 0 for 179).
func startIXRouteServer(t *testing.T, ns string, addr netip.Addr, ours netip.Addr, oursPort int, members ...ixMember) *ixRouteServer {
	t.Helper()
	ctx := context.Background()
	g := NewWithT(t)
	rs := bgptest.StartGoBGPD(t, bgptest.Config{Name: "ix-rs", ASN: pdbtest.LabRouteServer.ASN, ListenAddr: addr, Netns: ns})
	g.Expect(rs.AddNeighbor(ctx, bgptest.Neighbor{Address: ours, ASN: 64500, RemotePort: oursPort, RouteServerClient: true})).To(Succeed())
	for _, m := range members {
		g.Expect(rs.AddNeighbor(ctx, bgptest.Neighbor{Address: m.addr, ASN: m.asn, Passive: true, RouteServerClient: true})).To(Succeed())
		var routes []bgptest.Route
		for _, p := range m.routes {
			routes = append(routes, bgptest.Route{Prefix: netip.MustParsePrefix(p)})
		}
		bgptest.StartPeer(t, bgptest.PeerConfig{Addr: m.addr, ASN: m.asn, RouteServer: rs.Endpoint(), Routes: routes, Netns: ns})
	}
	return &ixRouteServer{ns: ns, rs: rs, members: members}
}

// routeServerMembers announce two routes of their own, a bogon and an
// RPKI-invalid route (rsVRPs).
func routeServerMembers(a, b netip.Addr) []ixMember {
	return []ixMember{
		{a, 3900000001, []string{"31.0.1.0/24", "10.99.0.0/24"}}, // the second is a bogon
		{b, 3900000002, []string{"31.0.2.0/24", "31.0.3.0/24"}},  // the second is RPKI-invalid
	}
}

// rsVRPs make 31.0.1.0/24 valid and 31.0.3.0/24 invalid (another AS's).
var rsVRPs = []bgptest.VRP{
	{Prefix: netip.MustParsePrefix("31.0.1.0/24"), MaxLen: 24, ASN: 3900000001},
	{Prefix: netip.MustParsePrefix("31.0.3.0/24"), MaxLen: 24, ASN: 3900000099},
}

// withRPKI gives the Router the RTR cache at hostPort.
func withRPKI(t *testing.T, rt *peeringv1.Router, hostPort string) {
	t.Helper()
	host, port, err := net.SplitHostPort(hostPort)
	if err != nil {
		t.Fatal(err)
	}
	pn, _ := strconv.Atoi(port)
	rt.Spec.RPKI = &peeringv1.RPKI{Servers: []peeringv1.RTRServer{{Address: host, Port: int32(pn)}}}
}

// A session with the IX's route server, on our gobgpd (an ordinary router)
// and on our FRR, each validating against a real RTR cache (StayRTR, the
// Router's spec.rpki): the route server relays two members' routes
// without its own AS first. The request is marked routeServer: the
// members' routes are accepted with their own first AS, the bogon and the
// RPKI-invalid route are refused, every accepted route carries the
// learned-from-route-server community, and status.sessions counts 4
// received, 2 accepted.
func TestRouteServerSession(t *testing.T) {
	t.Run("gobgpd", func(t *testing.T) {
		ours := bgptest.StartGoBGPD(t, bgptest.Config{Name: "ours", ASN: 64500,
			ListenAddr: netip.MustParseAddr("127.0.0.1"), RouterID: netip.MustParseAddr("192.0.2.1")})
		o := newObjects(t, "127.0.0.1", int32(ours.Config.GRPCPort))
		o.router.Spec.Driver, o.router.Spec.CredentialsSecretRef, o.router.Spec.RouteServer = peeringv1.DriverGoBGP, nil, false
		o.port.Spec.IX.PeeringDBID = pdbtest.LabIXID
		o.port.Spec.IPv4Address, o.port.Spec.IPv6Address = "127.0.0.1/24", ""
		withRPKI(t, o.router, bgptest.StartStayRTR(t, rsVRPs))
		// gobgpd validates a route when it arrives; the driver has it
		// look again only at the next reconcile after the VRPs change
		// (TestRPKIRevalidated), so the members come once it has them.
		create(t, o.router)
		NewWithT(t).Eventually(func(g Gomega) {
			srv, err := ours.RPKIServers(context.Background())
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(srv).To(HaveLen(1))
			g.Expect(srv[0].GetState().GetRecordIpv4()).To(BeEquivalentTo(len(rsVRPs)))
		}, timeout).Should(Succeed())
		startIXRouteServer(t, "", pdbtest.LabRouteServer.Addr, netip.MustParseAddr("127.0.0.1"), ours.Config.BGPPort,
			routeServerMembers(netip.MustParseAddr("127.0.0.21"), netip.MustParseAddr("127.0.0.22"))...)
		testRouteServerSession(t, o, pdbtest.LabRouteServer.Addr, pdbtest.LabIXID, func(g Gomega) map[string]ourRoute {
			rib, err := ours.RIB(context.Background(), 4)
			g.Expect(err).NotTo(HaveOccurred())
			out := map[string]ourRoute{}
			for _, r := range rib {
				out[r.Prefix.String()] = ourRoute{ASPath: fmt.Sprint(r.ASPath), LargeCommunities: fmt.Sprint(r.LargeCommunities)}
			}
			return out
		})
	})
	t.Run("frr", func(t *testing.T) {
		frrtest.RequirePrerequisites(t)
		r := frrtest.StartFRR(t, frrtest.Options{LocalASN: 64500, RPKI: true})
		a, b := netip.MustParseAddr("192.0.2.30"), netip.MustParseAddr("192.0.2.31")
		for _, addr := range []netip.Addr{pdbtest.FRRLabRouteServer.Addr, a, b} {
			if err := r.AddPeerAddress(addr); err != nil {
				t.Fatal(err)
			}
		}
		startIXRouteServer(t, r.NSPeers, pdbtest.FRRLabRouteServer.Addr, frrtest.RouterV4, 0, routeServerMembers(a, b)...)
		// FRR validates again when the VRPs change: no ordering needed.
		o := frrObjects(t, r)
		withRPKI(t, o.router, bgptest.StartStayRTRAt(t, r.MgmtRoot(), rsVRPs))
		create(t, o.router)
		testRouteServerSession(t, o, pdbtest.FRRLabRouteServer.Addr, pdbtest.FRRLabIXID, func(g Gomega) map[string]ourRoute {
			return frrRIB(g, r)
		})
	})
}

// rsPrefixes4 is AS6695's IPv4 prefix count in the PeeringDB sample.
var rsPrefixes4 = int64(400000)

func testRouteServerSession(t *testing.T, o objects, rsAddr netip.Addr, ixID int, rib func(Gomega) map[string]ourRoute) {
	g := NewWithT(t)
	o.request.Spec.PeerASN, o.request.Spec.Addresses, o.request.Spec.RouteServer = peeringv1.ASN(pdbtest.LabRouteServer.ASN), nil, true
	create(t, o.port)
	create(t, o.request)
	// Its filter is the non-bogon one, built without the IRR.
	g.Eventually(func(g Gomega) {
		f := getPR(g, o.request).Status.Filters
		g.Expect(f).NotTo(BeNil())
		g.Expect(f.IPv4).NotTo(BeNil())
		g.Expect(f.IPv4.ASSet).To(Equal(policy.RouteServerSet))
	}, timeout).Should(Succeed())
	approve(t, o.request)
	expectCondition(t, o.request, "Ready", metav1.ConditionTrue, peeringv1.ReasonSessionsEstablished)
	g.Eventually(func(g Gomega) {
		pr := getPR(g, o.request)
		g.Expect(pr.Status.Sessions).To(HaveLen(1))
		s := pr.Status.Sessions[0]
		g.Expect(s.Address).To(Equal(rsAddr.String()))
		g.Expect(s.State).To(Equal("Established"))
		g.Expect(s.Received).To(HaveValue(BeEquivalentTo(4)))
		g.Expect(s.Accepted).To(HaveValue(BeEquivalentTo(2)), "the members' two routes, not the bogon nor the RPKI-invalid one")
		g.Expect(s.Limit).To(HaveValue(BeEquivalentTo(policy.MaxPrefix(&rsPrefixes4, 4, policy.DefaultMaxPrefix, nil))),
			"from the route server's PeeringDB count (400,000), with the default headroom")
	}, timeout).Should(Succeed())

	// In our own RIB: each member's route with the member's AS first (the
	// route server is transparent), marked learned from a route server at
	// this IX.
	tag := fmt.Sprintf("[64500:2:%d]", ixID)
	g.Eventually(rib, timeout).Should(Equal(map[string]ourRoute{
		"31.0.1.0/24": {ASPath: "[3900000001]", LargeCommunities: tag},
		"31.0.2.0/24": {ASPath: "[3900000002]", LargeCommunities: tag},
	}))
}

// frrRIB reads FRR's IPv4 table with each route's AS path and large
// communities (show bgp ... json has neither: one detail query a route).
func frrRIB(g Gomega, r *frrtest.Router) map[string]ourRoute {
	out, err := r.Vtysh("show bgp ipv4 unicast json")
	g.Expect(err).NotTo(HaveOccurred())
	var table struct {
		Routes map[string]json.RawMessage `json:"routes"`
	}
	g.Expect(json.Unmarshal([]byte(out), &table)).To(Succeed())
	rib := map[string]ourRoute{}
	for pfx := range table.Routes {
		out, err := r.Vtysh("show bgp ipv4 unicast " + pfx + " json")
		g.Expect(err).NotTo(HaveOccurred())
		var detail struct {
			Paths []struct {
				ASPath struct {
					Segments []struct {
						List []uint32 `json:"list"`
					} `json:"segments"`
				} `json:"aspath"`
				LargeCommunity struct {
					List []string `json:"list"`
				} `json:"largeCommunity"`
			} `json:"paths"`
		}
		g.Expect(json.Unmarshal([]byte(out), &detail)).To(Succeed(), out)
		g.Expect(detail.Paths).NotTo(BeEmpty(), out)
		var path []uint32
		for _, s := range detail.Paths[0].ASPath.Segments {
			path = append(path, s.List...)
		}
		rib[pfx] = ourRoute{ASPath: fmt.Sprint(path), LargeCommunities: fmt.Sprint(detail.Paths[0].LargeCommunity.List)}
	}
	return rib
}
