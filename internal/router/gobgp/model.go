package gobgp

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/peering-operator/peering-operator/internal/router"
)

// Everything the driver creates on gobgpd carries this prefix (defined
// sets, policies, statements) or DescriptionMarker (neighbors); nothing
// else is ever changed or deleted.
const (
	NamePrefix        = "po-"
	DescriptionMarker = "po["
)

// defaultConnectRetry is GoBGP's own default, written explicitly so that
// read-back compares equal.
const defaultConnectRetry = 120 * time.Second

// neighborID turns an address into a name part that GoBGP accepts and that
// stays the same for the neighbor's lifetime: 192.0.2.10 -> 192_0_2_10,
// 2001:db8::a -> 2001_db8__a.
func neighborID(a netip.Addr) string {
	return strings.NewReplacer(".", "_", ":", "_").Replace(a.String())
}

func prefixSetName(id string) string   { return NamePrefix + "in-" + id }
func neighborSetName(id string) string { return NamePrefix + "nb-" + id }
func policyName(id string) string      { return NamePrefix + "in-" + id }

// exportSetName is an ordinary neighbor's export prefix set, and
// exportPolicyName its export policy in the global export policy.
func exportSetName(id string) string    { return NamePrefix + "out-" + id }
func exportPolicyName(id string) string { return NamePrefix + "out-" + id }

// bogonSwitchName is the prefix set that turns the bogon ASN check on:
// every route of the neighbor's family when on, empty (never matches)
// when off. The bogon ASN set is shared, so the switch has to be per
// neighbor; GoBGP has no other per-neighbor condition that an empty set
// turns off (an empty neighbor set matches every route).
func bogonSwitchName(id string) string { return NamePrefix + "bg-" + id }

// firstASSetName is the neighbor's AS_PATH set of first-AS patterns.
func firstASSetName(id string) string { return NamePrefix + "fa-" + id }

// gshutSwitchName is an ordinary neighbor's community set that turns the
// honouring of a received GRACEFUL_SHUTDOWN on (gshutPattern) or off
// (empty: an empty community set matches nothing), like bogonSwitchName.
func gshutSwitchName(id string) string { return NamePrefix + "gs-" + id }

// gshutPattern matches GRACEFUL_SHUTDOWN (written as the expression GoBGP
// returns, so it reads back equal).
var gshutPattern = "^" + router.GracefulShutdown + "$"

// Statement names are global in GoBGP (not per policy), so they carry the
// neighbor ID too.
func stmtRPKI(id string) string    { return policyName(id) + "-rpki" }
func stmtBogon(id string) string   { return policyName(id) + "-bogon" }
func stmtFirstAS(id string) string { return policyName(id) + "-firstas" }
func stmtStrip(id string) string   { return policyName(id) + "-strip" }
func stmtGShut(id string) string   { return policyName(id) + "-gshut" }
func stmtAccept(id string) string  { return policyName(id) + "-accept" }
func stmtFinal(id string) string   { return policyName(id) + "-final" }

// stmtReject is the final reject of an ordinary neighbor's policy as
// versions before the gshut statement built it (see txn.migrateGShut).
func stmtReject(id string) string { return policyName(id) + "-reject" }

func stmtOutLearned(id string) string { return exportPolicyName(id) + "-learned" }
func stmtOutAccept(id string) string  { return exportPolicyName(id) + "-accept" }
func stmtOutReject(id string) string  { return exportPolicyName(id) + "-reject" }

func importStmtNames(id string) []string {
	return []string{stmtRPKI(id), stmtBogon(id), stmtFirstAS(id), stmtStrip(id), stmtGShut(id), stmtAccept(id), stmtFinal(id), stmtReject(id)}
}

func exportStmtNames(id string) []string {
	return []string{stmtOutLearned(id), stmtOutAccept(id), stmtOutReject(id)}
}

func stmtNames(id string) []string { return append(importStmtNames(id), exportStmtNames(id)...) }

// learnedSet is the large community set of the communities our import
// policies add (LocalASN:1:* and LocalASN:2:*); one set serves every
// ordinary neighbor's export policy.
const learnedSet = NamePrefix + "learned"

