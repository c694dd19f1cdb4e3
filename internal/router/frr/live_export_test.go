package frr

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/peering-operator/peering-operator/internal/frrtest"
	"github.com/peering-operator/peering-operator/internal/router"
)

// Prefixes of the export test: ours (one exported, one not) and one per
// peer.
var (
	ourExported = pfx("203.0.113.0/25")
	ourKept     = pfx("203.0.113.128/25")
	exportPeers = []exportPeer{
		{64601, addr("192.0.2.2"), pfx("198.18.1.0/24"), router.LearnedPeer},
		{64602, addr("192.0.2.3"), pfx("198.18.2.0/24"), router.LearnedPeer},
		{64603, addr("192.0.2.4"), pfx("198.18.3.0/24"), router.LearnedRouteServer},
	}
)

type exportPeer struct {
	asn     uint32
	addr    netip.Addr
	prefix  netip.Prefix
	learned router.LearnedFrom
}

const liveIXID = 90003

// Our router originates two prefixes and exports one to three peers, with
// FRR's default ebgp-requires-policy (nothing exported without a policy)
// and without it (everything exported without a policy: the leak this
// fixes). Each peer's own RIB must hold exactly our exported prefix
// besides its own: no other peer's route, though every export list also
// permits the peers' prefixes, so only the learned community keeps them
// out (and one peer tags its routes with a smaller large community, which
// sorts before ours). An empty export list then leaves a peer with
// nothing; a peer whose routes lose the community reaches the others.
func TestLiveExport(t *testing.T) {
	for _, c := range []struct {
		name string
		bgp  []string
	}{
		{"no-ebgp-requires-policy", []string{"no bgp ebgp-requires-policy"}},
		{"ebgp-requires-policy", nil},
	} {
		t.Run(c.name, func(t *testing.T) { liveExport(t, c.bgp) })
	}
}

