package controllers

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
	"github.com/peering-operator/peering-operator/internal/conditions"
	"github.com/peering-operator/peering-operator/internal/irr"
	"github.com/peering-operator/peering-operator/internal/peeringdb"
	"github.com/peering-operator/peering-operator/internal/policy"
	"github.com/peering-operator/peering-operator/internal/validation"
)

// PeeringRequestReconciler turns a PeeringRequest into neighbors on a router.
type PeeringRequestReconciler struct {
	client.Client
	Reporter  conditions.Reporter
	PeeringDB *PeeringDBSource
	Filters   *FilterSource
	// Store persists the filters a request pins (PrefixLists).
	Store FilterStore
	// RetryInterval is how soon a request waiting on PeeringDB is retried.
	RetryInterval time.Duration
	// ResyncInterval re-validates settled requests against the refreshed
	// PeeringDB cache (jittered).
	ResyncInterval time.Duration
	// WaitingForPeerAfter is how long after its approval a request whose
	// sessions never came up is WaitingForPeer (0: never).
	WaitingForPeerAfter time.Duration

	mu sync.Mutex
	// pruned: per request, the pin whose superseded PrefixLists are gone.
	pruned map[types.UID]string
}

// +kubebuilder:rbac:groups=peering.dev,resources=peeringrequests,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=peering.dev,resources=peeringrequests/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=peering.dev,resources=peeringrequests/finalizers,verbs=update
// +kubebuilder:rbac:groups=peering.dev,resources=prefixlists,verbs=get;list;create;delete
// +kubebuilder:rbac:groups=peering.dev,resources=ixports,verbs=get;list;watch
// +kubebuilder:rbac:groups=peering.dev,resources=routers,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile computes the status of one PeeringRequest.
func (r *PeeringRequestReconciler) Reconcile(ctx context.Context, req ctrl.Request) (res ctrl.Result, retErr error) {
	pr := &peeringv1.PeeringRequest{}
	if err := r.Get(ctx, req.NamespacedName, pr); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	// The finalizer first: its write moves the resourceVersion, and the
	// status patch below is locked to the version it started from.
	if pr.DeletionTimestamp.IsZero() {
		if err := ensureFinalizer(ctx, r.Client, pr, peeringv1.FinalizerNeighborCleanup); err != nil {
			return ctrl.Result{}, err
		}
	}
	before := pr.DeepCopy()
	defer func() {
		pr.Status.ObservedGeneration = pr.Generation
		finishReconcile(ctx, r.Client, r.Reporter, before, pr, statusOfPeeringRequest, conditionsOfPeeringRequest, &res, &retErr)
	}()
	if !pr.DeletionTimestamp.IsZero() {
		return r.reconcileDelete(ctx, pr)
	}

	obs, err := r.observe(ctx, pr)
	if err != nil {
		return ctrl.Result{}, err
	}
	st := computePeeringRequestStatus(pr, obs)
	// A new pin's filters are persisted before the pin is written, so the
	// Router controller (this replica or the next leader) can always read
	// what the pin names.
	for _, f := range st.Pin.Save {
		if err := r.Store.Save(ctx, pr, f, obs.FilterSources); err != nil {
			return ctrl.Result{}, fmt.Errorf("failed to persist the IPv%d filter %s of PeeringRequest %s/%s (the pinned configuration stays as it was): %w",
				f.Key.Family, f.Summary.Digest, pr.Namespace, pr.Name, err)
		}
	}
	log := ctrl.LoggerFrom(ctx)
	if pin := st.Pin.Config; pin != nil && (pr.Status.Config == nil || pr.Status.Config.Digest != pin.Digest) {
		log.Info("pinned", "config", pin.Digest, "sessions", len(pin.Sessions), "reason", pin.Reason, "message", pin.Message)
	}
	conditions.Apply(&pr.Status.Conditions, pr.Generation, st.Conditions...)
	pr.Status.Approval = &st.Approval
	pr.Status.Peer = st.Peer
	if st.WriteSessions {
		pr.Status.Sessions = st.Sessions
	}
	pr.Status.SessionSummary = st.SessionSummary
	pr.Status.Filters = st.Filters
	pr.Status.ExportFilters = st.ExportFilters
	pr.Status.Exports = st.Exports
	pr.Status.Imports = st.Imports
	pr.Status.Config = st.Pin.Config
	pr.Status.Drift = st.Pin.Drift
	exportDriftMetric(pr, st.Pin)
	exportRequestMetrics(pr)
	r.pruneSuperseded(ctx, pr)
	if ready := meta.FindStatusCondition(pr.Status.Conditions, peeringv1.ConditionReady); ready != nil {
		log.V(1).Info("reconciled", "ready", ready.Reason, "pinned", st.Pin.Config != nil)
	}
	if st.Retry {
		return ctrl.Result{RequeueAfter: r.RetryInterval}, nil
	}
	return ctrl.Result{RequeueAfter: jitter(r.ResyncInterval)}, nil
}

