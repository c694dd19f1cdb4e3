package frr

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/peering-operator/peering-operator/internal/router"
	"github.com/peering-operator/peering-operator/internal/router/cli"
)

// A router as FRR 8.4 prints it, with configuration we did not create: a
// hand-made neighbor, prefix-list and route-map.
const handMade = `Building configuration...

Current configuration:
!
frr version 8.4.4
frr defaults traditional
hostname r1
!
router bgp 65000
 bgp router-id 192.0.2.1
 neighbor 192.0.2.99 remote-as 65099
 neighbor 192.0.2.99 description transit, by hand
 !
 address-family ipv4 unicast
  neighbor 192.0.2.99 route-map HAND in
 exit-address-family
exit
!
ip prefix-list HAND seq 5 permit 0.0.0.0/0
!
route-map HAND permit 10
 match ip address prefix-list HAND
exit
!
end
`

// learnedLine is PO-LEARNED as the plan creates it for LocalASN 65000.
const learnedLine = "bgp large-community-list expanded PO-LEARNED seq 5 permit _65000:[12]:"

func planFor(t *testing.T, running string, des router.Desired) *plan {
	t.Helper()
	have, err := parseRunning(running)
	if err != nil {
		t.Fatal(err)
	}
	if err := cli.Check(des); err != nil {
		t.Fatal(err)
	}
	// As Apply does: held neighbors are taken from what runs.
	p, err := makePlan(hold(desiredConfig(des), have), have)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPlanCreateFromScratch(t *testing.T) {
	p := planFor(t, handMade, sample())
	golden(t, "plan-create.golden", []byte(strings.Join(p.lines, "\n")+"\n"))
	if p.added != 3 || p.updated != 0 || p.removed != 0 {
		t.Errorf("counts %+v", p)
	}
	for _, l := range p.lines {
		if strings.Contains(l, "192.0.2.99") || strings.Contains(l, "HAND") {
			t.Errorf("plan touches hand-made config: %q", l)
		}
	}
	// The neighbor is shut right after it exists and enabled last.
	idx := func(s string) int {
		for i, l := range p.lines {
			if l == s {
				return i
			}
		}
		t.Fatalf("no line %q", s)
		return -1
	}
	jn, ds, ra, nds := idx("route-map PO-TXN-DEFAULT-SHUTDOWN deny 1"), idx("bgp default shutdown"), idx("neighbor 192.0.2.2 remote-as 65001"), idx("no bgp default shutdown")
	rm, en, jrm := idx("neighbor 192.0.2.2 route-map PO-IN-192.0.2.2 in"), idx("no neighbor 192.0.2.2 shutdown"), idx("no route-map PO-TXN-DEFAULT-SHUTDOWN")
	pl, rmap := idx("ip prefix-list PO-IN-192.0.2.2 seq 5 permit 10.0.0.0/8 le 24"), idx("route-map PO-IN-192.0.2.2 permit 10")
	if !(jn < ds && pl < ra && rmap < ra && ds < ra && ra < nds && nds < rm && rm < en && en < jrm) {
		t.Errorf("unsafe order: journal %d default-shutdown %d prefix-list %d route-map %d remote-as %d default-off %d filter %d enable %d journal-off %d",
			jn, ds, pl, rmap, ra, nds, rm, en, jrm)
	}
	// Its export policy too: every object before the neighbor exists,
	// the list before the entry matching it, attached before enabling.
	lc, opl, odeny, omatch, opermit := idx(learnedLine), idx("ip prefix-list PO-OUT-192.0.2.2 seq 5 permit 100.64.0.0/24"),
		idx("route-map PO-OUT-192.0.2.2 deny 5"), idx("match large-community PO-LEARNED"), idx("route-map PO-OUT-192.0.2.2 permit 10")
	out := idx("neighbor 192.0.2.2 route-map PO-OUT-192.0.2.2 out")
	if !(lc < odeny && odeny < omatch && omatch < opermit && opl < opermit && opermit < ra && nds < out && out < en) {
		t.Errorf("unsafe export order: list %d prefix-list %d deny %d match %d permit %d remote-as %d attach %d enable %d",
			lc, opl, odeny, omatch, opermit, ra, out, en)
	}
	// A neighbor that stays shut is never enabled.
	for _, l := range p.lines {
		if l == "no neighbor 192.0.2.3 shutdown" {
			t.Error("shutdown neighbor enabled")
		}
	}
}

func TestPlanConvergedIsEmpty(t *testing.T) {
	running := strings.Replace(handMade, "end\n", string(desiredConfig(sample()).render())+"end\n", 1)
	if p := planFor(t, running, sample()); len(p.lines) != 0 {
		t.Fatalf("plan not empty:\n%s", strings.Join(p.lines, "\n"))
	}
}

func TestPlanUpdates(t *testing.T) {
	running := strings.Replace(handMade, "end\n", string(desiredConfig(sample()).render())+"end\n", 1)
	s := sample()
	n := &s.Neighbors[1] // 192.0.2.2
	n.Import = []router.Entry{
		{Prefix: pfx("203.0.113.0/24"), Exact: true},
		{Prefix: pfx("198.51.100.0/24"), Exact: true},
		{Prefix: pfx("192.0.2.0/24"), GE: 25, LE: 32},
		{Prefix: pfx("100.64.0.0/10"), Exact: true}, // new; 10.0.0.0/8 le 24 goes
	}
	n.MaxPrefixes = 0
	n.Password = ""
	n.Shutdown = true
	s.Neighbors[2].Shutdown = false     // 192.0.2.3 comes up
	s.Neighbors[0].Import = nil         // 2001:db8::3 rejects everything now
	s.Neighbors[0].PeerASN = 4200000002 // and changed AS
	p := planFor(t, running, s)
	golden(t, "plan-update.golden", []byte(strings.Join(p.lines, "\n")+"\n"))
	if p.added != 0 || p.updated != 3 || p.removed != 0 {
		t.Errorf("counts %+v", p)
	}
	// Shutting down comes first, enabling last, new entries before old
	// ones go.
	if p.lines[1] != "neighbor 192.0.2.2 shutdown" && !strings.Contains(strings.Join(p.lines, "\n"), "router bgp 65000\nneighbor 192.0.2.2 shutdown") {
		t.Errorf("shutdown not first in router bgp:\n%s", strings.Join(p.lines, "\n"))
	}
	if last := p.lines[len(p.lines)-1]; !strings.HasPrefix(last, "no ip prefix-list") && !strings.HasPrefix(last, "no ipv6 prefix-list") {
		t.Errorf("old entries not removed last: %q", last)
	}
}

func TestPlanRemoveKeepsHandMade(t *testing.T) {
	running := strings.Replace(handMade, "end\n", string(desiredConfig(sample()).render())+"end\n", 1)
	s := sample()
	s.Neighbors = s.Neighbors[1:2] // keep 192.0.2.2 only
	p := planFor(t, running, s)
	golden(t, "plan-remove.golden", []byte(strings.Join(p.lines, "\n")+"\n"))
	if p.added != 0 || p.updated != 0 || p.removed != 2 {
		t.Errorf("counts %+v", p)
	}
	for _, l := range p.lines {
		if strings.Contains(l, "192.0.2.99") || strings.Contains(l, "HAND") || strings.Contains(l, "192.0.2.2") {
			t.Errorf("plan touches what it must keep: %q", l)
		}
	}
}

func TestPlanConflicts(t *testing.T) {
	have, _ := parseRunning(handMade)
	s := sample()
	s.Neighbors = append(s.Neighbors, router.Neighbor{Address: addr("192.0.2.99"), PeerASN: 65099})
	if _, err := makePlan(desiredConfig(s), have); !errors.Is(err, cli.ErrConflict) {
		t.Errorf("hand-made neighbor: got %v", err)
	}
	s = sample()
	s.LocalASN = 65111
	if _, err := makePlan(desiredConfig(s), have); !errors.Is(err, cli.ErrConflict) {
		t.Errorf("other ASN: got %v", err)
	}
}

// An apply cut after "neighbor X remote-as" and "shutdown" leaves a
// neighbor without description; its filter objects show it is ours.
func TestPlanRecoversInterruptedCreate(t *testing.T) {
	running := strings.Replace(handMade, " neighbor 192.0.2.99 remote-as 65099\n",
		" neighbor 192.0.2.5 remote-as 65005\n neighbor 192.0.2.5 shutdown\n neighbor 192.0.2.99 remote-as 65099\n", 1)
	running = strings.Replace(running, "end\n", "ip prefix-list PO-IN-192.0.2.5 seq 5 permit 203.0.113.0/24\nend\n", 1)
	// Wanted: it is completed.
	des := desired(router.Neighbor{Address: addr("192.0.2.5"), PeerASN: 65005, Owner: "x/y", Import: []router.Entry{{Prefix: pfx("203.0.113.0/24"), Exact: true}}})
	p := planFor(t, running, des)
	want := []string{learnedLine, "ip prefix-list PO-OUT-192.0.2.5 seq 5 deny 0.0.0.0/0 le 32",
		"route-map PO-IN-192.0.2.5 permit 10", "match ip address prefix-list PO-IN-192.0.2.5", "exit",
		"route-map PO-OUT-192.0.2.5 deny 5", "match large-community PO-LEARNED", "exit",
		"route-map PO-OUT-192.0.2.5 permit 10", "match ip address prefix-list PO-OUT-192.0.2.5", "exit",
		"router bgp 65000", "neighbor 192.0.2.5 description po:x/y",
		"address-family ipv4 unicast", "neighbor 192.0.2.5 soft-reconfiguration inbound", "neighbor 192.0.2.5 route-map PO-IN-192.0.2.5 in",
		"neighbor 192.0.2.5 route-map PO-OUT-192.0.2.5 out", "exit-address-family", "no neighbor 192.0.2.5 shutdown", "exit"}
	if strings.Join(p.lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(p.lines, "\n"), strings.Join(want, "\n"))
	}
	// Not wanted: it is removed with its filter, the hand-made one stays.
	p = planFor(t, running, desired())
	want = []string{"router bgp 65000", "no neighbor 192.0.2.5", "exit", "no ip prefix-list PO-IN-192.0.2.5"}
	if strings.Join(p.lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(p.lines, "\n"), strings.Join(want, "\n"))
	}
}

