package frr

import (
	"slices"
	"strings"
	"testing"

	"github.com/peering-operator/peering-operator/internal/router"
	"github.com/peering-operator/peering-operator/internal/router/cli"
)

// converged is handMade plus what the operator configured for des.
func converged(des router.Desired) string {
	return strings.Replace(handMade, "end\n", string(desiredConfig(des).render())+"end\n", 1)
}

// without returns des without the neighbor at a, and a held instead.
func without(des router.Desired, a string, shutdown *bool) router.Desired {
	des.Neighbors = slices.DeleteFunc(slices.Clone(des.Neighbors), func(n router.Neighbor) bool { return n.Address == addr(a) })
	des.Held = append(des.Held, router.Held{Address: addr(a), Owner: "peers/held", Shutdown: shutdown})
	return des
}

func ptr(b bool) *bool { return &b }

func mentions(lines []string, words ...string) []string {
	var out []string
	for _, l := range lines {
		for _, w := range words {
			if strings.Contains(l, w) {
				out = append(out, l)
				break
			}
		}
	}
	return out
}

// A held neighbor keeps everything it runs with: its prefix-list,
// route-map, first-AS list and the bogon list it shares, which no other
// neighbor wants any more, while the same apply removes one neighbor and
// creates another (toggling "bgp default shutdown").
func TestHoldKeepsNeighborAndObjects(t *testing.T) {
	running := converged(sample())
	added := router.Neighbor{Address: addr("192.0.2.4"), PeerASN: 65004, Owner: "peers/new", EnforceFirstAS: true, Import: exact("198.51.100.0/24")}
	des := without(sample(), "192.0.2.2", nil)
	des.Neighbors = append(des.Neighbors[:1:1], added) // 192.0.2.3 goes
	p := planFor(t, running, des)
	if bad := mentions(p.lines, "192.0.2.2", bogonASNs); len(bad) > 0 {
		t.Errorf("plan touches the held neighbor: %q", bad)
	}
	all := strings.Join(p.lines, "\n")
	for _, l := range []string{"no neighbor 192.0.2.3", "no route-map PO-IN-192.0.2.3", "no ip prefix-list PO-IN-192.0.2.3",
		"bgp default shutdown", "neighbor 192.0.2.4 remote-as 65004", "no neighbor 192.0.2.4 shutdown"} {
		if !slices.Contains(p.lines, l) {
			t.Errorf("no line %q in\n%s", l, all)
		}
	}
	if p.added != 1 || p.updated != 0 || p.removed != 1 {
		t.Errorf("counts %+v", p)
	}

	// Not held, the same change would remove it and the bogon list.
	free := des
	free.Held = nil
	if l := planFor(t, running, free).lines; !slices.Contains(l, "no neighbor 192.0.2.2") || !slices.Contains(l, "no bgp as-path access-list "+bogonASNs) {
		t.Errorf("unheld: %q", l)
	}

	// The router after the apply: the check that follows a push (and the
	// next apply) finds nothing to do.
	after := converged(desired(sample().Neighbors[0], sample().Neighbors[1], added))
	if p := planFor(t, after, des); len(p.lines) != 0 {
		t.Errorf("not converged: %q", p.lines)
	}
}

// Shutdown is the one change a held neighbor takes, and only that line is
// written; its password (shown in clear by FRR) is not rewritten.
func TestHoldShutdown(t *testing.T) {
	running := converged(sample()) // 192.0.2.2 is up, with a password
	p := planFor(t, running, without(sample(), "192.0.2.2", ptr(true)))
	if want := []string{"router bgp 65000", "neighbor 192.0.2.2 shutdown", "exit"}; !slices.Equal(p.lines, want) || p.updated != 1 || p.added+p.removed != 0 {
		t.Errorf("got %q %+v, want %q", p.lines, p, want)
	}
	shut := strings.Replace(running, " neighbor 192.0.2.2 description", " neighbor 192.0.2.2 shutdown\n neighbor 192.0.2.2 description", 1)
	if p := planFor(t, shut, without(sample(), "192.0.2.2", ptr(true))); len(p.lines) != 0 {
		t.Errorf("shut already: %q", p.lines)
	}
	if p := planFor(t, shut, without(sample(), "192.0.2.2", ptr(false))); !slices.Equal(p.lines, []string{"router bgp 65000", "no neighbor 192.0.2.2 shutdown", "exit"}) {
		t.Errorf("enable: %q", p.lines)
	}
	if p := planFor(t, shut, without(sample(), "192.0.2.2", nil)); len(p.lines) != 0 {
		t.Errorf("no override: %q", p.lines)
	}
	if p := planFor(t, running, without(sample(), "192.0.2.2", ptr(false))); len(p.lines) != 0 {
		t.Errorf("up already: %q", p.lines)
	}
}

