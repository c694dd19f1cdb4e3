package controllers_test

import (
	"context"
	"net/netip"
	"slices"
	"testing"

	. "github.com/onsi/gomega"
	api "github.com/osrg/gobgp/v3/api"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
	"github.com/peering-operator/peering-operator/internal/bgptest"
	"github.com/peering-operator/peering-operator/internal/router"
)

// A drain (RFC 8326) end to end on our gobgpd as an ordinary router: the
// NOC sets spec.drain and the webhook stamps when; the peer receives our
// prefix with GRACEFUL_SHUTDOWN and the session stays up (shutdownAfter
// 0s keeps it up); with a wait the session is shut down once it has passed
// since the stamp, and Ready says Drained; undrain brings it back, and the
// community goes.
func TestDrainEndToEnd(t *testing.T) {
	ctx := context.Background()
	g := NewWithT(t)
	const ours = "198.51.100.0/24"
	rt, o, peer := gobgpdLab(t, "")
	g.Expect(rt.Announce(ctx, bgptest.Route{Prefix: netip.MustParsePrefix(ours)})).To(Succeed())
	o.router.Spec.Announce = &peeringv1.Announce{Prefixes: []string{ours}}
	create(t, o.router)
	create(t, o.port)
	create(t, o.request)
	approve(t, o.request)
	expectCondition(t, o.request, "Ready", metav1.ConditionTrue, peeringv1.ReasonSessionsEstablished)

	// ourRoute is our prefix as the peer holds it (nil: it has none).
	ourRoute := func(g Gomega) *bgptest.Route {
		rib, err := peer.RIB(ctx, 4)
		g.Expect(err).NotTo(HaveOccurred())
		for _, r := range rib {
			if r.Prefix.String() == ours {
				return &r
			}
		}
		return nil
	}
	g.Eventually(func(g Gomega) { g.Expect(ourRoute(g)).NotTo(BeNil()) }, timeout).Should(Succeed())
	g.Expect(ourRoute(g).Communities).NotTo(ContainElement(router.GracefulShutdown))

	setDrain := func(drain string) {
		t.Helper()
		patch := []byte(`{"spec":{"drain":` + drain + `}}`)
		g.Expect(k8s.Patch(ctx, o.request, client.RawPatch(types.MergePatchType, patch))).To(Succeed())
	}
	sessionState := func() api.PeerState_SessionState {
		s, err := peer.SessionState(ctx, netip.MustParseAddr("127.0.0.1"))
		g.Expect(err).NotTo(HaveOccurred())
		return s
	}

	// Drained, kept up: the peer sees GRACEFUL_SHUTDOWN; the webhook
	// stamped the start.
	setDrain(`{"shutdownAfter":"0s"}`)
	g.Expect(getPR(g, o.request).Annotations).To(HaveKey(peeringv1.AnnotationDrainSince))
	since := getPR(g, o.request).Annotations[peeringv1.AnnotationDrainSince]
	g.Eventually(func(g Gomega) {
		r := ourRoute(g)
		g.Expect(r).NotTo(BeNil())
		g.Expect(r.Communities).To(ContainElement(router.GracefulShutdown))
	}, timeout).Should(Succeed())
	g.Expect(sessionState()).To(Equal(api.PeerState_ESTABLISHED))
	g.Eventually(func(g Gomega) {
		g.Expect(conditionOf(g, o.request, "Ready").Message).To(ContainSubstring("drained since " + since))
	}, timeout).Should(Succeed())

	// A wait that has passed since the stamp (which does not move): down.
	setDrain(`{"shutdownAfter":"1s"}`)
	g.Expect(getPR(g, o.request).Annotations[peeringv1.AnnotationDrainSince]).To(Equal(since), "the start of a drain cannot move")
	g.Eventually(sessionState, timeout).ShouldNot(Equal(api.PeerState_ESTABLISHED))
	expectCondition(t, o.request, "Established", metav1.ConditionFalse, peeringv1.ReasonDrained)

	// Undrain: up again, unmarked, the stamp gone.
	setDrain(`null`)
	g.Expect(getPR(g, o.request).Annotations).NotTo(HaveKey(peeringv1.AnnotationDrainSince))
	expectCondition(t, o.request, "Ready", metav1.ConditionTrue, peeringv1.ReasonSessionsEstablished)
	g.Eventually(func(g Gomega) {
		r := ourRoute(g)
		g.Expect(r).NotTo(BeNil())
		g.Expect(slices.Contains(r.Communities, router.GracefulShutdown)).To(BeFalse())
	}, timeout).Should(Succeed())

	// The Router's maintenance: its drain reaches the session as the
	// request's own would, with the Router's stamp.
	drainObj := func(obj client.Object, drain string) {
		t.Helper()
		patch := []byte(`{"spec":{"drain":` + drain + `}}`)
		g.Expect(k8s.Patch(ctx, obj, client.RawPatch(types.MergePatchType, patch))).To(Succeed())
	}
	drainObj(o.router, `{"shutdownAfter":"0s"}`)
	g.Expect(o.router.Annotations).To(HaveKey(peeringv1.AnnotationDrainSince), "the webhook stamps a Router's drain")
	g.Eventually(func(g Gomega) {
		r := ourRoute(g)
		g.Expect(r).NotTo(BeNil())
		g.Expect(r.Communities).To(ContainElement(router.GracefulShutdown))
	}, timeout).Should(Succeed())
	g.Expect(sessionState()).To(Equal(api.PeerState_ESTABLISHED))
	g.Eventually(func(g Gomega) {
		g.Expect(conditionOf(g, o.request, "Ready").Message).To(ContainSubstring("spec.drain of Router " + o.router.Name + ": drained since"))
	}, timeout).Should(Succeed())

	// The IXPort's, due at once: down, and the condition names the port.
	drainObj(o.port, `{"shutdownAfter":"1s"}`)
	g.Expect(o.port.Annotations).To(HaveKey(peeringv1.AnnotationDrainSince), "the webhook stamps an IXPort's drain")
	g.Eventually(sessionState, timeout).ShouldNot(Equal(api.PeerState_ESTABLISHED))
	expectCondition(t, o.request, "Established", metav1.ConditionFalse, peeringv1.ReasonDrained)
	g.Expect(conditionOf(g, o.request, "Established").Message).To(ContainSubstring("kubectl peering undrain ixport/" + o.port.Name))

	// Both undrained: up and unmarked.
	drainObj(o.port, `null`)
	drainObj(o.router, `null`)
	g.Expect(o.router.Annotations).NotTo(HaveKey(peeringv1.AnnotationDrainSince))
	expectCondition(t, o.request, "Ready", metav1.ConditionTrue, peeringv1.ReasonSessionsEstablished)
	g.Eventually(func(g Gomega) {
		r := ourRoute(g)
		g.Expect(r).NotTo(BeNil())
		g.Expect(slices.Contains(r.Communities, router.GracefulShutdown)).To(BeFalse())
	}, timeout).Should(Succeed())
}