// Route-maps we own are repaired: an entry someone added (that could
// permit anything) is removed before anything else.
func TestPlanRepairsRouteMap(t *testing.T) {
	running := strings.Replace(handMade, "end\n", string(desiredConfig(sample()).render())+
		"route-map PO-IN-192.0.2.2 permit 20\nexit\nend\n", 1)
	p := planFor(t, running, sample())
	if len(p.lines) != 1 || p.lines[0] != "no route-map PO-IN-192.0.2.2 permit 20" || p.updated != 1 {
		t.Errorf("got %q %+v", p.lines, p)
	}
}

func TestPlanCreatesRouterBGP(t *testing.T) {
	p := planFor(t, "hostname r1\n!\nend\n", desired(router.Neighbor{Address: addr("192.0.2.2"), PeerASN: 65001}))
	if i := slices.Index(p.lines, "router bgp 65000"); i < 0 || p.lines[i+1] != "bgp router-id 192.0.2.1" || i != slices.Index(p.lines, "route-map PO-OUT-192.0.2.2 permit 10")+3 {
		t.Errorf("got %q", p.lines)
	}
}

// The journal tells an interrupted creation's "bgp default shutdown"
// (ours: undone) from the router's own (kept).
func TestPlanDefaultShutdownJournal(t *testing.T) {
	n := router.Neighbor{Address: addr("192.0.2.5"), PeerASN: 65005, Owner: "x/y", Import: exact("203.0.113.0/24")}
	cut := strings.Replace(handMade, " neighbor 192.0.2.99 remote-as 65099\n",
		" neighbor 192.0.2.5 remote-as 65005\n neighbor 192.0.2.5 shutdown\n neighbor 192.0.2.99 remote-as 65099\n bgp default shutdown\n", 1)
	cut = strings.Replace(cut, "end\n", "ip prefix-list PO-IN-192.0.2.5 seq 5 permit 203.0.113.0/24\nroute-map PO-IN-192.0.2.5 permit 10\n match ip address prefix-list PO-IN-192.0.2.5\nexit\nroute-map PO-TXN-DEFAULT-SHUTDOWN deny 1\nexit\nend\n", 1)
	p := planFor(t, cut, desired(n))
	want := []string{learnedLine, "ip prefix-list PO-OUT-192.0.2.5 seq 5 deny 0.0.0.0/0 le 32",
		"route-map PO-OUT-192.0.2.5 deny 5", "match large-community PO-LEARNED", "exit",
		"route-map PO-OUT-192.0.2.5 permit 10", "match ip address prefix-list PO-OUT-192.0.2.5", "exit",
		"router bgp 65000", "no bgp default shutdown", "neighbor 192.0.2.5 description po:x/y",
		"address-family ipv4 unicast", "neighbor 192.0.2.5 soft-reconfiguration inbound", "neighbor 192.0.2.5 route-map PO-IN-192.0.2.5 in",
		"neighbor 192.0.2.5 route-map PO-OUT-192.0.2.5 out", "exit-address-family", "no neighbor 192.0.2.5 shutdown", "exit", "no route-map PO-TXN-DEFAULT-SHUTDOWN"}
	if strings.Join(p.lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("cut after creation: got\n%s", strings.Join(p.lines, "\n"))
	}

	// Journal left after the setting was already undone.
	onlyJournal := strings.Replace(handMade, "end\n", "route-map PO-TXN-DEFAULT-SHUTDOWN deny 1\nexit\nend\n", 1)
	if p := planFor(t, onlyJournal, desired()); strings.Join(p.lines, "|") != "no route-map PO-TXN-DEFAULT-SHUTDOWN" || p.removed != 0 {
		t.Errorf("journal only: %q %+v", p.lines, p)
	}

	// The router's own setting: used, never toggled.
	own := strings.Replace(handMade, " bgp router-id 192.0.2.1\n", " bgp router-id 192.0.2.1\n bgp default shutdown\n", 1)
	p = planFor(t, own, desired(n))
	for _, l := range p.lines {
		if strings.Contains(l, "default shutdown") || strings.Contains(l, "TXN") {
			t.Errorf("toggled the router's own setting: %q", l)
		}
	}
}

