package controllers

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
	"github.com/peering-operator/peering-operator/internal/conditions"
	"github.com/peering-operator/peering-operator/internal/metrics"
	"github.com/peering-operator/peering-operator/internal/router"
	"github.com/peering-operator/peering-operator/internal/router/cli"
	"github.com/peering-operator/peering-operator/internal/router/drivers"
)

// RouterReconciler pushes every approved, validated neighbor of a Router in
// one batch (one diff, one transaction), reads the sessions back, and
// protects the Router from deletion while IXPorts use it.
type RouterReconciler struct {
	client.Client
	Reporter conditions.Reporter
	Fleet    *Fleet
	Filters  *FilterSource
	Drivers  drivers.Opener
	// ProbeInterval is the mean time between state polls (and, for
	// routers without a driver, TCP probes); jittered ±20% so a fleet of
	// routers is not polled in lockstep.
	ProbeInterval time.Duration
	// ProbeTimeout bounds one dial.
	ProbeTimeout time.Duration
	// MinApplyInterval collapses bursts: changes arriving within it are
	// applied together.
	MinApplyInterval time.Duration

	mu        sync.Mutex
	lastApply map[string]time.Time
}

// +kubebuilder:rbac:groups=peering.dev,resources=routers,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=peering.dev,resources=routers/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=peering.dev,resources=routers/finalizers,verbs=update
// +kubebuilder:rbac:groups=peering.dev,resources=ixports,verbs=get;list;watch
// +kubebuilder:rbac:groups=peering.dev,resources=peeringrequests,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get

// Reasons of a Router.
const (
	ReasonReachable         = "Reachable"
	ReasonUnreachable       = "Unreachable"
	ReasonApplied           = "Applied"
	ReasonApplyFailed       = "ApplyFailed"
	ReasonDriverUnavailable = "DriverUnavailable"
	ReasonCredentialsError  = "CredentialsError"
	ReasonWaitingForFilters = "WaitingForFilters"
)