// learnedPatterns is the content of learnedSet. GoBGP anchors an entry
// only when it looks like a community ("1:2:3"); this one is an
// expression matched against "ASN:x:y" and comes back as written.
func learnedPatterns(localASN uint32) []string {
	return []string{fmt.Sprintf(`^%d:[%d%d]:\d+$`, localASN, router.LearnedPeer, router.LearnedRouteServer)}
}

// idOf returns the neighbor ID in one of our per-neighbor object names,
// or "" (also for the shared bogonASNSet and learnedSet).
func idOf(name string) string {
	for _, p := range []string{NamePrefix + "in-", NamePrefix + "nb-", NamePrefix + "bg-", NamePrefix + "fa-", NamePrefix + "gs-", NamePrefix + "out-"} {
		if rest, ok := strings.CutPrefix(name, p); ok {
			for _, suf := range []string{"-rpki", "-bogon", "-firstas", "-strip", "-gshut", "-accept", "-final", "-reject", "-learned"} {
				rest = strings.TrimSuffix(rest, suf)
			}
			return rest
		}
	}
	return ""
}

func owned(name string) bool { return strings.HasPrefix(name, NamePrefix) }

func description(n router.Neighbor) string {
	d := DescriptionMarker + n.Owner + "]"
	if n.Description != "" {
		d += " " + n.Description
	}
	return d
}

// pfx is one GoBGP prefix-set entry: routes inside prefix whose length is
// in min..max.
type pfx struct {
	prefix   netip.Prefix
	min, max int
}

func (p pfx) String() string { return fmt.Sprintf("%s %d..%d", p.prefix, p.min, p.max) }

func comparePrefix(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return a.Bits() - b.Bits()
}

// gobgpEntries converts a filter to the prefix-set entries GoBGP must hold
// to mean the same thing.
//
// GoBGP keeps a prefix set in a radix tree and, for a route, looks only at
// the longest tree node that contains it (critbitgo Net.Match). A filter
// like "10.0.0.0/16 le 24, 10.0.5.0/24" would then reject 10.0.5.0/25 even
// with "le 25" on the /16, because the /24 node wins and its range does
// not allow /25. So every range of a covering entry is copied down into
// each more specific node, clipped to that node's length; GoBGP then
// accepts exactly what the filter says. Ranges on one node are merged.
func gobgpEntries(entries []router.Entry) []pfx {
	ranges := map[netip.Prefix][][2]int{}
	for _, e := range entries {
		lo, hi := e.GE, e.LE
		if e.Exact {
			lo, hi = e.Prefix.Bits(), e.Prefix.Bits()
		}
		ranges[e.Prefix] = append(ranges[e.Prefix], [2]int{lo, hi})
	}
	// Lengths present, to find covering nodes without walking every length.
	var lengths []int
	for p := range ranges {
		if !slices.Contains(lengths, p.Bits()) {
			lengths = append(lengths, p.Bits())
		}
	}
	sort.Ints(lengths)
	out := make([]pfx, 0, len(ranges))
	for p, own := range ranges {
		rs := slices.Clone(own)
		for _, l := range lengths {
			if l >= p.Bits() {
				break
			}
			cover, err := p.Addr().Prefix(l)
			if err != nil {
				continue
			}
			for _, r := range ranges[cover] {
				if lo := max(r[0], p.Bits()); lo <= r[1] {
					rs = append(rs, [2]int{lo, r[1]})
				}
			}
		}
		for _, r := range mergeRanges(rs) {
			out = append(out, pfx{prefix: p, min: r[0], max: r[1]})
		}
	}
	slices.SortFunc(out, func(a, b pfx) int {
		if c := comparePrefix(a.prefix, b.prefix); c != 0 {
			return c
		}
		return a.min - b.min
	})
	return out
}

func mergeRanges(rs [][2]int) [][2]int {
	slices.SortFunc(rs, func(a, b [2]int) int { return a[0] - b[0] })
	var out [][2]int
	for _, r := range rs {
		if n := len(out); n > 0 && r[0] <= out[n-1][1]+1 {
			out[n-1][1] = max(out[n-1][1], r[1])
			continue
		}
		out = append(out, r)
	}
	return out
}

