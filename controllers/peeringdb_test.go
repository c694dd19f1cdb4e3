package controllers_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
	"github.com/peering-operator/peering-operator/internal/validation"
)

// Requests for real networks of the PeeringDB sample at DE-CIX Frankfurt,
// on a route-server port: each validation outcome shows as its own reason.
func TestValidationAgainstPeeringDB(t *testing.T) {
	addr, port := listener(t)
	o := newObjects(t, addr, port)
	create(t, o.router)
	create(t, o.port)
	expectCondition(t, o.port, "PeeringDBValidated", metav1.ConditionTrue, peeringv1.ReasonPortValid)
	// AS64500 has no port at DE-CIX in PeeringDB: a warning, not a blocker.
	expectCondition(t, o.port, "NetIXLANMatches", metav1.ConditionFalse, validation.OwnEntryMissing)
	g := NewWithT(t)
	got := &peeringv1.IXPort{}
	g.Expect(k8s.Get(context.Background(), client.ObjectKeyFromObject(o.port), got)).To(Succeed())
	g.Expect(got.Status.IXName).To(Equal("DE-CIX Frankfurt"))
	g.Expect(got.Status.LANPrefixes).To(ConsistOf("80.81.192.0/21", "2001:7f8::/64"))

	tests := []struct {
		name      string
		asn       peeringv1.ASN
		addresses []string
		reason    string // PeeringDBValidated reason
		stalled   bool
		inMessage string
		peer      string
		sessions  []string
	}{
		{"valid with explicit addresses", 8763, []string{"80.81.192.37", "2001:7f8::223b:0:1"}, peeringv1.ReasonValidated, false, "DENIC eG", "DENIC eG", nil},
		{"no addresses means every PeeringDB address", 6939, nil, peeringv1.ReasonValidated, false, "2 session", "Hurricane Electric", []string{"80.81.192.172", "2001:7f8::1b1b:0:1"}},
		{"unknown network", 64999, nil, peeringv1.ReasonNetworkNotFound, true, "AS64999", "", nil},
		{"network not at the IX", 4436, nil, peeringv1.ReasonNotAtIX, true, "DE-CIX Frankfurt", "GTT Communications (AS4436)", nil},
		{"another peer's address", 8763, []string{"80.81.192.172"}, peeringv1.ReasonAddressMismatch, true, "80.81.192.172", "DENIC eG", nil},
		{"address outside the LAN", 8763, []string{"192.0.2.37"}, peeringv1.ReasonAddressOutsideLAN, true, "80.81.192.0/21", "DENIC eG", nil},
		{"policy No is held", 10026, nil, peeringv1.ReasonPeerPolicyNo, false, "No", "Pacnet", nil},
		{"never via route servers on a route server", 3257, nil, peeringv1.ReasonNeverViaRouteServers, true, "route server", "GTT Communications (AS3257)", nil},
		{"port not operational is held", 20940, nil, peeringv1.ReasonNotOperational, false, "not operational", "Akamai Technologies", nil},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pr := o.request.DeepCopy()
			pr.Name = fmt.Sprintf("validation-%d", i)
			pr.Spec.PeerASN, pr.Spec.Addresses = tc.asn, tc.addresses
			create(t, pr)
			want := metav1.ConditionFalse
			if tc.reason == peeringv1.ReasonValidated {
				want = metav1.ConditionTrue
			}
			c := expectCondition(t, pr, "PeeringDBValidated", want, tc.reason)
			g := NewWithT(t)
			g.Expect(c.Message).To(ContainSubstring(tc.inMessage))
			ready := peeringv1.ReasonWaitingForApproval
			if want == metav1.ConditionFalse {
				ready = tc.reason
			}
			expectCondition(t, pr, "Ready", metav1.ConditionFalse, ready)
			stalled := metav1.ConditionFalse
			if tc.stalled {
				stalled = metav1.ConditionTrue
			}
			expectCondition(t, pr, "Stalled", stalled, map[bool]string{true: tc.reason, false: peeringv1.ReasonNotStalled}[tc.stalled])
			g.Expect(k8s.Get(context.Background(), client.ObjectKeyFromObject(pr), pr)).To(Succeed())
			if tc.peer != "" {
				g.Expect(pr.Status.Peer).NotTo(BeNil())
				g.Expect(pr.Status.Peer.Name).To(Equal(tc.peer))
			}
			if tc.sessions != nil {
				var addrs []string
				for _, s := range pr.Status.Sessions {
					addrs = append(addrs, s.Address)
				}
				g.Expect(addrs).To(Equal(tc.sessions))
				g.Expect(pr.Status.SessionSummary).To(Equal("0/2"))
			}
		})
	}
}

