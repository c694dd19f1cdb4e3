package controllers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/netip"
	"sync"

	"k8s.io/apimachinery/pkg/types"
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
	// uids maps owner to the request's UID, to wake it.
	uids  map[string]types.UID
	state map[netip.Addr]router.NeighborState
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
	f.routers[rt.Name] = &routerRecord{spec: key, driver: d, owners: map[string][]netip.Addr{}, uids: map[string]types.UID{}}
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

// applied records a successful Apply of d (whose neighbors' owners are
// listed with their request UIDs) and wakes the requests it changed.
func (f *Fleet) applied(name string, d router.Desired, uids map[string]types.UID) {
	owners := map[string][]netip.Addr{}
	for _, n := range d.Neighbors {
		owners[n.Owner] = append(owners[n.Owner], n.Address)
	}
	f.mu.Lock()
	rec := f.routers[name]
	if rec == nil {
		f.mu.Unlock()
		return
	}
	var wake []string
	for o := range owners {
		if !sameAddrs(owners[o], rec.owners[o]) {
			wake = append(wake, o)
		}
	}
	for o := range rec.owners {
		if _, ok := owners[o]; !ok {
			wake = append(wake, o)
		}
	}
	all := map[string]types.UID{}
	for o, u := range rec.uids {
		all[o] = u
	}
	for o, u := range uids {
		all[o] = u
	}
	rec.known, rec.owners, rec.uids = true, owners, uids
	f.mu.Unlock()
	f.wake(wake, all)
}

// rejected records the requests the router controller refused to push, and
// wakes those whose reason changed.
func (f *Fleet) rejected(name string, rej map[string]rejection) {
	f.mu.Lock()
	rec := f.routers[name]
	if rec == nil {
		f.mu.Unlock()
		return
	}
	var wake []string
	for o, r := range rej {
		if rec.rejected[o] != r {
			wake = append(wake, o)
		}
	}
	for o := range rec.rejected {
		if _, ok := rej[o]; !ok {
			wake = append(wake, o)
		}
	}
	rec.rejected = rej
	f.mu.Unlock()
	f.wake(wake, nil)
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
	f.mu.Lock()
	rec := f.routers[name]
	if rec == nil {
		f.mu.Unlock()
		return
	}
	var wake []string
	for o, addrs := range rec.owners {
		for _, a := range addrs {
			if rec.state[a] != next[a] {
				wake = append(wake, o)
				break
			}
		}
	}
	rec.state = next
	uids := rec.uids
	f.mu.Unlock()
	f.wake(wake, uids)
}

func (f *Fleet) wake(owners []string, uids map[string]types.UID) {
	for _, o := range owners {
		ns, name, ok := cutOwner(o)
		if !ok {
			continue
		}
		pr := &peeringv1.PeeringRequest{}
		pr.Namespace, pr.Name, pr.UID = ns, name, uids[o]
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

func sameAddrs(a, b []netip.Addr) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func cutOwner(o string) (ns, name string, ok bool) {
	for i := 0; i < len(o); i++ {
		if o[i] == '/' {
			return o[:i], o[i+1:], true
		}
	}
	return "", "", false
}

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
