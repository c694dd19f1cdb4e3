package controllers_test

import (
	"context"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
)

// A request whose IXPort does not exist says so, and recovers by itself
// when the port appears; it then waits for approval and nothing is pushed.
func TestRequestWaitsForIXPortThenApproval(t *testing.T) {
	addr, port := listener(t)
	o := newObjects(t, addr, port)
	create(t, o.request)

	ready := expectCondition(t, o.request, "Ready", metav1.ConditionFalse, peeringv1.ReasonIXPortNotFound)
	if !strings.Contains(ready.Message, o.port.Name) || !strings.Contains(ready.Message, "spec.ixPortRef.name") {
		t.Errorf("Ready message should name the missing IXPort and the field, got %q", ready.Message)
	}
	expectCondition(t, o.request, "Reconciling", metav1.ConditionTrue, peeringv1.ReasonIXPortNotFound)
	expectCondition(t, o.request, "Stalled", metav1.ConditionFalse, peeringv1.ReasonNotStalled)
	for _, typ := range []string{"PeeringDBValidated", "FiltersReady", "Configured", "Established"} {
		NewWithT(t).Eventually(func(g Gomega) { g.Expect(conditionOf(g, o.request, typ)).NotTo(BeNil()) }, timeout).
			Should(Succeed(), "condition %s must be set from the first reconcile", typ)
	}

	create(t, o.router)
	create(t, o.port)
	expectCondition(t, o.request, "Ready", metav1.ConditionFalse, peeringv1.ReasonWaitingForApproval)
	expectCondition(t, o.request, "Reconciling", metav1.ConditionFalse, peeringv1.ReasonNotReconciling)
	expectCondition(t, o.request, "Configured", metav1.ConditionFalse, peeringv1.ReasonNotApproved)

	g := NewWithT(t)
	pr := &peeringv1.PeeringRequest{}
	g.Expect(k8s.Get(context.Background(), client.ObjectKeyFromObject(o.request), pr)).To(Succeed())
	g.Expect(pr.Finalizers).To(ContainElement(peeringv1.FinalizerNeighborCleanup))
	g.Expect(pr.Status.ObservedGeneration).To(Equal(pr.Generation))
	g.Expect(pr.Status.Approval.State).To(Equal("Pending"))
	g.Expect(pr.Status.SessionSummary).To(Equal("0/2"))
	g.Expect(pr.Status.Sessions).To(HaveLen(2))
	for _, s := range pr.Status.Sessions {
		g.Expect(s.State).To(Equal("NotConfigured"), "session %s must not be configured before approval", s.Address)
	}

	// One event per change of phase: a Warning for the missing port, a
	// Normal one for the wait on approval.
	g.Eventually(func(g Gomega) {
		missing := eventsFor(g, o.request, peeringv1.ReasonIXPortNotFound)
		g.Expect(missing).To(HaveLen(1))
		g.Expect(missing[0].Type).To(Equal("Warning"))
		waiting := eventsFor(g, o.request, peeringv1.ReasonWaitingForApproval)
		g.Expect(waiting).To(HaveLen(1))
		g.Expect(waiting[0].Type).To(Equal("Normal"))
	}, timeout).Should(Succeed())

	// A spec edit is observed: the new generation shows in status and no
	// event repeats, since no reason changed.
	g.Expect(k8s.Patch(context.Background(), pr, client.RawPatch(types.MergePatchType, []byte(`{"spec":{"description":"edited"}}`)))).To(Succeed())
	g.Eventually(func(g Gomega) {
		cur := &peeringv1.PeeringRequest{}
		g.Expect(k8s.Get(context.Background(), client.ObjectKeyFromObject(o.request), cur)).To(Succeed())
		g.Expect(cur.Status.ObservedGeneration).To(Equal(cur.Generation))
		g.Expect(cur.Generation).To(BeNumerically(">", pr.Generation-1))
		g.Expect(eventsFor(g, o.request, peeringv1.ReasonWaitingForApproval)).To(HaveLen(1))
	}, timeout).Should(Succeed())
}

