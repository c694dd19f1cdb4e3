package main

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	api "github.com/osrg/gobgp/v3/api"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
	"github.com/peering-operator/peering-operator/internal/bgptest"
	"github.com/peering-operator/peering-operator/internal/frrtest"
	"github.com/peering-operator/peering-operator/internal/peeringdb"
	"github.com/peering-operator/peering-operator/internal/peeringdb/pdbtest"
)

// labRoutes: each lab peer announces routes of its AS-SET in the IRR
// fixture.
var labRoutes = map[uint32][]string{
	8763: {"4.44.128.0/18", "129.71.70.0/24"},
	6939: {"216.218.128.0/17", "184.104.0.0/15"},
	8560: {"29.6.64.0/24", "204.58.196.0/22"},
}

// routeServer is a gobgpd route server behind a counting proxy, with its
// Router and IXPort on the lab IX.
type routeServer struct {
	rs     *bgptest.Speaker
	proxy  *bgptest.Proxy
	router *peeringv1.Router
	port   *peeringv1.IXPort
}

func startRouteServer(t testing.TB, name string, ixID int, lan string) *routeServer {
	t.Helper()
	rs := bgptest.StartGoBGPD(t, bgptest.Config{Name: name, ASN: 64500,
		ListenAddr: netip.MustParseAddr("127.0.0.1"), RouterID: netip.MustParseAddr("192.0.2.1")})
	proxy := bgptest.StartProxy(t, rs.GRPCAddr())
	host, port, _ := net.SplitHostPort(proxy.Addr)
	p, _ := strconv.Atoi(port)
	r := &routeServer{rs: rs, proxy: proxy,
		router: &peeringv1.Router{ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: peeringv1.RouterSpec{Driver: peeringv1.DriverGoBGP, Address: host, Port: int32(p), LocalASN: 64500, RouterID: "192.0.2.1", RouteServer: true}},
		port: &peeringv1.IXPort{ObjectMeta: metav1.ObjectMeta{Name: name + "-lan"},
			Spec: peeringv1.IXPortSpec{IX: peeringv1.IXReference{PeeringDBID: int64(ixID)}, RouterRef: peeringv1.LocalObjectReference{Name: name}, IPv4Address: lan}},
	}
	create(t, r.router)
	create(t, r.port)
	return r
}

// session is gobgpd's word on a neighbor: exists, state, admin down.
func (r *routeServer) session(g Gomega, addr netip.Addr) (exists bool, state api.PeerState_SessionState, adminDown bool) {
	stream, err := r.rs.API.ListPeer(context.Background(), &api.ListPeerRequest{Address: addr.String()})
	g.Expect(err).NotTo(HaveOccurred())
	m, err := stream.Recv()
	if err != nil {
		return false, 0, false
	}
	return true, m.Peer.State.SessionState, m.Peer.Conf.AdminDown
}

func request(name, port string, asn uint32) *peeringv1.PeeringRequest {
	return &peeringv1.PeeringRequest{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: peeringv1.PeeringRequestSpec{PeerASN: peeringv1.ASN(asn), IXPortRef: peeringv1.LocalObjectReference{Name: port}}}
}