// Apply's phases: removals and shutdowns first, then the creations, shut
// down; the batch has every other line but no enabling, which comes last.
func TestPlanPhases(t *testing.T) {
	running := strings.Replace(handMade, "end\n", string(desiredConfig(sample()).render())+"end\n", 1)
	des := sample()
	des.Neighbors[0].Shutdown = true                       // 2001:db8::3: a NOC shutdown
	des.Neighbors = slices.Delete(des.Neighbors, 1, 2)     // 192.0.2.2: removed
	des.Neighbors = append(des.Neighbors, router.Neighbor{ // created
		Address: addr("192.0.2.7"), PeerASN: 65007, Owner: "x/y", MaxPrefixes: 5, Import: exact("203.0.113.0/24")})
	p := planFor(t, running, des)
	join := func(ph phase) string { return strings.Join(p.part(ph), "|") }
	if got, want := join(phaseUrgent), "router bgp 65000|no neighbor 192.0.2.2|neighbor 2001:db8::3 shutdown|exit"; got != want {
		t.Errorf("urgent: %s, want %s", got, want)
	}
	if got, want := join(phaseCreate), "route-map PO-TXN-DEFAULT-SHUTDOWN deny 1|exit|route-map PO-CREATING deny 1|exit|"+
		"router bgp 65000|bgp default shutdown|neighbor 192.0.2.7 remote-as 65007|no bgp default shutdown|exit"; got != want {
		t.Errorf("create: %s, want %s", got, want)
	}
	if got, want := join(phaseEnable), "router bgp 65000|no neighbor 192.0.2.7 shutdown|exit"; got != want {
		t.Errorf("enable: %s, want %s", got, want)
	}
	batch := p.part(phaseBatch)
	for _, l := range []string{"ip prefix-list PO-IN-192.0.2.7 seq 5 permit 203.0.113.0/24", "neighbor 192.0.2.7 description po:x/y",
		"neighbor 192.0.2.7 maximum-prefix 5 force", "neighbor 192.0.2.7 route-map PO-IN-192.0.2.7 in", "no route-map PO-IN-192.0.2.2",
		"no route-map PO-TXN-DEFAULT-SHUTDOWN", "no route-map PO-CREATING"} {
		index(t, batch, l)
	}
	if i := slices.IndexFunc(batch, func(l string) bool { return strings.Contains(l, "shutdown") && !strings.Contains(l, "TXN") }); i >= 0 {
		t.Errorf("batch line %q", batch[i])
	}
	if len(p.part(phaseUrgent))+len(p.part(phaseCreate))+len(batch)+len(p.part(phaseEnable)) < len(p.lines) {
		t.Error("lines lost between phases")
	}
	if p.only(phaseEnable) || !planFor(t, handMade, desired()).only(phaseEnable) {
		t.Error("only")
	}
}

