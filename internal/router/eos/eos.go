// Package eos drives Arista EOS over SSH (scrapligo): per neighbor
// prefix-lists and route-maps PO-IN-<address> and PO-OUT-<address> and the
// neighbor under "router bgp", all in one configuration session that is
// committed, or aborted on any error. RTR caches are "rpki cache"s of
// "router bgp", added and never removed; with any, eBGP paths are
// validated and every import route-map denies RPKI-invalid routes first.
// Tested against recorded sessions only: no EOS runs here.
package eos

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/peering-operator/peering-operator/internal/router"
	"github.com/peering-operator/peering-operator/internal/router/cli"
)

//go:embed platform.yaml
var platformYAML []byte

// Platform is the scrapligo platform definition of the EOS CLI.
func Platform() cli.Platform { return cli.Platform{Definition: platformYAML} }

const (
	maxDesc = 100
	// secretMark stands for a password: EOS shows it only encrypted
	// ("password 7 ..."), so its fingerprint lives in the description.
	secretMark = "password <secret>"
	afSep      = "|"
)

// Driver configures one EOS router.
type Driver struct {
	cli.Base
	// SessionName names each configuration session (default: "po-" and
	// random hex, so a session left pending by a lost connection is never
	// reused).
	SessionName func() string
}

var _ router.Driver = (*Driver)(nil)

// New returns a driver; it connects on first use.
func New(cfg cli.Config) *Driver {
	return &Driver{Base: cli.NewBase(cfg, Platform()), SessionName: func() string {
		b := make([]byte, 4)
		_, _ = rand.Read(b)
		return "po-" + hex.EncodeToString(b)
	}}
}

func filterName(a netip.Addr) string { return cli.ObjectName("IN", a, false) }

func exportName(a netip.Addr) string { return cli.ObjectName("OUT", a, false) }

// learnedName is the shared large-community list of what we learned from
// peers and route servers; a regexp list (learnedList is its object key),
// as a standard one takes exact communities only.
var (
	learnedName = cli.ObjectPrefix + "LEARNED"
	learnedList = "ip large-community-list regexp " + learnedName
)

// gshutName is the shared community list matching GRACEFUL_SHUTDOWN
// (RFC 8326) on imports that honour it; gshutList is its object key.
var (
	gshutName = cli.ObjectPrefix + "GSHUT"
	gshutList = "ip community-list " + gshutName
)

func neighborKey(a netip.Addr) string { return "neighbor " + a.String() }

// shutdown is the neighbor line of the admin-down state.
func shutdown(netip.Addr) string { return "shutdown" }

// bogonASNs names the shared as-path access-list of bogon ASNs.
var bogonASNs = cli.ObjectPrefix + "BOGON-ASNS"

// maxRestart bounds MaxPrefixRestart, in minutes, as on FRR and IOS-XR
// (EOS takes seconds, well beyond it).
const maxRestart = 65535

// maxCaches is the most RTR caches ranked: EOS preferences run from 1
// (the most preferred) to 10.
const maxCaches = 10

// rtrPort is the port EOS connects to when a cache's host line names
// none (RFC 8210's), and leaves out when printing it.
const rtrPort = 323

func check(des router.Desired) error {
	if err := cli.CheckNoRouteServer(des, "eos"); err != nil {
		return err
	}
	if len(des.RPKI) > maxCaches {
		return fmt.Errorf("%w: %d RTR caches: EOS ranks at most %d", router.ErrInvalid, len(des.RPKI), maxCaches)
	}
	for _, s := range des.RPKI {
		if a, err := netip.ParseAddr(s.Host); err == nil && (a.Zone() != "" || a.Is4In6()) {
			return fmt.Errorf("%w: RTR cache %s: give a plain IP address or a DNS name", router.ErrInvalid, s)
		}
	}
	return cli.CheckRestart(des, maxRestart)
}

// cacheHost is a cache's host as EOS prints it: an address in its
// canonical form, a DNS name as given (lower case, validated).
func cacheHost(host string) string {
	if a, err := netip.ParseAddr(host); err == nil {
		return a.String()
	}
	return host
}

