package controllers

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
	"github.com/peering-operator/peering-operator/internal/irr"
	"github.com/peering-operator/peering-operator/internal/policy"
	"github.com/peering-operator/peering-operator/internal/router"
)

// candidate is one request on the router with what the Router controller
// read for it.
type candidate struct {
	PR *peeringv1.PeeringRequest
	// Port is the request's IXPort.
	Port *peeringv1.IXPort
	// Password from the request's Secret; PasswordErr when it could not
	// be read.
	Password    router.Secret
	PasswordErr error
	// Filters holds the entries of the pinned filters by digest;
	// FilterErr why a pinned filter could not be read.
	Filters   map[string][]router.Entry
	FilterErr map[string]error
}

// outcome is what an apply does for one request.
type outcome struct {
	PR *peeringv1.PeeringRequest
	// Result is one of peeringv1.AppliedResult*; Reason and Message say
	// why a request is held or refused.
	Result, Reason, Message string
	// ConfigDigest is the pin pushed (Applied).
	ConfigDigest string
}

// desiredResult is the router's desired neighbor set and what it means for
// each request.
type desiredResult struct {
	Desired  router.Desired
	Outcomes []outcome
	// NextDrain is how long until a drained request is due to be shut
	// down (0: none pending): the router must be reconciled then.
	NextDrain time.Duration
}

// approvedNotDenied: a human (or the auto-approval policy) approved the
// request and nobody denied it. Approved is immutable once set.
func approvedNotDenied(pr *peeringv1.PeeringRequest) bool {
	return meta.IsStatusConditionTrue(pr.Status.Conditions, peeringv1.PeeringRequestApproved) &&
		!meta.IsStatusConditionTrue(pr.Status.Conditions, peeringv1.PeeringRequestDenied)
}

