package irr_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/peering-operator/peering-operator/internal/irr"
	"github.com/peering-operator/peering-operator/internal/irr/irrtest"
)

func startServer(tb testing.TB, fixtures ...string) *irrtest.Server {
	tb.Helper()
	srv, err := irrtest.Start("127.0.0.1:0", fixtures...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { srv.Close() })
	return srv
}

func newClient(tb testing.TB, cfg irr.Config) *irr.Client {
	tb.Helper()
	c, err := irr.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// ours expands and aggregates the way `kubectl peering filter` does.
func ours(tb testing.TB, c *irr.Client, o bgpq4Opts, objects ...string) ([]byte, []irr.Entry, irr.Stats) {
	tb.Helper()
	fam := 4
	if o.v6 {
		fam = 6
	}
	ps, st, err := c.Expand(context.Background(), irr.Query{Sets: objects, Family: fam, Sources: o.sources})
	if err != nil {
		tb.Fatal(err)
	}
	entries := irr.Aggregate(ps, irr.AggregateOptions{MaxLength: o.maxLen, MoreSpecifics: o.moreSpecs})
	var buf bytes.Buffer
	if err := irr.WriteJSON(&buf, "x", entries); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes(), entries, st
}

func diffEntries(want, got []irr.Entry) string {
	var b strings.Builder
	for i := range max(len(want), len(got)) {
		var w, g string
		if i < len(want) {
			w = want[i].String()
		}
		if i < len(got) {
			g = got[i].String()
		}
		mark := "  "
		if w != g {
			mark = "!="
		}
		fmt.Fprintf(&b, "%s bgpq4 %-32s ours %s\n", mark, w, g)
	}
	return b.String()
}

// TestAgainstBGPQ4 is the oracle test: for each case, bgpq4 and our client
// run against the same server and must print the same list, byte for byte.
// Every case runs twice, with the server offering !a (both then expand on
// the server) and without (both expand with !i and pipelined !g/!6).
func TestAgainstBGPQ4(t *testing.T) {
	bgpq4Path(t)
	srv := startServer(t, irrtest.DefaultFixture(), irrtest.LargeFixture(3000))
	all := []string{"RADB", "RIPE", "ARIN"}
	cases := []struct {
		name    string
		objects []string
		opts    bgpq4Opts
	}{
		{"flat set v4", []string{"AS-CLOUDFLARE"}, bgpq4Opts{sources: []string{"RADB", "RIPE"}}},
		{"flat set v6", []string{"AS-CLOUDFLARE"}, bgpq4Opts{sources: []string{"RADB", "RIPE"}, v6: true}},
		{"hierarchical nested loop", []string{"AS3320:AS-DTAG"}, bgpq4Opts{sources: []string{"RIPE"}}},
		{"hierarchical v6", []string{"AS3320:AS-DTAG-V6"}, bgpq4Opts{sources: []string{"RIPE"}, v6: true}},
		{"pinned source", []string{"RIPE::AS-RETN"}, bgpq4Opts{sources: all}},
		{"same set, default sources pick RADB's copy", []string{"AS-RETN"}, bgpq4Opts{sources: all}},
		{"two pinned sets v6", []string{"RIPE::AS-RETN", "RIPE::AS-RETN6"}, bgpq4Opts{sources: all, v6: true}},
		{"pinned with private-ASN member", []string{"RADB::AS-HURRICANE"}, bgpq4Opts{sources: all}},
		{"private-ASN member", []string{"AS-HURRICANE"}, bgpq4Opts{sources: all}},
		{"max length", []string{"AS-GOOGLE"}, bgpq4Opts{sources: all, maxLen: 20}},
		{"more specifics", []string{"AS-MICROSOFT"}, bgpq4Opts{sources: all, moreSpecs: 24}},
		{"max length and more specifics", []string{"AS3320:AS-DTAG"}, bgpq4Opts{sources: all, maxLen: 22, moreSpecs: 24}},
		{"more specifics v6", []string{"RIPE::AS-RETN6"}, bgpq4Opts{sources: all, v6: true, maxLen: 40, moreSpecs: 48}},
		{"loop through a nested set", []string{"AS-INIT7"}, bgpq4Opts{sources: []string{"RIPE"}}},
		{"set of other networks' sets", []string{"AS6695:AS-DECIX-FRA"}, bgpq4Opts{sources: []string{"RIPE", "RADB"}}},
		{"several sets and an ASN", []string{"AS-CLOUDFLARE", "AS-GOOGLE", "AS13030"}, bgpq4Opts{sources: all}},
		{"ASN only", []string{"AS13335"}, bgpq4Opts{sources: all}},
		{"ASN only v6", []string{"AS13335"}, bgpq4Opts{sources: all, v6: true}},
		{"no source selection", []string{"AS-CLOUDFLARE"}, bgpq4Opts{}},
		{"pinned, no source selection", []string{"RIPE::AS-RETN"}, bgpq4Opts{}},
		{"empty set", []string{"AS-EMPTY"}, bgpq4Opts{sources: all}},
		{"unknown set", []string{"AS-DOES-NOT-EXIST"}, bgpq4Opts{sources: all}},
		{"bogons and long prefixes stay (policy's job)", []string{"AS3320:AS-DTAG", "AS-HURRICANE"}, bgpq4Opts{sources: all}},
		{"3000 generated routes v4", []string{irrtest.LargeSet}, bgpq4Opts{sources: []string{irrtest.LargeSource}}},
		{"3000 generated routes v6", []string{irrtest.LargeSet}, bgpq4Opts{sources: []string{irrtest.LargeSource}, v6: true}},
		{"3000 generated routes -R", []string{irrtest.LargeSet}, bgpq4Opts{sources: []string{irrtest.LargeSource}, moreSpecs: 24}},
		{"3000 generated routes -m", []string{irrtest.LargeSet}, bgpq4Opts{sources: []string{irrtest.LargeSource}, maxLen: 23}},
	}
	for _, withA := range []bool{true, false} {
		path := "i+g"
		if withA {
			path = "a"
		}
		t.Run(path, func(t *testing.T) {
			srv.SetASupport(withA)
			c := newClient(t, irr.Config{Servers: []string{srv.Addr()}, QueryTimeout: 10 * time.Second})
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					wantJSON, want := runBGPQ4(t, srv.Addr(), tc.opts, tc.objects...)
					gotJSON, got, st := ours(t, c, tc.opts, tc.objects...)
					if !slices.Equal(want, got) {
						t.Fatalf("entries differ (bgpq4 %d, ours %d):\n%s", len(want), len(got), diffEntries(want, got))
					}
					if !bytes.Equal(wantJSON, gotJSON) {
						t.Fatalf("JSON differs:\nbgpq4:\n%s\nours:\n%s", wantJSON, gotJSON)
					}
					pinned := strings.Contains(strings.Join(tc.objects, " "), "::")
					allASNs := !slices.ContainsFunc(tc.objects, func(s string) bool { return strings.Contains(s, "AS-") })
					if wantA := withA && !pinned && !allASNs && len(want) > 0; st.ServerSideA != wantA {
						t.Errorf("server-side !a used = %v, want %v", st.ServerSideA, wantA)
					}
				})
			}
		})
	}
}

