// Package fake is an in-memory router.Driver for controller tests: it keeps
// the neighbors it was given as its "running configuration", follows the
// Driver contract for held neighbors, and reports every neighbor as
// Established unless it is shut down or a test took its session down (Trip,
// Down) and no hard Clear brought it back. It proves what a controller asks
// of a driver, never that a real router does it: the drivers' own tests run
// against real daemons.
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
	// ClearErr, when set, fails every Clear (the call is recorded,
	// nothing is cleared).
	ClearErr error
	// Since is the established time State reports for a session no
	// Clear restarted.
	Since time.Time
	// down: sessions a test took down, with their LastError.
	down map[netip.Addr]string
	// restarted: when a hard Clear restarted a session.
	restarted map[netip.Addr]time.Time
	clears    []ClearCall
}

// ClearCall is one call of Clear.
type ClearCall struct {
	Addrs []netip.Addr
	Soft  bool
}

var _ router.Driver = (*Driver)(nil)

// New returns a router running ns.
func New(ns ...router.Neighbor) *Driver {
	d := &Driver{running: map[netip.Addr]router.Neighbor{}, Since: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		down: map[netip.Addr]string{}, restarted: map[netip.Addr]time.Time{}}
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
		out = fmt.Appendf(out, "neighbor %s as %d shutdown=%v limit=%d restart=%s import=%d\n", n.Address, n.PeerASN, n.Shutdown, n.MaxPrefixes, n.MaxPrefixRestart, len(n.Import))
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
			delete(d.down, a)
			delete(d.restarted, a)
		}
	}
	d.running = next
	return res, nil
}

func same(a, b router.Neighbor) bool {
	return a.PeerASN == b.PeerASN && a.Description == b.Description && a.Shutdown == b.Shutdown && a.MaxPrefixes == b.MaxPrefixes && a.MaxPrefixRestart == b.MaxPrefixRestart &&
		a.Password == b.Password && a.RouteServerClient == b.RouteServerClient && slices.Equal(a.Import, b.Import)
}

// State reports every running neighbor Established, unless shut down or
// taken down.
func (d *Driver) State(context.Context) ([]router.NeighborState, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.StateErr != nil {
		return nil, d.StateErr
	}
	var out []router.NeighborState
	for _, a := range slices.SortedFunc(maps.Keys(d.running), netip.Addr.Compare) {
		n := d.running[a]
		since := d.Since
		if t, ok := d.restarted[a]; ok {
			since = t
		}
		s := router.NeighborState{Address: a, State: "Established", EstablishedSince: since, Limit: int64(n.MaxPrefixes)}
		if why, ok := d.down[a]; ok {
			s = router.NeighborState{Address: a, State: "Idle", Limit: int64(n.MaxPrefixes), LastError: why}
		}
		if n.Shutdown {
			s = router.NeighborState{Address: a, State: "Idle", Limit: int64(n.MaxPrefixes), LastError: "administratively down"}
		}
		out = append(out, s)
	}
	return out, nil
}

// Clear records the call and checks, as the drivers do, that every
// address is a running neighbor (else router.ErrInvalid, nothing
// cleared). A hard Clear brings back a session a test took down and
// restarts it (EstablishedSince: now); a neighbor configured shutdown
// stays down, as on a real router. A soft Clear changes nothing.
func (d *Driver) Clear(_ context.Context, addrs []netip.Addr, soft bool) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.clears = append(d.clears, ClearCall{Addrs: slices.Clone(addrs), Soft: soft})
	if d.ClearErr != nil {
		return d.ClearErr
	}
	for _, a := range addrs {
		if _, ok := d.running[a]; !ok {
			return fmt.Errorf("%w: clear: %s is not a managed neighbor", router.ErrInvalid, a)
		}
	}
	if soft {
		return nil
	}
	now := time.Now().UTC()
	for _, a := range addrs {
		if d.running[a].Shutdown {
			continue
		}
		delete(d.down, a)
		d.restarted[a] = now
	}
	return nil
}

// Clears lists the Clear calls so far.
func (d *Driver) Clears() []ClearCall {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]ClearCall, len(d.clears))
	for i, c := range d.clears {
		out[i] = ClearCall{Addrs: slices.Clone(c.Addrs), Soft: c.Soft}
	}
	return out
}

// Down takes the session of the running neighbor at a down, as the
// router would after an error, with lastError as State's LastError,
// until a hard Clear. It reports whether a is running.
func (d *Driver) Down(a netip.Addr, lastError string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.running[a]; !ok {
		return false
	}
	d.down[a] = lastError
	return true
}

// Trip is Down after the neighbor's prefix limit tripped.
func (d *Driver) Trip(a netip.Addr) bool {
	n, _ := d.Running(a)
	return d.Down(a, fmt.Sprintf("maximum prefix limit %d exceeded; session held down", n.MaxPrefixes))
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
