package frr

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/peering-operator/peering-operator/internal/router"
	"github.com/peering-operator/peering-operator/internal/router/cli"
)

// Address families, in the order FRR prints them.
const (
	v4 = iota
	v6
)

var afName = [2]string{"ipv4 unicast", "ipv6 unicast"}

func familyOf(a netip.Addr) int {
	if a.Is4() {
		return v4
	}
	return v6
}

// afConf is what the operator manages of a neighbor in one address family.
type afConf struct {
	active      bool
	softIn      bool
	rsClient    bool
	maxPrefix   string // arguments after "maximum-prefix", "" for none
	routeMapIn  string
	routeMapOut string
}

// neighbor is what the operator manages of one FRR neighbor. Running
// neighbors may carry more (timers, update-source, ...): it is left alone.
type neighbor struct {
	addr     netip.Addr
	remoteAS string
	desc     string
	password string
	shutdown bool
	af       [2]afConf
}

// plEntry is one prefix-list line.
type plEntry struct {
	seq    int64
	action string // permit or deny
	r      cli.Range
}

func (e plEntry) key() string {
	return e.action + " " + rangeText(e.r)
}

// prefixList is an "ip prefix-list" or "ipv6 prefix-list".
type prefixList struct {
	name    string
	v6      bool
	entries []plEntry // by seq
}

func (p *prefixList) cmd() string {
	if p.v6 {
		return "ipv6 prefix-list " + p.name
	}
	return "ip prefix-list " + p.name
}

// rmEntry is one "route-map NAME ACTION SEQ" block.
type rmEntry struct {
	action string
	seq    int64
	lines  []string // trimmed, in order
}

// asPathList is a "bgp as-path access-list" (or, in config.lclists, an
// expanded "bgp large-community-list"): entries "ACTION REGEX" by sequence
// number.
type asPathList struct {
	name    string
	entries map[int64]string
}

// Commands of the two kinds of asPathList.
const (
	asPathCmd = "bgp as-path access-list "
	lcListCmd = "bgp large-community-list expanded "
	cListCmd  = "bgp community-list standard "
)

type routeMap struct {
	name    string
	entries []rmEntry // by seq
}

// config is the part of an FRR configuration the driver reasons about:
// for desired, exactly what it owns; for running, what it read.
type config struct {
	asn       uint32 // 0: no "router bgp" in the default VRF
	routerID  string
	defaultV4 bool // "bgp default ipv4-unicast" (FRR's default: on)
	// defaultShutdown is "bgp default shutdown": new neighbors are born
	// administratively down.
	defaultShutdown bool
	nbrs            map[netip.Addr]*neighbor
	plists          map[string]*prefixList // key: cmd()
	rmaps           map[string]*routeMap
	aspaths         map[string]*asPathList
	lclists         map[string]*asPathList // expanded large-community lists
	clists          map[string]*asPathList // standard community lists
	// rpki: "rpki cache ..." lines (desired: ours; running: all), and
	// whether the neighbors' import route-maps reject RPKI-invalid routes.
	rpki       []string
	rejectRPKI bool
	// held (desired only): neighbors to leave as they run, see hold.
	held []router.Held
}

func newConfig() *config {
	return &config{defaultV4: true, nbrs: map[netip.Addr]*neighbor{}, plists: map[string]*prefixList{}, rmaps: map[string]*routeMap{},
		aspaths: map[string]*asPathList{}, lclists: map[string]*asPathList{}, clists: map[string]*asPathList{}}
}

// Names of a neighbor's filter objects.
func filterName(a netip.Addr) string { return cli.ObjectName("IN", a, false) }

// firstASName is the as-path list matching paths that start with the
// neighbor's AS.
func firstASName(a netip.Addr) string { return cli.ObjectName("FIRST", a, false) }

// exportName names a neighbor's out route-map and prefix-list.
func exportName(a netip.Addr) string { return cli.ObjectName("OUT", a, false) }

// learnedList is the large-community list matching the communities we set
// on routes learned from peers and route servers, shared by every out
// route-map.
var learnedList = cli.ObjectPrefix + "LEARNED"

// learnedRegex matches any LocalASN:1:* or LocalASN:2:*. FRR matches the
// whole list of a route's large communities, sorted and space-separated,
// so "^" would miss ours behind a smaller one (1:2:3 65000:1:7); "_" is
// FRR's start, end or separator.
func learnedRegex(localASN uint32) string {
	return "_" + strconv.FormatUint(uint64(localASN), 10) + ":[12]:"
}

