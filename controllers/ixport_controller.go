package controllers

import (
	"context"
	"fmt"
	"net/netip"
	"sort"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
	"github.com/peering-operator/peering-operator/internal/conditions"
	"github.com/peering-operator/peering-operator/internal/validation"
)

// IXPortReconciler keeps an IXPort's status and protects it from deletion
// while PeeringRequests use it.
type IXPortReconciler struct {
	client.Client
	Reporter      conditions.Reporter
	PeeringDB     *PeeringDBSource
	RetryInterval time.Duration
	// ResyncInterval re-checks the port against the refreshed PeeringDB cache.
	ResyncInterval time.Duration
}

// +kubebuilder:rbac:groups=peering.dev,resources=ixports,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=peering.dev,resources=ixports/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=peering.dev,resources=ixports/finalizers,verbs=update
// +kubebuilder:rbac:groups=peering.dev,resources=routers,verbs=get;list;watch
// +kubebuilder:rbac:groups=peering.dev,resources=peeringrequests,verbs=get;list;watch

// Reconcile computes the status of one IXPort.
func (r *IXPortReconciler) Reconcile(ctx context.Context, req ctrl.Request) (res ctrl.Result, retErr error) {
	port := &peeringv1.IXPort{}
	if err := r.Get(ctx, req.NamespacedName, port); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if port.DeletionTimestamp.IsZero() {
		if err := ensureFinalizer(ctx, r.Client, port, peeringv1.FinalizerInUse); err != nil {
			return ctrl.Result{}, err
		}
	}

	before := port.DeepCopy()
	defer func() {
		port.Status.ObservedGeneration = port.Generation
		finishReconcile(ctx, r.Client, r.Reporter, before, port, statusOfIXPort, conditionsOfIXPort, &res, &retErr)
	}()

	obs, err := r.observe(ctx, port)
	if err != nil {
		return ctrl.Result{}, err
	}
	port.Status.PeeringRequests = int32(len(obs.Users))
	if !port.DeletionTimestamp.IsZero() {
		if len(obs.Users) > 0 {
			conditions.Apply(&port.Status.Conditions, port.Generation, deletionBlocked("PeeringRequest", obs.Users)...)
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, removeFinalizer(ctx, r.Client, port, peeringv1.FinalizerInUse)
	}
	st := computeIXPortStatus(port, obs)
	conditions.Apply(&port.Status.Conditions, port.Generation, st.Conditions...)
	port.Status.IXName = st.IXName
	port.Status.LANPrefixes = st.LANPrefixes
	if st.Retry {
		return ctrl.Result{RequeueAfter: r.RetryInterval}, nil
	}
	return ctrl.Result{RequeueAfter: jitter(r.ResyncInterval)}, nil
}

func (r *IXPortReconciler) observe(ctx context.Context, port *peeringv1.IXPort) (ixPortObserved, error) {
	var obs ixPortObserved
	router := &peeringv1.Router{}
	switch err := r.Get(ctx, client.ObjectKey{Name: port.Spec.RouterRef.Name}, router); {
	case apierrors.IsNotFound(err):
	case err != nil:
		return obs, fmt.Errorf("failed to get Router %q: %w", port.Spec.RouterRef.Name, err)
	default:
		obs.Router = router
	}
	var prs peeringv1.PeeringRequestList
	// Names only: no copy of each request from the cache.
	if err := r.List(ctx, &prs, client.MatchingFields{indexIXPortRef: port.Name}, client.UnsafeDisableDeepCopy); err != nil {
		return obs, fmt.Errorf("failed to list PeeringRequests on IXPort %q: %w", port.Name, err)
	}
	for _, pr := range prs.Items {
		obs.Users = append(obs.Users, pr.Namespace+"/"+pr.Name)
	}
	sort.Strings(obs.Users)
	if obs.Router == nil || !port.DeletionTimestamp.IsZero() {
		return obs, nil
	}
	ixID := int(port.Spec.IX.PeeringDBID)
	obs.PDBErr = r.PeeringDB.Ensure(ctx, ixID)
	obs.PDB = r.PeeringDB.Cache.Status()
	if r.PeeringDB.Cache.HasIX(ixID) {
		var v4, v6 netip.Prefix
		if port.Spec.IPv4Address != "" {
			v4, _ = netip.ParsePrefix(port.Spec.IPv4Address)
		}
		if port.Spec.IPv6Address != "" {
			v6, _ = netip.ParsePrefix(port.Spec.IPv6Address)
		}
		v := validation.ValidateOwnPort(r.PeeringDB.Cache, ixID, uint32(obs.Router.Spec.LocalASN), v4, v6)
		obs.Validation = &v
	}
	return obs, nil
}

// SetupWithManager registers the controller: a Router change wakes its
// ports, a PeeringRequest change wakes its port (for the count and to
// release a port whose deletion waited for its last request), at most once
// per countsEvery.
func (r *IXPortReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&peeringv1.IXPort{}).
		Watches(&peeringv1.Router{}, handler.EnqueueRequestsFromMapFunc(r.portsForRouter)).
		Watches(&peeringv1.PeeringRequest{}, portCounts{}).
		Named("ixport").
		Complete(r)
}

func (r *IXPortReconciler) portsForRouter(ctx context.Context, o client.Object) []reconcile.Request {
	var list peeringv1.IXPortList
	if err := r.List(ctx, &list, client.MatchingFields{indexRouterRef: o.GetName()}); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "failed to list IXPorts for Router", "router", o.GetName())
		return nil
	}
	out := make([]reconcile.Request, 0, len(list.Items))
	for _, p := range list.Items {
		out = append(out, reconcile.Request{NamespacedName: client.ObjectKey{Name: p.Name}})
	}
	return out
}

func statusOfIXPort(o client.Object) any { return o.(*peeringv1.IXPort).Status }

func conditionsOfIXPort(o client.Object) []metav1.Condition {
	return o.(*peeringv1.IXPort).Status.Conditions
}

// countsEvery is how often request changes wake their IXPort at most: 2,000
// new requests cost the port a few status writes instead of one each.
const countsEvery = time.Second

// portCounts wakes a request's IXPort countsEvery after a change; the
// queue keeps one entry per port, so a burst makes one reconcile.
type portCounts struct{}

func (portCounts) add(o client.Object, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	if pr, ok := o.(*peeringv1.PeeringRequest); ok {
		q.AddAfter(reconcile.Request{NamespacedName: client.ObjectKey{Name: pr.Spec.IXPortRef.Name}}, countsEvery)
	}
}

func (p portCounts) Create(_ context.Context, e event.CreateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	p.add(e.Object, q)
}

func (p portCounts) Update(_ context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	p.add(e.ObjectNew, q)
}

func (p portCounts) Delete(_ context.Context, e event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	p.add(e.Object, q)
}

func (p portCounts) Generic(_ context.Context, e event.GenericEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	p.add(e.Object, q)
}
