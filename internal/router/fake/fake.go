// Package fake is an in-memory router.Driver for controller tests: it keeps
// the neighbors it was given as its "running configuration", follows the
// Driver contract for held neighbors, and reports every neighbor as
// Established. It proves what a controller asks of a driver, never that a
// real router does it: the drivers' own tests run against real daemons.
package fake

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/peering-operator/peering-operator/internal/router"
)

// Driver is a fake router.
type Driver struct {
	mu      sync.Mutex
	running map[netip.Addr]router.Neighbor
	applies []router.Desired
	// ApplyErr, when set, fails every Apply (nothing changes).
	ApplyErr error
	// StateErr, when set, fails every State.
	StateErr error
	// Since is the established time State reports.
	Since time.Time
}

var _ router.Driver = (*Driver)(nil)

// New returns a router running ns.
func New(ns ...router.Neighbor) *Driver {
	d := &Driver{running: map[netip.Addr]router.Neighbor{}, Since: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	for _, n := range ns {
		d.running[n.Address] = n
	}
	return d
}

// Render lists the neighbors, held ones marked.
func (d *Driver) Render(des router.Desired) ([]byte, error) {
	if err := des.Validate(); err != nil {
		return nil, err
	}
	var out []byte
	for _, n := range des.Neighbors {
		out = fmt.Appendf(out, "neighbor %s as %d shutdown=%v limit=%d import=%d\n", n.Address, n.PeerASN, n.Shutdown, n.MaxPrefixes, len(n.Import))
	}
	for _, h := range des.Held {
		out = fmt.Appendf(out, "held %s\n", h.Address)
	}
	return out, nil
}

// Apply makes the running neighbors des' neighbors; a held neighbor stays
// as it runs, taking only its admin state.
func (d *Driver) Apply(_ context.Context, des router.Desired) (router.ApplyResult, error) {
	b, err := d.Render(des)
	if err != nil {
		return router.ApplyResult{}, err
	}
	sum := sha256.Sum256(b)
	res := router.ApplyResult{Digest: "sha256:" + hex.EncodeToString(sum[:])}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.applies = append(d.applies, des)
	if d.ApplyErr != nil {
		return res, d.ApplyErr
	}
	next := map[netip.Addr]router.Neighbor{}
	for _, h := range des.Held {
		n, ok := d.running[h.Address]
		if !ok {
			continue
		}
		if h.Shutdown != nil && n.Shutdown != *h.Shutdown {
			n.Shutdown = *h.Shutdown
			res.Updated++
		}
		next[h.Address] = n
	}
	for _, n := range des.Neighbors {
		old, ok := d.running[n.Address]
		switch {
		case !ok:
			res.Added++
		case !same(old, n):
			res.Updated++
		}
		next[n.Address] = n
	}
	for a := range d.running {
		if _, ok := next[a]; !ok {
			res.Removed++
		}
	}
	d.running = next
	return res, nil
}

func same(a, b router.Neighbor) bool {
	return a.PeerASN == b.PeerASN && a.Description == b.Description && a.Shutdown == b.Shutdown && a.MaxPrefixes == b.MaxPrefixes &&
		a.Password == b.Password && a.RouteServerClient == b.RouteServerClient && slices.Equal(a.Import, b.Import)
}

// State reports every running neighbor Established, unless shut down.
func (d *Driver) State(context.Context) ([]router.NeighborState, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.StateErr != nil {
		return nil, d.StateErr
	}
	var out []router.NeighborState
	for _, a := range slices.SortedFunc(maps.Keys(d.running), netip.Addr.Compare) {
		n := d.running[a]
		s := router.NeighborState{Address: a, State: "Established", EstablishedSince: d.Since, Limit: int64(n.MaxPrefixes)}
		if n.Shutdown {
			s = router.NeighborState{Address: a, State: "Idle", Limit: int64(n.MaxPrefixes), LastError: "administratively down"}
		}
		out = append(out, s)
	}
	return out, nil
}

// Close does nothing.
func (d *Driver) Close() error { return nil }

// Running returns the neighbor at a, if the router has it.
func (d *Driver) Running(a netip.Addr) (router.Neighbor, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	n, ok := d.running[a]
	return n, ok
}

// LastApply is the last Desired given to Apply.
func (d *Driver) LastApply() (router.Desired, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.applies) == 0 {
		return router.Desired{}, false
	}
	return d.applies[len(d.applies)-1], true
}