// observe reads what the request depends on.
func (r *PeeringRequestReconciler) observe(ctx context.Context, pr *peeringv1.PeeringRequest) (prObserved, error) {
	obs := prObserved{Now: time.Now(), WaitingForPeerAfter: r.WaitingForPeerAfter}
	port := &peeringv1.IXPort{}
	switch err := r.Get(ctx, client.ObjectKey{Name: pr.Spec.IXPortRef.Name}, port); {
	case apierrors.IsNotFound(err):
	case err != nil:
		return obs, fmt.Errorf("failed to get IXPort %q: %w", pr.Spec.IXPortRef.Name, err)
	default:
		obs.IXPort = port
	}
	if obs.IXPort == nil {
		return obs, nil
	}
	router := &peeringv1.Router{}
	switch err := r.Get(ctx, client.ObjectKey{Name: port.Spec.RouterRef.Name}, router); {
	case apierrors.IsNotFound(err):
		return obs, nil
	case err != nil:
		return obs, fmt.Errorf("failed to get Router %q: %w", port.Spec.RouterRef.Name, err)
	default:
		obs.Router = router
	}
	obs.ExportSets, obs.ExportBadSets, obs.ExportErr = exportSetsOf(router, port, pr)
	ixID := int(port.Spec.IX.PeeringDBID)
	obs.PDBErr = r.PeeringDB.Ensure(ctx, ixID, uint32(pr.Spec.PeerASN))
	obs.PDB = r.PeeringDB.Cache.Status()
	if obs.PDBErr != nil && peeringdb.IsRetryable(obs.PDBErr) {
		// Without PeeringDB's answer "not in PeeringDB" would be a guess;
		// stale data for what was loaded before is still used.
		if _, ok := r.PeeringDB.Cache.Network(uint32(pr.Spec.PeerASN)); !ok || !r.PeeringDB.Cache.HasIX(ixID) {
			return obs, nil
		}
	}
	req := validation.Request{IXID: ixID, PeerASN: uint32(pr.Spec.PeerASN), RouteServer: router.Spec.RouteServer}
	for _, a := range pr.Spec.Addresses {
		if addr, err := netip.ParseAddr(a); err == nil {
			req.Addresses = append(req.Addresses, addr)
		}
	}
	v := validation.ValidateRequest(r.PeeringDB.Cache, req)
	obs.Validation = &v
	if !v.OK() {
		return obs, nil
	}
	// Filters are built before approval, so the NOC sees what the peer's
	// AS-SET expands to before deciding.
	obs.FilterSets, obs.FilterBadSets, obs.FilterCorrupt = filterSets(pr, v.Peer.IRRASSet)
	obs.FilterSources = port.Spec.PeerDefaults.IRRSources
	// A route server's own AS-SET says nothing about what it relays.
	anyNonBogon := pr.Spec.RouteServer && pr.Spec.IRRASSet == ""
	if anyNonBogon {
		obs.FilterSets, obs.FilterBadSets, obs.FilterSources = []string{policy.RouteServerSet}, nil, nil
	}
	for _, fam := range families(v.Sessions) {
		var baseline *peeringv1.FilterStatus
		if f := pr.Status.Filters; f != nil {
			baseline = map[int]*peeringv1.FilterStatus{4: f.IPv4, 6: f.IPv6}[fam]
		}
		if anyNonBogon {
			obs.Filters = append(obs.Filters, r.Filters.BuildRouteServer(fam, baseline, pr.Annotations[AnnotationAcceptFilter]))
			continue
		}
		obs.Filters = append(obs.Filters, r.Filters.Build(ctx, fam, obs.FilterSets, obs.FilterSources, baseline,
			pr.Annotations[AnnotationAcceptFilter]))
	}
	// What we announce from our AS-SET is built the same way, with the
	// port's IRR sources, and guarded against its pinned list.
	if len(obs.ExportSets) > 0 {
		for _, fam := range families(v.Sessions) {
			var baseline *peeringv1.FilterStatus
			if f := pr.Status.ExportFilters; f != nil {
				baseline = map[int]*peeringv1.FilterStatus{4: f.IPv4, 6: f.IPv6}[fam]
			}
			f := r.Filters.Build(ctx, fam, obs.ExportSets, port.Spec.PeerDefaults.IRRSources, baseline, pr.Annotations[AnnotationAcceptFilter])
			f.Message = "export " + f.Message
			obs.ExportFilters = append(obs.ExportFilters, f)
		}
	}
	return obs, nil
}

