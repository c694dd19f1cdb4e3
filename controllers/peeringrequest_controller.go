package controllers

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
	"github.com/peering-operator/peering-operator/internal/conditions"
	"github.com/peering-operator/peering-operator/internal/irr"
	"github.com/peering-operator/peering-operator/internal/peeringdb"
	"github.com/peering-operator/peering-operator/internal/validation"
)

// PeeringRequestReconciler turns a PeeringRequest into neighbors on a router.
type PeeringRequestReconciler struct {
	client.Client
	Reporter  conditions.Reporter
	PeeringDB *PeeringDBSource
	Filters   *FilterSource
	Fleet     *Fleet
	// RetryInterval is how soon a request waiting on PeeringDB is retried.
	RetryInterval time.Duration
	// ResyncInterval re-validates settled requests against the refreshed
	// PeeringDB cache (jittered).
	ResyncInterval time.Duration
}

// +kubebuilder:rbac:groups=peering.dev,resources=peeringrequests,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=peering.dev,resources=peeringrequests/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=peering.dev,resources=peeringrequests/finalizers,verbs=update
// +kubebuilder:rbac:groups=peering.dev,resources=ixports,verbs=get;list;watch
// +kubebuilder:rbac:groups=peering.dev,resources=routers,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile computes the status of one PeeringRequest.
func (r *PeeringRequestReconciler) Reconcile(ctx context.Context, req ctrl.Request) (res ctrl.Result, retErr error) {
	pr := &peeringv1.PeeringRequest{}
	if err := r.Get(ctx, req.NamespacedName, pr); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	before := pr.DeepCopy()
	defer func() {
		pr.Status.ObservedGeneration = pr.Generation
		finishReconcile(ctx, r.Client, r.Reporter, before, pr, statusOfPeeringRequest, conditionsOfPeeringRequest, &res, &retErr)
	}()
	if !pr.DeletionTimestamp.IsZero() {
		return r.reconcileDelete(ctx, pr)
	}
	if err := ensureFinalizer(ctx, r.Client, pr, FinalizerNeighborCleanup); err != nil {
		return ctrl.Result{}, err
	}

	obs, err := r.observe(ctx, pr)
	if err != nil {
		return ctrl.Result{}, err
	}
	st := computePeeringRequestStatus(pr, obs)
	conditions.Apply(&pr.Status.Conditions, pr.Generation, st.Conditions...)
	pr.Status.Approval = &st.Approval
	pr.Status.Peer = st.Peer
	pr.Status.Sessions = st.Sessions
	pr.Status.SessionSummary = st.SessionSummary
	pr.Status.Filters = st.Filters
	if obs.Router != nil {
		exportSessionMetrics(obs.Router.Name, pr)
	}
	if st.Retry {
		return ctrl.Result{RequeueAfter: r.RetryInterval}, nil
	}
	return ctrl.Result{RequeueAfter: jitter(r.ResyncInterval)}, nil
}

// observe reads what the request depends on.
func (r *PeeringRequestReconciler) observe(ctx context.Context, pr *peeringv1.PeeringRequest) (prObserved, error) {
	var obs prObserved
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
	owner := pr.Namespace + "/" + pr.Name
	obs.RouterKnown, obs.Configured, obs.State = r.Fleet.Sessions(router.Name, owner)
	obs.RejectReason, obs.RejectMessage, _ = r.Fleet.Rejection(router.Name, owner)

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
	obs.FilterSets, obs.FilterBadSets = filterSets(pr, v.Peer.IRRASSet)
	obs.FilterSources = port.Spec.PeerDefaults.IRRSources
	for _, fam := range families(v.Sessions) {
		var old *peeringv1.FilterStatus
		if f := pr.Status.Filters; f != nil {
			old = map[int]*peeringv1.FilterStatus{4: f.IPv4, 6: f.IPv6}[fam]
		}
		obs.Filters = append(obs.Filters, r.Filters.Build(ctx, pr.UID, fam, obs.FilterSets, obs.FilterSources, old,
			pr.Annotations[AnnotationAcceptFilter]))
	}
	return obs, nil
}

// filterSets is what the filter expands: spec.irrASSet when set, else the
// peer's AS-SETs from PeeringDB, else the peer's AS alone. Tokens that are
// not AS-SET or ASN names (PeeringDB's field is free text) are returned
// apart, for the message.
func filterSets(pr *peeringv1.PeeringRequest, fromPeeringDB string) (sets, bad []string) {
	field := pr.Spec.IRRASSet
	if field == "" {
		field = fromPeeringDB
	}
	sets, bad = irr.ParseSetList(field)
	if len(sets) == 0 {
		sets = []string{fmt.Sprintf("AS%d", pr.Spec.PeerASN)}
	}
	return sets, bad
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

// reconcileDelete waits until the Router controller has removed the
// request's neighbors (it leaves deleted requests out of the desired set),
// then lets the request go. A request that was never approved was never
// pushed and goes at once.
func (r *PeeringRequestReconciler) reconcileDelete(ctx context.Context, pr *peeringv1.PeeringRequest) (ctrl.Result, error) {
	gone := func() (ctrl.Result, error) {
		r.Filters.Forget(pr.UID)
		deleteSessionMetrics(pr)
		return ctrl.Result{}, removeFinalizer(ctx, r.Client, pr, FinalizerNeighborCleanup)
	}
	if !meta.IsStatusConditionTrue(pr.Status.Conditions, peeringv1.PeeringRequestApproved) {
		return gone()
	}
	port := &peeringv1.IXPort{}
	if err := r.Get(ctx, client.ObjectKey{Name: pr.Spec.IXPortRef.Name}, port); err != nil {
		if apierrors.IsNotFound(err) {
			return gone() // no port, no router: nothing was pushed
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
	known, configured, _ := r.Fleet.Sessions(rt.Name, pr.Namespace+"/"+pr.Name)
	if known && len(configured) == 0 {
		return gone()
	}
	msg := fmt.Sprintf("deleting: waiting for Router %q to remove the neighbors", rt.Name)
	if !known {
		msg = fmt.Sprintf("deleting: waiting for Router %q to be reachable, so its neighbors can be removed", rt.Name)
	}
	conditions.Apply(&pr.Status.Conditions, pr.Generation,
		kstatus(conditions.False(peeringv1.ConditionReady, ReasonNeighborRemovalWaits, msg), false, true)...)
	return ctrl.Result{RequeueAfter: r.RetryInterval}, nil
}

// SetupWithManager registers the controller; a change to an IXPort wakes the
// requests that use it.
func (r *PeeringRequestReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		// No predicate on For: the approver writes the status, and that
		// write must wake the controller.
		For(&peeringv1.PeeringRequest{}).
		Watches(&peeringv1.IXPort{}, handler.EnqueueRequestsFromMapFunc(r.requestsForIXPort)).
		// The Router controller wakes a request when its sessions change.
		WatchesRawSource(source.Channel(r.Fleet.Events(), &handler.EnqueueRequestForObject{})).
		Named("peeringrequest").
		// IRR queries can take seconds for a large AS-SET; one slow peer
		// must not hold up the others.
		WithOptions(controller.Options{MaxConcurrentReconciles: 4}).
		Complete(r)
}

// requestsForIXPort maps an IXPort to the requests that reference it.
func (r *PeeringRequestReconciler) requestsForIXPort(ctx context.Context, o client.Object) []reconcile.Request {
	var list peeringv1.PeeringRequestList
	if err := r.List(ctx, &list, client.MatchingFields{indexIXPortRef: o.GetName()}); err != nil {
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
