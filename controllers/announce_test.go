package controllers

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
	"github.com/peering-operator/peering-operator/internal/router"
)

func TestAnnounceFor(t *testing.T) {
	rt := &peeringv1.Router{ObjectMeta: metav1.ObjectMeta{Name: "r1"}, Spec: peeringv1.RouterSpec{
		Announce: &peeringv1.Announce{Prefixes: []string{"198.51.100.0/24", "192.0.2.0/24", "2001:db8::/32"}}}}
	port := &peeringv1.IXPort{ObjectMeta: metav1.ObjectMeta{Name: "lan"}, Spec: peeringv1.IXPortSpec{RouterRef: peeringv1.LocalObjectReference{Name: "r1"}}}
	own := &peeringv1.IXPort{ObjectMeta: metav1.ObjectMeta{Name: "own"}, Spec: peeringv1.IXPortSpec{RouterRef: peeringv1.LocalObjectReference{Name: "r1"},
		Announce: &peeringv1.Announce{Prefixes: []string{"203.0.113.0/24"}}}}
	pr := &peeringv1.PeeringRequest{}
	narrow := &peeringv1.PeeringRequest{Spec: peeringv1.PeeringRequestSpec{Announce: &peeringv1.Announce{Prefixes: []string{"192.0.2.0/24", "10.0.0.0/8"}}}}
	str := func(a announcement) string {
		var s []string
		for _, p := range a.Prefixes {
			s = append(s, p.String())
		}
		return strings.Join(s, " ") + "|" + strings.Join(a.Ignored, " ")
	}
	for _, tc := range []struct {
		name string
		port *peeringv1.IXPort
		pr   *peeringv1.PeeringRequest
		v6   bool
		want string
	}{
		{"the router's list, sorted", port, pr, false, "192.0.2.0/24 198.51.100.0/24|"},
		{"IPv6 only IPv6", port, pr, true, "2001:db8::/32|"},
		{"the port's list replaces the router's", own, pr, false, "203.0.113.0/24|"},
		{"a request narrows; what is not listed is not announced", port, narrow, false, "192.0.2.0/24|10.0.0.0/8"},
		{"a request cannot add", own, narrow, false, "|192.0.2.0/24 10.0.0.0/8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := str(announceFor(rt, tc.port, tc.pr, tc.v6)); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
	ok, reason, _ := announcingCondition(rt, port, announcement{}, announcement{}, true, false, nil)
	if ok || reason != peeringv1.ReasonNothingToAnnounce {
		t.Errorf("nothing to announce: %v %s", ok, reason)
	}
	rs := rt.DeepCopy()
	rs.Spec.RouteServer = true
	if ok, reason, _ := announcingCondition(rs, port, announcement{}, announcement{}, true, false, nil); !ok || reason != peeringv1.ReasonRouteServerRelays {
		t.Errorf("route server: %v %s", ok, reason)
	}
}

// Every ordinary neighbor gets its explicit export and the learned mark;
// route-server clients keep route-server semantics.
func TestDesiredForExports(t *testing.T) {
	rt := &peeringv1.Router{ObjectMeta: metav1.ObjectMeta{Name: "r1"}, Spec: peeringv1.RouterSpec{LocalASN: 64500, RouterID: "192.0.2.1",
		Announce: &peeringv1.Announce{Prefixes: []string{"198.51.100.0/24", "2001:db8::/32"}}}}
	port := &peeringv1.IXPort{ObjectMeta: metav1.ObjectMeta{Name: "lan"}, Spec: peeringv1.IXPortSpec{IX: peeringv1.IXReference{PeeringDBID: 31}}}
	pr := pinnedRequest("p", time.Now(), "80.81.192.1", "2001:7f8::1")
	c := withFilters(pr)
	c.Port = port
	res := desiredFor(rt, []candidate{c}, time.Now())
	for _, n := range res.Desired.Neighbors {
		want := "198.51.100.0/24"
		if n.Address.Is6() {
			want = "2001:db8::/32"
		}
		if len(n.Export) != 1 || n.Export[0].Prefix != netip.MustParsePrefix(want) || !n.Export[0].Exact || n.Learned != router.LearnedPeer || n.IXID != 31 {
			t.Errorf("%s: export %v learned %d ix %d", n.Address, n.Export, n.Learned, n.IXID)
		}
	}
	rt.Spec.RouteServer = true
	for _, n := range desiredFor(rt, []candidate{c}, time.Now()).Desired.Neighbors {
		if n.Export != nil || n.Learned != 0 {
			t.Errorf("route-server client %s got an export %v / mark %d", n.Address, n.Export, n.Learned)
		}
	}
}