// Reconcile pushes the desired neighbors and reads the sessions.
func (r *RouterReconciler) Reconcile(ctx context.Context, req ctrl.Request) (res ctrl.Result, retErr error) {
	rt := &peeringv1.Router{}
	if err := r.Get(ctx, req.NamespacedName, rt); err != nil {
		if apierrors.IsNotFound(err) {
			r.Fleet.forget(req.Name)
		}
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
	var users []string
	for _, p := range ports.Items {
		users = append(users, p.Name)
	}
	sort.Strings(users)
	if !rt.DeletionTimestamp.IsZero() {
		if len(users) > 0 {
			conditions.Apply(&rt.Status.Conditions, rt.Generation, deletionBlocked("IXPort", users)...)
			return ctrl.Result{}, nil
		}
		r.Fleet.forget(rt.Name)
		return ctrl.Result{}, removeFinalizer(ctx, r.Client, rt, FinalizerInUse)
	}
	poll := ctrl.Result{RequeueAfter: jitter(r.ProbeInterval)}

	if !r.Drivers.Supported(string(rt.Spec.Driver)) {
		// Nothing can be pushed; still say whether the router answers.
		reach := r.probe(ctx, rt)
		msg := fmt.Sprintf("the %s driver is not enabled in this operator (--enable-drivers), nothing is pushed to this router", rt.Spec.Driver)
		r.setStatus(rt, reach, ReasonDriverUnavailable, msg)
		return poll, nil
	}
	creds, err := r.credentials(ctx, rt)
	if err != nil {
		r.setStatus(rt, conditions.False(peeringv1.RouterReachable, ReasonCredentialsError, err.Error()), ReasonCredentialsError, err.Error())
		return poll, nil
	}
	drv, err := r.Fleet.driverFor(ctx, rt, creds)
	if err != nil {
		msg := fmt.Sprintf("cannot connect to %s: %v", target(rt), err)
		r.setStatus(rt, conditions.False(peeringv1.RouterReachable, ReasonUnreachable, msg), ReasonUnreachable, msg)
		return poll, nil
	}

	if wait := r.debounce(rt.Name); wait > 0 {
		return ctrl.Result{RequeueAfter: wait}, nil
	}
	cands, err := r.candidates(ctx, ports.Items)
	if err != nil {
		return ctrl.Result{}, err
	}
	want := desiredFor(rt, cands, r.Filters.Live)
	r.Fleet.rejected(rt.Name, want.Rejected)
	reachable := conditions.True(peeringv1.RouterReachable, ReasonReachable, target(rt)+" answers")
	if len(want.Waiting) > 0 {
		// Applying now would remove or change these neighbors on a guess.
		msg := fmt.Sprintf("not applied: the filters of %v are not built yet (IRR down after a restart?); the router keeps its current configuration", want.Waiting)
		r.setStatus(rt, reachable, ReasonWaitingForFilters, msg)
		r.readState(ctx, rt, drv)
		return ctrl.Result{RequeueAfter: r.MinApplyInterval + time.Second}, nil
	}

	start := time.Now()
	out, err := drv.Apply(ctx, want.Desired)
	r.markApplied(rt.Name)
	if err != nil {
		metrics.ApplyDuration.WithLabelValues(rt.Name, "failure").Observe(time.Since(start).Seconds())
		metrics.ApplyErrors.WithLabelValues(rt.Name).Inc()
		r.Fleet.drop(rt.Name) // the session may be broken; reconnect next time
		msg := fmt.Sprintf("apply of %d neighbors failed: %v", len(want.Desired.Neighbors), err)
		r.recordApply(rt, "Failure", "", msg)
		if unreachable(err) {
			reachable = conditions.False(peeringv1.RouterReachable, ReasonUnreachable, fmt.Sprintf("cannot reach %s: %v", target(rt), err))
		}
		r.setStatus(rt, reachable, ReasonApplyFailed, msg)
		return ctrl.Result{RequeueAfter: r.MinApplyInterval + time.Second}, nil
	}
	metrics.ApplyDuration.WithLabelValues(rt.Name, "success").Observe(time.Since(start).Seconds())
	metrics.NeighborChanges.WithLabelValues(rt.Name, "added").Add(float64(out.Added))
	metrics.NeighborChanges.WithLabelValues(rt.Name, "updated").Add(float64(out.Updated))
	metrics.NeighborChanges.WithLabelValues(rt.Name, "removed").Add(float64(out.Removed))
	r.Fleet.applied(rt.Name, want.Desired)
	rt.Status.Neighbors = int32(len(want.Desired.Neighbors))
	msg := fmt.Sprintf("%d neighbors configured", len(want.Desired.Neighbors))
	if out.Changed() {
		msg = fmt.Sprintf("%d neighbors configured (last change: %d added, %d updated, %d removed)", len(want.Desired.Neighbors), out.Added, out.Updated, out.Removed)
	}
	r.recordApply(rt, "Success", out.Digest, "")
	if err := r.readState(ctx, rt, drv); err != nil {
		msg += "; reading session state failed: " + err.Error()
	}
	r.setStatus(rt, reachable, ReasonApplied, msg)
	return poll, nil
}

// unreachable tells a connection failure (the SSH drivers connect on first
// use) from a router that answered and refused the configuration.
func unreachable(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) || errors.Is(err, cli.ErrHostKey) || errors.Is(err, cli.ErrClosed)
}

// readState polls the sessions and hands them to the fleet.
func (r *RouterReconciler) readState(ctx context.Context, rt *peeringv1.Router, drv router.Driver) error {
	states, err := drv.State(ctx)
	if err != nil {
		return err
	}
	r.Fleet.observed(rt.Name, states)
	return nil
}

