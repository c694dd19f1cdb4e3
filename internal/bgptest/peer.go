package bgptest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// Neighbor is a BGP neighbor configured on a Speaker.
type Neighbor struct {
	Address netip.Addr
	ASN     uint32
	// RemotePort is the neighbor's BGP port (0: 179).
	RemotePort int
	// LocalAddress is the source address of the session (default: the
	// speaker's ListenAddr, so the other side sees the expected peer address).
	LocalAddress netip.Addr
	// ConnectRetry defaults to 1s: GoBGP's own default waits 120 s after a
	// refused connection, far too long for a test.
	ConnectRetry time.Duration
	// Passive: never dial, only accept.
	Passive bool
	// RouteServerClient makes the neighbor a route-server client.
	RouteServerClient bool
	// MaxPrefixes is GoBGP's prefix limit for the neighbor (0: none).
	MaxPrefixes uint32
}

// Endpoint is where and as whom a speaker can be peered with.
type Endpoint struct {
	Addr netip.Addr
	Port int
	ASN  uint32
}

// Endpoint returns the speaker's BGP address, port and AS.
func (s *Speaker) Endpoint() Endpoint {
	return Endpoint{Addr: s.Config.ListenAddr, Port: s.Config.BGPPort, ASN: s.Config.ASN}
}

func family(a netip.Addr) *api.Family {
	if a.Is4() {
		return &api.Family{Afi: api.Family_AFI_IP, Safi: api.Family_SAFI_UNICAST}
	}
	return &api.Family{Afi: api.Family_AFI_IP6, Safi: api.Family_SAFI_UNICAST}
}

// AddNeighbor configures a neighbor on the speaker.
func (s *Speaker) AddNeighbor(ctx context.Context, n Neighbor) error {
	if !n.Address.IsValid() || n.ASN == 0 {
		return errors.New("bgptest: Neighbor needs Address and ASN")
	}
	if !n.LocalAddress.IsValid() {
		n.LocalAddress = s.Config.ListenAddr
	}
	if n.ConnectRetry == 0 {
		n.ConnectRetry = time.Second
	}
	fam := family(n.Address)
	as := &api.AfiSafi{Config: &api.AfiSafiConfig{Family: fam, Enabled: true}}
	if n.MaxPrefixes > 0 {
		as.PrefixLimits = &api.PrefixLimit{Family: fam, MaxPrefixes: n.MaxPrefixes}
	}
	p := &api.Peer{
		Conf: &api.PeerConf{NeighborAddress: n.Address.String(), PeerAsn: n.ASN},
		Transport: &api.Transport{
			LocalAddress: n.LocalAddress.String(),
			RemotePort:   uint32(n.RemotePort),
			PassiveMode:  n.Passive,
		},
		Timers: &api.Timers{Config: &api.TimersConfig{
			ConnectRetry: uint64((n.ConnectRetry + time.Second - 1) / time.Second),
			// Short timers so a dead session is noticed quickly in tests.
			HoldTime:          9,
			KeepaliveInterval: 3,
			// GoBGP's idle hold after a reset; 1 s keeps re-connects fast.
			IdleHoldTimeAfterReset: 1,
		}},
		AfiSafis: []*api.AfiSafi{as},
	}
	if n.RouteServerClient {
		p.RouteServer = &api.RouteServer{RouteServerClient: true}
	}
	_, err := s.API.AddPeer(ctx, &api.AddPeerRequest{Peer: p})
	return err
}

// DeleteNeighbor removes a neighbor.
func (s *Speaker) DeleteNeighbor(ctx context.Context, addr netip.Addr) error {
	_, err := s.API.DeletePeer(ctx, &api.DeletePeerRequest{Address: addr.String()})
	return err
}

// Origin is the BGP ORIGIN attribute.
type Origin uint32

// ORIGIN values.
const (
	OriginIGP        Origin = 0
	OriginEGP        Origin = 1
	OriginIncomplete Origin = 2
)

func (o Origin) String() string {
	switch o {
	case OriginIGP:
		return "igp"
	case OriginEGP:
		return "egp"
	}
	return "incomplete"
}

