package gobgp

// Export policies and learned-community tags of ordinary neighbors, in
// the model and in plans against running states built here (makePlan is
// pure). The live counterpart is TestLiveExport.

import (
	"net/netip"
	"slices"
	"testing"

	api "github.com/osrg/gobgp/v3/api"
	"google.golang.org/protobuf/proto"

	"github.com/peering-operator/peering-operator/internal/router"
)

var (
	exA = ip("192.0.2.10")
	exB = ip("192.0.2.20")
	exR = ip("192.0.2.30") // a route-server client
)

func exportNeighbors() []router.Neighbor {
	return []router.Neighbor{
		{Address: exA, PeerASN: 64510, Owner: "peering/a", Import: []router.Entry{upto("10.1.0.0/16", 16, 24)},
			Export: []router.Entry{exact("198.51.100.0/24"), upto("203.0.113.0/24", 24, 25)}, Learned: router.LearnedPeer, IXID: 31},
		{Address: exB, PeerASN: 64520, Owner: "peering/b", Import: []router.Entry{upto("10.2.0.0/16", 16, 24)},
			Learned: router.LearnedRouteServer, IXID: 31}, // empty Export
		{Address: exR, PeerASN: 64530, Owner: "peering/r", RouteServerClient: true, Import: []router.Entry{upto("10.3.0.0/16", 16, 24)},
			Export: []router.Entry{exact("198.51.100.0/24")}, Learned: router.LearnedPeer, IXID: 31},
	}
}

func exportDesired(ns ...router.Neighbor) router.Desired {
	return router.Desired{LocalASN: 64500, RouterID: ip("192.0.2.1"), Neighbors: ns}
}

func modelNeighbor(t *testing.T, m *model, a string) nbModel {
	t.Helper()
	for _, n := range m.neighbors {
		if n.addr == ip(a) {
			return n
		}
	}
	t.Fatalf("no neighbor %s in the model", a)
	return nbModel{}
}

// established marks the running neighbor's session up.
func establish(r *running, addrs ...string) {
	for _, a := range addrs {
		r.peers[ip(a)].State = &api.PeerState{SessionState: api.PeerState_ESTABLISHED}
	}
}

func updateOf(t *testing.T, p *plan, a string) update {
	t.Helper()
	for _, u := range p.updates {
		if u.n.addr == ip(a) {
			return u
		}
	}
	t.Fatalf("no update of %s in %+v", a, p)
	return update{}
}

// TestExportPolicyRendered: an ordinary neighbor's export policy rejects
// our learned communities, accepts its export set, rejects the rest, each
// statement for that neighbor only; what GoBGP lists back reads as the
// same; a route-server client has none and tags nothing.
func TestExportPolicyRendered(t *testing.T) {
	m := mustModel(t, exportDesired(exportNeighbors()...), Options{})
	a := modelNeighbor(t, m, "192.0.2.10")
	id := a.id
	pol := apiExportPolicy(a)
	if pol.Name != "po-out-192_0_2_10" || len(pol.Statements) != 3 {
		t.Fatalf("export policy %v", pol)
	}
	nb := &api.MatchSet{Type: api.MatchSet_ANY, Name: neighborSetName(id)}
	want := []*api.Statement{
		{Name: "po-out-192_0_2_10-learned", Conditions: &api.Conditions{NeighborSet: nb, LargeCommunitySet: &api.MatchSet{Type: api.MatchSet_ANY, Name: learnedSet}},
			Actions: &api.Actions{RouteAction: api.RouteAction_REJECT}},
		{Name: "po-out-192_0_2_10-accept", Conditions: &api.Conditions{NeighborSet: nb, PrefixSet: &api.MatchSet{Type: api.MatchSet_ANY, Name: exportSetName(id)}},
			Actions: &api.Actions{RouteAction: api.RouteAction_ACCEPT}},
		{Name: "po-out-192_0_2_10-reject", Conditions: &api.Conditions{NeighborSet: nb}, Actions: &api.Actions{RouteAction: api.RouteAction_REJECT}},
	}
	for i, s := range pol.Statements {
		if !proto.Equal(s, want[i]) {
			t.Errorf("statement %d:\n%v\nwant\n%v", i, s, want[i])
		}
	}
	if got := policySignature(pol); !slices.Equal(got, a.exportStatements()) {
		t.Errorf("export policy reads back as %v", got)
	}
	if want := []string{"198.51.100.0/24 24..24", "203.0.113.0/24 24..25"}; !slices.Equal(pfxStrings(a.exports), want) {
		t.Errorf("export set %v, want %v", a.exports, want)
	}
	if want := []string{`^64500:[12]:\d+$`}; !slices.Equal(m.learned, want) {
		t.Errorf("learned set %q, want %q", m.learned, want)
	}
	r := modelNeighbor(t, m, "192.0.2.30")
	if r.exports != nil || r.tag != "" {
		t.Errorf("route-server client: exports %v tag %q, want none", r.exports, r.tag)
	}
	for _, s := range apiPolicy(r).Statements {
		if s.Actions.LargeCommunity != nil {
			t.Errorf("route-server client's statement %s tags routes", s.Name)
		}
	}
	// Route-server mode: no learned set, no export policy, no tag.
	rs := mustModel(t, exportDesired(exportNeighbors()...), Options{RouteServer: true})
	if rs.learned != nil {
		t.Errorf("route-server mode has a learned set %q", rs.learned)
	}
	for _, n := range rs.neighbors {
		if n.exports != nil || n.tag != "" {
			t.Errorf("route-server mode, %s: exports %v tag %q", n.addr, n.exports, n.tag)
		}
	}
}

