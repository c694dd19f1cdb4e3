package policy_test

import (
	"math"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
	"github.com/peering-operator/peering-operator/internal/irr"
	"github.com/peering-operator/peering-operator/internal/policy"
)

func TestCheck(t *testing.T) {
	for p, want := range map[string]string{
		"1.1.1.0/24":         "",
		"104.16.0.0/13":      "",
		"192.0.1.0/24":       "",
		"100.63.0.0/16":      "",
		"1.1.1.0/25":         "longer than /24",
		"10.0.0.0/8":         "RFC 1918",
		"10.1.2.0/24":        "RFC 1918",
		"8.0.0.0/5":          "RFC 1918", // covers 10.0.0.0/8
		"0.0.0.0/0":          "default route",
		"100.64.0.0/16":      "RFC 6598",
		"192.0.2.0/24":       "RFC 5737",
		"198.18.0.0/16":      "RFC 2544",
		"224.0.0.0/24":       "multicast",
		"255.255.255.255/32": "reserved",
		"2606:4700::/32":     "",
		"2a00::/12":          "",
		"2606:4700::/49":     "longer than /48",
		"::/0":               "default route",
		"2001:db8::/32":      "RFC 3849",
		"2001:db8:1::/48":    "RFC 3849",
		"2001::/16":          "RFC 5180", // covers 2001:2::/48
		"2002::/16":          "6to4",
		"3ffe:1::/32":        "6bone",
		"fc00::/7":           "outside global unicast",
		"fe80::/64":          "outside global unicast",
		"ff02::/16":          "outside global unicast",
		"::ffff:0:0/96":      "outside global unicast",
		"4000::/3":           "outside global unicast",
		"2000::/2":           "outside global unicast", // covers space outside 2000::/3
		"5f00::/16":          "outside global unicast",
	} {
		err := policy.Check(netip.MustParsePrefix(p), policy.Limits{})
		switch {
		case want == "" && err != nil:
			t.Errorf("%s: unexpected %v", p, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("%s: got %v, want an error mentioning %q", p, err, want)
		}
	}
	if err := policy.Check(netip.MustParsePrefix("1.1.1.0/25"), policy.Limits{MaxLen4: 25}); err != nil {
		t.Errorf("configured limit: %v", err)
	}
}

// TestBogonsNeverSurvive is the property test: whatever goes in, nothing
// that overlaps bogon space or is too long comes out, and nothing else is
// dropped. Overlap is checked here with plain integer ranges, independently
// of netip.
func TestBogonsNeverSurvive(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 14))
	lim := policy.Limits{MaxLen4: 24, MaxLen6: 48}
	var in []netip.Prefix
	for range 50000 {
		in = append(in, randomPrefix(rng))
	}
	out := policy.Filter(in, lim)
	kept := map[netip.Prefix]bool{}
	for _, p := range out {
		kept[p] = true
		if p.Bits() == 0 {
			t.Fatalf("default route %s survived", p)
		}
		if p.Addr().Is4() {
			if p.Bits() > lim.MaxLen4 {
				t.Fatalf("%s survived the /%d limit", p, lim.MaxLen4)
			}
			lo, hi := range4(p)
			for _, b := range policy.Bogons4() {
				blo, bhi := range4(b)
				if lo <= bhi && blo <= hi {
					t.Fatalf("%s survived, overlaps bogon %s", p, b)
				}
			}
			continue
		}
		if p.Bits() > lim.MaxLen6 {
			t.Fatalf("%s survived the /%d limit", p, lim.MaxLen6)
		}
		if top := p.Addr().As16()[0] >> 5; p.Bits() < 3 || top != 1 {
			t.Fatalf("%s survived outside 2000::/3", p)
		}
		for _, b := range policy.Bogons6() {
			if b.Overlaps(p) {
				t.Fatalf("%s survived, overlaps bogon %s", p, b)
			}
		}
	}
	dropped := 0
	for _, p := range in {
		if !kept[p] {
			dropped++
			if policy.Check(p, lim) == nil {
				t.Fatalf("%s dropped without a reason", p)
			}
		}
	}
	if len(out) == 0 || dropped == 0 {
		t.Fatalf("degenerate sample: %d kept, %d dropped", len(out), dropped)
	}
}

func randomPrefix(rng *rand.Rand) netip.Prefix {
	if rng.IntN(2) == 0 {
		a := rng.Uint32()
		if rng.IntN(4) == 0 { // aim near bogons often
			b := policy.Bogons4()[rng.IntN(len(policy.Bogons4()))]
			a = uint32(b.Addr().As4()[0])<<24 | rng.Uint32N(1<<24)
		}
		return netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)}), rng.IntN(33)).Masked()
	}
	var b [16]byte
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	switch rng.IntN(4) {
	case 0, 1: // inside 2000::/3
		b[0] = 0x20 | b[0]&0x1f
	case 2: // near a listed bogon
		bg := policy.Bogons6()[rng.IntN(len(policy.Bogons6()))].Addr().As16()
		copy(b[:3], bg[:3])
	}
	return netip.PrefixFrom(netip.AddrFrom16(b), rng.IntN(129)).Masked()
}

