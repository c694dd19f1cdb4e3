package controllers_test

import (
	"fmt"
	"net"
	"net/netip"
	"sync"
	"testing"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
	"github.com/peering-operator/peering-operator/controllers"
	"github.com/peering-operator/peering-operator/internal/bgptest"
	"github.com/peering-operator/peering-operator/internal/peeringdb/pdbtest"
)

// A router that accepts TCP and never answers SSH (each attempt holds a
// worker for the 15 s dial timeout) does not hold up the others: with the
// default workers, three gobgpd routers each bring their request up while
// the blackholed one is still failing.
func TestSlowRouterDoesNotHoldUpTheOthers(t *testing.T) {
	g := NewWithT(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	g.Expect(err).NotTo(HaveOccurred())
	var mu sync.Mutex
	var held []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c) // never answered
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			_ = c.Close()
		}
	})
	bh := newObjects(t, "127.0.0.1", int32(ln.Addr().(*net.TCPAddr).Port))
	creds := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: bh.router.Name + "-ssh", Namespace: "default"},
		Data: map[string][]byte{"username": []byte("noc"), "password": []byte("x"), "insecure-skip-host-key-verification": []byte("true")}}
	create(t, creds)
	bh.router.Spec.Driver, bh.router.Spec.RouteServer = peeringv1.DriverFRR, false
	bh.router.Spec.CredentialsSecretRef = &peeringv1.SecretReference{Namespace: "default", Name: creds.Name}
	create(t, bh.router)

	var reqs []*peeringv1.PeeringRequest
	for i := range 3 {
		rt := bgptest.StartGoBGPD(t, bgptest.Config{Name: fmt.Sprintf("ours%d", i), ASN: 64500,
			ListenAddr: netip.MustParseAddr("127.0.0.1"), RouterID: netip.MustParseAddr("192.0.2.1")})
		o := newObjects(t, "127.0.0.1", int32(rt.Config.GRPCPort))
		suffix := fmt.Sprintf("-%d", i)
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
		bgptest.StartPeer(t, bgptest.PeerConfig{Name: "denic" + suffix, Addr: denic.Addr, ASN: denic.ASN, RouteServer: rt.Endpoint(),
			Routes: []bgptest.Route{{Prefix: netip.MustParsePrefix("4.44.128.0/18")}}})
		create(t, o.router)
		create(t, o.port)
		create(t, o.request)
		approve(t, o.request)
		reqs = append(reqs, o.request)
	}
	for _, pr := range reqs {
		expectCondition(t, pr, "Ready", metav1.ConditionTrue, controllers.ReasonSessionsEstablished)
	}
	if c := conditionOf(g, bh.router, "Ready"); c != nil && c.Status == metav1.ConditionTrue {
		t.Errorf("the blackholed router is Ready: %+v", c)
	}
}