func pfxStrings(ps []pfx) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.String())
	}
	return out
}

// TestExportEmpty: an empty Export keeps the fixed shape with an empty
// export set, which GoBGP never matches: only the rejects decide.
func TestExportEmpty(t *testing.T) {
	m := mustModel(t, exportDesired(exportNeighbors()...), Options{})
	b := modelNeighbor(t, m, "192.0.2.20")
	if len(b.exports) != 0 || len(apiPrefixes(b.exports)) != 0 {
		t.Fatalf("export set %v, want empty", b.exports)
	}
	if got := b.exportStatements(); len(got) != 3 || got[1].prefixSet != exportSetName(b.id) {
		t.Errorf("export statements %v", got)
	}
	for _, r := range []string{"198.51.100.0/24", "0.0.0.0/0", "10.2.0.0/24"} {
		if matchesSet(b.exports, pp(r)) {
			t.Errorf("an empty export set matches %s", r)
		}
	}
}

// TestImportTagging: with Learned set, the accept statement of an
// ordinary neighbor's import policy adds LocalASN:Learned:IXID (GoBGP's
// large community action, ADD) and reads back the same; without, nothing.
func TestImportTagging(t *testing.T) {
	ns := exportNeighbors()
	ns[1].Learned = router.LearnedNone
	m := mustModel(t, exportDesired(ns...), Options{})
	for _, c := range []struct {
		addr, tag string
	}{{"192.0.2.10", "64500:1:31"}, {"192.0.2.20", ""}} {
		n := modelNeighbor(t, m, c.addr)
		pol := apiPolicy(n)
		var accept, strip *api.Statement
		for i, s := range pol.Statements {
			switch s.Name {
			case stmtAccept(n.id):
				accept = s
			case stmtStrip(n.id):
				strip = s
				if pol.Statements[i+1].Name != stmtGShut(n.id) || pol.Statements[i+2].Name != stmtAccept(n.id) {
					t.Errorf("%s: the strip is not right before the gshut and accept statements", c.addr)
				}
			case stmtGShut(n.id):
				if !proto.Equal(s.Actions.LargeCommunity, tagAction(c.tag)) {
					t.Errorf("%s: gshut statement tags %v, want %q like the accept one", c.addr, s.Actions.LargeCommunity, c.tag)
				}
			default:
				if s.Actions.LargeCommunity != nil {
					t.Errorf("%s: statement %s changes large communities", c.addr, s.Name)
				}
			}
		}
		// Our learned communities go first, whatever the tag: tagging
		// twice (a soft reset in over an adj-rib-in GoBGP stored tagged)
		// leaves one.
		wantStrip := &api.Statement{Name: stmtStrip(n.id), Conditions: &api.Conditions{
			NeighborSet: &api.MatchSet{Type: api.MatchSet_ANY, Name: neighborSetName(n.id)}, LargeCommunitySet: &api.MatchSet{Type: api.MatchSet_ANY, Name: learnedSet}},
			Actions: &api.Actions{LargeCommunity: &api.CommunityAction{Type: api.CommunityAction_REMOVE, Communities: []string{`^64500:[12]:\d+$`}}}}
		if !proto.Equal(strip, wantStrip) {
			t.Errorf("%s: strip statement\n%v\nwant\n%v", c.addr, strip, wantStrip)
		}
		wantAction := tagAction(c.tag)
		if c.tag != "" && (wantAction.Type != api.CommunityAction_ADD || !slices.Equal(wantAction.Communities, []string{c.tag})) {
			t.Fatalf("tag action %v", wantAction)
		}
		// and the local preference explicit (see normalLocalPref).
		want := &api.Actions{RouteAction: api.RouteAction_ACCEPT, LargeCommunity: wantAction, LocalPref: &api.LocalPrefAction{Value: normalLocalPref}}
		if !proto.Equal(accept.Actions, want) {
			t.Errorf("%s: accept statement's actions %v, want tag %q and local-pref %d", c.addr, accept.Actions, c.tag, normalLocalPref)
		}
		if got := policySignature(pol); !slices.Equal(got, n.statements()) {
			t.Errorf("%s: import policy reads back as %v", c.addr, got)
		}
	}
	if got := router.LearnedCommunity(64500, router.LearnedRouteServer, 31); got != "64500:2:31" {
		t.Errorf("LearnedCommunity = %s", got)
	}
	// A tag GoBGP would apply differently is not ours, nor a strip that
	// also accepts.
	n := modelNeighbor(t, m, "192.0.2.10")
	for _, edit := range []func(s *api.Statement){
		func(s *api.Statement) {
			if s.Name == stmtAccept(n.id) {
				s.Actions.LargeCommunity.Type = api.CommunityAction_REPLACE
			}
		},
		func(s *api.Statement) {
			if s.Name == stmtStrip(n.id) {
				s.Actions.RouteAction = api.RouteAction_ACCEPT
			}
		},
		func(s *api.Statement) {
			if s.Name == stmtStrip(n.id) {
				s.Actions.LargeCommunity.Communities = append(s.Actions.LargeCommunity.Communities, "^1:")
			}
		},
	} {
		pol := apiPolicy(n)
		for _, s := range pol.Statements {
			edit(s)
		}
		if slices.Equal(policySignature(pol), n.statements()) {
			t.Errorf("an edited policy reads back as ours: %v", pol)
		}
	}
}

