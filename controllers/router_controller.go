package controllers

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
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

// RouterReconciler pushes every approved request's pinned configuration
// to its Router in one batch (one diff, one transaction), reads the
// sessions back into each request's status, and protects the Router from
// deletion while IXPorts use it. It reads no PeeringDB and no IRR: what it
// pushes is what the requests' status.config pins, with the filters
// persisted in PrefixLists, so an outage of either never changes a router.
type RouterReconciler struct {
	client.Client
	Reporter conditions.Reporter
	// RequestReporter reports the request conditions this controller
	// writes with its report (followRouter), as the request controller
	// would.
	RequestReporter conditions.Reporter
	// WaitingForPeerAfter: see PeeringRequestReconciler.
	WaitingForPeerAfter time.Duration
	Fleet               *Fleet
	// Store reads the pinned filters.
	Store   FilterStore
	Drivers drivers.Opener
	// ProbeInterval is the mean time between state polls (and, for
	// routers without a driver, TCP probes); jittered ±20% so a fleet of
	// routers is not polled in lockstep.
	ProbeInterval time.Duration
	// ProbeTimeout bounds one dial.
	ProbeTimeout time.Duration
	// MinApplyInterval collapses bursts: changes arriving within it are
	// applied together.
	MinApplyInterval time.Duration
	// Now is the clock (tests); time.Now by default.
	Now func() time.Time
	// Workers reconcile different routers at once (controller-runtime
	// never runs one key twice at once); default 1.
	Workers int

	mu        sync.Mutex
	lastApply map[string]time.Time
	devices   map[string]*sync.Mutex
}

// deviceKey names the device a Router configures.
func deviceKey(rt *peeringv1.Router) string {
	return fmt.Sprintf("%s|%s|%d", rt.Spec.Driver, rt.Spec.Address, rt.Spec.DefaultPort())
}

// lockDevice serialises the reconciles of Routers that name the same
// device (driver, address, port); controller-runtime serialises only the
// same Router.
func (r *RouterReconciler) lockDevice(rt *peeringv1.Router) func() {
	key := deviceKey(rt)
	r.mu.Lock()
	if r.devices == nil {
		r.devices = map[string]*sync.Mutex{}
	}
	m := r.devices[key]
	if m == nil {
		m = &sync.Mutex{}
		r.devices[key] = m
	}
	r.mu.Unlock()
	m.Lock()
	return m.Unlock
}

