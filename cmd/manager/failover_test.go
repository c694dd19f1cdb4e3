package main

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	api "github.com/osrg/gobgp/v3/api"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
	"github.com/peering-operator/peering-operator/internal/irr/irrtest"
)

// haArgs are the flags of a replica in a leader-elected pair. The lease is
// short so the test does not wait 15 s for a takeover.
func haArgs(l *lab, extra ...string) []string {
	// A resync every 30 s (the lab's 2 s would keep hundreds of requests
	// busy re-validating; the default is 10 min).
	return append(append(l.args(), "--resync-interval=30s", "--leader-elect", "--leader-elect-namespace=default",
		"--leader-elect-lease-duration=4s", "--leader-elect-renew-deadline=3s", "--leader-elect-retry-period=500ms"), extra...)
}

// synthLab is a route server on a synthetic IX with n approved requests.
func synthLab(t testing.TB, l *lab, name string, ixID, n int) (*routeServer, []*peeringv1.PeeringRequest, map[netip.Addr]bool) {
	t.Helper()
	rpsl, ports := synthPorts(t, l.pdb, ixID, n)
	l.mu.Lock()
	err := l.irr.Replace(irrtest.DefaultFixture(), rpsl)
	l.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	rs := startRouteServer(t, name, ixID, "127.1.0.1/16")
	var prs []*peeringv1.PeeringRequest
	want := map[netip.Addr]bool{}
	for i, p := range ports {
		pr := request(fmt.Sprintf("%s-%04d", name, i), rs.port.Name, p.ASN)
		create(t, pr)
		prs = append(prs, pr)
		want[p.Addr] = true
	}
	approveAll(t, prs)
	return rs, prs, want
}

// peers lists the neighbors gobgpd has.
func (r *routeServer) peers(g Gomega) map[netip.Addr]bool {
	stream, err := r.rs.API.ListPeer(context.Background(), &api.ListPeerRequest{})
	g.Expect(err).NotTo(HaveOccurred())
	out := map[netip.Addr]bool{}
	for {
		m, err := stream.Recv()
		if err == io.EOF {
			return out
		}
		g.Expect(err).NotTo(HaveOccurred())
		out[netip.MustParseAddr(m.Peer.Conf.NeighborAddress)] = true
	}
}

// The leader dies (kill -9) in the middle of an apply of 200 neighbors; the
// standby takes over and the route server ends with exactly the desired
// neighbors, none of them removed on the way.
func TestFailoverMidApply(t *testing.T) {
	l := newLab(t)
	g := NewWithT(t)
	// Applies are 5 s apart, so the requests pinned meanwhile go out in one
	// large apply.
	args := haArgs(l, "--min-apply-interval=5s")
	rs, prs, want := synthLab(t, l, "failover", 90020, 200)

	var leader atomic.Pointer[manager]
	var killOnce sync.Once
	killed := make(chan int64, 1)
	rs.proxy.OnCall(func(method string, n int64) {
		if method == "AddPeer" && n == 50 {
			killOnce.Do(func() {
				if m := leader.Load(); m != nil {
					_ = m.cmd.Process.Kill()
				}
				killed <- n
			})
		}
	})
	a := startManager(t, "a", args...)
	g.Eventually(a.leading, timeout).Should(BeTrue(), "the first replica must lead")
	leader.Store(a)
	b := startManager(t, "b", args...)
	g.Consistently(b.leading, time.Second, 100*time.Millisecond).Should(BeFalse(), "one leader at a time")

	select {
	case <-killed:
	case <-time.After(2 * timeout):
		t.Fatalf("the leader never reached its 50th AddPeer (AddPeer calls so far: %d)", rs.proxy.Count("AddPeer"))
	}
	<-a.exited
	t.Logf("leader killed after %d AddPeer calls", rs.proxy.Count("AddPeer"))
	start := time.Now()
	g.Eventually(b.leading, timeout).Should(BeTrue(), "the standby must take over")
	t.Logf("standby leads %v after the kill", time.Since(start).Round(10*time.Millisecond))

	g.Eventually(func(g Gomega) {
		g.Expect(rs.peers(g)).To(Equal(want), "the route server must have exactly the desired neighbors")
		for _, pr := range prs {
			cur := pr.DeepCopy()
			get(g, cur)
			g.Expect(meta.IsStatusConditionTrue(cur.Status.Conditions, peeringv1.PeeringRequestConfigured)).To(BeTrue(), "%s not configured", pr.Name)
		}
	}, 2*timeout).Should(Succeed())
	t.Logf("converged %v after the kill; AddPeer calls %d, DeletePeer calls %d", time.Since(start).Round(10*time.Millisecond),
		rs.proxy.Count("AddPeer"), rs.proxy.Count("DeletePeer"))
	g.Expect(rs.proxy.Count("DeletePeer")).To(BeZero(), "no neighbor may be removed on the way")
	// Each neighbor was added once; the one whose AddPeer the kill cut may
	// have been sent again.
	g.Expect(rs.proxy.Count("AddPeer")).To(BeNumerically("<=", 201))
}

