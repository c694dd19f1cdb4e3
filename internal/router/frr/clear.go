package frr

import (
	"context"
	"net/netip"
	"time"

	"github.com/peering-operator/peering-operator/internal/router/cli"
)

// Clear restarts the sessions of managed neighbors (hard), or runs what
// they sent through the import policy again (soft: from the Adj-RIB-In
// that soft-reconfiguration inbound keeps, no route refresh, no reset).
// A hard clear is also what brings back a neighbor that "maximum-prefix
// N force" holds down: bgpd forgets the overflow and starts the session.
// A neighbor configured shutdown stays down.
func (d *Driver) Clear(ctx context.Context, addrs []netip.Addr, soft bool) error {
	return cli.Clear(ctx, d.conn, addrs, managedNeighbors, func(a netip.Addr) []string { return []string{clearLine(a, soft)} })
}

// clearLine is the vtysh command; without an address family it covers
// the neighbor's only one.
func clearLine(a netip.Addr, soft bool) string {
	if soft {
		return "clear bgp " + a.String() + " soft in"
	}
	return "clear bgp " + a.String()
}

// managedNeighbors reads which neighbors carry our description marker,
// as State does.
func managedNeighbors(ctx context.Context, s *cli.Session) (map[netip.Addr]bool, error) {
	out, err := s.Show(ctx, "show bgp neighbors json")
	if err != nil {
		return nil, err
	}
	states, _, err := parseNeighbors(out, time.Now())
	if err != nil {
		return nil, err
	}
	m := map[netip.Addr]bool{}
	for _, st := range states {
		m[st.Address] = true
	}
	return m, nil
}