// cacheKey identifies a cache whatever its name: host and port.
func cacheKey(host string, port int) string { return cacheHost(host) + " " + strconv.Itoa(port) }

// cacheName is the n-th name of the caches the operator adds.
func cacheName(n int) string { return fmt.Sprintf("%sRPKI-%d", cli.ObjectPrefix, n) }

// cacheLines are the lines of des' i-th cache under its "rpki cache".
func cacheLines(s router.RTRServer, i int) []string {
	return []string{"host " + cacheHost(s.Host) + " port " + strconv.Itoa(int(s.Port)), "preference " + strconv.Itoa(i+1)}
}

// Origin validation of eBGP paths: EOS validates none without it, and a
// route-map would see every path as not validated and deny nothing.
const (
	originValidation = "rpki origin-validation"
	ebgpLocal        = "ebgp local"
)

// rpkiLines add, in a "router bgp" block, the caches of des the router
// has under no name, and origin validation of eBGP paths when it is off.
// Nothing here is ever removed (router.Desired.RPKI); a cache configured
// by hand is left as it is.
func rpkiLines(des router.Desired, have running) []string {
	if len(des.RPKI) == 0 {
		return nil
	}
	present, taken := map[string]bool{}, map[string]bool{}
	for name, key := range have.caches {
		present[key], taken[name] = true, true
	}
	var body []string
	for i, s := range des.RPKI {
		if present[cacheKey(s.Host, int(s.Port))] {
			continue
		}
		// Named after its place, or the next number no cache has.
		n := i + 1
		for taken[cacheName(n)] {
			n++
		}
		taken[cacheName(n)] = true
		body = append(append(append(body, "rpki cache "+cacheName(n)), cacheLines(s, i)...), "exit")
	}
	if !have.ebgpValidated {
		body = append(body, originValidation, ebgpLocal, "exit")
	}
	if len(body) == 0 {
		return nil
	}
	return append(append([]string{fmt.Sprintf("router bgp %d", des.LocalASN)}, body...), "exit")
}

// rangeText is a prefix range as EOS prints it.
func rangeText(r cli.Range) string {
	bits, max := r.Prefix.Bits(), r.Prefix.Addr().BitLen()
	p := r.Prefix.String()
	switch {
	case r.Lo == bits && r.Hi == bits:
		return p
	case r.Lo == bits:
		return fmt.Sprintf("%s le %d", p, r.Hi)
	case r.Hi == max:
		return fmt.Sprintf("%s ge %d", p, r.Lo)
	default:
		return fmt.Sprintf("%s ge %d le %d", p, r.Lo, r.Hi)
	}
}

func plKind(a netip.Addr) string {
	if a.Is4() {
		return "ip prefix-list"
	}
	return "ipv6 prefix-list"
}

func matchList(a netip.Addr, name string) string {
	if a.Is4() {
		return "match ip address prefix-list " + name
	}
	return "match ipv6 address prefix-list " + name
}

// permitList is a prefix-list body permitting entries, or denying
// everything without them.
func permitList(a netip.Addr, entries []router.Entry) []string {
	var pl []string
	for _, r := range cli.Ranges(entries) {
		pl = append(pl, "permit "+rangeText(r))
	}
	if len(pl) > 0 {
		return pl
	}
	if a.Is4() {
		return []string{"deny 0.0.0.0/0 le 32"}
	}
	return []string{"deny ::/0 le 128"}
}

