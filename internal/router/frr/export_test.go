package frr

import (
	"slices"
	"strings"
	"testing"

	"github.com/peering-operator/peering-operator/internal/router"
	"github.com/peering-operator/peering-operator/internal/router/cli"
)

func render(t *testing.T, des router.Desired) string {
	t.Helper()
	out, err := New(cli.Config{}).Render(des)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// missingLines returns the lines of want missing from text, each a whole line.
func missingLines(text string, want ...string) []string {
	have := strings.Split(text, "\n")
	var out []string
	for _, w := range want {
		if !slices.Contains(have, w) {
			out = append(out, w)
		}
	}
	return out
}

// index returns the position of line in lines, failing the test without it.
func index(t *testing.T, lines []string, line string) int {
	t.Helper()
	i := slices.Index(lines, line)
	if i < 0 {
		t.Fatalf("no line %q in\n%s", line, strings.Join(lines, "\n"))
	}
	return i
}

// An ordinary neighbor announces its Export entries and nothing learned
// from a peer or route server, in both families.
func TestRenderExport(t *testing.T) {
	v4 := router.Neighbor{Address: addr("192.0.2.2"), PeerASN: 65001, Owner: "p/a",
		Export: []router.Entry{{Prefix: pfx("203.0.113.0/25"), Exact: true}, {Prefix: pfx("198.18.0.0/15"), GE: 24, LE: 24}}}
	v6 := router.Neighbor{Address: addr("2001:db8::2"), PeerASN: 65002, Owner: "p/b",
		Export: []router.Entry{{Prefix: pfx("2001:db8:a::/48"), Exact: true}, {Prefix: pfx("2001:db8:b::/48"), GE: 48, LE: 64}}}
	d := desired(v4, v6)
	d.LocalASN = 4200000000
	out := render(t, d)
	if miss := missingLines(out,
		"ip prefix-list PO-OUT-192.0.2.2 seq 5 permit 198.18.0.0/15 ge 24 le 24",
		"ip prefix-list PO-OUT-192.0.2.2 seq 10 permit 203.0.113.0/25",
		"ipv6 prefix-list PO-OUT-2001:db8::2 seq 5 permit 2001:db8:a::/48",
		"ipv6 prefix-list PO-OUT-2001:db8::2 seq 10 permit 2001:db8:b::/48 le 64",
		"bgp large-community-list expanded PO-LEARNED seq 5 permit _4200000000:[12]:",
		"route-map PO-OUT-192.0.2.2 deny 5", "route-map PO-OUT-192.0.2.2 permit 10", " match ip address prefix-list PO-OUT-192.0.2.2",
		"route-map PO-OUT-2001:db8::2 deny 5", "route-map PO-OUT-2001:db8::2 permit 10", " match ipv6 address prefix-list PO-OUT-2001:db8::2",
		" match large-community PO-LEARNED",
		"  neighbor 192.0.2.2 route-map PO-OUT-192.0.2.2 out",
		"  neighbor 2001:db8::2 route-map PO-OUT-2001:db8::2 out",
	); len(miss) > 0 {
		t.Errorf("missing %q in\n%s", miss, out)
	}
	// The learned routes are denied before the prefix-list permits.
	want := desiredConfig(d).rmaps[exportName(v4.Address)]
	if len(want.entries) != 2 || want.entries[0].action != "deny" || want.entries[0].seq >= want.entries[1].seq ||
		!slices.Equal(want.entries[0].lines, []string{"match large-community PO-LEARNED"}) {
		t.Errorf("out route-map %+v", want)
	}
	if strings.Count(out, "bgp large-community-list") != 1 {
		t.Errorf("the learned list is not shared:\n%s", out)
	}
	if p := planFor(t, out, d); len(p.lines) != 0 {
		t.Errorf("does not read back: %q", p.lines)
	}
}

// An empty Export is an explicit deny-all policy, never no policy.
func TestRenderEmptyExportDeniesAll(t *testing.T) {
	out := render(t, desired(router.Neighbor{Address: addr("192.0.2.2"), PeerASN: 65001, Owner: "p/a"},
		router.Neighbor{Address: addr("2001:db8::2"), PeerASN: 65002, Owner: "p/b", Export: []router.Entry{}}))
	if miss := missingLines(out,
		"ip prefix-list PO-OUT-192.0.2.2 seq 5 deny 0.0.0.0/0 le 32",
		"ipv6 prefix-list PO-OUT-2001:db8::2 seq 5 deny ::/0 le 128",
		"  neighbor 192.0.2.2 route-map PO-OUT-192.0.2.2 out",
		"  neighbor 2001:db8::2 route-map PO-OUT-2001:db8::2 out",
	); len(miss) > 0 {
		t.Errorf("missing %q in\n%s", miss, out)
	}
	if strings.Count(out, "prefix-list PO-OUT-") != 4 { // 2 lists + 2 matches
		t.Errorf("more than the deny entry:\n%s", out)
	}
}

// Learned tags every accepted route, in the permit entry of the import
// route-map, keeping the route's own communities.
func TestRenderLearnedCommunity(t *testing.T) {
	d := desired(
		router.Neighbor{Address: addr("192.0.2.2"), PeerASN: 65001, Owner: "p/a", Learned: router.LearnedPeer, IXID: 26},
		router.Neighbor{Address: addr("192.0.2.3"), PeerASN: 65002, Owner: "p/b", Learned: router.LearnedRouteServer, IXID: 4294967295, RouteServerClient: true},
		router.Neighbor{Address: addr("192.0.2.4"), PeerASN: 65003, Owner: "p/c"},
	)
	c := desiredConfig(d)
	for a, want := range map[string]string{"192.0.2.2": "set large-community 65000:1:26 additive", "192.0.2.3": "set large-community 65000:2:4294967295 additive", "192.0.2.4": ""} {
		rm := c.rmaps[filterName(addr(a))]
		permit := rm.entries[len(rm.entries)-1]
		var sets []string
		for _, e := range rm.entries {
			for _, l := range e.lines {
				if strings.HasPrefix(l, "set ") {
					sets = append(sets, l)
				}
			}
		}
		if want == "" && len(sets) > 0 || want != "" && (permit.action != "permit" || !slices.Equal(sets, []string{want}) || !slices.Contains(permit.lines, want)) {
			t.Errorf("%s: %+v", a, rm.entries)
		}
	}
}

// A route-server client gets no out policy (it relays what its clients
// send), even with an Export list; with only such neighbors there is no
// learned list either.
func TestRenderRouteServerClientNoExport(t *testing.T) {
	rs := router.Neighbor{Address: addr("192.0.2.2"), PeerASN: 65001, Owner: "p/rs", RouteServerClient: true, Export: exact("203.0.113.0/24"), Learned: router.LearnedRouteServer}
	out := render(t, desired(rs))
	if strings.Contains(out, "PO-OUT") || strings.Contains(out, " out\n") || strings.Contains(out, "PO-LEARNED") {
		t.Errorf("route-server client has an out policy:\n%s", out)
	}
	if !strings.Contains(out, "set large-community 65000:2:0 additive") {
		t.Errorf("no learned community:\n%s", out)
	}
}

// withoutExport is running configuration as the driver wrote it before
// export policies: neither out objects nor learned communities.
func withoutExport(des router.Desired) string {
	c := desiredConfig(des)
	for k, pl := range c.plists {
		if strings.HasPrefix(pl.name, cli.ObjectPrefix+"OUT-") {
			delete(c.plists, k)
		}
	}
	for k, rm := range c.rmaps {
		if strings.HasPrefix(k, cli.ObjectPrefix+"OUT-") {
			delete(c.rmaps, k)
		}
		for i := range rm.entries {
			rm.entries[i].lines = slices.DeleteFunc(rm.entries[i].lines, func(l string) bool { return strings.HasPrefix(l, "set large-community ") })
		}
	}
	clear(c.lclists)
	for _, n := range c.nbrs {
		for f := range n.af {
			n.af[f].routeMapOut = ""
		}
	}
	return strings.Replace(handMade, "end\n", string(c.render())+"end\n", 1)
}

// An existing neighbor without out policy (configured before it existed)
// gets its objects first, complete, and only then the line attaching
// them; nothing else of it changes and the session is not touched.
func TestPlanAddsExportToExistingNeighbor(t *testing.T) {
	des := sample()
	p := planFor(t, withoutExport(des), des)
	if p.added+p.removed != 0 || p.updated != 3 { // 2 out policies, 2 learned communities
		t.Errorf("counts %+v", p)
	}
	for _, l := range p.lines {
		if strings.Contains(l, "shutdown") || strings.Contains(l, "remote-as") || strings.HasPrefix(l, "no ") {
			t.Errorf("unexpected line %q", l)
		}
	}
	for _, a := range []string{"192.0.2.2", "192.0.2.3"} {
		lc, pl := index(t, p.lines, learnedLine), index(t, p.lines, "ip prefix-list PO-OUT-"+a+" seq 5 "+map[string]string{
			"192.0.2.2": "permit 100.64.0.0/24", "192.0.2.3": "deny 0.0.0.0/0 le 32"}[a])
		deny, permit := index(t, p.lines, "route-map PO-OUT-"+a+" deny 5"), index(t, p.lines, "route-map PO-OUT-"+a+" permit 10")
		match, pmatch := deny+1, permit+1
		attach := index(t, p.lines, "neighbor "+a+" route-map PO-OUT-"+a+" out")
		if p.lines[match] != "match large-community PO-LEARNED" || p.lines[pmatch] != "match ip address prefix-list PO-OUT-"+a ||
			!(lc < deny && pl < permit && match < permit && pmatch < attach) {
			t.Errorf("%s: unsafe order (list %d, prefix-list %d, deny %d, permit %d, attach %d):\n%s", a, lc, pl, deny, permit, attach, strings.Join(p.lines, "\n"))
		}
	}
	// The learned community goes into the running import route-map.
	i := index(t, p.lines, "route-map PO-IN-192.0.2.2 permit 10")
	if p.lines[i+1] != "set large-community 65000:1:90003 additive" {
		t.Errorf("learned community: %q", p.lines[i:])
	}
	if slices.Contains(p.lines, "neighbor 2001:db8::3 route-map PO-OUT-2001:db8::3 out") {
		t.Error("route-server client got an out policy")
	}
	if p := planFor(t, converged(des), des); len(p.lines) != 0 {
		t.Errorf("not converged: %q", p.lines)
	}
}

// Export changes are prefix-list entries added before old ones go; an
// empty list becomes the deny entry first.
func TestPlanExportChanges(t *testing.T) {
	des := sample()
	running := converged(des)
	des.Neighbors[1].Export = nil // 192.0.2.2 announces nothing now
	des.Neighbors[2].Export = exact("100.64.1.0/24")
	p := planFor(t, running, des)
	want := []string{"ip prefix-list PO-OUT-192.0.2.2 seq 15 deny 0.0.0.0/0 le 32", "ip prefix-list PO-OUT-192.0.2.3 seq 10 permit 100.64.1.0/24",
		"no ip prefix-list PO-OUT-192.0.2.2 seq 5", "no ip prefix-list PO-OUT-192.0.2.2 seq 10", "no ip prefix-list PO-OUT-192.0.2.3 seq 5"}
	if !slices.Equal(p.lines, want) || p.updated != 2 {
		t.Errorf("got %q %+v", p.lines, p)
	}
}

// A neighbor that becomes a route-server client loses our out route-map
// before the objects go; the last user of the learned list takes it
// along. An out route-map set by hand on a client stays.
func TestPlanRouteServerClientDropsExport(t *testing.T) {
	n := router.Neighbor{Address: addr("192.0.2.2"), PeerASN: 65001, Owner: "p/a", Export: exact("203.0.113.0/24")}
	running := converged(desired(n))
	n.RouteServerClient = true
	p := planFor(t, running, desired(n))
	want := []string{"router bgp 65000", "address-family ipv4 unicast", "neighbor 192.0.2.2 route-server-client",
		"no neighbor 192.0.2.2 route-map PO-OUT-192.0.2.2 out", "exit-address-family", "exit",
		"no route-map PO-OUT-192.0.2.2", "no ip prefix-list PO-OUT-192.0.2.2", "no bgp large-community-list expanded PO-LEARNED"}
	if !slices.Equal(p.lines, want) || p.updated != 1 || p.removed != 0 {
		t.Errorf("got %q %+v", p.lines, p)
	}
	hand := strings.Replace(converged(desired(n)), "  neighbor 192.0.2.2 route-map PO-IN-192.0.2.2 in\n",
		"  neighbor 192.0.2.2 route-map PO-IN-192.0.2.2 in\n  neighbor 192.0.2.2 route-map HAND out\n", 1)
	if p := planFor(t, hand, desired(n)); len(p.lines) != 0 {
		t.Errorf("hand-made out route-map touched: %q", p.lines)
	}
}

// A changed IX id replaces the community in place: removing it first
// would let routes in untagged. Learned 0 removes it.
func TestPlanLearnedChanges(t *testing.T) {
	n := router.Neighbor{Address: addr("192.0.2.2"), PeerASN: 65001, Owner: "p/a", Learned: router.LearnedPeer, IXID: 7}
	running := converged(desired(n))
	n.IXID = 8
	p := planFor(t, running, desired(n))
	if want := []string{"route-map PO-IN-192.0.2.2 permit 10", "set large-community 65000:1:8 additive", "exit"}; !slices.Equal(p.lines, want) || p.updated != 1 {
		t.Errorf("got %q %+v", p.lines, p)
	}
	n.Learned = router.LearnedNone
	p = planFor(t, running, desired(n))
	if want := []string{"route-map PO-IN-192.0.2.2 permit 10", "no set large-community 65000:1:7 additive", "exit"}; !slices.Equal(p.lines, want) {
		t.Errorf("got %q", p.lines)
	}
}

// A removal cut short leaves in and out objects without their neighbor:
// one removal finishing, counted once; the hand-made config stays.
func TestPlanFinishesCutRemoval(t *testing.T) {
	n := router.Neighbor{Address: addr("192.0.2.5"), PeerASN: 65005, Owner: "p/a", Export: exact("203.0.113.0/24")}
	c := desiredConfig(desired(n))
	delete(c.nbrs, n.Address)
	running := strings.Replace(handMade, "end\n", string(c.render())+"end\n", 1)
	p := planFor(t, running, desired())
	if p.removed != 1 || p.added+p.updated != 0 {
		t.Errorf("counts %+v", p)
	}
	want := []string{"no route-map PO-IN-192.0.2.5", "no route-map PO-OUT-192.0.2.5", "no ip prefix-list PO-IN-192.0.2.5",
		"no ip prefix-list PO-OUT-192.0.2.5", "no bgp large-community-list expanded PO-LEARNED"}
	if !slices.Equal(p.lines, want) {
		t.Errorf("got %q", p.lines)
	}
}

// A held neighbor keeps its out route-map, prefix-list and the learned
// list, which no other neighbor wants any more, while the same apply
// removes the other ordinary neighbor and its out objects.
func TestHoldKeepsExportObjects(t *testing.T) {
	des := sample() // 192.0.2.2 and .3 are ordinary, 2001:db8::3 a client
	running := converged(des)
	held := without(des, "192.0.2.2", nil)
	held.Neighbors = held.Neighbors[:1] // 192.0.2.3 goes
	p := planFor(t, running, held)
	if bad := mentions(p.lines, "192.0.2.2", learnedList); len(bad) > 0 {
		t.Errorf("plan touches the held neighbor's objects: %q", bad)
	}
	for _, l := range []string{"no neighbor 192.0.2.3", "no route-map PO-OUT-192.0.2.3", "no ip prefix-list PO-OUT-192.0.2.3"} {
		if !slices.Contains(p.lines, l) {
			t.Errorf("no line %q in %q", l, p.lines)
		}
	}
	if p.removed != 1 || p.added+p.updated != 0 {
		t.Errorf("counts %+v", p)
	}
	free := held
	free.Held = nil
	if l := planFor(t, running, free).lines; !slices.Contains(l, "no route-map PO-OUT-192.0.2.2") || !slices.Contains(l, "no bgp large-community-list expanded "+learnedList) {
		t.Errorf("unheld: %q", l)
	}
	// Held with another LocalASN's list on the router: the router's stays.
	other := strings.Replace(running, "_65000:[12]:", "_65001:[12]:", 1)
	if p := planFor(t, other, held); len(mentions(p.lines, learnedList)) > 0 {
		t.Errorf("shared list changed under a held neighbor: %q", p.lines)
	}
}

// A held neighbor is enabled only when complete, export policy included:
// one configured before export policies stays down.
func TestHoldEnableNeedsExport(t *testing.T) {
	n := router.Neighbor{Address: addr("192.0.2.5"), PeerASN: 65005, Owner: "p/a", Shutdown: true}
	rs := router.Neighbor{Address: addr("192.0.2.6"), PeerASN: 65006, Owner: "p/b", Shutdown: true, RouteServerClient: true}
	on := ptr(false)
	enable := func(running string, a string) bool {
		des := without(desired(), a, on)
		return slices.Contains(planFor(t, running, des).lines, "no neighbor "+a+" shutdown")
	}
	if !enable(converged(desired(n, rs)), "192.0.2.5") || !enable(converged(desired(n, rs)), "192.0.2.6") {
		t.Error("complete held neighbor not enabled")
	}
	old := withoutExport(desired(n, rs))
	if enable(old, "192.0.2.5") {
		t.Error("held neighbor without out policy enabled")
	}
	if !enable(old, "192.0.2.6") {
		t.Error("held route-server client not enabled")
	}
}
