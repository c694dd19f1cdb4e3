package irr_test

import (
	"bytes"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"

	"github.com/peering-operator/peering-operator/internal/irr"
)

func entries(t *testing.T, ss ...string) []irr.Entry {
	t.Helper()
	var out []irr.Entry
	for _, s := range ss {
		var p string
		var ge, le int
		e := irr.Entry{}
		if n, _ := sscan(s, &p, &ge, &le); n == 1 {
			e.Prefix = netip.MustParsePrefix(p)
			e.Exact, e.GE, e.LE = true, e.Prefix.Bits(), e.Prefix.Bits()
		} else {
			e.Prefix = netip.MustParsePrefix(p)
			e.GE, e.LE = ge, le
		}
		out = append(out, e)
	}
	return out
}

// sscan reads "prefix" or "prefix ge-le".
func sscan(s string, p *string, ge, le *int) (int, error) {
	pfx, rng, ok := bytes.Cut([]byte(s), []byte(" "))
	*p = string(pfx)
	if !ok {
		return 1, nil
	}
	a, b, _ := bytes.Cut(rng, []byte("-"))
	*ge, *le = atoi(a), atoi(b)
	return 3, nil
}

func atoi(b []byte) int {
	n := 0
	for _, c := range b {
		n = n*10 + int(c-'0')
	}
	return n
}

// Examples from bgpq4's manual and cases worked by hand; the oracle tests
// cover the rest against bgpq4 itself.
func TestAggregateExamples(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []netip.Prefix
		opt  irr.AggregateOptions
		want []irr.Entry
	}{
		{
			name: "bgpq4 manual: two /19 siblings under a glue /18",
			in:   prefixes("89.112.0.0/19", "89.112.4.0/22", "89.112.32.0/19", "89.112.64.0/19"),
			want: entries(t, "89.112.0.0/18 19-19", "89.112.4.0/22", "89.112.64.0/19"),
		},
		{
			name: "listed parent and both children: one range from the parent",
			in:   prefixes("10.0.0.0/23", "10.0.0.0/24", "10.0.1.0/24"),
			want: entries(t, "10.0.0.0/23 23-24"),
		},
		{
			name: "listed parent, children with deeper pairs: a son range",
			in:   prefixes("10.0.0.0/23", "10.0.0.0/25", "10.0.0.128/25", "10.0.1.0/25", "10.0.1.128/25"),
			want: entries(t, "10.0.0.0/23", "10.0.0.0/23 25-25"),
		},
		{
			name: "not siblings: nothing to fold",
			in:   prefixes("10.0.0.0/24", "10.0.2.0/24"),
			want: entries(t, "10.0.0.0/24", "10.0.2.0/24"),
		},
		{
			name: "duplicates, host bits and order do not matter",
			in:   prefixes("10.0.1.7/24", "10.0.0.0/24", "10.0.0.0/24"),
			want: entries(t, "10.0.0.0/23 24-24"),
		},
		{
			name: "max length drops longer prefixes first",
			in:   prefixes("10.0.0.0/24", "10.0.1.0/24", "10.0.1.0/25"),
			opt:  irr.AggregateOptions{MaxLength: 24},
			want: entries(t, "10.0.0.0/23 24-24"),
		},
		{
			name: "more-specifics swallow the listed prefixes under them",
			in:   prefixes("10.0.0.0/16", "10.0.5.0/24", "10.0.6.0/25"),
			opt:  irr.AggregateOptions{MoreSpecifics: 24},
			want: entries(t, "10.0.0.0/16 16-24", "10.0.6.0/25"),
		},
		{
			name: "IPv4 before IPv6",
			in:   prefixes("2001:db8::/32", "192.0.2.0/24"),
			want: entries(t, "192.0.2.0/24", "2001:db8::/32"),
		},
		{
			name: "IPv6 siblings",
			in:   prefixes("2001:db8::/48", "2001:db8:1::/48"),
			want: entries(t, "2001:db8::/47 48-48"),
		},
		{name: "empty", in: nil, want: []irr.Entry{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := irr.Aggregate(tc.in, tc.opt)
			if !slices.Equal(got, tc.want) {
				t.Errorf("got  %v\nwant %v", got, tc.want)
			}
		})
	}
}

