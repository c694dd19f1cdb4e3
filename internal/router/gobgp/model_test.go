package gobgp

import (
	"bytes"
	"errors"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	api "github.com/osrg/gobgp/v3/api"

	"github.com/peering-operator/peering-operator/internal/router"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/*.golden")

func pp(s string) netip.Prefix { return netip.MustParsePrefix(s) }
func ip(s string) netip.Addr   { return netip.MustParseAddr(s) }

func exact(p string) router.Entry { return router.Entry{Prefix: pp(p), Exact: true} }
func upto(p string, ge, le int) router.Entry {
	return router.Entry{Prefix: pp(p), GE: ge, LE: le}
}

func goldenDesired() router.Desired {
	return router.Desired{
		LocalASN: 64500,
		RouterID: ip("192.0.2.1"),
		Neighbors: []router.Neighbor{
			{
				Address: ip("2001:db8::13"), PeerASN: 13335, Owner: "peering/as13335-decix-fra",
				Description: "Cloudflare v6", Shutdown: true, MaxPrefixes: 2000, Password: "s3cr3t-md5",
				Import:          []router.Entry{upto("2606:4700::/32", 32, 48)},
				RejectBogonASNs: true, EnforceFirstAS: true,
				Export:  []router.Entry{upto("2001:db8::/32", 32, 48), exact("2001:db8:1::/48")},
				Learned: router.LearnedPeer, IXID: 31,
			},
			{
				// Export and Learned mean nothing to a route-server client.
				Address: ip("192.0.2.10"), PeerASN: 64510, Owner: "peering/as64510", RouteServerClient: true,
				Export: []router.Entry{exact("203.0.113.0/24")}, Learned: router.LearnedRouteServer, IXID: 31,
				MaxPrefixes: 5, RejectBogonASNs: true,
				Import: []router.Entry{
					upto("10.0.0.0/16", 16, 25), exact("10.0.5.0/24"), exact("10.0.5.0/24"),
					exact("198.51.100.0/24"), upto("198.51.100.0/24", 24, 24),
				},
			},
			{Address: ip("192.0.2.11"), PeerASN: 64511, Owner: "peering/as64511"}, // empty filter: reject all
		},
	}
}

func TestRenderGolden(t *testing.T) {
	for name, o := range map[string]Options{
		"routeserver": {RouteServer: true, Passive: true, RPKIServer: "127.0.0.1:3323", ShutdownThresholdPct: 90},
		"ordinary":    {ConnectRetry: 5 * time.Second, PeerPort: 1179},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := Render(goldenDesired(), o)
			if err != nil {
				t.Fatal(err)
			}
			again, _ := Render(goldenDesired(), o)
			if !bytes.Equal(got, again) {
				t.Fatal("Render is not deterministic")
			}
			if bytes.Contains(got, []byte("s3cr3t")) {
				t.Fatal("Render prints the password")
			}
			path := filepath.Join("testdata", name+".golden")
			if *updateGolden {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("Render differs from %s (run with -update if intended):\n%s", path, got)
			}
		})
	}
}

// Neighbor order in Desired does not matter.
func TestRenderOrderIndependent(t *testing.T) {
	d := goldenDesired()
	a, _ := Render(d, Options{})
	d.Neighbors[0], d.Neighbors[2] = d.Neighbors[2], d.Neighbors[0]
	b, _ := Render(d, Options{})
	if !bytes.Equal(a, b) {
		t.Fatal("Render depends on the order of Desired.Neighbors")
	}
}

func TestRenderValidates(t *testing.T) {
	d := goldenDesired()
	d.Neighbors[1].Description = "evil\nneighbor 10.0.0.1"
	if _, err := Render(d, Options{}); !errors.Is(err, router.ErrInvalid) {
		t.Fatalf("Render of an invalid neighbor: %v, want ErrInvalid", err)
	}
}

func TestNeighborID(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.10":  "192_0_2_10",
		"2001:db8::a": "2001_db8__a",
		"2001:DB8::A": "2001_db8__a",
	} {
		id := neighborID(ip(in))
		if id != want {
			t.Errorf("neighborID(%s) = %s, want %s", in, id, want)
		}
		names := append([]string{prefixSetName(id), neighborSetName(id), bogonSwitchName(id), firstASSetName(id), policyName(id)}, stmtNames(id)...)
		for _, name := range names {
			if idOf(name) != id || !owned(name) {
				t.Errorf("idOf(%s) = %q, want %q", name, idOf(name), id)
			}
		}
	}
	if idOf("handmade") != "" || owned("handmade") {
		t.Error("a name without our prefix is ours")
	}
	// The shared set is ours but no neighbor's.
	if idOf(bogonASNSet) != "" || !owned(bogonASNSet) {
		t.Errorf("idOf(%s) = %q", bogonASNSet, idOf(bogonASNSet))
	}
}

// matches is GoBGP's prefix-set semantics: only the longest entry prefix
// that contains the route is consulted (critbitgo Net.Match).
func gobgpMatches(set []pfx, route netip.Prefix) bool {
	best := -1
	for _, p := range set {
		if p.prefix.Bits() <= route.Bits() && p.prefix.Contains(route.Addr()) && p.prefix.Bits() > best {
			best = p.prefix.Bits()
		}
	}
	for _, p := range set {
		if p.prefix.Bits() == best && p.prefix.Contains(route.Addr()) && p.min <= route.Bits() && route.Bits() <= p.max {
			return true
		}
	}
	return false
}

// filterMatches is what the filter means (bgpq4/FRR semantics: any entry).
func filterMatches(es []router.Entry, route netip.Prefix) bool {
	for _, e := range es {
		lo, hi := e.GE, e.LE
		if e.Exact {
			lo, hi = e.Prefix.Bits(), e.Prefix.Bits()
		}
		if e.Prefix.Bits() <= route.Bits() && e.Prefix.Contains(route.Addr()) && lo <= route.Bits() && route.Bits() <= hi {
			return true
		}
	}
	return false
}

func TestGoBGPEntriesMatchLikeTheFilter(t *testing.T) {
	filter := []router.Entry{
		upto("10.0.0.0/8", 8, 24), upto("10.1.0.0/16", 16, 16), exact("10.1.5.0/24"),
		upto("10.1.5.0/25", 25, 27), upto("10.2.0.0/16", 20, 22), exact("10.2.3.0/24"),
		upto("192.168.0.0/16", 16, 32),
	}
	naive := gobgpEntries(nil)
	for _, e := range filter {
		lo, hi := e.GE, e.LE
		if e.Exact {
			lo, hi = e.Prefix.Bits(), e.Prefix.Bits()
		}
		naive = append(naive, pfx{e.Prefix, lo, hi})
	}
	set := gobgpEntries(filter)
	naiveWrong := 0
	// Every route of length 8..28 under a few parents.
	for _, base := range []string{"10.0.0.0", "10.1.5.0", "10.1.5.128", "10.2.3.0", "10.2.0.0", "192.168.1.0", "11.0.0.0"} {
		for bits := 8; bits <= 28; bits++ {
			r, _ := ip(base).Prefix(bits)
			want := filterMatches(filter, r)
			if got := gobgpMatches(set, r); got != want {
				t.Errorf("route %s: GoBGP with our entries matches=%t, filter says %t", r, got, want)
			}
			if got := matchesSet(set, r); got != gobgpMatches(set, r) {
				t.Errorf("route %s: matchesSet says %t, GoBGP %t", r, got, !got)
			}
			if gobgpMatches(naive, r) != want {
				naiveWrong++
			}
		}
	}
	if naiveWrong == 0 {
		t.Error("the test filter does not show GoBGP's longest-match behaviour; make it nest")
	}
	// Duplicates and touching ranges merge.
	got := gobgpEntries([]router.Entry{exact("10.0.5.0/24"), exact("10.0.5.0/24"), upto("10.0.5.0/24", 25, 26)})
	if len(got) != 1 || got[0].String() != "10.0.5.0/24 24..26" {
		t.Errorf("merge: %v", got)
	}
}

// classify reports only what gobgpd's counters and session state show.
func TestClassify(t *testing.T) {
	t0 := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	up := obs{at: t0, established: true, uptime: t0.Unix() - 600, sentNotif: 1}
	later := func(f func(o *obs)) obs { o := up; o.at = t0.Add(20 * time.Second); f(&o); return o }
	for _, c := range []struct {
		name      string
		prev, now obs
		want      string
	}{
		{"nothing", up, later(func(o *obs) {}), ""},
		{"gobgpd sent", up, later(func(o *obs) { o.established = false; o.sentNotif++ }), "session closed by gobgpd with a NOTIFICATION (gobgpd's API does not expose its code) at 2025-01-02T03:04:25Z"},
		{"re-established since", up, later(func(o *obs) { o.uptime = o.at.Unix() - 5; o.sentNotif++ }), "session closed by gobgpd"},
		{"peer sent", up, later(func(o *obs) { o.established = false; o.recvNotif++ }), "session closed by the peer with a NOTIFICATION"},
		{"tcp closed", up, later(func(o *obs) { o.established = false }), "connection closed without a NOTIFICATION"},
		{"open error", obs{at: t0}, later(func(o *obs) { *o = obs{at: o.at, sentNotif: 1} }), "gobgpd refused the session"},
		{"peer refused", obs{at: t0}, later(func(o *obs) { *o = obs{at: o.at, recvNotif: 1} }), "the peer refused the session"},
		{"collision resolved", obs{at: t0}, later(func(o *obs) { *o = obs{at: o.at, established: true, uptime: o.at.Unix(), sentNotif: 1} }), ""},
		{"counters reset", up, later(func(o *obs) { *o = obs{at: o.at} }), ""},
	} {
		got := classify(c.prev, c.now)
		if c.want == "" && got != "" || !strings.Contains(got, c.want) {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

// The watcher reads a neighbor back only on transitions that can change
// its last error: not the Idle of a new neighbor, nor Idle->Active.
func TestMayChangeLastError(t *testing.T) {
	for _, c := range []struct {
		prev, st api.PeerState_SessionState
		want     bool
	}{
		{api.PeerState_UNKNOWN, api.PeerState_IDLE, false}, // gobgpd announces a new neighbor
		{api.PeerState_IDLE, api.PeerState_ACTIVE, false},
		{api.PeerState_ACTIVE, api.PeerState_IDLE, false},
		{api.PeerState_CONNECT, api.PeerState_IDLE, false},
		{api.PeerState_ACTIVE, api.PeerState_OPENSENT, false},
		{api.PeerState_OPENSENT, api.PeerState_IDLE, true}, // refused with a NOTIFICATION
		{api.PeerState_OPENCONFIRM, api.PeerState_IDLE, true},
		{api.PeerState_ESTABLISHED, api.PeerState_IDLE, true},
		{api.PeerState_OPENCONFIRM, api.PeerState_ESTABLISHED, true},
		{api.PeerState_UNKNOWN, api.PeerState_ESTABLISHED, true},
	} {
		if got := mayChangeLastError(c.prev, c.st); got != c.want {
			t.Errorf("%v -> %v: %t, want %t", c.prev, c.st, got, c.want)
		}
	}
}
