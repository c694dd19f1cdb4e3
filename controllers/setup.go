package controllers

import (
	"context"
	"fmt"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
	"github.com/peering-operator/peering-operator/internal/conditions"
	"github.com/peering-operator/peering-operator/internal/router"
	"github.com/peering-operator/peering-operator/internal/router/drivers"
)

// Options configure the controllers.
type Options struct {
	// RouterProbeInterval is the mean time between management-port probes.
	RouterProbeInterval time.Duration
	// PeeringDB is the cache the validations read.
	PeeringDB *PeeringDBSource
	// Filters builds the IRR prefix filters.
	Filters *FilterSource
	// Store persists the filters requests pin (PrefixLists).
	Store FilterStore
	// Drivers opens router drivers.
	Drivers drivers.Opener
	// MinApplyInterval collapses bursts of changes into one apply per router.
	MinApplyInterval time.Duration
	// RouterWorkers is how many routers are reconciled at once (default
	// 4): a slow or unreachable router holds up one worker, not the fleet.
	// One router is never reconciled twice at once.
	RouterWorkers int
	// RetryInterval is how soon an object waiting on PeeringDB is retried.
	RetryInterval time.Duration
	// ResyncInterval re-validates settled objects against the refreshed
	// PeeringDB cache.
	ResyncInterval time.Duration
	// WaitingForPeerAfter is how long after its approval a configured
	// request whose sessions never came up is WaitingForPeer (0: never).
	WaitingForPeerAfter time.Duration
	// Report, when set, records a PeeringReport per period (its Client,
	// Reader and PeeringDB are filled in from the manager).
	Report *ReportRecorder
}

// DefaultRouterWorkers is Options.RouterWorkers' default.
const DefaultRouterWorkers = 4

func (o *Options) defaults() {
	if o.RouterProbeInterval == 0 {
		o.RouterProbeInterval = 30 * time.Second
	}
	if o.MinApplyInterval == 0 {
		o.MinApplyInterval = 2 * time.Second
	}
	if o.RouterWorkers <= 0 {
		o.RouterWorkers = DefaultRouterWorkers
	}
	if o.RetryInterval == 0 {
		o.RetryInterval = 30 * time.Second
	}
	if o.ResyncInterval == 0 {
		o.ResyncInterval = 10 * time.Minute
	}
}

