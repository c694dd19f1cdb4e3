package controllers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/netip"
	"slices"
	"strings"
	"sync"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
	"github.com/peering-operator/peering-operator/internal/router"
)

// DriverFactory opens a driver for a router.
type DriverFactory func(ctx context.Context, rt *peeringv1.Router, creds *router.Credentials) (router.Driver, error)

// Fleet holds one driver connection per router and what the operator last
// applied to it and read from it. The Router controller writes it; the
// PeeringRequest controller reads it for session state and to know when a
// deleted request's neighbors are gone.
type Fleet struct {
	Factory DriverFactory

	mu      sync.Mutex
	routers map[string]*routerRecord
	// events wakes PeeringRequests whose sessions changed.
	events chan event.TypedGenericEvent[client.Object]
}

type routerRecord struct {
	spec   string // hash of the spec the driver was opened with
	driver router.Driver
	// known: an Apply succeeded since the driver was opened, so owners
	// says what is on the router.
	known bool
	// owners maps a request (namespace/name) to its configured addresses.
	owners map[string][]netip.Addr
	state  map[netip.Addr]router.NeighborState
	// rejected requests with the reason they are not pushed.
	rejected map[string]rejection
}

// NewFleet makes a Fleet that opens drivers with f.
func NewFleet(f DriverFactory) *Fleet {
	return &Fleet{Factory: f, routers: map[string]*routerRecord{}, events: make(chan event.TypedGenericEvent[client.Object], 1024)}
}

// driverFor returns the router's driver, opening it (again) when the spec
// or the credentials changed.
func (f *Fleet) driverFor(ctx context.Context, rt *peeringv1.Router, creds *router.Credentials) (router.Driver, error) {
	key := specKey(rt, creds)
	f.mu.Lock()
	rec := f.routers[rt.Name]
	if rec != nil && rec.spec == key && rec.driver != nil {
		f.mu.Unlock()
		return rec.driver, nil
	}
	f.mu.Unlock()
	d, err := f.Factory(ctx, rt, creds)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if rec != nil && rec.driver != nil {
		_ = rec.driver.Close()
	}
	f.routers[rt.Name] = &routerRecord{spec: key, driver: d, owners: map[string][]netip.Addr{}}
	return d, nil
}

// drop closes a router's driver, e.g. after an error that may have broken
// the connection; the next reconcile opens a new one.
func (f *Fleet) drop(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if rec := f.routers[name]; rec != nil && rec.driver != nil {
		_ = rec.driver.Close()
		rec.driver, rec.known = nil, false
	}
}

// forget removes a deleted router.
func (f *Fleet) forget(name string) {
	f.drop(name)
	f.mu.Lock()
	delete(f.routers, name)
	f.mu.Unlock()
}

// applied records a successful Apply of d and wakes the requests whose
// neighbors it changed.
func (f *Fleet) applied(name string, d router.Desired) {
	owners := map[string][]netip.Addr{}
	for _, n := range d.Neighbors {
		owners[n.Owner] = append(owners[n.Owner], n.Address)
	}
	f.update(name, func(rec *routerRecord) []string {
		wake := changedKeys(rec.owners, owners, slices.Equal[[]netip.Addr])
		rec.known, rec.owners = true, owners
		return wake
	})
}

// rejected records the requests the router controller refused to push, and
// wakes those whose reason changed.
func (f *Fleet) rejected(name string, rej map[string]rejection) {
	f.update(name, func(rec *routerRecord) []string {
		wake := changedKeys(rec.rejected, rej, func(a, b rejection) bool { return a == b })
		rec.rejected = rej
		return wake
	})
}

// update changes a router's record under the lock and wakes the requests
// (namespace/name) change returns.
func (f *Fleet) update(name string, change func(*routerRecord) []string) {
	f.mu.Lock()
	rec := f.routers[name]
	if rec == nil {
		f.mu.Unlock()
		return
	}
	wake := change(rec)
	f.mu.Unlock()
	f.wake(wake)
}

// changedKeys lists the keys added, removed or changed between two maps.
func changedKeys[V any](old, cur map[string]V, equal func(a, b V) bool) []string {
	var out []string
	for k, v := range cur {
		if o, ok := old[k]; !ok || !equal(o, v) {
			out = append(out, k)
		}
	}
	for k := range old {
		if _, ok := cur[k]; !ok {
			out = append(out, k)
		}
	}
	return out
}

// Rejection returns why the router controller refused to push a request.
func (f *Fleet) Rejection(routerName, owner string) (reason, message string, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if rec := f.routers[routerName]; rec != nil {
		r, ok := rec.rejected[owner]
		return r.Reason, r.Message, ok
	}
	return "", "", false
}

// observed records the neighbors' live state and wakes the requests whose
// sessions changed.
func (f *Fleet) observed(name string, states []router.NeighborState) {
	next := map[netip.Addr]router.NeighborState{}
	for _, s := range states {
		next[s.Address] = s
	}
	f.update(name, func(rec *routerRecord) []string {
		var wake []string
		for o, addrs := range rec.owners {
			if slices.ContainsFunc(addrs, func(a netip.Addr) bool { return rec.state[a] != next[a] }) {
				wake = append(wake, o)
			}
		}
		rec.state = next
		return wake
	})
}

func (f *Fleet) wake(owners []string) {
	for _, o := range owners {
		ns, name, ok := cutOwner(o)
		if !ok {
			continue
		}
		pr := &peeringv1.PeeringRequest{}
		pr.Namespace, pr.Name = ns, name
		select {
		case f.events <- event.TypedGenericEvent[client.Object]{Object: pr}:
		default: // the queue is full: the periodic resync catches up
		}
	}
}

// Sessions tells what a request has on a router: whether the router's
// content is known, the configured addresses, and their live state.
func (f *Fleet) Sessions(routerName, owner string) (known bool, configured []netip.Addr, state map[netip.Addr]router.NeighborState) {
	f.mu.Lock()
	defer f.mu.Unlock()
	rec := f.routers[routerName]
	if rec == nil {
		return false, nil, nil
	}
	state = map[netip.Addr]router.NeighborState{}
	for _, a := range rec.owners[owner] {
		if s, ok := rec.state[a]; ok {
			state[a] = s
		}
	}
	return rec.known, append([]netip.Addr(nil), rec.owners[owner]...), state
}

// Events is the source of wake-ups for the PeeringRequest controller.
func (f *Fleet) Events() <-chan event.TypedGenericEvent[client.Object] { return f.events }

func cutOwner(o string) (ns, name string, ok bool) { return strings.Cut(o, "/") }

// specKey hashes what a driver connection depends on; secrets are hashed,
// never stored.
func specKey(rt *peeringv1.Router, c *router.Credentials) string {
	h := sha256.New()
	b, _ := json.Marshal(rt.Spec)
	h.Write(b)
	if c != nil {
		h.Write([]byte(c.Username + "\x00" + c.Password.Reveal() + "\x00" + c.PrivateKey.Reveal() + "\x00" + c.KnownHosts))
	}
	return hex.EncodeToString(h.Sum(nil))
}
