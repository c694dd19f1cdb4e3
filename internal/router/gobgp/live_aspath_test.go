package gobgp

// Live tests of the AS path checks (RejectBogonASNs, EnforceFirstAS)
// against real gobgpd processes on loopback, in both driver modes.

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	"google.golang.org/grpc"

	"github.com/peering-operator/peering-operator/internal/bgptest"
	"github.com/peering-operator/peering-operator/internal/policy"
	"github.com/peering-operator/peering-operator/internal/router"
)

var addrX = ip("127.0.0.5") // a speaker behind a transparent route server

// liveMode is one way the driver runs: route-server clients that dial the
// route server, or ordinary peers that the route server dials on port.
type liveMode struct {
	name string
	o    Options
	port int // ordinary: every peer listens on it
}

func liveModes(t *testing.T) []liveMode {
	port, err := bgptest.FreePort(addrA, addrB)
	if err != nil {
		t.Fatal(err)
	}
	return []liveMode{
		{name: "routeserver", o: Options{RouteServer: true, Passive: true}},
		{name: "ordinary", o: Options{PeerPort: uint16(port), ConnectRetry: time.Second}, port: port},
	}
}

// peer starts an ordinary peer of the route server for mode lm.
func (lm liveMode) peer(t *testing.T, rs *bgptest.Speaker, a netip.Addr, asn uint32, routes ...bgptest.Route) *bgptest.Speaker {
	return bgptest.StartPeer(t, bgptest.PeerConfig{Addr: a, ASN: asn, BGPPort: lm.port, Passive: lm.port != 0, RouteServer: rs.Endpoint(), Routes: routes})
}

func pathRoute(p string, asPath ...uint32) bgptest.Route {
	return bgptest.Route{Prefix: pp(p), ASPath: asPath}
}

// writesOf applies des and returns the result and how many writes it took.
func writesOf(t *testing.T, d *Driver, des router.Desired) (router.ApplyResult, uint64) {
	t.Helper()
	before := d.Writes()
	res := mustApply(t, d, des)
	return res, d.Writes() - before
}

// filteredOn lists what the route server holds from a, split into
// accepted and rejected prefixes, once it holds n paths.
func filteredOn(t *testing.T, rs *bgptest.Speaker, a netip.Addr, n int) (accepted, rejected []string, paths map[string][]uint32) {
	t.Helper()
	in := waitRoutes(t, fmt.Sprintf("%d paths from %s", n, a), func(ctx context.Context) ([]bgptest.Route, error) { return rs.Received(ctx, a) },
		func(r []bgptest.Route) bool { return len(r) == n })
	paths = map[string][]uint32{}
	for _, r := range in {
		paths[r.Prefix.String()] = r.ASPath
	}
	return prefixesOf(in, false), prefixesOf(in, true), paths
}

func asPathSetOn(t *testing.T, rs *bgptest.Speaker, name string) []string {
	t.Helper()
	sets, err := recvAll(rs.API.ListDefinedSet(testCtx(t), &api.ListDefinedSetRequest{DefinedType: api.DefinedType_AS_PATH, Name: name}))
	if err != nil || len(sets) != 1 {
		t.Fatalf("AS path set %s: %v %v", name, sets, err)
	}
	return sets[0].DefinedSet.List
}