// wanted is the owned configuration: "ip[v6] prefix-list N" (entries
// without their sequence numbers), "route-map N" and "neighbor A" (its
// lines without "neighbor A", address-family lines as "af|line").
func wanted(des router.Desired) (cli.Objects, map[string]string) {
	objs := cli.Objects{}
	pw := map[string]string{}
	for _, n := range cli.Sorted(des.Neighbors) {
		name := filterName(n.Address)
		objs[plKind(n.Address)+" "+name] = permitList(n.Address, n.Import)
		match := matchList(n.Address, name)
		af := "address-family ipv4"
		if n.Address.Is6() {
			af = "address-family ipv6"
		}
		// Entries as "ACTION SEQ" and their lines as "ACTION SEQ|line":
		// bogon paths are denied first, then the prefix filter and the
		// first AS are ANDed in the permit entries.
		var rm []string
		if len(des.RPKI) > 0 {
			// First: an RPKI-invalid route (RFC 6811) is denied
			// whatever else it matches; a not-found one goes on.
			rm = append(rm, "deny 4", "deny 4"+afSep+"match origin-as validity invalid")
		}
		if n.RejectBogonASNs {
			objs["ip as-path access-list "+bogonASNs] = []string{"permit " + cli.BogonASNRegex() + " any"}
			rm = append(rm, "deny 5", "deny 5"+afSep+"match as-path "+bogonASNs)
		}
		matches := []string{match}
		if n.EnforceFirstAS {
			fa := cli.ObjectName("FIRST", n.Address, false)
			objs["ip as-path access-list "+fa] = []string{"permit ^" + strconv.FormatUint(uint64(n.PeerASN), 10) + "_ any"}
			matches = append(matches, "match as-path "+fa)
		}
		// Nothing is accepted without imports: nothing to set then.
		var sets []string
		if len(n.Import) > 0 {
			sets = communitySets(des.LocalASN, n)
			if !n.IgnoreGracefulShutdown {
				// A permit entry ends the route-map: the one for
				// GRACEFUL_SHUTDOWN repeats the filter and the
				// communities, and comes first.
				objs[gshutList] = []string{"permit " + router.GracefulShutdown}
				gs := append(slices.Clone(matches), "match community "+gshutName)
				rm = append(rm, rmEntry("permit 8", append(append(gs, sets...), "set local-preference 0"))...)
			}
			switch {
			case n.Drain:
				sets = append(sets, "set local-preference 0")
			case n.LocalPref != 0:
				sets = append(sets, "set local-preference "+strconv.FormatUint(uint64(n.LocalPref), 10))
			}
		}
		objs["route-map "+name] = append(rm, rmEntry("permit 10", append(matches, sets...))...)

		// Out: routes we learned from peers or route servers denied
		// first, then the Export prefixes permitted, the rest falling to
		// the implicit deny (EOS would otherwise export every eBGP route).
		// An empty Export is a deny-all prefix-list, as for imports.
		out := exportName(n.Address)
		objs[learnedList] = []string{"permit " + cli.LearnedRegex(des.LocalASN)}
		objs[plKind(n.Address)+" "+out] = permitList(n.Address, n.Export)
		objs["route-map "+out] = []string{
			"deny 10", "deny 10" + afSep + "match large-community " + learnedName,
			"permit 20", "permit 20" + afSep + matchList(n.Address, out),
		}
		if n.Drain {
			// RFC 8326: GRACEFUL_SHUTDOWN on what we announce.
			objs["route-map "+out] = append(objs["route-map "+out], "permit 20"+afSep+"set community "+router.GracefulShutdown+" additive")
		}

		key := neighborKey(n.Address)
		lines := []string{
			"remote-as " + strconv.FormatUint(uint64(n.PeerASN), 10),
			"description " + cli.DescriptionWithFingerprint(n, maxDesc),
			"route-map " + name + " in",
			"route-map " + out + " out",
			// maximum-routes counts what the peer sends; 0 is "no limit"
			// (EOS would otherwise apply its default of 12000).
			"maximum-routes " + strconv.FormatUint(uint64(n.MaxPrefixes), 10),
		}
		// maximum-routes has no restart of its own; it leaves the peer
		// idle, and idle-restart-timer (seconds; Arista's "BGP idle
		// restart interval") starts an idle peer again. Whole minutes,
		// as on the other CLIs.
		if m := cli.RestartMinutes(n); m > 0 {
			lines = append(lines, "idle-restart-timer "+strconv.Itoa(m*60))
		}
		if n.Shutdown {
			lines = append(lines, shutdown(n.Address))
		}
		if n.Password != "" {
			lines = append(lines, secretMark)
			pw[key] = n.Password.Reveal()
		}
		lines = append(lines, af+afSep+"activate")
		objs[key] = lines
	}
	return objs, pw
}

