package controllers_test

import (
	"context"
	"net/netip"
	"slices"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
	"github.com/peering-operator/peering-operator/internal/bgptest"
	"github.com/peering-operator/peering-operator/internal/irr/irrtest"
)

// What we announce from our AS-SET, end to end on our gobgpd: the
// Router's spec.announce.asSet is expanded from the IRR and pinned, and
// the peer receives our own prefix and our customers' (each as our
// router has it), nothing else. When the IRR loses most of the
// customers' routes, the export list is held (DriftHeld) and the peer
// keeps receiving them; a human's accept withdraws them.
func TestExportASSetEndToEnd(t *testing.T) {
	ctx := context.Background()
	g := NewWithT(t)
	const ours, stranger = "198.51.100.0/24", "31.9.9.0/24"
	customers := []string{"31.3.1.0/24", "31.3.2.0/24", "31.3.3.0/24", "31.3.4.0/24"}
	rpsl := func(routes ...string) string {
		s := "as-set: AS-OURCUST\nmembers: AS3900000511\nsource: RIPE\n\n"
		for _, r := range routes {
			s += "route: " + r + "\norigin: AS3900000511\nsource: RIPE\n\n"
		}
		return s
	}
	g.Expect(irrSrv.Replace(irrtest.DefaultFixture(), rpsl(customers...))).To(Succeed())
	t.Cleanup(func() { _ = irrSrv.Replace(irrtest.DefaultFixture()) })

	rt, o, peer := gobgpdLab(t, "")
	for _, p := range append([]string{ours, stranger}, customers...) {
		g.Expect(rt.Announce(ctx, bgptest.Route{Prefix: netip.MustParsePrefix(p)})).To(Succeed())
	}
	o.router.Spec.Announce = &peeringv1.Announce{Prefixes: []string{ours}, ASSet: "AS-OURCUST"}
	create(t, o.router)
	create(t, o.port)
	create(t, o.request)
	approve(t, o.request)
	expectCondition(t, o.request, "Ready", metav1.ConditionTrue, peeringv1.ReasonSessionsEstablished)

	// fromUs is what the peer holds from us, sorted.
	fromUs := func(g Gomega) []string {
		rib, err := peer.RIB(ctx, 4)
		g.Expect(err).NotTo(HaveOccurred())
		var out []string
		for _, r := range rib {
			if r.Prefix.String() != "4.44.128.0/18" {
				out = append(out, r.Prefix.String())
			}
		}
		slices.Sort(out)
		return out
	}
	all := append([]string{ours}, customers...)
	slices.Sort(all)
	g.Eventually(fromUs, timeout).Should(Equal(all), "our prefix and our customers', not %s", stranger)
	pr := getPR(g, o.request)
	g.Expect(pr.Status.Config.IPv4Export).NotTo(BeEmpty())
	g.Expect(pr.Status.ExportFilters.IPv4.Prefixes).To(BeEquivalentTo(4))
	g.Expect(pr.Status.Exports.IPv4.Prefixes).To(BeEquivalentTo(5))
	g.Expect(conditionOf(g, o.request, "Announcing").Message).To(ContainSubstring("from AS-OURCUST: 4 prefix(es)"))

	// The IRR loses three of the four: held, and the peer keeps them.
	g.Expect(irrSrv.Replace(irrtest.DefaultFixture(), rpsl(customers[0]))).To(Succeed())
	c := expectCondition(t, o.request, "DriftHeld", metav1.ConditionTrue, peeringv1.ReasonFilterShrink)
	g.Expect(c.Message).To(ContainSubstring("export"))
	g.Consistently(fromUs, "3s", "500ms").Should(Equal(all), "an IRR edit never withdraws our routes by itself")

	// A human accepts: only the one left is announced with ours.
	token := getPR(g, o.request).Status.Drift.Token
	patch := []byte(`{"metadata":{"annotations":{"` + peeringv1.AnnotationAcceptDrift + `":"` + token + `"}}}`)
	g.Expect(k8s.Patch(ctx, o.request, client.RawPatch(types.MergePatchType, patch))).To(Succeed())
	// gobgpd cannot withdraw what a narrowed export no longer allows, so
	// the driver resets the session; gobgpd idles 30 s after a reset
	// (idle-hold-time-after-reset) before the peer may come back.
	want := []string{ours, customers[0]}
	slices.Sort(want)
	g.Eventually(fromUs, 2*timeout+30*time.Second).Should(Equal(want))
	expectCondition(t, o.request, "DriftHeld", metav1.ConditionFalse, peeringv1.ReasonInSync)
}
