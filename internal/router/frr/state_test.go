package frr

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/peering-operator/peering-operator/internal/frrtest"
	"github.com/peering-operator/peering-operator/internal/router"
)

// TestLiveStateParses reads FRR's real "show bgp neighbors json" from a
// running FRR (an established neighbor, one tripped by its limit, one shut
// down, one configured by hand) and checks the parser against it, so a new
// FRR's output is caught here rather than in production. With -update it
// also records the output as the fixture TestParseNeighbors reads.
func TestLiveStateParses(t *testing.T) {
	r := frrtest.StartFRR(t, frrtest.Options{BGPConfig: handBGP})
	r.StartPeer(65001, addr("192.0.2.2"), pfx("203.0.113.0/25"), pfx("203.0.113.128/25"))
	r.StartPeer(65003, addr("192.0.2.3"), pfx("203.0.113.0/26"), pfx("203.0.113.64/26"), pfx("203.0.113.128/26"))
	d := New(liveConfig(r, true))
	defer d.Close()
	_, err := d.Apply(context.Background(), desired(
		router.Neighbor{Address: addr("192.0.2.2"), PeerASN: 65001, Owner: "p/a", MaxPrefixes: 10, Import: exact("203.0.113.0/25")},
		router.Neighbor{Address: addr("192.0.2.3"), PeerASN: 65003, Owner: "p/b", MaxPrefixes: 2, Import: exact("203.0.113.0/26")},
		router.Neighbor{Address: addr("2001:db8::4"), PeerASN: 65004, Owner: "p/c", Shutdown: true},
	))
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, func() string {
		out := vtysh(t, r, "show bgp neighbors json")
		if !strings.Contains(out, "Maximum Number of Prefixes") || !strings.Contains(out, `"acceptedPrefixCounter":1`) {
			return "waiting"
		}
		return ""
	})
	out := vtysh(t, r, "show bgp neighbors json")
	pc := vtysh(t, r, "show bgp ipv4 unicast neighbors 192.0.2.2 prefix-counts json")
	checkNeighbors(t, out, pc)
	if !*update {
		return
	}
	if err := os.WriteFile(filepath.Join("testdata", "neighbors.json"), []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join("testdata", "prefix-counts.json"), []byte(pc), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestParseNeighbors(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "neighbors.json"))
	if err != nil {
		t.Fatal(err)
	}
	pc, err := os.ReadFile(filepath.Join("testdata", "prefix-counts.json"))
	if err != nil {
		t.Fatal(err)
	}
	checkNeighbors(t, string(b), string(pc))

	// A prompt or echo around the JSON does not matter; garbage does.
	if _, _, err := parseNeighbors("show bgp neighbors json\n"+string(b)+"\nr1#", time.Now()); err != nil {
		t.Error(err)
	}
	if _, _, err := parseNeighbors("{ not json", time.Now()); err == nil {
		t.Error("garbage parsed")
	}
}

// checkNeighbors checks what the parser makes of the lab in
// TestLiveStateParses, recorded or live.
func checkNeighbors(t *testing.T, neighbors, prefixCounts string) {
	t.Helper()
	sts, softIn, err := parseNeighbors(neighbors, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(sts) != 3 {
		t.Fatalf("want the 3 managed neighbors (not the hand-made one), got %+v", sts)
	}
	byAddr := map[string]router.NeighborState{}
	for _, s := range sts {
		byAddr[s.Address.String()] = s
	}
	up := byAddr["192.0.2.2"]
	if up.State != "Established" || up.Accepted != 1 || up.Limit != 10 || up.EstablishedSince.IsZero() || !softIn[up.Address] {
		t.Errorf("established: %+v", up)
	}
	tripped := byAddr["192.0.2.3"]
	if tripped.State != "Idle" || tripped.Limit != 2 || !strings.Contains(tripped.LastError, "maximum prefix limit 2 exceeded") ||
		!strings.Contains(tripped.LastError, "NOTIFICATION sent: Cease/Maximum Number of Prefixes Reached") || !tripped.EstablishedSince.IsZero() {
		t.Errorf("tripped: %+v", tripped)
	}
	if down := byAddr["2001:db8::4"]; down.State != "Idle" || down.LastError != "" {
		t.Errorf("shutdown: %+v", down)
	}

	if got := adjIn(prefixCounts); got != 2 {
		t.Errorf("Adj-in = %d, want 2", got)
	}
}