// rmEntry is a route-map entry in wanted's form.
func rmEntry(head string, lines []string) []string {
	out := []string{head}
	for _, l := range lines {
		out = append(out, head+afSep+l)
	}
	return out
}

// communitySets add the learned and informational communities, sorted as
// EOS prints them: it keeps one "set community" and one "set
// large-community" per entry.
func communitySets(localASN uint32, n router.Neighbor) []string {
	cs := n.Communities
	if n.Learned != router.LearnedNone {
		cs = append(slices.Clone(cs), router.LearnedCommunity(localASN, n.Learned, n.IXID))
	}
	std, large, _ := router.SortedCommunities(cs) // validated
	var out []string
	for _, l := range []struct {
		set string
		cs  []router.Community
	}{{"set community ", std}, {"set large-community ", large}} {
		if len(l.cs) == 0 {
			continue
		}
		vs := make([]string, len(l.cs))
		for i, c := range l.cs {
			vs[i] = c.String()
		}
		out = append(out, l.set+strings.Join(vs, " ")+" additive")
	}
	return out
}

func reveal(l, pw string) string {
	if l == secretMark {
		return "password " + pw
	}
	return l
}

// Render returns the owned configuration in EOS running-config form
// (passwords in clear, as they would be entered), held neighbors as
// comments.
func (d *Driver) Render(des router.Desired) ([]byte, error) {
	if err := check(des); err != nil {
		return nil, err
	}
	objs, pw := wanted(des)
	var b strings.Builder
	for _, l := range cli.HeldComments("!", des.Held) {
		b.WriteString(l + "\n")
	}
	for _, k := range slices.Sorted(maps.Keys(objs)) {
		if strings.HasPrefix(k, "neighbor ") {
			continue
		}
		for _, l := range filterLines(k, objs[k]) {
			switch {
			case l == "exit":
				l = "!"
			case !strings.HasPrefix(l, "ip") && !strings.HasPrefix(l, "route-map"):
				l = "   " + l
			}
			b.WriteString(l + "\n")
		}
	}
	fmt.Fprintf(&b, "router bgp %d\n   router-id %s\n", des.LocalASN, des.RouterID)
	for i, s := range des.RPKI {
		fmt.Fprintf(&b, "   rpki cache %s\n", cacheName(i+1))
		for _, l := range cacheLines(s, i) {
			fmt.Fprintf(&b, "      %s\n", l)
		}
		b.WriteString("   !\n")
	}
	if len(des.RPKI) > 0 {
		fmt.Fprintf(&b, "   %s\n      %s\n   !\n", originValidation, ebgpLocal)
	}
	afs := map[string][]string{}
	for _, k := range slices.Sorted(maps.Keys(objs)) {
		a, ok := strings.CutPrefix(k, "neighbor ")
		if !ok {
			continue
		}
		for _, l := range objs[k] {
			if af, rest, ok := strings.Cut(l, afSep); ok {
				afs[af] = append(afs[af], "neighbor "+a+" "+rest)
				continue
			}
			fmt.Fprintf(&b, "   neighbor %s %s\n", a, reveal(l, pw[k]))
		}
	}
	for _, af := range slices.Sorted(maps.Keys(afs)) {
		fmt.Fprintf(&b, "   !\n   %s\n", af)
		for _, l := range afs[af] {
			fmt.Fprintf(&b, "      %s\n", l)
		}
	}
	b.WriteString("!\n")
	return []byte(b.String()), nil
}

// filterLines are the commands that (re)create a filter object, each
// block closed by "exit".
func filterLines(key string, body []string) []string {
	var out []string
	switch {
	case strings.HasPrefix(key, "ip as-path "), strings.HasPrefix(key, "ip large-community-list "), strings.HasPrefix(key, "ip community-list "):
		for _, e := range body {
			out = append(out, key+" "+e)
		}
	case strings.HasPrefix(key, "route-map "):
		for _, l := range body {
			if _, line, ok := strings.Cut(l, afSep); ok {
				out = append(out, line)
				continue
			}
			if len(out) > 0 {
				out = append(out, "exit")
			}
			out = append(out, key+" "+l)
		}
		out = append(out, "exit")
	default:
		out = append(out, key)
		for i, e := range body {
			out = append(out, fmt.Sprintf("seq %d %s", 10*(i+1), e))
		}
		out = append(out, "exit")
	}
	return out
}

