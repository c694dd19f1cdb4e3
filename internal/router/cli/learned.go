package cli

import (
	"fmt"
	"strconv"

	"github.com/peering-operator/peering-operator/internal/router"
)

// LearnedKinds are the kinds of session whose routes an export refuses:
// what we learned from a peer or a route server never reaches a peer.
var LearnedKinds = []router.LearnedFrom{router.LearnedPeer, router.LearnedRouteServer}

// LearnedWildcards are the large communities LocalASN:kind:* of
// LearnedKinds, one per kind, in the "global:local1:*" wildcard form of
// community sets.
func LearnedWildcards(localASN uint32) []string {
	var out []string
	for _, k := range LearnedKinds {
		out = append(out, fmt.Sprintf("%d:%d:*", localASN, k))
	}
	return out
}

// LearnedRegex is a POSIX extended regular expression (no spaces) that
// finds one of LearnedWildcards. It holds whether a platform matches each
// large community alone ("65000:1:7") or all of a route's communities as
// one space-separated string ("1:2:3 65000:1:7"), and never matches a
// longer global administrator (165000:1:7).
func LearnedRegex(localASN uint32) string {
	lo, hi := uint64(LearnedKinds[0]), uint64(LearnedKinds[len(LearnedKinds)-1])
	return "(^|[^0-9])" + strconv.FormatUint(uint64(localASN), 10) + ":" + DecimalRange(lo, hi)[0] + ":[0-9]+"
}
