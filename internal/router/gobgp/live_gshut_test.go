package gobgp

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	"google.golang.org/grpc"

	"github.com/peering-operator/peering-operator/internal/bgptest"
	"github.com/peering-operator/peering-operator/internal/router"
)

// A peer drains one of its routes towards our gobgpd (RFC 8326): that
// route gets the lowest local preference gobgpd takes while the other
// keeps the neighbor's; ignoring GRACEFUL_SHUTDOWN gives it the
// neighbor's too, in place. An import policy built before the gshut
// statement is migrated in place on the next Apply: the session stays up
// and the drained route is honoured again.
func TestLiveHonourGracefulShutdown(t *testing.T) {
	a := netip.MustParseAddr("127.0.20.2")
	port, err := bgptest.FreePort(a)
	if err != nil {
		t.Fatal(err)
	}
	rt := bgptest.StartGoBGPD(t, bgptest.Config{Name: "router", ASN: rsASN, ListenAddr: rsAddr})
	ctx := testCtx(t)
	d := newDriver(t, rt, Options{PeerPort: uint16(port), ConnectRetry: time.Second})
	n := router.Neighbor{Address: a, PeerASN: 65001, Owner: "peering/gshut", Import: []router.Entry{upto("10.1.0.0/16", 16, 24)},
		Export: []router.Entry{exact(exported)}, Learned: router.LearnedPeer, IXID: 77, LocalPref: 200}
	des := func() router.Desired {
		return router.Desired{LocalASN: rsASN, RouterID: rsAddr, Neighbors: []router.Neighbor{n}}
	}
	if res, err := d.Apply(ctx, des()); err != nil || res.Added != 1 {
		t.Fatalf("first Apply: %+v %v", res, err)
	}
	applyNoWrites(t, d, des())
	normal, drained := "10.1.1.0/24", "10.1.2.0/24"
	bgptest.StartPeer(t, bgptest.PeerConfig{Addr: a, ASN: 65001, BGPPort: port, RouteServer: rt.Endpoint(), Passive: true,
		Routes: []bgptest.Route{route(normal), {Prefix: pp(drained), Communities: []string{router.GracefulShutdown}}}})
	prefs := func(what string, wantNormal, wantDrained uint32) {
		t.Helper()
		waitRoutes(t, what, func(ctx context.Context) ([]bgptest.Route, error) { return rt.RIB(ctx, 4) },
			func(rr []bgptest.Route) bool {
				got := map[string]uint32{}
				for _, r := range rr {
					if r.LocalPref != nil {
						got[r.Prefix.String()] = *r.LocalPref
					}
				}
				return got[normal] == wantNormal && got[drained] == wantDrained
			})
	}
	prefs("honoured: the drained route at the lowest preference", 200, drainLocalPref)
	up := waitState(t, d, a, "up", established)

	n.IgnoreGracefulShutdown = true
	if res, err := d.Apply(ctx, des()); err != nil || res.Updated != 1 || res.Added+res.Removed != 0 {
		t.Fatalf("ignore: %+v %v", res, err)
	}
	prefs("ignored: both at the neighbor's preference", 200, 200)
	applyNoWrites(t, d, des())
	n.IgnoreGracefulShutdown = false
	if res, err := d.Apply(ctx, des()); err != nil || res.Updated != 1 {
		t.Fatalf("honour again: %+v %v", res, err)
	}
	prefs("honoured again", 200, drainLocalPref)

	// The policy as an earlier version left it: strip, accept, reject.
	makeLegacy(t, rt, a, router.LearnedCommunity(rsASN, router.LearnedPeer, 77), 200)
	id := neighborID(a)
	r, err := d.readRunning(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range r.policies[policyName(id)].GetStatements() {
		names = append(names, s.GetName())
	}
	if want := []string{stmtRPKI(id), stmtBogon(id), stmtFirstAS(id), stmtStrip(id), stmtAccept(id), stmtReject(id)}; !slices.Equal(names, want) {
		t.Fatalf("legacy policy %v, want %v", names, want)
	}
	// Under the legacy policy the drained route is not honoured.
	if _, err := rt.API.ResetPeer(ctx, &api.ResetPeerRequest{Address: a.String(), Soft: true, Direction: api.ResetPeerRequest_IN}); err != nil {
		t.Fatal(err)
	}
	prefs("legacy policy: not honoured", 200, 200)
	res, writes := writesOf(t, d, des())
	if res.Updated != 1 || res.Added+res.Removed != 0 {
		t.Fatalf("migration: %+v", res)
	}
	t.Logf("migration of a legacy import policy: %d writes", writes)
	prefs("migrated: honoured", 200, drainLocalPref)
	stillUp(t, d, a, up)
	applyNoWrites(t, d, des())
}

// makeLegacy turns the import policy of the ordinary neighbor a on rt
// into the shape versions before the gshut statement built (strip, accept,
// reject; no gshut switch), as an upgrade finds it.
func makeLegacy(t *testing.T, rt *bgptest.Speaker, a netip.Addr, tag string, localPref uint32) {
	t.Helper()
	ctx := testCtx(t)
	id := neighborID(a)
	refer := func(names ...string) *api.Policy {
		p := &api.Policy{Name: policyName(id)}
		for _, nm := range names {
			p.Statements = append(p.Statements, &api.Statement{Name: nm})
		}
		return p
	}
	nm := nbModel{id: id, tag: tag, localPref: localPref}
	legacyReject := apiPolicyOf(policyName(id), nm.legacyStatements()).Statements[5]
	for _, step := range []func() error{
		func() error {
			_, err := rt.API.DeletePolicy(ctx, &api.DeletePolicyRequest{Policy: refer(stmtGShut(id), stmtAccept(id), stmtFinal(id)), PreserveStatements: true})
			return err
		},
		func() error {
			_, err := rt.API.AddStatement(ctx, &api.AddStatementRequest{Statement: legacyReject})
			return err
		},
		func() error {
			_, err := rt.API.AddPolicy(ctx, &api.AddPolicyRequest{Policy: refer(stmtAccept(id), stmtReject(id)), ReferExistingStatements: true})
			return err
		},
		func() error {
			_, err := rt.API.DeleteStatement(ctx, &api.DeleteStatementRequest{Statement: &api.Statement{Name: stmtGShut(id)}, All: true})
			return err
		},
		func() error {
			_, err := rt.API.DeleteStatement(ctx, &api.DeleteStatementRequest{Statement: &api.Statement{Name: stmtFinal(id)}, All: true})
			return err
		},
		func() error {
			_, err := rt.API.DeleteDefinedSet(ctx, &api.DeleteDefinedSetRequest{DefinedSet: &api.DefinedSet{DefinedType: api.DefinedType_COMMUNITY, Name: gshutSwitchName(id)}, All: true})
			return err
		},
	} {
		if err := step(); err != nil {
			t.Fatalf("building the legacy policy: %v", err)
		}
	}
}

// A migration that fails at any write is rolled back to the legacy
// policy (the router exactly as before), and the next Apply converges.
func TestMigrateGShutRollsBack(t *testing.T) {
	rs := startRS(t)
	f := &faults{}
	d := newDriver(t, rs, Options{Passive: true, Interceptors: []grpc.UnaryClientInterceptor{f.intercept}})
	n := router.Neighbor{Address: addrA, PeerASN: 65001, Owner: "peering/a", Import: []router.Entry{exact("10.1.0.0/24")},
		Export: []router.Entry{exact("198.51.100.0/24")}, Learned: router.LearnedPeer, IXID: 1, LocalPref: 200}
	des := desired(n)
	ctx := testCtx(t)
	tag := router.LearnedCommunity(rsASN, router.LearnedPeer, 1)
	for i := 1; ; i++ {
		mustApply(t, d, des)
		makeLegacy(t, rs, addrA, tag, 200)
		want, _ := d.readRunning(ctx)
		for _, applied := range []bool{false, true} {
			f.arm(i, applied)
			_, err := d.Apply(ctx, des)
			f.arm(0, false)
			if err == nil {
				if applied {
					t.Fatalf("write %d: Apply succeeded with the failure armed", i)
				}
				t.Logf("the migration takes %d writes; each one failed in turn was rolled back", i-1)
				applyNoWrites(t, d, des)
				return
			}
			if !strings.Contains(err.Error(), "injected failure") || !strings.Contains(err.Error(), "rolled back") {
				t.Fatalf("write %d: %v", i, err)
			}
			got, _ := d.readRunning(ctx)
			if diff := compareRunning(want, got); diff != "" {
				t.Fatalf("write %d (applied=%t) failed and the router differs: %s\n(err: %v)", i, applied, diff, err)
			}
		}
	}
}
