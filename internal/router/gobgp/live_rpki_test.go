package gobgp

import (
	"context"
	"net"
	"slices"
	"strconv"
	"testing"

	"github.com/peering-operator/peering-operator/internal/bgptest"
	"github.com/peering-operator/peering-operator/internal/router"
)

// The Router's RTR cache comes after the routes (added to a running
// router): gobgpd alone would never look at them again. The Apply that
// sees the cache's data changed (a reconcile) soft-resets the neighbors
// in, and the invalid route goes; with nothing changed since, an Apply
// writes nothing.
func TestRPKIRevalidated(t *testing.T) {
	vrps := []bgptest.VRP{
		{Prefix: pp("10.20.0.0/16"), MaxLen: 24, ASN: 65099}, // 10.20.1.0/24 from 65001: invalid
		{Prefix: pp("10.40.0.0/16"), MaxLen: 24, ASN: 65001}, // 10.40.1.0/24 from 65001: valid
	}
	rs := startRS(t)
	d := newDriver(t, rs, Options{Passive: true})
	n := router.Neighbor{Address: addrA, PeerASN: 65001, Owner: "peering/a", Import: []router.Entry{upto("10.0.0.0/8", 8, 24)},
		Learned: router.LearnedPeer, IXID: 1, LocalPref: 100}
	des := desired(n)
	mustApply(t, d, des)
	bgptest.StartPeer(t, bgptest.PeerConfig{Addr: addrA, ASN: 65001, RouteServer: rs.Endpoint(),
		Routes: []bgptest.Route{route("10.20.1.0/24"), route("10.30.0.0/24"), route("10.40.1.0/24")}})
	waitState(t, d, addrA, "3 of 3 accepted without RPKI", func(s router.NeighborState) bool { return s.Received == 3 && s.Accepted == 3 })

	host, port, _ := net.SplitHostPort(bgptest.StartStayRTR(t, vrps))
	pn, _ := strconv.Atoi(port)
	des.RPKI = []router.RTRServer{{Host: host, Port: uint16(pn)}}
	mustApply(t, d, des) // adds the cache
	// Reconciles come by until the cache's data is in and the routes are
	// validated again.
	// (The counts of State would say 2 of 3 either way: gobgpd's listing
	// of the adj-rib-in with filtered paths runs the import policy again;
	// the RIB is what forwards.)
	waitRoutes(t, "the invalid route gone from the RIB", func(ctx context.Context) ([]bgptest.Route, error) {
		mustApply(t, d, des)
		return rs.RIB(ctx, 4)
	}, func(rr []bgptest.Route) bool {
		return slices.Equal(sortedPrefixes(rr), []string{"10.30.0.0/24", "10.40.1.0/24"})
	})
	applyNoWrites(t, d, des)
}
