package controllers

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"

	"github.com/peering-operator/peering-operator/internal/peeringdb"
)

// PeeringDBSource is the controllers' access to PeeringDB: a local cache the
// validations read, filled with each IX an IXPort names on first use and
// refreshed incrementally in the background. Reconciles never wait long on
// PeeringDB: what the cache cannot answer is loaded in the background, and
// a reconcile waits for it at most EnsureWait (an outage, with its retries,
// takes far longer, and must not hold up deletions and shutdowns queued
// behind). An outage leaves the cache stale but usable.
type PeeringDBSource struct {
	Cache *peeringdb.Cache
	// RefreshInterval between incremental refreshes; 0 disables them.
	RefreshInterval time.Duration
	// Client lists the IXPorts and requests whose data Start loads ahead
	// of need (the manager's cached client).
	Client client.Reader
	// EnsureWait bounds how long Ensure waits for a load (default 3s).
	EnsureWait time.Duration

	mu sync.Mutex
	// want: per IX, the ASNs asked for that the cache cannot answer yet.
	want map[int]map[uint32]bool
	// lastErr: per IX, what its last load said.
	lastErr map[int]error
	// done is closed when the running load finishes; nil when none runs.
	done chan struct{}
}

// Ensure makes the cache able to answer for ixID and the given peer ASNs,
// fetching only what it cannot answer yet (PeeringDB is not asked again
// for an ASN it already said it does not know; Refresh keeps those current).
// When the load takes longer than EnsureWait it goes on in the background
// and Ensure returns a retryable error saying so.
func (s *PeeringDBSource) Ensure(ctx context.Context, ixID int, asns ...uint32) error {
	if s.Cache.Loaded(ixID, asns...) {
		return nil
	}
	s.mu.Lock()
	if s.want == nil {
		s.want, s.lastErr = map[int]map[uint32]bool{}, map[int]error{}
	}
	if s.want[ixID] == nil {
		s.want[ixID] = map[uint32]bool{}
	}
	for _, a := range asns {
		s.want[ixID][a] = true
	}
	if s.done == nil {
		s.done = make(chan struct{})
		go s.load(context.WithoutCancel(ctx), s.done)
	}
	done := s.done
	s.mu.Unlock()

	wait := s.EnsureWait
	if wait <= 0 {
		wait = 3 * time.Second
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	case <-ctx.Done():
	}
	if s.Cache.Loaded(ixID, asns...) {
		return nil
	}
	s.mu.Lock()
	last := s.lastErr[ixID]
	s.mu.Unlock()
	if last != nil && !peeringdb.IsRetryable(last) {
		return last
	}
	cause := errors.New("loading from PeeringDB in the background")
	if last != nil {
		// Wrapped, not formatted: the IXPort's status finds a throttle
		// (peeringdb.ThrottleOf) in the last attempt's error.
		cause = fmt.Errorf("loading from PeeringDB in the background (last attempt: %w)", last)
	}
	return &peeringdb.Error{Object: "ix", Query: fmt.Sprintf("id=%d", ixID), Kind: peeringdb.ErrUnavailable, Err: cause}
}

// load runs the wanted loads one after the other until none is left.
func (s *PeeringDBSource) load(ctx context.Context, done chan struct{}) {
	for {
		s.mu.Lock()
		ix, asns := -1, []uint32(nil)
		for id, set := range s.want {
			ix = id
			for a := range set {
				asns = append(asns, a)
			}
			delete(s.want, id)
			break
		}
		if ix < 0 {
			s.done = nil
			s.mu.Unlock()
			close(done)
			return
		}
		s.mu.Unlock()
		err := s.Cache.EnsureLoaded(ctx, ix, asns...)
		s.mu.Lock()
		s.lastErr[ix] = err
		s.mu.Unlock()
	}
}

// Start loads what the cluster's IXPorts and requests need, then refreshes
// the cache every RefreshInterval until ctx ends. It runs on every replica,
// so a standby that becomes leader validates from a warm cache.
func (s *PeeringDBSource) Start(ctx context.Context) error {
	exportPeeringDBMetrics(s.Cache)
	log := ctrl.Log.WithName("peeringdb")
	if err := s.warm(ctx); err != nil {
		log.Error(err, "loading PeeringDB ahead of need failed; requests load it on demand")
	}
	if s.RefreshInterval <= 0 {
		<-ctx.Done()
		return nil
	}
	every(ctx, s.RefreshInterval, func() {
		if err := s.Cache.Refresh(ctx); err != nil {
			// The cache keeps serving the previous data and marks itself
			// stale; the status of each object says so.
			log.Error(err, "incremental PeeringDB refresh failed")
		}
	})
	return nil
}

// warm loads every IX an IXPort names, with the ASNs requested on it.
func (s *PeeringDBSource) warm(ctx context.Context) error {
	if s.Client == nil {
		return nil
	}
	var ports peeringv1.IXPortList
	if err := s.Client.List(ctx, &ports); err != nil {
		return err
	}
	var prs peeringv1.PeeringRequestList
	if err := s.Client.List(ctx, &prs); err != nil {
		return err
	}
	asns := map[string][]uint32{}
	for _, pr := range prs.Items {
		asns[pr.Spec.IXPortRef.Name] = append(asns[pr.Spec.IXPortRef.Name], uint32(pr.Spec.PeerASN))
	}
	var errs []error
	for _, p := range ports.Items {
		if err := s.Cache.EnsureLoaded(ctx, int(p.Spec.IX.PeeringDBID), asns[p.Name]...); err != nil {
			errs = append(errs, fmt.Errorf("IX %d (IXPort %s): %w", p.Spec.IX.PeeringDBID, p.Name, err))
		}
	}
	return errors.Join(errs...)
}

// NeedLeaderElection: every replica keeps its cache warm. A refresh is a
// handful of requests an hour, so a standby's share of the rate limit is
// small.
func (s *PeeringDBSource) NeedLeaderElection() bool { return false }
