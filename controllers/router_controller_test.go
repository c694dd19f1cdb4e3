package controllers

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
	"github.com/peering-operator/peering-operator/internal/irr"
	"github.com/peering-operator/peering-operator/internal/policy"
	"github.com/peering-operator/peering-operator/internal/router"
	"github.com/peering-operator/peering-operator/internal/router/drivers"
	fakedriver "github.com/peering-operator/peering-operator/internal/router/fake"
	"github.com/peering-operator/peering-operator/internal/testenv"
)

// memStore is a FilterStore in memory; a digest in broken cannot be read.
type memStore struct {
	filters map[string][]irr.Entry
	broken  map[string]bool
}

func (m memStore) Save(context.Context, *peeringv1.PeeringRequest, *policy.CachedFilter, []string) error {
	return nil
}

func (m memStore) Get(_ context.Context, ns string, uid types.UID, digest string) ([]irr.Entry, error) {
	if m.broken[digest] {
		return nil, fmt.Errorf("PrefixList %s/%s-ipv6 is missing part 1", ns, uid)
	}
	e, ok := m.filters[digest]
	if !ok {
		return nil, errors.New("filter not stored")
	}
	return e, nil
}

func (m memStore) Prune(context.Context, *peeringv1.PeeringRequest, ...string) error { return nil }