// recordApply updates status.lastApply when the outcome differs from the
// last one, so an unchanged router does not rewrite its status every poll.
func (r *RouterReconciler) recordApply(rt *peeringv1.Router, result, digest, msg string) {
	if la := rt.Status.LastApply; la != nil && la.Result == result && la.Digest == digest && la.Message == msg {
		return
	}
	rt.Status.LastApply = &peeringv1.ApplyResult{Time: metav1.Now(), Result: result, Digest: digest, Message: msg}
}

func (r *RouterReconciler) setStatus(rt *peeringv1.Router, reachable conditions.Set, reason, msg string) {
	conditions.Apply(&rt.Status.Conditions, rt.Generation, routerConditions(reachable, reason, msg)...)
}

// debounce returns how long to wait before the next apply may run.
func (r *RouterReconciler) debounce(name string) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	if last, ok := r.lastApply[name]; ok {
		if wait := r.MinApplyInterval - time.Since(last); wait > 0 {
			return wait
		}
	}
	return 0
}

func (r *RouterReconciler) markApplied(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.lastApply == nil {
		r.lastApply = map[string]time.Time{}
	}
	r.lastApply[name] = time.Now()
}

// candidates lists the requests on the router's ports, with their MD5
// passwords read from their Secrets.
func (r *RouterReconciler) candidates(ctx context.Context, ports []peeringv1.IXPort) ([]candidate, error) {
	var out []candidate
	for _, p := range ports {
		var prs peeringv1.PeeringRequestList
		if err := r.List(ctx, &prs, client.MatchingFields{indexIXPortRef: p.Name}); err != nil {
			return nil, fmt.Errorf("failed to list PeeringRequests on IXPort %q: %w", p.Name, err)
		}
		for i := range prs.Items {
			c := candidate{PR: &prs.Items[i]}
			if ref := c.PR.Spec.PasswordSecretRef; ref != nil && eligible(c.PR) {
				c.Password, c.PasswordErr = r.secretValue(ctx, c.PR.Namespace, ref.Name, keyOr(ref.Key, "password"))
			}
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].PR.Namespace+"/"+out[i].PR.Name < out[j].PR.Namespace+"/"+out[j].PR.Name
	})
	return out, nil
}

// credentials reads the router's login from its Secret (none for gobgp).
func (r *RouterReconciler) credentials(ctx context.Context, rt *peeringv1.Router) (*router.Credentials, error) {
	ref := rt.Spec.CredentialsSecretRef
	if ref == nil {
		return nil, nil
	}
	s := &corev1.Secret{}
	if err := r.Get(ctx, client.ObjectKey{Namespace: ref.Namespace, Name: ref.Name}, s); err != nil {
		return nil, fmt.Errorf("cannot read Secret %s/%s named by spec.credentialsSecretRef: %v", ref.Namespace, ref.Name, apierrors.ReasonForError(err))
	}
	c := &router.Credentials{
		Username:   string(s.Data["username"]),
		Password:   router.Secret(s.Data["password"]),
		PrivateKey: router.Secret(s.Data["ssh-privatekey"]),
		KnownHosts: string(s.Data["known_hosts"]),
	}
	c.InsecureSkipHostKey = string(s.Data["insecure-skip-host-key-verification"]) == "true"
	switch {
	case c.Username == "":
		return nil, fmt.Errorf("Secret %s/%s has no `username` key", ref.Namespace, ref.Name)
	case c.Password == "" && c.PrivateKey == "":
		return nil, fmt.Errorf("Secret %s/%s has neither `password` nor `ssh-privatekey`", ref.Namespace, ref.Name)
	case c.KnownHosts == "" && !c.InsecureSkipHostKey:
		return nil, fmt.Errorf("Secret %s/%s has no `known_hosts`: host keys are verified; add the router's key (ssh-keyscan), or set insecure-skip-host-key-verification: \"true\" for a lab", ref.Namespace, ref.Name)
	}
	return c, nil
}