// A neighbor left without description nor filters by an apply cut in its
// creation phase is ours while the creation journal exists: it is
// completed, not reported as someone else's.
func TestPlanAdoptsCutCreation(t *testing.T) {
	n := router.Neighbor{Address: addr("192.0.2.5"), PeerASN: 65005, Owner: "x/y", Import: exact("203.0.113.0/24")}
	cut := strings.Replace(handMade, " neighbor 192.0.2.99 remote-as 65099\n",
		" neighbor 192.0.2.5 remote-as 65005\n neighbor 192.0.2.5 shutdown\n neighbor 192.0.2.99 remote-as 65099\n", 1)
	have, err := parseRunning(cut)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := makePlan(desiredConfig(desired(n)), have); !errors.Is(err, cli.ErrConflict) {
		t.Errorf("without the journal: %v", err)
	}
	p := planFor(t, strings.Replace(cut, "end\n", "route-map PO-CREATING deny 1\nexit\nend\n", 1), desired(n))
	if p.added != 0 || p.updated != 1 || len(p.part(phaseCreate)) != 0 {
		t.Errorf("%+v", p)
	}
	index(t, p.lines, "neighbor 192.0.2.5 description po:x/y")
	index(t, p.lines, "no route-map PO-CREATING")
	if got := strings.Join(p.part(phaseEnable), "|"); got != "router bgp 65000|no neighbor 192.0.2.5 shutdown|exit" {
		t.Errorf("enable: %s", got)
	}
}
