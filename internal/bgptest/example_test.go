package bgptest_test

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/peering-operator/peering-operator/internal/bgptest"
)

// A route server and two peers on loopback, as `make dev` runs them. The
// route server's neighbors are configured by the operator (the gobgp
// driver, with Options{Address: rs.GRPCAddr(), RouteServer: true,
// Passive: true}); until then the peers retry every second.
func Example() {
	ctx := context.Background()
	rs, err := bgptest.Start(ctx, bgptest.Config{Name: "rs", ASN: 64500, ListenAddr: netip.MustParseAddr("127.0.0.1")})
	if err != nil {
		panic(err)
	}
	defer rs.Stop()
	for i, asn := range []uint32{64501, 64502} {
		p, err := bgptest.StartPeerProcess(ctx, bgptest.PeerConfig{
			Addr:        netip.AddrFrom4([4]byte{127, 0, 0, byte(2 + i)}),
			ASN:         asn,
			RouteServer: rs.Endpoint(),
			Routes:      []bgptest.Route{{Prefix: netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i), 0, 0}), 24)}},
		})
		if err != nil {
			panic(err)
		}
		defer p.Stop()
		fmt.Println("peer", p.Config.ListenAddr, "pid", p.PID(), "api", p.GRPCAddr())
	}
	fmt.Println("route server api", rs.GRPCAddr(), "bgp", rs.BGPAddr())
}