// Route is a path a speaker announces or holds.
type Route struct {
	Prefix netip.Prefix
	// NextHop defaults to the speaker's ListenAddr (or ::1 for IPv6
	// prefixes on an IPv4 speaker).
	NextHop netip.Addr
	// ASPath as originated; GoBGP prepends its own AS towards eBGP
	// neighbors, so an empty path arrives as [speaker AS].
	ASPath []uint32
	Origin Origin

	// Filled in on routes read back from a RIB.

	// Neighbor the path came from (zero for local paths).
	Neighbor netip.Addr
	// Filtered: the import policy rejects it (adj-rib-in listings only).
	Filtered bool
	// Validation is the RPKI state: "valid", "invalid", "not-found" or "".
	Validation string
	// Best marks the best path in RIB listings.
	Best bool
	// LargeCommunities as "global:local1:local2".
	LargeCommunities []string
	// Communities as "asn:value" (also announced).
	Communities []string
	// LocalPref is the LOCAL_PREF attribute; nil when the path has none.
	LocalPref *uint32
}

func (r Route) String() string {
	s := fmt.Sprintf("%s nh %s as-path %v origin %s", r.Prefix, r.NextHop, r.ASPath, r.Origin)
	if len(r.LargeCommunities) > 0 {
		s += fmt.Sprintf(" large-communities %v", r.LargeCommunities)
	}
	return s
}

// Announce originates routes from the speaker (global RIB), which it sends
// to its neighbors.
func (s *Speaker) Announce(ctx context.Context, routes ...Route) error {
	for _, r := range routes {
		p, err := s.apiPath(r)
		if err != nil {
			return err
		}
		resp, err := s.API.AddPath(ctx, &api.AddPathRequest{TableType: api.TableType_GLOBAL, Path: p})
		if err != nil {
			return fmt.Errorf("announce %s: %w", r.Prefix, err)
		}
		s.pathMu.Lock()
		if s.paths == nil {
			s.paths = map[netip.Prefix][]byte{}
		}
		s.paths[r.Prefix] = resp.Uuid
		s.pathMu.Unlock()
	}
	return nil
}

// Withdraw withdraws routes announced with Announce.
func (s *Speaker) Withdraw(ctx context.Context, prefixes ...netip.Prefix) error {
	for _, pfx := range prefixes {
		s.pathMu.Lock()
		id, ok := s.paths[pfx]
		delete(s.paths, pfx)
		s.pathMu.Unlock()
		if !ok {
			return fmt.Errorf("withdraw %s: not announced by this speaker", pfx)
		}
		if _, err := s.API.DeletePath(ctx, &api.DeletePathRequest{TableType: api.TableType_GLOBAL, Uuid: id}); err != nil {
			return fmt.Errorf("withdraw %s: %w", pfx, err)
		}
	}
	return nil
}

func (s *Speaker) apiPath(r Route) (*api.Path, error) {
	if !r.Prefix.IsValid() || r.Prefix != r.Prefix.Masked() {
		return nil, fmt.Errorf("bgptest: route prefix %q is not a network address", r.Prefix)
	}
	nh := r.NextHop
	if !nh.IsValid() {
		nh = s.Config.ListenAddr
		if r.Prefix.Addr().Is4() != nh.Is4() {
			nh = netip.IPv6Loopback()
		}
	}
	nlri, err := anypb.New(&api.IPAddressPrefix{Prefix: r.Prefix.Addr().String(), PrefixLen: uint32(r.Prefix.Bits())})
	if err != nil {
		return nil, err
	}
	attrs := []proto.Message{&api.OriginAttribute{Origin: uint32(r.Origin)}}
	if len(r.ASPath) > 0 {
		attrs = append(attrs, &api.AsPathAttribute{Segments: []*api.AsSegment{{Type: api.AsSegment_AS_SEQUENCE, Numbers: r.ASPath}}})
	}
	if len(r.Communities) > 0 {
		c := &api.CommunitiesAttribute{}
		for _, x := range r.Communities {
			hi, lo, ok := strings.Cut(x, ":")
			a, err1 := strconv.ParseUint(hi, 10, 16)
			b, err2 := strconv.ParseUint(lo, 10, 16)
			if !ok || err1 != nil || err2 != nil {
				return nil, fmt.Errorf("bgptest: community %q is not asn:value", x)
			}
			c.Communities = append(c.Communities, uint32(a)<<16|uint32(b))
		}
		attrs = append(attrs, c)
	}
	fam := family(r.Prefix.Addr())
	if r.Prefix.Addr().Is4() {
		attrs = append(attrs, &api.NextHopAttribute{NextHop: nh.String()})
	} else {
		attrs = append(attrs, &api.MpReachNLRIAttribute{Family: fam, NextHops: []string{nh.String()}, Nlris: []*anypb.Any{nlri}})
	}
	pattrs := make([]*anypb.Any, 0, len(attrs))
	for _, a := range attrs {
		x, err := anypb.New(a)
		if err != nil {
			return nil, err
		}
		pattrs = append(pattrs, x)
	}
	return &api.Path{Family: fam, Nlri: nlri, Pattrs: pattrs}, nil
}