func (r *RouterReconciler) secretValue(ctx context.Context, ns, name, key string) (router.Secret, error) {
	s := &corev1.Secret{}
	if err := r.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, s); err != nil {
		return "", fmt.Errorf("cannot read Secret %s/%s named by spec.passwordSecretRef: %v", ns, name, apierrors.ReasonForError(err))
	}
	v, ok := s.Data[key]
	if !ok || len(v) == 0 {
		return "", fmt.Errorf("Secret %s/%s has no key %q for the session password", ns, name, key)
	}
	return router.Secret(v), nil
}

func keyOr(k, def string) string {
	if k == "" {
		return def
	}
	return k
}

// probe dials the management port of a router the operator has no driver
// for: it only opens and closes a TCP connection.
func (r *RouterReconciler) probe(ctx context.Context, rt *peeringv1.Router) conditions.Set {
	host := rt.Spec.Address
	if a, err := netip.ParseAddr(host); err == nil {
		host = a.String()
	}
	d := net.Dialer{Timeout: r.ProbeTimeout}
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(int(rt.Spec.DefaultPort()))))
	if err != nil {
		return conditions.False(peeringv1.RouterReachable, ReasonUnreachable,
			fmt.Sprintf("management port %s does not answer: %v; check the address, the port and any firewall in between", target(rt), err))
	}
	_ = conn.Close()
	return conditions.True(peeringv1.RouterReachable, ReasonReachable, "management port "+target(rt)+" answers")
}

func target(rt *peeringv1.Router) string {
	return fmt.Sprintf("%s port %d", rt.Spec.Address, rt.Spec.DefaultPort())
}

// jitter returns d ± 20%.
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return d*8/10 + time.Duration(rand.Int64N(int64(d*4/10)+1))
}

// SetupWithManager registers the controller: an IXPort or PeeringRequest
// change wakes the router they are on.
func (r *RouterReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.ProbeInterval == 0 {
		r.ProbeInterval = 30 * time.Second
	}
	if r.ProbeTimeout == 0 {
		r.ProbeTimeout = 5 * time.Second
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&peeringv1.Router{}).
		Watches(&peeringv1.IXPort{}, handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
			return []reconcile.Request{{NamespacedName: client.ObjectKey{Name: o.(*peeringv1.IXPort).Spec.RouterRef.Name}}}
		})).
		// Only changes that alter what is pushed wake the router: the
		// session-state updates it causes itself would keep it busy.
		Watches(&peeringv1.PeeringRequest{}, handler.EnqueueRequestsFromMapFunc(r.routerForRequest),
			builder.WithPredicates(predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
				return pushKey(e.ObjectOld.(*peeringv1.PeeringRequest)) != pushKey(e.ObjectNew.(*peeringv1.PeeringRequest))
			}})).
		Named("router").
		Complete(r)
}

func (r *RouterReconciler) routerForRequest(ctx context.Context, o client.Object) []reconcile.Request {
	port := &peeringv1.IXPort{}
	if err := r.Get(ctx, client.ObjectKey{Name: o.(*peeringv1.PeeringRequest).Spec.IXPortRef.Name}, port); err != nil {
		return nil
	}
	return []reconcile.Request{{NamespacedName: client.ObjectKey{Name: port.Spec.RouterRef.Name}}}
}

// pushKey sums up what of a request reaches the router: eligibility,
// sessions and limits, filters, the spec and deletion.
func pushKey(pr *peeringv1.PeeringRequest) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d|%v|%v|", pr.Generation, pr.DeletionTimestamp != nil, eligible(pr))
	for _, s := range pr.Status.Sessions {
		fmt.Fprintf(&b, "%s/%d,", s.Address, deref(s.Limit))
	}
	if f := pr.Status.Filters; f != nil {
		for _, fs := range []*peeringv1.FilterStatus{f.IPv4, f.IPv6} {
			if fs != nil {
				b.WriteString(fs.Digest)
			}
		}
	}
	return b.String()
}

func statusOfRouter(o client.Object) any { return o.(*peeringv1.Router).Status }

func conditionsOfRouter(o client.Object) []metav1.Condition {
	return o.(*peeringv1.Router).Status.Conditions
}
