package gobgp

// Live test of exports and learned-community tags: our gobgpd as an
// ordinary router (not a route server) with three peers, each its own
// gobgpd on loopback announcing its own prefixes.

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	api "github.com/osrg/gobgp/v3/api"

	"github.com/peering-operator/peering-operator/internal/bgptest"
	"github.com/peering-operator/peering-operator/internal/router"
)

const (
	exported    = "198.51.100.0/24" // ours, in every peer's Export
	notExported = "203.0.113.0/24"  // ours, in none
)

// TestLiveExport: every peer gets exactly the prefix we export to it,
// never another peer's routes, whatever gobgpd's defaults, and also with
// a hand-made global export policy that accepts everything (default
// accept) configured before the driver. An empty Export withdraws what
// the peer had (the driver resets the session: GoBGP's soft reset out
// withdraws nothing); a wider one reaches it by a soft reset; a tag
// change re-tags the peer's routes in place.
func TestLiveExport(t *testing.T) {
	for i, c := range []struct {
		name     string
		handmade bool
	}{{"gobgpd defaults", false}, {"hand-made accept-all export policy", true}} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			testLiveExport(t, c.handmade, byte(10+i))
		})
	}
}

func testLiveExport(t *testing.T, handmade bool, net byte) {
	// Our gobgpd dials from 127.0.0.1 (the driver sets no source address),
	// so both routers live there, on their own ports.
	at := func(host byte) netip.Addr { return netip.AddrFrom4([4]byte{127, 0, net, host}) }
	us := rsAddr
	addrs := []netip.Addr{at(2), at(3), at(4)}
	port, err := bgptest.FreePort(addrs...)
	if err != nil {
		t.Fatal(err)
	}
	rt := bgptest.StartGoBGPD(t, bgptest.Config{Name: "router", ASN: rsASN, ListenAddr: us})
	ctx := testCtx(t)
	const handmadePolicy = "handmade-export-all"
	if handmade {
		if _, err := rt.API.AddPolicy(ctx, &api.AddPolicyRequest{Policy: &api.Policy{Name: handmadePolicy, Statements: []*api.Statement{{
			Name: handmadePolicy + "-stmt", Actions: &api.Actions{RouteAction: api.RouteAction_ACCEPT},
		}}}}); err != nil {
			t.Fatal(err)
		}
		if _, err := rt.API.SetPolicyAssignment(ctx, &api.SetPolicyAssignmentRequest{Assignment: &api.PolicyAssignment{
			Name: globalRIB, Direction: api.PolicyDirection_EXPORT, Policies: []*api.Policy{{Name: handmadePolicy}}, DefaultAction: api.RouteAction_ACCEPT,
		}}); err != nil {
			t.Fatal(err)
		}
	}
	d := newDriver(t, rt, Options{PeerPort: uint16(port), ConnectRetry: time.Second})
	var ns []router.Neighbor
	own := map[netip.Addr][]string{}
	for i, a := range addrs {
		ns = append(ns, router.Neighbor{Address: a, PeerASN: uint32(65001 + i), Owner: fmt.Sprintf("peering/%d", i),
			Import: []router.Entry{upto(fmt.Sprintf("10.%d.0.0/16", i+1), 16, 24)},
			Export: []router.Entry{exact(exported)}, Learned: router.LearnedPeer, IXID: 77})
		own[a] = []string{fmt.Sprintf("10.%d.1.0/24", i+1), fmt.Sprintf("10.%d.2.0/24", i+1)}
	}
	des := func() router.Desired {
		return router.Desired{LocalASN: rsASN, RouterID: us, Neighbors: slices.Clone(ns)}
	}
	res, writes := writesOf(t, d, des())
	if res.Added != 3 {
		t.Fatalf("first Apply: %+v", res)
	}
	t.Logf("3 ordinary neighbors with filters and exports: %d writes", writes)
	applyNoWrites(t, d, des())

	r, err := d.readRunning(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var list []string
	for _, p := range r.globalExport.GetPolicies() {
		list = append(list, p.GetName())
	}
	want := []string{exportPolicyName(neighborID(addrs[0])), exportPolicyName(neighborID(addrs[1])), exportPolicyName(neighborID(addrs[2]))}
	wantDefault := r.globalExport.GetDefaultAction()
	if handmade {
		want, wantDefault = append(want, handmadePolicy), api.RouteAction_ACCEPT
	}
	if !slices.Equal(list, want) || r.globalExport.GetDefaultAction() != wantDefault {
		t.Errorf("global export policy %v default %v, want %v default %v", list, r.globalExport.GetDefaultAction(), want, wantDefault)
	}

	// Our router originates a prefix it exports to nobody; the peers come.
	if err := rt.Announce(ctx, route(notExported)); err != nil {
		t.Fatal(err)
	}
	peers := map[netip.Addr]*bgptest.Speaker{}
	for i, a := range addrs {
		peers[a] = bgptest.StartPeer(t, bgptest.PeerConfig{Addr: a, ASN: uint32(65001 + i), BGPPort: port, RouteServer: rt.Endpoint(),
			Routes: []bgptest.Route{route(own[a][0]), route(own[a][1])}, Passive: true})
	}
	// Every peer's routes are in our RIB, tagged as learned from a peer.
	var all []string
	for _, a := range addrs {
		all = append(all, own[a]...)
	}
	all = append(all, notExported)
	slices.Sort(all)
	rib := waitRoutes(t, "our RIB holds every peer's routes", func(ctx context.Context) ([]bgptest.Route, error) { return rt.RIB(ctx, 4) },
		func(rr []bgptest.Route) bool { return slices.Equal(sortedPrefixes(rr), all) })
	for _, rr := range rib {
		want := []string{"65000:1:77"}
		if rr.Prefix == pp(notExported) {
			want = nil
		}
		if !slices.Equal(rr.LargeCommunities, want) {
			t.Errorf("our RIB: %s carries %v, want %v", rr.Prefix, rr.LargeCommunities, want)
		}
	}
	// The exported prefix comes last: a peer that has it has been sent
	// everything before it (one TCP stream), so what it holds is final.
	if err := rt.Announce(ctx, route(exported)); err != nil {
		t.Fatal(err)
	}
	exactly := func(what string, a netip.Addr, withExported bool) {
		t.Helper()
		var wantSent []string
		if withExported {
			wantSent = []string{exported}
		}
		want := append(slices.Clone(own[a]), wantSent...)
		slices.Sort(want)
		got := sortedPrefixes(waitRoutes(t, fmt.Sprintf("%s: peer %s has its own routes, exported %t", what, a, withExported),
			func(ctx context.Context) ([]bgptest.Route, error) { return peers[a].RIB(ctx, 4) },
			func(rr []bgptest.Route) bool {
				got := sortedPrefixes(rr)
				return !slices.ContainsFunc(own[a], func(p string) bool { return !slices.Contains(got, p) }) && slices.Contains(got, exported) == withExported
			}))
		if !slices.Equal(got, want) {
			t.Errorf("%s: peer %s holds %v, want exactly %v", what, a, got, want)
		}
		sent, err := rt.Sent(testCtx(t), a)
		if err != nil {
			t.Fatal(err)
		}
		if got := sortedPrefixes(sent); !slices.Equal(got, wantSent) {
			t.Errorf("%s: our gobgpd sends %s %v, want %v", what, a, got, wantSent)
		}
	}
	for _, a := range addrs {
		exactly("exported", a, true)
	}
	ups := map[netip.Addr]router.NeighborState{}
	for _, a := range addrs {
		ups[a] = waitState(t, d, a, "up", established)
	}

	// C's export empty: C loses the prefix and gets nothing any more; the
	// others keep theirs and their sessions.
	c := addrs[2]
	ns[2].Export = nil
	res, writes = writesOf(t, d, des())
	if res.Updated != 1 || res.Added+res.Removed != 0 {
		t.Fatalf("empty export: %+v", res)
	}
	t.Logf("empty export on an established session: %d writes", writes)
	waitRoutes(t, "C loses the exported prefix", func(ctx context.Context) ([]bgptest.Route, error) { return peers[c].RIB(ctx, 4) },
		func(rr []bgptest.Route) bool { return !slices.Contains(sortedPrefixes(rr), exported) })
	upC := ups[c].EstablishedSince
	waitState(t, d, c, "C up again", func(s router.NeighborState) bool { return established(s) && s.EstablishedSince.After(upC) })
	waitKeepalives(t, peers[c], us, 2)
	exactly("export empty", c, false)
	for _, a := range addrs[:2] {
		exactly("another's export empty", a, true)
		stillUp(t, d, a, ups[a])
	}
	applyNoWrites(t, d, des())

	// Back: a soft reset out brings it, no session reset.
	ups[c] = waitState(t, d, c, "up", established)
	ns[2].Export = []router.Entry{exact(exported)}
	if res, writes = writesOf(t, d, des()); res.Updated != 1 || writes != 2 {
		t.Errorf("export back: %+v in %d writes, want 1 update in 2 (entry, soft reset out)", res, writes)
	}
	exactly("export back", c, true)
	stillUp(t, d, c, ups[c])
	applyNoWrites(t, d, des())

	// An entry C was never sent anything under comes and goes: the probe
	// finds nothing to withdraw, so no session reset.
	ns[2].Export = []router.Entry{exact(exported), exact("192.0.2.0/24")}
	mustApply(t, d, des())
	ns[2].Export = []router.Entry{exact(exported)}
	if res, writes = writesOf(t, d, des()); res.Updated != 1 || writes != 2 {
		t.Errorf("narrowed, nothing sent under it: %+v in %d writes, want 1 update in 2 (entry, soft reset out)", res, writes)
	}
	exactly("narrowed, nothing to withdraw", c, true)
	stillUp(t, d, c, ups[c])

	// A's routes are tagged for another IX: in place, re-tagged by a soft
	// reset in, still exported to nobody. State (above) has listed A's
	// adj-in with filtered paths, which makes GoBGP store them tagged:
	// the strip keeps one tag, the new one.
	a := addrs[0]
	ns[0].IXID = 78
	if res, writes = writesOf(t, d, des()); res.Updated != 1 || writes != 5 {
		t.Errorf("retag: %+v in %d writes, want 1 update in 5 (tag out, tag in on the accept and gshut statements, soft reset in)", res, writes)
	}
	tagged := func(what, tag string) {
		t.Helper()
		waitRoutes(t, what, func(ctx context.Context) ([]bgptest.Route, error) { return rt.RIB(ctx, 4) },
			func(rr []bgptest.Route) bool {
				for _, r := range rr {
					if slices.Contains(own[a], r.Prefix.String()) && !slices.Equal(r.LargeCommunities, []string{tag}) {
						return false
					}
				}
				return true
			})
	}
	tagged("A's routes tagged 65000:1:78 only", "65000:1:78")
	// A filter change (soft reset in) after State again: still one tag.
	waitState(t, d, a, "2 accepted", func(s router.NeighborState) bool { return s.Accepted == 2 })
	ns[0].Import = append(ns[0].Import, exact("10.1.3.0/24"))
	if res, writes = writesOf(t, d, des()); res.Updated != 1 || writes != 2 {
		t.Errorf("import widened: %+v in %d writes, want 1 update in 2 (entry, soft reset in)", res, writes)
	}
	tagged("A's routes still tagged once", "65000:1:78")
	for _, b := range addrs {
		stillUp(t, d, b, ups[b])
		sent, err := rt.Sent(ctx, b)
		if err != nil || !slices.Equal(sortedPrefixes(sent), []string{exported}) {
			t.Errorf("after the retag our gobgpd sends %s %v (%v), want %s only", b, sortedPrefixes(sent), err, exported)
		}
	}
	applyNoWrites(t, d, des())

	// A drain (RFC 8326) of A, in place: A receives our prefix with
	// GRACEFUL_SHUTDOWN, A's routes get the lowest local preference gobgpd
	// takes, the session stays up; an undrain takes both away.
	drained := func(what string, on bool) {
		t.Helper()
		waitRoutes(t, what+": A's view", func(ctx context.Context) ([]bgptest.Route, error) { return peers[a].RIB(ctx, 4) },
			func(rr []bgptest.Route) bool {
				for _, r := range rr {
					if r.Prefix.String() == exported {
						return slices.Contains(r.Communities, router.GracefulShutdown) == on
					}
				}
				return false
			})
		waitRoutes(t, what+": our view of A's routes", func(ctx context.Context) ([]bgptest.Route, error) { return rt.RIB(ctx, 4) },
			func(rr []bgptest.Route) bool {
				for _, r := range rr {
					if slices.Contains(own[a], r.Prefix.String()) && (r.LocalPref != nil && *r.LocalPref == drainLocalPref) != on {
						return false
					}
				}
				return true
			})
	}
	ns[0].Drain = true
	res, writes = writesOf(t, d, des())
	if res.Updated != 1 || res.Added+res.Removed != 0 {
		t.Errorf("drain: %+v", res)
	}
	t.Logf("drain of an established session: %d writes", writes)
	drained("drained", true)
	stillUp(t, d, a, ups[a])
	applyNoWrites(t, d, des())
	ns[0].Drain = false
	if res, _ = writesOf(t, d, des()); res.Updated != 1 {
		t.Errorf("undrain: %+v", res)
	}
	drained("undrained", false)
	stillUp(t, d, a, ups[a])
	applyNoWrites(t, d, des())

	// Import marks of A, in place: a local preference and informational
	// communities (standard and large, next to the learned tag) on A's
	// routes; changed, then gone; the session stays up throughout.
	marked := func(what string, pref uint32, std, large []string) {
		t.Helper()
		waitRoutes(t, what, func(ctx context.Context) ([]bgptest.Route, error) { return rt.RIB(ctx, 4) },
			func(rr []bgptest.Route) bool {
				n := 0
				for _, r := range rr {
					if !slices.Contains(own[a], r.Prefix.String()) {
						continue
					}
					n++
					if r.LocalPref == nil || *r.LocalPref != pref || !slices.Equal(sortedStrings(r.Communities), std) || !slices.Equal(sortedStrings(r.LargeCommunities), large) {
						return false
					}
				}
				return n > 0
			})
	}
	ns[0].LocalPref, ns[0].Communities = 200, []string{"65000:3100", "65000:9:9"}
	if res, _ = writesOf(t, d, des()); res.Updated != 1 || res.Added+res.Removed != 0 {
		t.Errorf("import marks: %+v", res)
	}
	marked("local-pref 200, 65000:3100 and 65000:9:9 on A's routes", 200, []string{"65000:3100"}, []string{"65000:1:78", "65000:9:9"})
	applyNoWrites(t, d, des())
	ns[0].LocalPref, ns[0].Communities = 150, []string{"65000:3200"}
	if res, _ = writesOf(t, d, des()); res.Updated != 1 {
		t.Errorf("import marks changed: %+v", res)
	}
	marked("local-pref 150, 65000:3200 only", 150, []string{"65000:3200"}, []string{"65000:1:78"})
	ns[0].LocalPref, ns[0].Communities = 0, nil
	if res, _ = writesOf(t, d, des()); res.Updated != 1 {
		t.Errorf("import marks gone: %+v", res)
	}
	marked("back to 100, no informational communities", normalLocalPref, nil, []string{"65000:1:78"})
	stillUp(t, d, a, ups[a])
	applyNoWrites(t, d, des())
}

func sortedStrings(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	if len(out) == 0 {
		return nil
	}
	return out
}

func sortedPrefixes(rr []bgptest.Route) []string {
	out := prefixesOf(rr, false)
	slices.Sort(out)
	return out
}

// stillUp fails when the neighbor's session was reset since was.
func stillUp(t *testing.T, d *Driver, a netip.Addr, was router.NeighborState) {
	t.Helper()
	if s := waitState(t, d, a, "up", established); !s.EstablishedSince.Equal(was.EstablishedSince) {
		t.Errorf("%s: session reset (up since %v, was %v)", a, s.EstablishedSince, was.EstablishedSince)
	}
}

// waitKeepalives polls s until it has received n more KEEPALIVEs from
// neighbor in the session up now: what neighbor sent before them has
// arrived (one TCP stream).
func waitKeepalives(t *testing.T, s *bgptest.Speaker, neighbor netip.Addr, n uint64) {
	t.Helper()
	ctx := testCtx(t)
	count := func() (uint64, bool) {
		ps, err := recvAll(s.API.ListPeer(ctx, &api.ListPeerRequest{Address: neighbor.String()}))
		if err != nil || len(ps) != 1 || ps[0].Peer.GetState().GetSessionState() != api.PeerState_ESTABLISHED {
			return 0, false
		}
		return ps[0].Peer.GetState().GetMessages().GetReceived().GetKeepalive(), true
	}
	var base uint64
	for ok := false; !ok; {
		base, ok = count()
		if !ok {
			waitTick(t, ctx, "session up at "+s.Config.Name)
		}
	}
	for {
		if got, ok := count(); !ok {
			t.Fatalf("%s: session with %s went down", s.Config.Name, neighbor)
		} else if got >= base+n {
			return
		}
		waitTick(t, ctx, fmt.Sprintf("%d KEEPALIVEs at %s", n, s.Config.Name))
	}
}

func waitTick(t *testing.T, ctx context.Context, what string) {
	t.Helper()
	select {
	case <-ctx.Done():
		t.Fatalf("waiting for %s: %v", what, ctx.Err())
	case <-time.After(100 * time.Millisecond):
	}
}
