// Package validation checks peering requests and IX ports against a
// PeeringDB snapshot the way a careful peering coordinator would. The checks
// are pure functions of the snapshot (no network, no Kubernetes), shared by
// the controllers and `kubectl peering validate`.
//
// Every failure carries a one-word Reason (for a condition), a Message a NOC
// can act on (it names the ASN, the IX and the address), and Final: true
// when only a change to the request fixes it (Stalled), false when the
// request is held until PeeringDB changes (re-checked on every refresh).
package validation

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
	"github.com/peering-operator/peering-operator/internal/peeringdb"
)

// Reader is the part of the PeeringDB cache the checks read;
// *peeringdb.Cache implements it. Call Cache.EnsureLoaded(ctx, ixID,
// peerASN) before validating, so that a missing IX or network means missing
// in PeeringDB, not merely not loaded yet.
type Reader interface {
	// HasIX: the reader can answer for the IX (loaded, or known not to
	// exist).
	HasIX(ixID int) bool
	IX(id int) (peeringdb.IX, bool)
	LANPrefixes(ixID int) []netip.Prefix
	NetIXLANs(ixID int, asn uint32) []peeringdb.NetIXLAN
	Network(asn uint32) (peeringdb.Network, bool)
}

var _ Reader = (*peeringdb.Cache)(nil)

// Failure is one failed check.
type Failure struct {
	Reason  string
	Message string
	// Final: a human must change the request (Stalled). Otherwise the
	// request is held and re-checked when PeeringDB changes.
	Final bool
	// Address concerned, if the check is about one.
	Address netip.Addr
}

// Request is what a PeeringRequest asks for, resolved against its IXPort.
type Request struct {
	IXID    int
	PeerASN uint32
	// Addresses requested; empty means every address PeeringDB lists for
	// the peer on the IX.
	Addresses []netip.Addr
	// RouteServer: the IXPort's router is a route server.
	RouteServer bool
}

// Peer is what PeeringDB says about the peer (status.peer).
type Peer struct {
	ASN                  uint32
	Name                 string
	NetID                int
	PolicyGeneral        string
	IRRASSet             string            // as in PeeringDB
	ASSets               []peeringdb.ASSet // parsed
	InfoPrefixes4        *int64            // nil: not published
	InfoPrefixes6        *int64
	NeverViaRouteServers bool
}

// Session is one BGP session the request leads to.
type Session struct {
	Address netip.Addr
	Family  string // "ipv4" or "ipv6"
	// NetIXLANID of the peer's port with this address; 0 if none matches.
	NetIXLANID  int
	IsRSPeer    bool
	Operational bool
	Speed       int
}

// Result of ValidateRequest.
type Result struct {
	IXID        int
	IXName      string
	LANPrefixes []netip.Prefix
	// PeerFound: Peer is filled from PeeringDB.
	PeerFound bool
	Peer      Peer
	Sessions  []Session
	Failures  []Failure
	// Warnings do not block the request (e.g. a LAN without prefixes in
	// PeeringDB, so the LAN check could not run).
	Warnings []string
}

// OK: no failures.
func (r Result) OK() bool { return len(r.Failures) == 0 }

// Final: at least one failure needs a change to the request.
func (r Result) Final() bool {
	return slices.ContainsFunc(r.Failures, func(f Failure) bool { return f.Final })
}

// Reason of the failure a condition should show: the first final one, else
// the first one; "" when OK.
func (r Result) Reason() string {
	if f, ok := r.primary(); ok {
		return f.Reason
	}
	return ""
}

// Message joins every failure message, the primary one first.
func (r Result) Message() string {
	p, ok := r.primary()
	if !ok {
		return ""
	}
	msgs := []string{p.Message}
	for _, f := range r.Failures {
		if f.Message != p.Message {
			msgs = append(msgs, f.Message)
		}
	}
	return strings.Join(msgs, "; ")
}

func (r Result) primary() (Failure, bool) {
	for _, f := range r.Failures {
		if f.Final {
			return f, true
		}
	}
	if len(r.Failures) > 0 {
		return r.Failures[0], true
	}
	return Failure{}, false
}