// +kubebuilder:rbac:groups=peering.dev,resources=routers,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=peering.dev,resources=routers/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=peering.dev,resources=routers/finalizers,verbs=update
// +kubebuilder:rbac:groups=peering.dev,resources=ixports,verbs=get;list;watch
// +kubebuilder:rbac:groups=peering.dev,resources=peeringrequests,verbs=get;list;watch
// +kubebuilder:rbac:groups=peering.dev,resources=peeringrequests/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=peering.dev,resources=prefixlists,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get

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
		if err := ensureFinalizer(ctx, r.Client, rt, peeringv1.FinalizerInUse); err != nil {
			return ctrl.Result{}, err
		}
	}

	before := rt.DeepCopy()
	obs := routerObserved{Now: r.now()}
	defer func() {
		if !obs.Skip {
			rt.Status = computeRouterStatus(rt.Status, rt.Generation, obs)
		}
		rt.Status.ObservedGeneration = rt.Generation
		finishReconcile(ctx, r.Client, r.Reporter, before, rt, statusOfRouter, conditionsOfRouter, &res, &retErr)
	}()

	var ports peeringv1.IXPortList
	if err := r.List(ctx, &ports, client.MatchingFields{indexRouterRef: rt.Name}); err != nil {
		obs.Skip = true
		return ctrl.Result{}, fmt.Errorf("failed to list IXPorts on Router %q: %w", rt.Name, err)
	}
	if !rt.DeletionTimestamp.IsZero() {
		for _, p := range ports.Items {
			obs.DeletionUsers = append(obs.DeletionUsers, p.Name)
		}
		sort.Strings(obs.DeletionUsers)
		if len(obs.DeletionUsers) > 0 {
			return ctrl.Result{}, nil
		}
		obs.Skip = true
		r.Fleet.forget(rt.Name)
		return ctrl.Result{}, removeFinalizer(ctx, r.Client, rt, peeringv1.FinalizerInUse)
	}
	poll := ctrl.Result{RequeueAfter: jitter(r.ProbeInterval)}

	if !r.Drivers.Supported(string(rt.Spec.Driver)) {
		// Nothing can be pushed; still say whether the router answers.
		obs.Reachable = r.probe(ctx, rt)
		obs.Stage, obs.Message = peeringv1.ReasonDriverUnavailable, fmt.Sprintf("the %s driver is not enabled in this operator (--enable-drivers), nothing is pushed to this router", rt.Spec.Driver)
		return poll, nil
	}
	// Two Routers naming one device (a mistake, or one Router replaced by
	// another) never talk to it at once.
	unlock := r.lockDevice(rt)
	defer unlock()
	creds, err := r.credentials(ctx, rt)
	if err != nil {
		obs.Reachable = conditions.False(peeringv1.RouterReachable, peeringv1.ReasonCredentialsError, err.Error())
		obs.Stage, obs.Message = peeringv1.ReasonCredentialsError, err.Error()
		return poll, nil
	}
	drv, err := r.Fleet.driverFor(ctx, rt, creds)
	if err != nil {
		msg := fmt.Sprintf("cannot connect to %s: %v", target(rt), err)
		obs.Reachable = conditions.False(peeringv1.RouterReachable, peeringv1.ReasonUnreachable, msg)
		obs.Stage, obs.Message = peeringv1.ReasonUnreachable, msg
		return poll, nil
	}

	if wait := r.debounce(rt.Name); wait > 0 {
		obs.Skip = true
		return ctrl.Result{RequeueAfter: wait}, nil
	}
	cands, err := r.candidates(ctx, ports.Items)
	if err != nil {
		obs.Skip = true
		return ctrl.Result{}, err
	}
	want := desiredFor(rt, cands, r.now())
	if d := want.NextDrain + time.Second; want.NextDrain > 0 && d < poll.RequeueAfter {
		poll.RequeueAfter = d // a drained request's shutdown is due then
	}
	obs.Reachable = conditions.True(peeringv1.RouterReachable, peeringv1.ReasonReachable, target(rt)+" answers")
	obs.Outcomes = want.Outcomes
	obs.Desired = want.Desired

	start := time.Now()
	out, applyErr := drv.Apply(ctx, want.Desired)
	r.markApplied(rt.Name)
	log := ctrl.LoggerFrom(ctx)
	if applyErr != nil || out.Changed() {
		// Every change written to a router is worth a line in the log.
		log.Info("applied", "neighbors", len(want.Desired.Neighbors), "held", len(want.Desired.Held),
			"added", out.Added, "updated", out.Updated, "removed", out.Removed, "duration", time.Since(start).Round(time.Millisecond), "error", applyErr)
	}
	if applyErr != nil {
		metrics.ApplyDuration.WithLabelValues(rt.Name, "failure").Observe(time.Since(start).Seconds())
		metrics.ApplyErrors.WithLabelValues(rt.Name).Inc()
		r.Fleet.drop(rt.Name) // the session may be broken; reconnect next time
		obs.Stage = peeringv1.ReasonApplyFailed
		obs.Message = fmt.Sprintf("apply of %d neighbors (%d held) failed: %v", len(want.Desired.Neighbors), len(want.Desired.Held), applyErr)
		if unreachable(applyErr) {
			obs.Reachable = conditions.False(peeringv1.RouterReachable, peeringv1.ReasonUnreachable, fmt.Sprintf("cannot reach %s: %v", target(rt), applyErr))
		}
		// The sessions as they run are still worth reporting.
		if states, err := drv.State(ctx); err == nil {
			r.reportRequests(ctx, rt, cands, want.Outcomes, states, false)
		}
		return ctrl.Result{RequeueAfter: r.MinApplyInterval + time.Second}, nil
	}
	metrics.ApplyDuration.WithLabelValues(rt.Name, "success").Observe(time.Since(start).Seconds())
	metrics.NeighborChanges.WithLabelValues(rt.Name, "added").Add(float64(out.Added))
	metrics.NeighborChanges.WithLabelValues(rt.Name, "updated").Add(float64(out.Updated))
	metrics.NeighborChanges.WithLabelValues(rt.Name, "removed").Add(float64(out.Removed))
	metrics.NeighborsHeld.WithLabelValues(rt.Name).Set(float64(len(want.Desired.Held)))
	obs.Stage, obs.Apply = peeringv1.ReasonApplied, &out
	// Clears after the apply: a tripped session comes back with the limit
	// just pushed.
	r.runClears(ctx, drv, cands)
	states, err := drv.State(ctx)
	if err != nil {
		obs.StateErr = err
		return poll, nil
	}
	r.reportRequests(ctx, rt, cands, want.Outcomes, states, true)
	return poll, nil
}

