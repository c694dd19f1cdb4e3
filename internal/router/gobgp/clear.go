package gobgp

import (
	"context"
	"fmt"
	"net/netip"

	api "github.com/osrg/gobgp/v3/api"

	"github.com/peering-operator/peering-operator/internal/router"
)

// Clear restarts the sessions of managed neighbors (hard), or runs what
// they sent through the import policy again (soft: a soft reset in from
// the Adj-RIB-In gobgpd keeps; no reset).
//
// After a prefix-limit trip gobgpd holds the neighbor in admin state
// PFX_CT: it stays Idle and refuses the neighbor's connections. ResetPeer
// leaves it there; EnablePeer brings it back (both seen with v3.37.0). A
// tripped neighbor is therefore enabled, any other one reset. EnablePeer
// would also start a neighbor configured admin down, which stays down.
func (d *Driver) Clear(ctx context.Context, addrs []netip.Addr, soft bool) error {
	addrs, err := router.ClearAddrs(addrs)
	if err != nil {
		return fmt.Errorf("gobgp: %w", err)
	}
	if len(addrs) == 0 {
		return nil
	}
	d.applyMu.Lock()
	defer d.applyMu.Unlock()
	peers, err := d.listPeers(ctx, "")
	if err != nil {
		return fmt.Errorf("gobgp: ListPeer: %w", err)
	}
	mine := map[netip.Addr]*api.Peer{}
	for _, p := range peers {
		if a, err := netip.ParseAddr(p.GetConf().GetNeighborAddress()); err == nil && isOwnedPeer(p) {
			mine[a] = p
		}
	}
	for _, a := range addrs {
		if mine[a] == nil {
			return fmt.Errorf("gobgp: %w", router.NotManaged(a))
		}
	}
	for _, a := range addrs {
		p := mine[a]
		var err error
		switch {
		case soft:
			_, err = d.client.ResetPeer(ctx, &api.ResetPeerRequest{Address: a.String(), Soft: true, Direction: api.ResetPeerRequest_IN})
		case p.GetState().GetAdminState() == api.PeerState_PFX_CT:
			_, err = d.client.EnablePeer(ctx, &api.EnablePeerRequest{Address: a.String()})
		case p.GetConf().GetAdminDown():
			continue
		default:
			_, err = d.client.ResetPeer(ctx, &api.ResetPeerRequest{Address: a.String(), Communication: "peering-operator: session cleared"})
		}
		if err != nil {
			return fmt.Errorf("gobgp: clear %s: %w", a, err)
		}
		if !soft {
			d.sessions.forget(a)
		}
	}
	return nil
}
