package frr

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/peering-operator/peering-operator/internal/bgptest"
	"github.com/peering-operator/peering-operator/internal/frrtest"
	"github.com/peering-operator/peering-operator/internal/router"
)

// RPKI on real FRR with a real RTR cache (StayRTR): with the Router's
// caches, a peer's RPKI-invalid route is rejected while its valid and
// not-found ones are accepted; the apply converges; without them the
// reject goes and the invalid route is accepted again, while the cache,
// which the driver never removes, stays configured.
func TestLiveRPKI(t *testing.T) {
	r := frrtest.StartFRR(t, frrtest.Options{RPKI: true})
	p := exportPeers[0]
	valid, invalid, unknown := pfx("198.18.1.0/24"), pfx("198.18.7.0/24"), pfx("198.18.9.0/24")
	cache := bgptest.StartStayRTRAt(t, r.MgmtRoot(), []bgptest.VRP{
		{Prefix: valid, MaxLen: 24, ASN: p.asn},
		{Prefix: invalid, MaxLen: 24, ASN: 64999}, // someone else's
	})
	host, port, _ := strings.Cut(cache, ":")
	pn, _ := strconv.Atoi(port)
	if _, err := r.StartPeer(p.asn, p.addr, valid, invalid, unknown); err != nil {
		t.Fatal(err)
	}
	d := New(liveConfig(r, true))
	defer d.Close()
	ctx := context.Background()
	n := router.Neighbor{Address: p.addr, PeerASN: p.asn, Owner: "p/rpki", MaxPrefixes: 100,
		Import: []router.Entry{{Prefix: netip.MustParsePrefix("198.18.0.0/16"), GE: 24, LE: 24}}}
	des := desired(n)
	des.RPKI = []router.RTRServer{{Host: host, Port: uint16(pn)}}
	apply := func(what string) {
		t.Helper()
		if _, err := d.Apply(ctx, des); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if res, err := d.Apply(ctx, des); err != nil || res.Changed() {
			t.Fatalf("%s, converged: %+v %v", what, res, err)
		}
	}
	counts := func(what string, received, accepted int64) {
		t.Helper()
		eventually(t, 60*time.Second, func() string {
			s, msg := stateOf(t, d, p.addr)
			if msg == "" && (s.Received != received || s.Accepted != accepted) {
				msg = fmt.Sprintf("%s: %d received, %d accepted; want %d, %d (rpki: %s)", what, s.Received, s.Accepted, received, accepted,
					vtysh(t, r, "show rpki cache-connection"))
			}
			return msg
		})
	}
	apply("with the cache")
	counts("invalid rejected", 3, 2)
	if out := vtysh(t, r, "show bgp ipv4 unicast "+invalid.String()); !strings.Contains(out, "Network not in table") {
		t.Errorf("the invalid route is in our table:\n%s", out)
	}

	des.RPKI = nil
	apply("without the cache")
	counts("no validation: every route accepted", 3, 3)
	if run := vtysh(t, r, "show running-config"); !strings.Contains(run, "rpki cache "+host+" "+port) || strings.Contains(run, "match rpki") {
		t.Errorf("without RPKI the cache must stay and the reject go:\n%s", run)
	}
}
