package controllers

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
	"github.com/peering-operator/peering-operator/internal/irr"
	"github.com/peering-operator/peering-operator/internal/policy"
)

// Reasons of the Announcing condition.
const (
	ReasonAnnouncing        = "Announcing"
	ReasonNothingToAnnounce = "NothingToAnnounce"
	ReasonRouteServerRelays = "RouteServerRelays"
)

// announcement is what a request's sessions announce in one family.
type announcement struct {
	// Prefixes announced, in order.
	Prefixes []netip.Prefix
	// Ignored are the request's prefixes that are not in the port's (or
	// router's) list, so not announced.
	Ignored []string
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
func exportStatus(a4, a6 announcement, v4, v6 bool) *peeringv1.Filters {
	if !v4 && !v6 {
		return nil
	}
	out := &peeringv1.Filters{}
	one := func(a announcement) *peeringv1.FilterStatus {
		es := exactEntries(a.Prefixes)
		return &peeringv1.FilterStatus{Prefixes: int64(len(es)), Entries: int64(len(es)), Digest: policy.Digest(es)}
	}
	if v4 {
		out.IPv4 = one(a4)
	}
	if v6 {
		out.IPv6 = one(a6)
	}
	return out
}

// announcingCondition says what the sessions announce; announcing nothing
// is worth a warning (the peering carries no traffic from us).
func announcingCondition(rt *peeringv1.Router, port *peeringv1.IXPort, a4, a6 announcement, v4, v6 bool) (status bool, reason, msg string) {
	if rt != nil && rt.Spec.RouteServer {
		return true, ReasonRouteServerRelays, fmt.Sprintf("Router %q is a route server: its clients get what the other clients send, filtered on import", rt.Name)
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
	suffix := ""
	if len(ignored) > 0 {
		suffix = fmt.Sprintf("; not announced, not in the announce list of the IXPort or Router: %s", strings.Join(ignored, " "))
	}
	if n == 0 {
		where := "the Router's spec.announce"
		if port != nil {
			where = fmt.Sprintf("IXPort %q's or Router %q's spec.announce", port.Name, port.Spec.RouterRef.Name)
		}
		return false, ReasonNothingToAnnounce, "the export policy denies everything: nothing is listed in " + where + ", so the peer gets no route from us" + suffix
	}
	return true, ReasonAnnouncing, "exactly these are announced, nothing learned from a peer: " + strings.Join(parts, "; ") + suffix
}