// bogonASNs is the as-path list matching paths with a bogon ASN, shared by
// every neighbor that rejects them.
var bogonASNs = cli.ObjectPrefix + "BOGON-ASNS"

func plistKey(a netip.Addr) string { return plistKeyOf(a, filterName(a)) }

func plistKeyOf(a netip.Addr, name string) string {
	if a.Is4() {
		return "ip prefix-list " + name
	}
	return "ipv6 prefix-list " + name
}

func matchLine(a netip.Addr, name string) string {
	if a.Is4() {
		return "match ip address prefix-list " + name
	}
	return "match ipv6 address prefix-list " + name
}

// rangeText renders a range the way FRR prints it back.
func rangeText(r cli.Range) string {
	s := r.Prefix.String()
	bits, max := r.Prefix.Bits(), r.Prefix.Addr().BitLen()
	switch {
	case r.Lo == bits && r.Hi == bits:
	case r.Lo == bits:
		s += " le " + strconv.Itoa(r.Hi)
	case r.Hi == max:
		s += " ge " + strconv.Itoa(r.Lo)
	default:
		s += fmt.Sprintf(" ge %d le %d", r.Lo, r.Hi)
	}
	return s
}

// desiredConfig turns validated intent into the configuration we own.
func desiredConfig(d router.Desired) *config {
	c := newConfig()
	c.asn = d.LocalASN
	c.routerID = d.RouterID.String()
	c.held = slices.Clone(d.Held)
	for i, s := range d.RPKI {
		c.rpki = append(c.rpki, fmt.Sprintf("rpki cache %s %d preference %d", s.Host, s.Port, i+1))
	}
	c.rejectRPKI = len(d.RPKI) > 0
	for _, n := range cli.Sorted(d.Neighbors) {
		f := familyOf(n.Address)
		nb := &neighbor{
			addr:     n.Address,
			remoteAS: strconv.FormatUint(uint64(n.PeerASN), 10),
			desc:     cli.Description(n, 0),
			password: n.Password.Reveal(),
			shutdown: n.Shutdown,
		}
		a := &nb.af[f]
		a.active = true
		// Keep the Adj-RIB-In: State reports received (pre-filter) next
		// to accepted prefixes, and filter changes apply without a
		// route refresh.
		a.softIn = true
		a.rsClient = n.RouteServerClient
		// "force" counts what the peer sends (Adj-RIB-In), not what the
		// filter accepts: FRR 8.4 skips the accepted-count check for
		// routes a filter change admits from the soft-reconfiguration
		// table (seen: 3 accepted, limit 2, session up), and a leak of
		// filtered routes must not fill that table either.
		if n.MaxPrefixes > 0 {
			a.maxPrefix = strconv.FormatUint(uint64(n.MaxPrefixes), 10)
			// "restart M" only says when a tripped session comes back;
			// force (what is counted) stays. FRR prints it in this order.
			if m := cli.RestartMinutes(n); m > 0 {
				a.maxPrefix += " restart " + strconv.Itoa(m)
			}
			a.maxPrefix += " force"
		}
		a.routeMapIn = filterName(n.Address)
		c.nbrs[n.Address] = nb

		pl := permitList(filterName(n.Address), f, n.Import)
		c.plists[pl.cmd()] = pl
		// Route-map: bogon paths out first, then the prefix filter and
		// (ANDed in the same entry) the first AS; anything else falls to
		// the route-map's implicit deny.
		rm := &routeMap{name: filterName(n.Address)}
		if c.rejectRPKI {
			rm.entries = append(rm.entries, rmEntry{action: "deny", seq: 3, lines: []string{"match rpki invalid"}})
		}
		if n.RejectBogonASNs {
			c.aspaths[bogonASNs] = &asPathList{name: bogonASNs, entries: map[int64]string{5: "permit " + cli.BogonASNRegex()}}
			rm.entries = append(rm.entries, rmEntry{action: "deny", seq: 5, lines: []string{"match as-path " + bogonASNs}})
		}
		permit := rmEntry{action: "permit", seq: 10}
		if n.EnforceFirstAS {
			fa := firstASName(n.Address)
			c.aspaths[fa] = &asPathList{name: fa, entries: map[int64]string{5: "permit ^" + strconv.FormatUint(uint64(n.PeerASN), 10) + "_"}}
			permit.lines = append(permit.lines, "match as-path "+fa)
		}
		permit.lines = append(permit.lines, matchLine(n.Address, filterName(n.Address)))
		permit.lines = append(permit.lines, c.importMarks(n, d.LocalASN)...)
		rm.entries = append(rm.entries, permit)
		c.rmaps[rm.name] = rm

		// A route-server client gets what our route server relays: no
		// out policy, as before.
		if !n.RouteServerClient {
			c.addExport(n, d.LocalASN)
		}
	}
	return c
}