// Approval moves the request on and records who decided; a decision is
// final (never both, never changed); a denial stalls the request.
func TestApprovalAndDenial(t *testing.T) {
	addr, port := listener(t)
	o := newObjects(t, addr, port)
	create(t, o.router)
	create(t, o.port)
	create(t, o.request)
	expectCondition(t, o.request, "Ready", metav1.ConditionFalse, peeringv1.ReasonWaitingForApproval)

	setCondition(t, o.request, metav1.Condition{Type: "Approved", Status: metav1.ConditionTrue, Reason: "NOCApproved", Message: "ticket NOC-1"})
	expectCondition(t, o.request, "Configured", metav1.ConditionFalse, peeringv1.ReasonConfigurationPending)
	g := NewWithT(t)
	g.Eventually(func(g Gomega) {
		pr := getPR(g, o.request)
		g.Expect(pr.Status.Approval.State).To(Equal("Approved"))
		g.Expect(pr.Status.Approval.Reason).To(Equal("ticket NOC-1"))
		g.Expect(pr.Status.Approval.Time).NotTo(BeNil())
		g.Expect(pr.Status.Approval.User).NotTo(BeEmpty(), "the webhook records who approved")
	}, timeout).Should(Succeed())

	// Denying an approved request is refused: a decision is final.
	pr := getPR(g, o.request)
	meta.SetStatusCondition(&pr.Status.Conditions, metav1.Condition{Type: "Denied", Status: metav1.ConditionTrue, Reason: "NOCDenied", Message: "no"})
	err := k8s.Status().Update(context.Background(), pr)
	g.Expect(err).To(MatchError(ContainSubstring("cannot be both Approved and Denied")))

	// A denied request is stalled and never configured.
	denied := o.request.DeepCopy()
	denied.ObjectMeta = metav1.ObjectMeta{Name: o.request.Name + "-denied", Namespace: "default"}
	create(t, denied)
	expectCondition(t, denied, "Ready", metav1.ConditionFalse, peeringv1.ReasonWaitingForApproval)
	setCondition(t, denied, metav1.Condition{Type: "Denied", Status: metav1.ConditionTrue, Reason: "NOCDenied", Message: "no"})
	expectCondition(t, denied, "Ready", metav1.ConditionFalse, peeringv1.ReasonDenied)
	expectCondition(t, denied, "Stalled", metav1.ConditionTrue, peeringv1.ReasonDenied)
	expectCondition(t, denied, "Configured", metav1.ConditionFalse, peeringv1.ReasonNotApproved)
}

// Deleting an IXPort that requests still use waits for them, says so, and
// completes once the last request is gone.
func TestIXPortDeletionWaitsForRequests(t *testing.T) {
	addr, port := listener(t)
	o := newObjects(t, addr, port)
	create(t, o.router)
	create(t, o.port)
	create(t, o.request)
	expectCondition(t, o.request, "Ready", metav1.ConditionFalse, peeringv1.ReasonWaitingForApproval)

	ctx := context.Background()
	g := NewWithT(t)
	g.Expect(k8s.Delete(ctx, o.port)).To(Succeed())
	ready := expectCondition(t, o.port, "Ready", metav1.ConditionFalse, peeringv1.ReasonDeletionWaits)
	if !strings.Contains(ready.Message, "default/"+o.request.Name) {
		t.Errorf("the message should list the request that holds the port, got %q", ready.Message)
	}
	// The request keeps its port meanwhile.
	expectCondition(t, o.request, "Ready", metav1.ConditionFalse, peeringv1.ReasonWaitingForApproval)

	deleteAndWait(t, o.request)
	deleteAndWait(t, o.port)
}

// An IXPort whose Router is missing says so and recovers when it appears;
// a Router reports whether its management port answers.
func TestIXPortWaitsForRouter(t *testing.T) {
	addr, port := listener(t)
	o := newObjects(t, addr, port)
	create(t, o.port)
	ready := expectCondition(t, o.port, "Ready", metav1.ConditionFalse, peeringv1.ReasonRouterNotFound)
	if !strings.Contains(ready.Message, o.router.Name) {
		t.Errorf("Ready message should name the missing Router, got %q", ready.Message)
	}
	expectCondition(t, o.port, "RouterFound", metav1.ConditionFalse, peeringv1.ReasonRouterNotFound)

	create(t, o.router)
	expectCondition(t, o.port, "Ready", metav1.ConditionTrue, peeringv1.ReasonPortValid)
	expectCondition(t, o.router, "Reachable", metav1.ConditionTrue, peeringv1.ReasonReachable)
	expectCondition(t, o.router, "Ready", metav1.ConditionFalse, peeringv1.ReasonDriverUnavailable)
}

func TestRouterUnreachable(t *testing.T) {
	o := newObjects(t, "127.0.0.1", closedPort(t))
	create(t, o.router)
	c := expectCondition(t, o.router, "Reachable", metav1.ConditionFalse, peeringv1.ReasonUnreachable)
	if !strings.Contains(c.Message, "connection refused") {
		t.Errorf("message should carry the dial error, got %q", c.Message)
	}

}
