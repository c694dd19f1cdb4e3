package gobgp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	api "github.com/osrg/gobgp/v3/api"

	"github.com/peering-operator/peering-operator/internal/router"
)

// globalRIB is GoBGP's name for the global table in policy assignments.
const globalRIB = "global"

// ErrConflict marks a desired neighbor that exists on the router without
// the operator's marker: it is left alone and nothing is written.
var ErrConflict = errors.New("neighbor exists on the router but is not managed by peering-operator")

// running is what gobgpd has now. Only objects with our marks are kept,
// except peers (to detect conflicts) and the global import and export
// assignments (to keep unmanaged policies in them).
type running struct {
	global       *api.Global
	peers        map[netip.Addr]*api.Peer
	prefixSets   map[string]*api.DefinedSet
	nbSets       map[string]*api.DefinedSet
	asPathSets   map[string]*api.DefinedSet
	lcSets       map[string]*api.DefinedSet // large community sets
	commSets     map[string]*api.DefinedSet // community sets
	policies     map[string]*api.Policy
	statements   map[string]bool
	globalImport *api.PolicyAssignment
	globalExport *api.PolicyAssignment
	rsImport     map[string]*api.PolicyAssignment
	// rsExport: route-server clients' export assignments, which the
	// driver never sets but must hand back when it re-adds a held one.
	rsExport map[string]*api.PolicyAssignment
	rpki     map[string]bool
	// vrps sums up what the RTR servers hold (see revalidate).
	vrps string
	// bogonSetForeign: a policy configured by hand uses bogonASNSet, so
	// it stays when the driver no longer needs it (GoBGP would refuse to
	// delete it anyway).
	bogonSetForeign bool
	// learnedSetForeign: the same for learnedSet.
	learnedSetForeign bool
}

func isOwnedPeer(p *api.Peer) bool {
	return strings.HasPrefix(p.GetConf().GetDescription(), DescriptionMarker)
}

type recv[T any] interface{ Recv() (*T, error) }

