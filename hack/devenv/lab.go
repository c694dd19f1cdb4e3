package main

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/peering-operator/peering-operator/internal/bgptest"
	"github.com/peering-operator/peering-operator/internal/frrtest"
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

// labPrefix is what the lab's FRR router announces to its peer
// (TEST-NET-3, documentation space).
var labPrefix = netip.MustParsePrefix("203.0.113.0/24")

// frrManifests are the objects of the FRR lab: the router's SSH Secret,
// the Router, its IXPort on the FRR lab IX and a request for DENIC.
const frrManifests = `apiVersion: v1
kind: Secret
metadata:
  name: frr1-ssh
  namespace: default
stringData:
  username: %q
  password: %q
  known_hosts: %q
---
apiVersion: peering.dev/v1alpha1
kind: Router
metadata:
  name: frr1
spec:
  driver: frr
  address: %q
  port: %d
  localASN: 64500
  routerID: %q
  credentialsSecretRef: {namespace: default, name: frr1-ssh}
  # What frr1 announces to its peers (it originates it: labPrefix).
  announce: {prefixes: [203.0.113.0/24]}
---
apiVersion: peering.dev/v1alpha1
kind: IXPort
metadata:
  name: frr-lab
spec:
  ix: {peeringdbID: %d}
  routerRef: {name: frr1}
  ipv4Address: 192.0.2.1/24
  peerDefaults: {irrSources: [RIPE, RADB, ARIN]}
---
apiVersion: peering.dev/v1alpha1
kind: PeeringRequest
metadata:
  name: as8763-frr-lab
  namespace: default
spec:
  peerASN: 8763
  ixPortRef: {name: frr-lab}
  description: DENIC eG (FRR lab)
---
# The lab IX's route server (AS6695 in PeeringDB, a GoBGP route server on
# the LAN relaying two members): as kubectl peering new --route-servers
# writes it.
apiVersion: peering.dev/v1alpha1
kind: PeeringRequest
metadata:
  name: as6695-frr-lab
  namespace: default
spec:
  peerASN: 6695
  ixPortRef: {name: frr-lab}
  description: Lab IX route server
  routeServer: true
`

// labMembers are the route server's members on the FRR lab LAN and what
// they announce (the last of the first is a bogon the route-server
// session refuses).
var labMembers = []struct {
	addr   netip.Addr
	asn    uint32
	routes []string
}{
	{netip.MustParseAddr("192.0.2.30"), 3900000001, []string{"31.0.1.0/24", "10.99.0.0/24"}},
	{netip.MustParseAddr("192.0.2.31"), 3900000002, []string{"31.0.2.0/24"}},
}

// startIXRouteServer runs the FRR lab IX's route server (gobgpd in the
// LAN's namespace, dialing frr1) and its members; it returns the stops.
func startIXRouteServer(ctx context.Context, r *frrtest.Router) ([]func() error, error) {
	var stops []func() error
	fail := func(err error) ([]func() error, error) {
		for i := len(stops) - 1; i >= 0; i-- {
			_ = stops[i]()
		}
		return nil, err
	}
	for _, a := range []netip.Addr{pdbtest.FRRLabRouteServer.Addr, labMembers[0].addr, labMembers[1].addr} {
		if err := r.AddPeerAddress(a); err != nil {
			return nil, err
		}
	}
	for _, d := range []string{"ix-rs", fmt.Sprintf("as%d", labMembers[0].asn), fmt.Sprintf("as%d", labMembers[1].asn)} {
		if err := os.MkdirAll(filepath.Join(r.Dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	rs, err := bgptest.Start(ctx, bgptest.Config{Name: "ix-rs", ASN: pdbtest.FRRLabRouteServer.ASN, ListenAddr: pdbtest.FRRLabRouteServer.Addr,
		Netns: r.NSPeers, Dir: filepath.Join(r.Dir, "ix-rs")})
	if err != nil {
		return fail(fmt.Errorf("IX route server: %w", err))
	}
	stops = append(stops, rs.Stop)
	if err := rs.AddNeighbor(ctx, bgptest.Neighbor{Address: frrtest.RouterV4, ASN: 64500, RouteServerClient: true}); err != nil {
		return fail(err)
	}
	for _, m := range labMembers {
		if err := rs.AddNeighbor(ctx, bgptest.Neighbor{Address: m.addr, ASN: m.asn, Passive: true, RouteServerClient: true}); err != nil {
			return fail(err)
		}
		var routes []bgptest.Route
		for _, p := range m.routes {
			routes = append(routes, bgptest.Route{Prefix: netip.MustParsePrefix(p)})
		}
		peer, err := bgptest.StartPeerProcess(ctx, bgptest.PeerConfig{Name: fmt.Sprintf("as%d", m.asn), Addr: m.addr, ASN: m.asn,
			RouteServer: rs.Endpoint(), Routes: routes, Netns: r.NSPeers, Dir: filepath.Join(r.Dir, fmt.Sprintf("as%d", m.asn))})
		if err != nil {
			return fail(fmt.Errorf("route-server member AS%d: %w", m.asn, err))
		}
		stops = append(stops, peer.Stop)
	}
	return stops, nil
}

// startFRRLab runs FRR with sshd in network namespaces and one FRR peer
// (DENIC) on their LAN, when this machine can (root, FRR, sshd). It returns
// the manifests to apply and a stop function; nil, "" with the reason
// printed when it cannot.
func startFRRLab(ctx context.Context) (func(), string) {
	if err := frrtest.Prerequisites(); err != nil {
		fmt.Println("    (no FRR router: " + err.Error() + ")")
		return nil, ""
	}
	// The router originates the lab prefix it announces (Router
	// spec.announce), from a blackhole route.
	r, err := frrtest.Start(ctx, frrtest.Options{LocalASN: 64500, BGPConfig: []string{
		"address-family ipv4 unicast", "network " + labPrefix.String(), "exit-address-family"}})
	if err != nil {
		fmt.Println("    (no FRR router: " + err.Error() + ")")
		return nil, ""
	}
	if err := r.Blackhole(labPrefix); err != nil {
		_ = r.Stop()
		fmt.Println("    (no FRR router: " + err.Error() + ")")
		return nil, ""
	}
	var routes []netip.Prefix
	for _, p := range labRoutes[pdbtest.FRRLabPeer.ASN] {
		routes = append(routes, netip.MustParsePrefix(p))
	}
	peer, err := r.StartPeer(pdbtest.FRRLabPeer.ASN, pdbtest.FRRLabPeer.Addr, routes...)
	if err != nil {
		_ = r.Stop()
		fmt.Println("    (no FRR router: " + err.Error() + ")")
		return nil, ""
	}
	rsStops, err := startIXRouteServer(ctx, r)
	if err != nil {
		peer.Stop()
		_ = r.Stop()
		fmt.Println("    (no FRR router: " + err.Error() + ")")
		return nil, ""
	}
	stop := func() {
		for i := len(rsStops) - 1; i >= 0; i-- {
			_ = rsStops[i]()
		}
		peer.Stop()
		_ = r.Stop()
	}
	return stop, fmt.Sprintf(frrManifests, r.User, r.Password, string(r.KnownHosts), r.Host, r.Port, r.RouterID.String(), pdbtest.FRRLabIXID)
}