// desiredFor decides what the router gets: every approved request's pinned
// configuration, built from its persisted filters, with spec.shutdown,
// spec.drain and spec.description as a human sets them now. PeeringDB and the IRR play no
// part here, so neither can remove or change a neighbor. A request whose
// configuration cannot be built is held (its neighbors stay exactly as
// they run, only their admin state follows spec.shutdown); the rest of the
// router's changes go ahead. A deleted request's neighbors are removed.
func desiredFor(rt *peeringv1.Router, cands []candidate, now time.Time) desiredResult {
	res := desiredResult{Desired: router.Desired{LocalASN: uint32(rt.Spec.LocalASN), RouterID: netip.MustParseAddr(rt.Spec.RouterID)}}
	if r := rt.Spec.RPKI; r != nil {
		for _, sv := range r.Servers {
			res.Desired.RPKI = append(res.Desired.RPKI, router.RTRServer{Host: sv.Address, Port: uint16(sv.Port)})
		}
	}
	cands = slices.Clone(cands)
	slices.SortStableFunc(cands, func(a, b candidate) int { return comparePriority(rt.Name, a.PR, b.PR) })
	seen := map[netip.Addr]string{}
	for _, c := range cands {
		pr := c.PR
		if !approvedNotDenied(pr) {
			continue
		}
		owner := pr.Namespace + "/" + pr.Name
		if !pr.DeletionTimestamp.IsZero() {
			if mayBeOnRouter(pr) {
				res.Outcomes = append(res.Outcomes, outcome{PR: pr, Result: peeringv1.AppliedResultRemoved})
			}
			continue
		}
		ds := drainOf(pr, c.Port, rt, now)
		if ds.Wait > 0 && (res.NextDrain == 0 || ds.Wait < res.NextDrain) {
			res.NextDrain = ds.Wait
		}
		drain, shutdown := ds.Drain, pr.Spec.Shutdown || ds.Down
		hold := func(a netip.Addr) {
			res.Desired.Held = append(res.Desired.Held, router.Held{Address: a, Owner: owner, Shutdown: &shutdown})
			seen[a] = owner
		}
		pin := pr.Status.Config
		if pin == nil {
			// Approved but not pinned yet. Whatever an earlier operator
			// version pushed for it stays as it runs until it is.
			for _, a := range legacyAddresses(pr) {
				if _, taken := seen[a]; !taken {
					hold(a)
				}
			}
			continue
		}
		var addrs []netip.Addr
		bad := ""
		for _, s := range pin.Sessions {
			a, err := netip.ParseAddr(s.Address)
			switch {
			case err != nil:
				bad = fmt.Sprintf("pinned session address %q is not an IP address", s.Address)
			case seen[a] != "":
				bad = fmt.Sprintf("address %s is also configured for %s on Router %q", a, seen[a], rt.Name)
			}
			if bad != "" {
				break
			}
			addrs = append(addrs, a)
		}
		if bad != "" {
			res.Outcomes = append(res.Outcomes, outcome{PR: pr, Result: peeringv1.AppliedResultRejected, Reason: peeringv1.ReasonAddressInUse, Message: bad})
			continue
		}
		holdAll := func(result, reason, msg string) {
			for _, a := range addrs {
				hold(a)
			}
			res.Outcomes = append(res.Outcomes, outcome{PR: pr, Result: result, Reason: reason, Message: msg})
		}
		desc, err := neighborDescription(pr)
		if err != nil {
			holdAll(peeringv1.AppliedResultRejected, peeringv1.ReasonInvalidForRouter, err.Error()+"; the neighbors on the router are left as they run")
			continue
		}
		if c.PasswordErr != nil {
			holdAll(peeringv1.AppliedResultHeld, peeringv1.ReasonPasswordSecretError, c.PasswordErr.Error()+"; the neighbors on the router are left as they run")
			continue
		}
		bogonPeer, _ := policy.BogonASN(uint32(pr.Spec.PeerASN))
		exports := map[bool][]router.Entry{
			false: toRouterEntries(exactEntries(announceFor(rt, c.Port, pr, false).Prefixes)),
			true:  toRouterEntries(exactEntries(announceFor(rt, c.Port, pr, true).Prefixes)),
		}
		var ixID uint32
		var restart time.Duration
		if c.Port != nil {
			ixID = uint32(c.Port.Spec.IX.PeeringDBID)
			if ra := c.Port.Spec.PeerDefaults.MaxPrefixes.RestartAfter; ra != nil {
				restart = ra.Duration
			}
		}
		var ns []router.Neighbor
		var heldAddrs []netip.Addr
		var heldWhy []string
		invalid := ""
		for i, s := range pin.Sessions {
			a := addrs[i]
			digest := pin.IPv4Filter
			if a.Is6() {
				digest = pin.IPv6Filter
			}
			entries, ok := c.Filters[digest]
			if !ok {
				heldAddrs = append(heldAddrs, a)
				heldWhy = append(heldWhy, fmt.Sprintf("the pinned IPv%d filter %s cannot be read: %v", familyNumber(a), digest, c.FilterErr[digest]))
				continue
			}
			export := exports[a.Is6()]
			if xd := map[bool]string{false: pin.IPv4Export, true: pin.IPv6Export}[a.Is6()]; xd != "" {
				fromSet, ok := c.Filters[xd]
				if !ok {
					heldAddrs = append(heldAddrs, a)
					heldWhy = append(heldWhy, fmt.Sprintf("the pinned IPv%d export list %s cannot be read: %v", familyNumber(a), xd, c.FilterErr[xd]))
					continue
				}
				export = mergeEntries(export, fromSet)
			}
			n := router.Neighbor{
				Address: a, PeerASN: uint32(pr.Spec.PeerASN), Description: desc,
				RouteServerClient: rt.Spec.RouteServer, Shutdown: shutdown, Drain: drain && !rt.Spec.RouteServer,
				Import: entries, Password: c.Password, Owner: owner,
				// A peer sends its own routes first-hand; an IX route
				// server relays its members' without its own AS first.
				// A peer whose own AS is a bogon (a lab) would lose every
				// route to the bogon check, so it is skipped there.
				RejectBogonASNs: !bogonPeer, EnforceFirstAS: !pr.Spec.RouteServer,
				MaxPrefixes: uint32(min(s.Limit, int64(^uint32(0)))), MaxPrefixRestart: restart,
			}
			if !rt.Spec.RouteServer {
				// An explicit export on every session: exactly what we
				// announce, never a peer's route; and what we accept is
				// marked as learned from a peer at this IX.
				n.Export, n.Learned, n.IXID = export, router.LearnedPeer, ixID
				if pr.Spec.RouteServer {
					n.Learned = router.LearnedRouteServer
				}
				im := importOf(rt, c.Port, pr)
				n.LocalPref, n.Communities, n.IgnoreGracefulShutdown = im.LocalPref, im.Communities, im.IgnoreGShut
			}
			if err := n.Validate(); err != nil {
				invalid = err.Error()
				break
			}
			ns = append(ns, n)
		}
		if invalid != "" {
			holdAll(peeringv1.AppliedResultRejected, peeringv1.ReasonInvalidForRouter, invalid+"; the neighbors on the router are left as they run")
			continue
		}
		for _, a := range heldAddrs {
			hold(a)
		}
		for _, n := range ns {
			seen[n.Address] = owner
		}
		res.Desired.Neighbors = append(res.Desired.Neighbors, ns...)
		if len(heldAddrs) > 0 {
			res.Outcomes = append(res.Outcomes, outcome{PR: pr, Result: peeringv1.AppliedResultHeld, Reason: peeringv1.ReasonFilterUnavailable,
				Message: strings.Join(heldWhy, "; ") + "; those neighbors are left as they run"})
			continue
		}
		res.Outcomes = append(res.Outcomes, outcome{PR: pr, Result: peeringv1.AppliedResultApplied, ConfigDigest: pin.Digest})
	}
	return res
}

