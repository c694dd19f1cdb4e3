package frr

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

	"github.com/peering-operator/peering-operator/internal/router/cli"
)

// plan is the list of configuration lines that turns running into desired,
// to be sent inside "configure terminal", and what it does to neighbors.
// lines is the whole plan in its safe order; steps split it into phases.
type plan struct {
	lines                   []string
	steps                   []step
	asn                     uint32
	added, updated, removed int
}

// phase says when Apply sends a line: the bulk goes in one batch, but
// shutdowns and removals go first, one by one, so that no batch failure
// can hold them back; new neighbors are created (shut down) before the
// batch, outside it, because bgpd holds a neighbor created inside the
// markers until the end marker's route-map timer, and a session that only
// comes up after that timer is not re-checked against "maximum-prefix N
// force" for the routes its filter rejected; enabling goes last, after
// the batch is verified.
type phase int

const (
	phaseBatch phase = iota
	phaseUrgent
	phaseCreate
	phaseEnable
)

// step is one line of a plan with the node it belongs to.
type step struct {
	node, line string
	ph         phase
}

// part returns the lines of one phase, in plan order, with the node
// changes they need.
func (p *plan) part(ph phase) []string {
	e := &emitter{asn: p.asn}
	for _, s := range p.steps {
		if s.ph == ph {
			e.at(s.node, s.line)
		}
	}
	return e.done()
}

// only reports whether the plan has no line outside phase ph.
func (p *plan) only(ph phase) bool {
	return !slices.ContainsFunc(p.steps, func(s step) bool { return s.ph != ph })
}

// emitter writes lines and walks FRR's CLI nodes explicitly. vtysh would
// climb out of a node by itself when a command does not exist there, but
// relying on that hides mistakes.
type emitter struct {
	asn   uint32
	path  []string // commands that entered the current node
	lines []string
	steps []step
}

const (
	nodeConfig = ""
	nodeBGP    = "bgp"
)

func nodeAF(f int) string { return "af:" + afName[f] }

func (e *emitter) pathOf(node string) []string {
	bgp := fmt.Sprintf("router bgp %d", e.asn)
	switch {
	case node == nodeConfig:
		return nil
	case node == nodeBGP:
		return []string{bgp}
	case strings.HasPrefix(node, "af:"):
		return []string{bgp, "address-family " + strings.TrimPrefix(node, "af:")}
	default: // a route-map entry: "route-map NAME ACTION SEQ"
		return []string{node}
	}
}

// at emits line in node, entering and leaving nodes as needed.
func (e *emitter) at(node, line string) { e.atIn(node, line, phaseBatch) }

// atIn is at for a line of phase ph.
func (e *emitter) atIn(node, line string, ph phase) {
	if node != nodeConfig || line != "" {
		e.steps = append(e.steps, step{node, line, ph})
	}
	want := e.pathOf(node)
	k := 0
	for k < len(e.path) && k < len(want) && e.path[k] == want[k] {
		k++
	}
	for len(e.path) > k {
		if len(e.path) == 2 {
			e.lines = append(e.lines, "exit-address-family")
		} else {
			e.lines = append(e.lines, "exit")
		}
		e.path = e.path[:len(e.path)-1]
	}
	for _, c := range want[k:] {
		e.lines = append(e.lines, c)
		e.path = append(e.path, c)
	}
	if line != "" {
		e.lines = append(e.lines, line)
	}
}

func (e *emitter) done() []string {
	e.at(nodeConfig, "")
	return e.lines
}

// managed reports whether a running neighbor is the operator's: it has our
// description marker, or no description while its filter objects (which
// are created before the neighbor and deleted after it) exist — a neighbor
// an interrupted apply created.
func managed(have *config, n *neighbor) bool {
	if cli.Managed(n.desc) {
		return true
	}
	a := n.addr
	return n.desc == "" && (have.plists[plistKey(a)] != nil || have.rmaps[filterName(a)] != nil ||
		have.plists[plistKeyOf(a, exportName(a))] != nil || have.rmaps[exportName(a)] != nil)
}

