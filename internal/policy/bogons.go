// Package policy turns IRR prefixes and PeeringDB counts into what is pushed
// to a router: bogon-free, length-limited prefix filters, max-prefix limits,
// a guard against empty or collapsing filters, and a cache of built filters.
//
// Prefix lists can hold hundreds of thousands of entries; they live in the
// FilterCache only. Kubernetes objects carry counts and a digest (etcd's
// 1.5 MiB object limit).
package policy

import (
	"fmt"
	"net/netip"
)

// A bogon is address space that must never be accepted from a peer. The lists
// below are the one place they are defined. Sources: the IANA special-purpose
// address registries (RFC 6890 and its updates), cross-checked with Team
// Cymru's bogon list and NLNOG's BGP filter guide (bgpfilterguide.nlnog.net).
// Unallocated space ("fullbogons") changes weekly and is deliberately not
// here: a stale copy would reject newly allocated networks.

type bogon struct {
	prefix netip.Prefix
	why    string
}

var bogons4 = []bogon{
	{netip.MustParsePrefix("0.0.0.0/8"), `"this network" (RFC 791, RFC 1122)`},
	{netip.MustParsePrefix("10.0.0.0/8"), "private use (RFC 1918)"},
	{netip.MustParsePrefix("100.64.0.0/10"), "shared address space, CGN (RFC 6598)"},
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback (RFC 1122)"},
	{netip.MustParsePrefix("169.254.0.0/16"), "link local (RFC 3927)"},
	{netip.MustParsePrefix("172.16.0.0/12"), "private use (RFC 1918)"},
	{netip.MustParsePrefix("192.0.0.0/24"), "IETF protocol assignments (RFC 6890)"},
	{netip.MustParsePrefix("192.0.2.0/24"), "documentation, TEST-NET-1 (RFC 5737)"},
	{netip.MustParsePrefix("192.168.0.0/16"), "private use (RFC 1918)"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking (RFC 2544)"},
	{netip.MustParsePrefix("198.51.100.0/24"), "documentation, TEST-NET-2 (RFC 5737)"},
	{netip.MustParsePrefix("203.0.113.0/24"), "documentation, TEST-NET-3 (RFC 5737)"},
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast (RFC 5771)"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved (RFC 1112), includes limited broadcast"},
}

// globalUnicast6 is the only IPv6 space allocated for global unicast (RFC
// 4291 §2.4, IANA IPv6 address space registry); everything outside it is a
// bogon: ::/8, 0100::/64 discard-only (RFC 6666), fc00::/7 unique local (RFC
// 4193), fe80::/10 link local, fec0::/10 old site local (RFC 3879), ff00::/8
// multicast, 5f00::/16 SRv6 SIDs (RFC 9602), and the unassigned rest.
var globalUnicast6 = netip.MustParsePrefix("2000::/3")

var bogons6 = []bogon{
	{netip.MustParsePrefix("2001:2::/48"), "benchmarking (RFC 5180)"},
	{netip.MustParsePrefix("2001:10::/28"), "ORCHID (RFC 4843)"},
	{netip.MustParsePrefix("2001:db8::/32"), "documentation (RFC 3849)"},
	{netip.MustParsePrefix("2002::/16"), "6to4 (RFC 3056, deprecated for relays by RFC 7526)"},
	{netip.MustParsePrefix("3ffe::/16"), "old 6bone (RFC 3701)"},
}

// Bogons4 and Bogons6 return the bogon prefixes (IPv6: besides everything
// outside 2000::/3), e.g. for a router's own bogon filter.
func Bogons4() []netip.Prefix { return prefixesOf(bogons4) }
func Bogons6() []netip.Prefix { return prefixesOf(bogons6) }

func prefixesOf(bs []bogon) []netip.Prefix {
	out := make([]netip.Prefix, len(bs))
	for i, b := range bs {
		out[i] = b.prefix
	}
	return out
}

// BogonOverlap reports whether p overlaps bogon space, and which. Overlap
// counts both ways: a prefix inside a bogon (10.1.0.0/16) and a prefix that
// covers one (8.0.0.0/5 covers 10.0.0.0/8) are both bogons, because a
// filter entry for the covering prefix with more-specifics allowed would let
// the bogon through. The default routes overlap everything and are bogons.
func BogonOverlap(p netip.Prefix) (bool, string) {
	p = p.Masked()
	if p.Bits() == 0 {
		return true, "default route"
	}
	if p.Addr().Is4() {
		for _, b := range bogons4 {
			if b.prefix.Overlaps(p) {
				return true, fmt.Sprintf("overlaps %s, %s", b.prefix, b.why)
			}
		}
		return false, ""
	}
	if p.Bits() < globalUnicast6.Bits() || !globalUnicast6.Contains(p.Addr()) {
		return true, "outside global unicast 2000::/3"
	}
	for _, b := range bogons6 {
		if b.prefix.Overlaps(p) {
			return true, fmt.Sprintf("overlaps %s, %s", b.prefix, b.why)
		}
	}
	return false, ""
}

// bogonASNs are ASNs no real network uses (IANA special-purpose AS numbers
// registry; RFC 7607, 6793, 5398, 6996, 7300).
var bogonASNs = []struct {
	from, to uint32
	why      string
}{
	{0, 0, "AS0, never used (RFC 7607)"},
	{23456, 23456, "AS_TRANS (RFC 6793)"},
	{64496, 64511, "documentation (RFC 5398)"},
	{64512, 65534, "private use (RFC 6996)"},
	{65535, 65535, "reserved (RFC 7300)"},
	{65536, 65551, "documentation (RFC 5398)"},
	{65552, 131071, "reserved by IANA"},
	{4200000000, 4294967294, "private use (RFC 6996)"},
	{4294967295, 4294967295, "reserved (RFC 7300)"},
}

// ASNRange is an inclusive range of AS numbers.
type ASNRange struct {
	From, To uint32
	Why      string
}

// BogonASNRanges returns the bogon ASN ranges in ascending order, for
// routers that match AS paths themselves (a copy: callers cannot change
// what BogonASN decides).
func BogonASNRanges() []ASNRange {
	out := make([]ASNRange, len(bogonASNs))
	for i, r := range bogonASNs {
		out[i] = ASNRange{From: r.from, To: r.to, Why: r.why}
	}
	return out
}

// BogonASN reports whether an ASN must not appear in a peer's AS path, and
// why.
func BogonASN(asn uint32) (bool, string) {
	for _, r := range bogonASNs {
		if asn >= r.from && asn <= r.to {
			return true, r.why
		}
	}
	return false, ""
}