// peerSpec is the part of a GoBGP neighbor the driver sets and compares.
type peerSpec struct {
	asn          uint32
	description  string
	password     string
	adminDown    bool
	passive      bool
	remotePort   uint32
	connectRetry uint64 // seconds
	rsClient     bool
	ipv6         bool
	maxPrefixes  uint32
	thresholdPct uint32
}

// nbModel is one neighbor as the driver wants it on gobgpd.
type nbModel struct {
	addr     netip.Addr
	id       string
	spec     peerSpec
	prefixes []pfx
	// bogonSwitch is the content of bogonSwitchName, firstAS that of
	// firstASSetName.
	bogonSwitch    []pfx
	firstAS        []string
	enforceFirstAS bool // for Render only: firstAS says it to GoBGP
	// exports is the content of exportSetName, tag the large community
	// the import policy's accept statement adds ("": none) and learned
	// the pattern of learnedSet, which its strip statement removes; all
	// only for ordinary neighbors: a route-server client has no export
	// objects and its routes are neither stripped nor tagged.
	exports []pfx
	tag     string
	learned string
	// localPref is Neighbor.LocalPref (0: normalLocalPref), inCommunity
	// the standard communities the accept statement adds, space-separated
	// ("": none); tag holds the large ones with the learned one.
	localPref   uint32
	inCommunity string
	// gshutSwitch is the content of gshutSwitchName (ordinary neighbors).
	gshutSwitch []string
	// drain: a graceful shutdown (RFC 8326) is in progress: the accept
	// statement lowers the local preference, the export one adds
	// GRACEFUL_SHUTDOWN. Both are actions changed in place (txn.redrain).
	drain bool
}

// drainLocalPref is the local preference of a drained neighbor's routes.
// RFC 8326 asks for 0, but gobgpd's API reads a LocalPref action of 0 as
// none (newLocalPrefActionFromApiStruct, v3.37.0), so the lowest it takes.
// Otherwise an ordinary neighbor's routes get gobgpd's default, 100, set
// explicitly: gobgpd stores a path back into the Adj-RIB-In with what its
// import policy set whenever the Adj-RIB-In is listed with filtered paths
// (State does), so without a value to set the drained 1 would outlive the
// drain (seen with v3.37.0; the same reason as the strip statement).
const (
	drainLocalPref  = 1
	normalLocalPref = 100
)

// model is the complete desired state, derived purely from Desired and
// Options; Render prints it and Apply diffs it against gobgpd.
type model struct {
	asn       uint32
	routerID  netip.Addr
	rpki      []string  // RTR servers "host:port" (Options.RPKIServer, Desired.RPKI)
	neighbors []nbModel // sorted by address
	// bogonASNs is the content of the shared bogonASNSet; nil without
	// neighbors (the set exists while any neighbor's policy uses it).
	bogonASNs []string
	// learned is the content of the shared learnedSet; nil without
	// ordinary neighbors (only their export policies use it).
	learned []string
	held    []heldModel // sorted by address
}

// heldModel is a neighbor left as it runs (router.Held).
type heldModel struct {
	addr netip.Addr
	id   string
	// shutdown, when set, is the admin state it must have.
	shutdown *bool
}