func range4(p netip.Prefix) (lo, hi uint64) {
	a := p.Masked().Addr().As4()
	lo = uint64(a[0])<<24 | uint64(a[1])<<16 | uint64(a[2])<<8 | uint64(a[3])
	return lo, lo + 1<<(32-p.Bits()) - 1
}

func TestBogonASN(t *testing.T) {
	for asn, want := range map[uint32]bool{
		0: true, 1: false, 13335: false, 23456: true, 64495: false, 64496: true, 64512: true, 65534: true,
		65535: true, 65551: true, 65552: true, 131071: true, 131072: false, 4199999999: false,
		4200000000: true, 4294967295: true,
	} {
		if got, why := policy.BogonASN(asn); got != want || got && why == "" {
			t.Errorf("BogonASN(%d) = %v, %q", asn, got, why)
		}
	}
}

// BogonASNRanges is what BogonASN decides: sorted, disjoint ranges whose
// edges are bogons and whose neighbours outside are not.
func TestBogonASNRanges(t *testing.T) {
	rs := policy.BogonASNRanges()
	if len(rs) == 0 {
		t.Fatal("no ranges")
	}
	for i, r := range rs {
		if r.From > r.To || r.Why == "" || i > 0 && r.From <= rs[i-1].To {
			t.Errorf("range %d %+v: empty, unexplained, unsorted or overlapping", i, r)
		}
		for _, asn := range []uint32{r.From, r.To} {
			if got, _ := policy.BogonASN(asn); !got {
				t.Errorf("%d is in range %+v but BogonASN says no", asn, r)
			}
		}
		inside := func(a uint32) bool {
			for _, o := range rs {
				if a >= o.From && a <= o.To {
					return true
				}
			}
			return false
		}
		if r.From > 0 && !inside(r.From-1) {
			if got, _ := policy.BogonASN(r.From - 1); got {
				t.Errorf("%d is outside every range but BogonASN says bogon", r.From-1)
			}
		}
		if r.To < ^uint32(0) && !inside(r.To+1) {
			if got, _ := policy.BogonASN(r.To + 1); got {
				t.Errorf("%d is outside every range but BogonASN says bogon", r.To+1)
			}
		}
	}
	rs[0].From = 1 // a copy
	if got, _ := policy.BogonASN(0); !got {
		t.Error("changing the returned slice changed BogonASN")
	}
}

func ptr(n int64) *int64 { return &n }

func TestMaxPrefix(t *testing.T) {
	d := policy.Defaults{Absolute: 100, RelativePercent: 15, Unknown4: 1000, Unknown6: 200}
	for _, tc := range []struct {
		name     string
		count    *int64
		family   int
		d        policy.Defaults
		override *int64
		want     int64
	}{
		{"formula", ptr(1000), 4, d, nil, 1265},                                // (1000+100)*1.15
		{"rounds up", ptr(1), 4, policy.Defaults{RelativePercent: 10}, nil, 2}, // 1.1
		{"exact", ptr(10), 6, policy.Defaults{RelativePercent: 10}, nil, 11},
		{"zero count is a count", ptr(0), 4, d, nil, 115},
		{"null count, IPv4 default", nil, 4, d, nil, 1000},
		{"null count, IPv6 default", nil, 6, d, nil, 200},
		{"override wins", ptr(1000), 4, d, ptr(42), 42},
		{"override wins over null", nil, 6, d, ptr(7), 7},
		{"no headroom", ptr(500000), 4, policy.Defaults{}, nil, 500000},
		{"negative count", ptr(-5), 4, policy.Defaults{Absolute: 10}, nil, 10},
		{"saturates", ptr(math.MaxInt64 - 1), 4, d, nil, math.MaxInt64},
	} {
		if got := policy.MaxPrefix(tc.count, tc.family, tc.d, tc.override); got != tc.want {
			t.Errorf("%s: got %d, want %d", tc.name, got, tc.want)
		}
	}
}

func summary(prefixes int, digest string) policy.FilterSummary {
	return policy.FilterSummary{Prefixes: prefixes, Entries: prefixes / 2, Digest: digest}
}

