package frr

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/peering-operator/peering-operator/internal/router"
	"github.com/peering-operator/peering-operator/internal/router/cli"
)

var update = flag.Bool("update", false, "rewrite golden files")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if string(want) != string(got) {
		t.Errorf("%s differs (run with -update to accept):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

// sample covers every rendering feature; neighbors are deliberately not
// sorted and entries duplicated.
func sample() router.Desired {
	return desired(
		// A route-server client: Export is not used.
		router.Neighbor{Address: addr("2001:db8::3"), PeerASN: 4200000001, Owner: "peers/as4200000001-ix", RouteServerClient: true, MaxPrefixes: 50000,
			Import:  []router.Entry{{Prefix: pfx("2001:db8:f000::/36"), GE: 36, LE: 48}, {Prefix: pfx("2001:db8:1::/48"), Exact: true}},
			Export:  exact("2001:db8:a::/48"),
			Learned: router.LearnedRouteServer, IXID: 90003},
		router.Neighbor{Address: addr("192.0.2.2"), PeerASN: 65001, Description: "Example  Net   FRA ", Owner: "peers/as65001-ix", MaxPrefixes: 100,
			Password: "s3cret-md5", RejectBogonASNs: true, EnforceFirstAS: true,
			Import: []router.Entry{
				{Prefix: pfx("203.0.113.0/24"), Exact: true},
				{Prefix: pfx("198.51.100.0/24"), GE: 24, LE: 24},
				{Prefix: pfx("192.0.2.0/24"), GE: 25, LE: 32},
				{Prefix: pfx("10.0.0.0/8"), GE: 8, LE: 24},
				{Prefix: pfx("203.0.113.0/24"), Exact: true},
			},
			Export:  []router.Entry{{Prefix: pfx("100.64.0.0/24"), Exact: true}, {Prefix: pfx("100.64.8.0/21"), GE: 22, LE: 24}},
			Learned: router.LearnedPeer, IXID: 90003},
		// Empty Export: an explicit deny-all.
		router.Neighbor{Address: addr("192.0.2.3"), PeerASN: 65002, Owner: "peers/as65002-ix", Shutdown: true, RejectBogonASNs: true},
	)
}

func TestRenderGolden(t *testing.T) {
	d := New(cli.Config{})
	got, err := d.Render(sample())
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "render-sample.golden", got)
	empty, err := d.Render(desired())
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "render-empty.golden", empty)

	// Deterministic whatever the input order.
	s := sample()
	s.Neighbors[0], s.Neighbors[2] = s.Neighbors[2], s.Neighbors[0]
	again, _ := d.Render(s)
	if string(again) != string(got) {
		t.Error("render depends on neighbor order")
	}
}

// A render must read back (parse) as exactly what it describes: otherwise
// Apply would never converge.
func TestRenderParsesBack(t *testing.T) {
	des := sample()
	want := desiredConfig(des)
	have, err := parseRunning(string(want.render()))
	if err != nil {
		t.Fatal(err)
	}
	p, err := makePlan(want, have)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.lines) != 0 {
		t.Fatalf("plan against own render is not empty:\n%s", strings.Join(p.lines, "\n"))
	}
}

func TestRenderRejects(t *testing.T) {
	d := New(cli.Config{})
	ok := router.Neighbor{Address: addr("192.0.2.9"), PeerASN: 65001}
	for name, n := range map[string]router.Neighbor{
		"iBGP":         {Address: addr("192.0.2.2"), PeerASN: 65000},
		"owner space":  {Address: addr("192.0.2.2"), PeerASN: 65001, Owner: "a b"},
		"AS_TRANS":     {Address: addr("192.0.2.2"), PeerASN: 23456},
		"zone":         {Address: addr("fe80::1%eth0"), PeerASN: 65001},
		"family mixup": {Address: addr("192.0.2.2"), PeerASN: 65001, Import: []router.Entry{{Prefix: pfx("2001:db8::/32"), Exact: true}}},
	} {
		if _, err := d.Render(desired(ok, n)); !errors.Is(err, router.ErrInvalid) {
			t.Errorf("%s: got %v, want ErrInvalid", name, err)
		}
	}
}