func buildModel(d router.Desired, o Options) (*model, error) {
	if err := d.Validate(); err != nil {
		return nil, err
	}
	m := &model{asn: d.LocalASN, routerID: d.RouterID}
	if o.RPKIServer != "" {
		m.rpki = append(m.rpki, o.RPKIServer)
	}
	for _, s := range d.RPKI {
		if !slices.Contains(m.rpki, s.String()) {
			m.rpki = append(m.rpki, s.String())
		}
	}
	retry := o.ConnectRetry
	if retry <= 0 {
		retry = defaultConnectRetry
	}
	for _, n := range d.Neighbors {
		rsClient := o.RouteServer || n.RouteServerClient
		var exports []pfx
		tag, learned, inCommunity := "", "", ""
		if !rsClient {
			exports = gobgpEntries(n.Export)
			tags := n.Communities
			if n.Learned != router.LearnedNone {
				tags = append(slices.Clone(tags), router.LearnedCommunity(d.LocalASN, n.Learned, n.IXID))
			}
			std, large, err := router.SortedCommunities(tags)
			if err != nil {
				return nil, fmt.Errorf("%w: neighbor %s: %v", router.ErrInvalid, n.Address, err)
			}
			tag, inCommunity = joinCommunities(large), joinCommunities(std)
			m.learned = learnedPatterns(d.LocalASN)
			learned = m.learned[0]
		}
		m.neighbors = append(m.neighbors, nbModel{
			addr: n.Address,
			id:   neighborID(n.Address),
			spec: peerSpec{
				asn:          n.PeerASN,
				description:  description(n),
				password:     n.Password.Reveal(),
				adminDown:    n.Shutdown,
				passive:      o.Passive,
				remotePort:   uint32(o.PeerPort),
				connectRetry: uint64((retry + time.Second - 1) / time.Second),
				rsClient:     rsClient,
				ipv6:         n.Address.Is6(),
				// GoBGP has no restart after a trip (it holds the
				// neighbor in PFX_CT): MaxPrefixRestart is left to the
				// controller, which calls Clear when it is due.
				maxPrefixes:  n.MaxPrefixes,
				thresholdPct: thresholdPct(n.MaxPrefixes, o.ShutdownThresholdPct),
			},
			prefixes:       gobgpEntries(n.Import),
			bogonSwitch:    bogonSwitch(n.RejectBogonASNs, n.Address.Is6()),
			firstAS:        firstASPatterns(n.EnforceFirstAS, n.PeerASN),
			enforceFirstAS: n.EnforceFirstAS,
			exports:        exports,
			tag:            tag,
			learned:        learned,
			drain:          n.Drain && !rsClient,
			localPref:      n.LocalPref,
			inCommunity:    inCommunity,
			gshutSwitch:    gshutSwitch(!rsClient && !n.IgnoreGracefulShutdown),
		})
	}
	slices.SortFunc(m.neighbors, func(a, b nbModel) int { return a.addr.Compare(b.addr) })
	for _, h := range d.Held {
		hm := heldModel{addr: h.Address, id: neighborID(h.Address)}
		if h.Shutdown != nil {
			down := *h.Shutdown
			hm.shutdown = &down
		}
		m.held = append(m.held, hm)
	}
	slices.SortFunc(m.held, func(a, b heldModel) int { return a.addr.Compare(b.addr) })
	if len(m.neighbors) > 0 {
		m.bogonASNs = bogonASNPatterns
	}
	return m, nil
}

// gshutSwitch matches GRACEFUL_SHUTDOWN when on, nothing when off.
func gshutSwitch(on bool) []string {
	if !on {
		return nil
	}
	return []string{gshutPattern}
}

// bogonSwitch matches every route of the family when on, none when off.
func bogonSwitch(on, v6 bool) []pfx {
	if !on {
		return nil
	}
	if v6 {
		return []pfx{{prefix: netip.MustParsePrefix("::/0"), min: 0, max: 128}}
	}
	return []pfx{{prefix: netip.MustParsePrefix("0.0.0.0/0"), min: 0, max: 32}}
}

// thresholdPct only matters with a limit; GoBGP stores 0 otherwise.
func thresholdPct(limit, pct uint32) uint32 {
	if limit == 0 {
		return 0
	}
	return pct
}

// statement is one policy statement in the driver's fixed shapes.
type statement struct {
	name      string
	prefixSet string // match any entry of this prefix set
	nbSet     string // match this neighbor set
	asPathSet string // match any entry of this AS_PATH set
	asPathInv bool   // ... inverted: match when no entry does
	rpkiInv   bool   // match RPKI validation result "invalid"
	largeSet  string // match any large community of this set
	commSet   string // match any community of this set
	accept    bool   // action: accept (else reject)
	tag       string // action: also add this large community
	localPref uint32 // action: also set this local preference (0: none)
	community string // action: also add this community ("": none)
	// strip: the only action is to remove the large communities matching
	// this expression; evaluation goes on with the next statement.
	strip string
}