// The Router controller's decisions through a fake driver and a fake
// client: what reaches the driver as configured or held, what each request
// is told, and what a failed apply leaves.
func TestRouterReconcileWithFakeDriver(t *testing.T) {
	ctx := ctrl.LoggerInto(context.Background(), ctrl.Log)
	rt := &peeringv1.Router{ObjectMeta: metav1.ObjectMeta{Name: "rs1"},
		Spec: peeringv1.RouterSpec{Driver: peeringv1.DriverGoBGP, Address: "192.0.2.250", LocalASN: 64500, RouterID: "192.0.2.1", RouteServer: true}}
	port := &peeringv1.IXPort{ObjectMeta: metav1.ObjectMeta{Name: "lan"},
		Spec: peeringv1.IXPortSpec{IX: peeringv1.IXReference{PeeringDBID: 1}, RouterRef: peeringv1.LocalObjectReference{Name: "rs1"}, IPv4Address: "80.81.192.10/21"}}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ok := pinnedRequest("ok", t0, "80.81.192.1")
	broken := pinnedRequest("broken", t0, "80.81.192.2", "2001:7f8::2")
	broken.Status.Config = pinnedConfig(map[netip.Addr]peeringv1.PinnedSession{
		netip.MustParseAddr("80.81.192.2"): {Address: "80.81.192.2", Family: "ipv4", Limit: 100},
		netip.MustParseAddr("2001:7f8::2"): {Address: "2001:7f8::2", Family: "ipv6", Limit: 100},
	}, map[int]string{4: "sha256:f4", 6: "sha256:f6-broken"})
	gone := pinnedRequest("gone", t0, "80.81.192.3")
	gone.Finalizers = []string{peeringv1.FinalizerNeighborCleanup}
	for _, pr := range []*peeringv1.PeeringRequest{ok, broken, gone} {
		pr.Spec.IXPortRef.Name = "lan"
		pr.Status.Applied = &peeringv1.AppliedStatus{Router: "rs1", Result: peeringv1.AppliedResultApplied, ConfigDigest: pr.Status.Config.Digest, Time: metav1.NewTime(t0)}
	}
	c := fake.NewClientBuilder().WithScheme(testenv.Scheme).
		WithObjects(rt, port, ok, broken, gone).
		WithStatusSubresource(&peeringv1.Router{}, &peeringv1.PeeringRequest{}).
		WithIndex(&peeringv1.PeeringRequest{}, indexIXPortRef, func(o client.Object) []string { return []string{o.(*peeringv1.PeeringRequest).Spec.IXPortRef.Name} }).
		WithIndex(&peeringv1.IXPort{}, indexRouterRef, func(o client.Object) []string { return []string{o.(*peeringv1.IXPort).Spec.RouterRef.Name} }).
		Build()
	// The router runs all three requests' neighbors, as pushed before.
	e4 := []router.Entry{{Prefix: netip.MustParsePrefix("192.0.2.0/24"), Exact: true}}
	running := []router.Neighbor{
		{Address: netip.MustParseAddr("80.81.192.1"), PeerASN: 8763, Import: e4, MaxPrefixes: 100},
		{Address: netip.MustParseAddr("80.81.192.2"), PeerASN: 8763, Import: e4, MaxPrefixes: 100},
		{Address: netip.MustParseAddr("2001:7f8::2"), PeerASN: 8763, MaxPrefixes: 777, Description: "as it runs"},
		{Address: netip.MustParseAddr("80.81.192.3"), PeerASN: 8763, Import: e4, MaxPrefixes: 100},
	}
	drv := fakedriver.New(running...)
	r := &RouterReconciler{Client: c, Fleet: NewFleet(func(context.Context, *peeringv1.Router, *router.Credentials) (router.Driver, error) { return drv, nil }),
		Store:   memStore{filters: map[string][]irr.Entry{"sha256:f4": {{Prefix: netip.MustParsePrefix("192.0.2.0/24"), Exact: true}}}, broken: map[string]bool{"sha256:f6-broken": true}},
		Drivers: drivers.Opener{Options: drivers.Options{Enabled: []string{"gobgp"}}}, ProbeInterval: time.Minute, Now: func() time.Time { return t0.Add(time.Hour) }}

	// A human shuts one down and deletes another while a filter of the
	// third cannot be read.
	get := func(pr *peeringv1.PeeringRequest) *peeringv1.PeeringRequest {
		cur := &peeringv1.PeeringRequest{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(pr), cur); err != nil {
			t.Fatal(err)
		}
		return cur
	}
	cur := get(broken)
	cur.Spec.Shutdown = true
	if err := c.Update(ctx, cur); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, get(gone)); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKey{Name: "rs1"}}); err != nil {
		t.Fatal(err)
	}

	des, _ := drv.LastApply()
	if len(des.Neighbors) != 2 || len(des.Held) != 1 || des.Held[0].Address != netip.MustParseAddr("2001:7f8::2") || !*des.Held[0].Shutdown {
		t.Fatalf("driver got neighbors %v held %v", des.Neighbors, des.Held)
	}
	if n, ok := drv.Running(netip.MustParseAddr("2001:7f8::2")); !ok || n.MaxPrefixes != 777 || n.Description != "as it runs" || !n.Shutdown {
		t.Errorf("the held neighbor must keep what runs and only take the shutdown: %+v", n)
	}
	if n, _ := drv.Running(netip.MustParseAddr("80.81.192.2")); !n.Shutdown {
		t.Errorf("the readable neighbor of the held request must be pushed, shut down: %+v", n)
	}
	if _, ok := drv.Running(netip.MustParseAddr("80.81.192.3")); ok {
		t.Error("the deleted request's neighbor must be removed")
	}
	if a := get(broken).Status.Applied; a.Result != peeringv1.AppliedResultHeld || a.Reason != peeringv1.ReasonFilterUnavailable {
		t.Errorf("broken: applied %+v", a)
	}
	if ss := get(ok).Status.Sessions; len(ss) != 1 || ss[0].State != "Established" {
		t.Errorf("ok: sessions %+v", ss)
	}
	if a := get(gone).Status.Applied; a.Result != peeringv1.AppliedResultRemoved {
		t.Errorf("gone: applied %+v", a)
	}
	st := &peeringv1.Router{}
	if err := c.Get(ctx, client.ObjectKey{Name: "rs1"}, st); err != nil {
		t.Fatal(err)
	}
	if st.Status.Neighbors != 2 || st.Status.Held != 1 || len(st.Status.NotPushed) != 1 || st.Status.NotPushed[0].Request != "default/broken" ||
		!meta.IsStatusConditionTrue(st.Status.Conditions, peeringv1.ConditionReady) {
		t.Errorf("router status %+v", st.Status)
	}

	// A failed apply changes nothing and reports the sessions as they run.
	drv.ApplyErr = errors.New("commit refused")
	r.lastApply = nil
	if _, err := r.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKey{Name: "rs1"}}); err != nil {
		t.Fatal(err)
	}
	if err := c.Get(ctx, client.ObjectKey{Name: "rs1"}, st); err != nil {
		t.Fatal(err)
	}
	if c := meta.FindStatusCondition(st.Status.Conditions, peeringv1.ConditionReady); c.Reason != peeringv1.ReasonApplyFailed || st.Status.LastApply.Result != "Failure" {
		t.Errorf("after a failed apply: %+v", st.Status)
	}
	if a := get(ok).Status.Applied; a.Result != peeringv1.AppliedResultApplied {
		t.Errorf("a failed apply rewrote status.applied: %+v", a)
	}
}