// TestAggregateLossless is the property test: on small random inputs, the
// (prefix, length) pairs the entries match are exactly the input pairs (after
// MaxLength), plus with MoreSpecifics every more-specific of an input shorter
// than that, up to it. Checked by enumerating every pair inside the block the
// inputs are drawn from.
func TestAggregateLossless(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for iter := range 3000 {
		v6 := iter%2 == 1
		total := 32
		if v6 {
			total = 128
		}
		const span = 12 // the block holds /(total-12) .. /total
		block := total - span
		base := netip.MustParsePrefix("100.100.0.0/20")
		if v6 {
			base = netip.MustParsePrefix("2a0b:ff00::/116")
		}
		n := 1 + rng.IntN(40)
		in := make([]netip.Prefix, 0, n)
		for range n {
			l := block + rng.IntN(span+1)
			off := rng.Uint32N(1 << span)
			in = append(in, prefixAt(base, off, l, total))
		}
		var opt irr.AggregateOptions
		if rng.IntN(3) == 0 {
			opt.MaxLength = block + rng.IntN(span)
		}
		if rng.IntN(2) == 0 {
			opt.MoreSpecifics = block + rng.IntN(span+1)
		}
		got := irr.Aggregate(in, opt)

		// Matched pairs, indexed by (length, offset within the block).
		idx := func(l int, off uint32) int { return (1 << (l - block)) - 1 + int(off>>(total-l)) }
		matched := make([]bool, 1<<(span+1))
		for _, e := range got {
			if e.Prefix.Bits() < block || !base.Contains(e.Prefix.Addr()) {
				t.Fatalf("entry %v reaches outside the inputs' block", e)
			}
			if e.Exact && (e.GE != e.Prefix.Bits() || e.LE != e.Prefix.Bits()) {
				t.Fatalf("exact entry %v with a range", e)
			}
			o := offsetOf(e.Prefix)
			for l := e.GE; l <= e.LE; l++ {
				for k := uint32(0); k < 1<<(l-e.Prefix.Bits()); k++ {
					matched[idx(l, o+k<<(total-l))] = true
				}
			}
		}
		want := make([]bool, len(matched))
		for _, p := range in {
			if opt.MaxLength > 0 && p.Bits() > opt.MaxLength {
				continue
			}
			o := offsetOf(p)
			want[idx(p.Bits(), o)] = true
			if p.Bits() < opt.MoreSpecifics {
				for l := p.Bits() + 1; l <= opt.MoreSpecifics; l++ {
					for k := uint32(0); k < 1<<(l-p.Bits()); k++ {
						want[idx(l, o+k<<(total-l))] = true
					}
				}
			}
		}
		if !slices.Equal(matched, want) {
			for l := block; l <= total; l++ {
				for o := uint32(0); o < 1<<span; o += 1 << (total - l) {
					if matched[idx(l, o)] != want[idx(l, o)] {
						t.Fatalf("iteration %d, %v %+v: %v matched=%v want=%v\nentries %v",
							iter, in, opt, prefixAt(base, o, l, total), matched[idx(l, o)], want[idx(l, o)], got)
					}
				}
			}
		}
		// Order of the input does not matter.
		rng.Shuffle(len(in), func(i, j int) { in[i], in[j] = in[j], in[i] })
		if again := irr.Aggregate(in, opt); !slices.Equal(again, got) {
			t.Fatalf("input order changed the result: %v vs %v", again, got)
		}
	}
}

func prefixAt(base netip.Prefix, off uint32, l, total int) netip.Prefix {
	b := base.Addr().AsSlice()
	v := uint32(b[len(b)-2])<<8 | uint32(b[len(b)-1])
	v |= off
	b[len(b)-2], b[len(b)-1] = byte(v>>8), byte(v)
	a, _ := netip.AddrFromSlice(b)
	return netip.PrefixFrom(a, l).Masked()
}

func offsetOf(p netip.Prefix) uint32 {
	b := p.Addr().AsSlice()
	v := uint32(b[len(b)-2])<<8 | uint32(b[len(b)-1])
	return v & (1<<12 - 1)
}

func TestEntryMatches(t *testing.T) {
	e := entries(t, "10.0.0.0/16 18-20")[0]
	for p, want := range map[string]bool{
		"10.0.0.0/16": false, "10.0.0.0/18": true, "10.0.255.0/20": true, "10.0.0.0/21": false,
		"10.1.0.0/18": false, "2001:db8::/18": false,
	} {
		if got := e.Matches(netip.MustParsePrefix(p)); got != want {
			t.Errorf("%v matches %s = %v", e, p, got)
		}
	}
	x := entries(t, "10.0.0.0/16")[0]
	if !x.Matches(netip.MustParsePrefix("10.0.0.0/16")) || x.Matches(netip.MustParsePrefix("10.0.0.0/17")) {
		t.Error("exact entry")
	}
}

func TestWriteJSON(t *testing.T) {
	var buf bytes.Buffer
	in := entries(t, "192.0.2.0/24", "198.51.100.0/24 25-25", "203.0.113.0/24 24-26", "2001:db8::/32")
	if err := irr.WriteJSON(&buf, "AS-FOO", in); err != nil {
		t.Fatal(err)
	}
	want := `{ "AS-FOO": [
    { "prefix": "192.0.2.0\/24", "exact": true },
    { "prefix": "198.51.100.0\/24", "exact": false,
      "greater-equal": 25, "less-equal": 25 },
    { "prefix": "203.0.113.0\/24", "exact": false, "less-equal": 26 },
    { "prefix": "2001:db8::\/32", "exact": true }
] }
`
	if buf.String() != want {
		t.Errorf("got\n%s\nwant\n%s", buf.String(), want)
	}
	back, err := irr.ParseJSON(buf.Bytes())
	if err != nil || !slices.Equal(back["AS-FOO"], in) {
		t.Errorf("round trip: %v, %v", back, err)
	}

	buf.Reset()
	irr.WriteJSON(&buf, `we"ird`, nil)
	if want := "{ \"we\\\"ird\": [\n] }\n"; buf.String() != want {
		t.Errorf("empty list: %q, want %q", buf.String(), want)
	}
}