// Setup registers the field indexes and every controller with mgr.
func Setup(ctx context.Context, mgr ctrl.Manager, opts Options) error {
	opts.defaults()
	if opts.PeeringDB == nil || opts.PeeringDB.Cache == nil {
		return fmt.Errorf("a PeeringDB cache is required")
	}
	if opts.Filters == nil || opts.Filters.IRR == nil || opts.Filters.Cache == nil {
		return fmt.Errorf("an IRR client and a filter cache are required")
	}
	if opts.Store == nil {
		return fmt.Errorf("a filter store is required")
	}
	if opts.PeeringDB.Client == nil {
		opts.PeeringDB.Client = mgr.GetClient()
	}
	if err := mgr.Add(opts.PeeringDB); err != nil {
		return fmt.Errorf("failed to add the PeeringDB refresher: %w", err)
	}
	if r := opts.Report; r != nil {
		r.Client, r.Reader, r.PeeringDB = mgr.GetClient(), mgr.GetAPIReader(), opts.PeeringDB.Cache
		if err := mgr.Add(r); err != nil {
			return fmt.Errorf("failed to add the report recorder: %w", err)
		}
	}
	if err := mgr.Add(opts.Filters); err != nil {
		return fmt.Errorf("failed to add the filter cache pruner: %w", err)
	}
	if r, ok := opts.Store.(manager.Runnable); ok {
		// Every replica keeps the pinned filters warm, so a new leader
		// pushes at once, without reading thousands of lists first.
		if err := mgr.Add(r); err != nil {
			return fmt.Errorf("failed to add the filter store: %w", err)
		}
	}
	idx := mgr.GetFieldIndexer()
	if err := idx.IndexField(ctx, &peeringv1.PeeringRequest{}, indexIXPortRef, func(o client.Object) []string {
		return []string{o.(*peeringv1.PeeringRequest).Spec.IXPortRef.Name}
	}); err != nil {
		return fmt.Errorf("failed to index PeeringRequests by IXPort: %w", err)
	}
	if err := idx.IndexField(ctx, &peeringv1.IXPort{}, indexRouterRef, func(o client.Object) []string {
		return []string{o.(*peeringv1.IXPort).Spec.RouterRef.Name}
	}); err != nil {
		return fmt.Errorf("failed to index IXPorts by Router: %w", err)
	}

	rec := mgr.GetEventRecorder("peering-operator")
	waits := map[string]bool{peeringv1.ReasonApplied: true, peeringv1.ReasonSessionsEstablished: true, peeringv1.ReasonConfigured: true, peeringv1.ReasonWaitingForApproval: true, peeringv1.ReasonFiltersPending: true, peeringv1.ReasonConfigurationPending: true, peeringv1.ReasonValidated: true, peeringv1.ReasonPortValid: true,
		peeringv1.ReasonInSync: true, peeringv1.ReasonAnnouncing: true, peeringv1.ReasonRouteServerRelays: true,
		peeringv1.ReasonWaitingForPeer: true}
	// Routine steps and good states get no event of their own (measured:
	// 4.6 of 5.8 events per new request); waits for a human, problems,
	// recoveries and Established do.
	quiet := map[string]bool{peeringv1.ReasonFiltersBuilt: true, peeringv1.ReasonFiltersPending: true, peeringv1.ReasonConfigurationPending: true,
		peeringv1.ReasonInSync: true, peeringv1.ReasonAnnouncing: true, peeringv1.ReasonRouteServerRelays: true, peeringv1.ReasonValidated: true,
		peeringv1.ReasonGuardAccepted: true, peeringv1.ReasonFilterUnchanged: true,
		// A new session before the peer has configured its side: expected
		// after ConfigurationPending (1 event per new request, measured);
		// a drop from Established is still a Warning.
		peeringv1.ReasonSessionsDown: true}
	rep := conditions.Reporter{Recorder: rec, Normal: waits, Quiet: quiet}
	fleet := NewFleet(func(ctx context.Context, rt *peeringv1.Router, creds *router.Credentials) (router.Driver, error) {
		return opts.Drivers.Open(ctx, drivers.Target{Driver: string(rt.Spec.Driver), Address: rt.Spec.Address,
			Port: rt.Spec.DefaultPort(), RouteServer: rt.Spec.RouteServer}, creds)
	})
	// A held filter is worth an event even when Ready's reason stays.
	prRep := rep
	prRep.Types = []string{peeringv1.ConditionReady, peeringv1.PeeringRequestFiltersReady, peeringv1.PeeringRequestDriftHeld, peeringv1.PeeringRequestAnnouncing}
	if err := (&RouterReconciler{Client: mgr.GetClient(), Reporter: rep, RequestReporter: prRep, WaitingForPeerAfter: opts.WaitingForPeerAfter, Fleet: fleet, Store: opts.Store, Drivers: opts.Drivers,
		ProbeInterval: opts.RouterProbeInterval, MinApplyInterval: opts.MinApplyInterval, Workers: opts.RouterWorkers}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("failed to set up the Router controller: %w", err)
	}
	if err := (&IXPortReconciler{Client: mgr.GetClient(), Reporter: rep, PeeringDB: opts.PeeringDB,
		RetryInterval: opts.RetryInterval, ResyncInterval: opts.ResyncInterval}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("failed to set up the IXPort controller: %w", err)
	}
	if err := (&PeeringRequestReconciler{Client: mgr.GetClient(), Reporter: prRep, PeeringDB: opts.PeeringDB, Filters: opts.Filters, Store: opts.Store,
		RetryInterval: opts.RetryInterval, ResyncInterval: opts.ResyncInterval, WaitingForPeerAfter: opts.WaitingForPeerAfter}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("failed to set up the PeeringRequest controller: %w", err)
	}
	return nil
}