// Received lists what the speaker holds from neighbor (its adj-rib-in),
// including paths its import policy rejects (Filtered set).
func (s *Speaker) Received(ctx context.Context, neighbor netip.Addr) ([]Route, error) {
	return s.list(ctx, &api.ListPathRequest{
		TableType: api.TableType_ADJ_IN, Name: neighbor.String(), Family: family(neighbor),
		EnableFiltered: true, SortType: api.ListPathRequest_PREFIX,
	})
}

// Sent lists what the speaker sends neighbor now (its adj-rib-out: the
// best paths its export policy lets through).
func (s *Speaker) Sent(ctx context.Context, neighbor netip.Addr) ([]Route, error) {
	return s.list(ctx, &api.ListPathRequest{
		TableType: api.TableType_ADJ_OUT, Name: neighbor.String(), Family: family(neighbor), SortType: api.ListPathRequest_PREFIX,
	})
}

// RPKIServers lists the speaker's RTR servers with their state (records
// loaded, ...).
func (s *Speaker) RPKIServers(ctx context.Context) ([]*api.Rpki, error) {
	st, err := s.API.ListRpki(ctx, &api.ListRpkiRequest{})
	if err != nil {
		return nil, err
	}
	var out []*api.Rpki
	for {
		r, err := st.Recv()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		out = append(out, r.Server)
	}
}

// RIB lists the speaker's global RIB for one address family (4 or 6): for
// an ordinary peer, what it learned from its neighbors and what it
// originates.
func (s *Speaker) RIB(ctx context.Context, ipVersion int) ([]Route, error) {
	fam := family(netip.IPv4Unspecified())
	if ipVersion == 6 {
		fam = family(netip.IPv6Unspecified())
	}
	return s.list(ctx, &api.ListPathRequest{TableType: api.TableType_GLOBAL, Family: fam, SortType: api.ListPathRequest_PREFIX})
}

// ClientRIB lists, on a route server, the RIB of route-server client
// client: the paths the route server would send it.
func (s *Speaker) ClientRIB(ctx context.Context, client netip.Addr) ([]Route, error) {
	return s.list(ctx, &api.ListPathRequest{TableType: api.TableType_LOCAL, Name: client.String(), Family: family(client), SortType: api.ListPathRequest_PREFIX})
}

func (s *Speaker) list(ctx context.Context, req *api.ListPathRequest) ([]Route, error) {
	stream, err := s.API.ListPath(ctx, req)
	if err != nil {
		return nil, err
	}
	var out []Route
	for {
		r, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		for _, p := range r.Destination.GetPaths() {
			rt, err := ParsePath(p)
			if err != nil {
				return nil, err
			}
			out = append(out, rt)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i].Prefix, out[j].Prefix
		if c := a.Addr().Compare(b.Addr()); c != 0 {
			return c < 0
		}
		return a.Bits() < b.Bits()
	})
	return out, nil
}

// ParsePath converts a GoBGP API path to a Route.
func ParsePath(p *api.Path) (Route, error) {
	var r Route
	var nlri api.IPAddressPrefix
	if err := p.Nlri.UnmarshalTo(&nlri); err != nil {
		return r, fmt.Errorf("path NLRI: %w", err)
	}
	addr, err := netip.ParseAddr(nlri.Prefix)
	if err != nil {
		return r, err
	}
	r.Prefix = netip.PrefixFrom(addr, int(nlri.PrefixLen))
	for _, a := range p.Pattrs {
		m, err := a.UnmarshalNew()
		if err != nil {
			continue // attributes this harness does not model
		}
		switch v := m.(type) {
		case *api.OriginAttribute:
			r.Origin = Origin(v.Origin)
		case *api.AsPathAttribute:
			for _, seg := range v.Segments {
				r.ASPath = append(r.ASPath, seg.Numbers...)
			}
		case *api.NextHopAttribute:
			r.NextHop, _ = netip.ParseAddr(v.NextHop)
		case *api.MpReachNLRIAttribute:
			if len(v.NextHops) > 0 {
				r.NextHop, _ = netip.ParseAddr(v.NextHops[0])
			}
		case *api.CommunitiesAttribute:
			for _, c := range v.Communities {
				r.Communities = append(r.Communities, fmt.Sprintf("%d:%d", c>>16, c&0xffff))
			}
		case *api.LocalPrefAttribute:
			lp := v.LocalPref
			r.LocalPref = &lp
		case *api.LargeCommunitiesAttribute:
			for _, c := range v.Communities {
				r.LargeCommunities = append(r.LargeCommunities, fmt.Sprintf("%d:%d:%d", c.GlobalAdmin, c.LocalData1, c.LocalData2))
			}
		}
	}
	r.Neighbor, _ = netip.ParseAddr(p.NeighborIp)
	r.Filtered = p.Filtered
	r.Best = p.Best
	switch p.Validation.GetState() {
	case api.Validation_STATE_VALID:
		r.Validation = "valid"
	case api.Validation_STATE_INVALID:
		r.Validation = "invalid"
	case api.Validation_STATE_NOT_FOUND:
		r.Validation = "not-found"
	}
	return r, nil
}