// recvAll drains a server stream.
func recvAll[T any](s recv[T], err error) ([]*T, error) {
	if err != nil {
		return nil, err
	}
	var out []*T
	for {
		m, err := s.Recv()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
}

func (d *Driver) listPeers(ctx context.Context, addr string) ([]*api.Peer, error) {
	rs, err := recvAll(d.client.ListPeer(ctx, &api.ListPeerRequest{Address: addr}))
	if err != nil {
		return nil, err
	}
	out := make([]*api.Peer, 0, len(rs))
	for _, r := range rs {
		out = append(out, r.Peer)
	}
	return out, nil
}

func (d *Driver) readRunning(ctx context.Context) (*running, error) {
	r := &running{
		peers: map[netip.Addr]*api.Peer{}, prefixSets: map[string]*api.DefinedSet{}, nbSets: map[string]*api.DefinedSet{}, asPathSets: map[string]*api.DefinedSet{},
		lcSets: map[string]*api.DefinedSet{}, commSets: map[string]*api.DefinedSet{},
		policies: map[string]*api.Policy{}, statements: map[string]bool{}, rsImport: map[string]*api.PolicyAssignment{}, rsExport: map[string]*api.PolicyAssignment{},
		rpki: map[string]bool{},
	}
	g, err := d.client.GetBgp(ctx, &api.GetBgpRequest{})
	if err != nil {
		return nil, fmt.Errorf("GetBgp: %w", err)
	}
	r.global = g.Global
	if r.global.GetAsn() == 0 {
		return r, nil // BGP not started: nothing else exists
	}
	peers, err := d.listPeers(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("ListPeer: %w", err)
	}
	for _, p := range peers {
		if a, err := netip.ParseAddr(p.GetConf().GetNeighborAddress()); err == nil {
			r.peers[a] = p
		}
	}
	for typ, into := range map[api.DefinedType]map[string]*api.DefinedSet{api.DefinedType_PREFIX: r.prefixSets, api.DefinedType_NEIGHBOR: r.nbSets, api.DefinedType_AS_PATH: r.asPathSets, api.DefinedType_LARGE_COMMUNITY: r.lcSets, api.DefinedType_COMMUNITY: r.commSets} {
		sets, err := recvAll(d.client.ListDefinedSet(ctx, &api.ListDefinedSetRequest{DefinedType: typ}))
		if err != nil {
			return nil, fmt.Errorf("ListDefinedSet: %w", err)
		}
		for _, s := range sets {
			if owned(s.DefinedSet.GetName()) {
				into[s.DefinedSet.Name] = s.DefinedSet
			}
		}
	}
	pols, err := recvAll(d.client.ListPolicy(ctx, &api.ListPolicyRequest{}))
	if err != nil {
		return nil, fmt.Errorf("ListPolicy: %w", err)
	}
	for _, p := range pols {
		if owned(p.Policy.GetName()) {
			r.policies[p.Policy.Name] = p.Policy
			continue
		}
		for _, s := range p.Policy.GetStatements() {
			if s.GetConditions().GetAsPathSet().GetName() == bogonASNSet {
				r.bogonSetForeign = true
			}
			if s.GetConditions().GetLargeCommunitySet().GetName() == learnedSet {
				r.learnedSetForeign = true
			}
		}
	}
	stmts, err := recvAll(d.client.ListStatement(ctx, &api.ListStatementRequest{}))
	if err != nil {
		return nil, fmt.Errorf("ListStatement: %w", err)
	}
	for _, s := range stmts {
		if owned(s.Statement.GetName()) {
			r.statements[s.Statement.Name] = true
		}
	}
	// Both directions in one call (UNKNOWN lists import and export).
	as, err := recvAll(d.client.ListPolicyAssignment(ctx, &api.ListPolicyAssignmentRequest{}))
	if err != nil {
		return nil, fmt.Errorf("ListPolicyAssignment: %w", err)
	}
	for _, a := range as {
		name, imp := a.Assignment.GetName(), a.Assignment.GetDirection() == api.PolicyDirection_IMPORT
		switch {
		case name == globalRIB && imp:
			r.globalImport = a.Assignment
		case name == globalRIB:
			if a.Assignment.GetDirection() == api.PolicyDirection_EXPORT {
				r.globalExport = a.Assignment
			}
		case imp:
			r.rsImport[name] = a.Assignment
		case a.Assignment.GetDirection() == api.PolicyDirection_EXPORT:
			r.rsExport[name] = a.Assignment
		}
	}
	rs, err := recvAll(d.client.ListRpki(ctx, &api.ListRpkiRequest{}))
	if err != nil {
		return nil, fmt.Errorf("ListRpki: %w", err)
	}
	var vrps []string
	for _, s := range rs {
		addr := net.JoinHostPort(s.Server.GetConf().GetAddress(), strconv.Itoa(int(s.Server.GetConf().GetRemotePort())))
		r.rpki[addr] = true
		st := s.Server.GetState()
		vrps = append(vrps, fmt.Sprintf("%s up=%t serial=%d v4=%d v6=%d", addr, st.GetUp(), st.GetSerial(), st.GetRecordIpv4(), st.GetRecordIpv6()))
	}
	slices.Sort(vrps)
	r.vrps = strings.Join(vrps, "; ")
	return r, nil
}

// specOf reads back the fields the driver sets.
func specOf(p *api.Peer) peerSpec {
	s := peerSpec{
		asn:          p.GetConf().GetPeerAsn(),
		description:  p.GetConf().GetDescription(),
		password:     p.GetConf().GetAuthPassword(),
		adminDown:    p.GetConf().GetAdminDown(),
		passive:      p.GetTransport().GetPassiveMode(),
		remotePort:   p.GetTransport().GetRemotePort(),
		connectRetry: p.GetTimers().GetConfig().GetConnectRetry(),
		rsClient:     p.GetRouteServer().GetRouteServerClient(),
	}
	for _, a := range p.AfiSafis {
		if a.GetConfig().GetFamily().GetAfi() == api.Family_AFI_IP6 {
			s.ipv6 = true
		}
		if l := a.GetPrefixLimits(); l != nil {
			s.maxPrefixes, s.thresholdPct = l.MaxPrefixes, l.ShutdownThresholdPct
		}
	}
	if len(p.AfiSafis) != 1 {
		s.ipv6 = !s.ipv6 // more than one family (not ours): never equal
	}
	return s
}

func apiFamily(v6 bool) *api.Family {
	if v6 {
		return &api.Family{Afi: api.Family_AFI_IP6, Safi: api.Family_SAFI_UNICAST}
	}
	return &api.Family{Afi: api.Family_AFI_IP, Safi: api.Family_SAFI_UNICAST}
}

// apiPeer builds the AddPeer/UpdatePeer message for addr with spec s.
// A route-server client carries its import policy here, so it never
// exists without its filter, and UpdatePeer keeps it (GoBGP re-applies
// the peer's ApplyPolicy on UpdatePeer when it differs).
func apiPeer(addr netip.Addr, id string, s peerSpec) *api.Peer {
	fam := apiFamily(s.ipv6)
	as := &api.AfiSafi{Config: &api.AfiSafiConfig{Family: fam, Enabled: true}}
	if s.maxPrefixes > 0 {
		as.PrefixLimits = &api.PrefixLimit{Family: fam, MaxPrefixes: s.maxPrefixes, ShutdownThresholdPct: s.thresholdPct}
	}
	p := &api.Peer{
		Conf: &api.PeerConf{
			NeighborAddress: addr.String(),
			PeerAsn:         s.asn,
			Description:     s.description,
			AuthPassword:    s.password,
			AdminDown:       s.adminDown,
		},
		Transport:   &api.Transport{PassiveMode: s.passive, RemotePort: s.remotePort},
		Timers:      &api.Timers{Config: &api.TimersConfig{ConnectRetry: s.connectRetry}},
		RouteServer: &api.RouteServer{RouteServerClient: s.rsClient},
		AfiSafis:    []*api.AfiSafi{as},
	}
	if s.rsClient {
		p.ApplyPolicy = &api.ApplyPolicy{ImportPolicy: rsAssignment(addr, id)}
	}
	return p
}

// heldPeer is the UpdatePeer message that sets a held neighbor's admin
// state and nothing else. GoBGP re-adds a neighbor whose admin state
// changes and assigns it the message's policies, so the message carries
// the running settings (every address family, not only the driver's one)
// and the policy assignments in force (see liveAssignment).
func heldPeer(addr netip.Addr, rp *api.Peer, r *running, adminDown bool) *api.Peer {
	s := specOf(rp)
	s.adminDown = adminDown
	p := apiPeer(addr, neighborID(addr), s)
	p.AfiSafis = nil
	for _, a := range rp.GetAfiSafis() {
		f := a.GetConfig().GetFamily()
		fam := &api.Family{Afi: f.GetAfi(), Safi: f.GetSafi()}
		as := &api.AfiSafi{Config: &api.AfiSafiConfig{Family: fam, Enabled: a.GetConfig().GetEnabled()}}
		if l := a.GetPrefixLimits(); l.GetMaxPrefixes() > 0 {
			as.PrefixLimits = &api.PrefixLimit{Family: fam, MaxPrefixes: l.MaxPrefixes, ShutdownThresholdPct: l.ShutdownThresholdPct}
		}
		p.AfiSafis = append(p.AfiSafis, as)
	}
	ap := rp.GetApplyPolicy()
	p.ApplyPolicy = &api.ApplyPolicy{ImportPolicy: policyNames(ap.GetImportPolicy()), ExportPolicy: policyNames(ap.GetExportPolicy())}
	if s.rsClient {
		// Only a route-server client's assignments can be listed.
		p.ApplyPolicy.ImportPolicy = liveAssignment(ap.GetImportPolicy(), r.rsImport[addr.String()])
		p.ApplyPolicy.ExportPolicy = liveAssignment(ap.GetExportPolicy(), r.rsExport[addr.String()])
	}
	return p
}

// liveAssignment picks what to hand back for one direction: the
// neighbor's configured assignment (ListPeer) while GoBGP's policy table
// holds what that makes (a configured default other than reject becomes
// accept), so the neighbor reads back the same; else the table's, which
// a SetPolicyAssignment changed since (ListPeer does not show those).
func liveAssignment(conf, table *api.PolicyAssignment) *api.PolicyAssignment {
	if table == nil {
		return policyNames(conf)
	}
	made := api.RouteAction_ACCEPT
	if conf.GetDefaultAction() == api.RouteAction_REJECT {
		made = api.RouteAction_REJECT
	}
	if table.DefaultAction == made && slices.Equal(assigned(conf), assigned(table)) {
		return policyNames(conf)
	}
	return policyNames(table)
}

func assigned(a *api.PolicyAssignment) []string {
	var out []string
	for _, p := range a.GetPolicies() {
		out = append(out, p.GetName())
	}
	return out
}

// policyNames copies an assignment by policy name (all UpdatePeer reads).
func policyNames(a *api.PolicyAssignment) *api.PolicyAssignment {
	if a == nil {
		return nil
	}
	c := &api.PolicyAssignment{Name: a.Name, Direction: a.Direction, DefaultAction: a.DefaultAction}
	for _, p := range a.Policies {
		c.Policies = append(c.Policies, &api.Policy{Name: p.GetName()})
	}
	return c
}

func rsAssignment(addr netip.Addr, id string) *api.PolicyAssignment {
	return &api.PolicyAssignment{
		Name: addr.String(), Direction: api.PolicyDirection_IMPORT,
		Policies: []*api.Policy{{Name: policyName(id)}}, DefaultAction: api.RouteAction_REJECT,
	}
}

func apiPrefixes(ps []pfx) []*api.Prefix {
	out := make([]*api.Prefix, 0, len(ps))
	for _, p := range ps {
		out = append(out, &api.Prefix{IpPrefix: p.prefix.String(), MaskLengthMin: uint32(p.min), MaskLengthMax: uint32(p.max)})
	}
	return out
}

// apiPolicy is the neighbor's import policy, apiExportPolicy an ordinary
// neighbor's export policy.
func apiPolicy(n nbModel) *api.Policy { return apiPolicyOf(policyName(n.id), n.statements()) }

func apiExportPolicy(n nbModel) *api.Policy {
	return apiPolicyOf(exportPolicyName(n.id), n.exportStatements())
}

func apiPolicyOf(name string, stmts []statement) *api.Policy {
	p := &api.Policy{Name: name}
	for _, s := range stmts {
		c := &api.Conditions{}
		if s.prefixSet != "" {
			c.PrefixSet = &api.MatchSet{Type: api.MatchSet_ANY, Name: s.prefixSet}
		}
		if s.nbSet != "" {
			c.NeighborSet = &api.MatchSet{Type: api.MatchSet_ANY, Name: s.nbSet}
		}
		if s.asPathSet != "" {
			c.AsPathSet = &api.MatchSet{Type: api.MatchSet_ANY, Name: s.asPathSet}
			if s.asPathInv {
				c.AsPathSet.Type = api.MatchSet_INVERT
			}
		}
		if s.rpkiInv {
			c.RpkiResult = int32(api.Validation_STATE_INVALID)
		}
		if s.largeSet != "" {
			c.LargeCommunitySet = &api.MatchSet{Type: api.MatchSet_ANY, Name: s.largeSet}
		}
		if s.commSet != "" {
			c.CommunitySet = &api.MatchSet{Type: api.MatchSet_ANY, Name: s.commSet}
		}
		a := &api.Actions{RouteAction: api.RouteAction_REJECT, LargeCommunity: tagAction(s.tag),
			LocalPref: localPrefAction(s.localPref), Community: communityAction(s.community)}
		if s.accept {
			a.RouteAction = api.RouteAction_ACCEPT
		}
		if s.strip != "" {
			a = &api.Actions{LargeCommunity: &api.CommunityAction{Type: api.CommunityAction_REMOVE, Communities: []string{s.strip}}}
		}
		p.Statements = append(p.Statements, &api.Statement{Name: s.name, Conditions: c, Actions: a})
	}
	return p
}

// tagAction adds one large community, or is nil for none.
func tagAction(tag string) *api.CommunityAction {
	if tag == "" {
		return nil
	}
	return &api.CommunityAction{Type: api.CommunityAction_ADD, Communities: strings.Fields(tag)}
}

// localPrefAction sets the local preference, or is nil for none.
func localPrefAction(v uint32) *api.LocalPrefAction {
	if v == 0 {
		return nil
	}
	return &api.LocalPrefAction{Value: v}
}

// communityAction adds the space-separated communities c, or is nil for
// none.
func communityAction(c string) *api.CommunityAction {
	if c == "" {
		return nil
	}
	return &api.CommunityAction{Type: api.CommunityAction_ADD, Communities: strings.Fields(c)}
}

// policySignature reads a running policy back into the driver's
// statement shape; conditions or actions the driver never sets make it
// differ.
func policySignature(p *api.Policy) []statement {
	var out []statement
	for _, s := range p.GetStatements() {
		st := statement{name: s.GetName()}
		c := s.GetConditions()
		if ps := c.GetPrefixSet(); ps != nil && ps.Name != "" {
			st.prefixSet = ps.Name
			if ps.Type != api.MatchSet_ANY {
				st.prefixSet += "!"
			}
		}
		if ns := c.GetNeighborSet(); ns != nil && ns.Name != "" {
			st.nbSet = ns.Name
			if ns.Type != api.MatchSet_ANY {
				st.nbSet += "!"
			}
		}
		if as := c.GetAsPathSet(); as != nil && as.Name != "" {
			st.asPathSet = as.Name
			switch as.Type {
			case api.MatchSet_ANY:
			case api.MatchSet_INVERT:
				st.asPathInv = true
			default:
				st.asPathSet += "!"
			}
		}
		// GoBGP reads an unset RPKI condition back as -1.
		switch c.GetRpkiResult() {
		case int32(api.Validation_STATE_INVALID):
			st.rpkiInv = true
		case -1, 0:
		default:
			st.name += "!"
		}
		if ls := c.GetLargeCommunitySet(); ls != nil && ls.Name != "" {
			st.largeSet = ls.Name
			if ls.Type != api.MatchSet_ANY {
				st.largeSet += "!"
			}
		}
		if cs := c.GetCommunitySet(); cs != nil && cs.Name != "" {
			st.commSet = cs.Name
			if cs.Type != api.MatchSet_ANY {
				st.commSet += "!"
			}
		}
		if c.GetExtCommunitySet() != nil || c.GetCommunityCount() != nil || c.GetAsPathLength() != nil ||
			len(c.GetNextHopInList()) > 0 || c.GetRouteType() != api.Conditions_ROUTE_TYPE_NONE || len(c.GetAfiSafiIn()) > 0 {
			st.name += "!"
		}
		a := s.GetActions()
		st.accept = a.GetRouteAction() == api.RouteAction_ACCEPT
		if a.GetExtCommunity() != nil || a.GetMed() != nil || a.GetAsPrepend() != nil || a.GetNexthop() != nil || a.GetOriginAction() != nil {
			st.name += "!"
		}
		st.localPref = a.GetLocalPref().GetValue()
		if c := a.GetCommunity(); c != nil {
			if c.Type != api.CommunityAction_ADD || len(c.Communities) == 0 {
				st.name += "!"
			} else {
				st.community = strings.Join(c.Communities, " ")
			}
		}
		// Either a route action, with or without one community added, or
		// no route action and removing communities (the strip).
		lc := a.GetLargeCommunity()
		switch {
		case lc != nil && len(lc.Communities) == 0:
			st.name += "!"
		case a.GetRouteAction() == api.RouteAction_NONE && lc != nil && lc.Type == api.CommunityAction_REMOVE && len(lc.Communities) == 1:
			st.strip = lc.Communities[0]
		case a.GetRouteAction() == api.RouteAction_NONE:
			st.name += "!"
		case lc != nil && lc.Type == api.CommunityAction_ADD:
			st.tag = strings.Join(lc.Communities, " ")
		case lc != nil:
			st.name += "!"
		}
		out = append(out, st)
	}
	return out
}

func runningPrefixes(s *api.DefinedSet) map[pfx]bool {
	out := map[pfx]bool{}
	for _, p := range s.GetPrefixes() {
		pp, err := netip.ParsePrefix(p.IpPrefix)
		if err != nil {
			continue
		}
		out[pfx{prefix: pp.Masked(), min: int(p.MaskLengthMin), max: int(p.MaskLengthMax)}] = true
	}
	return out
}

// update is a change to a neighbor that stays.
type update struct {
	n            nbModel
	old          peerSpec
	peer         bool  // UpdatePeer
	add, del     []pfx // the import filter's prefix set
	bgAdd, bgDel []pfx // the bogon switch
	faAdd, faDel []string
	gsAdd, gsDel []string // the gshut switch (ordinary neighbors)
	assign       bool     // route-server client's import assignment is wrong
	was          inPlace  // the in-place actions now (see txn.retag, txn.redrain)
	reset        bool     // soft reset in after a filter change (session is up)
	// exAdd, exDel: the export set's entries (ordinary neighbors).
	exAdd, exDel []pfx
	// out: soft reset out (session up, the export changed). narrows: the
	// neighbor may have been sent routes the new export denies; execute
	// looks (txn.mustRetract) and resets the session hard if so.
	out, narrows bool
	hard         bool // set by execute
}

func (u *update) setsChange() bool {
	return len(u.add)+len(u.del)+len(u.bgAdd)+len(u.bgDel)+len(u.faAdd)+len(u.faDel) > 0
}

func (u *update) exportChange() bool { return len(u.exAdd)+len(u.exDel) > 0 }

// drainChange: a drain starts or ends (see txn.redrain).
func (u *update) drainChange() bool {
	return u.was.localPref != u.n.drainPref() || u.was.community != u.n.drainCommunity() || u.was.inCommunity != u.n.inCommunity
}

// adminChange is the one change a held neighbor takes.
type adminChange struct {
	addr      netip.Addr
	down      bool
	set, undo *api.Peer // UpdatePeer messages (see heldPeer)
}

// plan is the difference between the model and gobgpd.
type plan struct {
	startBGP bool
	addRPKI  []string // RTR servers to add (never removed: see router.Desired.RPKI)
	// revalidate: neighbors to soft reset in because the VRPs changed.
	revalidate []netip.Addr
	// deletePeers: owned neighbors not desired, or replaced (a mode change
	// or a policy edited by hand: removed and added back).
	deletePeers []netip.Addr
	adds        []nbModel
	updates     []update
	// admin: held neighbors whose admin state changes.
	admin []adminChange
	// cleanBefore: IDs whose leftover objects must go before adds create
	// them again; cleanAfter: IDs of removed neighbors and orphans.
	cleanBefore, cleanAfter []string
	// globalBefore is set when leftovers to clean are still in the global
	// import policy; globalAfter is the final global import policy list.
	globalBefore, globalAfter []string
	globalChange              bool
	globalDefault             api.RouteAction
	// The same for the global export policy.
	exportBefore, exportAfter []string
	exportChange              bool
	exportDefault             api.RouteAction
	// The shared bogon ASN set: created before any policy that uses it,
	// edited in place, deleted after the last policy that used it.
	bogonCreate, bogonDelete bool
	bogonAdd, bogonDel       []string
	// The shared learnedSet, likewise.
	learnedCreate, learnedDelete bool
	learnedAdd, learnedDel       []string

	added, updated, removed int
}

func (p *plan) empty() bool {
	return !p.startBGP && len(p.addRPKI) == 0 && len(p.revalidate) == 0 && len(p.deletePeers) == 0 && len(p.adds) == 0 && len(p.updates) == 0 && len(p.admin) == 0 &&
		len(p.cleanBefore) == 0 && len(p.cleanAfter) == 0 && p.globalBefore == nil && !p.globalChange &&
		p.exportBefore == nil && !p.exportChange &&
		!p.bogonCreate && !p.bogonDelete && len(p.bogonAdd)+len(p.bogonDel) == 0 &&
		!p.learnedCreate && !p.learnedDelete && len(p.learnedAdd)+len(p.learnedDel) == 0
}

// diffPrefixes returns the entries to add to have and to delete from it
// to make it want.
func diffPrefixes(want []pfx, have map[pfx]bool) (add, del []pfx) {
	w := map[pfx]bool{}
	for _, e := range want {
		w[e] = true
		if !have[e] {
			add = append(add, e)
		}
	}
	for e := range have {
		if !w[e] {
			del = append(del, e)
		}
	}
	slices.SortFunc(del, func(a, b pfx) int {
		if c := comparePrefix(a.prefix, b.prefix); c != 0 {
			return c
		}
		return a.min - b.min
	})
	return add, del
}

// diffStrings is diffPrefixes for AS_PATH set entries.
func diffStrings(want, have []string) (add, del []string) {
	for _, e := range want {
		if !slices.Contains(have, e) && !slices.Contains(add, e) {
			add = append(add, e)
		}
	}
	for _, e := range have {
		if !slices.Contains(want, e) && !slices.Contains(del, e) {
			del = append(del, e)
		}
	}
	slices.Sort(del)
	return add, del
}

// makePlan diffs (pure).
func makePlan(m *model, r *running) (*plan, error) {
	p := &plan{}
	if r.global.GetAsn() == 0 {
		p.startBGP = true
	} else if r.global.Asn != m.asn || r.global.RouterId != m.routerID.String() {
		return nil, fmt.Errorf("%w: gobgpd runs AS %d router-id %s, desired AS %d router-id %s; GoBGP changes its global settings only by restarting BGP",
			router.ErrInvalid, r.global.Asn, r.global.RouterId, m.asn, m.routerID)
	}
	for _, s := range m.rpki {
		if !r.rpki[s] {
			p.addRPKI = append(p.addRPKI, s)
		}
	}
	desired := map[string]bool{}
	for _, n := range m.neighbors {
		desired[n.id] = true
		if rp, ok := r.peers[n.addr]; ok && !isOwnedPeer(rp) {
			return nil, fmt.Errorf("%w: %s (description %q)", ErrConflict, n.addr, rp.GetConf().GetDescription())
		}
	}
	// Held neighbors: nothing of theirs is deleted, cleaned up or created,
	// whether the neighbor runs or only its objects are left. One that
	// runs unmanaged is not ours to change at all (no conflict either:
	// nothing is written to it).
	held := map[string]bool{}
	heldBogons := false  // a held neighbor's running policy uses bogonASNSet
	heldLearned := false // ... or learnedSet
	for _, h := range m.held {
		held[h.id] = true
		for _, s := range r.policies[policyName(h.id)].GetStatements() {
			heldBogons = heldBogons || s.GetConditions().GetAsPathSet().GetName() == bogonASNSet
		}
		for _, s := range r.policies[exportPolicyName(h.id)].GetStatements() {
			heldLearned = heldLearned || s.GetConditions().GetLargeCommunitySet().GetName() == learnedSet
		}
		rp, ok := r.peers[h.addr]
		if !ok || !isOwnedPeer(rp) || h.shutdown == nil || *h.shutdown == rp.GetConf().GetAdminDown() {
			continue
		}
		p.admin = append(p.admin, adminChange{
			addr: h.addr, down: *h.shutdown,
			set:  heldPeer(h.addr, rp, r, *h.shutdown),
			undo: heldPeer(h.addr, rp, r, rp.GetConf().GetAdminDown()),
		})
		p.updated++
	}
	// Owned neighbors that are neither desired nor held.
	for a, rp := range r.peers {
		if isOwnedPeer(rp) && !desired[neighborID(a)] && !held[neighborID(a)] {
			p.deletePeers = append(p.deletePeers, a)
			p.cleanAfter = append(p.cleanAfter, neighborID(a))
			p.removed++
		}
	}
	if s, ok := r.asPathSets[bogonASNSet]; m.bogonASNs != nil && !ok {
		p.bogonCreate = true
	} else if m.bogonASNs != nil {
		p.bogonAdd, p.bogonDel = diffStrings(m.bogonASNs, s.GetList())
	} else if ok && !r.bogonSetForeign && !heldBogons {
		p.bogonDelete = true
	}
	if s, ok := r.lcSets[learnedSet]; m.learned != nil && !ok {
		p.learnedCreate = true
	} else if m.learned != nil {
		p.learnedAdd, p.learnedDel = diffStrings(m.learned, s.GetList())
	} else if ok && !r.learnedSetForeign && !heldLearned {
		p.learnedDelete = true
	}
	var curExport []string
	for _, pol := range r.globalExport.GetPolicies() {
		curExport = append(curExport, pol.GetName())
	}
	kept := map[string]bool{} // IDs whose running objects stay as they are
	for id := range held {
		kept[id] = true
	}
	for _, n := range m.neighbors {
		rp, ok := r.peers[n.addr]
		if !ok {
			p.adds = append(p.adds, n)
			p.cleanBefore = append(p.cleanBefore, n.id)
			p.added++
			continue
		}
		old := specOf(rp)
		was, intact := structuresIntact(n, old, r)
		if !intact {
			p.deletePeers = append(p.deletePeers, n.addr)
			p.adds = append(p.adds, n)
			p.cleanBefore = append(p.cleanBefore, n.id)
			p.updated++
			continue
		}
		kept[n.id] = true
		u := update{n: n, old: old, peer: old != n.spec, was: was}
		u.add, u.del = diffPrefixes(n.prefixes, runningPrefixes(r.prefixSets[prefixSetName(n.id)]))
		u.bgAdd, u.bgDel = diffPrefixes(n.bogonSwitch, runningPrefixes(r.prefixSets[bogonSwitchName(n.id)]))
		u.faAdd, u.faDel = diffStrings(n.firstAS, r.asPathSets[firstASSetName(n.id)].GetList())
		if n.spec.rsClient {
			u.assign = !sameAssignment(r.rsImport[n.addr.String()], rsAssignment(n.addr, n.id))
		}
		// A changed bogon ASN list changes the filter of every neighbor
		// that checks for bogon ASNs.
		bogonsChanged := len(n.bogonSwitch) > 0 && (p.bogonCreate || len(p.bogonAdd)+len(p.bogonDel) > 0)
		established := rp.GetState().GetSessionState() == api.PeerState_ESTABLISHED
		if !n.spec.rsClient && !u.was.migrateGShut {
			u.gsAdd, u.gsDel = diffStrings(n.gshutSwitch, r.commSets[gshutSwitchName(n.id)].GetList())
		}
		u.reset = established && (u.setsChange() || u.assign || bogonsChanged || u.was.tag != n.tag || u.was.localPref != n.drainPref() ||
			u.was.inCommunity != n.inCommunity || u.was.migrateGShut || len(u.gsAdd)+len(u.gsDel) > 0)
		if !n.spec.rsClient {
			u.exAdd, u.exDel = diffPrefixes(n.exports, runningPrefixes(r.prefixSets[exportSetName(n.id)]))
			// What the neighbor got so far may not pass any more: entries
			// go, learned patterns come, or our policy is not in force
			// (taken out of the global export policy by hand).
			u.narrows = established && (len(u.exDel) > 0 || len(p.learnedAdd) > 0 || !slices.Contains(curExport, exportPolicyName(n.id)))
			u.out = established && (len(u.exAdd) > 0 || len(p.learnedDel) > 0 || u.was.community != n.drainCommunity())
		}
		if u.peer || u.setsChange() || u.assign || u.reset || u.was.tag != n.tag || u.drainChange() || u.exportChange() || u.out || u.narrows ||
			u.was.migrateGShut || len(u.gsAdd)+len(u.gsDel) > 0 || u.was.gsTag != n.tag || u.was.gsCommunity != n.inCommunity {
			p.updates = append(p.updates, u)
			p.updated++
		}
	}
	// Orphans: our objects whose neighbor is neither desired nor running.
	orphan := map[string]bool{}
	note := func(name string) {
		if id := idOf(name); id != "" && !desired[id] && !held[id] && !slices.Contains(p.cleanAfter, id) {
			orphan[id] = true
		}
	}
	for n := range r.prefixSets {
		note(n)
	}
	for n := range r.nbSets {
		note(n)
	}
	for n := range r.asPathSets {
		note(n)
	}
	for n := range r.commSets {
		note(n)
	}
	for n := range r.policies {
		note(n)
	}
	for n := range r.statements {
		note(n)
	}
	for id := range orphan {
		p.cleanAfter = append(p.cleanAfter, id)
	}
	// Leftovers of neighbors being added (a crash, a failed rollback, a
	// replacement) are removed first; that needs no write when none exist.
	p.cleanBefore = slices.DeleteFunc(p.cleanBefore, func(id string) bool { return !hasObjects(id, r) })
	slices.Sort(p.cleanBefore)
	slices.Sort(p.cleanAfter)
	slices.SortFunc(p.deletePeers, netip.Addr.Compare)

	p.globalBefore, p.globalAfter, p.globalChange, p.globalDefault = globalList(m, r.globalImport, p.cleanBefore, kept, policyName)
	p.exportBefore, p.exportAfter, p.exportChange, p.exportDefault = globalList(m, r.globalExport, p.cleanBefore, kept, exportPolicyName)
	return p, nil
}

// globalList plans one global policy assignment (import or export, named
// by name): ours (ordinary peers, address order) first, then whatever was
// configured by hand, in its order, with its default. before is set when
// leftovers to clean are still in it.
func globalList(m *model, running *api.PolicyAssignment, cleanBefore []string, kept map[string]bool, name func(string) string) (before, after []string, change bool, def api.RouteAction) {
	var cur, unmanaged []string
	def = api.RouteAction_NONE
	if running != nil {
		def = running.DefaultAction
		for _, pol := range running.Policies {
			cur = append(cur, pol.Name)
			if !owned(pol.Name) {
				unmanaged = append(unmanaged, pol.Name)
			}
		}
	}
	// A held neighbor's policy stays in the list when it is there now,
	// among ours in address order (each of ours matches only its own
	// neighbor, so their order among themselves does not matter).
	type entry struct {
		addr netip.Addr
		name string
	}
	var ours []entry
	for _, n := range m.neighbors {
		if !n.spec.rsClient {
			ours = append(ours, entry{n.addr, name(n.id)})
		}
	}
	for _, h := range m.held {
		if slices.Contains(cur, name(h.id)) {
			ours = append(ours, entry{h.addr, name(h.id)})
		}
	}
	slices.SortFunc(ours, func(a, b entry) int { return a.addr.Compare(b.addr) })
	var final []string
	for _, e := range ours {
		final = append(final, e.name)
	}
	final = append(final, unmanaged...)
	inBefore := false
	for _, id := range cleanBefore {
		inBefore = inBefore || slices.Contains(cur, name(id))
	}
	if inBefore {
		// Keep only policies that survive the cleanup.
		before = slices.DeleteFunc(slices.Clone(cur), func(n string) bool {
			return owned(n) && !kept[idOf(n)]
		})
		if before == nil {
			before = []string{}
		}
		cur = before
	}
	if !slices.Equal(cur, final) {
		return before, final, true, def
	}
	return before, nil, false, def
}

// inPlace are the actions the driver changes in place on a live
// neighbor's statements, as they run.
type inPlace struct {
	tag         string // the accept statement's large communities (txn.retag)
	localPref   uint32 // the accept statement's local preference (txn.redrain)
	inCommunity string // the accept statement's communities (txn.redrain)
	community   string // the export-accept statement's community (txn.redrain)
	// The gshut statement's large communities and communities, which
	// follow the accept statement's; none while migrateGShut is pending.
	gsTag, gsCommunity string
	// migrateGShut: the import policy has the shape of versions before the
	// gshut statement (nbModel.legacyStatements).
	migrateGShut bool
}

// structuresIntact: the neighbor can be updated in place (same mode, its
// policies as the driver builds them but for the actions changed in place,
// which it returns, its neighbor set right). A route-server client has no
// export objects.
func structuresIntact(n nbModel, old peerSpec, r *running) (was inPlace, ok bool) {
	if old.rsClient != n.spec.rsClient || old.ipv6 != n.spec.ipv6 {
		return was, false
	}
	pol, ok := r.policies[policyName(n.id)]
	if !ok {
		return was, false
	}
	sig := policySignature(pol)
	for i := range sig {
		switch sig[i].name {
		case stmtAccept(n.id):
			was.tag, sig[i].tag = sig[i].tag, n.tag
			was.localPref, sig[i].localPref = sig[i].localPref, n.drainPref()
			was.inCommunity, sig[i].community = sig[i].community, n.inCommunity
		case stmtGShut(n.id):
			was.gsTag, sig[i].tag = sig[i].tag, n.tag
			was.gsCommunity, sig[i].community = sig[i].community, n.inCommunity
		}
	}
	switch {
	case slices.Equal(sig, n.statements()):
		if _, ok := r.commSets[gshutSwitchName(n.id)]; !ok && !n.spec.rsClient {
			return was, false
		}
	case !n.spec.rsClient && slices.Equal(sig, n.legacyStatements()):
		// Built before the gshut statement: migrated in place.
		was.migrateGShut = true
		was.gsTag, was.gsCommunity = n.tag, n.inCommunity
	default:
		return was, false
	}
	if _, ok := r.prefixSets[prefixSetName(n.id)]; !ok {
		return was, false
	}
	if _, ok := r.prefixSets[bogonSwitchName(n.id)]; !ok {
		return was, false
	}
	if _, ok := r.asPathSets[firstASSetName(n.id)]; !ok {
		return was, false
	}
	exPol, hasExport := r.policies[exportPolicyName(n.id)]
	_, hasExportSet := r.prefixSets[exportSetName(n.id)]
	if n.spec.rsClient {
		return was, !hasExport && !hasExportSet
	}
	s, ok := r.nbSets[neighborSetName(n.id)]
	if !ok || !slices.Equal(s.GetList(), []string{n.neighborSetMember()}) {
		return was, false
	}
	if !hasExport || !hasExportSet {
		return was, false
	}
	exSig := policySignature(exPol)
	for i := range exSig {
		if exSig[i].name == stmtOutAccept(n.id) {
			was.community, exSig[i].community = exSig[i].community, n.drainCommunity()
		}
	}
	return was, slices.Equal(exSig, n.exportStatements())
}

func hasObjects(id string, r *running) bool {
	if _, ok := r.policies[policyName(id)]; ok {
		return true
	}
	if _, ok := r.prefixSets[prefixSetName(id)]; ok {
		return true
	}
	if _, ok := r.nbSets[neighborSetName(id)]; ok {
		return true
	}
	if _, ok := r.prefixSets[bogonSwitchName(id)]; ok {
		return true
	}
	if _, ok := r.asPathSets[firstASSetName(id)]; ok {
		return true
	}
	if _, ok := r.commSets[gshutSwitchName(id)]; ok {
		return true
	}
	if hasExportObjects(id, r) {
		return true
	}
	for _, s := range importStmtNames(id) {
		if r.statements[s] {
			return true
		}
	}
	return false
}

func hasExportObjects(id string, r *running) bool {
	if _, ok := r.policies[exportPolicyName(id)]; ok {
		return true
	}
	if _, ok := r.prefixSets[exportSetName(id)]; ok {
		return true
	}
	for _, s := range exportStmtNames(id) {
		if r.statements[s] {
			return true
		}
	}
	return false
}

func sameAssignment(a, b *api.PolicyAssignment) bool {
	if a == nil || a.DefaultAction != b.DefaultAction || len(a.Policies) != len(b.Policies) {
		return false
	}
	for i := range a.Policies {
		if a.Policies[i].GetName() != b.Policies[i].GetName() {
			return false
		}
	}
	return true
}

// Apply makes gobgpd's managed neighbors equal to des: it validates des,
// reads the running state, and writes only the difference. On a failed
// write it undoes what this Apply added or changed (in reverse order) and
// returns the error; a neighbor is created only after its filter and
// removed before it, so no neighbor is ever up without its filter.
// Removals are not undone.
func (d *Driver) Apply(ctx context.Context, des router.Desired) (router.ApplyResult, error) {
	m, err := buildModel(des, d.opts)
	if err != nil {
		return router.ApplyResult{}, fmt.Errorf("gobgp: %w", err)
	}
	res := router.ApplyResult{Digest: digest(m.render(d.opts))}
	d.applyMu.Lock()
	defer d.applyMu.Unlock()
	r, err := d.readRunning(ctx)
	if err != nil {
		return res, fmt.Errorf("gobgp: read running state: %w", err)
	}
	p, err := makePlan(m, r)
	if err != nil {
		return res, fmt.Errorf("gobgp: %w", err)
	}
	d.revalidate(m, r, p)
	if p.empty() {
		d.vrpsSeen, d.vrpsKnown = r.vrps, true
		return res, nil
	}
	t := &txn{d: d}
	if err := t.execute(ctx, m, r, p); err != nil {
		if rbErr := t.rollback(ctx); rbErr != nil {
			return res, fmt.Errorf("gobgp: apply: %w; rollback incomplete (the next Apply cleans up): %v", err, rbErr)
		}
		return res, fmt.Errorf("gobgp: apply (rolled back): %w", err)
	}
	d.vrpsSeen, d.vrpsKnown = r.vrps, true
	res.Added, res.Updated, res.Removed = p.added, p.updated, p.removed
	return res, nil
}

// revalidate adds to p a soft reset in of every established neighbor
// (held ones too: it changes no configuration) when the RTR servers' data
// changed since the last Apply (their serial, record counts or state):
// gobgpd validates a route when it arrives and does not look again when
// the VRPs change (RFC 8481 asks that it does), so a route that turned
// invalid would stay, and one that turned valid stay refused. The first
// Apply of a process only records what the servers hold, so a restart
// resets nothing; a server this Apply adds is seen at the next one.
func (d *Driver) revalidate(m *model, r *running, p *plan) {
	if !d.vrpsKnown || r.vrps == d.vrpsSeen {
		return
	}
	resetting := map[netip.Addr]bool{}
	for _, u := range p.updates {
		resetting[u.n.addr] = u.reset || u.hard
	}
	for a, rp := range r.peers {
		if isOwnedPeer(rp) && rp.GetState().GetSessionState() == api.PeerState_ESTABLISHED && !resetting[a] && !slices.Contains(p.deletePeers, a) {
			p.revalidate = append(p.revalidate, a)
		}
	}
	slices.SortFunc(p.revalidate, netip.Addr.Compare)
}

// txn runs writes and remembers how to undo them.
type txn struct {
	d    *Driver
	mu   sync.Mutex // guards undo: writes run in parallel (txn.parallel)
	undo []undoStep
}

type undoStep struct {
	what string
	fn   func(context.Context) error
	// failed: the write itself returned an error, so it may or may not
	// have happened; an error undoing it is expected and ignored.
	failed bool
}

// do runs one write. The undo is recorded first: a write whose answer is
// lost may still have happened.
func (t *txn) do(ctx context.Context, what string, call, undo func(context.Context) error) error {
	i := -1
	if undo != nil {
		t.mu.Lock()
		t.undo = append(t.undo, undoStep{what: what, fn: undo})
		i = len(t.undo) - 1
		t.mu.Unlock()
	}
	if err := call(ctx); err != nil {
		if i >= 0 {
			t.mu.Lock()
			t.undo[i].failed = true
			t.mu.Unlock()
		}
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// parallel runs step(0..n-1), independent writes, with up to
// Options.MaxInFlight at once: gobgpd applies them one by one, but the
// round trips overlap. After the first error nothing more starts; the
// writes in flight finish (their undos are recorded) and that error is
// returned. It returns only when all have ended, so the undo log of a
// phase ends before the next phase starts and rollback keeps the order
// between phases (e.g. a neighbor is deleted before its policy).
func (t *txn) parallel(ctx context.Context, n int, step func(context.Context, int) error) error {
	k := t.d.opts.MaxInFlight
	if k <= 1 || n <= 1 {
		for i := range n {
			if err := step(ctx, i); err != nil {
				return err
			}
		}
		return nil
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	sem := make(chan struct{}, k)
	for i := range n {
		sem <- struct{}{}
		mu.Lock()
		failed := first != nil
		mu.Unlock()
		if failed {
			<-sem
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := step(ctx, i); err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return first
}

func (t *txn) rollback(ctx context.Context) error {
	// The caller's context may be what ended the Apply; undo anyway.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 60*time.Second)
	defer cancel()
	var errs []error
	for i := len(t.undo) - 1; i >= 0; i-- {
		u := t.undo[i]
		if err := u.fn(ctx); err != nil && !u.failed {
			errs = append(errs, fmt.Errorf("undo %s: %w", u.what, err))
		}
	}
	return errors.Join(errs...)
}

func (t *txn) execute(ctx context.Context, m *model, r *running, p *plan) error {
	c := t.d.client
	if p.startBGP {
		g := &api.Global{Asn: m.asn, RouterId: m.routerID.String(), ListenPort: t.d.opts.ListenPort, ListenAddresses: t.d.opts.ListenAddresses}
		if err := t.do(ctx, "start BGP", func(ctx context.Context) error {
			_, err := c.StartBgp(ctx, &api.StartBgpRequest{Global: g})
			return err
		}, nil); err != nil {
			return err
		}
	}
	for _, s := range p.addRPKI {
		host, port, _ := net.SplitHostPort(s)
		pn, _ := strconv.Atoi(port)
		if err := t.do(ctx, "add RPKI server "+s, func(ctx context.Context) error {
			_, err := c.AddRpki(ctx, &api.AddRpkiRequest{Address: host, Port: uint32(pn), Lifetime: 3600})
			return err
		}, nil); err != nil {
			return err
		}
	}
	// 1. Neighbors go first (removed or replaced), before their filters.
	for _, a := range p.deletePeers {
		if err := t.do(ctx, "delete neighbor "+a.String(), func(ctx context.Context) error {
			_, err := c.DeletePeer(ctx, &api.DeletePeerRequest{Address: a.String()})
			return err
		}, nil); err != nil {
			return err
		}
		t.d.sessions.drop(a)
	}
	// 2. Leftovers of neighbors to add: out of the global policies, then
	// deleted.
	if p.globalBefore != nil {
		if err := t.setGlobal(ctx, api.PolicyDirection_IMPORT, p.globalBefore, p.globalDefault, nil); err != nil {
			return err
		}
	}
	if p.exportBefore != nil {
		if err := t.setGlobal(ctx, api.PolicyDirection_EXPORT, p.exportBefore, p.exportDefault, nil); err != nil {
			return err
		}
	}
	for _, id := range p.cleanBefore {
		if err := t.clean(ctx, id, r); err != nil {
			return err
		}
	}
	// Before any export changes: must a session be reset so that its peer
	// loses what it was sent?
	for i := range p.updates {
		if u := &p.updates[i]; u.narrows {
			hard, err := t.mustRetract(ctx, u.n, m.learned)
			if err != nil {
				return fmt.Errorf("list what %s is sent: %w", u.n.addr, err)
			}
			u.hard = hard
		}
	}
	// 3. The shared sets, which new policies use, then the filters of new
	// neighbors.
	if p.learnedCreate {
		if err := t.createSet(ctx, "large community set", largeCommunitySet(learnedSet, m.learned)); err != nil {
			return err
		}
	}
	// Export policies reject what the set matches: entries come first.
	if err := t.editSet(ctx, largeCommunitySet(learnedSet, p.learnedDel), largeCommunitySet(learnedSet, p.learnedAdd), true); err != nil {
		return err
	}
	if p.bogonCreate {
		if err := t.createSet(ctx, "AS path set", asPathSet(bogonASNSet, m.bogonASNs)); err != nil {
			return err
		}
	}
	if err := t.editSet(ctx, asPathSet(bogonASNSet, p.bogonDel), asPathSet(bogonASNSet, p.bogonAdd), true); err != nil {
		return err
	}
	if err := t.createFilters(ctx, p.adds); err != nil {
		return err
	}
	// 4. Filter changes in place, set by set (see editSet). The bogon
	// switch rejects routes when it matches, the other two keep them.
	for _, u := range p.updates {
		id := u.n.id
		if err := t.editSet(ctx, prefixSet(prefixSetName(id), u.del), prefixSet(prefixSetName(id), u.add), false); err != nil {
			return err
		}
		if err := t.editSet(ctx, prefixSet(bogonSwitchName(id), u.bgDel), prefixSet(bogonSwitchName(id), u.bgAdd), true); err != nil {
			return err
		}
		if err := t.editSet(ctx, asPathSet(firstASSetName(id), u.faDel), asPathSet(firstASSetName(id), u.faAdd), false); err != nil {
			return err
		}
		if u.was.migrateGShut {
			if err := t.migrateGShut(ctx, u.n); err != nil {
				return err
			}
		}
		if err := t.editSet(ctx, communitySet(gshutSwitchName(id), u.gsDel), communitySet(gshutSwitchName(id), u.gsAdd), false); err != nil {
			return err
		}
		if err := t.retag(ctx, stmtAccept(id), u.was.tag, u.n.tag); err != nil {
			return err
		}
		if !u.n.spec.rsClient {
			if err := t.retag(ctx, stmtGShut(id), u.was.gsTag, u.n.tag); err != nil {
				return err
			}
		}
		if err := t.redrain(ctx, u); err != nil {
			return err
		}
		if err := t.editSet(ctx, prefixSet(exportSetName(id), u.exDel), prefixSet(exportSetName(id), u.exAdd), false); err != nil {
			return err
		}
	}
	// 5. The global policies with the new ordinary peers' policies.
	for _, g := range []struct {
		dir     api.PolicyDirection
		change  bool
		before  []string
		after   []string
		def     api.RouteAction
		running *api.PolicyAssignment
	}{
		{api.PolicyDirection_IMPORT, p.globalChange, p.globalBefore, p.globalAfter, p.globalDefault, r.globalImport},
		{api.PolicyDirection_EXPORT, p.exportChange, p.exportBefore, p.exportAfter, p.exportDefault, r.globalExport},
	} {
		if !g.change {
			continue
		}
		prev := g.before
		if prev == nil {
			prev = []string{}
			for _, pol := range g.running.GetPolicies() {
				prev = append(prev, pol.GetName())
			}
		}
		if err := t.setGlobal(ctx, g.dir, g.after, g.def, prev); err != nil {
			return err
		}
	}
	// 6. Neighbors: new ones (their filters exist now: createFilters has
	// returned), changed ones.
	if err := t.parallel(ctx, len(p.adds), func(ctx context.Context, i int) error {
		n := p.adds[i]
		a := n.addr
		if err := t.do(ctx, "add neighbor "+a.String(), func(ctx context.Context) error {
			_, err := c.AddPeer(ctx, &api.AddPeerRequest{Peer: apiPeer(a, n.id, n.spec)})
			return err
		}, func(ctx context.Context) error {
			_, err := c.DeletePeer(ctx, &api.DeletePeerRequest{Address: a.String()})
			return err
		}); err != nil {
			return err
		}
		t.d.sessions.added(a)
		return nil
	}); err != nil {
		return err
	}
	for _, u := range p.updates {
		a, id := u.n.addr, u.n.id
		if u.peer {
			if err := t.do(ctx, "update neighbor "+a.String(), func(ctx context.Context) error {
				_, err := c.UpdatePeer(ctx, &api.UpdatePeerRequest{Peer: apiPeer(a, id, u.n.spec)})
				return err
			}, func(ctx context.Context) error {
				_, err := c.UpdatePeer(ctx, &api.UpdatePeerRequest{Peer: apiPeer(a, id, u.old)})
				return err
			}); err != nil {
				return err
			}
			t.d.sessions.forget(a)
		}
		if u.assign {
			old := r.rsImport[a.String()]
			if err := t.do(ctx, "set import policy of "+a.String(), func(ctx context.Context) error {
				_, err := c.SetPolicyAssignment(ctx, &api.SetPolicyAssignmentRequest{Assignment: rsAssignment(a, id)})
				return err
			}, func(ctx context.Context) error {
				if old == nil {
					return nil
				}
				_, err := c.SetPolicyAssignment(ctx, &api.SetPolicyAssignmentRequest{Assignment: old})
				return err
			}); err != nil {
				return err
			}
		}
	}
	// Held neighbors' admin state (an emergency shutdown or its undo).
	for _, ac := range p.admin {
		a := ac.addr
		what := "enable held neighbor "
		if ac.down {
			what = "shut down held neighbor "
		}
		if err := t.do(ctx, what+a.String(), func(ctx context.Context) error {
			_, err := c.UpdatePeer(ctx, &api.UpdatePeerRequest{Peer: ac.set})
			return err
		}, func(ctx context.Context) error {
			_, err := c.UpdatePeer(ctx, &api.UpdatePeerRequest{Peer: ac.undo})
			return err
		}); err != nil {
			return err
		}
		t.d.sessions.forget(a)
	}
	for _, a := range p.revalidate {
		if err := t.do(ctx, "soft reset in "+a.String()+" (the RPKI data changed)", func(ctx context.Context) error {
			_, err := c.ResetPeer(ctx, &api.ResetPeerRequest{Address: a.String(), Soft: true, Direction: api.ResetPeerRequest_IN})
			return err
		}, nil); err != nil {
			return err
		}
	}
	// 7. Routes already received are filtered again only on a soft reset
	// in, routes sent only on a soft reset out (both: one call). GoBGP's
	// soft reset out withdraws nothing (it keeps no adj-rib-out), so a
	// peer loses a route it was sent only when the session is reset.
	for _, u := range p.updates {
		a := u.n.addr
		req := &api.ResetPeerRequest{Address: a.String(), Soft: true}
		switch {
		case u.hard:
			req = &api.ResetPeerRequest{Address: a.String(), Communication: "peering-operator: export narrowed"}
		case u.reset && (u.out || u.narrows):
			req.Direction = api.ResetPeerRequest_BOTH
		case u.reset:
			req.Direction = api.ResetPeerRequest_IN
		case u.out || u.narrows:
			req.Direction = api.ResetPeerRequest_OUT
		default:
			continue
		}
		what := "soft reset " + strings.ToLower(req.Direction.String()) + " " + a.String()
		if u.hard {
			what = "reset " + a.String() + " (it was sent routes its export denies now)"
		}
		if err := t.do(ctx, what, func(ctx context.Context) error {
			_, err := c.ResetPeer(ctx, req)
			return err
		}, nil); err != nil {
			return err
		}
		if u.hard {
			t.d.sessions.forget(a)
		}
	}
	// 8. Filters of removed neighbors and orphans, then the shared sets
	// when no policy of ours uses them any more.
	for _, id := range p.cleanAfter {
		if err := t.clean(ctx, id, r); err != nil {
			return err
		}
	}
	if p.bogonDelete {
		if err := t.do(ctx, "delete AS path set "+bogonASNSet, func(ctx context.Context) error {
			_, err := c.DeleteDefinedSet(ctx, &api.DeleteDefinedSetRequest{DefinedSet: &api.DefinedSet{DefinedType: api.DefinedType_AS_PATH, Name: bogonASNSet}, All: true})
			return err
		}, nil); err != nil {
			return err
		}
	}
	if p.learnedDelete {
		return t.do(ctx, "delete large community set "+learnedSet, func(ctx context.Context) error {
			_, err := c.DeleteDefinedSet(ctx, &api.DeleteDefinedSetRequest{DefinedSet: &api.DefinedSet{DefinedType: api.DefinedType_LARGE_COMMUNITY, Name: learnedSet}, All: true})
			return err
		}, nil)
	}
	return nil
}

// mustRetract reports whether gobgpd sends the neighbor a route that its
// new export (exports, no learned community) denies. What gobgpd sends
// now is what its export policy in force lets through (ADJ_OUT listing);
// a route that arrives between this look and the change is missed.
func (t *txn) mustRetract(ctx context.Context, n nbModel, learned []string) (bool, error) {
	var res []*regexp.Regexp
	for _, l := range learned {
		re, err := regexp.Compile(l)
		if err != nil {
			return false, err
		}
		res = append(res, re)
	}
	stream, err := t.d.client.ListPath(ctx, &api.ListPathRequest{TableType: api.TableType_ADJ_OUT, Name: n.addr.String(), Family: apiFamily(n.spec.ipv6)})
	dests, err := recvAll(stream, err)
	if err != nil {
		return false, err
	}
	for _, d := range dests {
		pf, err := netip.ParsePrefix(d.GetDestination().GetPrefix())
		if err != nil || !matchesSet(n.exports, pf.Masked()) {
			return true, nil
		}
		for _, path := range d.GetDestination().GetPaths() {
			for _, c := range largeCommunities(path) {
				if slices.ContainsFunc(res, func(re *regexp.Regexp) bool { return re.MatchString(c) }) {
					return true, nil
				}
			}
		}
	}
	return false, nil
}

// matchesSet is GoBGP's prefix-set match: only the longest entry prefix
// containing the route counts (see gobgpEntries).
func matchesSet(set []pfx, route netip.Prefix) bool {
	best := -1
	for _, p := range set {
		if p.prefix.Bits() <= route.Bits() && p.prefix.Contains(route.Addr()) {
			best = max(best, p.prefix.Bits())
		}
	}
	for _, p := range set {
		if p.prefix.Bits() == best && p.prefix.Contains(route.Addr()) && p.min <= route.Bits() && route.Bits() <= p.max {
			return true
		}
	}
	return false
}

// largeCommunities lists a path's large communities as "a:b:c".
func largeCommunities(p *api.Path) []string {
	var out []string
	for _, a := range p.GetPattrs() {
		var lc api.LargeCommunitiesAttribute
		if a.MessageIs(&lc) && a.UnmarshalTo(&lc) == nil {
			for _, c := range lc.GetCommunities() {
				out = append(out, fmt.Sprintf("%d:%d:%d", c.GetGlobalAdmin(), c.GetLocalData1(), c.GetLocalData2()))
			}
		}
	}
	return out
}

// retag changes the large communities an accept statement (name) of the
// neighbor's import policy adds, in place (GoBGP edits a statement by
// adding or removing single conditions and actions; it has no replace).
// Between two tags the statement has no action at all, so routes fall
// through to the policy's reject: never accepted untagged.
func (t *txn) retag(ctx context.Context, name, from, to string) error {
	if from == to {
		return nil
	}
	acts := func(tag string, route bool) *api.Statement {
		a := &api.Actions{LargeCommunity: tagAction(tag)}
		if route {
			a.RouteAction = api.RouteAction_ACCEPT
		}
		return &api.Statement{Name: name, Actions: a}
	}
	add, del := t.addStatement, t.deleteStatement
	switch {
	case from == "":
		return t.do(ctx, "tag routes accepted by "+name+" with "+to, add(acts(to, false)), del(acts(to, false)))
	case to == "":
		return t.do(ctx, "stop tagging routes accepted by "+name, del(acts(from, false)), add(acts(from, false)))
	}
	if err := t.do(ctx, "stop accepting by "+name+" while its tag changes", del(acts(from, true)), add(acts(from, true))); err != nil {
		return err
	}
	return t.do(ctx, "accept by "+name+" with tag "+to, add(acts(to, true)), del(acts(to, true)))
}

// redrain starts or ends a drain in place, and changes the import marks:
// the local preference and communities on the accept statement, the
// GRACEFUL_SHUTDOWN community on the export-accept statement, each an action added to or removed from the live statement
// (gobgpd merges a statement added under an existing name), so the
// session is not reset; the soft resets that follow apply them to the
// routes already exchanged.
func (t *txn) redrain(ctx context.Context, u update) error {
	edit := func(what string, from, to *api.Statement) error {
		add, del := t.addStatement, t.deleteStatement
		if from != nil {
			if err := t.do(ctx, "stop "+what, del(from), add(from)); err != nil {
				return err
			}
		}
		if to != nil {
			return t.do(ctx, what, add(to), del(to))
		}
		return nil
	}
	in, out := stmtAccept(u.n.id), stmtOutAccept(u.n.id)
	if pref := u.n.drainPref(); u.was.localPref != pref {
		var from, to *api.Statement
		if u.was.localPref != 0 {
			from = &api.Statement{Name: in, Actions: &api.Actions{LocalPref: localPrefAction(u.was.localPref)}}
		}
		if pref != 0 {
			to = &api.Statement{Name: in, Actions: &api.Actions{LocalPref: localPrefAction(pref)}}
		}
		if err := edit(fmt.Sprintf("set local-pref %d on routes accepted by %s", pref, in), from, to); err != nil {
			return err
		}
	}
	for _, c := range []struct{ stmt, was string }{{in, u.was.inCommunity}, {stmtGShut(u.n.id), u.was.gsCommunity}} {
		comm := u.n.inCommunity
		if c.was == comm || (c.stmt != in && u.n.spec.rsClient) {
			continue
		}
		var from, to *api.Statement
		if c.was != "" {
			from = &api.Statement{Name: c.stmt, Actions: &api.Actions{Community: communityAction(c.was)}}
		}
		if comm != "" {
			to = &api.Statement{Name: c.stmt, Actions: &api.Actions{Community: communityAction(comm)}}
		}
		if err := edit("add communities "+comm+" to routes accepted by "+c.stmt, from, to); err != nil {
			return err
		}
	}
	if comm := u.n.drainCommunity(); u.was.community != comm {
		var from, to *api.Statement
		if u.was.community != "" {
			from = &api.Statement{Name: out, Actions: &api.Actions{Community: communityAction(u.was.community)}}
		}
		if comm != "" {
			to = &api.Statement{Name: out, Actions: &api.Actions{Community: communityAction(comm)}}
		}
		if err := edit("add community "+comm+" to routes exported by "+out, from, to); err != nil {
			return err
		}
	}
	return nil
}

// migrateGShut turns an import policy built before the gshut statement
// (strip, accept, reject) into today's (strip, gshut, accept, final) in
// place: the session is not reset. GoBGP only appends statements to a
// live policy and removes them by name, so: the switch set and the two
// new statements are created; accept leaves the policy, then gshut,
// accept and final are appended behind reject, and reject goes. Between
// the first and the last of those three writes the neighbor's updates
// meet reject (never an accept without its filter); the soft reset in
// that follows re-reads what arrived meanwhile. Each step has its undo.
func (t *txn) migrateGShut(ctx context.Context, n nbModel) error {
	pol := policyName(n.id)
	if err := t.createSet(ctx, "community set", &api.DefinedSet{DefinedType: api.DefinedType_COMMUNITY, Name: gshutSwitchName(n.id), List: n.gshutSwitch}); err != nil {
		return err
	}
	stmts := apiPolicyOf(pol, []statement{n.gshutStatement(), {name: stmtFinal(n.id), nbSet: neighborSetName(n.id)}, n.legacyStatements()[5]}).Statements
	for _, st := range stmts[:2] {
		if err := t.do(ctx, "add statement "+st.Name, t.addStatement(st), t.dropStatement(st.Name)); err != nil {
			return err
		}
	}
	add := func(names ...string) func(context.Context) error {
		return func(ctx context.Context) error { return t.appendStatements(ctx, pol, names) }
	}
	remove := func(names ...string) func(context.Context) error {
		return func(ctx context.Context) error { return t.removeStatements(ctx, pol, names) }
	}
	gshut, accept, final, reject := stmtGShut(n.id), stmtAccept(n.id), stmtFinal(n.id), stmtReject(n.id)
	head := importStmtNames(n.id)[:4] // rpki, bogon, firstas, strip
	order := func(tail ...string) []string { return append(slices.Clone(head), tail...) }
	// Each undo puts the statements back in the order before its step,
	// from whatever the router has (a failed write may or may not have
	// happened).
	if err := t.do(ctx, "take "+accept+" out of "+pol+" (its updates meet "+reject+" meanwhile)", remove(accept), t.setOrder(pol, order(accept, reject))); err != nil {
		return err
	}
	if err := t.do(ctx, "append "+gshut+", "+accept+" and "+final+" to "+pol, add(gshut, accept, final), t.setOrder(pol, order(reject))); err != nil {
		return err
	}
	if err := t.do(ctx, "take "+reject+" out of "+pol, remove(reject), t.setOrder(pol, order(reject, gshut, accept, final))); err != nil {
		return err
	}
	return t.do(ctx, "delete statement "+reject, t.dropStatement(reject), t.addStatement(stmts[2]))
}

// referTo is policy pol naming existing statements.
func referTo(pol string, names []string) *api.Policy {
	p := &api.Policy{Name: pol}
	for _, nm := range names {
		p.Statements = append(p.Statements, &api.Statement{Name: nm})
	}
	return p
}

// appendStatements appends existing statements to a live policy.
func (t *txn) appendStatements(ctx context.Context, pol string, names []string) error {
	_, err := t.d.client.AddPolicy(ctx, &api.AddPolicyRequest{Policy: referTo(pol, names), ReferExistingStatements: true})
	return err
}

// removeStatements takes statements out of a live policy (every one of
// each name), keeping them.
func (t *txn) removeStatements(ctx context.Context, pol string, names []string) error {
	_, err := t.d.client.DeletePolicy(ctx, &api.DeletePolicyRequest{Policy: referTo(pol, names), PreserveStatements: true})
	return err
}

// setOrder makes a live policy's statements exactly want, from whatever
// it holds: the statements from the first difference on are taken out
// (by name, so every copy) and want's rest appended. It is an undo: its
// two writes leave the policy short of its tail in between.
func (t *txn) setOrder(pol string, want []string) func(context.Context) error {
	return func(ctx context.Context) error {
		ps, err := recvAll(t.d.client.ListPolicy(ctx, &api.ListPolicyRequest{Name: pol}))
		if err != nil || len(ps) != 1 {
			return fmt.Errorf("read policy %s: %v", pol, err)
		}
		var cur []string
		for _, st := range ps[0].Policy.GetStatements() {
			cur = append(cur, st.GetName())
		}
		drop := map[string]bool{}
		keep := cur
		for !slices.Equal(keep, want[:min(len(keep), len(want))]) || len(keep) > len(want) {
			k := 0
			for k < len(keep) && k < len(want) && keep[k] == want[k] {
				k++
			}
			for _, nm := range keep[k:] {
				drop[nm] = true
			}
			keep = slices.DeleteFunc(slices.Clone(cur), func(nm string) bool { return drop[nm] })
		}
		if len(drop) > 0 {
			if err := t.removeStatements(ctx, pol, slices.Sorted(maps.Keys(drop))); err != nil {
				return err
			}
		}
		if len(keep) < len(want) {
			return t.appendStatements(ctx, pol, want[len(keep):])
		}
		return nil
	}
}

// createSet adds a shared defined set, undone by deleting it whole.
func (t *txn) createSet(ctx context.Context, what string, set *api.DefinedSet) error {
	c := t.d.client
	return t.do(ctx, "add "+what+" "+set.Name, func(ctx context.Context) error {
		_, err := c.AddDefinedSet(ctx, &api.AddDefinedSetRequest{DefinedSet: set})
		return err
	}, func(ctx context.Context) error {
		_, err := c.DeleteDefinedSet(ctx, &api.DeleteDefinedSetRequest{DefinedSet: &api.DefinedSet{DefinedType: set.DefinedType, Name: set.Name}, All: true})
		return err
	})
}

// addStatement and deleteStatement are the steps that add a statement (or,
// under an existing name, merge its conditions and actions into it) and
// remove one (or those parts of it), for txn.do.
func (t *txn) addStatement(s *api.Statement) func(context.Context) error {
	return func(ctx context.Context) error {
		_, err := t.d.client.AddStatement(ctx, &api.AddStatementRequest{Statement: s})
		return err
	}
}

func (t *txn) deleteStatement(s *api.Statement) func(context.Context) error {
	return func(ctx context.Context) error {
		_, err := t.d.client.DeleteStatement(ctx, &api.DeleteStatementRequest{Statement: s})
		return err
	}
}

// dropStatement deletes a whole statement.
func (t *txn) dropStatement(name string) func(context.Context) error {
	return func(ctx context.Context) error {
		_, err := t.d.client.DeleteStatement(ctx, &api.DeleteStatementRequest{Statement: &api.Statement{Name: name}, All: true})
		return err
	}
}

func (t *txn) setGlobal(ctx context.Context, dir api.PolicyDirection, names []string, def api.RouteAction, undoTo []string) error {
	c := t.d.client
	mk := func(ns []string) *api.PolicyAssignment {
		a := &api.PolicyAssignment{Name: globalRIB, Direction: dir, DefaultAction: def}
		for _, n := range ns {
			a.Policies = append(a.Policies, &api.Policy{Name: n})
		}
		return a
	}
	var undo func(context.Context) error
	if undoTo != nil {
		undo = func(ctx context.Context) error {
			// A policy deleted since (a removed neighbor's: removals are
			// not undone) cannot go back in.
			pols, err := recvAll(c.ListPolicy(ctx, &api.ListPolicyRequest{}))
			if err != nil {
				return err
			}
			exists := map[string]bool{}
			for _, p := range pols {
				exists[p.Policy.GetName()] = true
			}
			names := slices.DeleteFunc(slices.Clone(undoTo), func(n string) bool { return !exists[n] })
			_, err = c.SetPolicyAssignment(ctx, &api.SetPolicyAssignmentRequest{Assignment: mk(names)})
			return err
		}
	}
	return t.do(ctx, "set global "+strings.ToLower(dir.String())+" policy", func(ctx context.Context) error {
		_, err := c.SetPolicyAssignment(ctx, &api.SetPolicyAssignmentRequest{Assignment: mk(names)})
		return err
	}, undo)
}

// filterSets are a new neighbor's defined sets: its import filter's, and
// for an ordinary neighbor its neighbor set, gshut switch and export set.
func filterSets(n nbModel) []*api.DefinedSet {
	sets := []*api.DefinedSet{
		{DefinedType: api.DefinedType_PREFIX, Name: prefixSetName(n.id), Prefixes: apiPrefixes(n.prefixes)},
		{DefinedType: api.DefinedType_PREFIX, Name: bogonSwitchName(n.id), Prefixes: apiPrefixes(n.bogonSwitch)},
		asPathSet(firstASSetName(n.id), n.firstAS),
	}
	if !n.spec.rsClient {
		sets = append(sets, &api.DefinedSet{DefinedType: api.DefinedType_NEIGHBOR, Name: neighborSetName(n.id), List: []string{n.neighborSetMember()}},
			&api.DefinedSet{DefinedType: api.DefinedType_COMMUNITY, Name: gshutSwitchName(n.id), List: n.gshutSwitch},
			&api.DefinedSet{DefinedType: api.DefinedType_PREFIX, Name: exportSetName(n.id), Prefixes: apiPrefixes(n.exports)})
	}
	return sets
}

// createFilters creates the filters of new neighbors: every set first,
// then every policy (import, and export for an ordinary neighbor), each
// phase in parallel; a policy only names sets of the phase before or
// shared sets made earlier.
func (t *txn) createFilters(ctx context.Context, adds []nbModel) error {
	c := t.d.client
	var sets []*api.DefinedSet
	var pols []*api.Policy
	for _, n := range adds {
		sets = append(sets, filterSets(n)...)
		pols = append(pols, apiPolicy(n))
		if !n.spec.rsClient {
			pols = append(pols, apiExportPolicy(n))
		}
	}
	if err := t.parallel(ctx, len(sets), func(ctx context.Context, i int) error {
		ds := sets[i]
		return t.do(ctx, "add defined set "+ds.Name, func(ctx context.Context) error {
			_, err := c.AddDefinedSet(ctx, &api.AddDefinedSetRequest{DefinedSet: ds})
			return err
		}, func(ctx context.Context) error {
			_, err := c.DeleteDefinedSet(ctx, &api.DeleteDefinedSetRequest{DefinedSet: &api.DefinedSet{DefinedType: ds.DefinedType, Name: ds.Name}, All: true})
			return err
		})
	}); err != nil {
		return err
	}
	return t.parallel(ctx, len(pols), func(ctx context.Context, i int) error { return t.addPolicy(ctx, pols[i]) })
}

func (t *txn) addPolicy(ctx context.Context, pol *api.Policy) error {
	c := t.d.client
	return t.do(ctx, "add policy "+pol.Name, func(ctx context.Context) error {
		_, err := c.AddPolicy(ctx, &api.AddPolicyRequest{Policy: pol})
		return err
	}, func(ctx context.Context) error {
		_, err := c.DeletePolicy(ctx, &api.DeletePolicyRequest{Policy: &api.Policy{Name: pol.Name}, All: true})
		return err
	})
}

// prefixSet and asPathSet build a defined set with some entries, or nil
// for none.
func prefixSet(name string, ps []pfx) *api.DefinedSet {
	if len(ps) == 0 {
		return nil
	}
	return &api.DefinedSet{DefinedType: api.DefinedType_PREFIX, Name: name, Prefixes: apiPrefixes(ps)}
}

func asPathSet(name string, entries []string) *api.DefinedSet {
	if len(entries) == 0 {
		return nil
	}
	return &api.DefinedSet{DefinedType: api.DefinedType_AS_PATH, Name: name, List: entries}
}

func largeCommunitySet(name string, entries []string) *api.DefinedSet {
	if len(entries) == 0 {
		return nil
	}
	return &api.DefinedSet{DefinedType: api.DefinedType_LARGE_COMMUNITY, Name: name, List: entries}
}

func communitySet(name string, entries []string) *api.DefinedSet {
	if len(entries) == 0 {
		return nil
	}
	return &api.DefinedSet{DefinedType: api.DefinedType_COMMUNITY, Name: name, List: entries}
}

// editSet removes the entries of del from a set and adds those of add
// (either may be nil), entry by entry: GoBGP's "replace" swaps the set
// object while policies keep pointing at the old one. A set whose match
// keeps a route loses entries first, one whose match rejects a route
// (denyList) gains them first: in between, the filter never allows more
// than both the old and the new one.
func (t *txn) editSet(ctx context.Context, del, add *api.DefinedSet, denyList bool) error {
	c := t.d.client
	addCall := func(s *api.DefinedSet) func(context.Context) error {
		return func(ctx context.Context) error {
			req := &api.AddDefinedSetRequest{DefinedSet: s}
			if s.DefinedType == api.DefinedType_AS_PATH || s.DefinedType == api.DefinedType_LARGE_COMMUNITY || s.DefinedType == api.DefinedType_COMMUNITY {
				// GoBGP appends expression entries even when present (a
				// prefix set is a tree), and an undo may re-add an entry
				// whose removal never happened: add only what is missing.
				cur, err := recvAll(c.ListDefinedSet(ctx, &api.ListDefinedSetRequest{DefinedType: s.DefinedType, Name: s.Name}))
				if err != nil {
					return err
				}
				missing := slices.Clone(s.List)
				for _, ds := range cur {
					missing = slices.DeleteFunc(missing, func(e string) bool { return slices.Contains(ds.DefinedSet.GetList(), e) })
				}
				if len(missing) == 0 {
					return nil
				}
				req.DefinedSet = &api.DefinedSet{DefinedType: s.DefinedType, Name: s.Name, List: missing}
			}
			_, err := c.AddDefinedSet(ctx, req)
			return err
		}
	}
	delCall := func(s *api.DefinedSet) func(context.Context) error {
		return func(ctx context.Context) error {
			_, err := c.DeleteDefinedSet(ctx, &api.DeleteDefinedSetRequest{DefinedSet: s})
			return err
		}
	}
	size := func(s *api.DefinedSet) int { return len(s.GetPrefixes()) + len(s.GetList()) }
	remove := func() error {
		if del == nil {
			return nil
		}
		return t.do(ctx, fmt.Sprintf("remove %d entries from %s", size(del), del.Name), delCall(del), addCall(del))
	}
	insert := func() error {
		if add == nil {
			return nil
		}
		return t.do(ctx, fmt.Sprintf("add %d entries to %s", size(add), add.Name), addCall(add), delCall(add))
	}
	first, second := remove, insert
	if denyList {
		first, second = insert, remove
	}
	if err := first(); err != nil {
		return err
	}
	return second()
}

// clean deletes our objects for one neighbor ID: the policies (with their
// statements), statements left without a policy, the sets. Deleting a
// policy while a route-server client still uses it is prevented by
// ordering (the neighbor is deleted first).
func (t *txn) clean(ctx context.Context, id string, r *running) error {
	c := t.d.client
	inPolicy := map[string]bool{}
	for _, pn := range []string{policyName(id), exportPolicyName(id)} {
		pol, ok := r.policies[pn]
		if !ok {
			continue
		}
		for _, s := range pol.Statements {
			inPolicy[s.Name] = true
		}
		if err := t.do(ctx, "delete policy "+pn, func(ctx context.Context) error {
			_, err := c.DeletePolicy(ctx, &api.DeletePolicyRequest{Policy: &api.Policy{Name: pn}, All: true})
			return err
		}, nil); err != nil {
			return err
		}
	}
	for _, s := range stmtNames(id) {
		if !r.statements[s] || inPolicy[s] {
			continue
		}
		if err := t.do(ctx, "delete statement "+s, func(ctx context.Context) error {
			_, err := c.DeleteStatement(ctx, &api.DeleteStatementRequest{Statement: &api.Statement{Name: s}, All: true})
			return err
		}, nil); err != nil {
			return err
		}
	}
	for _, ds := range []struct {
		typ  api.DefinedType
		name string
		have map[string]*api.DefinedSet
	}{
		{api.DefinedType_PREFIX, prefixSetName(id), r.prefixSets},
		{api.DefinedType_PREFIX, exportSetName(id), r.prefixSets},
		{api.DefinedType_NEIGHBOR, neighborSetName(id), r.nbSets},
		{api.DefinedType_PREFIX, bogonSwitchName(id), r.prefixSets},
		{api.DefinedType_AS_PATH, firstASSetName(id), r.asPathSets},
		{api.DefinedType_COMMUNITY, gshutSwitchName(id), r.commSets},
	} {
		if _, ok := ds.have[ds.name]; !ok {
			continue
		}
		if err := t.do(ctx, "delete defined set "+ds.name, func(ctx context.Context) error {
			_, err := c.DeleteDefinedSet(ctx, &api.DeleteDefinedSetRequest{DefinedSet: &api.DefinedSet{DefinedType: ds.typ, Name: ds.name}, All: true})
			return err
		}, nil); err != nil {
			return err
		}
	}
	return nil
}
