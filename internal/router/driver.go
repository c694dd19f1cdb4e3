// Package router defines the vendor-neutral Driver the Router controller uses
// to push neighbors to a BGP speaker and read their state back. Every value
// is typed and validated here, before any driver renders it: no string from
// a custom resource reaches a router CLI or API unchecked.
package router

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
)

// Entry is one prefix-list entry: Prefix matched exactly, or with a length
// range GE..LE when Exact is false (bgpq4's ge/le).
type Entry struct {
	Prefix netip.Prefix
	Exact  bool
	GE, LE int
}

// Secret holds a password that must never be printed. Its String and
// GoString redact it, so it is safe in logs, errors and %v.
type Secret string

// String redacts the secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// GoString redacts the secret.
func (s Secret) GoString() string { return s.String() }

// Reveal returns the password for the one place that renders it.
func (s Secret) Reveal() string { return string(s) }

// Neighbor is one BGP session the operator owns on a router.
type Neighbor struct {
	// Address of the peer.
	Address netip.Addr
	// PeerASN is the peer's AS.
	PeerASN uint32
	// Description, printable ASCII only (see Validate).
	Description string
	// RouteServerClient marks the neighbor as a route-server client.
	RouteServerClient bool
	// Shutdown keeps the neighbor configured but administratively down.
	Shutdown bool
	// Drain is a graceful shutdown (RFC 8326) in progress: what we export
	// to the neighbor carries GracefulShutdown and what we accept from it
	// gets local preference 0. Not for a RouteServerClient (our route
	// server relays, it neither exports nor prefers).
	Drain bool
	// MaxPrefixes is the limit of accepted prefixes; 0 means no limit.
	MaxPrefixes uint32
	// MaxPrefixRestart, when not zero, restarts a session the limit tripped
	// after this long (whole minutes on the CLI platforms); zero keeps it
	// down until a human clears it.
	MaxPrefixRestart time.Duration
	// Import is the import filter of the neighbor's address family; an
	// empty filter rejects everything (never "accept all").
	Import []Entry
	// Password is the TCP MD5 password; empty means none.
	Password Secret
	// RejectBogonASNs rejects routes whose AS path holds a bogon ASN
	// (private, documentation, reserved, AS_TRANS; policy.BogonASN).
	RejectBogonASNs bool
	// EnforceFirstAS rejects routes whose AS path does not start with
	// PeerASN: right for a peer's own routes, wrong for a transparent IX
	// route server (which does not prepend its AS).
	EnforceFirstAS bool
	// Owner identifies the PeeringRequest (namespace/name) for descriptions
	// and metrics.
	Owner string

	// Export is exactly what we announce to the neighbor: a route is sent
	// only when its prefix matches an entry and it was not learned from a
	// peer or a route server (it carries no LearnedCommunity of ours).
	// Everything else is denied, whatever the router's defaults (some
	// export every eBGP route, some none). Empty announces nothing. Not
	// used for a RouteServerClient: our route server relays what its
	// clients send, filtered on import.
	Export []Entry
	// Learned is the kind of session for the informational large
	// community LocalASN:Learned:IXID set on every route accepted from the
	// neighbor; 0 sets none. Exports to peers refuse every route carrying
	// one of ours (LearnedPeer, LearnedRouteServer), so a peer's routes
	// never reach another peer.
	Learned LearnedFrom
	// IXID is the PeeringDB id of the IX the session is on (the community's
	// third field).
	IXID uint32

	// LocalPref is the local preference of the routes accepted from an
	// ordinary neighbor (Drain overrides it with 0); 0 renders none, which
	// only tests use: the controller always sets it.
	LocalPref uint32
	// Communities are informational communities added to every route
	// accepted from an ordinary neighbor, besides the Learned one:
	// standard "a:b" or large "a:b:c" (see ParseCommunity).
	Communities []string
	// IgnoreGracefulShutdown turns off what is otherwise done: routes the
	// neighbor sends with GracefulShutdown (RFC 8326: it is about to go
	// down) get local preference 0.
	IgnoreGracefulShutdown bool
}

// Community is a parsed standard (RFC 1997) or large (RFC 8092) community.
type Community struct {
	Large bool
	// A, B, C: standard A:B (16 bits each) or large A:B:C (32 bits each).
	A, B, C uint32
}

// String prints the community as every platform takes it.
func (c Community) String() string {
	if c.Large {
		return fmt.Sprintf("%d:%d:%d", c.A, c.B, c.C)
	}
	return fmt.Sprintf("%d:%d", c.A, c.B)
}