// filterSets is what the filter expands: spec.irrASSet when set, else the
// peer's AS-SETs from PeeringDB, else the peer's AS alone. Tokens that are
// not AS-SET or ASN names (PeeringDB's field is free text) are returned
// apart, for the message; a corrupt PeeringDB field (a control character)
// is not used at all, and corrupt says why.
func filterSets(pr *peeringv1.PeeringRequest, fromPeeringDB string) (sets, bad []string, corrupt string) {
	field := pr.Spec.IRRASSet
	if field == "" {
		field = fromPeeringDB
	}
	sets, bad, err := irr.ParseSetList(field)
	if err != nil {
		corrupt = fmt.Sprintf("PeeringDB's irr_as_set for AS%d is ignored: %v; set spec.irrASSet to name the right AS-SET", pr.Spec.PeerASN, err)
	}
	if len(sets) == 0 {
		sets = []string{fmt.Sprintf("AS%d", pr.Spec.PeerASN)}
	}
	return sets, bad, corrupt
}

// families lists the address families (4, 6) of the sessions.
func families(ss []validation.Session) []int {
	var v4, v6 bool
	for _, s := range ss {
		v4 = v4 || s.Address.Is4()
		v6 = v6 || s.Address.Is6()
	}
	var out []int
	if v4 {
		out = append(out, 4)
	}
	if v6 {
		out = append(out, 6)
	}
	return out
}

// reconcileDelete waits until the Router controller reports that the
// router no longer has the request's neighbors (status.applied: Removed),
// then deletes the request's PrefixLists and lets it go. A request that
// never reached a router goes at once.
func (r *PeeringRequestReconciler) reconcileDelete(ctx context.Context, pr *peeringv1.PeeringRequest) (ctrl.Result, error) {
	gone := func() (ctrl.Result, error) {
		if err := r.Store.Prune(ctx, pr); err != nil {
			return ctrl.Result{}, fmt.Errorf("failed to delete the PrefixLists of PeeringRequest %s/%s: %w", pr.Namespace, pr.Name, err)
		}
		deleteSessionMetrics(pr)
		deleteDriftMetric(pr)
		return ctrl.Result{}, removeFinalizer(ctx, r.Client, pr, peeringv1.FinalizerNeighborCleanup)
	}
	if !mayBeOnRouter(pr) {
		return gone()
	}
	if a := pr.Status.Applied; a != nil && a.Result == peeringv1.AppliedResultRemoved {
		return gone()
	}
	port := &peeringv1.IXPort{}
	if err := r.Get(ctx, client.ObjectKey{Name: pr.Spec.IXPortRef.Name}, port); err != nil {
		if apierrors.IsNotFound(err) {
			return gone() // no port, no router: nothing to remove
		}
		return ctrl.Result{}, err
	}
	rt := &peeringv1.Router{}
	if err := r.Get(ctx, client.ObjectKey{Name: port.Spec.RouterRef.Name}, rt); err != nil {
		if apierrors.IsNotFound(err) {
			return gone()
		}
		return ctrl.Result{}, err
	}
	msg := fmt.Sprintf("deleting: waiting for Router %q to remove the neighbors (it reports it in status.applied)", rt.Name)
	conditions.Apply(&pr.Status.Conditions, pr.Generation,
		kstatus(conditions.False(peeringv1.ConditionReady, peeringv1.ReasonNeighborRemovalWaits, msg), false, true)...)
	return ctrl.Result{RequeueAfter: r.RetryInterval}, nil
}