// TestRejectBogonASNs: A checks for bogon ASNs and announces paths with
// and without them (the edges of the ranges, and numbers that only
// contain a bogon's digits); the route server rejects exactly the bogon
// ones. B, which does not check, gets a bogon path through. Turning the
// check off and on again converges with a set edit and a soft reset.
func TestRejectBogonASNs(t *testing.T) {
	for _, lm := range liveModes(t) {
		t.Run(lm.name, func(t *testing.T) {
			rs := startRS(t)
			d := newDriver(t, rs, lm.o)
			nA := router.Neighbor{Address: addrA, PeerASN: 64001, Owner: "peering/a", RejectBogonASNs: true, Import: []router.Entry{upto("10.1.0.0/16", 16, 24)}}
			nB := router.Neighbor{Address: addrB, PeerASN: 64002, Owner: "peering/b", Import: []router.Entry{upto("10.2.0.0/16", 16, 24)}}
			des := desired(nA, nB)
			mustApply(t, d, des)
			if got := asPathSetOn(t, rs, bogonASNSet); !slices.Equal(got, bogonASNPatterns) {
				t.Errorf("gobgpd lists %s as %q, want %q", bogonASNSet, got, bogonASNPatterns)
			}
			applyNoWrites(t, d, des)

			// GoBGP prepends 64001: every path starts with it.
			bogons := map[string]bool{
				"10.1.1.0/24":  false, // 64001
				"10.1.2.0/24":  true,  // 64001 64512
				"10.1.3.0/24":  true,  // 64001 4200000000
				"10.1.4.0/24":  false, // 64001 64495
				"10.1.5.0/24":  false, // 64001 131072
				"10.1.6.0/24":  true,  // 64001 3356 23456 1299
				"10.1.7.0/24":  false, // 64001 645120 164512 23455
				"10.1.8.0/24":  true,  // 64001 131071
				"10.1.9.0/24":  true,  // 64001 4294967295
				"10.1.10.0/24": false, // 64001 4199999999
				"10.1.11.0/24": true,  // 64001 0 (GoBGP passes AS 0 on)
			}
			lm.peer(t, rs, addrA, 64001,
				pathRoute("10.1.1.0/24"), pathRoute("10.1.2.0/24", 64512), pathRoute("10.1.3.0/24", 4200000000),
				pathRoute("10.1.4.0/24", 64495), pathRoute("10.1.5.0/24", 131072), pathRoute("10.1.6.0/24", 3356, 23456, 1299),
				pathRoute("10.1.7.0/24", 645120, 164512, 23455), pathRoute("10.1.8.0/24", 131071), pathRoute("10.1.9.0/24", 4294967295),
				pathRoute("10.1.10.0/24", 4199999999), pathRoute("10.1.11.0/24", 0))
			lm.peer(t, rs, addrB, 64002, pathRoute("10.2.1.0/24", 64512))
			waitState(t, d, addrA, "5 of 11 accepted", func(s router.NeighborState) bool { return established(s) && s.Received == 11 && s.Accepted == 5 })
			waitState(t, d, addrB, "1 of 1 accepted", func(s router.NeighborState) bool { return established(s) && s.Accepted == 1 })
			acc, rej, paths := filteredOn(t, rs, addrA, 11)
			for p, bogon := range bogons {
				if slices.Contains(rej, p) != bogon || slices.Contains(acc, p) == bogon {
					t.Errorf("%s (AS path %v): rejected=%t, want %t", p, paths[p], slices.Contains(rej, p), bogon)
				}
			}
			if got := paths["10.1.2.0/24"]; !slices.Equal(got, []uint32{64001, 64512}) {
				t.Errorf("AS path on the route server %v, want [64001 64512]", got)
			}
			applyNoWrites(t, d, des)

			// Off: one entry out of the switch, one soft reset.
			nA.RejectBogonASNs = false
			if res, w := writesOf(t, d, desired(nA, nB)); res.Updated != 1 || w != 2 {
				t.Errorf("check off: %+v in %d writes, want 1 update in 2", res, w)
			}
			waitState(t, d, addrA, "11 of 11 accepted", func(s router.NeighborState) bool { return s.Accepted == 11 })
			applyNoWrites(t, d, desired(nA, nB))
			nA.RejectBogonASNs = true
			if res, w := writesOf(t, d, desired(nA, nB)); res.Updated != 1 || w != 2 {
				t.Errorf("check on: %+v in %d writes, want 1 update in 2", res, w)
			}
			waitState(t, d, addrA, "5 of 11 accepted again", func(s router.NeighborState) bool { return s.Accepted == 5 })
			applyNoWrites(t, d, desired(nA, nB))

			// The shared set replaced by hand with one without the 16-bit
			// private range (as an older bogon list would differ): Apply
			// restores it and soft-resets only A, the neighbor that checks.
			ctx := testCtx(t)
			older := asnRangePattern(slices.DeleteFunc(policy.BogonASNRanges(), func(r policy.ASNRange) bool { return r.From == 64512 }))
			if _, err := rs.API.AddDefinedSet(ctx, &api.AddDefinedSetRequest{DefinedSet: asPathSet(bogonASNSet, []string{older})}); err != nil {
				t.Fatal(err)
			}
			if _, err := rs.API.DeleteDefinedSet(ctx, &api.DeleteDefinedSetRequest{DefinedSet: asPathSet(bogonASNSet, bogonASNPatterns)}); err != nil {
				t.Fatal(err)
			}
			if _, err := rs.API.ResetPeer(ctx, &api.ResetPeerRequest{Address: addrA.String(), Soft: true, Direction: api.ResetPeerRequest_IN}); err != nil {
				t.Fatal(err)
			}
			waitState(t, d, addrA, "6 of 11 accepted without 64512-65534", func(s router.NeighborState) bool { return s.Accepted == 6 })
			if res, w := writesOf(t, d, desired(nA, nB)); res.Updated != 1 || w != 3 {
				t.Errorf("repair: %+v in %d writes, want 1 update (A) in 3", res, w)
			}
			if got := asPathSetOn(t, rs, bogonASNSet); !slices.Equal(got, bogonASNPatterns) {
				t.Errorf("after the repair gobgpd lists %q", got)
			}
			waitState(t, d, addrA, "5 of 11 accepted after the repair", func(s router.NeighborState) bool { return s.Accepted == 5 })
			applyNoWrites(t, d, desired(nA, nB))
		})
	}
}