// TestPlanExportOfRunningIsEmpty: the plan against what the driver applied
// (ordinary mode with a route-server client among the neighbors, empty
// and non-empty exports, tags, a hand-made global export policy) is empty.
func TestPlanExportOfRunningIsEmpty(t *testing.T) {
	for _, o := range []Options{{}, {RouteServer: true}} {
		m := mustModel(t, exportDesired(exportNeighbors()...), o)
		r := runningOf(m, "handmade")
		establish(r, "192.0.2.10", "192.0.2.20", "192.0.2.30")
		if p := mustPlan(t, m, r); !p.empty() {
			t.Errorf("RouteServer=%t: plan against its own running state: %+v", o.RouteServer, p)
		}
	}
}

// TestPlanExportNewNeighbor: a new ordinary neighbor's export objects are
// made with its filter (before the neighbor), its policy goes ahead of a
// hand-made one in the global export policy, whose default is kept; the
// learned set is made once.
func TestPlanExportNewNeighbor(t *testing.T) {
	ns := exportNeighbors()
	m0 := mustModel(t, exportDesired(ns[2]), Options{})
	r := runningOf(m0, "handmade")
	delete(r.lcSets, learnedSet) // as it is with only a route-server client
	if len(r.globalExport.Policies) != 1 {
		t.Fatalf("running export policy %v", r.globalExport.Policies)
	}
	p := mustPlan(t, mustModel(t, exportDesired(ns...), Options{}), r)
	if len(p.adds) != 2 || !p.learnedCreate || p.added != 2 {
		t.Fatalf("adds %d, learnedCreate %t: %+v", len(p.adds), p.learnedCreate, p)
	}
	want := []string{exportPolicyName(neighborID(exA)), exportPolicyName(neighborID(exB)), "handmade"}
	if !p.exportChange || !slices.Equal(p.exportAfter, want) || p.exportDefault != api.RouteAction_ACCEPT {
		t.Errorf("global export policy %v (change %t, default %v), want %v with ACCEPT kept", p.exportAfter, p.exportChange, p.exportDefault, want)
	}
	if want := []string{policyName(neighborID(exA)), policyName(neighborID(exB)), "handmade"}; !slices.Equal(p.globalAfter, want) {
		t.Errorf("global import policy %v, want %v", p.globalAfter, want)
	}
}

