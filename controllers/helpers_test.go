package controllers_test

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
	"github.com/peering-operator/peering-operator/internal/bgptest"
	"github.com/peering-operator/peering-operator/internal/peeringdb/pdbtest"
)

const timeout = 20 * time.Second

// objects builds a Router, an IXPort on it and a PeeringRequest on the port,
// with names unique to the test.
type objects struct {
	router  *peeringv1.Router
	port    *peeringv1.IXPort
	request *peeringv1.PeeringRequest
}

func newObjects(t *testing.T, routerAddr string, routerPort int32) objects {
	n := strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name()))
	if len(n) > 40 {
		n = n[:40]
	}
	ns := &metav1.ObjectMeta{Name: n}
	return objects{
		router: &peeringv1.Router{
			ObjectMeta: metav1.ObjectMeta{Name: n + "-rs"},
			// A driver this build cannot push to: these tests are about the
			// Kubernetes side, and the router controller only probes it.
			Spec: peeringv1.RouterSpec{Driver: peeringv1.DriverEOS, Address: routerAddr, Port: routerPort,
				LocalASN: 64500, RouterID: "192.0.2.1", RouteServer: true,
				CredentialsSecretRef: &peeringv1.SecretReference{Namespace: "default", Name: "unused"}},
		},
		port: &peeringv1.IXPort{
			ObjectMeta: metav1.ObjectMeta{Name: n + "-port"},
			Spec: peeringv1.IXPortSpec{IX: peeringv1.IXReference{PeeringDBID: 31},
				RouterRef:   peeringv1.LocalObjectReference{Name: n + "-rs"},
				IPv4Address: "80.81.192.10/21", IPv6Address: "2001:7f8::fbf4:0:1/64"},
		},
		request: &peeringv1.PeeringRequest{
			ObjectMeta: metav1.ObjectMeta{Name: ns.Name, Namespace: "default"},
			// DENIC eG, at DE-CIX Frankfurt in the PeeringDB sample.
			Spec: peeringv1.PeeringRequestSpec{PeerASN: 8763,
				IXPortRef: peeringv1.LocalObjectReference{Name: n + "-port"},
				Addresses: []string{"80.81.192.37", "2001:7f8::223b:0:1"}},
		},
	}
}

// create creates obj and deletes it when the test ends. The deletion does
// not wait: a port's finalizer waits for its requests, which other cleanups
// delete, and names are unique per test.
func create(t *testing.T, obj client.Object) {
	t.Helper()
	if err := k8s.Create(context.Background(), obj); err != nil {
		t.Fatalf("create %T %s: %v", obj, obj.GetName(), err)
	}
	t.Cleanup(func() {
		if err := k8s.Delete(context.Background(), obj); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("delete %s: %v", obj.GetName(), err)
		}
	})
}

func deleteAndWait(t *testing.T, obj client.Object) {
	t.Helper()
	ctx := context.Background()
	if err := k8s.Delete(ctx, obj); err != nil && !apierrors.IsNotFound(err) {
		t.Errorf("delete %s: %v", obj.GetName(), err)
		return
	}
	NewWithT(t).Eventually(func() bool {
		return apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKeyFromObject(obj), obj.DeepCopyObject().(client.Object)))
	}, timeout).Should(BeTrue(), "%s %s was not deleted", obj.GetObjectKind().GroupVersionKind().Kind, obj.GetName())
}

// conditionOf fetches obj and returns its condition t (nil when absent).
func conditionOf(g Gomega, obj client.Object, t string) *metav1.Condition {
	g.Expect(k8s.Get(context.Background(), client.ObjectKeyFromObject(obj), obj)).To(Succeed())
	var conds []metav1.Condition
	switch o := obj.(type) {
	case *peeringv1.PeeringRequest:
		conds = o.Status.Conditions
	case *peeringv1.IXPort:
		conds = o.Status.Conditions
	case *peeringv1.Router:
		conds = o.Status.Conditions
	}
	return meta.FindStatusCondition(conds, t)
}