// startTransparentRS starts a GoBGP route server in AS asn on addr whose
// clients are our route server and a speaker on addrX in AS 64010 that
// announces routes. It relays X's paths to us without prepending its AS,
// as an IX route server does: they reach us from asn but start with
// 64010. (GoBGP sends route-server clients nothing it originates itself.)
func startTransparentRS(t *testing.T, lm liveMode, rs *bgptest.Speaker, addr netip.Addr, asn uint32, routes ...bgptest.Route) {
	t.Helper()
	ctx := testCtx(t)
	trs := bgptest.StartGoBGPD(t, bgptest.Config{Name: "transparent-rs", ASN: asn, ListenAddr: addr, BGPPort: lm.port})
	x := bgptest.StartGoBGPD(t, bgptest.Config{Name: "x", ASN: 64010, ListenAddr: addrX})
	if err := trs.AddNeighbor(ctx, bgptest.Neighbor{Address: rs.Config.ListenAddr, ASN: rs.Config.ASN, RemotePort: rs.Config.BGPPort,
		RouteServerClient: true, Passive: lm.port != 0}); err != nil {
		t.Fatal(err)
	}
	if err := trs.AddNeighbor(ctx, bgptest.Neighbor{Address: addrX, ASN: 64010, RemotePort: x.Config.BGPPort, RouteServerClient: true, Passive: true}); err != nil {
		t.Fatal(err)
	}
	if err := x.AddNeighbor(ctx, bgptest.Neighbor{Address: addr, ASN: asn, RemotePort: trs.Config.BGPPort}); err != nil {
		t.Fatal(err)
	}
	if err := x.Announce(ctx, routes...); err != nil {
		t.Fatal(err)
	}
	if err := trs.WaitEstablished(ctx, addrX); err != nil {
		t.Fatal(err)
	}
}

// TestEnforceFirstAS: A is a transparent route server, so the path it
// relays starts with the AS behind it, not with A's; with EnforceFirstAS
// the route server rejects it, while B's own route (its AS first) passes.
// Off and on again converge in place; a new peer AS changes the set.
func TestEnforceFirstAS(t *testing.T) {
	for _, lm := range liveModes(t) {
		t.Run(lm.name, func(t *testing.T) {
			rs := startRS(t)
			d := newDriver(t, rs, lm.o)
			nA := router.Neighbor{Address: addrA, PeerASN: 64001, Owner: "peering/a", EnforceFirstAS: true, Import: []router.Entry{upto("10.0.0.0/8", 8, 24)}}
			nB := router.Neighbor{Address: addrB, PeerASN: 64002, Owner: "peering/b", EnforceFirstAS: true, Import: []router.Entry{upto("10.0.0.0/8", 8, 24)}}
			des := desired(nA, nB)
			mustApply(t, d, des)
			if got := asPathSetOn(t, rs, firstASSetName(neighborID(addrA))); !slices.Equal(got, []string{"^64001_"}) {
				t.Errorf("first-AS set of A on gobgpd: %q", got)
			}
			applyNoWrites(t, d, des)
			startTransparentRS(t, lm, rs, addrA, 64001, route("10.10.1.0/24"))
			lm.peer(t, rs, addrB, 64002, route("10.20.1.0/24"))

			waitState(t, d, addrA, "0 of 1 accepted", func(s router.NeighborState) bool { return established(s) && s.Received == 1 && s.Accepted == 0 })
			waitState(t, d, addrB, "1 of 1 accepted", func(s router.NeighborState) bool { return established(s) && s.Received == 1 && s.Accepted == 1 })
			_, rej, paths := filteredOn(t, rs, addrA, 1)
			if !slices.Equal(rej, []string{"10.10.1.0/24"}) || !slices.Equal(paths["10.10.1.0/24"], []uint32{64010}) {
				t.Fatalf("from A: rejected %v, paths %v; want 10.10.1.0/24 with AS path [64010] rejected", rej, paths)
			}
			applyNoWrites(t, d, des)

			// Off: ".*" replaces "^64001_" (removed first: in between the
			// empty inverted set rejects everything), then a soft reset.
			nA.EnforceFirstAS = false
			if res, w := writesOf(t, d, desired(nA, nB)); res.Updated != 1 || w != 3 {
				t.Errorf("check off: %+v in %d writes, want 1 update in 3", res, w)
			}
			waitState(t, d, addrA, "1 of 1 accepted", func(s router.NeighborState) bool { return s.Accepted == 1 })
			// ... and goes on towards B.
			towardsB := func(ctx context.Context) ([]bgptest.Route, error) {
				if lm.port == 0 {
					return rs.ClientRIB(ctx, addrB)
				}
				return rs.RIB(ctx, 4)
			}
			waitRoutes(t, "the relayed route towards B", towardsB, func(rr []bgptest.Route) bool { return slices.Contains(prefixesOf(rr, false), "10.10.1.0/24") })
			applyNoWrites(t, d, desired(nA, nB))
			nA.EnforceFirstAS = true
			if res, w := writesOf(t, d, desired(nA, nB)); res.Updated != 1 || w != 3 {
				t.Errorf("check on: %+v in %d writes, want 1 update in 3", res, w)
			}
			waitState(t, d, addrA, "0 of 1 accepted again", func(s router.NeighborState) bool { return s.Accepted == 0 })
			applyNoWrites(t, d, desired(nA, nB))

			// Another peer AS: the set follows (the session itself fails:
			// the transparent route server is AS 64001).
			nA.PeerASN = 64099
			mustApply(t, d, desired(nA, nB))
			if got := asPathSetOn(t, rs, firstASSetName(neighborID(addrA))); !slices.Equal(got, []string{"^64099_"}) {
				t.Errorf("first-AS set after the AS change: %q", got)
			}
			applyNoWrites(t, d, desired(nA, nB))
			// Removing A removes its sets; B keeps the shared one.
			mustApply(t, d, desired(nB))
			if left := objectsOf(t, d, neighborID(addrA)); len(left) != 0 {
				t.Errorf("A's objects left: %v", left)
			}
			asPathSetOn(t, rs, bogonASNSet)
			applyNoWrites(t, d, desired(nB))
		})
	}
}

