package controllers_test

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
	"github.com/peering-operator/peering-operator/internal/frrtest"
	"github.com/peering-operator/peering-operator/internal/peeringdb/pdbtest"
)

// created → approved → Established on a real FRR reached over SSH; the
// route inside the IRR filter is accepted and the one outside rejected, on
// the router itself; deleting the request removes the neighbor and its
// filter while a neighbor configured by hand stays.
func TestFRREndToEnd(t *testing.T) {
	frrtest.RequirePrerequisites(t)
	r := frrtest.StartFRR(t, frrtest.Options{LocalASN: 64500, BGPConfig: []string{
		"neighbor 192.0.2.99 remote-as 64999", "neighbor 192.0.2.99 description configured by hand",
	}})
	peer, err := r.StartPeer(8763, netip.MustParseAddr("192.0.2.2"),
		netip.MustParsePrefix("4.44.128.0/18"), netip.MustParsePrefix("11.99.0.0/24"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(peer.Stop)

	o := frrObjects(t, r)
	create(t, o.router)
	create(t, o.port)
	create(t, o.request)
	expectCondition(t, o.request, "Ready", metav1.ConditionFalse, peeringv1.ReasonWaitingForApproval)
	expectCondition(t, o.router, "Ready", metav1.ConditionTrue, peeringv1.ReasonApplied)

	approve(t, o.request)
	expectCondition(t, o.request, "Ready", metav1.ConditionTrue, peeringv1.ReasonSessionsEstablished)
	g := NewWithT(t)
	g.Eventually(func(g Gomega) {
		s := getPR(g, o.request).Status.Sessions
		g.Expect(s).To(HaveLen(1))
		g.Expect(s[0].Received).To(HaveValue(BeEquivalentTo(2)))
		g.Expect(s[0].Accepted).To(HaveValue(BeEquivalentTo(1)))
	}, timeout).Should(Succeed())
	rib, err := r.Vtysh("show bgp ipv4 unicast json")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(rib).To(ContainSubstring("4.44.128.0/18"))
	g.Expect(rib).NotTo(ContainSubstring("11.99.0.0/24"))

	deleteAndWait(t, o.request)
	g.Eventually(func(g Gomega) {
		run, err := r.Vtysh("show running-config")
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(run).NotTo(ContainSubstring("neighbor 192.0.2.2 "))
		g.Expect(strings.Contains(run, "PO-")).To(BeFalse(), "the request's filter must go too")
		g.Expect(run).To(ContainSubstring("neighbor 192.0.2.99 remote-as 64999"))
	}, timeout).Should(Succeed())
}

// A peer that sends more than its limit on FRR: the session goes down,
// lastError is FRR's own word, and raising the limit and clearing brings it
// back.
func TestFRRMaxPrefixTrip(t *testing.T) {
	frrtest.RequirePrerequisites(t)
	r := frrtest.StartFRR(t, frrtest.Options{LocalASN: 64500})
	peer, err := r.StartPeer(8763, netip.MustParseAddr("192.0.2.2"),
		netip.MustParsePrefix("4.44.128.0/18"), netip.MustParsePrefix("129.71.70.0/24"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(peer.Stop)
	o := frrObjects(t, r)
	one := int64(1)
	o.request.Spec.MaxPrefixes = &peeringv1.MaxPrefixes{IPv4: &one}
	create(t, o.router)
	create(t, o.port)
	create(t, o.request)
	approve(t, o.request)
	g := NewWithT(t)
	g.Eventually(func(g Gomega) {
		ss := getPR(g, o.request).Status.Sessions
		g.Expect(ss).To(HaveLen(1))
		g.Expect(ss[0].State).NotTo(Equal("Established"))
		// FRR's own word: prefixesConfigExceedMax, and the NOTIFICATION
		// it sent (lastNotificationReason).
		g.Expect(ss[0].LastError).To(ContainSubstring("maximum prefix limit 1 exceeded"))
		g.Expect(ss[0].LastError).To(ContainSubstring("NOTIFICATION sent: Cease/Maximum Number of Prefixes Reached"))
	}, 40*time.Second).Should(Succeed())
	raiseLimitAndClear(t, o.request, 10)
	expectCondition(t, o.request, "Ready", metav1.ConditionTrue, peeringv1.ReasonSessionsEstablished)
}

// frrObjects are newObjects for an FRR lab router reached over SSH (the
// credentials Secret is created) with its IXPort on the FRR lab IX, and a
// request whose addresses come from PeeringDB.
func frrObjects(t *testing.T, r *frrtest.Router) objects {
	t.Helper()
	o := newObjects(t, r.Host, int32(r.Port))
	creds := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: o.router.Name + "-ssh", Namespace: "default"},
		Data: map[string][]byte{"username": []byte(r.User), "password": []byte(r.Password), "known_hosts": r.KnownHosts}}
	create(t, creds)
	o.router.Spec.Driver, o.router.Spec.RouteServer = peeringv1.DriverFRR, false
	o.router.Spec.RouterID = r.RouterID.String()
	o.router.Spec.CredentialsSecretRef = &peeringv1.SecretReference{Namespace: "default", Name: creds.Name}
	o.port.Spec.IX.PeeringDBID = pdbtest.FRRLabIXID
	o.port.Spec.IPv4Address, o.port.Spec.IPv6Address = "192.0.2.1/24", ""
	o.request.Spec.Addresses = nil
	return o
}