// comparePriority orders requests for an address two of them claim: the
// one the router already has first, so a new request can never take over
// a live neighbor; then the older one.
func comparePriority(routerName string, a, b *peeringv1.PeeringRequest) int {
	onRouter := func(pr *peeringv1.PeeringRequest) int {
		if ap := pr.Status.Applied; ap != nil && ap.Router == routerName && ap.Result != peeringv1.AppliedResultRejected {
			return 0
		}
		return 1
	}
	if c := onRouter(a) - onRouter(b); c != 0 {
		return c
	}
	if c := a.CreationTimestamp.Compare(b.CreationTimestamp.Time); c != 0 {
		return c
	}
	return strings.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name)
}

// legacyAddresses are the addresses status.sessions reports as configured
// on the router for a request that is not pinned (legacySessions).
func legacyAddresses(pr *peeringv1.PeeringRequest) []netip.Addr {
	var out []netip.Addr
	for _, s := range legacySessions(pr) {
		if a, err := netip.ParseAddr(s.Address); err == nil {
			out = append(out, a)
		}
	}
	return out
}

// stateNotConfigured is a session's state before its neighbor is pushed.
const stateNotConfigured = "NotConfigured"

// neighborDescription is spec.description, else "AS<n> <PeeringDB name>"
// with the characters a router CLI cannot take safely left out (PeeringDB
// names are outside input too).
func neighborDescription(pr *peeringv1.PeeringRequest) (string, error) {
	if d := pr.Spec.Description; d != "" {
		if err := router.SafeText(d, 200); err != nil {
			// Admission refuses such text since the CRD carries the rule;
			// an object stored before that still stops here.
			return "", fmt.Errorf("spec.description cannot be rendered into a router configuration: %v", err)
		}
		return d, nil
	}
	name := ""
	if pr.Status.Peer != nil {
		name = strings.Map(func(r rune) rune {
			if router.SafeText(string(r), 1) != nil {
				return -1
			}
			return r
		}, pr.Status.Peer.Name)
	}
	return strings.TrimSpace(fmt.Sprintf("AS%d %s", pr.Spec.PeerASN, name)), nil
}

// mergeEntries is a and b without duplicates (the announce list's exact
// prefixes may also be in the AS-SET's list), in a stable order.
func mergeEntries(a, b []router.Entry) []router.Entry {
	norm := func(e router.Entry) router.Entry {
		if !e.Exact && e.GE == e.Prefix.Bits() && e.LE == e.Prefix.Bits() {
			return router.Entry{Prefix: e.Prefix, Exact: true}
		}
		if e.Exact {
			return router.Entry{Prefix: e.Prefix, Exact: true}
		}
		return e
	}
	seen := map[router.Entry]bool{}
	var out []router.Entry
	for _, e := range append(slices.Clone(a), b...) {
		if e = norm(e); !seen[e] {
			seen[e] = true
			out = append(out, e)
		}
	}
	return out
}

func toRouterEntries(es []irr.Entry) []router.Entry {
	out := make([]router.Entry, len(es))
	for i, e := range es {
		out[i] = router.Entry{Prefix: e.Prefix, Exact: e.Exact, GE: e.GE, LE: e.LE}
	}
	return out
}
