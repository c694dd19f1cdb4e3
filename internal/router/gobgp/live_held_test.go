package gobgp

// Live test of held neighbors (router.Held) against real gobgpd processes
// on loopback, in both driver modes.

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/peering-operator/peering-operator/internal/bgptest"
	"github.com/peering-operator/peering-operator/internal/router"
)

// clearState drops every field named "state" (counters, timers, session
// facts), leaving what is configured.
func clearState(m protoreflect.Message) {
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.Name() == "state":
			m.Clear(fd)
		case fd.IsList() && fd.Message() != nil:
			for i := range v.List().Len() {
				clearState(v.List().Get(i).Message())
			}
		case fd.Message() != nil && !fd.IsMap():
			clearState(v.Message())
		}
		return true
	})
}

// heldSnapshot is everything gobgpd holds of one neighbor, as its API
// lists it: the neighbor's configuration, its defined sets, policies,
// statements and policy assignments (a route-server client's own, or
// its places in the global import and export policies), and the shared
// bogon ASN and learned community sets.
type heldSnapshot struct {
	peer   *api.Peer
	uptime time.Time
	objs   []proto.Message
	global []string // names in the global import policy
	export []string // names in the global export policy
}

func snapshotOf(t *testing.T, rs *bgptest.Speaker, a netip.Addr) heldSnapshot {
	t.Helper()
	ctx := testCtx(t)
	id := neighborID(a)
	peers, err := recvAll(rs.API.ListPeer(ctx, &api.ListPeerRequest{Address: a.String()}))
	if err != nil || len(peers) != 1 {
		t.Fatalf("ListPeer %s: %v %v", a, peers, err)
	}
	s := heldSnapshot{peer: proto.Clone(peers[0].Peer).(*api.Peer), uptime: peers[0].Peer.GetTimers().GetState().GetUptime().AsTime()}
	clearState(s.peer.ProtoReflect())
	for _, ds := range []struct {
		typ  api.DefinedType
		name string
	}{
		{api.DefinedType_PREFIX, prefixSetName(id)}, {api.DefinedType_PREFIX, bogonSwitchName(id)},
		{api.DefinedType_AS_PATH, firstASSetName(id)}, {api.DefinedType_AS_PATH, bogonASNSet}, {api.DefinedType_NEIGHBOR, neighborSetName(id)},
		{api.DefinedType_PREFIX, exportSetName(id)}, {api.DefinedType_LARGE_COMMUNITY, learnedSet},
	} {
		sets, err := recvAll(rs.API.ListDefinedSet(ctx, &api.ListDefinedSetRequest{DefinedType: ds.typ, Name: ds.name}))
		if err != nil {
			t.Fatalf("ListDefinedSet %s: %v", ds.name, err)
		}
		for _, r := range sets {
			s.objs = append(s.objs, r.DefinedSet)
		}
	}
	pols, err := recvAll(rs.API.ListPolicy(ctx, &api.ListPolicyRequest{Name: policyName(id)}))
	if err != nil || len(pols) != 1 {
		t.Fatalf("ListPolicy %s: %v %v", policyName(id), pols, err)
	}
	s.objs = append(s.objs, pols[0].Policy)
	// An ordinary peer's export policy (a route-server client has none).
	pols, err = recvAll(rs.API.ListPolicy(ctx, &api.ListPolicyRequest{Name: exportPolicyName(id)}))
	if err != nil {
		t.Fatalf("ListPolicy %s: %v", exportPolicyName(id), err)
	}
	for _, p := range pols {
		s.objs = append(s.objs, p.Policy)
	}
	for _, name := range stmtNames(id) {
		st, err := recvAll(rs.API.ListStatement(ctx, &api.ListStatementRequest{Name: name}))
		if err != nil {
			t.Fatalf("ListStatement %s: %v", name, err)
		}
		for _, r := range st {
			s.objs = append(s.objs, r.Statement)
		}
	}
	as, err := recvAll(rs.API.ListPolicyAssignment(ctx, &api.ListPolicyAssignmentRequest{}))
	if err != nil {
		t.Fatalf("ListPolicyAssignment: %v", err)
	}
	for _, r := range as {
		switch r.Assignment.Name {
		case a.String():
			s.objs = append(s.objs, r.Assignment)
		case globalRIB:
			for _, p := range r.Assignment.Policies {
				if r.Assignment.Direction == api.PolicyDirection_IMPORT {
					s.global = append(s.global, p.Name)
				} else {
					s.export = append(s.export, p.Name)
				}
			}
		}
	}
	return s
}

// sameObjects fails unless a and b hold equal objects (not the neighbor).
func sameObjects(t *testing.T, what string, a, b heldSnapshot) {
	t.Helper()
	if len(a.objs) != len(b.objs) {
		t.Fatalf("%s: %d objects, were %d", what, len(b.objs), len(a.objs))
	}
	for i := range a.objs {
		if !proto.Equal(a.objs[i], b.objs[i]) {
			t.Errorf("%s: changed\n%s\nwas\n%s", what, prototext.Format(b.objs[i]), prototext.Format(a.objs[i]))
		}
	}
}