// TestPlanExportEdit: export entries change in place (never the neighbor);
// a session that is up is reset out when entries come, and looked at for
// a hard reset when entries go; one that is down is not reset at all.
func TestPlanExportEdit(t *testing.T) {
	ns := exportNeighbors()
	r := runningOf(mustModel(t, exportDesired(ns...), Options{}))
	ns[0].Export = []router.Entry{exact("198.51.100.0/24"), exact("192.0.2.0/24")} // one goes, one comes
	ns[1].Export = []router.Entry{exact("198.51.100.0/24")}                        // from empty
	m := mustModel(t, exportDesired(ns...), Options{})
	p := mustPlan(t, m, r)
	if len(p.deletePeers)+len(p.adds) != 0 || p.exportChange || len(p.updates) != 2 || p.updated != 2 {
		t.Fatalf("plan %+v, want two updates in place", p)
	}
	a, b := updateOf(t, p, "192.0.2.10"), updateOf(t, p, "192.0.2.20")
	if pfxStrings(a.exAdd)[0] != "192.0.2.0/24 24..24" || pfxStrings(a.exDel)[0] != "203.0.113.0/24 24..25" || len(b.exAdd) != 1 || len(b.exDel) != 0 {
		t.Errorf("A: add %v del %v; B: add %v del %v", a.exAdd, a.exDel, b.exAdd, b.exDel)
	}
	if a.out || a.narrows || b.out || b.narrows || a.reset || b.reset {
		t.Errorf("sessions down, yet resets planned: %+v %+v", a, b)
	}
	establish(r, "192.0.2.10", "192.0.2.20")
	p = mustPlan(t, m, r)
	a, b = updateOf(t, p, "192.0.2.10"), updateOf(t, p, "192.0.2.20")
	if !a.narrows || !a.out || b.narrows || !b.out || a.reset || b.reset {
		t.Errorf("A narrows %t out %t, B narrows %t out %t (resets in %t %t); want A looked at, both reset out, none in", a.narrows, a.out, b.narrows, b.out, a.reset, b.reset)
	}
}

// TestPlanRetag: a Learned or IXID change edits the accept statement's
// tag in place (no session reset); routes are tagged again by a soft
// reset in. A route-server client never gets a tag.
func TestPlanRetag(t *testing.T) {
	ns := exportNeighbors()
	r := runningOf(mustModel(t, exportDesired(ns...), Options{}))
	establish(r, "192.0.2.10", "192.0.2.20", "192.0.2.30")
	ns[0].IXID = 32
	ns[1].Learned = router.LearnedNone
	ns[2].Learned = router.LearnedRouteServer
	p := mustPlan(t, mustModel(t, exportDesired(ns...), Options{}), r)
	if len(p.deletePeers)+len(p.adds) != 0 || len(p.updates) != 2 {
		t.Fatalf("plan %+v, want A and B retagged in place", p)
	}
	a, b := updateOf(t, p, "192.0.2.10"), updateOf(t, p, "192.0.2.20")
	if a.was.tag != "64500:1:31" || a.n.tag != "64500:1:32" || !a.reset || a.out || a.narrows {
		t.Errorf("A: tag %q -> %q, reset in %t, out %t", a.was.tag, a.n.tag, a.reset, a.out)
	}
	if b.was.tag != "64500:2:31" || b.n.tag != "" || !b.reset {
		t.Errorf("B: tag %q -> %q, reset in %t", b.was.tag, b.n.tag, b.reset)
	}
}

// TestPlanUpgradeReplacesOrdinary: neighbors configured by a driver from
// before exports (no strip statement, no export objects) are replaced,
// once, like any policy of another shape; route-server clients are not
// touched.
func TestPlanUpgradeReplacesOrdinary(t *testing.T) {
	ns := exportNeighbors()
	m := mustModel(t, exportDesired(ns...), Options{})
	r := runningOf(m, "handmade")
	for _, n := range m.neighbors {
		delete(r.policies, exportPolicyName(n.id))
		delete(r.prefixSets, exportSetName(n.id))
		for _, s := range exportStmtNames(n.id) {
			delete(r.statements, s)
		}
		pol := r.policies[policyName(n.id)]
		pol.Statements = slices.DeleteFunc(pol.Statements, func(s *api.Statement) bool { return s.Name == stmtStrip(n.id) })
		for _, s := range pol.Statements {
			s.Actions.LargeCommunity = nil
		}
		delete(r.statements, stmtStrip(n.id))
	}
	r.globalExport.Policies = []*api.Policy{{Name: "handmade"}}
	delete(r.lcSets, learnedSet)
	establish(r, "192.0.2.10", "192.0.2.30")
	p := mustPlan(t, m, r)
	if !slices.Equal(p.deletePeers, []netip.Addr{exA, exB}) || len(p.adds) != 2 || !p.learnedCreate || len(p.updates) != 0 {
		t.Fatalf("delete %v adds %d updates %d learnedCreate %t; want A and B replaced, R kept", p.deletePeers, len(p.adds), len(p.updates), p.learnedCreate)
	}
	want := []string{exportPolicyName(neighborID(exA)), exportPolicyName(neighborID(exB)), "handmade"}
	if !slices.Equal(p.exportAfter, want) {
		t.Errorf("global export policy %v, want %v", p.exportAfter, want)
	}
	if p := mustPlan(t, m, runningOf(m, "handmade")); !p.empty() {
		t.Errorf("after the upgrade: %+v", p)
	}
}

