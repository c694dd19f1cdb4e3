package controllers_test

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
	"github.com/peering-operator/peering-operator/controllers"
	"github.com/peering-operator/peering-operator/internal/irr"
	"github.com/peering-operator/peering-operator/internal/irr/irrtest"
	"github.com/peering-operator/peering-operator/internal/policy"
)

// wantFilter is what the filter of sets should be, computed directly with
// the IRR client, the policy and the aggregator.
func wantFilter(t *testing.T, sets []string, family int) policy.FilterSummary {
	t.Helper()
	c, err := irr.New(irr.Config{Servers: []string{irrSrv.Addr()}})
	if err != nil {
		t.Fatal(err)
	}
	ps, _, err := c.Expand(context.Background(), irr.Query{Sets: sets, Family: family})
	if err != nil {
		t.Fatal(err)
	}
	ps = policy.Filter(ps, policy.Limits{})
	return policy.Summarize(ps, irr.Aggregate(ps, irr.AggregateOptions{}))
}

func getPR(g Gomega, pr *peeringv1.PeeringRequest) *peeringv1.PeeringRequest {
	cur := &peeringv1.PeeringRequest{}
	g.Expect(k8s.Get(context.Background(), client.ObjectKeyFromObject(pr), cur)).To(Succeed())
	return cur
}

// A validated request gets its filters (counts and digest in status; the
// entries are persisted only once approval pins them) and its max-prefix
// limits.
func TestFiltersBuilt(t *testing.T) {
	addr, port := listener(t)
	o := newObjects(t, addr, port)
	create(t, o.router)
	create(t, o.port)
	create(t, o.request) // DENIC: AS-DENIC in PeeringDB
	c := expectCondition(t, o.request, "FiltersReady", metav1.ConditionTrue, peeringv1.ReasonFiltersBuilt)
	g := NewWithT(t)
	g.Expect(c.Message).To(ContainSubstring("AS-DENIC"))
	expectCondition(t, o.request, "Ready", metav1.ConditionFalse, peeringv1.ReasonWaitingForApproval)

	pr := getPR(g, o.request)
	for fam, fs := range map[int]*peeringv1.FilterStatus{4: pr.Status.Filters.IPv4, 6: pr.Status.Filters.IPv6} {
		want := wantFilter(t, []string{"AS-DENIC"}, fam)
		g.Expect(fs).NotTo(BeNil(), "IPv%d filter", fam)
		g.Expect(want.Prefixes).To(BeNumerically(">", 0))
		g.Expect(fs.Prefixes).To(BeEquivalentTo(want.Prefixes), "IPv%d", fam)
		g.Expect(fs.Entries).To(BeEquivalentTo(want.Entries), "IPv%d", fam)
		g.Expect(fs.Digest).To(Equal(want.Digest), "IPv%d", fam)
		g.Expect(fs.ASSet).To(Equal("AS-DENIC"))
		g.Expect(fs.Updated).NotTo(BeNil())
	}
	// DENIC publishes 80 IPv4 and 160 IPv6 prefixes: ⌈(n+100)×1.15⌉.
	limits := map[string]int64{}
	for _, s := range pr.Status.Sessions {
		g.Expect(s.Limit).NotTo(BeNil())
		limits[s.Family] = *s.Limit
	}
	g.Expect(limits).To(Equal(map[string]int64{"ipv4": 207, "ipv6": 299}))
}