// mayBeOnRouter: the request was approved and pinned, or the router
// reported sessions for it (a request approved by an operator version that
// did not pin).
func mayBeOnRouter(pr *peeringv1.PeeringRequest) bool {
	if !meta.IsStatusConditionTrue(pr.Status.Conditions, peeringv1.PeeringRequestApproved) {
		return false
	}
	if pr.Status.Config != nil || pr.Status.Applied != nil {
		return true
	}
	return len(legacyAddresses(pr)) > 0
}

// pruneSuperseded deletes the request's PrefixLists that no longer back its
// pin, once the router has the pin. It runs once per pin this replica saw
// change, not on every reconcile.
func (r *PeeringRequestReconciler) pruneSuperseded(ctx context.Context, pr *peeringv1.PeeringRequest) {
	pin, a := pr.Status.Config, pr.Status.Applied
	if pin == nil || a == nil || a.Result != peeringv1.AppliedResultApplied || a.ConfigDigest != pin.Digest {
		return
	}
	r.mu.Lock()
	done := r.pruned[pr.UID] == pin.Digest
	r.mu.Unlock()
	if done {
		return
	}
	keep := pinDigests(pin)
	if err := r.Store.Prune(ctx, pr, keep...); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "failed to delete superseded PrefixLists; retried on the next reconcile")
		return
	}
	r.mu.Lock()
	if r.pruned == nil {
		r.pruned = map[types.UID]string{}
	}
	r.pruned[pr.UID] = pin.Digest
	r.mu.Unlock()
}

// SetupWithManager registers the controller; a change to an IXPort wakes the
// requests that use it.
func (r *PeeringRequestReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		// No predicate on For: the approver writes the status, and that
		// write must wake the controller.
		For(&peeringv1.PeeringRequest{}).
		// A request reads its IXPort's and Router's spec (the Router's
		// spec.drain is in its conditions), never their status: a status
		// write there (every few new requests on a port) must not wake
		// all its requests (measured: 10% of the operator's CPU at 10,000
		// requests).
		Watches(&peeringv1.IXPort{}, handler.EnqueueRequestsFromMapFunc(r.requestsForIXPort), builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&peeringv1.Router{}, handler.EnqueueRequestsFromMapFunc(r.requestsForRouter), builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Named("peeringrequest").
		// IRR queries can take seconds for a large AS-SET; one slow peer
		// must not hold up the others.
		WithOptions(controller.Options{MaxConcurrentReconciles: 4}).
		Complete(r)
}

// requestsForRouter maps a Router to the requests on its IXPorts.
func (r *PeeringRequestReconciler) requestsForRouter(ctx context.Context, o client.Object) []reconcile.Request {
	var ports peeringv1.IXPortList
	if err := r.List(ctx, &ports, client.MatchingFields{indexRouterRef: o.GetName()}, client.UnsafeDisableDeepCopy); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "failed to list IXPorts for Router", "router", o.GetName())
		return nil
	}
	var out []reconcile.Request
	for i := range ports.Items {
		out = append(out, r.requestsForIXPort(ctx, &ports.Items[i])...)
	}
	return out
}

// requestsForIXPort maps an IXPort to the requests that reference it.
func (r *PeeringRequestReconciler) requestsForIXPort(ctx context.Context, o client.Object) []reconcile.Request {
	var list peeringv1.PeeringRequestList
	// Names only: no copy of each request from the cache.
	if err := r.List(ctx, &list, client.MatchingFields{indexIXPortRef: o.GetName()}, client.UnsafeDisableDeepCopy); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "failed to list PeeringRequests for IXPort", "ixport", o.GetName())
		return nil
	}
	out := make([]reconcile.Request, 0, len(list.Items))
	for _, pr := range list.Items {
		out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&pr)})
	}
	return out
}

func statusOfPeeringRequest(o client.Object) any { return o.(*peeringv1.PeeringRequest).Status }

func conditionsOfPeeringRequest(o client.Object) []metav1.Condition {
	return o.(*peeringv1.PeeringRequest).Status.Conditions
}