// TestAggregateAgainstBGPQ4Random feeds random, dense prefix sets (lots of
// siblings, overlaps and nesting) to bgpq4 and to Aggregate, with and
// without -m and -R, in both families.
func TestAggregateAgainstBGPQ4Random(t *testing.T) {
	bgpq4Path(t)
	const sets = 40
	rng := rand.New(rand.NewPCG(1, 2))
	var rpsl strings.Builder
	for i := range sets {
		asn4, asn6 := 210000+2*i, 210001+2*i
		fmt.Fprintf(&rpsl, "as-set: AS-RAND-%d\nmembers: AS%d, AS%d\nsource: TEST\n\n", i, asn4, asn6)
		for _, p := range randomPrefixes(rng, false, 5+rng.IntN(200)) {
			fmt.Fprintf(&rpsl, "route: %s\norigin: AS%d\nsource: TEST\n\n", p, asn4)
		}
		for _, p := range randomPrefixes(rng, true, 5+rng.IntN(200)) {
			fmt.Fprintf(&rpsl, "route6: %s\norigin: AS%d\nsource: TEST\n\n", p, asn6)
		}
	}
	srv := startServer(t, rpsl.String())
	c := newClient(t, irr.Config{Servers: []string{srv.Addr()}})
	for i := range sets {
		for _, v6 := range []bool{false, true} {
			variants := []bgpq4Opts{{}, {maxLen: 22}, {moreSpecs: 24}, {maxLen: 23, moreSpecs: 25}, {moreSpecs: 20}}
			if v6 {
				variants = []bgpq4Opts{{}, {maxLen: 44}, {moreSpecs: 48}, {maxLen: 46, moreSpecs: 47}, {moreSpecs: 38}}
			}
			for _, o := range variants {
				o.v6 = v6
				o.sources = []string{"TEST"}
				set := fmt.Sprintf("AS-RAND-%d", i)
				_, want := runBGPQ4(t, srv.Addr(), o, set)
				_, got, _ := ours(t, c, o, set)
				if !slices.Equal(want, got) {
					t.Fatalf("%s %+v: entries differ (bgpq4 %d, ours %d):\n%s", set, o, len(want), len(got), diffEntries(want, got))
				}
			}
		}
	}
}

// randomPrefixes draws prefixes packed into a small block so that siblings,
// covering prefixes and long runs are common. The block size and the spread
// of lengths vary from call to call.
func randomPrefixes(rng *rand.Rand, v6 bool, n int) []netip.Prefix {
	out := make([]netip.Prefix, 0, n)
	width := []int{6, 8, 10, 12}[rng.IntN(4)] // bits of variation below the block
	if !v6 {
		block := 32 - 8 - width // block length; lengths run from there
		base := uint32(44)<<24 | rng.Uint32N(1<<24)
		base &^= 1<<(32-block) - 1
		for range n {
			l := block + rng.IntN(min(width+3, 32-block)+1)
			a := base | rng.Uint32N(1<<(32-block))
			p := netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)}), l).Masked()
			out = append(out, p)
		}
		return out
	}
	block := 48 - width
	for range n {
		l := block + rng.IntN(width+3)
		var b [16]byte
		b[0], b[1], b[2], b[3] = 0x2a, 0x0b, byte(rng.IntN(2)), 0
		x := rng.Uint64() & (1<<(64-block) - 1) // bits below the block
		hi := uint64(0x2a0b)<<48 | uint64(b[2])<<40 | x
		for i := range 8 {
			b[i] = byte(hi >> (56 - 8*i))
		}
		out = append(out, netip.PrefixFrom(netip.AddrFrom16(b), l).Masked())
	}
	return out
}