// An empty IRR answer is never used without a human; the annotation with the
// filter's digest accepts it.
func TestEmptyFilterHeldUntilAccepted(t *testing.T) {
	addr, port := listener(t)
	o := newObjects(t, addr, port)
	o.request.Spec.IRRASSet = "AS-EMPTY"
	o.request.Spec.Addresses = []string{"80.81.192.37"}
	create(t, o.router)
	create(t, o.port)
	create(t, o.request)
	c := expectCondition(t, o.request, "FiltersReady", metav1.ConditionFalse, peeringv1.ReasonFilterEmpty)
	emptyDigest := policy.Digest(nil)
	g := NewWithT(t)
	g.Expect(c.Message).To(ContainSubstring(controllers.AnnotationAcceptFilter + "=" + emptyDigest))
	expectCondition(t, o.request, "Ready", metav1.ConditionFalse, peeringv1.ReasonFilterEmpty)
	g.Expect(getPR(g, o.request).Status.Filters).To(BeNil(), "no filter is in use")
	g.Eventually(func(g Gomega) { g.Expect(eventsFor(g, o.request, peeringv1.ReasonFilterEmpty)).To(HaveLen(1)) }, timeout).Should(Succeed())

	pr := getPR(g, o.request)
	pr.Annotations = map[string]string{controllers.AnnotationAcceptFilter: emptyDigest}
	g.Expect(k8s.Update(context.Background(), pr)).To(Succeed())
	expectCondition(t, o.request, "FiltersReady", metav1.ConditionTrue, peeringv1.ReasonFiltersBuilt)
	g.Expect(getPR(g, o.request).Status.Filters.IPv4.Prefixes).To(BeZero())
}

// When the IRR shrinks a live filter by more than half, the old filter stays
// and the status says why; an IRR outage keeps the last good filter too.
func TestFilterShrinkHeldAndIRROutage(t *testing.T) {
	addr, port := listener(t)
	o := newObjects(t, addr, port)
	o.request.Spec.IRRASSet = "AS-SHRINKTEST"
	o.request.Spec.Addresses = []string{"80.81.192.37"}
	big := "as-set: AS-SHRINKTEST\nmembers: AS64999\nsource: RIPE\n\n"
	for _, p := range []string{"11.1.0.0/24", "11.2.0.0/24", "11.3.0.0/24", "11.4.0.0/24", "11.5.0.0/24", "11.6.0.0/24"} {
		big += "route: " + p + "\norigin: AS64999\nsource: RIPE\n\n"
	}
	small := "as-set: AS-SHRINKTEST\nmembers: AS64999\nsource: RIPE\n\nroute: 11.1.0.0/24\norigin: AS64999\nsource: RIPE\n\n"
	g := NewWithT(t)
	g.Expect(irrSrv.Replace(irrtest.DefaultFixture(), big)).To(Succeed())
	t.Cleanup(func() { _ = irrSrv.Replace(irrtest.DefaultFixture()) })

	create(t, o.router)
	create(t, o.port)
	create(t, o.request)
	expectCondition(t, o.request, "FiltersReady", metav1.ConditionTrue, peeringv1.ReasonFiltersBuilt)
	live := getPR(g, o.request).Status.Filters.IPv4
	g.Expect(live.Prefixes).To(BeEquivalentTo(6))

	// The IRR loses 5 of the 6 routes: held, the 6-prefix filter stays.
	g.Expect(irrSrv.Replace(irrtest.DefaultFixture(), small)).To(Succeed())
	c := expectCondition(t, o.request, "FiltersReady", metav1.ConditionFalse, peeringv1.ReasonFilterShrink)
	g.Expect(c.Message).To(ContainSubstring("83% fewer"))
	pr := getPR(g, o.request)
	g.Expect(pr.Status.Filters.IPv4.Digest).To(Equal(live.Digest), "the live filter stays")

	// The IRR comes back with the routes, then goes down: the last good
	// filter stays in use.
	g.Expect(irrSrv.Replace(irrtest.DefaultFixture(), big)).To(Succeed())
	expectCondition(t, o.request, "FiltersReady", metav1.ConditionTrue, peeringv1.ReasonFiltersBuilt)
	irrSrv.SetFaults(irrtest.Faults{Error: true, ErrorMessage: "database locked"})
	t.Cleanup(func() { irrSrv.SetFaults(irrtest.Faults{}) })
	g.Eventually(func(g Gomega) {
		c := conditionOf(g, o.request, "FiltersReady")
		g.Expect(c.Status).To(Equal(metav1.ConditionTrue))
		g.Expect(c.Message).To(ContainSubstring("the IRR failed"))
	}, timeout).Should(Succeed())
	g.Expect(getPR(g, o.request).Status.Filters.IPv4.Digest).To(Equal(live.Digest))
	_ = netip.Addr{}
	_ = strings.Contains
}
