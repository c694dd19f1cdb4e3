package controllers_test

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
	"github.com/peering-operator/peering-operator/controllers"
	"github.com/peering-operator/peering-operator/internal/bgptest"
	"github.com/peering-operator/peering-operator/internal/metrics"
	"github.com/peering-operator/peering-operator/internal/peeringdb/pdbtest"
)

// lab is a GoBGP route server on 127.0.0.1 with Router, IXPort on the lab IX
// (LAN 127.0.0.0/24 in the PeeringDB test data) and a request for DENIC.
type lab struct {
	rs      *bgptest.Speaker
	router  *peeringv1.Router
	port    *peeringv1.IXPort
	request *peeringv1.PeeringRequest
}

func newLab(t *testing.T) lab {
	t.Helper()
	rs := bgptest.StartGoBGPD(t, bgptest.Config{Name: "rs", ASN: 64500,
		ListenAddr: netip.MustParseAddr("127.0.0.1"), RouterID: netip.MustParseAddr("192.0.2.1")})
	o := newObjects(t, "127.0.0.1", int32(rs.Config.GRPCPort))
	o.router.Spec.Driver, o.router.Spec.CredentialsSecretRef = peeringv1.DriverGoBGP, nil
	o.port.Spec.IX.PeeringDBID = pdbtest.LabIXID
	o.port.Spec.IPv4Address, o.port.Spec.IPv6Address = "127.0.0.1/24", ""
	o.request.Spec.Addresses = nil // PeeringDB lists 127.0.0.11 for DENIC on the lab IX
	return lab{rs: rs, router: o.router, port: o.port, request: o.request}
}

func approve(t *testing.T, pr *peeringv1.PeeringRequest) {
	setCondition(t, pr, metav1.Condition{Type: "Approved", Status: metav1.ConditionTrue, Reason: "NOCApproved", Message: "test"})
}