func samePeer(t *testing.T, what string, a, b *api.Peer) {
	t.Helper()
	if !proto.Equal(a, b) {
		t.Errorf("%s: neighbor changed\n%s\nwas\n%s", what, prototext.Format(b), prototext.Format(a))
	}
}

// withoutSession is a snapshot's neighbor without the local address of
// the session (ListPeer shows it while one is up) and with admin-down set.
func withoutSession(p *api.Peer, adminDown bool) *api.Peer {
	c := proto.Clone(p).(*api.Peer)
	c.Transport.LocalAddress = ""
	c.Conf.AdminDown = adminDown
	return c
}

// waitAdmin polls gobgpd until the neighbor's admin state is down (and
// its session is not up) or up.
func waitAdmin(t *testing.T, rs *bgptest.Speaker, a netip.Addr, down bool) {
	t.Helper()
	ctx := testCtx(t)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last *api.Peer
	for {
		peers, err := recvAll(rs.API.ListPeer(ctx, &api.ListPeerRequest{Address: a.String()}))
		if err == nil && len(peers) == 1 {
			last = peers[0].Peer
			st := last.GetState()
			isDown := st.GetAdminState() == api.PeerState_DOWN && st.GetSessionState() != api.PeerState_ESTABLISHED
			if last.GetConf().GetAdminDown() == down && isDown == down && (down || st.GetAdminState() == api.PeerState_UP) {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("neighbor %s: waiting for admin down=%t; last %v", a, down, last.GetState())
		case <-tick.C:
		}
	}
}

// TestLiveHeld: A and B are configured with filters and sessions up. An
// Apply holds A while it removes B and adds C, another removes C: A, its
// session and every object of it stay as they were (the shared bogon ASN
// set too, which A's policy uses), B and C are gone. Held with Shutdown
// takes A down and up again with one write each and changes nothing else;
// afterwards A is exactly what the driver builds for it.
func TestLiveHeld(t *testing.T) {
	for _, lm := range liveModes(t) {
		t.Run(lm.name, func(t *testing.T) {
			rs := startRS(t)
			d := newDriver(t, rs, lm.o)
			nA := router.Neighbor{Address: addrA, PeerASN: 65001, Owner: "peering/a", Description: "peer A", MaxPrefixes: 10,
				Import: []router.Entry{upto("10.1.0.0/16", 16, 24)}, EnforceFirstAS: true, // its policy uses the bogon set all the same
				Export: []router.Entry{exact("198.51.100.0/24")}, Learned: router.LearnedPeer, IXID: 7}
			nB := router.Neighbor{Address: addrB, PeerASN: 65002, Owner: "peering/b", Import: []router.Entry{exact("10.2.0.0/24")}, RejectBogonASNs: true}
			nC := router.Neighbor{Address: addrC, PeerASN: 65003, Owner: "peering/c", Import: []router.Entry{exact("10.3.0.0/24")}}
			mustApply(t, d, desired(nA, nB))
			lm.peer(t, rs, addrA, 65001, route("10.1.1.0/24"), route("10.9.0.0/24"))
			lm.peer(t, rs, addrB, 65002, route("10.2.0.0/24"))
			oneOfTwo := func(s router.NeighborState) bool { return established(s) && s.Received == 2 && s.Accepted == 1 }
			waitState(t, d, addrA, "1 of 2 accepted", oneOfTwo)
			waitState(t, d, addrB, "up", established)
			before := snapshotOf(t, rs, addrA)
			polA, polC := policyName(neighborID(addrA)), policyName(neighborID(addrC))
			outA, outC := exportPolicyName(neighborID(addrA)), exportPolicyName(neighborID(addrC))

			hold := func(shutdown *bool) []router.Held {
				return []router.Held{{Address: addrA, Owner: nA.Owner, Shutdown: shutdown}}
			}
			unchanged := func(what string, wantGlobal, wantExport []string) {
				t.Helper()
				now := snapshotOf(t, rs, addrA)
				samePeer(t, what, before.peer, now.peer)
				sameObjects(t, what, before, now)
				if !now.uptime.Equal(before.uptime) {
					t.Errorf("%s: A's session was reset (up since %v, was %v)", what, now.uptime, before.uptime)
				}
				if lm.o.RouteServer {
					wantGlobal, wantExport = nil, nil
				}
				if !slices.Equal(now.global, wantGlobal) || !slices.Equal(now.export, wantExport) {
					t.Errorf("%s: global import policy %v, export policy %v; want %v, %v", what, now.global, now.export, wantGlobal, wantExport)
				}
				waitState(t, d, addrA, "1 of 2 accepted, still", oneOfTwo)
			}
			gone := func(what string, a netip.Addr) {
				t.Helper()
				if _, err := rs.SessionState(testCtx(t), a); err == nil {
					t.Errorf("%s: neighbor %s still configured", what, a)
				}
				if left := objectsOf(t, d, neighborID(a)); len(left) != 0 {
					t.Errorf("%s: objects of %s left: %v", what, a, left)
				}
			}

			// Held while B goes and C comes (the global import policy is
			// rewritten in the ordinary mode).
			des := desired(nC)
			des.Held = hold(nil)
			if res := mustApply(t, d, des); res.Added != 1 || res.Removed != 1 || res.Updated != 0 {
				t.Fatalf("hold A, remove B, add C: %+v", res)
			}
			unchanged("B removed, C added", []string{polA, polC}, []string{outA, outC})
			gone("B removed", addrB)
			applyNoWrites(t, d, des)

			// Held alone: C goes, the bogon ASN set stays for A's policy.
			des = desired()
			des.Held = hold(nil)
			if res := mustApply(t, d, des); res.Removed != 1 || res.Added+res.Updated != 0 {
				t.Fatalf("hold A, remove C: %+v", res)
			}
			unchanged("C removed", []string{polA}, []string{outA})
			gone("C removed", addrC)
			applyNoWrites(t, d, des)

			// Shutdown, then not: one write each, nothing else changes.
			for _, down := range []bool{true, false} {
				what := fmt.Sprintf("held with Shutdown=%t", down)
				des.Held = hold(&down)
				res, writes := writesOf(t, d, des)
				if res.Updated != 1 || res.Added+res.Removed != 0 || writes != 1 {
					t.Fatalf("%s: %+v in %d writes, want 1 update in 1 write", what, res, writes)
				}
				waitAdmin(t, rs, addrA, down)
				if !down {
					waitState(t, d, addrA, "1 of 2 accepted again", oneOfTwo)
				}
				now := snapshotOf(t, rs, addrA)
				samePeer(t, what, withoutSession(before.peer, down), withoutSession(now.peer, down))
				sameObjects(t, what, before, now)
				if !lm.o.RouteServer && (!slices.Equal(now.global, []string{polA}) || !slices.Equal(now.export, []string{outA})) {
					t.Errorf("%s: global import policy %v, export policy %v", what, now.global, now.export)
				}
				applyNoWrites(t, d, des)
			}
			des.Held = hold(nil)
			applyNoWrites(t, d, des)
			// Held no more: A is what the driver would write.
			applyNoWrites(t, d, desired(nA))
		})
	}
}

// TestLiveHeldRollsBack fails each write of an Apply that shuts a held
// neighbor down, adds one and removes another, in turn (before and after
// the write reaches gobgpd): the held neighbor is back as it was each time.
func TestLiveHeldRollsBack(t *testing.T) {
	for _, mode := range bothModes {
		t.Run(mode.name, func(t *testing.T) {
			rs := startRS(t)
			f := &faults{}
			mode.o.Interceptors = []grpc.UnaryClientInterceptor{f.intercept}
			d := newDriver(t, rs, mode.o)
			nA := router.Neighbor{Address: addrA, PeerASN: 65001, Owner: "peering/a", MaxPrefixes: 10, Import: []router.Entry{exact("10.1.0.0/24")}, RejectBogonASNs: true}
			nB := router.Neighbor{Address: addrB, PeerASN: 65002, Owner: "peering/b", Import: []router.Entry{exact("10.2.0.0/24")}}
			nC := router.Neighbor{Address: addrC, PeerASN: 65003, Owner: "peering/c", Import: []router.Entry{exact("10.3.0.0/24")}}
			down := true
			after := desired(nC)
			after.Held = []router.Held{{Address: addrA, Owner: nA.Owner, Shutdown: &down}}
			ctx := testCtx(t)
			idB := neighborID(addrB)
			for n := 1; ; n++ {
				mustApply(t, d, desired(nA, nB))
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
						if r, _ := d.readRunning(ctx); !r.peers[addrA].GetConf().GetAdminDown() {
							t.Fatal("A is not shut down")
						}
						return
					}
					if !strings.Contains(err.Error(), "injected failure") || !strings.Contains(err.Error(), "rolled back") {
						t.Fatalf("write %d: %v", n, err)
					}
					// Removals are not undone (B), everything else is as
					// before: A up, C absent.
					got, _ := d.readRunning(ctx)
					if diff := compareRunning(without(want, idB), without(got, idB)); diff != "" {
						t.Fatalf("write %d (applied=%t) failed and the router differs: %s\n(err: %v)", n, applied, diff, err)
					}
					if !sameAssignments(want.rsImport[addrA.String()], got.rsImport[addrA.String()]) || !sameAssignments(want.rsExport[addrA.String()], got.rsExport[addrA.String()]) {
						t.Fatalf("write %d: A's assignments differ: %v %v", n, got.rsImport[addrA.String()], got.rsExport[addrA.String()])
					}
					mustApply(t, d, desired(nA, nB))
					applyNoWrites(t, d, desired(nA, nB))
				}
			}
		})
	}
}

func sameAssignments(a, b *api.PolicyAssignment) bool {
	return proto.Equal(policyNames(a), policyNames(b))
}
