// Package iosxr drives Cisco IOS-XR over SSH (scrapligo): per neighbor
// prefix-sets and route-policies PO-IN-<address> and PO-OUT-<address> and
// the neighbor under "router bgp", all in one target configuration that is
// committed, or aborted on any error. RTR caches are "rpki server"s of
// "router bgp", added and never removed; with any, every import policy
// drops RPKI-invalid routes. Tested against recorded sessions only: no
// IOS-XR runs here.
package iosxr

import (
	"cmp"
	"context"
	_ "embed"
	"errors"
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

// Platform is the scrapligo platform definition of the IOS-XR CLI.
func Platform() cli.Platform { return cli.Platform{Definition: platformYAML} }

const (
	maxDesc = 255
	// secretMark stands for a password: IOS-XR shows it only encrypted,
	// so the password's fingerprint lives in the description.
	secretMark = "password <secret>"
	afSep      = "|"
)

// Driver configures one IOS-XR router.
type Driver struct{ cli.Base }

var _ router.Driver = (*Driver)(nil)

// New returns a driver; it connects on first use.
func New(cfg cli.Config) *Driver { return &Driver{Base: cli.NewBase(cfg, Platform())} }

// policyName: RPL names take letters, digits, '_' and '-'.
func policyName(a netip.Addr) string { return cli.ObjectName("IN", a, true) }

func exportName(a netip.Addr) string { return cli.ObjectName("OUT", a, true) }

// learnedSet names the shared large-community-set of what we learned from
// peers and route servers (LocalASN:1:*, LocalASN:2:*).
var learnedSet = cli.ObjectPrefix + "LEARNED"

func neighborKey(a netip.Addr) string { return "neighbor " + a.String() }

// shutdown is the neighbor line of the admin-down state.
func shutdown(netip.Addr) string { return "shutdown" }

// bogonASNs names the shared as-path-set of bogon ASNs.
var bogonASNs = cli.ObjectPrefix + "BOGON-ASNS"

// maxRestart is the longest "maximum-prefix ... restart M" IOS-XR takes,
// in minutes.
const maxRestart = 65535

// maxCaches is the most RTR caches ranked: IOS-XR preferences run from 1
// (the most preferred) to 10.
const maxCaches = 10

func check(des router.Desired) error {
	if err := cli.CheckNoRouteServer(des, "iosxr"); err != nil {
		return err
	}
	if len(des.RPKI) > maxCaches {
		return fmt.Errorf("%w: %d RTR caches: IOS-XR ranks at most %d", router.ErrInvalid, len(des.RPKI), maxCaches)
	}
	for _, s := range des.RPKI {
		if a, err := netip.ParseAddr(s.Host); err == nil && (a.Zone() != "" || a.Is4In6()) {
			return fmt.Errorf("%w: RTR cache %s: give a plain IP address or a DNS name", router.ErrInvalid, s)
		}
	}
	return cli.CheckRestart(des, maxRestart)
}

// serverName is how IOS-XR names (and prints) an rpki server: an address
// in its canonical form, a DNS name as given (lower case, validated).
func serverName(host string) string {
	if a, err := netip.ParseAddr(host); err == nil {
		return a.String()
	}
	return host
}

// serverLines are the lines of des' i-th cache under its "rpki server".
func serverLines(s router.RTRServer, i int) []string {
	return []string{"transport tcp port " + strconv.Itoa(int(s.Port)), "preference " + strconv.Itoa(i+1)}
}

// validatedAFs are the address families of des' neighbors, where
// origin-AS validation must be on: IOS-XR 6.5.1 and later validate no
// path until "bgp origin-as validation enable" is set in the address
// family (assumed here: older releases validated by default and do not
// take the line), and a route-policy would then see every path as
// not-found and drop nothing.
func validatedAFs(des router.Desired) []string {
	var out []string
	for _, n := range des.Neighbors {
		if af := afOf(n.Address); !slices.Contains(out, af) {
			out = append(out, af)
		}
	}
	slices.Sort(out)
	return out
}

// validationLine turns origin-AS validation on in an address family.
const validationLine = "bgp origin-as validation enable"

// rpkiLines add the caches of des the router has no rpki server for, and
// origin-AS validation where it is off. An rpki server is named by its
// host alone: one configured by hand, whatever its port, is that cache and
// is left as it is. Nothing here is ever removed (router.Desired.RPKI).
func rpkiLines(des router.Desired, have running) []string {
	if len(des.RPKI) == 0 {
		return nil
	}
	bgp := fmt.Sprintf("router bgp %d ", des.LocalASN)
	var out []string
	for i, s := range des.RPKI {
		name := serverName(s.Host)
		if have.servers[name] {
			continue
		}
		for _, l := range serverLines(s, i) {
			out = append(out, bgp+"rpki server "+name+" "+l)
		}
	}
	for _, af := range validatedAFs(des) {
		if !have.validated[af] {
			out = append(out, bgp+af+" "+validationLine)
		}
	}
	return out
}

// rangeText is a prefix range in prefix-set syntax.
func rangeText(r cli.Range) string {
	bits, max := r.Prefix.Bits(), r.Prefix.Addr().BitLen()
	p := r.Prefix.String()
	switch {
	case r.Lo == bits && r.Hi == bits:
		return p
	case r.Lo == bits:
		return fmt.Sprintf("%s le %d", p, r.Hi)
	case r.Lo == r.Hi:
		return fmt.Sprintf("%s eq %d", p, r.Lo)
	case r.Hi == max:
		return fmt.Sprintf("%s ge %d", p, r.Lo)
	default:
		return fmt.Sprintf("%s ge %d le %d", p, r.Lo, r.Hi)
	}
}

func afOf(a netip.Addr) string {
	if a.Is4() {
		return "address-family ipv4 unicast"
	}
	return "address-family ipv6 unicast"
}

// wanted is the owned configuration: objects "prefix-set N", "route-policy
// N" (their body lines) and "neighbor A" (its lines, address-family lines
// as "address-family ...|line").
func wanted(des router.Desired) (cli.Objects, map[string]string) {
	objs := cli.Objects{}
	pw := map[string]string{}
	for _, n := range cli.Sorted(des.Neighbors) {
		name := policyName(n.Address)
		var set []string
		for _, r := range cli.Ranges(n.Import) {
			set = append(set, rangeText(r))
		}
		if len(set) > 0 {
			objs["prefix-set "+name] = set
			var body []string
			if len(des.RPKI) > 0 {
				// First: an RPKI-invalid route (RFC 6811) is dropped
				// whatever else it matches; a not-found one goes on.
				body = append(body, "if validation-state is invalid then", "drop", "endif")
			}
			if n.RejectBogonASNs {
				objs["as-path-set "+bogonASNs] = []string{"ios-regex '" + cli.BogonASNRegex() + "'"}
				body = append(body, "if as-path in "+bogonASNs+" then", "drop", "endif")
			}
			if n.EnforceFirstAS {
				// neighbor-is compares the path's first AS.
				body = append(body, "if not as-path neighbor-is '"+strconv.FormatUint(uint64(n.PeerASN), 10)+"' then", "drop", "endif")
			}
			body = append(body, "if destination in "+name+" then")
			body = append(body, importMarks(des.LocalASN, n)...)
			objs["route-policy "+name] = append(body, "pass", "else", "drop", "endif")
		} else {
			// An empty filter rejects everything, RPKI-invalid routes
			// with the rest.
			objs["route-policy "+name] = []string{"drop"}
		}
		addExport(objs, des.LocalASN, n)
		key := neighborKey(n.Address)
		af := afOf(n.Address)
		lines := []string{
			"remote-as " + strconv.FormatUint(uint64(n.PeerASN), 10),
			"description " + cli.DescriptionWithFingerprint(n, maxDesc),
		}
		if n.Password != "" {
			lines = append(lines, secretMark)
			pw[key] = n.Password.Reveal()
		}
		if n.Shutdown {
			lines = append(lines, shutdown(n.Address))
		}
		lines = append(lines, af, af+afSep+"route-policy "+name+" in")
		if n.MaxPrefixes > 0 {
			// IOS-XR prints the default warning threshold (75%); the
			// default action tears the session down and keeps it down,
			// "restart M" brings it back after M minutes. The line is
			// replaced whole.
			mp := af + afSep + "maximum-prefix " + strconv.FormatUint(uint64(n.MaxPrefixes), 10) + " 75"
			if m := cli.RestartMinutes(n); m > 0 {
				mp += " restart " + strconv.Itoa(m)
			}
			lines = append(lines, mp)
		}
		objs[key] = append(lines, af+afSep+"route-policy "+exportName(n.Address)+" out")
	}
	return objs, pw
}

// importMarks are the statements of an accepted route: the learned and
// informational communities, then the local preference. In RPL the last
// assignment wins and conditions test the route as received, so a drain's
// 0 replaces LocalPref and GRACEFUL_SHUTDOWN overrides either.
func importMarks(localASN uint32, n router.Neighbor) []string {
	var out []string
	cs := n.Communities
	if n.Learned != router.LearnedNone {
		cs = append(slices.Clone(cs), router.LearnedCommunity(localASN, n.Learned, n.IXID))
	}
	std, large, _ := router.SortedCommunities(cs) // validated
	if len(large) > 0 {
		out = append(out, "set large-community ("+inline(large)+") additive")
	}
	if len(std) > 0 {
		out = append(out, "set community ("+inline(std)+") additive")
	}
	switch {
	case n.Drain:
		out = append(out, "set local-preference 0")
	case n.LocalPref != 0:
		out = append(out, "set local-preference "+strconv.FormatUint(uint64(n.LocalPref), 10))
	}
	if !n.IgnoreGracefulShutdown {
		out = append(out, "if community matches-any (graceful-shutdown) then", "set local-preference 0", "endif")
	}
	return out
}

// inline is an inline set's elements as IOS-XR prints them.
func inline(cs []router.Community) string {
	s := make([]string, len(cs))
	for i, c := range cs {
		s[i] = c.String()
	}
	return strings.Join(s, ", ")
}

// addExport adds the neighbor's out policy: routes we learned from peers
// or route servers dropped, the Export prefixes passed, the rest dropped
// (IOS-XR sends nothing to an eBGP neighbor without a policy; this says
// so). Without Export the policy is a plain drop.
func addExport(objs cli.Objects, localASN uint32, n router.Neighbor) {
	name := exportName(n.Address)
	var set []string
	for _, r := range cli.Ranges(n.Export) {
		set = append(set, rangeText(r))
	}
	if len(set) == 0 {
		objs["route-policy "+name] = []string{"drop"}
		return
	}
	objs["large-community-set "+learnedSet] = cli.LearnedWildcards(localASN)
	objs["prefix-set "+name] = set
	accept := []string{"pass"}
	if n.Drain {
		// RFC 8326: GRACEFUL_SHUTDOWN on what we announce.
		accept = []string{"set community (graceful-shutdown) additive", "pass"}
	}
	body := []string{"if large-community matches-any " + learnedSet + " then", "drop", "endif", "if destination in " + name + " then"}
	body = append(append(body, accept...), "else", "drop", "endif")
	objs["route-policy "+name] = body
}

// Render returns the owned configuration in IOS-XR running-config form
// (passwords in clear, as they would be entered), held neighbors as
// comments.
func (d *Driver) Render(des router.Desired) ([]byte, error) {
	if err := check(des); err != nil {
		return nil, err
	}
	objs, pw := wanted(des)
	var b strings.Builder
	for _, l := range cli.HeldComments("!!", des.Held) {
		b.WriteString(l + "\n")
	}
	for _, k := range slices.Sorted(maps.Keys(objs)) {
		kind, name, _ := strings.Cut(k, " ")
		switch kind {
		case "as-path-set", "large-community-set", "prefix-set", "route-policy":
			b.WriteString(strings.Join(block(kind, name, objs[k]), "\n") + "\n!\n")
		}
	}
	fmt.Fprintf(&b, "router bgp %d\n bgp router-id %s\n", des.LocalASN, des.RouterID)
	for i, s := range des.RPKI {
		fmt.Fprintf(&b, " rpki server %s\n", serverName(s.Host))
		for _, l := range serverLines(s, i) {
			fmt.Fprintf(&b, "  %s\n", l)
		}
		b.WriteString(" !\n")
	}
	if len(des.RPKI) > 0 {
		for _, af := range validatedAFs(des) {
			fmt.Fprintf(&b, " %s\n  %s\n !\n", af, validationLine)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(objs)) {
		if !strings.HasPrefix(k, "neighbor ") {
			continue
		}
		fmt.Fprintf(&b, " %s\n", k)
		af := ""
		for _, l := range objs[k] {
			l = reveal(l, pw[k])
			if p, rest, ok := strings.Cut(l, afSep); ok {
				if p != af {
					af = p
				}
				fmt.Fprintf(&b, "   %s\n", rest)
				continue
			}
			if strings.HasPrefix(l, "address-family ") {
				b.WriteString("  !\n")
			}
			fmt.Fprintf(&b, "  %s\n", l)
		}
		b.WriteString("  !\n !\n")
	}
	b.WriteString("!\n")
	return []byte(b.String()), nil
}

// block is how a set or route-policy is entered (and printed): set
// elements separated by commas, policy statements indented by nesting.
func block(kind, name string, body []string) []string {
	out := []string{kind + " " + name}
	depth := 1
	for i, l := range body {
		if l == "else" || l == "endif" {
			depth--
		}
		if kind != "route-policy" && i < len(body)-1 {
			l += ","
		}
		out = append(out, strings.Repeat("  ", depth)+l)
		if l == "else" || strings.HasSuffix(l, " then") {
			depth++
		}
	}
	if kind != "route-policy" {
		return append(out, "end-set")
	}
	return append(out, "end-policy")
}

func reveal(l, pw string) string {
	if l == secretMark {
		return "password clear " + pw
	}
	return l
}

// running is what parse reads from the router.
type running struct {
	objs  cli.Objects
	asn   uint32
	other map[netip.Addr]bool // neighbors without our marker
	// servers are the rpki servers by serverName; validated the address
	// families of "router bgp" with origin-AS validation on.
	servers, validated map[string]bool
}

// parse reads "show running-config" output of router bgp, prefix-sets and
// route-policies.
func parse(out string) running {
	r := running{objs: cli.Objects{}, other: map[netip.Addr]bool{}, servers: map[string]bool{}, validated: map[string]bool{}}
	var (
		block   string // "prefix-set N" / "route-policy N" being read
		nbr     string // neighbor address being read
		af      string
		nbrBody []string
		bgpAF   string // address family of "router bgp" being read
	)
	flush := func() {
		if nbr == "" {
			return
		}
		a, _ := netip.ParseAddr(nbr)
		owned := false
		for _, l := range nbrBody {
			if strings.HasPrefix(l, "description ") && cli.Managed(strings.TrimPrefix(l, "description ")) {
				owned = true
			}
		}
		if owned {
			r.objs["neighbor "+nbr] = nbrBody
		} else {
			r.other[a] = true
		}
		nbr, nbrBody, af = "", nil, ""
	}
	for raw := range strings.SplitSeq(out, "\n") {
		line := strings.TrimRight(raw, " \r")
		t := strings.TrimSpace(line)
		if t == "" {
			continue
		}
		indent := len(line) - len(strings.TrimLeft(line, " "))
		switch {
		case block != "":
			if t == "end-set" || t == "end-policy" {
				block = ""
				continue
			}
			if _, name, _ := strings.Cut(block, " "); strings.HasPrefix(name, cli.ObjectPrefix) {
				r.objs[block] = append(r.objs[block], strings.TrimSuffix(t, ","))
			}
			continue
		case indent == 0:
			flush()
			bgpAF = ""
			f := strings.Fields(t)
			switch {
			case len(f) == 2 && (f[0] == "prefix-set" || f[0] == "route-policy" || f[0] == "as-path-set" || f[0] == "large-community-set"):
				block = t
				if strings.HasPrefix(f[1], cli.ObjectPrefix) && r.objs[t] == nil {
					r.objs[t] = []string{}
				}
			case len(f) == 3 && f[0] == "router" && f[1] == "bgp":
				asn, _ := strconv.ParseUint(f[2], 10, 32)
				r.asn = uint32(asn)
			}
		case indent == 1:
			flush()
			bgpAF = ""
			if a, ok := strings.CutPrefix(t, "neighbor "); ok {
				if _, err := netip.ParseAddr(a); err == nil {
					nbr = a
				}
			}
			if h, ok := strings.CutPrefix(t, "rpki server "); ok {
				r.servers[serverName(h)] = true
			}
			if strings.HasPrefix(t, "address-family ") {
				bgpAF = t
			}
		case bgpAF != "" && indent == 2:
			if t == validationLine {
				r.validated[bgpAF] = true
			}
		case nbr != "" && indent == 2:
			if t == "!" {
				continue
			}
			af = ""
			if strings.HasPrefix(t, "address-family ") {
				af = t
			}
			if strings.HasPrefix(t, "password ") {
				t = secretMark
			}
			nbrBody = append(nbrBody, t)
		case nbr != "" && indent >= 3 && af != "":
			if t != "!" {
				nbrBody = append(nbrBody, af+afSep+t)
			}
		}
	}
	flush()
	return r
}

// plan turns the difference into configuration lines. A commit is atomic:
// the order only has to be valid (filters before the neighbors that use
// them, removals of filters after the neighbors that used them).
func plan(asn uint32, want, have cli.Objects, pw map[string]string) (lines []string, added, updated, removed int) {
	var filters, nbrs, gone []string
	bgp := fmt.Sprintf("router bgp %d ", asn)
	addrOf := map[string]string{} // filter name → neighbor address
	for k := range want {
		if a, ok := strings.CutPrefix(k, "neighbor "); ok {
			addrOf[policyName(netip.MustParseAddr(a))] = a
			addrOf[exportName(netip.MustParseAddr(a))] = a
		}
	}
	changed := map[string]bool{}
	changes := cli.DiffObjects(want, have)
	// A route-policy is a program: the same lines in another order are
	// another policy.
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if h, ok := have[k]; ok && strings.HasPrefix(k, "route-policy ") && !slices.Equal(want[k], h) &&
			!slices.ContainsFunc(changes, func(c cli.Change) bool { return c.Key == k }) {
			changes = append(changes, cli.Change{Key: k})
		}
	}
	for _, c := range changes {
		kind, name, _ := strings.Cut(c.Key, " ")
		switch kind {
		case "as-path-set", "large-community-set", "prefix-set", "route-policy":
			if c.Gone {
				gone = append(gone, "no "+c.Key)
				continue
			}
			// RPL objects are replaced whole.
			for _, l := range block(kind, name, want[c.Key]) {
				filters = append(filters, strings.TrimSpace(l))
			}
			changed[addrOf[name]] = true
		case "neighbor":
			p := bgp + "neighbor " + name + " "
			switch {
			case c.Gone:
				nbrs = append(nbrs, "no "+strings.TrimSpace(p))
				removed++
				continue
			case c.New:
				added++
			default:
				changed[name] = true
			}
			add := slices.Clone(c.Add)
			// A new fingerprint in the description means a new password.
			if !c.New && pw[c.Key] != "" && slices.ContainsFunc(add, func(l string) bool { return strings.HasPrefix(l, "description ") }) && !slices.Contains(add, secretMark) {
				add = append(add, secretMark)
			}
			setKeys := map[string]bool{}
			for _, l := range add {
				setKeys[lineKey(l)] = true
			}
			for _, l := range c.Remove {
				if !setKeys[lineKey(l)] {
					nbrs = append(nbrs, "no "+p+flat(noValue(l)))
				}
			}
			for _, l := range add {
				nbrs = append(nbrs, p+flat(reveal(l, pw[c.Key])))
			}
		}
	}
	for a := range changed {
		if _, existed := have["neighbor "+a]; existed && a != "" {
			updated++
		}
	}
	// Policies go before the sets they name.
	rank := func(l string) int {
		if strings.HasPrefix(l, "no route-policy ") {
			return 0
		}
		return 1
	}
	slices.SortStableFunc(gone, func(x, y string) int { return cmp.Compare(rank(x), rank(y)) })
	return append(append(filters, nbrs...), gone...), added, updated, removed
}

// lineKey identifies the attribute a line sets (its value replaced by a
// new one, not added next to it).
func lineKey(l string) string {
	p, rest, ok := strings.Cut(l, afSep)
	if !ok {
		rest, p = l, ""
	}
	f := strings.Fields(rest)
	k := f[0]
	if k == "route-policy" && len(f) == 3 {
		k += " " + f[2] // in / out
	}
	return p + afSep + k
}

// noValue is the "no" form of a line: attributes are removed by name.
func noValue(l string) string {
	if l == secretMark {
		return "password"
	}
	p, rest, ok := strings.Cut(l, afSep)
	if !ok {
		p, rest = "", l
	}
	if f := strings.Fields(rest); len(f) > 0 && (f[0] == "description" || f[0] == "remote-as" || f[0] == "maximum-prefix") {
		rest = f[0]
	}
	if p == "" {
		return rest
	}
	return p + afSep + rest
}

// flat turns "address-family X|line" into one full-path command.
func flat(l string) string { return strings.Replace(l, afSep, " ", 1) }

func read(ctx context.Context, s *cli.Session) (running, error) {
	var all strings.Builder
	for _, c := range []string{"show running-config as-path-set", "show running-config large-community-set",
		"show running-config prefix-set", "show running-config route-policy", "show running-config router bgp"} {
		out, err := s.Show(ctx, c)
		if err != nil {
			return running{}, err
		}
		all.WriteString(out + "\n")
	}
	return parse(all.String()), nil
}

// Apply makes the owned configuration equal to des in one commit.
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
		Commit: commit,
	})
}

// commit enters the target configuration, commits it, and aborts it on any
// refusal (with the router's reason from "show configuration failed").
func commit(ctx context.Context, s *cli.Session, lines []string) error {
	if _, err := s.Exec(ctx, "configure"); err != nil {
		return err
	}
	for _, l := range lines {
		if _, err := s.Exec(ctx, l); err != nil {
			return abort(ctx, s, err, false)
		}
	}
	if _, err := s.Exec(ctx, "commit"); err != nil {
		return abort(ctx, s, err, true)
	}
	_, err := s.Exec(ctx, "end")
	return err
}

func abort(ctx context.Context, s *cli.Session, cause error, committing bool) error {
	var ce *cli.CommandError
	if !errors.As(cause, &ce) {
		return cause // connection lost: the target configuration dies with it
	}
	if committing {
		if why, err := s.Show(ctx, "show configuration failed"); err == nil && strings.TrimSpace(why) != "" {
			cause = fmt.Errorf("%w: %s", cause, s.Redact(strings.TrimSpace(why)))
		}
	}
	return cli.Discard(ctx, s, cause, "aborted", "abort", "abort")
}