type running struct {
	objs  cli.Objects
	asn   uint32
	other map[netip.Addr]bool // neighbors without our marker
	// caches are the rpki caches of "router bgp": name → cacheKey ("" if
	// it has no host); ebgpValidated is whether eBGP paths are validated.
	caches        map[string]string
	ebgpValidated bool
}

// parse reads "show running-config": owned prefix-lists, route-maps and
// neighbors, and the neighbors configured by hand.
func parse(out string) running {
	r := running{objs: cli.Objects{}, other: map[netip.Addr]bool{}, caches: map[string]string{}}
	nbrs := map[string][]string{}
	var order []string
	var block, af, entry string
	var rpki string // "rpki ..." section of router bgp being read
	for raw := range strings.SplitSeq(out, "\n") {
		line := strings.TrimRight(raw, " \r")
		t := strings.TrimSpace(line)
		if t == "" || t == "!" {
			continue
		}
		indent := len(line) - len(strings.TrimLeft(line, " "))
		f := strings.Fields(t)
		if indent == 0 {
			block, af = "", ""
			switch {
			case (f[0] == "ip" || f[0] == "ipv6") && len(f) >= 3 && f[1] == "prefix-list":
				block = strings.Join(f[:3], " ")
				if len(f) > 3 && f[3] == "seq" { // one-line form
					r.addEntry(block, f[4:])
				}
			case f[0] == "ip" && len(f) >= 5 && (f[1] == "as-path" && f[2] == "access-list" || f[1] == "large-community-list" && f[2] == "regexp"):
				if strings.HasPrefix(f[3], cli.ObjectPrefix) {
					k := strings.Join(f[:4], " ")
					r.objs[k] = append(r.objs[k], strings.Join(f[4:], " "))
				}
			case f[0] == "ip" && len(f) >= 5 && f[1] == "community-list":
				// Named standard lists, with or without the older
				// "standard" keyword.
				if f[2] == "standard" {
					f = append(f[:2], f[3:]...)
				}
				if strings.HasPrefix(f[2], cli.ObjectPrefix) {
					k := strings.Join(f[:3], " ")
					r.objs[k] = append(r.objs[k], gshutNumber(strings.Join(f[3:], " ")))
				}
			case f[0] == "route-map" && len(f) == 4:
				block = "route-map " + f[1]
				entry = f[2] + " " + f[3]
				if strings.HasPrefix(f[1], cli.ObjectPrefix) {
					r.objs[block] = append(r.objs[block], entry)
				}
			case f[0] == "router" && len(f) == 3 && f[1] == "bgp":
				block = "router bgp"
				asn, _ := strconv.ParseUint(f[2], 10, 32)
				r.asn = uint32(asn)
			}
			continue
		}
		switch {
		case strings.Contains(block, "prefix-list ") && f[0] == "seq" && len(f) >= 4:
			r.addEntry(block, f[2:])
		case strings.HasPrefix(block, "route-map "+cli.ObjectPrefix):
			if strings.HasPrefix(t, "set community ") {
				t = gshutNumber(t)
			}
			r.objs[block] = append(r.objs[block], entry+afSep+t)
		case block == "router bgp":
			if indent <= 3 {
				rpki = ""
				if f[0] == "rpki" {
					rpki = t
					if name, ok := strings.CutPrefix(t, "rpki cache "); ok {
						r.caches[name] = ""
					}
					continue
				}
			}
			if rpki != "" {
				r.rpkiLine(rpki, f)
				continue
			}
			if strings.HasPrefix(t, "address-family ") && indent <= 3 {
				af = t
				continue
			}
			if indent <= 3 {
				af = ""
			}
			if f[0] != "neighbor" || len(f) < 3 {
				continue
			}
			if _, err := netip.ParseAddr(f[1]); err != nil {
				continue
			}
			rest := strings.Join(f[2:], " ")
			if f[2] == "password" {
				rest = secretMark
			}
			if af != "" {
				rest = af + afSep + rest
			}
			if nbrs[f[1]] == nil {
				order = append(order, f[1])
			}
			nbrs[f[1]] = append(nbrs[f[1]], rest)
		}
	}
	for _, a := range order {
		owned := slices.ContainsFunc(nbrs[a], func(l string) bool {
			d, ok := strings.CutPrefix(l, "description ")
			return ok && cli.Managed(d)
		})
		if owned {
			r.objs["neighbor "+a] = nbrs[a]
		} else {
			r.other[netip.MustParseAddr(a)] = true
		}
	}
	return r
}