func (s statement) String() string {
	var conds []string
	if s.nbSet != "" {
		conds = append(conds, "neighbor-set "+s.nbSet)
	}
	if s.prefixSet != "" {
		conds = append(conds, "prefix-set "+s.prefixSet)
	}
	if s.asPathSet != "" && s.asPathInv {
		conds = append(conds, "not as-path-set "+s.asPathSet)
	} else if s.asPathSet != "" {
		conds = append(conds, "as-path-set "+s.asPathSet)
	}
	if s.rpkiInv {
		conds = append(conds, "rpki invalid")
	}
	if s.largeSet != "" {
		conds = append(conds, "large-community-set "+s.largeSet)
	}
	if s.commSet != "" {
		conds = append(conds, "community-set "+s.commSet)
	}
	if len(conds) == 0 {
		conds = append(conds, "any")
	}
	act := "reject"
	if s.accept {
		act = "accept"
	}
	if s.tag != "" {
		act += ", add large-community " + s.tag
	}
	if s.localPref != 0 {
		act += fmt.Sprintf(", set local-pref %d", s.localPref)
	}
	if s.community != "" {
		act += ", add community " + s.community
	}
	if s.strip != "" {
		act = "remove large-communities " + s.strip + ", go on"
	}
	return fmt.Sprintf("statement %s: if %s then %s", s.name, strings.Join(conds, " and "), act)
}

// statements returns the neighbor's import policy. The shape is fixed (it
// never depends on the filter's content, the RPKI option, the AS path
// checks or honouring GRACEFUL_SHUTDOWN), because GoBGP cannot insert a
// statement into a live policy, only append one, remove one or drop the
// policy whole; what changes lives in sets instead. Without an RTR server
// no route is ever "invalid", so the RPKI statement is inert then; the
// bogon ASN statement is inert while its switch prefix set is empty, the
// first-AS one while its set holds ".*", the gshut one while its switch
// community set is empty (see bogonSwitchName, firstASPatterns,
// gshutSwitchName).
//
//	route-server client (its own import policy, default reject):
//	  rpki invalid -> reject;
//	  bogon switch and as-path-set bogon ASNs -> reject;
//	  not as-path-set first AS -> reject;
//	  prefix-set -> accept
//	ordinary peer (one policy per neighbor in the global import policy,
//	ahead of any policy configured by hand): the same, each statement
//	also matching the neighbor set, with before the accept one
//	large-community-set learned -> remove them, go on, then
//	prefix-set and community-set gshut switch -> accept at
//	drainLocalPref (RFC 8326: the peer is about to go down), the accept
//	ones adding the learned community (tag) and the informational ones,
//	then neighbor -> reject (final)
//
// The strip makes tagging idempotent: GoBGP stores the tagged path back
// into the adj-rib-in whenever its adj-in is listed with filtered paths
// (State does), so a soft reset in would add the tag once more, or keep
// an old one. The tag is an action, not a statement: it changes in place
// (see txn.retag).
func (n nbModel) statements() []statement {
	return n.statementsOf(false)
}

// legacyStatements is an ordinary neighbor's import policy as versions
// before the gshut statement built it: no gshut, the final reject named
// stmtReject. txn.migrateGShut turns it into statements() in place.
func (n nbModel) legacyStatements() []statement {
	return n.statementsOf(true)
}

func (n nbModel) statementsOf(legacy bool) []statement {
	nb := ""
	if !n.spec.rsClient {
		nb = neighborSetName(n.id)
	}
	out := []statement{
		{name: stmtRPKI(n.id), nbSet: nb, rpkiInv: true},
		{name: stmtBogon(n.id), nbSet: nb, prefixSet: bogonSwitchName(n.id), asPathSet: bogonASNSet},
		{name: stmtFirstAS(n.id), nbSet: nb, asPathSet: firstASSetName(n.id), asPathInv: true},
	}
	accept := statement{name: stmtAccept(n.id), nbSet: nb, prefixSet: prefixSetName(n.id), accept: true, tag: n.tag, localPref: n.drainPref(), community: n.inCommunity}
	if n.spec.rsClient {
		return append(out, accept)
	}
	out = append(out, statement{name: stmtStrip(n.id), nbSet: nb, largeSet: learnedSet, strip: n.learned})
	if legacy {
		return append(out, accept, statement{name: stmtReject(n.id), nbSet: nb})
	}
	return append(out, n.gshutStatement(), accept, statement{name: stmtFinal(n.id), nbSet: nb})
}