// countConfigured counts the requests (of prs) whose Configured is True.
func countConfigured(g Gomega, prs []*peeringv1.PeeringRequest) int {
	var list peeringv1.PeeringRequestList
	g.Expect(k8s.List(context.Background(), &list, client.InNamespace("default"))).To(Succeed())
	want := map[string]bool{}
	for _, pr := range prs {
		want[pr.Name] = true
	}
	n := 0
	for _, pr := range list.Items {
		if want[pr.Name] && meta.IsStatusConditionTrue(pr.Status.Conditions, peeringv1.PeeringRequestConfigured) {
			n++
		}
	}
	return n
}

// BenchmarkFailover2000 is a leader failover on a converged route server
// with 2,000 pinned requests while the IRR is down: how long until the new
// leader has applied (its first router reconcile done), and how many writes
// reach gobgpd on the way (goal: 0). The lease wait (4 s here, 15 s in
// config/manager) is reported apart from the takeover itself.
func BenchmarkFailover2000(b *testing.B) {
	const n = 2000
	l := newLab(b)
	g := NewWithT(b)
	args := haArgs(l, "--kube-api-qps=200", "--kube-api-burst=400")
	rs, prs, want := synthLab(b, l, "bench-failover", 90030, n)
	a := startManager(b, "a", args...)
	g.Eventually(a.leading, timeout).Should(BeTrue())
	start := time.Now()
	g.Eventually(func(g Gomega) int { return countConfigured(g, prs) }, 20*time.Minute, 2*time.Second).Should(Equal(n))
	b.Logf("%d requests configured by the first leader in %v", n, time.Since(start).Round(time.Second))
	g.Eventually(func(g Gomega) { g.Expect(rs.peers(g)).To(Equal(want)) }, timeout).Should(Succeed())
	standby := startManager(b, "b", args...)
	// A standby that has run a while has loaded every pinned filter.
	g.Eventually(func() float64 { return standby.metric("peering_filterstore_filters", nil) }, 5*time.Minute).Should(BeNumerically(">=", n))
	l.stopIRR()
	writes := rs.proxy.Writes()

	b.ResetTimer()
	killed := time.Now()
	a.kill()
	before := standby.reconciles("router")
	g.Eventually(standby.leading, timeout, 50*time.Millisecond).Should(BeTrue())
	leads := time.Now()
	g.Eventually(func() float64 { return standby.reconciles("router") }, 5*time.Minute, 50*time.Millisecond).Should(BeNumerically(">", before))
	applied := time.Now()
	b.StopTimer()

	b.ReportMetric(leads.Sub(killed).Seconds(), "s-lease-wait")
	b.ReportMetric(applied.Sub(leads).Seconds(), "s-takeover")
	b.ReportMetric(applied.Sub(killed).Seconds(), "s-total")
	b.ReportMetric(float64(rs.proxy.Writes()-writes), "router-writes")
	g.Expect(rs.proxy.Writes()-writes).To(BeZero(), "the new leader wrote to gobgpd")
	g.Expect(rs.peers(g)).To(Equal(want))
	g.Expect(countConfigured(g, prs)).To(Equal(n))
}