// reportRequests writes into each request what the router did with it
// (status.applied, after a successful apply) and what the router reports of
// its sessions (status.sessions), patching only requests whose report
// changed. Only this controller writes these two fields of a pinned
// request, so the patch needs no lock.
func (r *RouterReconciler) reportRequests(ctx context.Context, rt *peeringv1.Router, cands []candidate, outs []outcome, states []router.NeighborState, applied bool) {
	byAddr := map[netip.Addr]router.NeighborState{}
	for _, s := range states {
		byAddr[s.Address] = s
	}
	byOwner := map[types.UID]outcome{}
	for _, o := range outs {
		byOwner[o.PR.UID] = o
	}
	now := r.now()
	for _, c := range cands {
		pr := c.PR
		o, ok := byOwner[pr.UID]
		if !ok {
			continue
		}
		rep := requestReport(rt.Name, pr, o, byAddr, applied, now)
		if rep.Sessions != nil {
			exportSessionMetrics(rt, c, now, rep.Sessions)
		}
		if !rep.Changed {
			continue
		}
		base, pr := pr, pr.DeepCopy() // base is the cache's: never written
		pr.Status.Applied = rep.Applied
		if rep.Sessions != nil {
			pr.Status.Sessions = rep.Sessions
		}
		if err := r.writeReport(ctx, base, pr, c.Port, rt, now); err != nil && !apierrors.IsNotFound(err) {
			ctrl.LoggerFrom(ctx).Error(err, "failed to report the router's state into the request; retried on the next poll", "request", pr.Namespace+"/"+pr.Name)
		}
	}
}

// writeReport writes the router's report into a request, with the
// conditions that follow from it (followRouter) in the same write. That
// write is locked to the version read: the conditions hold a human's
// decision (Approved, Denied) that must never be overwritten. When the
// request changed since, only the router's own fields are written and the
// request controller derives the rest, as it would anyway.
func (r *RouterReconciler) writeReport(ctx context.Context, base, pr *peeringv1.PeeringRequest, port *peeringv1.IXPort, rt *peeringv1.Router, now time.Time) error {
	own := pr.DeepCopy()
	sets, summary, ok := followRouter(pr, port, rt, now, r.WaitingForPeerAfter)
	if ok {
		conditions.Apply(&pr.Status.Conditions, pr.Generation, sets...)
		pr.Status.SessionSummary = summary
		err := r.Status().Patch(ctx, pr, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{}))
		if err == nil {
			r.RequestReporter.Report(pr, base.Status.Conditions, pr.Status.Conditions)
		}
		if !apierrors.IsConflict(err) {
			return err
		}
	}
	// status.applied and status.sessions are this controller's alone: no
	// lock needed.
	return r.Status().Patch(ctx, own, client.MergeFrom(base))
}

// unreachable tells a connection failure (the SSH drivers connect on first
// use) from a router that answered and refused the configuration.
func unreachable(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) || errors.Is(err, cli.ErrHostKey) || errors.Is(err, cli.ErrClosed)
}

