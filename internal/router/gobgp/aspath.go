package gobgp

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/peering-operator/peering-operator/internal/policy"
)

// GoBGP matches an AS_PATH set entry in one of two ways
// (internal/pkg/table/policy.go, NewAsPathSet):
//
//   - "^N_", "_N$", "_N_" and "^N$" are not regular expressions: they
//     compare N with the first, last, any or only ASN of the path's
//     AS_SEQUENCE segments, numerically (an AS_SET segment counts as one
//     ASN 0 there, so "_0_" would match every path with a set);
//   - anything else is a Go regular expression, after each "_" has been
//     replaced by "(^|[,{}() ]|$)", matched against the path as GoBGP
//     prints it: segments joined by spaces, a sequence "1 2", a set
//     "{1,2}", confederation segments "(1 2)" and "[1,2]". "^" and "$" are
//     the ordinary anchors of the whole string.
//
// The bogon entries are regular expressions without "_": GoBGP lists them
// back as written (it lists the rewritten form of an entry with "_", so
// the driver could not compare it), and "\b" is a boundary before "["
// and "]" too, which "_" is not.

// bogonASNSet holds the bogon ASN patterns; one set serves every neighbor.
const bogonASNSet = NamePrefix + "bogon-asns"

// bogonASNPatterns is the content of bogonASNSet, built once. It is one
// expression, not one per range: GoBGP runs every entry over the path
// string on its own, for every route and on every soft reset, and one
// combined pass costs about a third of four (measured: 3 µs against 9 µs
// for an 8-ASN path).
var bogonASNPatterns = []string{asnRangePattern(policy.BogonASNRanges())}

// asnRangePattern returns a regular expression that matches an AS path
// string holding an ASN of one of the ranges as a whole number (never as
// part of a longer one). Adjacent ranges are merged first.
func asnRangePattern(rs []policy.ASNRange) string {
	rs = slices.Clone(rs)
	slices.SortFunc(rs, func(a, b policy.ASNRange) int { return cmp.Compare(a.From, b.From) })
	var runs [][2]uint64
	for _, r := range rs {
		lo, hi := uint64(r.From), uint64(r.To)
		if lo > hi {
			continue
		}
		if n := len(runs); n > 0 && lo <= runs[n-1][1]+1 {
			runs[n-1][1] = max(runs[n-1][1], hi)
			continue
		}
		runs = append(runs, [2]uint64{lo, hi})
	}
	if len(runs) == 0 {
		return `[^\x00-\x{10FFFF}]` // matches nothing, unlike an empty group
	}
	var alts []string
	for _, r := range runs {
		alts = append(alts, decimalRange(r[0], r[1])...)
	}
	return `\b(?:` + strings.Join(alts, "|") + `)\b`
}

// pow10[i] is 10^i; 10^19 is the largest that fits.
var pow10 = func() (p [20]uint64) {
	p[0] = 1
	for i := 1; i < len(p); i++ {
		p[i] = p[i-1] * 10
	}
	return p
}()

// decimalRange returns digit patterns that together match the decimal
// form (no leading zeros) of exactly the numbers lo..hi, hi < 10^19.
func decimalRange(lo, hi uint64) []string {
	var out []string
	for l := len(strconv.FormatUint(lo, 10)); lo <= hi; l++ {
		// Numbers of one length at a time: a pattern has a fixed length.
		top := min(hi, pow10[l]-1)
		out = append(out, sameLength(lo, top, l)...)
		lo = top + 1
	}
	return out
}

// sameLength covers lo..hi, all l digits long, greedily with the widest
// blocks: a common prefix, one digit class, then k free digits
// ("64[5-9][0-9]{2}" is 64500..64999).
func sameLength(lo, hi uint64, l int) []string {
	var out []string
	for lo <= hi {
		k := 0
		for k+1 < l && lo%pow10[k+1] == 0 && lo+pow10[k+1]-1 <= hi {
			k++
		}
		d := lo / pow10[k] % 10
		c := min(10-d, (hi-lo+1)/pow10[k])
		var b strings.Builder
		if l > k+1 {
			b.WriteString(strconv.FormatUint(lo/pow10[k+1], 10))
		}
		switch {
		case c == 1:
			fmt.Fprintf(&b, "%d", d)
		case c == 10:
			b.WriteString("[0-9]")
		default:
			fmt.Fprintf(&b, "[%d-%d]", d, d+c-1)
		}
		switch {
		case k == 1:
			b.WriteString("[0-9]")
		case k > 1:
			fmt.Fprintf(&b, "[0-9]{%d}", k)
		}
		out = append(out, b.String())
		lo += c * pow10[k]
	}
	return out
}

// firstASPatterns is the content of a neighbor's first-AS set, matched
// inverted: a route is rejected unless an entry matches. "^N_" compares
// the first ASN of the path with N (GoBGP's numeric form, see above);
// ".*" matches every path, so the check is off.
func firstASPatterns(on bool, asn uint32) []string {
	if on {
		return []string{fmt.Sprintf("^%d_", asn)}
	}
	return []string{".*"}
}
