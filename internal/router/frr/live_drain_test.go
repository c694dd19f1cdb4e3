package frr

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/peering-operator/peering-operator/internal/frrtest"
	"github.com/peering-operator/peering-operator/internal/router"
)

// A drain (RFC 8326) on real FRR: the peer receives our route with
// GRACEFUL_SHUTDOWN and our router gives the peer's route local preference
// 0, without resetting the session; the apply reads back as converged; an
// undrain takes both away again.
func TestLiveDrain(t *testing.T) {
	r := frrtest.StartFRR(t, frrtest.Options{BGPConfig: []string{"address-family ipv4 unicast", "network " + ourExported.String(), "exit-address-family"}})
	if err := r.Blackhole(ourExported); err != nil {
		t.Fatal(err)
	}
	p := exportPeers[0]
	peer, err := r.StartPeer(p.asn, p.addr, p.prefix)
	if err != nil {
		t.Fatal(err)
	}
	d := New(liveConfig(r, true))
	defer d.Close()
	ctx := context.Background()
	n := router.Neighbor{Address: p.addr, PeerASN: p.asn, Owner: "p/drain", MaxPrefixes: 100, Import: []router.Entry{{Prefix: p.prefix, Exact: true}},
		Export: []router.Entry{{Prefix: ourExported, Exact: true}}, Learned: router.LearnedPeer, IXID: liveIXID}
	if _, err := d.Apply(ctx, desired(n)); err != nil {
		t.Fatal(err)
	}
	// what the peer has of our route, and what we have of the peer's.
	look := func() (gshut bool, ourPref *int, msg string) {
		var theirs struct {
			Paths []struct {
				Community struct {
					String string `json:"string"`
				} `json:"community"`
			} `json:"paths"`
		}
		out, err := peer.Vtysh("show bgp ipv4 unicast " + ourExported.String() + " json")
		if err != nil || json.Unmarshal([]byte(out), &theirs) != nil || len(theirs.Paths) == 0 {
			return false, nil, fmt.Sprintf("the peer has no route %s: %v %s", ourExported, err, out)
		}
		var ours struct {
			Paths []struct {
				LocPrf *int `json:"locPrf"`
			} `json:"paths"`
		}
		out = vtysh(t, r, "show bgp ipv4 unicast "+p.prefix.String()+" json")
		if json.Unmarshal([]byte(out), &ours) != nil || len(ours.Paths) == 0 {
			return false, nil, fmt.Sprintf("we have no route %s: %s", p.prefix, out)
		}
		return strings.Contains(theirs.Paths[0].Community.String, "graceful-shutdown"), ours.Paths[0].LocPrf, ""
	}
	sessions := func() (established, dropped int) { return sessionCounts(t, r, p.addr) }
	eventually(t, 60*time.Second, func() string {
		s, msg := stateOf(t, d, p.addr)
		if msg == "" && s.State != "Established" {
			msg = s.State
		}
		if msg == "" {
			_, _, msg = look()
		}
		return msg
	})
	est, dropped := sessions()
	if gshut, pref, _ := look(); gshut || pref != nil && *pref == 0 {
		t.Fatalf("marked before the drain: gshut %v local-pref %s", gshut, prefText(pref))
	}

	n.Drain = true
	if res, err := d.Apply(ctx, desired(n)); err != nil || res.Updated != 1 {
		t.Fatalf("drain: %+v %v", res, err)
	}
	if res, err := d.Apply(ctx, desired(n)); err != nil || res.Changed() {
		t.Fatalf("drained, converged: %+v %v", res, err)
	}
	eventually(t, 60*time.Second, func() string {
		gshut, pref, msg := look()
		if msg == "" && (!gshut || pref == nil || *pref != 0) {
			msg = fmt.Sprintf("drain not in effect: peer sees GRACEFUL_SHUTDOWN %v, our local-pref %s", gshut, prefText(pref))
		}
		return msg
	})

	n.Drain = false
	if res, err := d.Apply(ctx, desired(n)); err != nil || res.Updated != 1 {
		t.Fatalf("undrain: %+v %v", res, err)
	}
	eventually(t, 60*time.Second, func() string {
		gshut, pref, msg := look()
		if msg == "" && (gshut || pref != nil && *pref == 0) {
			msg = fmt.Sprintf("undrain not in effect: peer sees GRACEFUL_SHUTDOWN %v, our local-pref %s", gshut, prefText(pref))
		}
		return msg
	})
	if e, dr := sessions(); e != est || dr != dropped {
		t.Errorf("the session was reset by the drain: FRR counts %d established and %d dropped, before %d and %d", e, dr, est, dropped)
	}
	if run := vtysh(t, r, "show running-config"); strings.Contains(run, "graceful-shutdown") || strings.Contains(run, "local-preference") {
		t.Errorf("undrain left drain lines:\n%s", run)
	}
}

// sessionCounts is FRR's own count of the sessions a neighbor had (its
// uptime is whole seconds and would jitter).
func sessionCounts(t *testing.T, r *frrtest.Router, a netip.Addr) (established, dropped int) {
	t.Helper()
	var m map[string]struct {
		Established int `json:"connectionsEstablished"`
		Dropped     int `json:"connectionsDropped"`
	}
	out := vtysh(t, r, "show bgp neighbors "+a.String()+" json")
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	return m[a.String()].Established, m[a.String()].Dropped
}

func prefText(p *int) string {
	if p == nil {
		return "unset"
	}
	return fmt.Sprint(*p)
}
