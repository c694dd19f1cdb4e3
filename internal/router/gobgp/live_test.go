package gobgp

// Tests against real gobgpd processes (a route server on 127.0.0.1, peers
// on 127.0.0.2…), built and started by internal/bgptest. Loopback only.

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/peering-operator/peering-operator/internal/bgptest"
	"github.com/peering-operator/peering-operator/internal/router"
)

const rsASN = 65000

var (
	rsAddr = ip("127.0.0.1")
	addrA  = ip("127.0.0.2")
	addrB  = ip("127.0.0.3")
	addrC  = ip("127.0.0.4")
	addrH  = ip("127.0.0.9") // configured by hand, not by the driver
)

// testCtx bounds one wait; generous because CI machines are small and
// gobgpd's retry timers are seconds long.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func startRS(t *testing.T) *bgptest.Speaker {
	return bgptest.StartGoBGPD(t, bgptest.Config{Name: "rs", ASN: rsASN, ListenAddr: rsAddr})
}

func newDriver(t *testing.T, rs *bgptest.Speaker, o Options) *Driver {
	t.Helper()
	o.Address = rs.GRPCAddr()
	d, err := New(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func desired(ns ...router.Neighbor) router.Desired {
	return router.Desired{LocalASN: rsASN, RouterID: rsAddr, Neighbors: ns}
}

func route(p string) bgptest.Route { return bgptest.Route{Prefix: pp(p)} }

func mustApply(t *testing.T, d *Driver, des router.Desired) router.ApplyResult {
	t.Helper()
	res, err := d.Apply(testCtx(t), des)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	return res
}

// applyNoWrites applies again and fails when anything was written.
func applyNoWrites(t *testing.T, d *Driver, des router.Desired) {
	t.Helper()
	before := d.Writes()
	res := mustApply(t, d, des)
	if n := d.Writes() - before; n != 0 || res.Changed() {
		rs, _ := d.readRunning(testCtx(t))
		m, _ := buildModel(des, d.opts)
		p, _ := makePlan(m, rs)
		t.Fatalf("Apply with nothing changed wrote %d times (%+v); plan %+v", n, res, p)
	}
}

// waitState polls State until cond holds for the neighbor.
func waitState(t *testing.T, d *Driver, a netip.Addr, what string, cond func(router.NeighborState) bool) router.NeighborState {
	t.Helper()
	ctx := testCtx(t)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last router.NeighborState
	for {
		st, err := d.State(ctx)
		if err != nil && ctx.Err() == nil {
			t.Fatal(err)
		}
		for _, s := range st {
			if s.Address == a {
				last = s
				if cond(s) {
					return s
				}
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("neighbor %s: waiting for %s; last state %+v", a, what, last)
		case <-tick.C:
		}
	}
}

func established(s router.NeighborState) bool { return s.State == "Established" }

func prefixesOf(rs []bgptest.Route, filtered bool) []string {
	var out []string
	for _, r := range rs {
		if r.Filtered == filtered {
			out = append(out, r.Prefix.String())
		}
	}
	return out
}

func waitRoutes(t *testing.T, what string, list func(context.Context) ([]bgptest.Route, error), cond func([]bgptest.Route) bool) []bgptest.Route {
	t.Helper()
	ctx := testCtx(t)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last []bgptest.Route
	var lastErr error
	for {
		rs, err := list(ctx)
		if err == nil && cond(rs) {
			return rs
		}
		if err == nil {
			last = rs
		} else if ctx.Err() == nil {
			lastErr = err
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: last %v (last error: %v)", what, last, lastErr)
		case <-tick.C:
		}
	}
}

// owned objects on the router for one neighbor ID.
func objectsOf(t *testing.T, d *Driver, id string) []string {
	t.Helper()
	r, err := d.readRunning(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range []map[string]*api.DefinedSet{r.prefixSets, r.nbSets, r.asPathSets} {
		for n := range m {
			if idOf(n) == id {
				out = append(out, "set "+n)
			}
		}
	}
	for n := range r.policies {
		if idOf(n) == id {
			out = append(out, "policy "+n)
		}
	}
	for n := range r.statements {
		if idOf(n) == id {
			out = append(out, "statement "+n)
		}
	}
	for _, p := range r.globalImport.GetPolicies() {
		if idOf(p.Name) == id {
			out = append(out, "global-import "+p.Name)
		}
	}
	for _, p := range r.globalExport.GetPolicies() {
		if idOf(p.Name) == id {
			out = append(out, "global-export "+p.Name)
		}
	}
	slices.Sort(out)
	return out
}

// TestRouteServerFilters: two route-server clients; A announces one
// prefix inside its filter and one outside; the route server keeps the
// inside one (checked on gobgpd itself and at B), rejects the other, and
// State counts 1 accepted of 2 received.
func TestRouteServerFilters(t *testing.T) {
	rs := startRS(t)
	d := newDriver(t, rs, Options{RouteServer: true, Passive: true})
	nA := router.Neighbor{
		Address: addrA, PeerASN: 65001, Owner: "peering/a", Description: "peer A", MaxPrefixes: 10,
		// The /25 is only inside because of the le 25 on the /16: GoBGP
		// alone would look at the exact /24 only (see gobgpEntries).
		Import: []router.Entry{upto("10.1.0.0/16", 16, 25), exact("10.1.5.0/24")},
	}
	nB := router.Neighbor{Address: addrB, PeerASN: 65002, Owner: "peering/b", MaxPrefixes: 10, Import: []router.Entry{upto("10.2.0.0/16", 16, 24)}}
	des := desired(nA, nB)
	res := mustApply(t, d, des)
	if res.Added != 2 || res.Digest == "" {
		t.Fatalf("first Apply: %+v", res)
	}
	pa := bgptest.StartPeer(t, bgptest.PeerConfig{Addr: addrA, ASN: 65001, RouteServer: rs.Endpoint(),
		Routes: []bgptest.Route{route("10.1.5.128/25"), route("10.9.0.0/24")}})
	pb := bgptest.StartPeer(t, bgptest.PeerConfig{Addr: addrB, ASN: 65002, RouteServer: rs.Endpoint(),
		Routes: []bgptest.Route{route("10.2.1.0/24")}})

	stA := waitState(t, d, addrA, "1 of 2 accepted", func(s router.NeighborState) bool {
		return established(s) && s.Received == 2 && s.Accepted == 1
	})
	if stA.Limit != 10 || stA.EstablishedSince.IsZero() || time.Since(stA.EstablishedSince) > time.Minute || stA.LastError != "" {
		t.Errorf("state of A: %+v", stA)
	}
	waitState(t, d, addrB, "1 of 1 accepted", func(s router.NeighborState) bool { return established(s) && s.Received == 1 && s.Accepted == 1 })

	// On the route server: A's adj-rib-in with the import policy applied.
	ctx := testCtx(t)
	in, err := rs.Received(ctx, addrA)
	if err != nil {
		t.Fatal(err)
	}
	if got := prefixesOf(in, false); !slices.Equal(got, []string{"10.1.5.128/25"}) {
		t.Errorf("accepted from A on the route server: %v", got)
	}
	if got := prefixesOf(in, true); !slices.Equal(got, []string{"10.9.0.0/24"}) {
		t.Errorf("rejected from A on the route server: %v", got)
	}
	// B's RIB on the route server, and at B itself.
	clientRIB, err := rs.ClientRIB(ctx, addrB)
	if err != nil {
		t.Fatal(err)
	}
	if got := prefixesOf(clientRIB, false); !slices.Equal(got, []string{"10.1.5.128/25"}) {
		t.Errorf("route server's RIB for B: %v", got)
	}
	waitRoutes(t, "B learns A's accepted prefix only", func(ctx context.Context) ([]bgptest.Route, error) { return pb.RIB(ctx, 4) },
		func(rs []bgptest.Route) bool {
			got := prefixesOf(rs, false)
			return slices.Equal(got, []string{"10.1.5.128/25", "10.2.1.0/24"})
		})
	waitRoutes(t, "A learns B's prefix", func(ctx context.Context) ([]bgptest.Route, error) { return pa.RIB(ctx, 4) },
		func(rs []bgptest.Route) bool { return slices.Contains(prefixesOf(rs, false), "10.2.1.0/24") })

	// GoBGP's own counter ignores the import policy: that is why State
	// counts filtered paths itself.
	peers, err := d.listPeers(ctx, addrA.String())
	if err != nil {
		t.Fatal(err)
	}
	if raw := peers[0].AfiSafis[0].State.Accepted; raw != 2 {
		t.Errorf("GoBGP's raw accepted counter is %d; in v3.37.0 it is 2 (it ignores the import policy). If GoBGP now counts after policy, State could use it", raw)
	}

	applyNoWrites(t, d, des)

	// Widen A's filter: the route already received is accepted after the
	// driver's soft reset; narrow it again and it goes.
	nA.Import = append(nA.Import, exact("10.9.0.0/24"))
	if res := mustApply(t, d, desired(nA, nB)); res.Updated != 1 || res.Added+res.Removed != 0 {
		t.Fatalf("widen: %+v", res)
	}
	waitState(t, d, addrA, "2 of 2 accepted", func(s router.NeighborState) bool { return s.Accepted == 2 })
	waitRoutes(t, "B learns the newly accepted prefix", func(ctx context.Context) ([]bgptest.Route, error) { return pb.RIB(ctx, 4) },
		func(rs []bgptest.Route) bool { return slices.Contains(prefixesOf(rs, false), "10.9.0.0/24") })
	nA.Import = nA.Import[:2]
	mustApply(t, d, desired(nA, nB))
	waitState(t, d, addrA, "1 of 2 accepted again", func(s router.NeighborState) bool { return s.Accepted == 1 })
	waitRoutes(t, "B loses the prefix", func(ctx context.Context) ([]bgptest.Route, error) { return pb.RIB(ctx, 4) },
		func(rs []bgptest.Route) bool { return !slices.Contains(prefixesOf(rs, false), "10.9.0.0/24") })
	applyNoWrites(t, d, desired(nA, nB))

	// A limit change is applied in place: no session reset.
	up := waitState(t, d, addrA, "up", established).EstablishedSince
	nA.MaxPrefixes = 20
	mustApply(t, d, desired(nA, nB))
	st := waitState(t, d, addrA, "limit 20", func(s router.NeighborState) bool { return s.Limit == 20 })
	if !established(st) || !st.EstablishedSince.Equal(up) {
		t.Errorf("a limit change reset the session: %+v (up since %v)", st, up)
	}
}

// TestMaxPrefixLimit: a peer that sends more prefixes than its limit goes
// down, and State says why.
func TestMaxPrefixLimit(t *testing.T) {
	rs := startRS(t)
	d := newDriver(t, rs, Options{RouteServer: true, Passive: true})
	n := router.Neighbor{Address: addrC, PeerASN: 65003, Owner: "peering/c", MaxPrefixes: 5, Import: []router.Entry{upto("10.3.0.0/16", 16, 24)}}
	mustApply(t, d, desired(n))
	// Three inside the filter, three outside: GoBGP's limit counts what
	// it receives, rejected paths included, so 3 accepted still trip 5.
	var routes []bgptest.Route
	for i := range 3 {
		routes = append(routes, route(fmt.Sprintf("10.3.%d.0/24", i)), route(fmt.Sprintf("10.4.%d.0/24", i)))
	}
	bgptest.StartPeer(t, bgptest.PeerConfig{Addr: addrC, ASN: 65003, RouteServer: rs.Endpoint(), Routes: routes})
	st := waitState(t, d, addrC, "a max-prefix error", func(s router.NeighborState) bool {
		return strings.Contains(s.LastError, "maximum prefix limit 5 exceeded")
	})
	t.Logf("state after the trip: %+v", st)
	if st.Limit != 5 {
		t.Errorf("limit %d", st.Limit)
	}
	// The session stays down (GoBGP retries and trips again).
	waitState(t, d, addrC, "not established", func(s router.NeighborState) bool { return !established(s) && s.Received == 0 })
}

// TestRemoveKeepsUnmanaged: removing a neighbor from Desired deletes it and
// its prefix set and policy; a neighbor, a prefix set and a policy made by
// hand stay; a desired neighbor that exists unmanaged is a conflict.
func TestRemoveKeepsUnmanaged(t *testing.T) {
	rs := startRS(t)
	ctx := testCtx(t)
	d := newDriver(t, rs, Options{RouteServer: true, Passive: true})
	nA := router.Neighbor{Address: addrA, PeerASN: 65001, Owner: "peering/a", Import: []router.Entry{exact("10.1.0.0/24")}}
	nB := router.Neighbor{Address: addrB, PeerASN: 65002, Owner: "peering/b", Import: []router.Entry{exact("10.2.0.0/24")}}
	mustApply(t, d, desired(nA, nB))

	// By hand, with the plain GoBGP API.
	if err := rs.AddNeighbor(ctx, bgptest.Neighbor{Address: addrH, ASN: 65009, Passive: true, RouteServerClient: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := rs.API.AddDefinedSet(ctx, &api.AddDefinedSetRequest{DefinedSet: &api.DefinedSet{
		DefinedType: api.DefinedType_PREFIX, Name: "handmade", Prefixes: []*api.Prefix{{IpPrefix: "10.99.0.0/16", MaskLengthMin: 16, MaskLengthMax: 24}},
	}}); err != nil {
		t.Fatal(err)
	}
	if _, err := rs.API.AddPolicy(ctx, &api.AddPolicyRequest{Policy: &api.Policy{Name: "handmade-policy", Statements: []*api.Statement{{
		Name: "handmade-stmt", Conditions: &api.Conditions{PrefixSet: &api.MatchSet{Name: "handmade"}}, Actions: &api.Actions{RouteAction: api.RouteAction_ACCEPT},
	}}}}); err != nil {
		t.Fatal(err)
	}
	applyNoWrites(t, d, desired(nA, nB))

	res := mustApply(t, d, desired(nA))
	if res.Removed != 1 || res.Added+res.Updated != 0 {
		t.Fatalf("remove B: %+v", res)
	}
	if left := objectsOf(t, d, neighborID(addrB)); len(left) != 0 {
		t.Errorf("B's objects left behind: %v", left)
	}
	// Three sets, the policy and its four statements.
	if left := objectsOf(t, d, neighborID(addrA)); len(left) != 8 {
		t.Errorf("A's objects: %v", left)
	}
	if _, err := rs.SessionState(ctx, addrB); err == nil {
		t.Error("neighbor B still configured")
	}
	if _, err := rs.SessionState(ctx, addrH); err != nil {
		t.Errorf("hand-made neighbor gone: %v", err)
	}
	sets, _ := recvAll(rs.API.ListDefinedSet(ctx, &api.ListDefinedSetRequest{DefinedType: api.DefinedType_PREFIX, Name: "handmade"}))
	pols, _ := recvAll(rs.API.ListPolicy(ctx, &api.ListPolicyRequest{Name: "handmade-policy"}))
	if len(sets) != 1 || len(sets[0].DefinedSet.Prefixes) != 1 || len(pols) != 1 {
		t.Errorf("hand-made prefix set or policy changed: %v %v", sets, pols)
	}
	st, err := d.State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 1 || st[0].Address != addrA {
		t.Errorf("State lists %+v, want only A (not the hand-made neighbor)", st)
	}

	// A desired neighbor that exists unmanaged: error, nothing written.
	before := d.Writes()
	nH := router.Neighbor{Address: addrH, PeerASN: 65009, Owner: "peering/h"}
	if _, err := d.Apply(ctx, desired(nA, nH)); !errors.Is(err, ErrConflict) {
		t.Fatalf("Apply over a hand-made neighbor: %v, want ErrConflict", err)
	}
	if d.Writes() != before {
		t.Errorf("a conflicting Apply wrote %d times", d.Writes()-before)
	}
	// Removing everything leaves only what was made by hand, without the
	// shared bogon ASN set too.
	mustApply(t, d, desired())
	if left := objectsOf(t, d, neighborID(addrA)); len(left) != 0 {
		t.Errorf("A's objects left behind: %v", left)
	}
	if r, _ := d.readRunning(ctx); len(r.asPathSets) != 0 {
		t.Errorf("AS path sets left behind: %v", r.asPathSets)
	}
	applyNoWrites(t, d, desired())
}

// faults fails the n-th write, before sending it or after gobgpd applied
// it (an answer lost on the way back).
type faults struct {
	mu      sync.Mutex
	writes  int
	failAt  int
	applied bool
}

func (f *faults) intercept(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	if isRead(method) {
		return invoker(ctx, method, req, reply, cc, opts...)
	}
	f.mu.Lock()
	f.writes++
	fail := f.writes == f.failAt
	f.mu.Unlock()
	if !fail {
		return invoker(ctx, method, req, reply, cc, opts...)
	}
	if f.applied {
		invoker(ctx, method, req, reply, cc, opts...) //nolint:errcheck
	}
	return status.Errorf(codes.Unavailable, "injected failure of %s", method)
}

func (f *faults) arm(n int, applied bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.writes, f.failAt, f.applied = 0, n, applied
}

// bothModes are the driver's two kinds of gobgpd: a route server and an
// ordinary router, passive in the lab. Each test's loop gets a copy.
var bothModes = []struct {
	name string
	o    Options
}{
	{"routeserver", Options{RouteServer: true, Passive: true}},
	{"ordinary", Options{Passive: true}},
}

// TestFailedApplyRollsBack fails every write of a change in turn (in both
// modes, before and after the write reaches gobgpd): each failed Apply
// leaves the router exactly as before, and the next Apply converges.
func TestFailedApplyRollsBack(t *testing.T) {
	for _, mode := range bothModes {
		t.Run(mode.name, func(t *testing.T) {
			rs := startRS(t)
			f := &faults{}
			mode.o.Interceptors = []grpc.UnaryClientInterceptor{f.intercept}
			d := newDriver(t, rs, mode.o)
			nA := router.Neighbor{Address: addrA, PeerASN: 65001, Owner: "peering/a", MaxPrefixes: 10, Import: []router.Entry{exact("10.1.0.0/24"), exact("10.1.1.0/24")},
				Export: []router.Entry{exact("198.51.100.0/24")}, Learned: router.LearnedPeer, IXID: 1}
			nB := router.Neighbor{Address: addrB, PeerASN: 65002, Owner: "peering/b", Import: []router.Entry{exact("10.2.0.0/24")}}
			before := desired(nA, nB)
			// The change: A's filter, limit, AS path checks, export and tag
			// change, B goes, C and H come.
			nA2 := nA
			nA2.MaxPrefixes, nA2.Import = 20, []router.Entry{exact("10.1.1.0/24"), exact("10.1.2.0/24")}
			nA2.RejectBogonASNs, nA2.EnforceFirstAS = true, true
			nA2.Export, nA2.IXID = []router.Entry{exact("203.0.113.0/24")}, 2
			nC := router.Neighbor{Address: addrC, PeerASN: 65003, Owner: "peering/c", Import: []router.Entry{exact("10.3.0.0/24")}, EnforceFirstAS: true}
			nH := router.Neighbor{Address: addrH, PeerASN: 65009, Owner: "peering/h"}
			after := desired(nA2, nC, nH)
			ctx := testCtx(t)
			for n := 1; ; n++ {
				mustApply(t, d, before)
				want, _ := d.readRunning(ctx)
				for _, applied := range []bool{false, true} {
					f.arm(n, applied)
					_, err := d.Apply(ctx, after)
					f.arm(0, false)
					if err == nil {
						if applied {
							t.Fatalf("write %d: Apply succeeded with the failure armed", n)
						}
						t.Logf("the change takes %d writes; each one failed in turn was rolled back", n-1)
						applyNoWrites(t, d, after)
						return
					}
					if !strings.Contains(err.Error(), "injected failure") || !strings.Contains(err.Error(), "rolled back") {
						t.Fatalf("write %d: %v", n, err)
					}
					got, _ := d.readRunning(ctx)
					// Removals are not undone: B may be gone (wholly or
					// its neighbor first), everything else is as before.
					idB := neighborID(addrB)
					if diff := compareRunning(without(want, idB), without(got, idB)); diff != "" {
						t.Fatalf("write %d (applied=%t) failed and the router differs: %s\n(err: %v)", n, applied, diff, err)
					}
					if _, ok := got.peers[addrB]; ok {
						if diff := compareRunning(want, got); diff != "" {
							t.Fatalf("write %d: B is configured but not as before: %s", n, diff)
						}
					}
					for _, a := range []netip.Addr{addrC, addrH} {
						if _, ok := got.peers[a]; ok {
							t.Fatalf("write %d: half-applied neighbor %s left", n, a)
						}
						if left := objectsOf(t, d, neighborID(a)); len(left) != 0 {
							t.Fatalf("write %d: objects of %s left: %v", n, a, left)
						}
					}
					// The next Apply converges from wherever this left it.
					mustApply(t, d, before)
					applyNoWrites(t, d, before)
				}
			}
		})
	}
}

// without returns a copy of r without anything of neighbor id.
func without(r *running, id string) *running {
	c := *r
	c.peers = map[netip.Addr]*api.Peer{}
	for a, p := range r.peers {
		if neighborID(a) != id {
			c.peers[a] = p
		}
	}
	filter := func(m map[string]*api.DefinedSet) map[string]*api.DefinedSet {
		out := map[string]*api.DefinedSet{}
		for n, s := range m {
			if idOf(n) != id {
				out[n] = s
			}
		}
		return out
	}
	c.prefixSets, c.nbSets, c.asPathSets, c.commSets = filter(r.prefixSets), filter(r.nbSets), filter(r.asPathSets), filter(r.commSets)
	c.policies, c.statements, c.rsImport = map[string]*api.Policy{}, map[string]bool{}, map[string]*api.PolicyAssignment{}
	for n, p := range r.policies {
		if idOf(n) != id {
			c.policies[n] = p
		}
	}
	for n := range r.statements {
		if idOf(n) != id {
			c.statements[n] = true
		}
	}
	for n, a := range r.rsImport {
		if ad, err := netip.ParseAddr(n); err != nil || neighborID(ad) != id {
			c.rsImport[n] = a
		}
	}
	filterAssignment := func(a *api.PolicyAssignment) *api.PolicyAssignment {
		if a == nil {
			return nil
		}
		g := &api.PolicyAssignment{Name: a.Name, DefaultAction: a.DefaultAction}
		for _, p := range a.Policies {
			if idOf(p.Name) != id {
				g.Policies = append(g.Policies, p)
			}
		}
		return g
	}
	c.globalImport, c.globalExport = filterAssignment(r.globalImport), filterAssignment(r.globalExport)
	return &c
}

// compareRunning compares what the driver owns on two snapshots.
func compareRunning(a, b *running) string {
	sum := func(r *running) string {
		var lines []string
		for ad, p := range r.peers {
			lines = append(lines, fmt.Sprintf("peer %s %+v", ad, specOf(p)))
		}
		for n, s := range r.prefixSets {
			var es []string
			for e := range runningPrefixes(s) {
				es = append(es, e.String())
			}
			slices.Sort(es)
			lines = append(lines, fmt.Sprintf("prefix-set %s %v", n, es))
		}
		for n, s := range r.nbSets {
			lines = append(lines, fmt.Sprintf("neighbor-set %s %v", n, s.List))
		}
		for n, s := range r.asPathSets {
			es := slices.Sorted(slices.Values(s.List))
			lines = append(lines, fmt.Sprintf("as-path-set %s %q", n, es))
		}
		for n, s := range r.lcSets {
			es := slices.Sorted(slices.Values(s.List))
			lines = append(lines, fmt.Sprintf("large-community-set %s %q", n, es))
		}
		for n, s := range r.commSets {
			es := slices.Sorted(slices.Values(s.List))
			lines = append(lines, fmt.Sprintf("community-set %s %q", n, es))
		}
		for n, p := range r.policies {
			lines = append(lines, fmt.Sprintf("policy %s %v", n, policySignature(p)))
		}
		for n := range r.statements {
			lines = append(lines, "statement "+n)
		}
		for dir, a := range map[string]*api.PolicyAssignment{"import": r.globalImport, "export": r.globalExport} {
			if a == nil {
				continue
			}
			var ns []string
			for _, p := range a.Policies {
				ns = append(ns, p.Name)
			}
			lines = append(lines, fmt.Sprintf("global-%s %v %v", dir, ns, a.DefaultAction))
		}
		for n, a := range r.rsImport {
			var ns []string
			for _, p := range a.Policies {
				ns = append(ns, p.Name)
			}
			lines = append(lines, fmt.Sprintf("import %s %v %v", n, ns, a.DefaultAction))
		}
		slices.Sort(lines)
		return strings.Join(lines, "\n")
	}
	sa, sb := sum(a), sum(b)
	if sa == sb {
		return ""
	}
	return "before:\n" + sa + "\nafter:\n" + sb
}

// TestOrdinaryPeers: without route-server mode the filters go into the
// global import policy and the exports into the global export policy,
// per neighbor; a peer configured by hand is not affected by them.
func TestOrdinaryPeers(t *testing.T) {
	rs := startRS(t)
	ctx := testCtx(t)
	// The route server dials this time: every peer listens on one port.
	port, err := bgptest.FreePort(addrA, addrB, addrH)
	if err != nil {
		t.Fatal(err)
	}
	d := newDriver(t, rs, Options{PeerPort: uint16(port), ConnectRetry: time.Second})
	nA := router.Neighbor{Address: addrA, PeerASN: 65001, Owner: "peering/a", MaxPrefixes: 10, Import: []router.Entry{upto("10.1.0.0/16", 16, 24)}}
	nB := router.Neighbor{Address: addrB, PeerASN: 65002, Owner: "peering/b", Import: []router.Entry{upto("10.2.0.0/16", 16, 24)}}
	des := desired(nA, nB)
	mustApply(t, d, des)
	// A hand-made neighbor with a hand-made global policy that stays.
	if err := rs.AddNeighbor(ctx, bgptest.Neighbor{Address: addrH, ASN: 65009, RemotePort: port}); err != nil {
		t.Fatal(err)
	}
	if _, err := rs.API.AddPolicy(ctx, &api.AddPolicyRequest{Policy: &api.Policy{Name: "handmade-noop", Statements: []*api.Statement{{
		Name: "handmade-noop-stmt", Conditions: &api.Conditions{RpkiResult: int32(api.Validation_STATE_VALID)}, Actions: &api.Actions{RouteAction: api.RouteAction_ACCEPT},
	}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := rs.API.AddPolicyAssignment(ctx, &api.AddPolicyAssignmentRequest{Assignment: &api.PolicyAssignment{
		Name: "global", Direction: api.PolicyDirection_IMPORT, Policies: []*api.Policy{{Name: "handmade-noop"}},
	}}); err != nil {
		t.Fatal(err)
	}
	peer := func(a netip.Addr, asn uint32, routes ...string) *bgptest.Speaker {
		var rr []bgptest.Route
		for _, r := range routes {
			rr = append(rr, route(r))
		}
		// Passive: only the route server dials (two dialing sides collide,
		// and GoBGP then idles for a while).
		return bgptest.StartPeer(t, bgptest.PeerConfig{Addr: a, ASN: asn, BGPPort: port, RouteServer: rs.Endpoint(), Routes: rr, Passive: true})
	}
	peer(addrA, 65001, "10.1.1.0/24", "10.9.0.0/24")
	peer(addrB, 65002, "10.2.1.0/24")
	ph := peer(addrH, 65009, "10.99.0.0/24")

	waitState(t, d, addrA, "1 of 2 accepted", func(s router.NeighborState) bool { return established(s) && s.Received == 2 && s.Accepted == 1 })
	waitState(t, d, addrB, "1 of 1 accepted", func(s router.NeighborState) bool { return established(s) && s.Accepted == 1 })
	in, err := rs.Received(ctx, addrA)
	if err != nil {
		t.Fatal(err)
	}
	if got, rej := prefixesOf(in, false), prefixesOf(in, true); !slices.Equal(got, []string{"10.1.1.0/24"}) || !slices.Equal(rej, []string{"10.9.0.0/24"}) {
		t.Errorf("from A: accepted %v rejected %v", got, rej)
	}
	waitRoutes(t, "global RIB", func(ctx context.Context) ([]bgptest.Route, error) { return rs.RIB(ctx, 4) }, func(rr []bgptest.Route) bool {
		got := prefixesOf(rr, false)
		return slices.Equal(got, []string{"10.1.1.0/24", "10.2.1.0/24", "10.99.0.0/24"})
	})
	// B's export is empty: gobgpd sends it nothing; the hand-made
	// neighbor gets what gobgpd's defaults say (everything).
	if sent, err := rs.Sent(ctx, addrB); err != nil || len(sent) != 0 {
		t.Errorf("sent to B: %v %v, want nothing", sent, err)
	}
	waitRoutes(t, "H learns A's accepted prefix", func(ctx context.Context) ([]bgptest.Route, error) { return ph.RIB(ctx, 4) }, func(rr []bgptest.Route) bool {
		got := prefixesOf(rr, false)
		return slices.Contains(got, "10.1.1.0/24") && !slices.Contains(got, "10.9.0.0/24")
	})
	r, _ := d.readRunning(ctx)
	var names []string
	for _, p := range r.globalImport.Policies {
		names = append(names, p.Name)
	}
	if want := []string{policyName(neighborID(addrA)), policyName(neighborID(addrB)), "handmade-noop"}; !slices.Equal(names, want) {
		t.Errorf("global import policy %v, want %v", names, want)
	}
	names = nil
	for _, p := range r.globalExport.Policies {
		names = append(names, p.Name)
	}
	if want := []string{exportPolicyName(neighborID(addrA)), exportPolicyName(neighborID(addrB))}; !slices.Equal(names, want) {
		t.Errorf("global export policy %v, want %v", names, want)
	}
	applyNoWrites(t, d, des)
	// Removing A takes its policy out of the global import policy.
	mustApply(t, d, desired(nB))
	if left := objectsOf(t, d, neighborID(addrA)); len(left) != 0 {
		t.Errorf("A's objects left: %v", left)
	}
	applyNoWrites(t, d, desired(nB))
}

// TestRPKIInvalidRejected: with an RTR cache serving a VRP, a route the VRP
// makes invalid is rejected; not-found and valid ones pass the filter. The
// cache is stayrtr (Debian) on a local VRP file, and our own small RTR
// server.
func TestRPKIInvalidRejected(t *testing.T) {
	vrps := []bgptest.VRP{
		{Prefix: pp("10.20.0.0/16"), MaxLen: 24, ASN: 65099}, // 10.20.1.0/24 from 65001: invalid
		{Prefix: pp("10.40.0.0/16"), MaxLen: 24, ASN: 65001}, // 10.40.1.0/24 from 65001: valid
	}
	for name, start := range map[string]func(*testing.T) string{
		"stayrtr": func(t *testing.T) string { return bgptest.StartStayRTR(t, vrps) },
		"bgptest": func(t *testing.T) string { return bgptest.StartRTR(t, vrps).Addr().String() },
	} {
		t.Run(name, func(t *testing.T) { testRPKIInvalidRejected(t, start(t)) })
	}
}

func testRPKIInvalidRejected(t *testing.T, rtrAddr string) {
	rs := startRS(t)
	d := newDriver(t, rs, Options{RouteServer: true, Passive: true, RPKIServer: rtrAddr})
	n := router.Neighbor{Address: addrA, PeerASN: 65001, Owner: "peering/a", Import: []router.Entry{upto("10.0.0.0/8", 8, 24)}}
	mustApply(t, d, desired(n))
	applyNoWrites(t, d, desired(n))
	ctx := testCtx(t)
	// Routes are validated when they arrive; wait for the VRPs first.
	tick := time.NewTicker(50 * time.Millisecond)
	for ready := false; !ready; {
		srv, err := recvAll(rs.API.ListRpki(ctx, &api.ListRpkiRequest{}))
		if err != nil {
			t.Fatal(err)
		}
		ready = len(srv) == 1 && srv[0].Server.State.RecordIpv4 == 2
		select {
		case <-ctx.Done():
			t.Fatalf("RTR data not loaded: %v", srv)
		case <-tick.C:
		}
	}
	tick.Stop()
	bgptest.StartPeer(t, bgptest.PeerConfig{Addr: addrA, ASN: 65001, RouteServer: rs.Endpoint(),
		Routes: []bgptest.Route{route("10.20.1.0/24"), route("10.30.0.0/24"), route("10.40.1.0/24")}})
	waitState(t, d, addrA, "2 of 3 accepted", func(s router.NeighborState) bool { return s.Received == 3 && s.Accepted == 2 })
	in, err := rs.Received(ctx, addrA)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range in {
		want := map[string]string{"10.20.1.0/24": "invalid", "10.30.0.0/24": "not-found", "10.40.1.0/24": "valid"}[r.Prefix.String()]
		if r.Validation != want || r.Filtered != (want == "invalid") {
			t.Errorf("%s: validation %q filtered %t, want %q", r.Prefix, r.Validation, r.Filtered, want)
		}
	}
}

// TestInvalidNeighborMakesNoCall: Apply and Render validate first; an
// invalid value never produces a gRPC call.
func TestInvalidNeighborMakesNoCall(t *testing.T) {
	rs := startRS(t)
	var calls int
	var mu sync.Mutex
	count := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		mu.Lock()
		calls++
		mu.Unlock()
		return invoker(ctx, method, req, reply, cc, opts...)
	}
	d := newDriver(t, rs, Options{RouteServer: true, DisableWatch: true, Interceptors: []grpc.UnaryClientInterceptor{count}})
	mu.Lock()
	base := calls
	mu.Unlock()
	bad := []router.Neighbor{
		{Address: addrA, PeerASN: 65001, Description: "x\nneighbor 10.0.0.1 remote-as 1"},
		{Address: addrA, PeerASN: 23456},
		{Address: addrA, PeerASN: 65001, Import: []router.Entry{{Prefix: pp("10.0.0.0/8"), GE: 4, LE: 24}}},
		{Address: addrA, PeerASN: 65001, Password: "has space"},
		{Address: addrA, PeerASN: 65001, Import: []router.Entry{exact("2001:db8::/32")}},
	}
	for _, n := range bad {
		if _, err := d.Apply(testCtx(t), desired(n)); !errors.Is(err, router.ErrInvalid) {
			t.Errorf("Apply(%+v): %v, want ErrInvalid", n, err)
		}
		if _, err := d.Render(desired(n)); !errors.Is(err, router.ErrInvalid) {
			t.Errorf("Render(%+v): %v, want ErrInvalid", n, err)
		}
		if strings.Contains(fmt.Sprint(d.Apply(testCtx(t), desired(n))), "has space") {
			t.Error("an error message contains the password")
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if calls != base || d.Writes() != 0 {
		t.Errorf("invalid input made %d gRPC calls (%d writes)", calls-base, d.Writes())
	}
}

// TestGoBGPLongestMatch documents the GoBGP behaviour gobgpEntries works
// around: with "10.1.0.0/16 16..25" and "10.1.5.0/24 24..24" in one prefix
// set, GoBGP rejects 10.1.5.128/25.
func TestGoBGPLongestMatch(t *testing.T) {
	rs := startRS(t)
	ctx := testCtx(t)
	d := newDriver(t, rs, Options{RouteServer: true, Passive: true})
	n := router.Neighbor{Address: addrA, PeerASN: 65001, Owner: "peering/a", Import: []router.Entry{exact("10.1.5.0/24")}}
	mustApply(t, d, desired(n))
	// Replace the driver's entries with the naive ones, by hand.
	name := prefixSetName(neighborID(addrA))
	if _, err := rs.API.AddDefinedSet(ctx, &api.AddDefinedSetRequest{DefinedSet: &api.DefinedSet{DefinedType: api.DefinedType_PREFIX, Name: name,
		Prefixes: []*api.Prefix{{IpPrefix: "10.1.0.0/16", MaskLengthMin: 16, MaskLengthMax: 25}}}}); err != nil {
		t.Fatal(err)
	}
	bgptest.StartPeer(t, bgptest.PeerConfig{Addr: addrA, ASN: 65001, RouteServer: rs.Endpoint(), Routes: []bgptest.Route{route("10.1.5.128/25"), route("10.1.6.0/25")}})
	in := waitRoutes(t, "2 routes", func(ctx context.Context) ([]bgptest.Route, error) { return rs.Received(ctx, addrA) }, func(r []bgptest.Route) bool { return len(r) == 2 })
	if got := prefixesOf(in, false); !slices.Equal(got, []string{"10.1.6.0/25"}) {
		t.Errorf("GoBGP accepted %v; expected only 10.1.6.0/25 (longest-match only). If GoBGP changed, gobgpEntries may be simplified.", got)
	}
	// With the /16 in the filter, the driver's entries accept both (and
	// it repairs the set edited by hand).
	n.Import = append(n.Import, upto("10.1.0.0/16", 16, 25))
	mustApply(t, d, desired(n))
	waitState(t, d, addrA, "2 of 2 accepted", func(s router.NeighborState) bool { return s.Accepted == 2 })
}

// TestPasswordPlumbing: the MD5 password reaches gobgpd and is compared on
// the next Apply, and never shows in Render, State or errors. (This
// kernel refuses TCP MD5; GoBGP only logs "failed to set md5" and keeps
// the neighbor, so no session comes up here.)
func TestPasswordPlumbing(t *testing.T) {
	rs := startRS(t)
	ctx := testCtx(t)
	d := newDriver(t, rs, Options{RouteServer: true, Passive: true})
	n := router.Neighbor{Address: addrA, PeerASN: 65001, Owner: "peering/a", Password: "s3cr3t-one"}
	mustApply(t, d, desired(n))
	peers, err := d.listPeers(ctx, addrA.String())
	if err != nil || len(peers) != 1 || peers[0].Conf.AuthPassword != "s3cr3t-one" {
		t.Fatalf("password not on gobgpd: %v %v", peers, err)
	}
	applyNoWrites(t, d, desired(n))
	n.Password = "s3cr3t-two"
	if res := mustApply(t, d, desired(n)); res.Updated != 1 {
		t.Fatalf("password change: %+v", res)
	}
	peers, _ = d.listPeers(ctx, addrA.String())
	if peers[0].Conf.AuthPassword != "s3cr3t-two" {
		t.Fatal("password change not pushed")
	}
	out, _ := d.Render(desired(n))
	st, _ := d.State(ctx)
	// A failing Apply (gobgpd runs another AS) must not leak it either.
	_, err = d.Apply(ctx, router.Desired{LocalASN: 65111, RouterID: rsAddr, Neighbors: []router.Neighbor{n}})
	if err == nil {
		t.Fatal("Apply with another local AS succeeded")
	}
	for _, s := range []string{string(out), fmt.Sprintf("%+v %v", st, err)} {
		if strings.Contains(s, "s3cr3t") {
			t.Errorf("password printed: %s", s)
		}
	}
}

// TestIPv6Neighbor: an IPv6 neighbor (::1, passive: configured only) reads
// back equal, so a second Apply writes nothing; a filter edit is in place.
func TestIPv6Neighbor(t *testing.T) {
	rs := startRS(t)
	d := newDriver(t, rs, Options{RouteServer: true, Passive: true})
	n := router.Neighbor{Address: ip("::1"), PeerASN: 65006, Owner: "peering/v6", MaxPrefixes: 50,
		Import: []router.Entry{upto("2001:db8::/32", 32, 48), exact("2001:db8:1::/48")}}
	if res := mustApply(t, d, desired(n)); res.Added != 1 {
		t.Fatalf("%+v", res)
	}
	applyNoWrites(t, d, desired(n))
	n.Import = n.Import[:1]
	before := d.Writes()
	if res := mustApply(t, d, desired(n)); res.Updated != 1 || d.Writes()-before != 1 {
		t.Fatalf("filter edit: %+v, %d writes", res, d.Writes()-before)
	}
	applyNoWrites(t, d, desired(n))
}

func TestNewFailsFast(t *testing.T) {
	port, err := bgptest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = New(context.Background(), Options{Address: fmt.Sprintf("127.0.0.1:%d", port), DialTimeout: 500 * time.Millisecond})
	if err == nil || time.Since(start) > 5*time.Second {
		t.Fatalf("New on a closed port: %v after %v", err, time.Since(start))
	}
}

// TestGoBGPSetReplaceQuirk documents why the driver edits prefix sets
// entry by entry: AddDefinedSet with replace=true swaps the set in
// gobgpd's table, ListDefinedSet shows the new entries, but a policy that
// already uses the set keeps matching the old ones.
func TestGoBGPSetReplaceQuirk(t *testing.T) {
	rs := startRS(t)
	ctx := testCtx(t)
	d := newDriver(t, rs, Options{RouteServer: true, Passive: true})
	n := router.Neighbor{Address: addrA, PeerASN: 65001, Owner: "peering/a", Import: []router.Entry{exact("10.1.0.0/24")}}
	mustApply(t, d, desired(n))
	bgptest.StartPeer(t, bgptest.PeerConfig{Addr: addrA, ASN: 65001, RouteServer: rs.Endpoint(), Routes: []bgptest.Route{route("10.1.0.0/24"), route("10.2.0.0/24")}})
	waitState(t, d, addrA, "1 of 2 accepted", func(s router.NeighborState) bool { return s.Received == 2 && s.Accepted == 1 })
	name := prefixSetName(neighborID(addrA))
	if _, err := rs.API.AddDefinedSet(ctx, &api.AddDefinedSetRequest{Replace: true, DefinedSet: &api.DefinedSet{DefinedType: api.DefinedType_PREFIX, Name: name,
		Prefixes: []*api.Prefix{{IpPrefix: "10.1.0.0/24", MaskLengthMin: 24, MaskLengthMax: 24}, {IpPrefix: "10.2.0.0/24", MaskLengthMin: 24, MaskLengthMax: 24}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := rs.API.ResetPeer(ctx, &api.ResetPeerRequest{Address: addrA.String(), Soft: true, Direction: api.ResetPeerRequest_IN}); err != nil {
		t.Fatal(err)
	}
	sets, err := recvAll(rs.API.ListDefinedSet(ctx, &api.ListDefinedSetRequest{DefinedType: api.DefinedType_PREFIX, Name: name}))
	if err != nil || len(sets) != 1 || len(sets[0].DefinedSet.Prefixes) != 2 {
		t.Fatalf("set after replace: %v %v", sets, err)
	}
	in, err := rs.Received(ctx, addrA)
	if err != nil {
		t.Fatal(err)
	}
	if got := prefixesOf(in, false); !slices.Equal(got, []string{"10.1.0.0/24"}) {
		t.Errorf("after replace=true GoBGP accepts %v; in v3.37.0 the policy kept the old set (only 10.1.0.0/24). If this changed, replace could be used", got)
	}
}
