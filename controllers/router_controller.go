package controllers

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"sort"
	"strconv"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
	"github.com/peering-operator/peering-operator/internal/conditions"
)

// RouterReconciler probes a Router's management port and protects it from
// deletion while IXPorts use it.
type RouterReconciler struct {
	client.Client
	Reporter conditions.Reporter
	// ProbeInterval is the mean time between probes; each is jittered ±20%
	// so a fleet of routers is not probed in lockstep.
	ProbeInterval time.Duration
	// ProbeTimeout bounds one dial.
	ProbeTimeout time.Duration
}

// +kubebuilder:rbac:groups=peering.dev,resources=routers,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=peering.dev,resources=routers/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=peering.dev,resources=routers/finalizers,verbs=update
// +kubebuilder:rbac:groups=peering.dev,resources=ixports,verbs=get;list;watch

// Reconcile computes the status of one Router.
func (r *RouterReconciler) Reconcile(ctx context.Context, req ctrl.Request) (res ctrl.Result, retErr error) {
	rt := &peeringv1.Router{}
	if err := r.Get(ctx, req.NamespacedName, rt); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if rt.DeletionTimestamp.IsZero() {
		if err := ensureFinalizer(ctx, r.Client, rt, FinalizerInUse); err != nil {
			return ctrl.Result{}, err
		}
	}

	before := rt.DeepCopy()
	defer func() {
		rt.Status.ObservedGeneration = rt.Generation
		finishReconcile(ctx, r.Client, r.Reporter, before, rt, statusOfRouter, conditionsOfRouter, &res, &retErr)
	}()

	var ports peeringv1.IXPortList
	if err := r.List(ctx, &ports, client.MatchingFields{indexRouterRef: rt.Name}); err != nil {
		return ctrl.Result{}, fmt.Errorf("failed to list IXPorts on Router %q: %w", rt.Name, err)
	}
	obs := routerObserved{}
	for _, p := range ports.Items {
		obs.Users = append(obs.Users, p.Name)
	}
	sort.Strings(obs.Users)
	if !rt.DeletionTimestamp.IsZero() {
		if len(obs.Users) > 0 {
			conditions.Apply(&rt.Status.Conditions, rt.Generation, deletionBlocked("IXPort", obs.Users)...)
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, removeFinalizer(ctx, r.Client, rt, FinalizerInUse)
	}

	obs.ProbeErr = r.probe(ctx, rt)
	conditions.Apply(&rt.Status.Conditions, rt.Generation, computeRouterStatus(rt, obs)...)
	return ctrl.Result{RequeueAfter: jitter(r.ProbeInterval)}, nil
}

// probe dials the management port. It only opens and closes a TCP
// connection: no login, nothing written.
func (r *RouterReconciler) probe(ctx context.Context, rt *peeringv1.Router) error {
	host := rt.Spec.Address
	if a, err := netip.ParseAddr(host); err == nil {
		host = a.String()
	}
	d := net.Dialer{Timeout: r.ProbeTimeout}
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(int(rt.Spec.DefaultPort()))))
	if err != nil {
		return err
	}
	return conn.Close()
}

// jitter returns d ± 20%.
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return d*8/10 + time.Duration(rand.Int64N(int64(d*4/10)+1))
}

// SetupWithManager registers the controller; an IXPort change wakes its
// router (to release a router whose deletion waited for its last port).
func (r *RouterReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.ProbeInterval == 0 {
		r.ProbeInterval = time.Minute
	}
	if r.ProbeTimeout == 0 {
		r.ProbeTimeout = 5 * time.Second
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&peeringv1.Router{}).
		Watches(&peeringv1.IXPort{}, handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
			return []reconcile.Request{{NamespacedName: client.ObjectKey{Name: o.(*peeringv1.IXPort).Spec.RouterRef.Name}}}
		})).
		Named("router").
		Complete(r)
}

func statusOfRouter(o client.Object) any { return o.(*peeringv1.Router).Status }

func conditionsOfRouter(o client.Object) []metav1.Condition {
	return o.(*peeringv1.Router).Status.Conditions
}