// expectCondition waits until obj has condition t with the status and reason.
func expectCondition(t *testing.T, obj client.Object, typ string, status metav1.ConditionStatus, reason string) *metav1.Condition {
	t.Helper()
	var got *metav1.Condition
	NewWithT(t).Eventually(func(g Gomega) {
		got = conditionOf(g, obj, typ)
		g.Expect(got).NotTo(BeNil(), "no %s condition", typ)
		g.Expect(got.Status).To(Equal(status), "%s: %s", typ, got.Message)
		g.Expect(got.Reason).To(Equal(reason), "%s: %s", typ, got.Message)
	}, timeout).Should(Succeed())
	return got
}

// eventsFor lists the events about obj with the given reason.
func eventsFor(g Gomega, obj client.Object, reason string) []eventsv1.Event {
	var list eventsv1.EventList
	ns := obj.GetNamespace()
	if ns == "" {
		ns = "default"
	}
	g.Expect(k8s.List(context.Background(), &list, client.InNamespace(ns))).To(Succeed())
	var out []eventsv1.Event
	for _, e := range list.Items {
		if e.Regarding.Name == obj.GetName() && e.Reason == reason {
			out = append(out, e)
		}
	}
	return out
}

// setCondition sets a condition on a PeeringRequest's status, as an
// approver (kubectl patch --subresource=status) does.
func setCondition(t *testing.T, pr *peeringv1.PeeringRequest, c metav1.Condition) {
	t.Helper()
	NewWithT(t).Eventually(func() error {
		cur := &peeringv1.PeeringRequest{}
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(pr), cur); err != nil {
			return err
		}
		meta.SetStatusCondition(&cur.Status.Conditions, c)
		return k8s.Status().Update(context.Background(), cur)
	}, timeout).Should(Succeed())
}

// listener accepts and closes TCP connections on 127.0.0.1 until the test ends.
func listener(t *testing.T) (string, int32) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	a := l.Addr().(*net.TCPAddr)
	return a.IP.String(), int32(a.Port)
}

// closedPort returns a loopback port nothing listens on.
func closedPort(t *testing.T) int32 {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return int32(p)
}

// gobgpdLab is our gobgpd as an ordinary router at the lab IX (loopback),
// with objects for a request to DENIC's lab port and that peer running
// (announcing 4.44.128.0/18); suffix keeps several labs in one test apart.
// The objects are not created yet.
func gobgpdLab(t *testing.T, suffix string) (ours *bgptest.Speaker, o objects, peer *bgptest.Speaker) {
	t.Helper()
	ours = bgptest.StartGoBGPD(t, bgptest.Config{Name: "ours" + suffix, ASN: 64500,
		ListenAddr: netip.MustParseAddr("127.0.0.1"), RouterID: netip.MustParseAddr("192.0.2.1")})
	o = newObjects(t, "127.0.0.1", int32(ours.Config.GRPCPort))
	o.router.Name += suffix
	o.port.Name += suffix
	o.port.Spec.RouterRef.Name = o.router.Name
	o.request.Name += suffix
	o.request.Spec.IXPortRef.Name = o.port.Name
	o.router.Spec.Driver, o.router.Spec.CredentialsSecretRef, o.router.Spec.RouteServer = peeringv1.DriverGoBGP, nil, false
	o.port.Spec.IX.PeeringDBID = pdbtest.LabIXID
	o.port.Spec.IPv4Address, o.port.Spec.IPv6Address = "127.0.0.1/24", ""
	o.request.Spec.Addresses = nil // DENIC's lab port, 127.0.0.11
	denic := pdbtest.LabPorts[0]
	peer = bgptest.StartPeer(t, bgptest.PeerConfig{Name: "denic" + suffix, Addr: denic.Addr, ASN: denic.ASN, RouteServer: ours.Endpoint(),
		Routes: []bgptest.Route{{Prefix: netip.MustParsePrefix("4.44.128.0/18")}}})
	return ours, o, peer
}
