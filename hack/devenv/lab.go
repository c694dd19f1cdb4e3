package main

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/peering-operator/peering-operator/internal/bgptest"
	"github.com/peering-operator/peering-operator/internal/peeringdb/pdbtest"
)

// labRoutes are what each lab peer announces: routes of its AS-SET in the
// IRR fixture (accepted) and 11.99.x.0/24, which is in no filter (rejected
// by the route server).
var labRoutes = map[uint32][]string{
	8763: {"4.44.128.0/18", "129.71.70.0/24", "11.99.1.0/24"},
	6939: {"216.218.128.0/17", "184.104.0.0/15", "11.99.2.0/24"},
	8560: {"29.6.64.0/24", "204.58.196.0/22", "11.99.3.0/24"},
}

// startLab runs the route server of config/samples/router_rs1.yaml and one
// GoBGP peer per lab IX port; the returned func stops them all.
func startLab(ctx context.Context, dir string) (func(), error) {
	sctx, cancel := context.WithTimeout(ctx, 5*time.Minute) // includes building gobgpd the first time
	defer cancel()
	for _, d := range []string{"rs1", "peer-as8763", "peer-as6939", "peer-as8560"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	rs, err := bgptest.Start(sctx, bgptest.Config{Name: "rs1", ASN: 64500, ListenAddr: netip.MustParseAddr("127.0.0.1"),
		RouterID: netip.MustParseAddr("192.0.2.1"), BGPPort: 1179, GRPCPort: 50051, Dir: filepath.Join(dir, "rs1")})
	if err != nil {
		return nil, fmt.Errorf("failed to start the GoBGP route server (is port 50051 or 1179 in use?): %w", err)
	}
	stops := []func() error{rs.Stop}
	stopAll := func() {
		for i := len(stops) - 1; i >= 0; i-- {
			_ = stops[i]()
		}
	}
	for _, p := range pdbtest.LabPorts {
		var routes []bgptest.Route
		for _, r := range labRoutes[p.ASN] {
			routes = append(routes, bgptest.Route{Prefix: netip.MustParsePrefix(r)})
		}
		peer, err := bgptest.StartPeerProcess(sctx, bgptest.PeerConfig{Name: fmt.Sprintf("as%d", p.ASN), Addr: p.Addr, ASN: p.ASN,
			RouteServer: rs.Endpoint(), Routes: routes, Dir: filepath.Join(dir, fmt.Sprintf("peer-as%d", p.ASN))})
		if err != nil {
			stopAll()
			return nil, fmt.Errorf("failed to start the lab peer AS%d: %w", p.ASN, err)
		}
		stops = append(stops, peer.Stop)
	}
	return stopAll, nil
}
