package irrtest

import (
	_ "embed"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
)

//go:embed fixtures/default.rpsl
var defaultFixture string

// DefaultFixture is RPSL for the AS-SETs of a few real networks, as
// PeeringDB's irr_as_set names them in the DE-CIX Frankfurt sample
// (AS-CLOUDFLARE, RIPE::AS-RETN, AS3320:AS-DTAG, RADB::AS-HURRICANE, …), in
// the sources RIPE, RADB and ARIN. The route objects are invented, with
// plausible public prefixes: test data, not a copy of any IRR.
func DefaultFixture() string { return defaultFixture }

// LargeSet is the AS-SET that LargeFixture's output expands.
const LargeSet = "AS-BENCH"

// LargeSource is the IRR source of LargeFixture's objects.
const LargeSource = "BENCH"

// LargeFixture generates RPSL in which LargeSet expands, through 20 nested
// sets (and a loop back to the top), to origins with at least routes IPv4
// route objects and a tenth as many route6 objects. Prefixes are public
// (no bogons), mostly /24s with runs of adjacent ones, covering /22s and a
// few more-specifics, and about 1% originated twice, so aggregation has real
// work. The output is the same for the same arguments.
func LargeFixture(routes int) string {
	const perASN, subsets = 50, 20
	asns := (routes + perASN - 1) / perASN
	rng := rand.New(rand.NewPCG(4, 2))
	var b strings.Builder
	b.Grow(routes * 60)

	fmt.Fprintf(&b, "as-set: %s\nmembers: ", LargeSet)
	for i := range subsets {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s-%d", LargeSet, i)
	}
	fmt.Fprintf(&b, "\nsource: %s\n\n", LargeSource)
	for i := range subsets {
		fmt.Fprintf(&b, "as-set: %s-%d\nmembers: ", LargeSet, i)
		first := true
		for a := i; a < asns; a += subsets {
			if !first {
				b.WriteString(", ")
			}
			first = false
			fmt.Fprintf(&b, "AS%d", 200000+a)
		}
		if i == subsets-1 {
			fmt.Fprintf(&b, ", %s", LargeSet) // a loop
		}
		fmt.Fprintf(&b, "\nsource: %s\n\n", LargeSource)
	}

	// Walk the public IPv4 space /24 by /24.
	cur := netip.MustParseAddr("1.0.0.0").As4()
	next24 := func(skip int) netip.Prefix {
		for {
			v := uint32(cur[0])<<24 | uint32(cur[1])<<16 | uint32(cur[2])<<8
			v += uint32(skip+1) << 8
			cur = [4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), 0}
			skip = 0
			if publicV4(cur[0]) {
				return netip.PrefixFrom(netip.AddrFrom4(cur), 24)
			}
		}
	}
	var recent []netip.Prefix
	v6 := uint64(0x2a00_0000_0000_0000)
	for a := range asns {
		asn := 200000 + a
		fmt.Fprintf(&b, "aut-num: AS%d\nsource: %s\n\n", asn, LargeSource)
		for range perASN {
			var p netip.Prefix
			switch x := rng.IntN(100); {
			case x < 70: // next /24: adjacent runs
				p = next24(0)
			case x < 85: // a gap
				p = next24(1 + rng.IntN(6))
			case x < 93: // a covering /22 of the last /24
				p = netip.PrefixFrom(netip.AddrFrom4(cur), 22).Masked()
			case x < 99: // a more-specific of the last /24
				l := 25 + rng.IntN(4)
				q := netip.PrefixFrom(netip.AddrFrom4(cur), 24)
				off := uint32(rng.IntN(1<<(l-24))) << (32 - l)
				bs := q.Addr().As4()
				bs[3] = byte(off)
				p = netip.PrefixFrom(netip.AddrFrom4(bs), l)
			default: // originated by another AS too
				if len(recent) > 0 {
					p = recent[rng.IntN(len(recent))]
				} else {
					p = next24(0)
				}
			}
			if len(recent) < 1000 {
				recent = append(recent, p)
			} else {
				recent[rng.IntN(len(recent))] = p
			}
			fmt.Fprintf(&b, "route: %s\norigin: AS%d\nsource: %s\n\n", p, asn, LargeSource)
		}
		for range perASN / 10 {
			v6 += uint64(1+rng.IntN(3)) << 16 // /48 steps
			var a16 [16]byte
			for i := range 8 {
				a16[i] = byte(v6 >> (56 - 8*i))
			}
			l := 48 - 4*rng.IntN(3)
			p := netip.PrefixFrom(netip.AddrFrom16(a16), l).Masked()
			fmt.Fprintf(&b, "route6: %s\norigin: AS%d\nsource: %s\n\n", p, asn, LargeSource)
		}
	}
	return b.String()
}

// publicV4 is true for first octets with no bogon ranges in them.
func publicV4(o byte) bool {
	switch {
	case o == 0, o == 10, o == 100, o == 127, o == 169, o == 172, o == 192, o == 198, o == 203, o >= 224:
		return false
	}
	return true
}