// ParseCommunity reads an informational community: "a:b" with 16-bit
// fields or "a:b:c" with 32-bit fields. Well-known communities (65535:x)
// and the reserved 0:x change routing, so they are refused.
func ParseCommunity(s string) (Community, error) {
	parts := strings.Split(s, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return Community{}, fmt.Errorf("community %q: write a:b or a:b:c", s)
	}
	bits := 16
	if len(parts) == 3 {
		bits = 32
	}
	var v [3]uint32
	for i, p := range parts {
		n, err := strconv.ParseUint(p, 10, bits)
		if err != nil || (len(p) > 1 && p[0] == '0') {
			return Community{}, fmt.Errorf("community %q: %q is not a %d-bit number", s, p, bits)
		}
		v[i] = uint32(n)
	}
	c := Community{Large: len(parts) == 3, A: v[0], B: v[1], C: v[2]}
	if !c.Large && (c.A == 0 || c.A == 65535) {
		return Community{}, fmt.Errorf("community %q is reserved or well-known (0:x, 65535:x) and changes routing; informational communities use your own AS", s)
	}
	if c.Large && c.A == 0 {
		return Community{}, fmt.Errorf("community %q: global administrator 0 is reserved", s)
	}
	return c, nil
}

// SortedCommunities parses cs and returns the standard and the large ones,
// each in numerical order without duplicates (the order routers print
// them back in).
func SortedCommunities(cs []string) (std, large []Community, err error) {
	for _, s := range cs {
		c, err := ParseCommunity(s)
		if err != nil {
			return nil, nil, err
		}
		if c.Large {
			large = append(large, c)
		} else {
			std = append(std, c)
		}
	}
	cmp := func(a, b Community) int {
		if a.A != b.A {
			return int(int64(a.A) - int64(b.A))
		}
		if a.B != b.B {
			return int(int64(a.B) - int64(b.B))
		}
		return int(int64(a.C) - int64(b.C))
	}
	slices.SortFunc(std, cmp)
	slices.SortFunc(large, cmp)
	return slices.Compact(std), slices.Compact(large), nil
}

// LearnedFrom says where an accepted route came from, for the large
// community LocalASN:kind:IXID.
type LearnedFrom uint32

// Kinds of sessions routes are learned from.
const (
	LearnedNone        LearnedFrom = 0
	LearnedPeer        LearnedFrom = 1
	LearnedRouteServer LearnedFrom = 2
)

// GracefulShutdown is the well-known GRACEFUL_SHUTDOWN community (RFC 8326).
const GracefulShutdown = "65535:0"

// LearnedCommunity is the large community a router sets on what it accepts
// from a neighbor of this kind at an IX.
func LearnedCommunity(localASN uint32, kind LearnedFrom, ixID uint32) string {
	return fmt.Sprintf("%d:%d:%d", localASN, kind, ixID)
}

// Desired is the complete set of neighbors the operator manages on one
// router. Neighbors it did not create are never touched.
type Desired struct {
	LocalASN uint32
	RouterID netip.Addr
	// RPKI are the RTR caches (RFC 8210) the router validates routes
	// against, in order of preference. With any, every neighbor rejects
	// RPKI-invalid routes (RFC 6811); a route no cache answers for is
	// "not found" and kept, so a cache outage never drops a route.
	// Caches are added, never removed: a router's caches may serve more
	// than our neighbors.
	RPKI      []RTRServer
	Neighbors []Neighbor
	// Held neighbors are left exactly as they are on the router. A managed
	// neighbor that is neither in Neighbors nor in Held is removed.
	Held []Held
}

// Held is a managed neighbor the driver must leave exactly as it runs now:
// not removed, not changed, and neither are its prefix lists, route-maps,
// policies or other objects, whatever else the same apply does. The
// operator holds a neighbor when it cannot build its configuration (a
// filter or password it cannot read), so a problem with one request never
// removes or rewrites that request's live session and never stops the rest
// of the router's changes. A held address that is not on the router is not
// created.
type Held struct {
	Address netip.Addr
	// Owner identifies the request (namespace/name), for errors.
	Owner string
	// Shutdown, when set, is the one change a held neighbor takes: its
	// administrative state. A NOC's emergency shutdown (or its undo)
	// reaches the router even when nothing else of the neighbor can be
	// built.
	Shutdown *bool
}

// RTRServer is an RPKI-to-Router cache.
type RTRServer struct {
	// Host is an IP address or a DNS name, as the router reaches it.
	Host string
	Port uint16
}

// String is host:port.
func (s RTRServer) String() string { return net.JoinHostPort(s.Host, strconv.Itoa(int(s.Port))) }