// makePlan computes the lines that make have's managed part equal to want.
// Order keeps every intermediate state safe, so a session that dies at any
// line leaves nothing half-open:
//  1. filters first: new prefix-list entries are added (old ones stay),
//     lists, then the route-maps using them, are created or repaired;
//  2. BGP: neighbors that go away are removed; new neighbors are born
//     shut down ("bgp default shutdown", see below), then get their
//     description (ownership), password, address family, limit, import
//     and export policies, and only then are enabled; changes to
//     existing neighbors are single lines (an out route-map is attached
//     only here, after section 1 created it);
//  3. filter entries and objects no longer used are removed last.
//
// Each line also has a phase (see phase): Apply sends the phases one after
// the other, each in this order. Moving shutdowns and removals first and
// enabling last only makes a prefix safer; creating the neighbors before
// their filters is safe because they are born shut down, and the creation
// journal keeps one left without its description ours.
func makePlan(want, have *config) (*plan, error) {
	if have.asn != 0 && have.asn != want.asn {
		return nil, fmt.Errorf("%w: the router runs router bgp %d, not %d", cli.ErrConflict, have.asn, want.asn)
	}
	// A neighbor created by an apply cut before its description is ours
	// while the creation journal says so.
	creatingJournal := have.rmaps[createJournal] != nil
	for a := range want.nbrs {
		if h := have.nbrs[a]; h != nil && !managed(have, h) && !(creatingJournal && h.desc == "" && h.shutdown) {
			return nil, fmt.Errorf("%w: neighbor %s exists on the router without the %q description marker", cli.ErrConflict, a, cli.Marker)
		}
	}
	p := &plan{}
	e := &emitter{asn: want.asn}
	touched := map[netip.Addr]bool{}

	// New neighbors are born shut down: "bgp default shutdown" is on
	// while they are created. If it is not the router's own setting we
	// turn it on and off around the creations, with a journal object
	// written first, so that an apply cut in between can tell that the
	// setting is ours to undo.
	var creating []netip.Addr
	for _, a := range want.addrs() {
		if have.nbrs[a] == nil {
			creating = append(creating, a)
		}
	}
	haveJournal := have.rmaps[journal] != nil
	ownDefault := have.defaultShutdown && !haveJournal
	toggle := len(creating) > 0 && !ownDefault
	if toggle && !haveJournal {
		e.atIn(journalNode, "", phaseCreate)
	}
	if len(creating) > 0 && !creatingJournal {
		e.atIn(createJournalNode, "", phaseCreate)
	}

	// 0. RTR caches: added, never removed (see router.Desired.RPKI).
	// A cache is one host and port, whatever its preference.
	cache := func(l string) string { return strings.Join(strings.Fields(l)[:4], " ") }
	for _, l := range want.rpki {
		if !slices.ContainsFunc(have.rpki, func(h string) bool { return cache(h) == cache(l) }) {
			e.at("rpki", l)
		}
	}

	// 1. Filters.
	later := &emitter{asn: want.asn} // section 3, appended at the end
	// Large-community lists before the out route-maps matching them: a
	// "deny" entry matching a missing list matches nothing.
	for _, l := range []struct {
		cmd        string
		want, have map[string]*asPathList
	}{{asPathCmd, want.aspaths, have.aspaths}, {lcListCmd, want.lclists, have.lclists}, {cListCmd, want.clists, have.clists}} {
		for _, k := range slices.Sorted(maps.Keys(l.want)) {
			adds, removes := diffASPath(l.cmd, l.want[k], l.have[k])
			for _, x := range adds {
				e.at(nodeConfig, x)
			}
			for _, x := range removes {
				later.at(nodeConfig, x)
			}
			if len(adds)+len(removes) > 0 {
				touched[addrOfObject(k)] = true
			}
		}
	}
	for _, k := range slices.Sorted(maps.Keys(want.plists)) {
		wp, hp := want.plists[k], have.plists[k]
		adds, removes := diffPrefixList(wp, hp)
		for _, l := range adds {
			e.at(nodeConfig, l)
		}
		for _, l := range removes {
			later.at(nodeConfig, l)
		}
		if len(adds)+len(removes) > 0 {
			touched[addrOfObject(wp.name)] = true
		}
	}
	for _, k := range slices.Sorted(maps.Keys(want.rmaps)) {
		if fixRouteMap(e, want.rmaps[k], have.rmaps[k]) {
			touched[addrOfObject(k)] = true
		}
	}

	// 2. BGP.
	if have.asn == 0 && len(want.nbrs) > 0 {
		// No BGP instance yet (a fresh router): create it.
		e.atIn(nodeBGP, "bgp router-id "+want.routerID, phaseCreate)
	}
	for _, a := range have.addrs() {
		if h := have.nbrs[a]; want.nbrs[a] == nil && managed(have, h) {
			e.atIn(nodeBGP, "no neighbor "+a.String(), phaseUrgent)
			p.removed++
		}
	}
	if toggle && !have.defaultShutdown {
		e.atIn(nodeBGP, "bgp default shutdown", phaseCreate)
	}
	for _, a := range creating {
		e.atIn(nodeBGP, "neighbor "+a.String()+" remote-as "+want.nbrs[a].remoteAS, phaseCreate)
	}
	if toggle || (haveJournal && have.defaultShutdown) {
		e.atIn(nodeBGP, "no bgp default shutdown", phaseCreate)
	}
	var fresh []*neighbor
	for _, a := range creating {
		fresh = append(fresh, want.nbrs[a])
	}
	completeNeighbors(e, fresh, have.defaultV4)
	p.added += len(fresh)
	for _, a := range want.addrs() {
		w, h := want.nbrs[a], have.nbrs[a]
		if h == nil {
			continue
		}
		if updateNeighbor(e, w, h) || touched[a] {
			p.updated++
		}
	}

	// 3. Leftovers.
	e.at(nodeConfig, "")
	e.lines = append(e.lines, later.done()...)
	e.steps = append(e.steps, later.steps...)
	// Route-maps before the lists they match. Orphans are counted by
	// neighbor (its in and out objects are one removal), else by name.
	orphans := map[string]bool{}
	orphan := func(name string) {
		if a := addrOfObject(name); a.IsValid() {
			name = a.String()
		}
		orphans[name] = true
	}
	for _, k := range slices.Sorted(maps.Keys(have.rmaps)) {
		if strings.HasPrefix(k, cli.ObjectPrefix) && want.rmaps[k] == nil {
			e.at(nodeConfig, "no route-map "+k)
			orphan(k)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(have.plists)) {
		if hp := have.plists[k]; strings.HasPrefix(hp.name, cli.ObjectPrefix) && want.plists[k] == nil {
			e.at(nodeConfig, "no "+k)
			orphan(hp.name)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(have.aspaths)) {
		if strings.HasPrefix(k, cli.ObjectPrefix) && want.aspaths[k] == nil {
			e.at(nodeConfig, "no "+asPathCmd+k)
			if addrOfObject(k).IsValid() {
				orphan(k)
			}
		}
	}
	for _, l := range []struct {
		cmd        string
		want, have map[string]*asPathList
	}{{lcListCmd, want.lclists, have.lclists}, {cListCmd, want.clists, have.clists}} {
		for _, k := range slices.Sorted(maps.Keys(l.have)) {
			if strings.HasPrefix(k, cli.ObjectPrefix) && l.want[k] == nil {
				e.at(nodeConfig, "no "+l.cmd+k)
			}
		}
	}
	if toggle && !haveJournal {
		e.at(nodeConfig, "no route-map "+journal)
	}
	if len(creating) > 0 && !creatingJournal {
		e.at(nodeConfig, "no route-map "+createJournal)
	}
	// Filters left by a removal that was cut short count as that
	// removal finishing now.
	for k := range orphans {
		if k == journal || k == createJournal {
			continue
		}
		if a, err := netip.ParseAddr(k); err != nil || have.nbrs[a] == nil {
			p.removed++
		}
	}
	p.lines = e.done()
	p.steps, p.asn = e.steps, want.asn
	return p, nil
}

// addrOfObject recovers the neighbor address from a PO-IN-<addr>,
// PO-OUT-<addr> or PO-FIRST-<addr> name.
func addrOfObject(name string) netip.Addr {
	s := strings.TrimPrefix(name, cli.ObjectPrefix)
	_, s, _ = strings.Cut(s, "-")
	a, _ := netip.ParseAddr(s)
	return a
}

// diffASPath is diffPrefixList for as-path (or, with cmd lcListCmd,
// large-community) lists.
func diffASPath(cmd string, want, have *asPathList) (adds, removes []string) {
	keep := map[string]bool{}
	var maxSeq int64
	if have != nil {
		for _, seq := range sortedSeqs(have.entries) {
			maxSeq = max(maxSeq, seq)
		}
	}
	wanted := map[string]bool{}
	for _, e := range want.entries {
		wanted[e] = true
	}
	if have != nil {
		for _, seq := range sortedSeqs(have.entries) {
			e := have.entries[seq]
			if wanted[e] && !keep[e] {
				keep[e] = true
				continue
			}
			removes = append(removes, fmt.Sprintf("no %s%s seq %d %s", cmd, have.name, seq, e))
		}
	}
	seq := (maxSeq/5 + 1) * 5
	for _, s := range sortedSeqs(want.entries) {
		if e := want.entries[s]; !keep[e] {
			adds = append(adds, fmt.Sprintf("%s%s seq %d %s", cmd, want.name, seq, e))
			seq += 5
		}
	}
	return adds, removes
}

// diffPrefixList returns the lines adding want's missing entries (numbered
// after every existing one, so they never replace an entry in place) and
// the lines removing running entries want does not have.
func diffPrefixList(want, have *prefixList) (adds, removes []string) {
	haveKeys := map[string]bool{}
	var maxSeq int64
	if have != nil {
		for _, e := range have.entries {
			maxSeq = max(maxSeq, e.seq)
		}
	}
	wantKeys := map[string]bool{}
	for _, e := range want.entries {
		wantKeys[e.key()] = true
	}
	if have != nil {
		entries := slices.Clone(have.entries)
		slices.SortFunc(entries, func(a, b plEntry) int { return int(a.seq - b.seq) })
		for _, e := range entries {
			k := e.key()
			if wantKeys[k] && !haveKeys[k] {
				haveKeys[k] = true
				continue
			}
			// Unwanted, or a duplicate of an entry we keep.
			removes = append(removes, fmt.Sprintf("no %s seq %d", have.cmd(), e.seq))
		}
	}
	seq := (maxSeq/5 + 1) * 5
	for _, e := range want.entries {
		if haveKeys[e.key()] {
			continue
		}
		adds = append(adds, fmt.Sprintf("%s seq %d %s", want.cmd(), seq, e.key()))
		seq += 5
	}
	return adds, removes
}

// fixRouteMap emits what makes have's route-map equal to want's; it
// reports whether anything was needed.
func fixRouteMap(e *emitter, want, have *routeMap) bool {
	changed := false
	wantSeq := map[int64]rmEntry{}
	for _, w := range want.entries {
		wantSeq[w.seq] = w
	}
	haveSeq := map[int64]rmEntry{}
	if have != nil {
		for _, h := range have.entries {
			if w, ok := wantSeq[h.seq]; ok && w.action == h.action {
				haveSeq[h.seq] = h
				continue
			}
			// An entry we did not write could permit anything: drop it
			// before the neighbor uses the map.
			e.at(nodeConfig, fmt.Sprintf("no route-map %s %s %d", have.name, h.action, h.seq))
			changed = true
		}
	}
	for _, w := range want.entries {
		node := fmt.Sprintf("route-map %s %s %d", want.name, w.action, w.seq)
		h, ok := haveSeq[w.seq]
		if !ok {
			e.at(node, "")
			for _, l := range w.lines {
				e.at(node, l)
			}
			changed = true
			continue
		}
		for _, l := range h.lines {
			if !slices.Contains(w.lines, l) && !replacedBy(l, w.lines) {
				e.at(node, "no "+l)
				changed = true
			}
		}
		for _, l := range w.lines {
			if !slices.Contains(h.lines, l) {
				e.at(node, l)
				changed = true
			}
		}
	}
	return changed
}

// replacedBy reports whether a route-map line is overwritten in place by
// one of lines: FRR keeps one "set large-community", "set community" and
// "set local-preference" per entry, and removing the old one first would
// let routes in untagged (or at the default preference) meanwhile.
func replacedBy(l string, lines []string) bool {
	for _, set := range []string{"set large-community ", "set community ", "set local-preference "} {
		if strings.HasPrefix(l, set) {
			return slices.ContainsFunc(lines, func(w string) bool { return strings.HasPrefix(w, set) })
		}
	}
	return false
}

// journal is the route-map entry that records "bgp default shutdown was
// turned on by the operator"; it never matches anything (no neighbor uses
// it).
const journal = cli.ObjectPrefix + "TXN-DEFAULT-SHUTDOWN"

var journalNode = "route-map " + journal + " deny 1"

// createJournal records "neighbors are being created": it exists from
// before the first "neighbor X remote-as" of an apply until the batch
// that gives them their description, so that a neighbor left without one
// by a cut apply is still known as ours (see makePlan).
const createJournal = cli.ObjectPrefix + "CREATING"

var createJournalNode = "route-map " + createJournal + " deny 1"

// completeNeighbors configures neighbors just created (born shut down):
// description (ownership) and password, then address families, limit,
// import and export policies, and only then enables them. Each step is
// done for all of them at once: one address-family node per family
// instead of one per neighbor, each entry of which costs a line.
func completeNeighbors(e *emitter, ws []*neighbor, defaultV4 bool) {
	for _, w := range ws {
		e.at(nodeBGP, "neighbor "+w.addr.String()+" description "+w.desc)
		if w.password != "" {
			e.at(nodeBGP, "neighbor "+w.addr.String()+" password "+w.password)
		}
	}
	for f := range afName {
		for _, w := range ws {
			for _, l := range afLines(w, f, defaultV4) {
				e.at(nodeAF(f), l)
			}
		}
	}
	for _, w := range ws {
		if !w.shutdown {
			e.atIn(nodeBGP, "no neighbor "+w.addr.String()+" shutdown", phaseEnable)
		}
	}
}

// updateNeighbor emits single-line changes to an existing neighbor; a
// neighbor being shut down is shut first, one being enabled is enabled
// last. It reports whether anything was needed.
func updateNeighbor(e *emitter, w, h *neighbor) bool {
	n0 := len(e.lines)
	p := "neighbor " + w.addr.String() + " "
	if w.shutdown && !h.shutdown {
		e.atIn(nodeBGP, p+"shutdown", phaseUrgent)
	}
	if w.remoteAS != h.remoteAS {
		e.at(nodeBGP, p+"remote-as "+w.remoteAS)
	}
	if w.desc != h.desc {
		e.at(nodeBGP, p+"description "+w.desc)
	}
	if w.password != h.password {
		if w.password == "" {
			e.at(nodeBGP, "no "+p+"password")
		} else {
			e.at(nodeBGP, p+"password "+w.password)
		}
	}
	for f := range afName {
		wa, ha := w.af[f], h.af[f]
		node := nodeAF(f)
		if !wa.active {
			if ha.active {
				e.at(node, "no "+p+"activate")
			}
			continue
		}
		if !ha.active {
			e.at(node, p+"activate")
		}
		if wa.softIn != ha.softIn {
			e.at(node, neg(!wa.softIn)+p+"soft-reconfiguration inbound")
		}
		if wa.maxPrefix != ha.maxPrefix {
			if wa.maxPrefix == "" {
				e.at(node, "no "+p+"maximum-prefix")
			} else {
				e.at(node, p+"maximum-prefix "+wa.maxPrefix)
			}
		}
		if wa.rsClient != ha.rsClient {
			e.at(node, neg(!wa.rsClient)+p+"route-server-client")
		}
		if wa.routeMapIn != ha.routeMapIn {
			e.at(node, p+"route-map "+wa.routeMapIn+" in")
		}
		switch {
		case wa.routeMapOut == ha.routeMapOut:
		case wa.routeMapOut != "":
			e.at(node, p+"route-map "+wa.routeMapOut+" out")
		case strings.HasPrefix(ha.routeMapOut, cli.ObjectPrefix):
			// Ours, from before it became a route-server client; one
			// set by hand stays.
			e.at(node, "no "+p+"route-map "+ha.routeMapOut+" out")
		}
	}
	if !w.shutdown && h.shutdown {
		e.atIn(nodeBGP, "no "+p+"shutdown", phaseEnable)
	}
	return len(e.lines) > n0
}

func neg(no bool) string {
	if no {
		return "no "
	}
	return ""
}
