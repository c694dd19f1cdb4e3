package gobgp

import (
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/peering-operator/peering-operator/internal/policy"
)

// gobgpRegexps compiles AS_PATH set entries the way GoBGP v3.37.0 does
// (table.NewAsPathSet): "_" becomes a separator-or-edge group.
func gobgpRegexps(t *testing.T, entries []string) []*regexp.Regexp {
	t.Helper()
	var out []*regexp.Regexp
	for _, e := range entries {
		out = append(out, regexp.MustCompile(strings.ReplaceAll(e, "_", "(^|[,{}() ]|$)")))
	}
	return out
}

func anyMatch(res []*regexp.Regexp, s string) bool {
	for _, re := range res {
		if re.MatchString(s) {
			return true
		}
	}
	return false
}

func bogon(asn uint64) bool {
	b, _ := policy.BogonASN(uint32(asn))
	return b
}

func TestDecimalRangeExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	cases := [][2]uint64{
		{0, 0}, {0, 9}, {0, 10}, {7, 7}, {9, 10}, {10, 99}, {99, 100}, {1, 999999}, {64496, 131071},
		{23456, 23456}, {100, 199}, {101, 198}, {4200000000, 4294967294}, {4294967295, 4294967295}, {0, 4294967295},
	}
	for range 300 {
		a, b := rng.Uint64N(1<<32), rng.Uint64N(1<<32)
		if rng.IntN(2) == 0 {
			a, b = rng.Uint64N(200000), rng.Uint64N(200000)
		}
		cases = append(cases, [2]uint64{min(a, b), max(a, b)})
	}
	for _, c := range cases {
		lo, hi := c[0], c[1]
		alts := decimalRange(lo, hi)
		re := regexp.MustCompile(`^(?:` + strings.Join(alts, "|") + `)$`)
		probe := func(n uint64) {
			if n > 1<<32-1 {
				return
			}
			if got, want := re.MatchString(strconv.FormatUint(n, 10)), n >= lo && n <= hi; got != want {
				t.Fatalf("range %d..%d (%v): %d matches=%t", lo, hi, alts, n, got)
			}
			if n > 0 && re.MatchString("0"+strconv.FormatUint(n, 10)) {
				t.Fatalf("range %d..%d: %d with a leading zero matches", lo, hi, n)
			}
		}
		if hi-lo <= 2000 {
			for n := lo; n <= hi; n++ {
				probe(n)
			}
		}
		for _, e := range []uint64{lo, hi} {
			for d := uint64(0); d <= 3; d++ {
				probe(e + d)
				if e >= d {
					probe(e - d)
				}
			}
		}
		// Every power of ten nearby, where the digit count changes.
		for p := uint64(1); p <= 1e10; p *= 10 {
			probe(p - 1)
			probe(p)
		}
		for range 200 {
			probe(lo + rng.Uint64N(hi-lo+1))
			probe(rng.Uint64N(1 << 32))
		}
	}
}

// The bogon set as GoBGP compiles it matches exactly the ASNs
// policy.BogonASN calls bogons, wherever they stand in a path.
func TestBogonASNPatterns(t *testing.T) {
	for _, p := range bogonASNPatterns {
		if strings.Contains(p, "_") {
			t.Fatalf("%q contains _: GoBGP would list it back rewritten", p)
		}
		t.Logf("%s", p)
	}
	res := gobgpRegexps(t, bogonASNPatterns)
	check := func(asn uint64) {
		t.Helper()
		a := strconv.FormatUint(asn, 10)
		want := bogon(asn)
		for _, path := range []string{a, "3356 " + a, a + " 1299", "174 " + a + " 3356", "3356 {1299," + a + "}", "(" + a + " 1) 2", "[" + a + "]"} {
			if got := anyMatch(res, path); got != want {
				t.Fatalf("AS path %q: bogon match %t, BogonASN(%d) %t", path, got, asn, want)
			}
		}
	}
	// The edges named in the brief, then everything near every edge.
	for _, c := range []struct {
		asn  uint64
		want bool
	}{
		{0, true}, {1, false}, {23455, false}, {23456, true}, {23457, false}, {64495, false}, {64496, true},
		{65535, true}, {131071, true}, {131072, false}, {4199999999, false}, {4200000000, true}, {4294967295, true},
	} {
		if bogon(c.asn) != c.want {
			t.Fatalf("policy.BogonASN(%d) is not %t: this test's table is out of date", c.asn, c.want)
		}
		check(c.asn)
	}
	for _, r := range policy.BogonASNRanges() {
		for _, e := range []uint64{uint64(r.From), uint64(r.To)} {
			for d := uint64(0); d <= 5; d++ {
				if e+d < 1<<32 {
					check(e + d)
				}
				if e >= d {
					check(e - d)
				}
			}
		}
	}
	// Exhaustively below 140,000 (all 16-bit ASNs and the reserved block
	// above), around the 32-bit private range, and at random.
	for asn := uint64(0); asn < 140000; asn++ {
		a := strconv.FormatUint(asn, 10)
		if anyMatch(res, a) != bogon(asn) || asn > 0 && anyMatch(res, "1 "+a+"0") != bogon(asn*10) {
			t.Fatalf("ASN %d (or %d0) matched wrongly", asn, asn)
		}
	}
	for asn := uint64(4199990000); asn <= 4200010000; asn++ {
		check(asn)
	}
	for asn := uint64(4294957295); asn < 1<<32; asn++ {
		check(asn)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 20000 {
		check(rng.Uint64N(1 << 32))
	}
	// A digit run longer than any ASN is no ASN.
	if anyMatch(res, "64512"+"0000000000") || anyMatch(res, "42000000001") {
		t.Error("a number longer than 32 bits matched")
	}
}

func TestASNRangePatternMerge(t *testing.T) {
	got := asnRangePattern([]policy.ASNRange{{From: 20, To: 29}, {From: 5, To: 5}, {From: 10, To: 19}, {From: 7, To: 6}})
	if want := `\b(?:5|[1-2][0-9])\b`; got != want {
		t.Errorf("asnRangePattern: %q, want %q (sorted, adjacent ranges merged, empty ones dropped)", got, want)
	}
	none := regexp.MustCompile(asnRangePattern(nil))
	for _, p := range []string{"", "0", "1 2", "{1,2}"} {
		if none.MatchString(p) {
			t.Errorf("no ranges match %q", p)
		}
	}
}

func TestFirstASPatterns(t *testing.T) {
	if got := firstASPatterns(true, 64001); len(got) != 1 || got[0] != "^64001_" {
		t.Errorf("on: %q", got)
	}
	// Off matches every path, empty ones too: the inverted condition never
	// holds.
	res := gobgpRegexps(t, firstASPatterns(false, 64001))
	for _, p := range []string{"", "64001", "1 2 3", "{1,2}"} {
		if !anyMatch(res, p) {
			t.Errorf("off does not match %q", p)
		}
	}
}