// create creates obj and deletes it when the test ends.
func create(t testing.TB, obj client.Object) {
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

func get(g Gomega, obj client.Object) {
	g.Expect(k8s.Get(context.Background(), client.ObjectKeyFromObject(obj), obj)).To(Succeed())
}

// established waits until the request is Ready with every session up.
func established(t testing.TB, prs ...*peeringv1.PeeringRequest) {
	t.Helper()
	for _, pr := range prs {
		NewWithT(t).Eventually(func(g Gomega) {
			cur := pr.DeepCopy()
			get(g, cur)
			c := meta.FindStatusCondition(cur.Status.Conditions, peeringv1.ConditionReady)
			g.Expect(c).NotTo(BeNil())
			g.Expect(c.Reason).To(Equal("Established"), "%s: %s", pr.Name, c.Message)
		}, 2*timeout).Should(Succeed())
	}
}

// A restarted operator with PeeringDB and the IRR both unreachable and no
// cache file changes nothing on gobgpd or FRR; a NOC's shutdown and a
// deletion still reach the route server; once PeeringDB answers again, a
// new request whose filter can be built is pushed while the others' held
// filters stay; and status keeps matching what the routers report.
func TestRestartWithPeeringDBAndIRRDown(t *testing.T) {
	frrtest.RequirePrerequisites(t)
	l := newLab(t)
	g := NewWithT(t)

	// A network the IRR knows after the outage, for the new approval.
	const newASN = 3900000999
	one := int64(1)
	netID := l.pdb.AddNetwork(peeringdb.Network{ASN: newASN, Name: "Newcomer", PolicyGeneral: "Open", InfoPrefixes4: &one, Status: "ok"})
	l.pdb.AddNetIXLAN(peeringdb.NetIXLAN{NetID: netID, IXID: pdbtest.LabIXID, IXLANID: pdbtest.LabIXLANID, ASN: newASN,
		IPAddr4: netip.MustParseAddr("127.0.0.14"), Speed: 1000, Operational: true, Status: "ok"})

	rs := startRouteServer(t, "rs-restart", pdbtest.LabIXID, "127.0.0.1/24")
	for _, p := range pdbtest.LabPorts {
		var routes []bgptest.Route
		for _, r := range labRoutes[p.ASN] {
			routes = append(routes, bgptest.Route{Prefix: netip.MustParsePrefix(r)})
		}
		bgptest.StartPeer(t, bgptest.PeerConfig{Name: fmt.Sprintf("as%d", p.ASN), Addr: p.Addr, ASN: p.ASN, RouteServer: rs.rs.Endpoint(), Routes: routes})
	}
	frr := frrtest.StartFRR(t, frrtest.Options{LocalASN: 64500})
	frrPeer, err := frr.StartPeer(pdbtest.FRRLabPeer.ASN, pdbtest.FRRLabPeer.Addr, netip.MustParsePrefix("4.44.128.0/18"))
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(frrPeer.Stop)
	creds := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "frr-restart-ssh", Namespace: "default"},
		Data: map[string][]byte{"username": []byte(frr.User), "password": []byte(frr.Password), "known_hosts": frr.KnownHosts}}
	create(t, creds)
	create(t, &peeringv1.Router{ObjectMeta: metav1.ObjectMeta{Name: "frr-restart"},
		Spec: peeringv1.RouterSpec{Driver: peeringv1.DriverFRR, Address: frr.Host, Port: int32(frr.Port), LocalASN: 64500, RouterID: frr.RouterID.String(),
			CredentialsSecretRef: &peeringv1.SecretReference{Namespace: "default", Name: creds.Name}}})
	create(t, &peeringv1.IXPort{ObjectMeta: metav1.ObjectMeta{Name: "frr-restart-lan"},
		Spec: peeringv1.IXPortSpec{IX: peeringv1.IXReference{PeeringDBID: pdbtest.FRRLabIXID}, RouterRef: peeringv1.LocalObjectReference{Name: "frr-restart"}, IPv4Address: "192.0.2.1/24"}})

	denic := request("restart-as8763", rs.port.Name, 8763)
	he := request("restart-as6939", rs.port.Name, 6939)
	ionos := request("restart-as8560", rs.port.Name, 8560)
	denicFRR := request("restart-as8763-frr", "frr-restart-lan", 8763)
	all := []*peeringv1.PeeringRequest{denic, he, ionos, denicFRR}
	for _, pr := range all {
		create(t, pr)
	}
	first := startManager(t, "first", l.args()...)
	approveAll(t, all)
	established(t, all...)
	frrBefore, err := frr.Vtysh("show running-config")
	g.Expect(err).NotTo(HaveOccurred())

	// The operator dies; PeeringDB and the IRR go away; no cache file.
	first.kill()
	l.pdb.SetDown(true)
	l.stopIRR()
	writes := rs.proxy.Writes()
	second := startManager(t, "second", l.args()...)

	// Several rounds of the new operator: nothing changes on either router,
	// and every request still reads as its router reports it.
	start := second.reconciles("router")
	g.Eventually(func() float64 { return second.reconciles("router") }, timeout).Should(BeNumerically(">=", start+6))
	g.Expect(rs.proxy.Writes()-writes).To(BeZero(), "the restarted operator wrote to gobgpd")
	frrAfter, err := frr.Vtysh("show running-config")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(frrAfter).To(Equal(frrBefore), "the restarted operator changed FRR")
	for _, pr := range all {
		cur := pr.DeepCopy()
		get(g, cur)
		g.Expect(cur.Status.SessionSummary).To(Equal("1/1"), "%s", pr.Name)
		c := meta.FindStatusCondition(cur.Status.Conditions, peeringv1.ConditionReady)
		g.Expect(c.Status).To(Equal(metav1.ConditionTrue), "%s: %s", pr.Name, c.Message)
	}

	// A NOC's shutdown and a deletion go through during the outage.
	t0 := time.Now()
	g.Expect(k8s.Patch(context.Background(), he, client.RawPatch("application/merge-patch+json", []byte(`{"spec":{"shutdown":true}}`)))).To(Succeed())
	g.Eventually(func(g Gomega) {
		_, _, down := rs.session(g, pdbtest.LabPorts[1].Addr)
		g.Expect(down).To(BeTrue(), "shutdown must reach the route server")
	}, timeout).Should(Succeed())
	t.Logf("shutdown reached gobgpd %v after the edit", time.Since(t0).Round(10*time.Millisecond))
	t0 = time.Now()
	g.Expect(k8s.Delete(context.Background(), ionos)).To(Succeed())
	g.Eventually(func(g Gomega) {
		exists, _, _ := rs.session(g, pdbtest.LabPorts[2].Addr)
		g.Expect(exists).To(BeFalse(), "the deleted request's neighbor must go")
		g.Expect(apierrors.IsNotFound(k8s.Get(context.Background(), client.ObjectKeyFromObject(ionos), ionos.DeepCopy()))).To(BeTrue())
	}, timeout).Should(Succeed())
	t.Logf("deletion reached gobgpd %v after the delete", time.Since(t0).Round(10*time.Millisecond))
	g.Expect(rs.proxy.Count("DeletePeer")).To(BeEquivalentTo(1), "only the deleted request's neighbor may be removed")
	_, state, _ := rs.session(g, pdbtest.LabPorts[0].Addr)
	g.Expect(state).To(Equal(api.PeerState_ESTABLISHED), "DENIC must stay up")

	// PeeringDB comes back; the IRR too, but without the AS-SETs of the
	// live requests (their filters come back empty and are held), and with
	// the newcomer's route: the newcomer is pushed, nothing else moves.
	l.pdb.SetDown(false)
	l.startIRR(t, fmt.Sprintf("route: 5.99.0.0/24\norigin: AS%d\nsource: RIPE\n\n", uint32(newASN)))
	newcomer := request("restart-newcomer", rs.port.Name, newASN)
	create(t, newcomer)
	dumpOnFailure(t, newcomer, denic)
	approveAll(t, []*peeringv1.PeeringRequest{newcomer})
	g.Eventually(func(g Gomega) {
		exists, _, _ := rs.session(g, netip.MustParseAddr("127.0.0.14"))
		g.Expect(exists).To(BeTrue(), "the new approval must be pushed")
		cur := newcomer.DeepCopy()
		get(g, cur)
		g.Expect(meta.IsStatusConditionTrue(cur.Status.Conditions, peeringv1.PeeringRequestConfigured)).To(BeTrue())
		d := denic.DeepCopy()
		get(g, d)
		c := meta.FindStatusCondition(d.Status.Conditions, peeringv1.PeeringRequestDriftHeld)
		g.Expect(c).NotTo(BeNil())
		g.Expect(c.Reason).To(Equal("FilterEmptyHeld"), c.Message)
	}, timeout).Should(Succeed())
	g.Expect(rs.proxy.Count("DeletePeer")).To(BeEquivalentTo(1))
	g.Eventually(func(g Gomega) {
		_, state, _ := rs.session(g, pdbtest.LabPorts[0].Addr)
		g.Expect(state).To(Equal(api.PeerState_ESTABLISHED))
		d := denic.DeepCopy()
		get(g, d)
		g.Expect(d.Status.Sessions).To(HaveLen(1))
		g.Expect(d.Status.Sessions[0].State).To(Equal("Established"), "status must match gobgpd")
		g.Expect(d.Status.Sessions[0].Accepted).To(HaveValue(BeEquivalentTo(2)), "the pinned filter still accepts DENIC's routes")
	}, timeout).Should(Succeed())
	frrAfter, err = frr.Vtysh("show running-config")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(frrAfter).To(Equal(frrBefore), "FRR must keep what was pushed")
}