// gshutStatement accepts what the accept statement would, when it carries
// GRACEFUL_SHUTDOWN and the switch is on, at the lowest preference.
func (n nbModel) gshutStatement() statement {
	return statement{name: stmtGShut(n.id), nbSet: neighborSetName(n.id), prefixSet: prefixSetName(n.id), commSet: gshutSwitchName(n.id),
		accept: true, tag: n.tag, localPref: drainLocalPref, community: n.inCommunity}
}

// exportStatements returns an ordinary neighbor's export policy, which
// goes into the global export policy ahead of any configured by hand. Its
// last statement decides every route for the neighbor, so neither
// gobgpd's default nor a hand-made policy ever applies to it. The shape
// is fixed: an empty export set matches nothing, so an empty Export
// leaves only the rejects.
//
//	neighbor and large-community-set learned -> reject;
//	neighbor and prefix-set export -> accept;
//	neighbor -> reject
func (n nbModel) exportStatements() []statement {
	nb := neighborSetName(n.id)
	return []statement{
		{name: stmtOutLearned(n.id), nbSet: nb, largeSet: learnedSet},
		{name: stmtOutAccept(n.id), nbSet: nb, prefixSet: exportSetName(n.id), accept: true, community: n.drainCommunity()},
		{name: stmtOutReject(n.id), nbSet: nb},
	}
}

// drainPref and drainCommunity are the drain actions of the accept and
// export-accept statements: the local preference an ordinary neighbor's
// routes get (its LocalPref, a drained one's drainLocalPref, a
// route-server client's none), the community added to what it is sent
// ("" when not draining).
func (n nbModel) drainPref() uint32 {
	switch {
	case n.spec.rsClient:
		return 0
	case n.drain:
		return drainLocalPref
	case n.localPref != 0:
		return n.localPref
	}
	return normalLocalPref
}

// joinCommunities is the space-separated list of cs, in the order GoBGP
// keeps and returns them in (as given).
func joinCommunities(cs []router.Community) string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.String()
	}
	return strings.Join(out, " ")
}

func (n nbModel) drainCommunity() string {
	if n.drain {
		return router.GracefulShutdown
	}
	return ""
}

func (n nbModel) neighborSetMember() string {
	return netip.PrefixFrom(n.addr, n.addr.BitLen()).String()
}

