package policy

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"slices"
	"strconv"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
	"github.com/peering-operator/peering-operator/internal/irr"
)

// FilterSummary is what a status (and the guard) knows about a filter: not
// the list itself.
type FilterSummary struct {
	Prefixes int    // distinct prefixes after Filter
	Entries  int    // prefix-list entries after aggregation
	Digest   string // Digest of the entries
}

// Summarize describes a built filter.
func Summarize(prefixes []netip.Prefix, entries []irr.Entry) FilterSummary {
	return FilterSummary{Prefixes: len(prefixes), Entries: len(entries), Digest: Digest(entries)}
}

// DefaultMaxShrink is the largest accepted drop in prefixes: half.
const DefaultMaxShrink = 0.5

// Guard decides whether a newly built filter may replace the live one (old;
// the zero value when there is none). It holds an empty filter, always: an
// empty IRR answer usually means a broken AS-SET or IRR, and pushing it
// drops every route of the peer. It holds a filter with more than maxShrink
// (0.5: half) fewer prefixes than the live one. A maxShrink outside (0, 1]
// means DefaultMaxShrink; exactly 1 disables the shrink check. A held filter
// is for a human to accept, e.g. by approving its digest.
//
// Shrink is measured in prefixes, not entries: aggregation can halve the
// entries when a single prefix is added.
func Guard(old, new FilterSummary, maxShrink float64) (ok bool, reason, message string) {
	if maxShrink <= 0 || maxShrink > 1 {
		maxShrink = DefaultMaxShrink
	}
	switch {
	case new.Prefixes == 0:
		if old.Prefixes > 0 {
			return false, peeringv1.ReasonFilterEmpty, fmt.Sprintf("the IRR answer is empty; keeping the live filter of %d prefixes until a human accepts the empty one", old.Prefixes)
		}
		return false, peeringv1.ReasonFilterEmpty, "the IRR answer is empty; not configuring an empty filter without a human's approval"
	case old.Digest != "" && new.Digest == old.Digest:
		// The same words as a first build: the request's status must not
		// change (an API write) only because its filter was built before.
		return true, peeringv1.ReasonFilterUnchanged, takenMessage(new)
	case old.Prefixes > 0 && maxShrink < 1 && float64(new.Prefixes) < float64(old.Prefixes)*(1-maxShrink):
		drop := 100 * float64(old.Prefixes-new.Prefixes) / float64(old.Prefixes)
		return false, peeringv1.ReasonFilterShrink, fmt.Sprintf("the new filter has %d prefixes, %.0f%% fewer than the live filter's %d (at most %.0f%% allowed); keeping the live filter until a human accepts the new one (digest %s)",
			new.Prefixes, drop, old.Prefixes, 100*maxShrink, new.Digest)
	}
	return true, peeringv1.ReasonGuardAccepted, takenMessage(new)
}

func takenMessage(f FilterSummary) string {
	return fmt.Sprintf("filter of %d prefixes in %d entries", f.Prefixes, f.Entries)
}

// Digest is a SHA-256 over the entries in canonical form (sorted, one
// "prefix" or "prefix ge-le" line each), so equal filters have equal
// digests whatever the order they were built in. Shown in status and used to
// approve a held filter.
func Digest(entries []irr.Entry) string {
	sorted := slices.Clone(entries)
	slices.SortFunc(sorted, compareEntry)
	h := sha256.New()
	var b []byte
	for _, e := range sorted {
		b = e.Prefix.Masked().AppendTo(b[:0])
		if !e.Exact {
			b = append(b, ' ')
			b = strconv.AppendInt(b, int64(e.GE), 10)
			b = append(b, '-')
			b = strconv.AppendInt(b, int64(e.LE), 10)
		}
		b = append(b, '\n')
		h.Write(b)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

func compareEntry(a, b irr.Entry) int {
	if c := a.Prefix.Addr().Compare(b.Prefix.Addr()); c != 0 {
		return c
	}
	if c := a.Prefix.Bits() - b.Prefix.Bits(); c != 0 {
		return c
	}
	if a.Exact != b.Exact {
		if a.Exact {
			return -1
		}
		return 1
	}
	if c := a.GE - b.GE; c != 0 {
		return c
	}
	return a.LE - b.LE
}
