package policy

import (
	"net/netip"

	"github.com/peering-operator/peering-operator/internal/irr"
)

// RouteServerSet names the import filter of a session with an IX route
// server when no AS-SET is given: any prefix outside bogon space, of a
// sane length. It is the filter's key (in place of AS-SETs) and what
// status.filters shows; no IRR is queried for it.
const RouteServerSet = "RS-ANY-NON-BOGON"

// Shortest prefixes a route-server session accepts: nothing is allocated
// shorter (IANA allocates /8 at most for IPv4, RIRs /12 for IPv6; /16
// leaves room for the largest IPv6 allocations seen in the table).
const (
	rsMinLen4 = 8
	rsMinLen6 = 16
)

// NonBogonEntries is the import filter of a route-server session: every
// prefix of the family outside bogon space, no shorter than /8 (IPv4) or
// /16 (IPv6) and no longer than the limits, as the fewest entries: the
// largest blocks that hold no bogon, each with "ge/le". A route server
// relays many members' routes; what the members may announce is the route
// server's job (its own IRR and RPKI filters), ours is to refuse what no
// one may announce. RPKI-invalid routes are refused by the router where it
// validates (drivers with an RTR cache), bogon ASNs by RejectBogonASNs.
func NonBogonEntries(family int, l Limits) []irr.Entry {
	l = l.withDefaults()
	universe, holes, minLen, maxLen := netip.MustParsePrefix("0.0.0.0/0"), Bogons4(), rsMinLen4, l.MaxLen4
	if family == 6 {
		// Outside 2000::/3 is bogon space already.
		universe, holes, minLen, maxLen = globalUnicast6, Bogons6(), rsMinLen6, l.MaxLen6
	}
	var out []irr.Entry
	for _, b := range complement(universe, holes) {
		if b.Bits() > maxLen {
			continue // only bogon-free space too small to accept anything
		}
		out = append(out, irr.Entry{Prefix: b, GE: max(b.Bits(), minLen), LE: maxLen})
	}
	return out
}

// NonBogonFilter is NonBogonEntries as a built filter, keyed by
// RouteServerSet.
func NonBogonFilter(family int, l Limits) *CachedFilter {
	entries := NonBogonEntries(family, l)
	prefixes := make([]netip.Prefix, len(entries))
	for i, e := range entries {
		prefixes[i] = e.Prefix
	}
	return &CachedFilter{Key: NewFilterKey([]string{RouteServerSet}, family, nil), Prefixes: prefixes, Entries: entries,
		Summary: Summarize(prefixes, entries)}
}

// complement returns the largest CIDR blocks of p that overlap none of
// holes, in address order.
func complement(p netip.Prefix, holes []netip.Prefix) []netip.Prefix {
	overlaps := false
	for _, h := range holes {
		if h.Bits() <= p.Bits() && h.Contains(p.Addr()) {
			return nil // p lies inside a hole
		}
		overlaps = overlaps || p.Overlaps(h)
	}
	if !overlaps {
		return []netip.Prefix{p}
	}
	lo := netip.PrefixFrom(p.Addr(), p.Bits()+1)
	hiAddr := p.Addr().AsSlice()
	hiAddr[p.Bits()/8] |= 0x80 >> (p.Bits() % 8)
	a, _ := netip.AddrFromSlice(hiAddr)
	hi := netip.PrefixFrom(a, p.Bits()+1)
	return append(complement(lo, holes), complement(hi, holes)...)
}