// rpkiLine reads a line of the "rpki ..." section of router bgp: a
// cache's host and port, or whether eBGP paths are validated ("ebgp
// local", or a human's "ebgp send", which is left as it is).
func (r *running) rpkiLine(section string, f []string) {
	if name, ok := strings.CutPrefix(section, "rpki cache "); ok && f[0] == "host" && len(f) >= 2 {
		port := rtrPort
		for i := 2; i+1 < len(f); i++ {
			if f[i] == "port" {
				port, _ = strconv.Atoi(f[i+1])
			}
		}
		r.caches[name] = cacheKey(f[1], port)
	}
	if section == originValidation && len(f) == 2 && f[0] == "ebgp" && (f[1] == "local" || f[1] == "send") {
		r.ebgpValidated = true
	}
}

// gshutNumber writes EOS' keyword for GRACEFUL_SHUTDOWN as the number we
// render, whichever of the two the router prints.
func gshutNumber(s string) string {
	f := strings.Fields(s)
	for i, w := range f {
		if w == "GSHUT" {
			f[i] = router.GracefulShutdown
		}
	}
	return strings.Join(f, " ")
}

// addEntry records "seq N ACTION PREFIX..." (f starts at ACTION) of an
// owned prefix-list, normalised to how wanted writes it.
func (r *running) addEntry(block string, f []string) {
	if _, name, _ := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(block, "ip "), "ipv6 "), " "); !strings.HasPrefix(name, cli.ObjectPrefix) {
		return
	}
	if len(f) < 2 {
		return
	}
	p, err := netip.ParsePrefix(f[1])
	if err != nil {
		return
	}
	rg := cli.Range{Prefix: p.Masked(), Lo: p.Bits(), Hi: p.Bits()}
	ge, le := -1, -1
	for i := 2; i+1 < len(f); i += 2 {
		v, _ := strconv.Atoi(f[i+1])
		if f[i] == "ge" {
			ge = v
		} else if f[i] == "le" {
			le = v
		}
	}
	switch {
	case ge >= 0 && le >= 0:
		rg.Lo, rg.Hi = ge, le
	case ge >= 0:
		rg.Lo, rg.Hi = ge, p.Addr().BitLen()
	case le >= 0:
		rg.Hi = le
	}
	r.objs[block] = append(r.objs[block], f[0]+" "+rangeText(rg))
}