// TestBogonSetKeptForHandmadePolicy: the shared bogon ASN set goes with
// the last neighbor, unless a policy configured by hand uses it.
func TestBogonSetKeptForHandmadePolicy(t *testing.T) {
	rs := startRS(t)
	ctx := testCtx(t)
	d := newDriver(t, rs, Options{RouteServer: true, Passive: true})
	nA := router.Neighbor{Address: addrA, PeerASN: 64001, Owner: "peering/a", RejectBogonASNs: true}
	mustApply(t, d, desired(nA))
	if _, err := rs.API.AddPolicy(ctx, &api.AddPolicyRequest{Policy: &api.Policy{Name: "handmade-bogons", Statements: []*api.Statement{{
		Name: "handmade-bogons-stmt", Conditions: &api.Conditions{AsPathSet: &api.MatchSet{Name: bogonASNSet}}, Actions: &api.Actions{RouteAction: api.RouteAction_REJECT},
	}}}}); err != nil {
		t.Fatal(err)
	}
	mustApply(t, d, desired())
	if left := objectsOf(t, d, neighborID(addrA)); len(left) != 0 {
		t.Errorf("A's objects left: %v", left)
	}
	asPathSetOn(t, rs, bogonASNSet)
	applyNoWrites(t, d, desired())
	// Back in use by the driver, and then not, once the policy is gone.
	mustApply(t, d, desired(nA))
	applyNoWrites(t, d, desired(nA))
	if _, err := rs.API.DeletePolicy(ctx, &api.DeletePolicyRequest{Policy: &api.Policy{Name: "handmade-bogons"}, All: true}); err != nil {
		t.Fatal(err)
	}
	mustApply(t, d, desired())
	if r, _ := d.readRunning(ctx); len(r.asPathSets) != 0 {
		t.Errorf("AS path sets left: %v", r.asPathSets)
	}
}

