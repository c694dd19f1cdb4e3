package frr

import (
	"maps"
	"net/netip"
	"strings"

	"github.com/peering-operator/peering-operator/internal/router/cli"
)

// hold returns want plus, for each held address (want.held), what have
// runs of it, so that makePlan leaves it alone: the neighbor, if it is
// ours, and the objects of the operator named after the address (even
// unused, or left without the neighbor) or used by its route-maps (in and
// out), such as the shared bogon as-path and learned large-community
// lists. A shared object keeps the router's version while a held neighbor
// uses it, even when want has another.
//
// A held address that is not on the router is not added, and a neighbor
// there that is not ours is not touched. The one change a held neighbor
// takes is its Shutdown override. Neither want nor have is modified: Apply
// plans twice (apply, verify) with the same result.
func hold(want, have *config) *config {
	if len(want.held) == 0 {
		return want
	}
	out := *want
	out.nbrs = maps.Clone(want.nbrs)
	out.plists = maps.Clone(want.plists)
	out.rmaps = maps.Clone(want.rmaps)
	out.aspaths = maps.Clone(want.aspaths)
	out.lclists = maps.Clone(want.lclists)
	out.clists = maps.Clone(want.clists)

	held := map[netip.Addr]bool{}
	for _, h := range want.held {
		held[h.Address] = true
	}
	ownedBy := func(name string) bool {
		return strings.HasPrefix(name, cli.ObjectPrefix) && held[addrOfObject(name)]
	}
	// Objects are shared with have, not copied: makePlan only reads them.
	for k, pl := range have.plists {
		if ownedBy(pl.name) {
			out.plists[k] = pl
		}
	}
	for k, al := range have.aspaths {
		if ownedBy(k) {
			out.aspaths[k] = al
		}
	}
	var rms []string // route-maps to keep, with what they use
	for k := range have.rmaps {
		if ownedBy(k) {
			rms = append(rms, k)
		}
	}
	for _, h := range want.held {
		n := have.nbrs[h.Address]
		if n == nil || !managed(have, n) {
			continue
		}
		c := *n // af is an array: a full copy
		if h.Shutdown != nil && (*h.Shutdown || enableable(have, n)) {
			c.shutdown = *h.Shutdown
		}
		out.nbrs[h.Address] = &c
		for _, a := range n.af {
			for _, rm := range []string{a.routeMapIn, a.routeMapOut} {
				if rm != "" {
					rms = append(rms, rm)
				}
			}
		}
	}
	seen := map[string]bool{}
	for len(rms) > 0 {
		name := rms[0]
		rms = rms[1:]
		rm := have.rmaps[name]
		if seen[name] || rm == nil || !strings.HasPrefix(name, cli.ObjectPrefix) {
			continue
		}
		seen[name] = true
		out.rmaps[name] = rm
		for _, e := range rm.entries {
			for _, l := range e.lines {
				f := strings.Fields(l)
				switch {
				case len(f) == 3 && f[0] == "match" && f[1] == "as-path":
					if al := have.aspaths[f[2]]; al != nil && strings.HasPrefix(f[2], cli.ObjectPrefix) {
						out.aspaths[f[2]] = al
					}
				case len(f) == 3 && f[0] == "match" && f[1] == "large-community":
					if al := have.lclists[f[2]]; al != nil && strings.HasPrefix(f[2], cli.ObjectPrefix) {
						out.lclists[f[2]] = al
					}
				case len(f) == 4 && f[0] == "set" && f[1] == "comm-list" && f[3] == "delete":
					if al := have.clists[f[2]]; al != nil && strings.HasPrefix(f[2], cli.ObjectPrefix) {
						out.clists[f[2]] = al
					}
				case len(f) == 5 && f[0] == "match" && (f[1] == "ip" || f[1] == "ipv6") && f[2] == "address" && f[3] == "prefix-list":
					k := f[1] + " prefix-list " + f[4]
					if pl := have.plists[k]; pl != nil && strings.HasPrefix(f[4], cli.ObjectPrefix) {
						out.plists[k] = pl
					}
				case len(f) == 2 && f[0] == "call":
					rms = append(rms, f[1])
				}
			}
		}
	}
	return &out
}

// enableable reports whether a held neighbor may be brought up: it must
// be complete, as completeNeighbors leaves it before its last line (the
// description marker and, in its family, its inbound route-map and,
// unless it is a route-server client, its outbound one, which exist). A
// creation cut short is born shut down and stays so: it may lack its
// filter or limit, and a held neighbor cannot be completed. A neighbor
// configured before export policies existed stays down too: up, it would
// announce whatever FRR's defaults allow.
func enableable(have *config, n *neighbor) bool {
	a := n.af[familyOf(n.addr)]
	exists := func(rm string) bool { return rm != "" && have.rmaps[rm] != nil }
	return cli.Managed(n.desc) && exists(a.routeMapIn) && (a.rsClient || exists(a.routeMapOut))
}