// ApplyResult reports what an Apply changed.
type ApplyResult struct {
	// Added, Updated and Removed count neighbors.
	Added, Updated, Removed int
	// Digest is the SHA-256 of the rendered desired configuration.
	Digest string
}

// Changed reports whether anything was written to the router.
func (r ApplyResult) Changed() bool { return r.Added+r.Updated+r.Removed > 0 }

// NeighborState is the live state of one managed neighbor.
type NeighborState struct {
	Address netip.Addr
	// State is the BGP FSM state: Idle, Connect, Active, OpenSent,
	// OpenConfirm or Established.
	State string
	// EstablishedSince is when the session came up (zero unless Established).
	EstablishedSince time.Time
	// Received and Accepted count prefixes; Accepted is after the import
	// filter.
	Received, Accepted int64
	// Limit is the configured max-prefix limit (0: none).
	Limit int64
	// LastError is the last NOTIFICATION, or a max-prefix trip.
	LastError string
}

// Driver configures one router.
type Driver interface {
	// Render returns the configuration for d, deterministically (pure: no I/O).
	Render(d Desired) ([]byte, error)
	// Apply makes the router's managed neighbors equal to d in one
	// transaction: only the difference is written, and nothing at all when
	// nothing differs. A failed Apply leaves no half-applied neighbor.
	Apply(ctx context.Context, d Desired) (ApplyResult, error)
	// State reads the live state of every managed neighbor.
	State(ctx context.Context) ([]NeighborState, error)
	// Clear restarts the sessions of the given managed neighbors, e.g. one
	// held down after a max-prefix trip (hard), or re-reads what they sent
	// through the import policy (soft, no session reset). Addresses that
	// are not managed neighbors are an error, and nothing is cleared.
	Clear(ctx context.Context, addrs []netip.Addr, soft bool) error
	// Close releases the connection.
	Close() error
}

// dnsName is a lower-case DNS name.
var dnsName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)

// ErrInvalid marks a value that must not reach a router.
var ErrInvalid = errors.New("invalid router configuration value")

// Validate checks every value of d before any driver renders it.
func (d Desired) Validate() error {
	if d.LocalASN == 0 || d.LocalASN == 23456 {
		return fmt.Errorf("%w: local ASN %d", ErrInvalid, d.LocalASN)
	}
	if !d.RouterID.Is4() {
		return fmt.Errorf("%w: router ID %s is not an IPv4 address", ErrInvalid, d.RouterID)
	}
	for _, s := range d.RPKI {
		// Only a plain address (no IPv6 zone: ParseAddr takes any text
		// after %) or a DNS name reaches a router CLI.
		ip, ipErr := netip.ParseAddr(s.Host)
		plainIP := ipErr == nil && ip.Zone() == "" && !ip.Is4In6()
		if s.Port == 0 || (!plainIP && !dnsName.MatchString(s.Host)) {
			return fmt.Errorf("%w: RTR server %q: want an IP address or DNS name and a port", ErrInvalid, s.String())
		}
	}
	seen := map[netip.Addr]bool{}
	for _, n := range d.Neighbors {
		if err := n.Validate(); err != nil {
			return err
		}
		if seen[n.Address] {
			return fmt.Errorf("%w: neighbor %s appears twice", ErrInvalid, n.Address)
		}
		seen[n.Address] = true
	}
	for _, h := range d.Held {
		if !h.Address.IsValid() || h.Address.Zone() != "" || h.Address.Is4In6() {
			return fmt.Errorf("%w: held neighbor address %q", ErrInvalid, h.Address)
		}
		if seen[h.Address] {
			return fmt.Errorf("%w: neighbor %s is both held and configured", ErrInvalid, h.Address)
		}
		seen[h.Address] = true
	}
	return nil
}

// HeldAt returns the held entry for addr, if any.
func (d Desired) HeldAt(addr netip.Addr) (Held, bool) {
	for _, h := range d.Held {
		if h.Address == addr {
			return h, true
		}
	}
	return Held{}, false
}

