package controllers

import (
	"context"
	"sync"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/peering-operator/peering-operator/internal/peeringdb"
)

// PeeringDBSource is the controllers' access to PeeringDB: a local cache the
// validations read, filled with each IX an IXPort names on first use and
// refreshed incrementally in the background. Reconciles never wait on
// PeeringDB for an IX already loaded; an outage leaves the cache stale but
// usable.
type PeeringDBSource struct {
	Cache *peeringdb.Cache
	// RefreshInterval between incremental refreshes; 0 disables them.
	RefreshInterval time.Duration

	mu sync.Mutex // one load at a time, so N reconciles do not load one IX N times
}

// Ensure makes the cache able to answer for ixID and the given peer ASNs,
// fetching only what it cannot answer yet (PeeringDB is not asked again
// for an ASN it already said it does not know; Refresh keeps those current).
func (s *PeeringDBSource) Ensure(ctx context.Context, ixID int, asns ...uint32) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.Cache.EnsureLoaded(ctx, ixID, asns...)
}

// Start refreshes the cache every RefreshInterval until ctx ends. It runs as
// a manager Runnable, on the leader only.
func (s *PeeringDBSource) Start(ctx context.Context) error {
	if s.RefreshInterval <= 0 {
		<-ctx.Done()
		return nil
	}
	log := ctrl.Log.WithName("peeringdb")
	every(ctx, s.RefreshInterval, func() {
		if err := s.Cache.Refresh(ctx); err != nil {
			// The cache keeps serving the previous data and marks itself
			// stale; the status of each object says so.
			log.Error(err, "incremental PeeringDB refresh failed")
		}
	})
	return nil
}

// NeedLeaderElection: only the leader talks to PeeringDB.
func (s *PeeringDBSource) NeedLeaderElection() bool { return true }
