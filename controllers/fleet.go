package controllers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"sync"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
	"github.com/peering-operator/peering-operator/internal/router"
)

// DriverFactory opens a driver for a router.
type DriverFactory func(ctx context.Context, rt *peeringv1.Router, creds *router.Credentials) (router.Driver, error)

// Fleet holds one driver connection per router, reopened when the Router's
// spec or credentials change. It holds no other state: what is pushed and
// what the router reports live in the objects' status.
type Fleet struct {
	Factory DriverFactory

	mu      sync.Mutex
	routers map[string]*routerConn
}

type routerConn struct {
	spec   string // hash of the spec the driver was opened with
	driver router.Driver
}

// NewFleet makes a Fleet that opens drivers with f.
func NewFleet(f DriverFactory) *Fleet {
	return &Fleet{Factory: f, routers: map[string]*routerConn{}}
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
	if rec := f.routers[rt.Name]; rec != nil && rec.driver != nil {
		_ = rec.driver.Close()
	}
	f.routers[rt.Name] = &routerConn{spec: key, driver: d}
	return d, nil
}

// drop closes a router's driver, e.g. after an error that may have broken
// the connection; the next reconcile opens a new one.
func (f *Fleet) drop(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if rec := f.routers[name]; rec != nil {
		if rec.driver != nil {
			_ = rec.driver.Close()
		}
		delete(f.routers, name)
	}
}

// forget removes a deleted router.
func (f *Fleet) forget(name string) { f.drop(name) }

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
