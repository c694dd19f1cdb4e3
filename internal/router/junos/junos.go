// Package junos drives Junos over SSH (scrapligo): neighbors live in two
// groups the operator owns (PO-V4, PO-V6), each with an import
// policy-statement PO-IN-<address> and an export one PO-OUT-<address>;
// RTR caches go into the validation group PO-RPKI, added and never
// removed, and with any every import policy rejects RPKI-invalid routes;
// changes go through a private candidate configuration, "commit check",
// "commit confirmed" and a confirming "commit", and are rolled back on any
// error. Tested against recorded sessions only: no Junos daemon runs here.
package junos

import (
	"context"
	_ "embed"
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

// Platform is the scrapligo platform definition of the Junos CLI.
func Platform() cli.Platform { return cli.Platform{Definition: platformYAML} }

// Junos descriptions are at most 255 characters.
const maxDesc = 255

// secretMark stands for an authentication key: Junos shows it only
// encrypted ("$9$..."), so lines are compared with it and the password's
// fingerprint lives in the description.
const secretMark = "<secret>"

// Driver configures one Junos router.
type Driver struct {
	cli.Base
	// ConfirmMinutes is the "commit confirmed" window (default 5): if the
	// confirming commit never arrives (the session died), Junos rolls
	// back by itself.
	ConfirmMinutes int
}

var _ router.Driver = (*Driver)(nil)

// New returns a driver; it connects on first use.
func New(cfg cli.Config) *Driver {
	return &Driver{Base: cli.NewBase(cfg, Platform()), ConfirmMinutes: 5}
}

func group(a netip.Addr) string {
	if a.Is4() {
		return "PO-V4"
	}
	return "PO-V6"
}

func policyName(a netip.Addr) string { return cli.ObjectName("IN", a, false) }

func exportName(a netip.Addr) string { return cli.ObjectName("OUT", a, false) }

// gshutName is the GRACEFUL_SHUTDOWN community (RFC 8326): added to
// drained neighbors' exports, matched on imports that honour it.
const gshutName = "PO-GSHUT"

// learnedName names the community matching whatever we learned from one
// kind of session (large:LocalASN:kind:*). Junos ANDs the members of one
// community and ORs the communities of a "from community" list, so each
// kind is its own community.
func learnedName(k router.LearnedFrom) string {
	return fmt.Sprintf("%sLEARNED-%d", cli.ObjectPrefix, k)
}

// tagName names the exact community an import policy adds: Junos cannot
// add a community with a wildcard member.
func tagName(k router.LearnedFrom, ixID uint32) string {
	return fmt.Sprintf("%sLEARNED-%d-%d", cli.ObjectPrefix, k, ixID)
}

func community(name, member string) []string {
	return []string{"set policy-options community " + name + " members large:" + member}
}

// infoName names the community of one informational value, shared by
// every policy adding it: one member each, so standard and large values
// never mix in one community.
func infoName(c router.Community) string {
	return cli.ObjectPrefix + "COMMUNITY-" + strings.ReplaceAll(c.String(), ":", "-")
}

// infoCommunity defines it, a large value in Junos' "large:" form.
func infoCommunity(c router.Community) []string {
	if c.Large {
		return community(infoName(c), c.String())
	}
	return []string{"set policy-options community " + infoName(c) + " members " + c.String()}
}

func neighborKey(a netip.Addr) string { return "neighbor " + group(a) + " " + a.String() }

// deactivated is the line "display set" shows for a neighbor shut down.
func deactivated(a netip.Addr) string {
	return "deactivate protocols bgp group " + group(a) + " neighbor " + a.String()
}

func firstASName(a netip.Addr) string { return cli.ObjectName("FIRST", a, false) }

// bogonASNs names the shared as-path of bogon ASNs.
var bogonASNs = cli.ObjectPrefix + "BOGON-ASNS"

// bogonRegex is a Junos as-path regular expression: AS numbers are tokens
// and ranges are native (".* (0|23456|64496-131071|...) .*").
func bogonRegex() string {
	var alts []string
	for _, r := range cli.BogonASNRuns() {
		if r.From == r.To {
			alts = append(alts, strconv.FormatUint(r.From, 10))
		} else {
			alts = append(alts, fmt.Sprintf("%d-%d", r.From, r.To))
		}
	}
	return ".* (" + strings.Join(alts, "|") + ") .*"
}

// maxIdleTimeout is the longest prefix-limit idle-timeout Junos takes, in
// minutes.
const maxIdleTimeout = 2400

// rpkiGroup is the validation group the operator adds RTR caches to.
// Caches are never removed (see router.Desired.RPKI), from it or any
// other group.
var rpkiGroup = cli.ObjectPrefix + "RPKI"

// maxSessions is the most sessions a Junos validation group holds.
const maxSessions = 63

func check(des router.Desired) error {
	if err := cli.CheckNoRouteServer(des, "junos"); err != nil {
		return err
	}
	if len(des.RPKI) > maxSessions {
		return fmt.Errorf("%w: %d RTR caches: a Junos validation group holds at most %d", router.ErrInvalid, len(des.RPKI), maxSessions)
	}
	for _, s := range des.RPKI {
		if _, err := sessionAddr(s); err != nil {
			return err
		}
	}
	return cli.CheckRestart(des, maxIdleTimeout)
}

// sessionAddr is the address naming a cache's validation session: Junos
// takes an IP address there, never a DNS name.
func sessionAddr(s router.RTRServer) (netip.Addr, error) {
	a, err := netip.ParseAddr(s.Host)
	if err != nil || a.Zone() != "" || a.Is4In6() {
		return netip.Addr{}, fmt.Errorf("%w: RTR cache %s: Junos names a validation session by its IP address; give the cache's address, not a DNS name", router.ErrInvalid, s)
	}
	return a, nil
}

// sessionLines are the "display set" lines of des' i-th cache. Junos
// prefers the highest preference: the first cache gets 255.
func sessionLines(s router.RTRServer, i int) []string {
	a, _ := sessionAddr(s) // checked
	p := "set routing-options validation group " + rpkiGroup + " session " + a.String() + " "
	return []string{p + "port " + strconv.Itoa(int(s.Port)), p + "preference " + strconv.Itoa(255-i)}
}

// parseSessions reads the addresses of the validation sessions of every
// group from "display set" output.
func parseSessions(out string) map[netip.Addr]bool {
	have := map[netip.Addr]bool{}
	for raw := range strings.SplitSeq(out, "\n") {
		f := strings.Fields(raw)
		if len(f) >= 7 && f[0] == "set" && f[1] == "routing-options" && f[2] == "validation" && f[3] == "group" && f[5] == "session" {
			if a, err := netip.ParseAddr(f[6]); err == nil {
				have[a] = true
			}
		}
	}
	return have
}

// newSessions are the lines adding the caches of des the router has no
// session for, in any group. A session is named by its address alone: one
// configured by hand, whatever its port or preference, is that cache and
// is left as it is. Nothing here ever deletes a session.
func newSessions(des router.Desired, have map[netip.Addr]bool) []string {
	var out []string
	for i, s := range des.RPKI {
		if a, _ := sessionAddr(s); !have[a] {
			out = append(out, sessionLines(s, i)...)
		}
	}
	return out
}

// quote writes a value as "display set" prints it.
func quote(s string) string {
	if s == "" || strings.ContainsAny(s, " \t;{}") {
		return `"` + s + `"`
	}
	return s
}

// routeFilter is a prefix range in Junos route-filter words.
func routeFilter(r cli.Range) string {
	bits, max := r.Prefix.Bits(), r.Prefix.Addr().BitLen()
	p := r.Prefix.String()
	switch {
	case r.Lo == bits && r.Hi == bits:
		return p + " exact"
	case r.Lo == bits && r.Hi == max:
		return p + " orlonger"
	case r.Lo == bits+1 && r.Hi == max:
		return p + " longer"
	case r.Lo == bits:
		return fmt.Sprintf("%s upto /%d", p, r.Hi)
	default:
		return fmt.Sprintf("%s prefix-length-range /%d-/%d", p, r.Lo, r.Hi)
	}
}

// wanted is the owned configuration for des, as objects of "display set"
// lines (authentication keys as secretMark), plus the passwords by
// neighbor key.
func wanted(des router.Desired) (cli.Objects, map[string]string) {
	objs := cli.Objects{}
	pw := map[string]string{}
	for _, n := range cli.Sorted(des.Neighbors) {
		g := group(n.Address)
		objs["group "+g] = []string{"set protocols bgp group " + g + " type external"}
		key := neighborKey(n.Address)
		p := "set protocols bgp group " + g + " neighbor " + n.Address.String() + " "
		fam := "inet"
		if n.Address.Is6() {
			fam = "inet6"
		}
		lines := []string{
			p + "description " + quote(cli.DescriptionWithFingerprint(n, maxDesc)),
			p + "import " + policyName(n.Address),
		}
		if n.MaxPrefixes > 0 {
			// prefix-limit counts what the peer sends (before import
			// policy); teardown keeps the session down, as FRR does,
			// for ever or for the restart interval.
			idle := "forever"
			if m := cli.RestartMinutes(n); m > 0 {
				idle = strconv.Itoa(m)
			}
			lines = append(lines,
				p+"family "+fam+" unicast prefix-limit maximum "+strconv.FormatUint(uint64(n.MaxPrefixes), 10),
				p+"family "+fam+" unicast prefix-limit teardown idle-timeout "+idle)
		} else {
			lines = append(lines, p+"family "+fam+" unicast")
		}
		if n.Password != "" {
			lines = append(lines, p+"authentication-key "+secretMark)
			pw[key] = n.Password.Reveal()
		}
		lines = append(lines, p+"export "+exportName(n.Address), p+"peer-as "+strconv.FormatUint(uint64(n.PeerASN), 10))
		if n.Shutdown {
			lines = append(lines, deactivated(n.Address))
		}
		objs[key] = lines

		q := "set policy-options policy-statement " + policyName(n.Address) + " "
		var pl []string
		if len(des.RPKI) > 0 {
			// First term: an RPKI-invalid route (RFC 6811) is rejected
			// whatever else it matches; one no cache covers is
			// "unknown" and goes on. No "from protocol bgp" as in
			// Juniper's examples: a BGP import policy sees BGP routes
			// only.
			pl = append(pl, q+"term RPKI-INVALID from validation-database invalid", q+"term RPKI-INVALID then reject")
		}
		if n.RejectBogonASNs {
			// Before the prefixes: a path with a bogon ASN is rejected
			// whatever its prefix.
			objs["aspath "+bogonASNs] = []string{"set policy-options as-path " + bogonASNs + " " + quote(bogonRegex())}
			pl = append(pl, q+"term BOGON-ASNS from as-path "+bogonASNs, q+"term BOGON-ASNS then reject")
		}
		var terms []string
		for _, r := range cli.Ranges(n.Import) {
			terms = append(terms, q+"term PREFIXES from route-filter "+routeFilter(r))
		}
		if len(terms) > 0 {
			if n.EnforceFirstAS {
				// ANDed with the route-filters of the same term.
				fa := firstASName(n.Address)
				objs["aspath "+fa] = []string{"set policy-options as-path " + fa + " " + quote(strconv.FormatUint(uint64(n.PeerASN), 10)+" .*")}
				terms = append([]string{q + "term PREFIXES from as-path " + fa}, terms...)
			}
			if n.Learned != router.LearnedNone {
				tn := tagName(n.Learned, n.IXID)
				objs["community "+tn] = community(tn, router.LearnedCommunity(des.LocalASN, n.Learned, n.IXID))
				terms = append(terms, q+"term PREFIXES then community add "+tn)
			}
			std, large, _ := router.SortedCommunities(n.Communities) // validated
			for _, c := range append(std, large...) {
				objs["community "+infoName(c)] = infoCommunity(c)
				terms = append(terms, q+"term PREFIXES then community add "+infoName(c))
			}
			if n.Drain {
				terms = append(terms, q+"term PREFIXES then local-preference 0")
			}
			// LOCAL-PREF and GSHUT only modify (no accept or reject), so
			// a route goes on to PREFIXES with its preference set: the
			// filter still decides, and a drain's 0 there comes last.
			if n.LocalPref != 0 {
				pl = append(pl, q+"term LOCAL-PREF then local-preference "+strconv.FormatUint(uint64(n.LocalPref), 10))
			}
			if !n.IgnoreGracefulShutdown {
				objs["community "+gshutName] = gshutCommunity()
				pl = append(pl, q+"term GSHUT from community "+gshutName, q+"term GSHUT then local-preference 0")
			}
			pl = append(append(pl, terms...), q+"term PREFIXES then accept")
		}
		// Default deny: anything the term did not accept.
		pl = append(pl, q+"then reject")
		objs["policy "+policyName(n.Address)] = pl
		objs["policy "+exportName(n.Address)] = exportPolicy(objs, des.LocalASN, n)
	}
	return objs, pw
}

// gshutCommunity defines gshutName.
func gshutCommunity() []string {
	return []string{"set policy-options community " + gshutName + " members " + router.GracefulShutdown}
}

// exportPolicy is the neighbor's export policy (its communities go into
// objs): routes we learned from peers or route servers are rejected, then
// the Export prefixes accepted, then everything else rejected, so Junos'
// default (export every BGP route) never applies. Without Export there is
// no accepting term at all: a term without "from" would match every route.
func exportPolicy(objs cli.Objects, localASN uint32, n router.Neighbor) []string {
	q := "set policy-options policy-statement " + exportName(n.Address) + " "
	var pl []string
	if rs := cli.Ranges(n.Export); len(rs) > 0 {
		for i, k := range cli.LearnedKinds {
			ln := learnedName(k)
			objs["community "+ln] = community(ln, cli.LearnedWildcards(localASN)[i])
			pl = append(pl, q+"term LEARNED from community "+ln)
		}
		pl = append(pl, q+"term LEARNED then reject")
		for _, r := range rs {
			pl = append(pl, q+"term EXPORT from route-filter "+routeFilter(r))
		}
		if n.Drain {
			objs["community "+gshutName] = gshutCommunity()
			pl = append(pl, q+"term EXPORT then community add "+gshutName)
		}
		pl = append(pl, q+"term EXPORT then accept")
	}
	return append(pl, q+"then reject")
}

// Render returns the owned configuration as "set" commands (passwords in
// clear, as they would be loaded), held neighbors as comments.
func (d *Driver) Render(des router.Desired) ([]byte, error) {
	if err := check(des); err != nil {
		return nil, err
	}
	objs, pw := wanted(des)
	var b strings.Builder
	for _, l := range cli.HeldComments("#", des.Held) {
		fmt.Fprintln(&b, l)
	}
	for i, s := range des.RPKI {
		for _, l := range sessionLines(s, i) {
			fmt.Fprintln(&b, l)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(objs)) {
		for _, l := range objs[k] {
			fmt.Fprintln(&b, reveal(l, pw[k]))
		}
	}
	return []byte(b.String()), nil
}

func reveal(line, pw string) string {
	if strings.HasSuffix(line, " authentication-key "+secretMark) {
		return strings.TrimSuffix(line, secretMark) + `"` + pw + `"`
	}
	return line
}

// parse reads "display set" output: the owned objects, and the neighbor
// addresses configured in groups the operator does not own.
func parse(out string) (cli.Objects, map[netip.Addr]bool) {
	objs := cli.Objects{}
	foreign := map[netip.Addr]bool{}
	for raw := range strings.SplitSeq(out, "\n") {
		l := strings.TrimSpace(raw)
		f := strings.Fields(l)
		if len(f) < 4 {
			continue
		}
		verb := f[0]
		if verb != "set" && verb != "deactivate" {
			continue
		}
		switch {
		case f[1] == "protocols" && f[2] == "bgp" && f[3] == "group" && len(f) >= 5:
			g := f[4]
			if !strings.HasPrefix(g, cli.ObjectPrefix) {
				if len(f) >= 7 && f[5] == "neighbor" {
					if a, err := netip.ParseAddr(f[6]); err == nil {
						foreign[a] = true
					}
				}
				continue
			}
			key := "group " + g
			if len(f) >= 7 && f[5] == "neighbor" {
				key = "neighbor " + g + " " + f[6]
				if len(f) >= 8 && f[7] == "authentication-key" {
					l = strings.Join(f[:8], " ") + " " + secretMark
				}
			}
			objs[key] = append(objs[key], l)
		case verb == "set" && f[1] == "policy-options" && f[2] == "policy-statement" && strings.HasPrefix(f[3], cli.ObjectPrefix):
			objs["policy "+f[3]] = append(objs["policy "+f[3]], l)
		case verb == "set" && f[1] == "policy-options" && f[2] == "as-path" && strings.HasPrefix(f[3], cli.ObjectPrefix):
			objs["aspath "+f[3]] = append(objs["aspath "+f[3]], l)
		case verb == "set" && f[1] == "policy-options" && f[2] == "community" && strings.HasPrefix(f[3], cli.ObjectPrefix):
			objs["community "+f[3]] = append(objs["community "+f[3]], l)
		}
	}
	return objs, foreign
}

// plan turns the difference into configuration commands and neighbor
// counts. A Junos commit is atomic, so the order only has to be valid:
// removals, then line changes, then additions.
func plan(want, have cli.Objects, pw map[string]string) (lines []string, added, updated, removed int) {
	var dels, sets []string
	changed := map[string]bool{}
	changes := cli.DiffObjects(want, have)
	goneGroup := map[string]bool{}
	for _, c := range changes {
		if c.Gone && strings.HasPrefix(c.Key, "group ") {
			goneGroup[strings.TrimPrefix(c.Key, "group ")] = true
		}
	}
	for _, c := range changes {
		kind, rest, _ := strings.Cut(c.Key, " ")
		switch {
		case c.Gone:
			switch kind {
			case "neighbor":
				g, a, _ := strings.Cut(rest, " ")
				if !goneGroup[g] { // deleting the group deletes it
					dels = append(dels, "delete protocols bgp group "+g+" neighbor "+a)
				}
				removed++
			case "policy":
				dels = append(dels, "delete policy-options policy-statement "+rest)
			case "aspath":
				dels = append(dels, "delete policy-options as-path "+rest)
			case "community":
				dels = append(dels, "delete policy-options community "+rest)
			case "group":
				dels = append(dels, "delete protocols bgp group "+rest)
			}
			continue
		case c.New:
			if kind == "neighbor" {
				added++
			}
		default:
			if kind == "neighbor" || kind == "policy" {
				changed[addrOf(c.Key)] = true
			}
		}
		// A term the policy no longer has goes whole: deleting its lines
		// one by one could leave it empty, and a term without "from"
		// matches every route.
		goneTerm := map[string]bool{}
		if kind == "policy" && !c.New {
			for _, t := range termNames(have[c.Key]) {
				if !slices.Contains(termNames(want[c.Key]), t) {
					goneTerm[t] = true
					dels = append(dels, "delete policy-options policy-statement "+rest+" term "+t)
				}
			}
		}
		for _, l := range c.Remove {
			if f := strings.Fields(l); len(f) > 5 && f[4] == "term" && goneTerm[f[5]] {
				continue
			}
			if replaced(l, c.Add) {
				continue
			}
			if strings.HasPrefix(l, "deactivate ") {
				dels = append(dels, "activate "+strings.TrimPrefix(l, "deactivate "))
			} else {
				dels = append(dels, "delete "+strings.TrimPrefix(l, "set "))
			}
		}
		add := c.Add
		// A new password fingerprint means a new password: send it even
		// though the (encrypted) key line reads the same.
		if !c.New && pw[c.Key] != "" && slices.ContainsFunc(c.Add, func(l string) bool { return strings.Contains(l, " description ") }) {
			for _, l := range want[c.Key] {
				if strings.HasSuffix(l, " authentication-key "+secretMark) && !slices.Contains(add, l) {
					add = append(add, l)
				}
			}
		}
		for _, l := range add {
			sets = append(sets, reveal(l, pw[c.Key]))
		}
		if kind == "policy" && !c.New {
			sets = append(sets, insertions(rest, want[c.Key], have[c.Key])...)
		}
	}
	for k := range changed {
		if k != "" && !isNew(want, have, k) {
			updated++
		}
	}
	return append(dels, sets...), added, updated, removed
}

// replaced reports whether a removed line's single value is set anew by
// one of add: the set overwrites it in place, whereas deleting it first
// could empty its term, which the set would then recreate at the end of
// the policy, after the accepting term.
func replaced(l string, add []string) bool {
	const lp = " then local-preference "
	i := strings.Index(l, lp)
	if i < 0 {
		return false
	}
	return slices.ContainsFunc(add, func(a string) bool { return strings.HasPrefix(a, l[:i+len(lp)]) })
}

// insertions move the terms new to an existing policy before the first
// later term it has: Junos appends a new term at the end, and a term's
// place decides what it sees (the bogon or learned rejection must come
// before the accepting term).
func insertions(policy string, want, have []string) []string {
	old := map[string]bool{}
	for _, t := range termNames(have) {
		old[t] = true
	}
	terms := termNames(want)
	var out []string
	for i, t := range terms {
		if old[t] {
			continue
		}
		for _, u := range terms[i+1:] {
			if old[u] {
				out = append(out, "insert policy-options policy-statement "+policy+" term "+t+" before term "+u)
				break
			}
		}
	}
	return out
}

// termNames lists the terms of policy lines in their order.
func termNames(lines []string) []string {
	var out []string
	for _, l := range lines {
		if f := strings.Fields(l); len(f) > 5 && f[4] == "term" && !slices.Contains(out, f[5]) {
			out = append(out, f[5])
		}
	}
	return out
}

// addrOf is the neighbor address a key is about ("" for groups and
// communities).
func addrOf(key string) string {
	f := strings.Fields(key)
	switch f[0] {
	case "neighbor":
		return f[2]
	case "policy":
		if a, ok := strings.CutPrefix(f[1], cli.ObjectPrefix+"IN-"); ok {
			return a
		}
		return strings.TrimPrefix(f[1], cli.ObjectPrefix+"OUT-")
	}
	return ""
}

// isNew: a policy change of a neighbor created in the same apply is part of
// its creation.
func isNew(want, have cli.Objects, addr string) bool {
	for k := range want {
		if strings.HasPrefix(k, "neighbor ") && addrOf(k) == addr {
			_, ok := have[k]
			return !ok
		}
	}
	return false
}

// running is the owned configuration, the neighbors configured in groups
// we do not own and the validation sessions of every group.
type running struct {
	objs     cli.Objects
	foreign  map[netip.Addr]bool
	sessions map[netip.Addr]bool
}

// read fetches the owned configuration, and the validation sessions when
// caches are wanted (without, none is ever touched).
func read(ctx context.Context, s *cli.Session, validation bool) (running, error) {
	cmds := []string{"show configuration protocols bgp | display set", "show configuration policy-options | display set"}
	if validation {
		cmds = append(cmds, "show configuration routing-options validation | display set")
	}
	var all strings.Builder
	for _, c := range cmds {
		out, err := s.Show(ctx, c)
		if err != nil {
			return running{}, err
		}
		all.WriteString(out + "\n")
	}
	o, f := parse(all.String())
	return running{objs: o, foreign: f, sessions: parseSessions(all.String())}, nil
}

// Apply makes the owned configuration equal to des in one commit.
func (d *Driver) Apply(ctx context.Context, des router.Desired) (router.ApplyResult, error) {
	rendered, err := d.Render(des)
	if err != nil {
		return router.ApplyResult{}, err
	}
	want, pw := wanted(des)
	return cli.Apply(ctx, &d.Base, des, rendered, cli.Steps[running]{
		Read: func(ctx context.Context, s *cli.Session) (running, error) {
			return read(ctx, s, len(des.RPKI) > 0)
		},
		Conflict: func(have running) error {
			for _, n := range des.Neighbors {
				if have.foreign[n.Address] {
					return fmt.Errorf("%w: neighbor %s is configured in a group peering-operator does not own", cli.ErrConflict, n.Address)
				}
			}
			return nil
		},
		Plan: func(have running) ([]string, int, int, int) {
			lines, a, u, r := plan(cli.Hold(want, have.objs, des.Held, neighborKey, deactivated), have.objs, pw)
			return append(newSessions(des, have.sessions), lines...), a, u, r
		},
		Commit: d.commit,
	})
}

// commit loads lines into a private candidate and commits it: check,
// confirmed, confirm. Any refusal discards the candidate.
func (d *Driver) commit(ctx context.Context, s *cli.Session, lines []string) error {
	if _, err := s.Exec(ctx, "configure private"); err != nil {
		return err
	}
	steps := append(slices.Clone(lines), "commit check",
		fmt.Sprintf("commit confirmed %d comment peering-operator", max(1, d.ConfirmMinutes)))
	for _, l := range steps {
		if _, err := s.Exec(ctx, l); err != nil {
			return rollback(ctx, s, err)
		}
	}
	// The candidate is live now; this commit only confirms it. If it
	// fails, Junos rolls back when the confirmed window ends.
	if _, err := s.Exec(ctx, "commit"); err != nil {
		return fmt.Errorf("confirming commit failed, Junos rolls back in %d minutes: %w", d.ConfirmMinutes, err)
	}
	_, err := s.Exec(ctx, "exit configuration-mode")
	return err
}

// rollback discards the private candidate (which dies with a lost
// connection anyway).
func rollback(ctx context.Context, s *cli.Session, cause error) error {
	return cli.Discard(ctx, s, cause, "rolled back", "rollback", "rollback 0", "exit configuration-mode")
}