// Validate checks one neighbor's values.
func (n Neighbor) Validate() error {
	if !n.Address.IsValid() || n.Address.Zone() != "" || n.Address.Is4In6() {
		return fmt.Errorf("%w: neighbor address %q", ErrInvalid, n.Address)
	}
	if n.PeerASN == 0 || n.PeerASN == 23456 {
		return fmt.Errorf("%w: neighbor %s: peer ASN %d", ErrInvalid, n.Address, n.PeerASN)
	}
	if err := SafeText(n.Description, 200); err != nil {
		return fmt.Errorf("%w: neighbor %s description: %v", ErrInvalid, n.Address, err)
	}
	if err := SafeText(n.Owner, 253); err != nil {
		return fmt.Errorf("%w: neighbor %s owner: %v", ErrInvalid, n.Address, err)
	}
	if p := n.Password.Reveal(); p != "" {
		// Printable ASCII without spaces or quotes: it goes into a CLI.
		if len(p) > 80 || strings.ContainsFunc(p, func(r rune) bool { return r <= ' ' || r > '~' || r == '"' || r == '\'' }) {
			return fmt.Errorf("%w: neighbor %s password: use 1-80 printable ASCII characters without spaces or quotes", ErrInvalid, n.Address)
		}
	}
	for _, e := range n.Import {
		if err := e.validate(n.Address.Is4()); err != nil {
			return fmt.Errorf("%w: neighbor %s import filter: %v", ErrInvalid, n.Address, err)
		}
	}
	for _, e := range n.Export {
		if err := e.validate(n.Address.Is4()); err != nil {
			return fmt.Errorf("%w: neighbor %s export list: %v", ErrInvalid, n.Address, err)
		}
	}
	if n.Learned > LearnedRouteServer {
		return fmt.Errorf("%w: neighbor %s: unknown session kind %d", ErrInvalid, n.Address, n.Learned)
	}
	if _, _, err := SortedCommunities(n.Communities); err != nil {
		return fmt.Errorf("%w: neighbor %s: %v", ErrInvalid, n.Address, err)
	}
	if n.RouteServerClient && (n.LocalPref != 0 || len(n.Communities) > 0) {
		return fmt.Errorf("%w: neighbor %s: a route-server client's routes are relayed as they came: no local preference or communities are set on them", ErrInvalid, n.Address)
	}
	if n.Drain && n.RouteServerClient {
		return fmt.Errorf("%w: neighbor %s: a route-server client is not drained (our route server neither exports to it nor prefers its routes); shut it down instead", ErrInvalid, n.Address)
	}
	return nil
}

func (e Entry) validate(v4 bool) error {
	if !e.Prefix.IsValid() || e.Prefix != e.Prefix.Masked() {
		return fmt.Errorf("prefix %s is not a network address", e.Prefix)
	}
	if e.Prefix.Addr().Is4() != v4 {
		return fmt.Errorf("prefix %s is of the other address family", e.Prefix)
	}
	if e.Exact {
		return nil
	}
	max := e.Prefix.Addr().BitLen()
	if e.GE < e.Prefix.Bits() || e.LE < e.GE || e.LE > max {
		return fmt.Errorf("prefix %s ge %d le %d is not a valid range", e.Prefix, e.GE, e.LE)
	}
	return nil
}

// routerSafeText is the API's one definition of router-safe text.
var routerSafeText = regexp.MustCompile(peeringv1.RouterSafeTextPattern)

// SafeText accepts the text peeringv1.RouterSafeTextPattern allows (the
// rule the CRD enforces at admission) and at most max bytes; anything else
// is refused, not escaped, so a value means the same on every platform.
func SafeText(s string, max int) error {
	if len(s) > max {
		return fmt.Errorf("longer than %d characters", max)
	}
	if routerSafeText.MatchString(s) {
		return nil
	}
	for _, r := range s {
		if !routerSafeText.MatchString(string(r)) {
			return fmt.Errorf("character %q is not allowed: text %s", r, peeringv1.RouterSafeTextMessage)
		}
	}
	return nil // not reached: a string of allowed characters matches
}

// Credentials log in to a router over SSH.
type Credentials struct {
	Username   string
	Password   Secret
	PrivateKey Secret
	// KnownHosts holds the router's host key(s) in OpenSSH known_hosts
	// format; the key is verified unless InsecureSkipHostKey is set.
	KnownHosts string
	// InsecureSkipHostKey is an explicit opt-out for labs; drivers log it
	// loudly on every connection.
	InsecureSkipHostKey bool
}

// ClearAddrs checks the addresses of a Clear and returns them sorted,
// without duplicates (clearing a session twice would reset it twice).
func ClearAddrs(addrs []netip.Addr) ([]netip.Addr, error) {
	for _, a := range addrs {
		if !a.IsValid() || a.Zone() != "" || a.Is4In6() {
			return nil, fmt.Errorf("%w: clear: neighbor address %q", ErrInvalid, a)
		}
	}
	out := slices.Clone(addrs)
	slices.SortFunc(out, netip.Addr.Compare)
	return slices.Compact(out), nil
}

// NotManaged is the error of a Clear naming an address that is not a
// managed neighbor: nothing is cleared then.
func NotManaged(a netip.Addr) error {
	return fmt.Errorf("%w: clear: %s is not a neighbor managed by peering-operator; nothing was cleared", ErrInvalid, a)
}