// TestFailedFirstApplyRollsBack fails each write of a first Apply (which
// also creates the shared bogon ASN set) in turn: nothing of the driver's
// is left on gobgpd afterwards.
func TestFailedFirstApplyRollsBack(t *testing.T) {
	rs := startRS(t)
	f := &faults{}
	d := newDriver(t, rs, Options{Passive: true, Interceptors: []grpc.UnaryClientInterceptor{f.intercept}})
	des := desired(
		router.Neighbor{Address: addrA, PeerASN: 64001, Owner: "peering/a", RejectBogonASNs: true, EnforceFirstAS: true, Import: []router.Entry{exact("10.1.0.0/24")}},
		router.Neighbor{Address: addrB, PeerASN: 64002, Owner: "peering/b", Import: []router.Entry{exact("10.2.0.0/24")}},
	)
	ctx := testCtx(t)
	for n := 1; ; n++ {
		f.arm(n, n%2 == 0)
		_, err := d.Apply(ctx, des)
		f.arm(0, false)
		if err == nil {
			t.Logf("the first Apply takes %d writes; each one failed in turn was rolled back", n-1)
			applyNoWrites(t, d, des)
			return
		}
		if !strings.Contains(err.Error(), "rolled back") {
			t.Fatalf("write %d: %v", n, err)
		}
		r, err := d.readRunning(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var left []string
		for _, m := range []map[string]*api.DefinedSet{r.prefixSets, r.nbSets, r.asPathSets} {
			for name := range m {
				left = append(left, name)
			}
		}
		for name := range r.policies {
			left = append(left, name)
		}
		for name := range r.statements {
			left = append(left, name)
		}
		for _, p := range r.globalImport.GetPolicies() {
			left = append(left, "global-import "+p.Name)
		}
		if len(r.peers) != 0 || len(left) != 0 {
			t.Fatalf("write %d failed and left %d neighbors and %v", n, len(r.peers), left)
		}
	}
}

// TestGoBGPASPathListing documents how gobgpd lists AS_PATH set entries
// back, which the driver compares: a regular expression with "_" comes
// back rewritten (so the driver's patterns avoid "_"), GoBGP's numeric
// forms ("^N_") and other expressions come back as written.
func TestGoBGPASPathListing(t *testing.T) {
	rs := startRS(t)
	ctx := testCtx(t)
	in := []string{"^64001_", "_6451[2-9]_", `\b64512\b`, ".*"}
	if _, err := rs.API.AddDefinedSet(ctx, &api.AddDefinedSetRequest{DefinedSet: &api.DefinedSet{DefinedType: api.DefinedType_AS_PATH, Name: "handmade-aspath", List: in}}); err != nil {
		t.Fatal(err)
	}
	got := asPathSetOn(t, rs, "handmade-aspath")
	want := []string{"^64001_", "(^|[,{}() ]|$)6451[2-9](^|[,{}() ]|$)", `\b64512\b`, ".*"}
	if !slices.Equal(got, want) {
		t.Errorf("gobgpd lists %q as %q; v3.37.0 listed %q. If GoBGP changed, check diffStrings and asnRangePatterns", in, got, want)
	}
}

// TestUpgradeFromShapeWithoutASPathChecks: a neighbor configured by a
// driver from before the AS path checks (policy: rpki, accept) does not
// have the fixed shape; the next Apply replaces it (a session reset, once)
// and then writes nothing.
func TestUpgradeFromShapeWithoutASPathChecks(t *testing.T) {
	rs := startRS(t)
	ctx := testCtx(t)
	d := newDriver(t, rs, Options{RouteServer: true, Passive: true})
	n := router.Neighbor{Address: addrA, PeerASN: 64001, Owner: "peering/a", Import: []router.Entry{exact("10.1.0.0/24")}}
	m, err := buildModel(desired(n), d.opts)
	if err != nil {
		t.Fatal(err)
	}
	nm := m.neighbors[0]
	old := apiPolicy(nm)
	old.Statements = slices.DeleteFunc(old.Statements, func(s *api.Statement) bool { return s.Conditions.AsPathSet != nil })
	if _, err := rs.API.AddDefinedSet(ctx, &api.AddDefinedSetRequest{DefinedSet: &api.DefinedSet{DefinedType: api.DefinedType_PREFIX, Name: prefixSetName(nm.id), Prefixes: apiPrefixes(nm.prefixes)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := rs.API.AddPolicy(ctx, &api.AddPolicyRequest{Policy: old}); err != nil {
		t.Fatal(err)
	}
	if _, err := rs.API.AddPeer(ctx, &api.AddPeerRequest{Peer: apiPeer(nm.addr, nm.id, nm.spec)}); err != nil {
		t.Fatal(err)
	}
	if res := mustApply(t, d, desired(n)); res.Updated != 1 || res.Added+res.Removed != 0 {
		t.Fatalf("upgrade: %+v", res)
	}
	applyNoWrites(t, d, desired(n))
	if left := objectsOf(t, d, nm.id); len(left) != 8 {
		t.Errorf("A's objects after the upgrade: %v", left)
	}
}
