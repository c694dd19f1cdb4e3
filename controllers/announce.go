package controllers

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
	"github.com/peering-operator/peering-operator/internal/irr"
	"github.com/peering-operator/peering-operator/internal/policy"
)

// announcement is what a request's sessions announce in one family.
type announcement struct {
	// Prefixes announced, in order.
	Prefixes []netip.Prefix
	// Ignored are the request's prefixes that are not in the port's (or
	// router's) list, so not announced.
	Ignored []string
}

// exportSetsOf is the AS-SET (or ASNs) whose IRR route objects a
// request's sessions announce too: the IXPort's spec.announce.asSet if
// the port has an announce list, else the Router's; none on a route
// server, or for a request that narrows to its own prefixes. err says why
// a field that is set cannot be used (then nothing changes: what is
// pinned stays).
func exportSetsOf(rt *peeringv1.Router, port *peeringv1.IXPort, pr *peeringv1.PeeringRequest) (sets, bad []string, err error) {
	var base *peeringv1.Announce
	switch {
	case rt == nil || rt.Spec.RouteServer || pr.Spec.Announce != nil:
		return nil, nil, nil
	case port != nil && port.Spec.Announce != nil:
		base = port.Spec.Announce
	default:
		base = rt.Spec.Announce
	}
	if base == nil || base.ASSet == "" {
		return nil, nil, nil
	}
	sets, bad, err = irr.ParseSetList(base.ASSet)
	if err == nil && len(sets) == 0 {
		err = fmt.Errorf("spec.announce.asSet %q names no AS-SET or ASN", base.ASSet)
	}
	return sets, bad, err
}

// announceFor is what a request's sessions of one family announce: the
// IXPort's list if it has one, else the Router's, narrowed by the
// request's own list. A route server announces nothing of its own (it
// relays what its clients send); the caller does not render exports there.
func announceFor(rt *peeringv1.Router, port *peeringv1.IXPort, pr *peeringv1.PeeringRequest, v6 bool) announcement {
	var base *peeringv1.Announce
	switch {
	case port != nil && port.Spec.Announce != nil:
		base = port.Spec.Announce
	case rt != nil:
		base = rt.Spec.Announce
	}
	var out announcement
	allowed := map[netip.Prefix]bool{}
	if base != nil {
		for _, s := range base.Prefixes {
			if p, err := netip.ParsePrefix(s); err == nil && p.Addr().Is6() == v6 {
				allowed[p.Masked()] = true
			}
		}
	}
	if pr.Spec.Announce == nil {
		out.Prefixes = slices.SortedFunc(maps.Keys(allowed), comparePrefix)
		return out
	}
	seen := map[netip.Prefix]bool{}
	for _, s := range pr.Spec.Announce.Prefixes {
		p, err := netip.ParsePrefix(s)
		if err != nil || p.Addr().Is6() != v6 {
			continue
		}
		p = p.Masked()
		switch {
		case !allowed[p]:
			out.Ignored = append(out.Ignored, s)
		case !seen[p]:
			seen[p] = true
			out.Prefixes = append(out.Prefixes, p)
		}
	}
	slices.SortFunc(out.Prefixes, comparePrefix)
	return out
}

func comparePrefix(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return a.Bits() - b.Bits()
}

// exactEntries are the prefixes as exact prefix-list entries.
func exactEntries(ps []netip.Prefix) []irr.Entry {
	out := make([]irr.Entry, len(ps))
	for i, p := range ps {
		out[i] = irr.Entry{Prefix: p, Exact: true}
	}
	return out
}

// exportStatus is status.exports: per family of the sessions, the prefixes
// announced and their digest.
func exportStatus(a4, a6 announcement, v4, v6 bool, fromSet *peeringv1.Filters) *peeringv1.Filters {
	if !v4 && !v6 {
		return nil
	}
	out := &peeringv1.Filters{}
	one := func(a announcement, set *peeringv1.FilterStatus) *peeringv1.FilterStatus {
		es := exactEntries(a.Prefixes)
		st := &peeringv1.FilterStatus{Prefixes: int64(len(es)), Entries: int64(len(es)), Digest: policy.Digest(es)}
		if set != nil {
			// The announce list and the AS-SET's, as the router gets them.
			st.Prefixes += set.Prefixes
			st.Entries += set.Entries
			st.ASSet, st.Sources, st.Updated = set.ASSet, set.Sources, set.Updated
			st.Digest = combinedDigest(st.Digest, set.Digest)
		}
		return st
	}
	var s4, s6 *peeringv1.FilterStatus
	if fromSet != nil {
		s4, s6 = fromSet.IPv4, fromSet.IPv6
	}
	if v4 {
		out.IPv4 = one(a4, s4)
	}
	if v6 {
		out.IPv6 = one(a6, s6)
	}
	return out
}

// combinedDigest names an export of the announce list (static) and an
// AS-SET's list together.
func combinedDigest(static, set string) string {
	h := sha256.Sum256([]byte(static + "\n" + set))
	return "sha256:" + hex.EncodeToString(h[:])
}

// announcingCondition says what the sessions announce; announcing nothing
// is worth a warning (the peering carries no traffic from us).
func announcingCondition(rt *peeringv1.Router, port *peeringv1.IXPort, a4, a6 announcement, v4, v6 bool, fromSet *peeringv1.Filters) (status bool, reason, msg string) {
	if rt != nil && rt.Spec.RouteServer {
		return true, peeringv1.ReasonRouteServerRelays, fmt.Sprintf("Router %q is a route server: its clients get what the other clients send, filtered on import", rt.Name)
	}
	var parts, ignored []string
	n := 0
	for _, f := range []struct {
		on  bool
		fam string
		a   announcement
	}{{v4, "IPv4", a4}, {v6, "IPv6", a6}} {
		if !f.on {
			continue
		}
		n += len(f.a.Prefixes)
		ps := make([]string, len(f.a.Prefixes))
		for i, p := range f.a.Prefixes {
			ps[i] = p.String()
		}
		if len(ps) > 5 {
			ps = append(ps[:5], fmt.Sprintf("and %d more", len(f.a.Prefixes)-5))
		}
		parts = append(parts, fmt.Sprintf("%s: %d prefix(es) %s", f.fam, len(f.a.Prefixes), strings.Join(ps, " ")))
		ignored = append(ignored, f.a.Ignored...)
	}
	if fromSet != nil {
		for _, f := range []struct {
			on  bool
			fam string
			s   *peeringv1.FilterStatus
		}{{v4, "IPv4", fromSet.IPv4}, {v6, "IPv6", fromSet.IPv6}} {
			if f.on && f.s != nil {
				n += int(f.s.Prefixes)
				parts = append(parts, fmt.Sprintf("%s from %s: %d prefix(es) in %d entries (IRR)", f.fam, f.s.ASSet, f.s.Prefixes, f.s.Entries))
			}
		}
	}
	suffix := ""
	if len(ignored) > 0 {
		suffix = fmt.Sprintf("; not announced, not in the announce list of the IXPort or Router: %s", strings.Join(ignored, " "))
	}
	if n == 0 {
		where := "the Router's spec.announce"
		if port != nil {
			where = fmt.Sprintf("IXPort %q's or Router %q's spec.announce", port.Name, port.Spec.RouterRef.Name)
		}
		return false, peeringv1.ReasonNothingToAnnounce, "the export policy denies everything: nothing is listed in " + where + ", so the peer gets no route from us" + suffix
	}
	return true, peeringv1.ReasonAnnouncing, "exactly these are announced, nothing learned from a peer: " + strings.Join(parts, "; ") + suffix
}