func TestGuard(t *testing.T) {
	for _, tc := range []struct {
		name     string
		old, new policy.FilterSummary
		shrink   float64
		ok       bool
		reason   string
	}{
		{"first filter", policy.FilterSummary{}, summary(10, "b"), 0.5, true, peeringv1.ReasonGuardAccepted},
		{"empty first filter", policy.FilterSummary{}, summary(0, "e"), 0.5, false, peeringv1.ReasonFilterEmpty},
		{"empty answer", summary(10, "a"), summary(0, "e"), 0.5, false, peeringv1.ReasonFilterEmpty},
		{"small change", summary(1000, "a"), summary(990, "b"), 0.5, true, peeringv1.ReasonGuardAccepted},
		{"growth", summary(10, "a"), summary(100000, "b"), 0.5, true, peeringv1.ReasonGuardAccepted},
		{"half is allowed", summary(1000, "a"), summary(500, "b"), 0.5, true, peeringv1.ReasonGuardAccepted},
		{"large shrink", summary(1000, "a"), summary(499, "b"), 0.5, false, peeringv1.ReasonFilterShrink},
		{"default fraction", summary(1000, "a"), summary(100, "b"), 0, false, peeringv1.ReasonFilterShrink},
		{"stricter fraction", summary(1000, "a"), summary(850, "b"), 0.1, false, peeringv1.ReasonFilterShrink},
		{"shrink check off", summary(1000, "a"), summary(1, "b"), 1, true, peeringv1.ReasonGuardAccepted},
		{"unchanged", summary(1000, "a"), summary(1000, "a"), 0.5, true, peeringv1.ReasonFilterUnchanged},
	} {
		ok, reason, msg := policy.Guard(tc.old, tc.new, tc.shrink)
		if ok != tc.ok || reason != tc.reason || msg == "" {
			t.Errorf("%s: got %v %s %q", tc.name, ok, reason, msg)
		}
	}
}

// Property: the guard holds every empty answer and every shrink beyond the
// fraction, and lets everything else through.
func TestGuardProperty(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	for range 100000 {
		old := rng.IntN(2000)
		nw := rng.IntN(2000)
		if rng.IntN(10) == 0 {
			nw = 0
		}
		frac := float64(1+rng.IntN(99)) / 100
		ok, reason, _ := policy.Guard(summary(old, "old"), summary(nw, "new"), frac)
		hold := nw == 0 || old > 0 && float64(nw) < float64(old)*(1-frac)
		if ok == hold {
			t.Fatalf("old %d new %d fraction %.2f: ok=%v (%s)", old, nw, frac, ok, reason)
		}
	}
}

func TestDigest(t *testing.T) {
	es := irr.Aggregate([]netip.Prefix{
		netip.MustParsePrefix("1.1.1.0/24"), netip.MustParsePrefix("1.1.0.0/24"), netip.MustParsePrefix("8.8.8.0/24"),
	}, irr.AggregateOptions{})
	d := policy.Digest(es)
	if !strings.HasPrefix(d, "sha256:") || len(d) != 7+64 {
		t.Fatalf("digest %q", d)
	}
	rev := slices.Clone(es)
	slices.Reverse(rev)
	if policy.Digest(rev) != d {
		t.Error("digest depends on the order of the entries")
	}
	if policy.Digest(es[:1]) == d || policy.Digest(nil) == d {
		t.Error("different filters, same digest")
	}
	wider := slices.Clone(es)
	wider[0].LE++
	if policy.Digest(wider) == d {
		t.Error("a different range, same digest")
	}
	if s := policy.Summarize([]netip.Prefix{{}, {}, {}}, es); s.Prefixes != 3 || s.Entries != len(es) || s.Digest != d {
		t.Errorf("summary %+v", s)
	}
}

func TestFilterCache(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := policy.NewFilterCache(time.Hour)
	c.SetClock(func() time.Time { return now })
	k := policy.NewFilterKey([]string{"as-foo", "RIPE::AS-BAR", "AS-FOO"}, 4, []string{"ripe", "RADB"})
	if k2 := policy.NewFilterKey([]string{"RIPE::AS-BAR", "AS-FOO"}, 4, []string{"RIPE", "RADB"}); k2 != k {
		t.Errorf("keys %v and %v differ", k, k2)
	}
	if k3 := policy.NewFilterKey([]string{"AS-FOO", "RIPE::AS-BAR"}, 4, []string{"RADB", "RIPE"}); k3 == k {
		t.Error("source order must matter")
	}
	if k.String() != "AS-FOO RIPE::AS-BAR IPv4 from RIPE,RADB" {
		t.Errorf("key %q", k)
	}
	if f, _ := c.Get(k); f != nil {
		t.Fatal("empty cache returned a filter")
	}
	c.Put(&policy.CachedFilter{Key: k, Summary: summary(3, "x")})
	if f, fresh := c.Get(k); f == nil || !fresh || !f.Built.Equal(now) {
		t.Fatalf("got %+v fresh=%v", f, fresh)
	}
	now = now.Add(2 * time.Hour)
	if f, fresh := c.Get(k); f == nil || fresh {
		t.Fatalf("stale: got %+v fresh=%v; want the last good filter, not fresh", f, fresh)
	}
	if n := c.Prune(3 * time.Hour); n != 0 || c.Len() != 1 {
		t.Errorf("pruned %d", n)
	}
	now = now.Add(2 * time.Hour)
	if n := c.Prune(3 * time.Hour); n != 1 || c.Len() != 0 {
		t.Errorf("pruned %d, %d left", n, c.Len())
	}
	c.Put(&policy.CachedFilter{Key: k})
	c.Delete(k)
	if c.Len() != 0 {
		t.Error("delete")
	}
}