// PeeringDB failing and then recovering moves a request from
// PeeringDBUnavailable to validated without a human.
func TestPeeringDBOutageRecovers(t *testing.T) {
	addr, port := listener(t)
	o := newObjects(t, addr, port)
	// LINX LON1 (ix 18) is loaded by nothing else, so this test sees the
	// first load fail.
	o.port.Spec.IX.PeeringDBID = 18
	o.port.Spec.IPv4Address, o.port.Spec.IPv6Address = "", "2001:7f8:4::fbf4:0:1/64"
	o.request.Spec.PeerASN, o.request.Spec.Addresses = 3303, []string{"2001:7f8:4::ce7:1"}

	pdb.SetDown(true)
	t.Cleanup(func() { pdb.SetDown(false) })
	create(t, o.router)
	create(t, o.port)
	create(t, o.request)
	c := expectCondition(t, o.request, "Ready", metav1.ConditionFalse, peeringv1.ReasonPeeringDBUnavailable)
	if !strings.Contains(c.Message, "retrying") {
		t.Errorf("the message should say the operator retries by itself: %q", c.Message)
	}
	expectCondition(t, o.request, "Reconciling", metav1.ConditionTrue, peeringv1.ReasonPeeringDBUnavailable)
	expectCondition(t, o.request, "PeeringDBValidated", metav1.ConditionUnknown, peeringv1.ReasonPeeringDBUnavailable)
	expectCondition(t, o.port, "Ready", metav1.ConditionFalse, peeringv1.ReasonPeeringDBUnavailable)

	pdb.SetDown(false)
	expectCondition(t, o.request, "PeeringDBValidated", metav1.ConditionTrue, peeringv1.ReasonValidated)
	expectCondition(t, o.request, "Ready", metav1.ConditionFalse, peeringv1.ReasonWaitingForApproval)
	expectCondition(t, o.port, "Ready", metav1.ConditionTrue, peeringv1.ReasonPortValid)
}

// However hard the operator pulls, the PeeringDB server never sees more
// than the configured rate: in any interval T at most 1 + rate·T requests
// (a token bucket of burst 1).
func TestPeeringDBRateLimit(t *testing.T) {
	// Something to refresh, whichever tests ran before.
	if err := pdbSource.Ensure(context.Background(), 31); err != nil {
		t.Fatal(err)
	}
	pdb.ResetStats()
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = pdbSource.Cache.Refresh(context.Background())
		}()
	}
	wg.Wait()
	times := pdb.RequestTimes()
	if len(times) < 8 {
		t.Fatalf("want at least 8 requests to measure, got %d", len(times))
	}
	perSecond := float64(testRate) / 60
	// Arrival times at the server carry the client's scheduling and transit
	// jitter (a request that waited on the token can still arrive right
	// after the previous one on a loaded machine): allow that much, which
	// is still far from the 8 concurrent refreshes an unlimited client
	// would fire at once.
	const slack = 250 * time.Millisecond
	for i := range times {
		for j := i + 1; j < len(times); j++ {
			span := times[j].Sub(times[i]) + slack
			if allowed := 1 + perSecond*span.Seconds(); float64(j-i+1) > allowed+0.001 {
				t.Fatalf("%d requests within %v: more than the %d/min rate allows (%.1f)", j-i+1, span-slack, testRate, allowed)
			}
		}
	}
	t.Logf("%d requests over %v at %d/min", len(times), times[len(times)-1].Sub(times[0]), testRate)
}