func (r *Result) fail(reason string, final bool, addr netip.Addr, format string, args ...any) {
	r.Failures = append(r.Failures, Failure{Reason: reason, Final: final, Address: addr,
		Message: fmt.Sprintf(format, args...)})
}

func family(a netip.Addr) string {
	if a.Is4() {
		return "ipv4"
	}
	return "ipv6"
}

func ixLabel(id int, name string) string {
	if name == "" {
		return fmt.Sprintf("IX %d", id)
	}
	return fmt.Sprintf("%s (PeeringDB ix %d)", name, id)
}

func peerLabel(asn uint32, name string) string {
	if name == "" {
		return fmt.Sprintf("AS%d", asn)
	}
	return fmt.Sprintf("AS%d (%s)", asn, name)
}

func inAny(a netip.Addr, ps []netip.Prefix) bool {
	return slices.ContainsFunc(ps, func(p netip.Prefix) bool { return p.Contains(a) })
}

func prefixList(ps []netip.Prefix) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ", ")
}

// ValidateRequest checks a peering request against the snapshot in c. It
// collects every failure rather than stopping at the first, except when
// the IX or the peer's network is unknown (nothing else can be checked).
func ValidateRequest(c Reader, in Request) Result {
	res := Result{IXID: in.IXID}
	ix, ok := c.IX(in.IXID)
	if !ok {
		ixMissing(c, in.IXID, &res.Failures)
		return res
	}
	res.IXName = ix.Name
	ixl := ixLabel(ix.ID, ix.Name)
	res.LANPrefixes = c.LANPrefixes(in.IXID)

	net, ok := c.Network(in.PeerASN)
	if !ok {
		res.fail(peeringv1.ReasonNetworkNotFound, true, netip.Addr{},
			"AS%d has no network record in PeeringDB; check spec.peerASN, or ask the peer to register in PeeringDB", in.PeerASN)
		return res
	}
	res.PeerFound = true
	res.Peer = Peer{
		ASN: net.ASN, Name: net.Name, NetID: net.ID, PolicyGeneral: net.PolicyGeneral,
		IRRASSet: net.IRRASSet, ASSets: net.ASSets(),
		InfoPrefixes4: net.InfoPrefixes4, InfoPrefixes6: net.InfoPrefixes6,
		NeverViaRouteServers: net.InfoNeverViaRouteServers,
	}
	peer := peerLabel(net.ASN, net.Name)

	// Requested addresses: unmapped, deduplicated, in order.
	var requested []netip.Addr
	for _, a := range in.Addresses {
		a = a.Unmap()
		if a.IsValid() && !slices.Contains(requested, a) {
			requested = append(requested, a)
		}
	}
	// LAN membership does not depend on PeeringDB's view of the peer:
	// report it even when the peer is not at the IX.
	lan := checkLAN(res.LANPrefixes, requested, ixl, &res.Warnings)
	for _, a := range lan.outside {
		res.fail(peeringv1.ReasonAddressOutsideLAN, true, a,
			"address %s is outside the peering LAN of %s (%s); fix spec.addresses",
			a, ixl, prefixList(res.LANPrefixes))
	}

	ports := c.NetIXLANs(in.IXID, in.PeerASN)
	if len(ports) == 0 {
		res.fail(peeringv1.ReasonNotAtIX, true, netip.Addr{},
			"%s has no port on %s in PeeringDB; check spec.peerASN and spec.ixPortRef, or ask the peer to update PeeringDB",
			peer, ixl)
		for _, a := range requested {
			res.Sessions = append(res.Sessions, Session{Address: a, Family: family(a)})
		}
		return res
	}

	byAddr := map[netip.Addr]peeringdb.NetIXLAN{}
	var listed []netip.Addr
	for _, p := range ports {
		for _, a := range p.Addrs() {
			if _, dup := byAddr[a]; !dup {
				byAddr[a] = p
				listed = append(listed, a)
			}
		}
	}

	addrs := requested
	if len(addrs) == 0 {
		addrs = listed
		if len(addrs) == 0 {
			res.fail(peeringv1.ReasonNoSessionAddresses, false, netip.Addr{},
				"%s is at %s but PeeringDB lists no IPv4 or IPv6 address for its port; set spec.addresses or wait for the peer to update PeeringDB",
				peer, ixl)
		}
	}
	for _, a := range addrs {
		s := Session{Address: a, Family: family(a)}
		p, ok := byAddr[a]
		if ok {
			s.NetIXLANID, s.IsRSPeer, s.Operational, s.Speed = p.ID, p.IsRSPeer, p.Operational, p.Speed
		} else {
			res.fail(peeringv1.ReasonAddressMismatch, true, a,
				"address %s is not one of %s's addresses on %s in PeeringDB (%s); fix spec.addresses or leave it empty to use PeeringDB's",
				a, peer, ixl, addrList(listed))
		}
		res.Sessions = append(res.Sessions, s)
	}

	if net.PolicyGeneral == peeringdb.PolicyNo {
		res.fail(peeringv1.ReasonPeerPolicyNo, false, netip.Addr{},
			"%s states peering policy \"No\" in PeeringDB; held until the policy changes or the request is withdrawn", peer)
	}
	if in.RouteServer && net.InfoNeverViaRouteServers {
		res.fail(peeringv1.ReasonNeverViaRouteServers, true, netip.Addr{},
			"%s sets \"never via route servers\" in PeeringDB but this IXPort is a route server; peer bilaterally on a non-route-server IXPort instead",
			peer)
	}
	// One failure per port, not per address: it is the port that is down.
	reported := map[int]bool{}
	for _, s := range res.Sessions {
		if s.NetIXLANID != 0 && !s.Operational && !reported[s.NetIXLANID] {
			reported[s.NetIXLANID] = true
			p := byAddr[s.Address]
			res.fail(peeringv1.ReasonNotOperational, false, s.Address,
				"%s's port on %s (netixlan %d, %s) is marked not operational in PeeringDB; held until it is operational",
				peer, ixl, p.ID, strings.Join(addrStrings(p.Addrs()), ", "))
		}
	}
	return res
}