// importMarks are the set lines of an import permit entry: the learned
// and informational communities (FRR keeps one "set community" and one
// "set large-community" per entry, and prints their values sorted), the
// local preference (0 while drained), and, when a received
// GRACEFUL_SHUTDOWN is not honoured, its removal: FRR 8.4 gives a route
// that carries it local preference 0 by itself, after the route-map
// (measured), so the only way to ignore it is to take it off.
func (c *config) importMarks(n router.Neighbor, localASN uint32) []string {
	std, large, _ := router.SortedCommunities(n.Communities) // validated
	if n.Learned != router.LearnedNone {
		l, _ := router.ParseCommunity(router.LearnedCommunity(localASN, n.Learned, n.IXID))
		_, large, _ = router.SortedCommunities(append(communityStrings(large), l.String()))
	}
	var out []string
	if len(std) > 0 {
		out = append(out, "set community "+strings.Join(communityStrings(std), " ")+" additive")
	}
	if len(large) > 0 {
		out = append(out, "set large-community "+strings.Join(communityStrings(large), " ")+" additive")
	}
	switch {
	case n.Drain:
		out = append(out, drainLocalPref)
	case n.LocalPref != 0:
		out = append(out, "set local-preference "+strconv.FormatUint(uint64(n.LocalPref), 10))
	}
	if n.IgnoreGracefulShutdown && !n.RouteServerClient {
		c.clists[gshutList] = &asPathList{name: gshutList, entries: map[int64]string{5: "permit graceful-shutdown"}}
		out = append(out, "set comm-list "+gshutList+" delete")
	}
	return out
}

func communityStrings(cs []router.Community) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.String()
	}
	return out
}

// gshutList is the community list matching GRACEFUL_SHUTDOWN, shared by
// the import route-maps that remove it.
var gshutList = cli.ObjectPrefix + "GSHUT"

// addExport gives an ordinary neighbor its out policy: learned routes
// denied first, then the Export prefixes permitted, the rest falling to
// the route-map's implicit deny. It is explicit whatever FRR's
// ebgp-requires-policy says (off: everything is exported without it).
func (c *config) addExport(n router.Neighbor, localASN uint32) {
	name := exportName(n.Address)
	f := familyOf(n.Address)
	c.nbrs[n.Address].af[f].routeMapOut = name
	pl := permitList(name, f, n.Export)
	c.plists[pl.cmd()] = pl
	c.lclists[learnedList] = &asPathList{name: learnedList, entries: map[int64]string{5: "permit " + learnedRegex(localASN)}}
	permit := rmEntry{action: "permit", seq: 10, lines: []string{matchLine(n.Address, name)}}
	if n.Drain {
		permit.lines = append(permit.lines, drainCommunity)
	}
	c.rmaps[name] = &routeMap{name: name, entries: []rmEntry{
		{action: "deny", seq: 5, lines: []string{"match large-community " + learnedList}},
		permit,
	}}
}

// A drained neighbor's route-map lines (RFC 8326), as FRR prints them back
// (it names 65535:0 graceful-shutdown).
const (
	drainCommunity = "set community graceful-shutdown additive"
	drainLocalPref = "set local-preference 0"
)

// permitList is a prefix-list permitting entries, or denying everything
// when there are none (FRR has no empty prefix-list, so say it).
func permitList(name string, f int, entries []router.Entry) *prefixList {
	pl := &prefixList{name: name, v6: f == v6}
	seq := int64(0)
	for _, r := range cli.Ranges(entries) {
		seq += 5
		pl.entries = append(pl.entries, plEntry{seq: seq, action: "permit", r: r})
	}
	if len(pl.entries) == 0 {
		pl.entries = []plEntry{{seq: 5, action: "deny", r: denyAll(f)}}
	}
	return pl
}

