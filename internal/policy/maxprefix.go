package policy

import "math"

// Defaults are the max-prefix settings of an IXPort (integers, as the
// Kubernetes API wants them).
type Defaults struct {
	// Absolute headroom added to the PeeringDB count.
	Absolute int64
	// RelativePercent headroom on top of that, in percent.
	RelativePercent int64
	// Unknown4 and Unknown6 are the limits when PeeringDB has no count
	// (null, which is not 0).
	Unknown4, Unknown6 int64
}

// DefaultMaxPrefix is the headroom arouteserver uses by default (+100, then
// +15%), with conservative limits for peers that publish no count.
var DefaultMaxPrefix = Defaults{Absolute: 100, RelativePercent: 15, Unknown4: 1000, Unknown6: 200}

// OrDefault fills the zero fields of d with DefaultMaxPrefix's: an IXPort
// that sets only some of its max-prefix settings gets the operator's
// defaults for the rest (the same as the CRD's defaults).
func (d Defaults) OrDefault() Defaults {
	def := DefaultMaxPrefix
	if d.Absolute > 0 {
		def.Absolute = d.Absolute
	}
	if d.RelativePercent > 0 {
		def.RelativePercent = d.RelativePercent
	}
	if d.Unknown4 > 0 {
		def.Unknown4 = d.Unknown4
	}
	if d.Unknown6 > 0 {
		def.Unknown6 = d.Unknown6
	}
	return def
}

// MaxPrefix is the session limit for one family (4 or 6):
//
//	override, if set;
//	else the family's Unknown default, if PeeringDB's count is nil;
//	else ⌈(count + Absolute) × (1 + RelativePercent/100)⌉.
//
// Integer arithmetic, so the same inputs always give the same limit;
// negative inputs count as 0 and the result saturates instead of overflowing.
func MaxPrefix(count *int64, family int, d Defaults, override *int64) int64 {
	if override != nil {
		return max(*override, 0)
	}
	if count == nil {
		if family == 6 {
			return max(d.Unknown6, 0)
		}
		return max(d.Unknown4, 0)
	}
	base := satAdd(max(*count, 0), max(d.Absolute, 0))
	pct := satAdd(100, max(d.RelativePercent, 0))
	if base > 0 && pct > math.MaxInt64/base {
		return math.MaxInt64
	}
	n := base * pct
	return n/100 + min(n%100, 1) // rounded up
}

func satAdd(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}