// created → approved → Established on a real GoBGP route server; a route
// inside the IRR filter is accepted and one outside rejected, checked on the
// route server itself; deleting the request removes its neighbor while a
// neighbor configured by hand stays.
func TestGoBGPRouteServerEndToEnd(t *testing.T) {
	l := newLab(t)
	ctx := context.Background()
	g := NewWithT(t)

	// A neighbor the operator did not create.
	manual := netip.MustParseAddr("127.0.0.99")
	g.Expect(l.rs.AddNeighbor(ctx, bgptest.Neighbor{Address: manual, ASN: 64999, Passive: true})).To(Succeed())

	peer := bgptest.StartPeer(t, bgptest.PeerConfig{
		Name: "denic", Addr: netip.MustParseAddr("127.0.0.11"), ASN: 8763, RouteServer: l.rs.Endpoint(),
		Routes: []bgptest.Route{
			{Prefix: netip.MustParsePrefix("4.44.128.0/18")}, // AS-DENIC route object
			{Prefix: netip.MustParsePrefix("11.99.0.0/24")},  // in no filter
		},
	})
	create(t, l.router)
	create(t, l.port)
	create(t, l.request)
	expectCondition(t, l.request, "Ready", metav1.ConditionFalse, peeringv1.ReasonWaitingForApproval)
	// Nothing reaches the router before approval.
	expectCondition(t, l.router, "Ready", metav1.ConditionTrue, peeringv1.ReasonApplied)
	g.Expect(l.rs.SessionState(ctx, netip.MustParseAddr("127.0.0.11"))).Error().To(HaveOccurred(), "the neighbor must not exist before approval")

	approve(t, l.request)
	expectCondition(t, l.request, "Configured", metav1.ConditionTrue, peeringv1.ReasonConfigured)
	expectCondition(t, l.request, "Ready", metav1.ConditionTrue, peeringv1.ReasonSessionsEstablished)
	g.Eventually(func(g Gomega) {
		pr := getPR(g, l.request)
		g.Expect(pr.Status.SessionSummary).To(Equal("1/1"))
		g.Expect(pr.Status.Sessions).To(HaveLen(1))
		s := pr.Status.Sessions[0]
		g.Expect(s.State).To(Equal("Established"))
		g.Expect(s.EstablishedTime).NotTo(BeNil())
		g.Expect(s.Received).To(HaveValue(BeEquivalentTo(2)))
		g.Expect(s.Accepted).To(HaveValue(BeEquivalentTo(1)))
		g.Expect(s.Limit).To(HaveValue(BeEquivalentTo(207)))
	}, timeout).Should(Succeed())

	// The metrics a NOC alerts on.
	owner := "default/" + l.request.Name
	labels := prometheus.Labels{"router": l.router.Name, "request": owner, "peer_asn": "8763", "address": "127.0.0.11"}
	g.Eventually(func() float64 { return testutil.ToFloat64(metrics.SessionUp.With(labels)) }, timeout).Should(Equal(1.0))
	g.Expect(testutil.ToFloat64(metrics.PrefixesReceived.With(labels))).To(Equal(2.0))
	g.Expect(testutil.ToFloat64(metrics.PrefixesAccepted.With(labels))).To(Equal(1.0))
	g.Expect(testutil.ToFloat64(metrics.PrefixLimit.With(labels))).To(Equal(207.0))
	g.Expect(testutil.CollectAndCount(metrics.ApplyDuration)).To(BeNumerically(">", 0))

	// On the route server itself.
	routes, err := l.rs.Received(ctx, netip.MustParseAddr("127.0.0.11"))
	g.Expect(err).NotTo(HaveOccurred())
	filtered := map[string]bool{}
	for _, r := range routes {
		filtered[r.Prefix.String()] = r.Filtered
	}
	g.Expect(filtered).To(Equal(map[string]bool{"4.44.128.0/18": false, "11.99.0.0/24": true}))

	rt := &peeringv1.Router{}
	g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(l.router), rt)).To(Succeed())
	g.Expect(rt.Status.Neighbors).To(BeEquivalentTo(1))
	g.Expect(rt.Status.LastApply.Result).To(Equal("Success"))
	g.Expect(rt.Status.LastApply.Digest).NotTo(BeEmpty())
	_ = peer

	// A resync with nothing changed writes nothing to the route server:
	// poke the Router and the request a few times and count.
	writes := gobgpCallCount(l.rs.GRPCAddr(), "*")
	before := rt.Status.LastApply.Time
	for i := range 3 {
		poke(t, l.router, i)
		poke(t, l.request, i)
	}
	g.Eventually(func(g Gomega) {
		cur := &peeringv1.Router{}
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(l.router), cur)).To(Succeed())
		g.Expect(cur.Status.ObservedGeneration).To(Equal(cur.Generation))
	}, timeout).Should(Succeed())
	// Several apply rounds of the router controller must all be read-only.
	afterReconciles(t, "router", 4)
	g.Expect(gobgpCallCount(l.rs.GRPCAddr(), "*")-writes).To(BeZero(), "an unchanged resync must not write to gobgpd")
	g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(l.router), rt)).To(Succeed())
	g.Expect(rt.Status.LastApply.Time).To(Equal(before), "lastApply must not be rewritten when nothing changed")

	// Nor the request: an unchanged resync writes nothing to the API.
	rv := getPR(g, l.request).ResourceVersion
	afterReconciles(t, "peeringrequest", 4)
	afterReconciles(t, "router", 3)
	cur := getPR(g, l.request)
	g.Expect(cur.ResourceVersion).To(Equal(rv), "an unchanged request was rewritten: %+v", cur.Status)

	// Delete: the neighbor goes, the hand-made one stays.
	deleteAndWait(t, l.request)
	g.Eventually(func() error {
		_, err := l.rs.SessionState(ctx, netip.MustParseAddr("127.0.0.11"))
		return err
	}, timeout).Should(HaveOccurred(), "the neighbor must be removed from the route server")
	_, err = l.rs.SessionState(ctx, manual)
	g.Expect(err).NotTo(HaveOccurred(), "a neighbor the operator did not create must stay")
}