// plan turns the difference into configuration lines for one session. A
// commit is atomic, so filters that changed are simply replaced whole.
func plan(asn uint32, want, have cli.Objects, pw map[string]string) (lines []string, added, updated, removed int) {
	var filters, bgp, gone []string
	changed := map[string]bool{}
	for _, c := range cli.DiffObjects(want, have) {
		kind, name, _ := strings.Cut(c.Key, " ")
		if kind != "neighbor" {
			if c.Gone {
				gone = append(gone, "no "+c.Key)
				continue
			}
			if !c.New {
				// Compare as sets: entries in another order are equal.
				if sameSet(want[c.Key], have[c.Key]) {
					continue
				}
				filters = append(filters, "no "+c.Key)
				n := c.Key[strings.LastIndexByte(c.Key, ' ')+1:]
				changed[strings.TrimPrefix(strings.TrimPrefix(n, cli.ObjectPrefix+"IN-"), cli.ObjectPrefix+"OUT-")] = true
			}
			filters = append(filters, filterLines(c.Key, want[c.Key])...)
			continue
		}
		p := "neighbor " + name + " "
		switch {
		case c.Gone:
			bgp = append(bgp, "no "+strings.TrimSpace(p))
			removed++
			continue
		case c.New:
			added++
		default:
			changed[name] = true
		}
		add := slices.Clone(c.Add)
		if !c.New && pw[c.Key] != "" && slices.ContainsFunc(add, func(l string) bool { return strings.HasPrefix(l, "description ") }) && !slices.Contains(add, secretMark) {
			add = append(add, secretMark)
		}
		setKeys := map[string]bool{}
		for _, l := range add {
			setKeys[attr(l)] = true
		}
		for _, l := range c.Remove {
			if setKeys[attr(l)] {
				continue
			}
			if af, rest, ok := strings.Cut(l, afSep); ok {
				bgp = append(bgp, af, "no "+p+rest, "exit")
			} else {
				bgp = append(bgp, "no "+p+attrName(l))
			}
		}
		for _, l := range add {
			if af, rest, ok := strings.Cut(l, afSep); ok {
				bgp = append(bgp, af, p+rest, "exit")
			} else {
				bgp = append(bgp, p+reveal(l, pw[c.Key]))
			}
		}
	}
	for a := range changed {
		if _, existed := have["neighbor "+a]; existed {
			updated++
		}
	}
	if len(bgp) > 0 {
		bgp = append(append([]string{fmt.Sprintf("router bgp %d", asn)}, bgp...), "exit")
	}
	return append(append(filters, bgp...), gone...), added, updated, removed
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}

// attr identifies what a neighbor line sets ("remote-as", "route-map in",
// "af|activate").
func attr(l string) string {
	af, rest, ok := strings.Cut(l, afSep)
	if !ok {
		af, rest = "", l
	}
	f := strings.Fields(rest)
	k := f[0]
	if k == "route-map" && len(f) == 3 {
		k += " " + f[2]
	}
	return af + afSep + k
}

// attrName is the "no" form of a neighbor line.
func attrName(l string) string {
	if l == secretMark {
		return "password"
	}
	f := strings.Fields(l)
	switch f[0] {
	case "description", "remote-as", "maximum-routes", "password", "idle-restart-timer":
		return f[0]
	}
	return l
}

// Apply makes the owned configuration equal to des in one configuration
// session.
func (d *Driver) Apply(ctx context.Context, des router.Desired) (router.ApplyResult, error) {
	rendered, err := d.Render(des)
	if err != nil {
		return router.ApplyResult{}, err
	}
	want, pw := wanted(des)
	return cli.Apply(ctx, &d.Base, des, rendered, cli.Steps[running]{
		Read:     read,
		Conflict: func(have running) error { return cli.CheckUnmarked(des, have.asn, have.other) },
		Plan: func(have running) ([]string, int, int, int) {
			lines, a, u, r := plan(des.LocalASN, cli.Hold(want, have.objs, des.Held, neighborKey, shutdown), have.objs, pw)
			return append(rpkiLines(des, have), lines...), a, u, r
		},
		Commit: d.commit,
	})
}

func read(ctx context.Context, s *cli.Session) (running, error) {
	out, err := s.Show(ctx, "show running-config")
	if err != nil {
		return running{}, err
	}
	return parse(out), nil
}

// commit runs lines in a new configuration session and commits it; any
// refusal aborts the session, so nothing of it reaches the running
// configuration.
func (d *Driver) commit(ctx context.Context, s *cli.Session, lines []string) error {
	if _, err := s.Exec(ctx, "configure session "+d.SessionName()); err != nil {
		return err
	}
	for _, l := range append(slices.Clone(lines), "commit") {
		if _, err := s.Exec(ctx, l); err != nil {
			// A lost connection leaves the session pending, uncommitted.
			return cli.Discard(ctx, s, err, "aborted", "abort", "abort")
		}
	}
	return nil
}