// SessionState returns GoBGP's FSM state of the session with neighbor.
func (s *Speaker) SessionState(ctx context.Context, neighbor netip.Addr) (api.PeerState_SessionState, error) {
	stream, err := s.API.ListPeer(ctx, &api.ListPeerRequest{Address: neighbor.String()})
	if err != nil {
		return 0, err
	}
	st := api.PeerState_UNKNOWN
	found := false
	for {
		r, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, err
		}
		found = true
		st = r.Peer.GetState().GetSessionState()
	}
	if !found {
		return 0, fmt.Errorf("no neighbor %s", neighbor)
	}
	return st, nil
}

// WaitEstablished polls until the session with neighbor is Established or
// ctx ends.
func (s *Speaker) WaitEstablished(ctx context.Context, neighbor netip.Addr) error {
	return s.waitState(ctx, neighbor, api.PeerState_ESTABLISHED)
}

func (s *Speaker) waitState(ctx context.Context, neighbor netip.Addr, want api.PeerState_SessionState) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last api.PeerState_SessionState
	var lastErr error
	for {
		last, lastErr = s.SessionState(ctx, neighbor)
		if lastErr == nil && last == want {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: session with %s is %v, not %v (%v): %w", s.Config.Name, neighbor, last, want, lastErr, ctx.Err())
		case <-s.exited:
			return fmt.Errorf("%s exited", s.Config.Name)
		case <-tick.C:
		}
	}
}

// PeerConfig describes an ordinary peer of a route server (or of any
// speaker): its own gobgpd on Addr, one neighbor (the route server), and
// the routes it announces.
type PeerConfig struct {
	Name string
	// Addr is the peer's address (e.g. 127.0.0.2); the route server must
	// have a neighbor with this address.
	Addr netip.Addr
	ASN  uint32
	// BGPPort the peer listens on (default: a free port).
	BGPPort int
	// RouteServer to peer with.
	RouteServer Endpoint
	// ConnectRetry towards the route server (default 1s).
	ConnectRetry time.Duration
	// Passive: wait for the route server to connect.
	Passive bool
	// Routes announced right after start.
	Routes []Route
	// Dir for config and logs (StartPeer: t.TempDir()).
	Dir string
	// Netns runs the peer in a network namespace (Config.Netns).
	Netns string
}

// StartPeer starts a peer for a test (stopped in t.Cleanup).
func StartPeer(t testing.TB, c PeerConfig) *Speaker {
	t.Helper()
	if c.Dir == "" {
		c.Dir = t.TempDir()
	}
	s := StartGoBGPD(t, c.speakerConfig())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.configure(ctx, s); err != nil {
		t.Fatalf("configure peer %s: %v", c.Addr, err)
	}
	return s
}

// StartPeerProcess starts a peer outside tests (`make dev`); Stop ends it.
func StartPeerProcess(ctx context.Context, c PeerConfig) (*Speaker, error) {
	s, err := Start(ctx, c.speakerConfig())
	if err != nil {
		return nil, err
	}
	if err := c.configure(ctx, s); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

func (c PeerConfig) speakerConfig() Config {
	name := c.Name
	if name == "" {
		name = "peer-" + c.Addr.String()
	}
	return Config{Name: name, ASN: c.ASN, ListenAddr: c.Addr, BGPPort: c.BGPPort, Dir: c.Dir, Netns: c.Netns}
}

func (c PeerConfig) configure(ctx context.Context, s *Speaker) error {
	if err := s.AddNeighbor(ctx, Neighbor{
		Address: c.RouteServer.Addr, ASN: c.RouteServer.ASN, RemotePort: c.RouteServer.Port,
		ConnectRetry: c.ConnectRetry, Passive: c.Passive,
	}); err != nil {
		return err
	}
	return s.Announce(ctx, c.Routes...)
}

// pathState records the UUIDs of announced paths so Withdraw can find them.
type pathState struct {
	pathMu sync.Mutex
	paths  map[netip.Prefix][]byte
}