func denyAll(f int) cli.Range {
	if f == v4 {
		return cli.Range{Prefix: netip.MustParsePrefix("0.0.0.0/0"), Lo: 0, Hi: 32}
	}
	return cli.Range{Prefix: netip.MustParsePrefix("::/0"), Lo: 0, Hi: 128}
}

// render writes c as an FRR configuration that vtysh -f (or a fresh
// daemon) accepts. Order: filters, then BGP, like FRR's own output.
func (c *config) render() []byte {
	var b strings.Builder
	b.WriteString("! managed by peering-operator\n")
	// Held neighbors cannot be rendered (only the router knows them), but
	// the digest must change with the held set.
	for _, l := range cli.HeldComments("!", c.held) {
		b.WriteString(l + "\n")
	}
	if len(c.rpki) > 0 {
		b.WriteString("rpki\n")
		for _, l := range c.rpki {
			b.WriteString(" " + l + "\n")
		}
		b.WriteString("exit\n")
	}
	for _, k := range slices.Sorted(maps.Keys(c.plists)) {
		pl := c.plists[k]
		for _, e := range pl.entries {
			fmt.Fprintf(&b, "%s seq %d %s\n", pl.cmd(), e.seq, e.key())
		}
	}
	for _, l := range []struct {
		cmd   string
		lists map[string]*asPathList
	}{{asPathCmd, c.aspaths}, {lcListCmd, c.lclists}, {cListCmd, c.clists}} {
		for _, k := range slices.Sorted(maps.Keys(l.lists)) {
			al := l.lists[k]
			for _, seq := range sortedSeqs(al.entries) {
				fmt.Fprintf(&b, "%s%s seq %d %s\n", l.cmd, al.name, seq, al.entries[seq])
			}
		}
	}
	for _, k := range slices.Sorted(maps.Keys(c.rmaps)) {
		rm := c.rmaps[k]
		for _, e := range rm.entries {
			fmt.Fprintf(&b, "route-map %s %s %d\n", rm.name, e.action, e.seq)
			for _, l := range e.lines {
				fmt.Fprintf(&b, " %s\n", l)
			}
			b.WriteString("exit\n")
		}
	}
	fmt.Fprintf(&b, "router bgp %d\n", c.asn)
	fmt.Fprintf(&b, " bgp router-id %s\n", c.routerID)
	addrs := c.addrs()
	for _, a := range addrs {
		n := c.nbrs[a]
		fmt.Fprintf(&b, " neighbor %s remote-as %s\n", a, n.remoteAS)
		if n.shutdown {
			fmt.Fprintf(&b, " neighbor %s shutdown\n", a)
		}
		fmt.Fprintf(&b, " neighbor %s description %s\n", a, n.desc)
		if n.password != "" {
			fmt.Fprintf(&b, " neighbor %s password %s\n", a, n.password)
		}
	}
	for f := range afName {
		var lines []string
		for _, a := range addrs {
			lines = append(lines, afLines(c.nbrs[a], f, c.defaultV4)...)
		}
		if len(lines) == 0 {
			continue
		}
		fmt.Fprintf(&b, " address-family %s\n", afName[f])
		for _, l := range lines {
			fmt.Fprintf(&b, "  %s\n", l)
		}
		b.WriteString(" exit-address-family\n")
	}
	b.WriteString("exit\n")
	return []byte(b.String())
}

// afLines are the lines that configure n's wanted state in family f.
func afLines(n *neighbor, f int, defaultV4 bool) []string {
	a := n.af[f]
	p := "neighbor " + n.addr.String() + " "
	if !a.active {
		if f == v4 && defaultV4 {
			return []string{"no " + p + "activate"}
		}
		return nil
	}
	l := []string{p + "activate"}
	if a.softIn {
		l = append(l, p+"soft-reconfiguration inbound")
	}
	if a.maxPrefix != "" {
		l = append(l, p+"maximum-prefix "+a.maxPrefix)
	}
	if a.rsClient {
		l = append(l, p+"route-server-client")
	}
	if a.routeMapIn != "" {
		l = append(l, p+"route-map "+a.routeMapIn+" in")
	}
	if a.routeMapOut != "" {
		l = append(l, p+"route-map "+a.routeMapOut+" out")
	}
	return l
}

func (c *config) addrs() []netip.Addr {
	out := make([]netip.Addr, 0, len(c.nbrs))
	for a := range c.nbrs {
		out = append(out, a)
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return out
}

func sortedSeqs(m map[int64]string) []int64 {
	out := make([]int64, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