func liveExport(t *testing.T, bgp []string) {
	bgp = append(slices.Clone(bgp), "address-family ipv4 unicast", "network "+ourExported.String(), "network "+ourKept.String(), "exit-address-family")
	r := frrtest.StartFRR(t, frrtest.Options{BGPConfig: bgp})
	if err := r.Blackhole(ourExported, ourKept); err != nil {
		t.Fatal(err)
	}
	peers := map[netip.Addr]*frrtest.Peer{}
	var ns []router.Neighbor
	for i, p := range exportPeers {
		pe, err := r.StartPeer(p.asn, p.addr, p.prefix)
		if err != nil {
			t.Fatal(err)
		}
		peers[p.addr] = pe
		ns = append(ns, router.Neighbor{Address: p.addr, PeerASN: p.asn, Owner: fmt.Sprintf("p/%d", p.asn), MaxPrefixes: 100,
			Import: []router.Entry{{Prefix: p.prefix, Exact: true}}, EnforceFirstAS: i < 2,
			Export:  []router.Entry{{Prefix: ourExported, Exact: true}, {Prefix: pfx("198.18.0.0/16"), GE: 24, LE: 24}},
			Learned: p.learned, IXID: liveIXID})
	}
	if _, err := peers[exportPeers[0].addr].Vtysh("configure terminal", "route-map TAG permit 10", "set large-community 1:2:3", "exit",
		"router bgp 64601", "address-family ipv4 unicast", "neighbor 192.0.2.1 route-map TAG out"); err != nil {
		t.Fatal(err)
	}
	d := New(liveConfig(r, true))
	defer d.Close()
	ctx := context.Background()
	des := desired(ns...)
	if res, err := d.Apply(ctx, des); err != nil || res.Added != 3 {
		t.Fatalf("%+v %v", res, err)
	}

	// The router has every route, the peers' tagged.
	for _, n := range ns {
		eventually(t, 60*time.Second, func() string {
			s, msg := stateOf(t, d, n.Address)
			if msg == "" && (s.State != "Established" || s.Accepted != 1) {
				msg = fmt.Sprintf("%+v", s)
			}
			return msg
		})
	}
	eventually(t, 30*time.Second, func() string {
		for _, p := range []netip.Prefix{ourExported, ourKept} {
			if ok, _ := routeOf(t, r, p); !ok {
				return fmt.Sprintf("router does not originate %s", p)
			}
		}
		for _, p := range exportPeers {
			want := router.LearnedCommunity(65000, p.learned, liveIXID)
			if p.addr == exportPeers[0].addr {
				want = "1:2:3 " + want
			}
			if ok, got := routeOf(t, r, p.prefix); !ok || got != want {
				return fmt.Sprintf("%s: present %v, large communities %q, want %q", p.prefix, ok, got, want)
			}
		}
		return ""
	})

	// receives waits until the peer at a has exactly want from us, as its
	// own RIB and the router's Adj-RIB-Out say.
	receives := func(a netip.Addr, want ...netip.Prefix) {
		t.Helper()
		eventually(t, 60*time.Second, func() string {
			got, err := peers[a].Routes()
			if err != nil {
				return err.Error()
			}
			got = slices.DeleteFunc(got, func(p netip.Prefix) bool { return p == exportPeerOf(a).prefix })
			if !slices.Equal(got, want) {
				return fmt.Sprintf("peer %s has %v from us, want %v", a, got, want)
			}
			if adv := advertised(t, r, a); !slices.Equal(adv, want) {
				return fmt.Sprintf("router advertises %v to %s, want %v", adv, a, want)
			}
			return ""
		})
	}
	for _, p := range exportPeers {
		receives(p.addr, ourExported)
	}
	// Converged: nothing to write.
	if res, err := d.Apply(ctx, des); err != nil || res.Changed() {
		t.Fatalf("second apply: %+v %v", res, err)
	}

	// Empty export: that peer gets nothing, the others keep theirs.
	des.Neighbors[1].Export = nil
	if res, err := d.Apply(ctx, des); err != nil || res.Updated != 1 {
		t.Fatalf("empty export: %+v %v", res, err)
	}
	receives(exportPeers[1].addr)
	receives(exportPeers[0].addr, ourExported)
	receives(exportPeers[2].addr, ourExported)

	// A new IX id replaces the community in place (the apply checks the
	// router's read-back); routes without it are exported like ours: the
	// community, not the prefix-list, kept them in.
	des.Neighbors[0].IXID = liveIXID + 1
	if res, err := d.Apply(ctx, des); err != nil || res.Updated != 1 {
		t.Fatalf("IX id: %+v %v", res, err)
	}
	des.Neighbors[0].Learned = router.LearnedNone
	if res, err := d.Apply(ctx, des); err != nil || res.Updated != 1 {
		t.Fatalf("no community: %+v %v", res, err)
	}
	receives(exportPeers[2].addr, exportPeers[0].prefix, ourExported)
	receives(exportPeers[1].addr)

	// A peer that becomes a route-server client loses our out policy, as
	// the router says after the apply's own read-back.
	des.Neighbors[1].RouteServerClient = true
	if res, err := d.Apply(ctx, des); err != nil || res.Updated != 1 {
		t.Fatalf("route-server client: %+v %v", res, err)
	}
	if run := vtysh(t, r, "show running-config"); strings.Contains(run, "PO-OUT-192.0.2.3") || !strings.Contains(run, "PO-OUT-192.0.2.4") {
		t.Errorf("out policy not dropped:\n%s", run)
	}
}

func exportPeerOf(a netip.Addr) exportPeer {
	for _, p := range exportPeers {
		if p.addr == a {
			return p
		}
	}
	return exportPeer{}
}

// routeOf reports whether the router has a valid path to p, and the
// large communities of the first.
func routeOf(t *testing.T, r *frrtest.Router, p netip.Prefix) (bool, string) {
	t.Helper()
	var route struct {
		Paths []struct {
			Valid          bool `json:"valid"`
			LargeCommunity struct {
				String string `json:"string"`
			} `json:"largeCommunity"`
		} `json:"paths"`
	}
	out := vtysh(t, r, "show bgp ipv4 unicast "+p.String()+" json")
	if err := json.Unmarshal([]byte(out), &route); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	for _, x := range route.Paths {
		if x.Valid {
			return true, x.LargeCommunity.String
		}
	}
	return false, ""
}

// advertised is the router's Adj-RIB-Out towards a, sorted.
func advertised(t *testing.T, r *frrtest.Router, a netip.Addr) []netip.Prefix {
	t.Helper()
	var adv struct {
		Routes map[string]json.RawMessage `json:"advertisedRoutes"`
	}
	out := vtysh(t, r, "show bgp ipv4 unicast neighbors "+a.String()+" advertised-routes json")
	if err := json.Unmarshal([]byte(out), &adv); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	var ps []netip.Prefix
	for k := range adv.Routes {
		ps = append(ps, pfx(k))
	}
	slices.SortFunc(ps, func(a, b netip.Prefix) int { return a.Addr().Compare(b.Addr()) })
	return ps
}