// ixMissing explains why an IX is not in the reader: not loaded (held) or
// not in PeeringDB (final).
func ixMissing(c Reader, ixID int, fs *[]Failure) {
	if !c.HasIX(ixID) {
		*fs = append(*fs, Failure{Reason: peeringv1.ReasonPeeringDBUnavailable, Message: fmt.Sprintf(
			"PeeringDB data for IX %d is not loaded yet (PeeringDB unreachable or not synced); retried automatically", ixID)})
		return
	}
	*fs = append(*fs, Failure{Reason: peeringv1.ReasonIXNotFound, Final: true, Message: fmt.Sprintf(
		"IX %d is not in PeeringDB; check spec.ix.peeringdbID of the IXPort", ixID)})
}

// lanCheck is the outcome of checking addresses against the LAN prefixes.
type lanCheck struct{ outside []netip.Addr }

// checkLAN finds the addresses outside the IX LAN. A family for which
// PeeringDB lists no prefix cannot be checked (partial data, or an IX that
// never entered its IPv6 prefix): that is a warning, not a failure.
func checkLAN(lan []netip.Prefix, as []netip.Addr, ixl string, warnings *[]string) lanCheck {
	var out lanCheck
	has := map[bool]bool{} // is4 → the LAN has a prefix of that family
	for _, p := range lan {
		has[p.Addr().Is4()] = true
	}
	warned := map[bool]bool{}
	for _, a := range as {
		if !has[a.Is4()] {
			if !warned[a.Is4()] {
				warned[a.Is4()] = true
				*warnings = append(*warnings, fmt.Sprintf(
					"PeeringDB lists no %s prefix for %s; %s addresses were not checked against the LAN",
					familyName(a), ixl, familyName(a)))
			}
			continue
		}
		if !inAny(a, lan) {
			out.outside = append(out.outside, a)
		}
	}
	return out
}

func familyName(a netip.Addr) string {
	if a.Is4() {
		return "IPv4"
	}
	return "IPv6"
}

func addrStrings(as []netip.Addr) []string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return s
}

func addrList(as []netip.Addr) string {
	if len(as) == 0 {
		return "none listed"
	}
	return "listed: " + strings.Join(addrStrings(as), ", ")
}
