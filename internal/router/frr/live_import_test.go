package frr

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/peering-operator/peering-operator/internal/frrtest"
	"github.com/peering-operator/peering-operator/internal/router"
)

// Import marks on real FRR: the local preference and informational
// communities we set on a peer's routes, next to the learned tag; a route
// the peer sends with GRACEFUL_SHUTDOWN gets local preference 0 unless the
// neighbor ignores it (then the community is taken off and the route gets
// the neighbor's preference). Each change reads back as converged and
// none resets the session; without marks no trace is left.
func TestLiveImportMarks(t *testing.T) {
	r := frrtest.StartFRR(t, frrtest.Options{})
	p := exportPeers[0]
	gshut := pfx("198.18.101.0/24")
	peer, err := r.StartPeer(p.asn, p.addr, p.prefix)
	if err != nil {
		t.Fatal(err)
	}
	// The peer drains one of its routes towards us.
	if _, err := peer.Vtysh("configure terminal", "route-map GS permit 10", "set community graceful-shutdown", "exit",
		fmt.Sprintf("router bgp %d", p.asn), "address-family ipv4 unicast", "network "+gshut.String()+" route-map GS"); err != nil {
		t.Fatal(err)
	}
	d := New(liveConfig(r, true))
	defer d.Close()
	ctx := context.Background()
	n := router.Neighbor{Address: p.addr, PeerASN: p.asn, Owner: "p/marks", MaxPrefixes: 100,
		Import:  []router.Entry{{Prefix: p.prefix, Exact: true}, {Prefix: gshut, Exact: true}},
		Learned: router.LearnedPeer, IXID: liveIXID, LocalPref: 200, Communities: []string{"65000:9:9", "65000:3100"}}
	type seen struct {
		pref              int
		std, large, issue string
	}
	look := func(pf string) seen {
		var ours struct {
			Paths []struct {
				LocPrf    *int `json:"locPrf"`
				Community struct {
					String string `json:"string"`
				} `json:"community"`
				LargeCommunity struct {
					String string `json:"string"`
				} `json:"largeCommunity"`
			} `json:"paths"`
		}
		out := vtysh(t, r, "show bgp ipv4 unicast "+pf+" json")
		if json.Unmarshal([]byte(out), &ours) != nil || len(ours.Paths) == 0 {
			return seen{issue: fmt.Sprintf("we have no route %s: %s", pf, out)}
		}
		s := seen{pref: -1, std: ours.Paths[0].Community.String, large: ours.Paths[0].LargeCommunity.String}
		if lp := ours.Paths[0].LocPrf; lp != nil {
			s.pref = *lp
		}
		return s
	}
	expect := func(what string, normal, drained seen) {
		t.Helper()
		eventually(t, 60*time.Second, func() string {
			for _, c := range []struct {
				pf   string
				want seen
			}{{p.prefix.String(), normal}, {gshut.String(), drained}} {
				if got := look(c.pf); got != c.want {
					return fmt.Sprintf("%s: %s: got %+v, want %+v", what, c.pf, got, c.want)
				}
			}
			return ""
		})
	}
	apply := func(what string) {
		t.Helper()
		if _, err := d.Apply(ctx, desired(n)); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if res, err := d.Apply(ctx, desired(n)); err != nil || res.Changed() {
			t.Fatalf("%s, converged: %+v %v", what, res, err)
		}
	}
	sessions := func() (established, dropped int) { return sessionCounts(t, r, p.addr) }

	apply("marks")
	learned := router.LearnedCommunity(65000, router.LearnedPeer, liveIXID)
	expect("local-pref 200 and our communities; the drained route honoured",
		seen{pref: 200, std: "65000:3100", large: learned + " 65000:9:9"},
		seen{pref: 0, std: "65000:3100 graceful-shutdown", large: learned + " 65000:9:9"})
	est, dropped := sessions()

	n.LocalPref, n.Communities, n.IgnoreGracefulShutdown = 150, []string{"65000:3200"}, true
	apply("changed marks, GRACEFUL_SHUTDOWN ignored")
	expect("local-pref 150, 65000:3200; the drained route's community taken off",
		seen{pref: 150, std: "65000:3200", large: learned},
		seen{pref: 150, std: "65000:3200", large: learned})

	n.LocalPref, n.Communities, n.IgnoreGracefulShutdown = 0, nil, false
	apply("no marks")
	expect("FRR's defaults again (no local-pref set: none in its JSON)", seen{pref: -1, large: learned}, seen{pref: 0, std: "graceful-shutdown", large: learned})
	if e, dr := sessions(); e != est || dr != dropped {
		t.Errorf("a change of marks reset the session: FRR counts %d established and %d dropped, before %d and %d", e, dr, est, dropped)
	}
	if run := vtysh(t, r, "show running-config"); strings.Contains(run, gshutList) || strings.Contains(run, "local-preference") || strings.Contains(run, "set community") {
		t.Errorf("marks left behind:\n%s", run)
	}
}
