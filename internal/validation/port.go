package validation

import (
	"fmt"
	"net/netip"
	"strings"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
	"github.com/peering-operator/peering-operator/internal/peeringdb"
)

// Outcome of the own-entry check of ValidateOwnPort (warning condition
// reasons).
const (
	OwnEntryMatches  = "OwnEntryMatches"
	OwnEntryMissing  = "OwnEntryMissing"
	OwnEntryMismatch = "OwnEntryMismatch"
)

// PortResult of ValidateOwnPort: what the IXPort status shows.
type PortResult struct {
	IXID        int
	IXName      string
	LANPrefixes []netip.Prefix
	// OwnNetIXLANs are our ASN's ports on the IX according to PeeringDB.
	OwnNetIXLANs []peeringdb.NetIXLAN
	// OwnEntry is OwnEntryMatches, OwnEntryMissing or OwnEntryMismatch;
	// OwnEntryMessage explains a mismatch. Peers find our addresses in
	// PeeringDB, so a mismatch is a warning worth fixing, not a blocker.
	OwnEntry        string
	OwnEntryMessage string
	// Failures of the port itself (IX unknown, address outside the LAN).
	Failures []Failure
	Warnings []string
}

// OK: no failures (the own-entry outcome is a warning only).
func (r PortResult) OK() bool { return len(r.Failures) == 0 }

// ValidateOwnPort checks an IXPort: the IX exists, the port's addresses
// (with their prefix length; either may be invalid = not configured) are
// inside the IX LAN, and our own netixlan entry lists them.
func ValidateOwnPort(c Reader, ixID int, ourASN uint32, v4, v6 netip.Prefix) PortResult {
	res := PortResult{IXID: ixID}
	ix, ok := c.IX(ixID)
	if !ok {
		ixMissing(c, ixID, &res.Failures)
		return res
	}
	res.IXName = ix.Name
	ixl := ixLabel(ix.ID, ix.Name)
	res.LANPrefixes = c.LANPrefixes(ixID)

	var want []netip.Addr
	for _, p := range []netip.Prefix{v4, v6} {
		if !p.IsValid() {
			continue
		}
		a := p.Addr().Unmap()
		want = append(want, a)
		if len(checkLAN(res.LANPrefixes, []netip.Addr{a}, ixl, &res.Warnings).outside) > 0 {
			res.Failures = append(res.Failures, Failure{Reason: peeringv1.ReasonAddressOutsideLAN, Final: true, Address: a,
				Message: fmt.Sprintf("our address %s is outside the peering LAN of %s (%s); fix the IXPort address",
					p, ixl, prefixList(res.LANPrefixes))})
			continue
		}
		var lan netip.Prefix
		for _, l := range res.LANPrefixes {
			if l.Contains(a) {
				lan = l
				break
			}
		}
		// !lan.IsValid(): PeeringDB lists no prefix of the family; checkLAN warned.
		if lan.IsValid() && lan.Bits() != p.Bits() {
			res.Failures = append(res.Failures, Failure{Reason: peeringv1.ReasonPrefixLengthMismatch, Final: true, Address: a,
				Message: fmt.Sprintf("our address %s has prefix length /%d but the peering LAN of %s is %s; use %s/%d",
					p, p.Bits(), ixl, lan, a, lan.Bits())})
		}
	}

	res.OwnNetIXLANs = c.NetIXLANs(ixID, ourASN)
	if len(res.OwnNetIXLANs) == 0 {
		res.OwnEntry = OwnEntryMissing
		res.OwnEntryMessage = fmt.Sprintf(
			"AS%d has no port on %s in PeeringDB; add it (with %s) so peers can find our addresses",
			ourASN, ixl, joinAddrs(want))
		return res
	}
	// One netixlan must carry all of the port's addresses: it describes
	// one physical port.
	for _, n := range res.OwnNetIXLANs {
		if hasAll(n, want) {
			res.OwnEntry = OwnEntryMatches
			return res
		}
	}
	var listed []string
	for _, n := range res.OwnNetIXLANs {
		listed = append(listed, fmt.Sprintf("netixlan %d: %s", n.ID, joinAddrs(n.Addrs())))
	}
	res.OwnEntry = OwnEntryMismatch
	res.OwnEntryMessage = fmt.Sprintf(
		"AS%d's PeeringDB entry on %s does not list this port's addresses %s (PeeringDB has %s); fix the IXPort or PeeringDB",
		ourASN, ixl, joinAddrs(want), strings.Join(listed, "; "))
	return res
}

func hasAll(n peeringdb.NetIXLAN, want []netip.Addr) bool {
	for _, a := range want {
		if (!a.Is4() || n.IPAddr4.Unmap() != a) && (!a.Is6() || n.IPAddr6 != a) {
			return false
		}
	}
	return true
}

func joinAddrs(as []netip.Addr) string {
	if len(as) == 0 {
		return "no addresses"
	}
	return strings.Join(addrStrings(as), " and ")
}