func (r *RouterReconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
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

// candidates lists the requests on the router's ports with what their
// pins need: the filters' entries (persisted, so no IRR is asked) and the
// MD5 passwords from their Secrets.
func (r *RouterReconciler) candidates(ctx context.Context, ports []peeringv1.IXPort) ([]candidate, error) {
	var out []candidate
	for _, p := range ports {
		var prs peeringv1.PeeringRequestList
		// The cache's own objects, not copies (measured: copying every
		// request on every poll was 23% of the operator's CPU at 10,000
		// requests): read only; whatever is written is copied first.
		if err := r.List(ctx, &prs, client.MatchingFields{indexIXPortRef: p.Name}, client.UnsafeDisableDeepCopy); err != nil {
			return nil, fmt.Errorf("failed to list PeeringRequests on IXPort %q: %w", p.Name, err)
		}
		for i := range prs.Items {
			c := candidate{PR: &prs.Items[i], Port: &p}
			pin := c.PR.Status.Config
			if pin == nil || !c.PR.DeletionTimestamp.IsZero() || !approvedNotDenied(c.PR) {
				out = append(out, c)
				continue
			}
			if ref := c.PR.Spec.PasswordSecretRef; ref != nil {
				c.Password, c.PasswordErr = r.secretValue(ctx, c.PR.Namespace, ref.Name, keyOr(ref.Key, "password"))
			}
			c.Filters, c.FilterErr = map[string][]router.Entry{}, map[string]error{}
			for _, d := range pinDigests(pin) {
				es, err := r.Store.Get(ctx, c.PR.Namespace, c.PR.UID, d)
				if err != nil {
					c.FilterErr[d] = err
					continue
				}
				c.Filters[d] = toRouterEntries(es)
			}
			out = append(out, c)
		}
	}
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
		return conditions.False(peeringv1.RouterReachable, peeringv1.ReasonUnreachable,
			fmt.Sprintf("management port %s does not answer: %v; check the address, the port and any firewall in between", target(rt), err))
	}
	_ = conn.Close()
	return conditions.True(peeringv1.RouterReachable, peeringv1.ReasonReachable, "management port "+target(rt)+" answers")
}

func target(rt *peeringv1.Router) string {
	return fmt.Sprintf("%s port %d", rt.Spec.Address, rt.Spec.DefaultPort())
}

// jitter returns d ± 20%.
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return wait.Jitter(d*8/10, 0.5)
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
		WithOptions(controller.Options{MaxConcurrentReconciles: max(r.Workers, 1)}).
		Complete(r)
}

func (r *RouterReconciler) routerForRequest(ctx context.Context, o client.Object) []reconcile.Request {
	port := &peeringv1.IXPort{}
	if err := r.Get(ctx, client.ObjectKey{Name: o.(*peeringv1.PeeringRequest).Spec.IXPortRef.Name}, port); err != nil {
		return nil
	}
	return []reconcile.Request{{NamespacedName: client.ObjectKey{Name: port.Spec.RouterRef.Name}}}
}

// pushKey sums up what of a request reaches the router: the approval, the
// pin, the human's live switches and deletion. The Router controller's own
// writes (status.sessions, status.applied) are not in it, so they do not
// wake it again.
func pushKey(pr *peeringv1.PeeringRequest) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%v|%v|%v|%q|", pr.DeletionTimestamp != nil, approvedNotDenied(pr), pr.Spec.Shutdown, pr.Spec.Description)
	if pin := pr.Status.Config; pin != nil {
		b.WriteString(pin.Digest)
	}
	if ref := pr.Spec.PasswordSecretRef; ref != nil {
		b.WriteString("|" + ref.Name + "/" + ref.Key)
	}
	b.WriteString("|" + pr.Annotations[peeringv1.AnnotationClear])
	if d := pr.Spec.Drain; d != nil {
		fmt.Fprintf(&b, "|drain %v %s", d.ShutdownAfter, pr.Annotations[peeringv1.AnnotationDrainSince])
	}
	if p := pr.Status.Peer; p != nil {
		b.WriteString("|" + p.Name)
	}
	if lp := pr.Spec.LocalPreference; lp != nil {
		fmt.Fprintf(&b, "|lp %d", *lp)
	}
	if a := pr.Spec.Announce; a != nil {
		fmt.Fprintf(&b, "|announce %q", a.Prefixes)
	}
	return b.String()
}

func statusOfRouter(o client.Object) any { return o.(*peeringv1.Router).Status }

func conditionsOfRouter(o client.Object) []metav1.Condition {
	return o.(*peeringv1.Router).Status.Conditions
}