// A peer that sends more prefixes than its limit: the session goes down and
// lastError says so.
func TestGoBGPMaxPrefixTrip(t *testing.T) {
	l := newLab(t)
	one := int64(1)
	l.request.Spec.MaxPrefixes = &peeringv1.MaxPrefixes{IPv4: &one}
	bgptest.StartPeer(t, bgptest.PeerConfig{
		Name: "denic", Addr: netip.MustParseAddr("127.0.0.11"), ASN: 8763, RouteServer: l.rs.Endpoint(),
		Routes: []bgptest.Route{{Prefix: netip.MustParsePrefix("4.44.128.0/18")}, {Prefix: netip.MustParsePrefix("129.71.70.0/24")}},
	})
	create(t, l.router)
	create(t, l.port)
	create(t, l.request)
	approve(t, l.request)
	g := NewWithT(t)
	g.Eventually(func(g Gomega) {
		ss := getPR(g, l.request).Status.Sessions
		g.Expect(ss).To(HaveLen(1))
		s := ss[0]
		g.Expect(s.State).NotTo(Equal("Established"))
		// gobgpd's own word: the admin state PFX_CT.
		g.Expect(s.LastError).To(ContainSubstring("maximum prefix limit 1 exceeded"))
		g.Expect(s.LastError).To(ContainSubstring("PFX_CT"))
	}, 40*time.Second).Should(Succeed())
	// The condition follows once the request controller has seen it (the
	// same condition with an older message may be there before).
	g.Eventually(func(g Gomega) {
		c := conditionOf(g, l.request, "Established")
		g.Expect(c.Reason).To(Equal(peeringv1.ReasonSessionsDown))
		g.Expect(c.Message).To(ContainSubstring("maximum prefix limit 1 exceeded"))
	}, timeout).Should(Succeed())

	// The NOC raises the limit and clears: the session comes back.
	raiseLimitAndClear(t, l.request, 10)
	expectCondition(t, l.request, "Ready", metav1.ConditionTrue, peeringv1.ReasonSessionsEstablished)
}

// raiseLimitAndClear does what a NOC does after a trip: a higher IPv4
// limit, then kubectl peering clear.
func raiseLimitAndClear(t *testing.T, pr *peeringv1.PeeringRequest, limit int64) {
	t.Helper()
	ctx := context.Background()
	g := NewWithT(t)
	patch := fmt.Sprintf(`{"spec":{"maxPrefixes":{"ipv4":%d}}}`, limit)
	g.Expect(k8s.Patch(ctx, pr, client.RawPatch(types.MergePatchType, []byte(patch)))).To(Succeed())
	g.Eventually(func(g Gomega) {
		cur := getPR(g, pr)
		g.Expect(cur.Status.Config).NotTo(BeNil())
		g.Expect(cur.Status.Config.Sessions[0].Limit).To(BeEquivalentTo(limit))
		g.Expect(cur.Status.Applied).NotTo(BeNil())
		g.Expect(cur.Status.Applied.ConfigDigest).To(Equal(cur.Status.Config.Digest), "the higher limit is pushed")
	}, timeout).Should(Succeed())
	asked := time.Now().UTC().Format(time.RFC3339Nano)
	clear := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, peeringv1.AnnotationClear, asked)
	g.Expect(k8s.Patch(ctx, pr, client.RawPatch(types.MergePatchType, []byte(clear)))).To(Succeed())
	g.Eventually(func(g Gomega) {
		lc := getPR(g, pr).Status.LastClear
		g.Expect(lc).NotTo(BeNil())
		g.Expect(lc.Requested).To(Equal(asked))
		g.Expect(lc.Result).To(Equal(controllers.ClearResultCleared), lc.Message)
		g.Expect(lc.By).NotTo(BeEmpty(), "the webhook records who cleared")
	}, timeout).Should(Succeed())
}

// poke changes an annotation so the object is reconciled again.
func poke(t *testing.T, obj client.Object, i int) {
	t.Helper()
	patch := []byte(fmt.Sprintf(`{"metadata":{"annotations":{"test.peering.dev/poke":"%d"}}}`, i))
	if err := k8s.Patch(context.Background(), obj, client.RawPatch(types.MergePatchType, patch)); err != nil {
		t.Fatal(err)
	}
}
