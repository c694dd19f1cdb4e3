package policy

import (
	"fmt"
	"net/netip"
)

// Limits are the longest prefixes accepted per family.
type Limits struct {
	MaxLen4 int // default 24
	MaxLen6 int // default 48
}

// DefaultLimits are the lengths the global routing table accepts in practice.
var DefaultLimits = Limits{MaxLen4: 24, MaxLen6: 48}

func (l Limits) withDefaults() Limits {
	if l.MaxLen4 <= 0 || l.MaxLen4 > 32 {
		l.MaxLen4 = DefaultLimits.MaxLen4
	}
	if l.MaxLen6 <= 0 || l.MaxLen6 > 128 {
		l.MaxLen6 = DefaultLimits.MaxLen6
	}
	return l
}

// Check says why a prefix may not be in an import filter, or nil if it may.
func Check(p netip.Prefix, lim Limits) error {
	if !p.IsValid() {
		return fmt.Errorf("invalid prefix")
	}
	lim = lim.withDefaults()
	if bad, why := BogonOverlap(p); bad {
		return fmt.Errorf("%s is a bogon: %s", p, why)
	}
	max := lim.MaxLen4
	if p.Addr().Is6() {
		max = lim.MaxLen6
	}
	if p.Bits() > max {
		return fmt.Errorf("%s is longer than /%d", p, max)
	}
	return nil
}

// Filter returns the prefixes that may go into an import filter: no bogons
// (see BogonOverlap: a prefix that overlaps bogon space in either direction
// is dropped, the default routes included) and none longer than the limits.
// The order of the input is kept.
func Filter(prefixes []netip.Prefix, lim Limits) []netip.Prefix {
	out := make([]netip.Prefix, 0, len(prefixes))
	for _, p := range prefixes {
		if Check(p, lim) == nil {
			out = append(out, p)
		}
	}
	return out
}
