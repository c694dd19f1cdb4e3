package controllers_test

import (
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
)

// A router that accepts TCP and never answers SSH (each attempt holds a
// worker for the 15 s dial timeout) does not hold up the others: with the
// default workers, 19 gobgpd routers (a fleet of 20 with it) each bring
// their request up while the blackholed one is still failing.
func TestSlowRouterDoesNotHoldUpTheOthers(t *testing.T) {
	const others = 19
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
	start := time.Now()
	for i := range others {
		_, o, _ := gobgpdLab(t, fmt.Sprintf("-%d", i))
		create(t, o.router)
		create(t, o.port)
		create(t, o.request)
		approve(t, o.request)
		reqs = append(reqs, o.request)
	}
	for _, pr := range reqs {
		expectCondition(t, pr, "Ready", metav1.ConditionTrue, peeringv1.ReasonSessionsEstablished)
	}
	t.Logf("%d routers Established in %s beside the blackholed one", others, time.Since(start).Round(time.Millisecond))
	if c := conditionOf(g, bh.router, "Ready"); c != nil && c.Status == metav1.ConditionTrue {
		t.Errorf("the blackholed router is Ready: %+v", c)
	}
	// It was tried (and held a worker) while the others came up.
	mu.Lock()
	attempts := len(held)
	mu.Unlock()
	g.Expect(attempts).To(BeNumerically(">=", 1), "the blackholed router was never tried")
}