// render prints the model. The password is never printed; see Render.
func (m *model) render(o Options) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# GoBGP configuration managed by peering-operator (objects named %q, neighbors described %q)\n", NamePrefix+"*", DescriptionMarker+"owner]")
	fmt.Fprintf(&b, "global as %d router-id %s\n", m.asn, m.routerID)
	for _, s := range m.rpki {
		fmt.Fprintf(&b, "rpki-server %s\n", s)
	}
	if m.bogonASNs != nil {
		fmt.Fprintf(&b, "as-path-set %s (%d entries)\n", bogonASNSet, len(m.bogonASNs))
		for _, e := range m.bogonASNs {
			fmt.Fprintf(&b, "  %s\n", e)
		}
	}
	if m.learned != nil {
		fmt.Fprintf(&b, "large-community-set %s (%d entries)\n", learnedSet, len(m.learned))
		for _, e := range m.learned {
			fmt.Fprintf(&b, "  %s\n", e)
		}
	}
	var ordinary, exports []string
	for _, n := range m.neighbors {
		s := n.spec
		fmt.Fprintf(&b, "\nneighbor %s\n", n.addr)
		fmt.Fprintf(&b, "  peer-as %d\n", s.asn)
		fmt.Fprintf(&b, "  description %q\n", s.description)
		fmt.Fprintf(&b, "  route-server-client %t\n", s.rsClient)
		fmt.Fprintf(&b, "  admin-down %t\n", s.adminDown)
		fmt.Fprintf(&b, "  passive %t\n", s.passive)
		if s.remotePort != 0 {
			fmt.Fprintf(&b, "  remote-port %d\n", s.remotePort)
		}
		fmt.Fprintf(&b, "  connect-retry %ds\n", s.connectRetry)
		fam := "ipv4-unicast"
		if s.ipv6 {
			fam = "ipv6-unicast"
		}
		fmt.Fprintf(&b, "  afi-safi %s\n", fam)
		if s.maxPrefixes > 0 {
			fmt.Fprintf(&b, "    max-prefixes %d shutdown-threshold-pct %d\n", s.maxPrefixes, s.thresholdPct)
		} else {
			fmt.Fprintf(&b, "    max-prefixes none\n")
		}
		if s.password != "" {
			// The digest must not let anyone test password guesses, so
			// only the fact that one is set is rendered.
			fmt.Fprintf(&b, "  auth-password %s\n", router.Secret(s.password))
		}
		fmt.Fprintf(&b, "  prefix-set %s (%d entries)\n", prefixSetName(n.id), len(n.prefixes))
		for _, p := range n.prefixes {
			fmt.Fprintf(&b, "    %s\n", p)
		}
		fmt.Fprintf(&b, "  reject-bogon-asns %t: prefix-set %s (%d entries)\n", len(n.bogonSwitch) > 0, bogonSwitchName(n.id), len(n.bogonSwitch))
		for _, p := range n.bogonSwitch {
			fmt.Fprintf(&b, "    %s\n", p)
		}
		fmt.Fprintf(&b, "  enforce-first-as %t: as-path-set %s %q\n", n.enforceFirstAS, firstASSetName(n.id), n.firstAS)
		if !s.rsClient {
			fmt.Fprintf(&b, "  neighbor-set %s %s\n", neighborSetName(n.id), n.neighborSetMember())
			fmt.Fprintf(&b, "  honour-graceful-shutdown %t: community-set %s %q\n", len(n.gshutSwitch) > 0, gshutSwitchName(n.id), n.gshutSwitch)
			ordinary = append(ordinary, policyName(n.id))
		}
		fmt.Fprintf(&b, "  policy %s\n", policyName(n.id))
		for _, st := range n.statements() {
			fmt.Fprintf(&b, "    %s\n", st)
		}
		if s.rsClient {
			fmt.Fprintf(&b, "  import-policy %s default reject\n", policyName(n.id))
			continue
		}
		fmt.Fprintf(&b, "  export prefix-set %s (%d entries)\n", exportSetName(n.id), len(n.exports))
		for _, p := range n.exports {
			fmt.Fprintf(&b, "    %s\n", p)
		}
		fmt.Fprintf(&b, "  export policy %s\n", exportPolicyName(n.id))
		for _, st := range n.exportStatements() {
			fmt.Fprintf(&b, "    %s\n", st)
		}
		exports = append(exports, exportPolicyName(n.id))
	}
	if len(ordinary) > 0 {
		fmt.Fprintf(&b, "\nglobal import-policy %s (ahead of unmanaged policies; unmanaged default kept)\n", strings.Join(ordinary, " "))
		fmt.Fprintf(&b, "global export-policy %s (ahead of unmanaged policies; unmanaged default kept)\n", strings.Join(exports, " "))
	}
	// Held neighbors are whatever runs; only the fact that they are held
	// and their wanted admin state are part of the desired configuration.
	for i, h := range m.held {
		if i == 0 {
			fmt.Fprintf(&b, "\n# held: left as they run on the router, objects and policy assignments included\n")
		}
		sd := "unchanged"
		if h.shutdown != nil {
			sd = fmt.Sprint(*h.shutdown)
		}
		fmt.Fprintf(&b, "# held %s shutdown=%s\n", h.addr, sd)
	}
	return b.Bytes()
}

// Render returns the configuration the driver with options o would push
// for d, deterministically and without I/O. It validates d first.
func Render(d router.Desired, o Options) ([]byte, error) {
	m, err := buildModel(d, o)
	if err != nil {
		return nil, err
	}
	return m.render(o), nil
}

func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