// TestPlanExportReplaced: an export policy edited by hand is not ours: the
// neighbor is replaced (its leftovers leave the global export policy
// first); a route-server client with export objects likewise. Removing
// the last ordinary neighbor removes the learned set, unless a hand-made
// policy uses it.
func TestPlanExportReplaced(t *testing.T) {
	ns := exportNeighbors()
	m := mustModel(t, exportDesired(ns...), Options{})
	r := runningOf(m, "handmade")
	outA := exportPolicyName(neighborID(exA))
	pol := proto.Clone(r.policies[outA]).(*api.Policy)
	pol.Statements = pol.Statements[1:] // the learned-community reject is gone
	r.policies[outA] = pol
	p := mustPlan(t, m, r)
	if !slices.Equal(p.deletePeers, []netip.Addr{exA}) || len(p.adds) != 1 || !slices.Equal(p.cleanBefore, []string{neighborID(exA)}) {
		t.Fatalf("delete %v adds %d clean before %v; want A replaced", p.deletePeers, len(p.adds), p.cleanBefore)
	}
	if want := []string{exportPolicyName(neighborID(exB)), "handmade"}; !slices.Equal(p.exportBefore, want) {
		t.Errorf("global export policy before the cleanup %v, want %v", p.exportBefore, want)
	}
	if want := []string{outA, exportPolicyName(neighborID(exB)), "handmade"}; !slices.Equal(p.exportAfter, want) {
		t.Errorf("global export policy %v, want %v", p.exportAfter, want)
	}

	r = runningOf(m)
	rid := neighborID(exR)
	r.prefixSets[exportSetName(rid)] = &api.DefinedSet{DefinedType: api.DefinedType_PREFIX, Name: exportSetName(rid)}
	if p := mustPlan(t, m, r); !slices.Equal(p.deletePeers, []netip.Addr{exR}) {
		t.Errorf("route-server client with an export set: delete %v, want it replaced", p.deletePeers)
	}

	r = runningOf(m)
	p = mustPlan(t, mustModel(t, exportDesired(ns[2]), Options{}), r)
	if !p.learnedDelete || !slices.Equal(p.cleanAfter, []string{neighborID(exA), neighborID(exB)}) || len(p.exportAfter) != 0 || !p.exportChange {
		t.Errorf("last ordinary neighbors removed: learnedDelete %t clean after %v export %v (change %t)", p.learnedDelete, p.cleanAfter, p.exportAfter, p.exportChange)
	}
	r.learnedSetForeign = true
	if p := mustPlan(t, mustModel(t, exportDesired(ns[2]), Options{}), r); p.learnedDelete {
		t.Error("the learned set is deleted while a hand-made policy uses it")
	}
}

// TestPlanHeldKeepsExport: a held ordinary neighbor keeps its export set,
// policy and place in the global export policy, and the learned set its
// policy uses, when every other neighbor goes or changes.
func TestPlanHeldKeepsExport(t *testing.T) {
	ns := exportNeighbors()
	r := runningOf(mustModel(t, exportDesired(ns...), Options{}), "handmade")
	ns[1].Export = []router.Entry{exact("192.0.2.0/24")} // B, held, would change
	hold := []router.Held{{Address: exB, Owner: ns[1].Owner}}
	for _, keep := range [][]router.Neighbor{{}, {ns[0]}, {ns[2]}} {
		d := exportDesired(keep...)
		d.Held = hold
		m := mustModel(t, d, Options{})
		p := mustPlan(t, m, r)
		if got := touching(p, r, exB); len(got) != 0 {
			t.Errorf("keeping %d: the plan touches held B: %v", len(keep), got)
		}
		if p.learnedDelete {
			t.Errorf("keeping %d: the learned set held B's policy uses is deleted", len(keep))
		}
		outB := exportPolicyName(neighborID(exB))
		if p.exportChange && !slices.Contains(p.exportAfter, outB) {
			t.Errorf("keeping %d: global export policy %v without held B's", len(keep), p.exportAfter)
		}
	}
}
