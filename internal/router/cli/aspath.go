package cli

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/peering-operator/peering-operator/internal/policy"
)

// ASNRun is an inclusive range of AS numbers.
type ASNRun struct{ From, To uint64 }

// BogonASNRuns returns policy's bogon ASN ranges with adjacent ones merged
// (0, 23456, 64496-131071, 4200000000-4294967295 today).
func BogonASNRuns() []ASNRun {
	rs := policy.BogonASNRanges()
	slices.SortFunc(rs, func(a, b policy.ASNRange) int { return cmp.Compare(a.From, b.From) })
	var out []ASNRun
	for _, r := range rs {
		lo, hi := uint64(r.From), uint64(r.To)
		if n := len(out); n > 0 && lo <= out[n-1].To+1 {
			out[n-1].To = max(out[n-1].To, hi)
			continue
		}
		out = append(out, ASNRun{lo, hi})
	}
	return out
}

// BogonASNRegex is a POSIX extended regular expression, in the Cisco/FRR
// as-path dialect where "_" is an AS boundary, that matches a path holding
// any bogon ASN as a whole number: "_(0|23456|6449[6-9]|...)_".
func BogonASNRegex() string {
	var alts []string
	for _, r := range BogonASNRuns() {
		alts = append(alts, DecimalRange(r.From, r.To)...)
	}
	return "_(" + strings.Join(alts, "|") + ")_"
}

// DecimalRange returns patterns (POSIX ERE, no anchors) that together
// match the decimal forms, without leading zeros, of exactly lo..hi.
func DecimalRange(lo, hi uint64) []string {
	if lo > hi {
		return nil
	}
	sl, sh := strconv.FormatUint(lo, 10), strconv.FormatUint(hi, 10)
	if len(sl) < len(sh) {
		// Split where the number of digits changes.
		top, _ := strconv.ParseUint(strings.Repeat("9", len(sl)), 10, 64)
		return append(DecimalRange(lo, top), DecimalRange(top+1, hi)...)
	}
	if lo == hi {
		return []string{sl}
	}
	n := len(sl)
	i := 0
	for i < n && sl[i] == sh[i] {
		i++
	}
	prefix, tail := sl[:i], n-i-1
	if tail == 0 {
		return []string{prefix + digitClass(sl[i], sh[i])}
	}
	zeros, nines := strings.Repeat("0", tail), strings.Repeat("9", tail)
	rest := fmt.Sprintf("[0-9]{%d}", tail)
	if tail == 1 {
		rest = "[0-9]"
	}
	if sl[i+1:] == zeros && sh[i+1:] == nines {
		return []string{prefix + digitClass(sl[i], sh[i]) + rest}
	}
	var out []string
	midLo, midHi := sl[i], sh[i]
	if sl[i+1:] != zeros {
		end, _ := strconv.ParseUint(prefix+string(sl[i])+nines, 10, 64)
		out = append(out, DecimalRange(lo, end)...)
		midLo++
	}
	var high []string
	if sh[i+1:] != nines {
		start, _ := strconv.ParseUint(prefix+string(sh[i])+zeros, 10, 64)
		high = DecimalRange(start, hi)
		midHi--
	}
	if midLo <= midHi {
		out = append(out, prefix+digitClass(midLo, midHi)+rest)
	}
	return append(out, high...)
}

func digitClass(a, b byte) string {
	if a == b {
		return string(a)
	}
	return "[" + string(a) + "-" + string(b) + "]"
}