// A held neighbor whose password runs keeps it: no password line, with or
// without an admin change.
func TestHoldKeepsPassword(t *testing.T) {
	n := router.Neighbor{Address: addr("192.0.2.5"), PeerASN: 65005, Owner: "p/pw", Password: "Md5-secret", Import: exact("203.0.113.0/24")}
	running := converged(desired(n))
	if !strings.Contains(running, "neighbor 192.0.2.5 password Md5-secret") {
		t.Fatal("fixture has no password")
	}
	for _, sh := range []*bool{nil, ptr(false), ptr(true)} {
		p := planFor(t, running, without(desired(n), "192.0.2.5", sh))
		if bad := mentions(p.lines, "password"); len(bad) > 0 {
			t.Errorf("shutdown %v: %q", sh, bad)
		}
		want := 0
		if sh != nil && *sh {
			want = 3 // router bgp, shutdown, exit
		}
		if len(p.lines) != want {
			t.Errorf("shutdown %v: %q", sh, p.lines)
		}
	}
}

// A held address that is not on the router is not created; one that is
// there but not ours is not touched; objects named after a held address
// stay even without their neighbor.
func TestHoldAbsent(t *testing.T) {
	for _, sh := range []*bool{nil, ptr(false), ptr(true)} {
		des := desired()
		des.Held = []router.Held{{Address: addr("192.0.2.7"), Shutdown: sh}, {Address: addr("192.0.2.99"), Shutdown: sh}}
		if p := planFor(t, handMade, des); len(p.lines) != 0 {
			t.Errorf("shutdown %v: %q", sh, p.lines)
		}
	}
	left := strings.Replace(handMade, "end\n", "ip prefix-list PO-IN-192.0.2.7 seq 5 permit 203.0.113.0/24\nend\n", 1)
	if p := planFor(t, left, without(desired(), "192.0.2.7", ptr(true))); len(p.lines) != 0 {
		t.Errorf("objects of a held address: %q", p.lines)
	}
	if p := planFor(t, left, desired()); !slices.Equal(p.lines, []string{"no ip prefix-list PO-IN-192.0.2.7"}) {
		t.Errorf("unheld leftovers: %q", p.lines)
	}
}

// A creation cut short (born shut down, no description nor route-map yet)
// is never enabled by a hold: it may lack its filter and limit.
func TestHoldKeepsHalfCreatedDown(t *testing.T) {
	running := strings.Replace(handMade, " neighbor 192.0.2.99 remote-as 65099\n",
		" neighbor 192.0.2.5 remote-as 65005\n neighbor 192.0.2.5 shutdown\n neighbor 192.0.2.99 remote-as 65099\n", 1)
	running = strings.Replace(running, "end\n", "ip prefix-list PO-IN-192.0.2.5 seq 5 permit 203.0.113.0/24\nend\n", 1)
	for _, sh := range []*bool{nil, ptr(false), ptr(true)} {
		if p := planFor(t, running, without(desired(), "192.0.2.5", sh)); len(p.lines) != 0 {
			t.Errorf("shutdown %v: %q", sh, p.lines)
		}
	}
}

// A shared object a held neighbor uses keeps the router's version even
// when other neighbors want another; the hold wins until it ends.
func TestHoldSharedObjectKeepsRouterVersion(t *testing.T) {
	running := strings.Replace(converged(sample()), cli.BogonASNRegex(), "_64512_", 1)
	if p := planFor(t, running, without(sample(), "192.0.2.2", nil)); len(mentions(p.lines, bogonASNs)) > 0 {
		t.Errorf("shared list changed under a held neighbor: %q", p.lines)
	}
	if p := planFor(t, running, sample()); len(mentions(p.lines, bogonASNs)) == 0 {
		t.Errorf("unheld: bogon list not repaired: %q", p.lines)
	}
}

// Render names held neighbors and their override, so the digest changes
// with them; it still reads back as what it describes.
func TestRenderHeld(t *testing.T) {
	d := New(cli.Config{})
	digests := map[string]bool{}
	for _, sh := range []*bool{nil, ptr(false), ptr(true)} {
		des := without(sample(), "192.0.2.2", sh)
		des.Held = append(des.Held, router.Held{Address: addr("2001:db8::9")})
		out, err := d.Render(des)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(out), "! held neighbor 192.0.2.2 ") || !strings.Contains(string(out), "! held neighbor 2001:db8::9 ") {
			t.Errorf("held not rendered:\n%s", out)
		}
		digests[cli.Digest(out)] = true
		have, err := parseRunning(string(out))
		if err != nil {
			t.Fatal(err)
		}
		if p, err := makePlan(hold(desiredConfig(des), have), have); err != nil || len(p.lines) != 0 {
			t.Errorf("render does not read back: %v %q", err, p.lines)
		}
	}
	plain, _ := d.Render(sample())
	digests[cli.Digest(plain)] = true
	if len(digests) != 4 {
		t.Errorf("%d distinct digests of 4 held sets", len(digests))
	}
}
