package gobgp

// Plans with held neighbors (router.Held), computed against running states
// built here: makePlan is pure, so no gobgpd is needed. The live
// counterpart is TestLiveHeld.

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	api "github.com/osrg/gobgp/v3/api"
	"google.golang.org/protobuf/proto"

	"github.com/peering-operator/peering-operator/internal/router"
)

var (
	heldA = ip("192.0.2.10")
	heldH = ip("192.0.2.20") // the held one
	heldB = ip("192.0.2.30")
	heldC = ip("192.0.2.40")
)

func heldNeighbor(a netip.Addr, asn uint32, prefix string) router.Neighbor {
	return router.Neighbor{Address: a, PeerASN: asn, Owner: fmt.Sprintf("peering/as%d", asn), MaxPrefixes: 10,
		Import: []router.Entry{upto(prefix, 16, 24)}, RejectBogonASNs: true, EnforceFirstAS: true,
		Export: []router.Entry{exact("198.51.100.0/24")}, Learned: router.LearnedPeer, IXID: 7}
}

func heldDesired(held []router.Held, ns ...router.Neighbor) router.Desired {
	return router.Desired{LocalASN: 64500, RouterID: ip("192.0.2.1"), Neighbors: ns, Held: held}
}

func mustModel(t *testing.T, d router.Desired, o Options) *model {
	t.Helper()
	m, err := buildModel(d, o)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// runningOf is what readRunning reads from a gobgpd on which the driver
// applied m (no session up), with unmanaged policies appended to the
// global import and export policies as if configured by hand.
func runningOf(m *model, unmanaged ...string) *running {
	r := &running{
		global: &api.Global{Asn: m.asn, RouterId: m.routerID.String()},
		peers:  map[netip.Addr]*api.Peer{}, prefixSets: map[string]*api.DefinedSet{}, nbSets: map[string]*api.DefinedSet{}, asPathSets: map[string]*api.DefinedSet{},
		lcSets: map[string]*api.DefinedSet{}, commSets: map[string]*api.DefinedSet{},
		policies: map[string]*api.Policy{}, statements: map[string]bool{}, rsImport: map[string]*api.PolicyAssignment{}, rsExport: map[string]*api.PolicyAssignment{},
		rpki: map[string]bool{},
	}
	global := &api.PolicyAssignment{Name: globalRIB, Direction: api.PolicyDirection_IMPORT}
	export := &api.PolicyAssignment{Name: globalRIB, Direction: api.PolicyDirection_EXPORT, DefaultAction: api.RouteAction_ACCEPT}
	for _, n := range m.neighbors {
		r.peers[n.addr] = apiPeer(n.addr, n.id, n.spec)
		r.prefixSets[prefixSetName(n.id)] = &api.DefinedSet{DefinedType: api.DefinedType_PREFIX, Name: prefixSetName(n.id), Prefixes: apiPrefixes(n.prefixes)}
		r.prefixSets[bogonSwitchName(n.id)] = &api.DefinedSet{DefinedType: api.DefinedType_PREFIX, Name: bogonSwitchName(n.id), Prefixes: apiPrefixes(n.bogonSwitch)}
		r.asPathSets[firstASSetName(n.id)] = &api.DefinedSet{DefinedType: api.DefinedType_AS_PATH, Name: firstASSetName(n.id), List: n.firstAS}
		pol := apiPolicy(n)
		r.policies[pol.Name] = pol
		for _, s := range pol.Statements {
			r.statements[s.Name] = true
		}
		if n.spec.rsClient {
			r.rsImport[n.addr.String()] = rsAssignment(n.addr, n.id)
			// GoBGP lists a default it was not given as accept.
			r.rsExport[n.addr.String()] = &api.PolicyAssignment{Name: n.addr.String(), Direction: api.PolicyDirection_EXPORT, DefaultAction: api.RouteAction_ACCEPT}
			continue
		}
		r.nbSets[neighborSetName(n.id)] = &api.DefinedSet{DefinedType: api.DefinedType_NEIGHBOR, Name: neighborSetName(n.id), List: []string{n.neighborSetMember()}}
		r.commSets[gshutSwitchName(n.id)] = &api.DefinedSet{DefinedType: api.DefinedType_COMMUNITY, Name: gshutSwitchName(n.id), List: n.gshutSwitch}
		global.Policies = append(global.Policies, &api.Policy{Name: pol.Name})
		r.prefixSets[exportSetName(n.id)] = &api.DefinedSet{DefinedType: api.DefinedType_PREFIX, Name: exportSetName(n.id), Prefixes: apiPrefixes(n.exports)}
		ex := apiExportPolicy(n)
		r.policies[ex.Name] = ex
		for _, s := range ex.Statements {
			r.statements[s.Name] = true
		}
		export.Policies = append(export.Policies, &api.Policy{Name: ex.Name})
	}
	for _, u := range unmanaged {
		global.Policies = append(global.Policies, &api.Policy{Name: u})
		export.Policies = append(export.Policies, &api.Policy{Name: u})
	}
	r.globalImport, r.globalExport = global, export
	if m.bogonASNs != nil {
		r.asPathSets[bogonASNSet] = &api.DefinedSet{DefinedType: api.DefinedType_AS_PATH, Name: bogonASNSet, List: m.bogonASNs}
	}
	if m.learned != nil {
		r.lcSets[learnedSet] = &api.DefinedSet{DefinedType: api.DefinedType_LARGE_COMMUNITY, Name: learnedSet, List: m.learned}
	}
	return r
}

func mustPlan(t *testing.T, m *model, r *running) *plan {
	t.Helper()
	p, err := makePlan(m, r)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// touching lists every part of p that would write anything of the
// neighbor at a, other than an admin-state change; r is what runs.
func touching(p *plan, r *running, a netip.Addr) []string {
	id := neighborID(a)
	var out []string
	if slices.Contains(p.deletePeers, a) {
		out = append(out, "deletePeers")
	}
	for _, n := range p.adds {
		if n.addr == a {
			out = append(out, "adds")
		}
	}
	for _, u := range p.updates {
		if u.n.addr == a {
			out = append(out, "updates")
		}
	}
	if slices.Contains(p.cleanBefore, id) {
		out = append(out, "cleanBefore")
	}
	if slices.Contains(p.cleanAfter, id) {
		out = append(out, "cleanAfter")
	}
	for _, g := range []struct {
		what          string
		running       *api.PolicyAssignment
		name          string
		before, after []string
		change        bool
	}{
		{"global", r.globalImport, policyName(id), p.globalBefore, p.globalAfter, p.globalChange},
		{"export", r.globalExport, exportPolicyName(id), p.exportBefore, p.exportAfter, p.exportChange},
	} {
		inRunning := false
		for _, pol := range g.running.GetPolicies() {
			inRunning = inRunning || pol.Name == g.name
		}
		if g.before != nil && slices.Contains(g.before, g.name) != inRunning {
			out = append(out, g.what+"Before")
		}
		if g.change && slices.Contains(g.after, g.name) != inRunning {
			out = append(out, g.what+"After")
		}
	}
	return out
}

func names(ns []netip.Addr) []string {
	var out []string
	for _, n := range ns {
		out = append(out, n.String())
	}
	return out
}

func TestPlanOfRunningIsEmpty(t *testing.T) {
	for _, o := range []Options{{}, {RouteServer: true}} {
		m := mustModel(t, heldDesired(nil, heldNeighbor(heldA, 64510, "10.1.0.0/16"), heldNeighbor(heldH, 64520, "10.2.0.0/16")), o)
		if p := mustPlan(t, m, runningOf(m, "handmade")); !p.empty() {
			t.Errorf("RouteServer=%t: plan against its own running state: %+v", o.RouteServer, p)
		}
	}
}

// TestPlanHeldKeptWhileOthersChange: in the Apply that holds H, A's filter
// changes, B goes and C comes; nothing of H is touched, in both modes.
// H's policy stays in the global import policy among ours.
func TestPlanHeldKeptWhileOthersChange(t *testing.T) {
	for name, o := range map[string]Options{"ordinary": {}, "routeserver": {RouteServer: true}} {
		t.Run(name, func(t *testing.T) {
			nA, nH, nB := heldNeighbor(heldA, 64510, "10.1.0.0/16"), heldNeighbor(heldH, 64520, "10.2.0.0/16"), heldNeighbor(heldB, 64530, "10.3.0.0/16")
			r := runningOf(mustModel(t, heldDesired(nil, nA, nH, nB), o), "handmade")
			nA.Import = append(nA.Import, exact("10.9.0.0/24"))
			nA.Export = append(nA.Export, exact("203.0.113.0/24"))
			nC := heldNeighbor(heldC, 64540, "10.4.0.0/16")
			m := mustModel(t, heldDesired([]router.Held{{Address: heldH, Owner: nH.Owner}}, nA, nC), o)
			p := mustPlan(t, m, r)
			if got := touching(p, r, heldH); len(got) != 0 {
				t.Errorf("the plan touches held H: %v\n%+v", got, p)
			}
			if !slices.Equal(p.deletePeers, []netip.Addr{heldB}) || !slices.Equal(p.cleanAfter, []string{neighborID(heldB)}) {
				t.Errorf("delete %v, clean after %v; want B only", names(p.deletePeers), p.cleanAfter)
			}
			if len(p.adds) != 1 || p.adds[0].addr != heldC || len(p.updates) != 1 || p.updates[0].n.addr != heldA || len(p.admin) != 0 {
				t.Errorf("adds %v updates %v admin %v; want C added, A updated", p.adds, p.updates, p.admin)
			}
			if p.added != 1 || p.updated != 1 || p.removed != 1 || p.bogonDelete {
				t.Errorf("counts %d/%d/%d, bogonDelete %t", p.added, p.updated, p.removed, p.bogonDelete)
			}
			if name == "ordinary" {
				want := []string{policyName(neighborID(heldA)), policyName(neighborID(heldH)), policyName(neighborID(heldC)), "handmade"}
				if !p.globalChange || !slices.Equal(p.globalAfter, want) {
					t.Errorf("global import policy %v (change %t), want %v", p.globalAfter, p.globalChange, want)
				}
				want = []string{exportPolicyName(neighborID(heldA)), exportPolicyName(neighborID(heldH)), exportPolicyName(neighborID(heldC)), "handmade"}
				if !p.exportChange || !slices.Equal(p.exportAfter, want) {
					t.Errorf("global export policy %v (change %t), want %v", p.exportAfter, p.exportChange, want)
				}
				if u := p.updates[0]; len(u.exAdd) != 1 || len(u.exDel) != 0 {
					t.Errorf("A's export: add %v del %v; want one entry added in place", u.exAdd, u.exDel)
				}
			}
		})
	}
}

// TestPlanHeldOrdinaryPolicyStays: a held ordinary peer's policy stays in
// the global import policy, and its sets and policy are no orphans, when
// every other neighbor goes; and when leftovers of a neighbor being added
// have to leave the global import policy first.
func TestPlanHeldOrdinaryPolicyStays(t *testing.T) {
	nA, nH, nC := heldNeighbor(heldA, 64510, "10.1.0.0/16"), heldNeighbor(heldH, 64520, "10.2.0.0/16"), heldNeighbor(heldC, 64540, "10.4.0.0/16")
	hold := []router.Held{{Address: heldH, Owner: nH.Owner}}
	polH, outH := policyName(neighborID(heldH)), exportPolicyName(neighborID(heldH))

	r := runningOf(mustModel(t, heldDesired(nil, nA, nH), Options{}), "handmade")
	p := mustPlan(t, mustModel(t, heldDesired(hold), Options{}), r)
	if got := touching(p, r, heldH); len(got) != 0 {
		t.Errorf("the plan touches held H: %v", got)
	}
	if want := []string{polH, "handmade"}; !slices.Equal(p.globalAfter, want) {
		t.Errorf("global import policy %v, want %v", p.globalAfter, want)
	}
	if want := []string{outH, "handmade"}; !slices.Equal(p.exportAfter, want) {
		t.Errorf("global export policy %v, want %v", p.exportAfter, want)
	}
	if !slices.Equal(p.cleanAfter, []string{neighborID(heldA)}) || p.bogonDelete || p.learnedDelete {
		t.Errorf("clean after %v, bogonDelete %t, learnedDelete %t; want A's objects only, shared sets kept", p.cleanAfter, p.bogonDelete, p.learnedDelete)
	}

	// C left objects behind (a crash) that are in the global import
	// policy: they leave it first, H's policy does not.
	r = runningOf(mustModel(t, heldDesired(nil, nA, nH, nC), Options{}), "handmade")
	delete(r.peers, heldC)
	p = mustPlan(t, mustModel(t, heldDesired(hold, nA, nC), Options{}), r)
	if got := touching(p, r, heldH); len(got) != 0 {
		t.Errorf("the plan touches held H: %v", got)
	}
	if want := []string{policyName(neighborID(heldA)), polH, "handmade"}; !slices.Equal(p.globalBefore, want) {
		t.Errorf("global import policy before the cleanup %v, want %v", p.globalBefore, want)
	}
	if want := []string{policyName(neighborID(heldA)), polH, policyName(neighborID(heldC)), "handmade"}; !slices.Equal(p.globalAfter, want) {
		t.Errorf("global import policy %v, want %v", p.globalAfter, want)
	}
	if want := []string{exportPolicyName(neighborID(heldA)), outH, "handmade"}; !slices.Equal(p.exportBefore, want) {
		t.Errorf("global export policy before the cleanup %v, want %v", p.exportBefore, want)
	}
	if want := []string{exportPolicyName(neighborID(heldA)), outH, exportPolicyName(neighborID(heldC)), "handmade"}; !slices.Equal(p.exportAfter, want) {
		t.Errorf("global export policy %v, want %v", p.exportAfter, want)
	}

	// A held policy that is not in the list now is not put in.
	r = runningOf(mustModel(t, heldDesired(nil, nA, nH), Options{}))
	r.globalImport.Policies = r.globalImport.Policies[:1]
	r.globalExport.Policies = r.globalExport.Policies[:1]
	p = mustPlan(t, mustModel(t, heldDesired(hold, nA), Options{}), r)
	if !p.empty() {
		t.Errorf("plan %+v, want none", p)
	}
}

// TestPlanHeldRouteServerClient: a held client's import assignment is left
// as it is, even when it is not what the driver would set; an admin
// change hands GoBGP the running assignments back.
func TestPlanHeldRouteServerClient(t *testing.T) {
	o := Options{RouteServer: true}
	nA, nH := heldNeighbor(heldA, 64510, "10.1.0.0/16"), heldNeighbor(heldH, 64520, "10.2.0.0/16")
	r := runningOf(mustModel(t, heldDesired(nil, nA, nH), o))
	// Edited by hand: another default, a policy of its own; and an export
	// assignment the driver never sets.
	imp := &api.PolicyAssignment{Name: heldH.String(), Direction: api.PolicyDirection_IMPORT, DefaultAction: api.RouteAction_ACCEPT,
		Policies: []*api.Policy{{Name: "handmade-first"}, {Name: policyName(neighborID(heldH)), Statements: []*api.Statement{{Name: "listed in full"}}}}}
	exp := &api.PolicyAssignment{Name: heldH.String(), Direction: api.PolicyDirection_EXPORT, DefaultAction: api.RouteAction_REJECT, Policies: []*api.Policy{{Name: "handmade-export"}}}
	r.rsImport[heldH.String()], r.rsExport[heldH.String()] = imp, exp

	if p := mustPlan(t, mustModel(t, heldDesired(nil, nA, nH), o), r); len(p.updates) != 1 || !p.updates[0].assign {
		t.Fatalf("not held, the assignment is repaired: %+v", p)
	}
	if p := mustPlan(t, mustModel(t, heldDesired([]router.Held{{Address: heldH}}, nA), o), r); !p.empty() {
		t.Errorf("held: plan %+v, want none", p)
	}
	down := true
	p := mustPlan(t, mustModel(t, heldDesired([]router.Held{{Address: heldH, Shutdown: &down}}, nA), o), r)
	if len(p.admin) != 1 {
		t.Fatalf("admin changes %+v", p.admin)
	}
	for _, m := range []*api.Peer{p.admin[0].set, p.admin[0].undo} {
		if !proto.Equal(m.ApplyPolicy.ImportPolicy, policyNames(imp)) || !proto.Equal(m.ApplyPolicy.ExportPolicy, exp) {
			t.Errorf("UpdatePeer carries %v, want the running assignments", m.ApplyPolicy)
		}
	}
}

// TestPlanHeldShutdown: Shutdown is the one change a held neighbor takes,
// and only when it differs from what runs.
func TestPlanHeldShutdown(t *testing.T) {
	for name, o := range map[string]Options{"ordinary": {}, "routeserver": {RouteServer: true, Passive: true, ShutdownThresholdPct: 80}} {
		t.Run(name, func(t *testing.T) {
			nA, nH := heldNeighbor(heldA, 64510, "10.1.0.0/16"), heldNeighbor(heldH, 64520, "10.2.0.0/16")
			nH.Password, nH.Description = "md5-secret", "held one"
			r := runningOf(mustModel(t, heldDesired(nil, nA, nH), o), "handmade")
			rp := r.peers[heldH]
			t.Run("unset", func(t *testing.T) {
				if p := mustPlan(t, mustModel(t, heldDesired([]router.Held{{Address: heldH}}, nA), o), r); !p.empty() {
					t.Errorf("plan %+v, want none", p)
				}
			})
			for _, c := range []struct {
				name        string
				running     bool // admin down now
				shutdown    bool
				wantChanged bool
			}{
				{"down", false, true, true},
				{"up", true, false, true},
				{"already down", true, true, false},
				{"already up", false, false, false},
			} {
				t.Run(c.name, func(t *testing.T) {
					rp.Conf.AdminDown = c.running
					sd := c.shutdown
					p := mustPlan(t, mustModel(t, heldDesired([]router.Held{{Address: heldH, Shutdown: &sd}}, nA), o), r)
					if !c.wantChanged {
						if !p.empty() {
							t.Errorf("plan %+v, want none", p)
						}
						return
					}
					if len(p.admin) != 1 || p.updated != 1 || p.added+p.removed != 0 {
						t.Fatalf("admin changes %+v, counts %d/%d/%d", p.admin, p.added, p.updated, p.removed)
					}
					ac := p.admin[0]
					rest := *p
					rest.admin, rest.updated = nil, 0
					if !rest.empty() || ac.addr != heldH || ac.down != c.shutdown {
						t.Errorf("plan %+v, want one admin change of H to down=%t", p, c.shutdown)
					}
					want := specOf(rp)
					if got := specOf(ac.undo); got != want {
						t.Errorf("undo sets %+v, want the running %+v", got, want)
					}
					want.adminDown = c.shutdown
					if got := specOf(ac.set); got != want {
						t.Errorf("change sets %+v, want %+v", got, want)
					}
					// The assignments are as configured (the table agrees) and
					// the rest is what the driver sends anyway.
					plain := apiPeer(heldH, neighborID(heldH), want)
					if o.RouteServer && (!proto.Equal(ac.set.ApplyPolicy.ImportPolicy, rp.ApplyPolicy.ImportPolicy) || ac.set.ApplyPolicy.ExportPolicy != nil) {
						t.Errorf("UpdatePeer carries %v, want the configured %v", ac.set.ApplyPolicy, rp.ApplyPolicy)
					}
					plain.ApplyPolicy, ac.set.ApplyPolicy = nil, nil
					if !proto.Equal(plain, ac.set) {
						t.Errorf("UpdatePeer message\n%v\nwant\n%v", ac.set, plain)
					}
				})
			}
		})
	}
}

// TestPlanHeldAbsent: a held address that is not on the router is not
// created, and objects of it that are left are not cleaned up either; an
// unmanaged neighbor at a held address is not touched.
func TestPlanHeldAbsent(t *testing.T) {
	nA, nH := heldNeighbor(heldA, 64510, "10.1.0.0/16"), heldNeighbor(heldH, 64520, "10.2.0.0/16")
	down := true
	hold := []router.Held{{Address: heldH, Shutdown: &down}}
	r := runningOf(mustModel(t, heldDesired(nil, nA), Options{}))
	if p := mustPlan(t, mustModel(t, heldDesired(hold, nA), Options{}), r); !p.empty() {
		t.Errorf("held, absent: plan %+v, want none", p)
	}
	// Only H's objects are left (its neighbor went).
	r = runningOf(mustModel(t, heldDesired(nil, nA, nH), Options{}))
	delete(r.peers, heldH)
	if p := mustPlan(t, mustModel(t, heldDesired(nil, nA), Options{}), r); !slices.Equal(p.cleanAfter, []string{neighborID(heldH)}) {
		t.Fatalf("not held, H's objects are orphans: clean after %v", p.cleanAfter)
	}
	if p := mustPlan(t, mustModel(t, heldDesired(hold, nA), Options{}), r); !p.empty() {
		t.Errorf("held, objects only: plan %+v, want none", p)
	}
	// An unmanaged neighbor at H's address.
	r = runningOf(mustModel(t, heldDesired(nil, nA), Options{}))
	r.peers[heldH] = &api.Peer{Conf: &api.PeerConf{NeighborAddress: heldH.String(), PeerAsn: 64520, Description: "by hand"}}
	if p := mustPlan(t, mustModel(t, heldDesired(hold, nA), Options{}), r); !p.empty() {
		t.Errorf("held, unmanaged: plan %+v, want none", p)
	}
}

// TestPlanBogonSetKeptForHeld: the shared bogon ASN set stays while a held
// neighbor's running policy uses it, even when no other neighbor is left.
func TestPlanBogonSetKeptForHeld(t *testing.T) {
	nH := heldNeighbor(heldH, 64520, "10.2.0.0/16")
	nH.RejectBogonASNs = false // the statement uses the set all the same
	for _, o := range []Options{{}, {RouteServer: true}} {
		r := runningOf(mustModel(t, heldDesired(nil, nH), o))
		if p := mustPlan(t, mustModel(t, heldDesired(nil), o), r); !p.bogonDelete {
			t.Fatalf("nothing held: the bogon set is not deleted (%+v)", p)
		}
		p := mustPlan(t, mustModel(t, heldDesired([]router.Held{{Address: heldH}}), o), r)
		if !p.empty() {
			t.Errorf("RouteServer=%t, held: plan %+v, want none", o.RouteServer, p)
		}
		// A policy of an older shape without the bogon statement does not
		// keep it.
		pol := proto.Clone(r.policies[policyName(neighborID(heldH))]).(*api.Policy)
		pol.Statements = slices.DeleteFunc(pol.Statements, func(s *api.Statement) bool { return s.Conditions.GetAsPathSet().GetName() == bogonASNSet })
		r.policies[pol.Name] = pol
		if p := mustPlan(t, mustModel(t, heldDesired([]router.Held{{Address: heldH}}), o), r); !p.bogonDelete || len(touching(p, r, heldH)) != 0 {
			t.Errorf("RouteServer=%t, held policy without the set: plan %+v", o.RouteServer, p)
		}
	}
}

// TestRenderHeld: held neighbors are part of the digest, in address order
// with their wanted admin state; Desired.Validate refuses an address that
// is both held and configured.
func TestRenderHeld(t *testing.T) {
	base, err := Render(goldenDesired(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	down, up := true, false
	render := func(hs ...router.Held) []byte {
		t.Helper()
		d := goldenDesired()
		d.Held = hs
		out, err := Render(d, Options{})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	x, y := ip("192.0.2.50"), ip("2001:db8::50")
	one := render(router.Held{Address: y, Owner: "peering/y"}, router.Held{Address: x, Owner: "peering/x"})
	if !bytes.Equal(one, render(router.Held{Address: x}, router.Held{Address: y})) {
		t.Error("Render depends on the order or owner of held neighbors")
	}
	if !bytes.HasPrefix(one, base) || !strings.HasSuffix(string(one), "# held 192.0.2.50 shutdown=unchanged\n# held 2001:db8::50 shutdown=unchanged\n") {
		t.Errorf("Render with held neighbors:\n%s", one)
	}
	outs := map[string]string{}
	for name, out := range map[string][]byte{
		"none": base, "two": one, "one": render(router.Held{Address: x}),
		"down": render(router.Held{Address: x, Shutdown: &down}), "up": render(router.Held{Address: x, Shutdown: &up}),
	} {
		if other, ok := outs[digest(out)]; ok {
			t.Errorf("%s and %s render the same", name, other)
		}
		outs[digest(out)] = name
	}

	d := goldenDesired()
	d.Held = []router.Held{{Address: d.Neighbors[1].Address}}
	if _, err := Render(d, Options{}); !errors.Is(err, router.ErrInvalid) {
		t.Errorf("Render of a neighbor both held and configured: %v, want ErrInvalid", err)
	}
	if _, err := buildModel(d, Options{}); !errors.Is(err, router.ErrInvalid) {
		t.Errorf("buildModel (Apply's first step): %v, want ErrInvalid", err)
	}
}
