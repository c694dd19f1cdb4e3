package controllers_test

import (
	"context"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	api "github.com/osrg/gobgp/v3/api"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
	"github.com/peering-operator/peering-operator/internal/bgptest"
	"github.com/peering-operator/peering-operator/internal/frrtest"
	"github.com/peering-operator/peering-operator/internal/metrics"
	"github.com/peering-operator/peering-operator/internal/peeringdb"
	"github.com/peering-operator/peering-operator/internal/peeringdb/pdbtest"
)

// driftCase is a change a third party makes in PeeringDB under a live
// session.
type driftCase struct {
	name string
	// change edits PeeringDB for the peer on the IX and returns the undo.
	change func(t *testing.T, ix int, addr netip.Addr) (undo func())
	// reason DriftHeld must show.
	reason string
	// after accept: the addresses the router must have for the request,
	// and the limit of the first (0: not checked).
	afterAccept []string
	limit       int64
	// adds: the change also adds a session (applied by itself; it stays
	// down until the peer configures it, so Ready is False meanwhile).
	adds bool
}

// driftCases: every way PeeringDB can say a live session should go or
// narrow. DENIC (AS8763) is the peer in each.
func driftCases(addr, moved netip.Addr) []driftCase {
	const asn = 8763
	nix := func(t *testing.T, ix int) peeringdb.NetIXLAN {
		t.Helper()
		ns := pdbSource.Cache.NetIXLANs(ix, asn)
		if len(ns) != 1 {
			t.Fatalf("want one netixlan of AS%d at IX %d, got %d", asn, ix, len(ns))
		}
		return ns[0]
	}
	update := func(t *testing.T, obj string, id int, fields, undo map[string]any) func() {
		t.Helper()
		if err := pdb.Update(obj, id, fields); err != nil {
			t.Fatal(err)
		}
		return func() {
			if err := pdb.Update(obj, id, undo); err != nil {
				t.Error(err)
			}
		}
	}
	const netID = 270 // DENIC's net id in the sample
	return []driftCase{
		{name: "policy No", reason: peeringv1.ReasonPeerPolicyNo,
			change: func(t *testing.T, _ int, _ netip.Addr) func() {
				n, _ := pdbSource.Cache.Network(asn)
				return update(t, peeringdb.ObjNetwork, netID, map[string]any{"policy_general": "No"}, map[string]any{"policy_general": n.PolicyGeneral})
			}},
		{name: "network deleted", reason: peeringv1.ReasonNetworkNotFound,
			change: func(t *testing.T, _ int, _ netip.Addr) func() {
				return update(t, peeringdb.ObjNetwork, netID, map[string]any{"status": peeringdb.StatusDeleted}, map[string]any{"status": "ok"})
			}},
		{name: "port not operational", reason: peeringv1.ReasonNotOperational,
			change: func(t *testing.T, ix int, _ netip.Addr) func() {
				return update(t, peeringdb.ObjNetIXLAN, nix(t, ix).ID, map[string]any{"operational": false}, map[string]any{"operational": true})
			}},
		{name: "address renumbered", reason: peeringv1.ReasonAddressRemoved, afterAccept: []string{moved.String()}, adds: true,
			change: func(t *testing.T, ix int, addr netip.Addr) func() {
				return update(t, peeringdb.ObjNetIXLAN, nix(t, ix).ID, map[string]any{"ipaddr4": moved.String()}, map[string]any{"ipaddr4": addr.String()})
			}},
		{name: "port deleted", reason: peeringv1.ReasonNotAtIX,
			change: func(t *testing.T, ix int, _ netip.Addr) func() {
				return update(t, peeringdb.ObjNetIXLAN, nix(t, ix).ID, map[string]any{"status": peeringdb.StatusDeleted}, map[string]any{"status": "ok"})
			}},
		{name: "IX deleted", reason: peeringv1.ReasonIXNotFound,
			change: func(t *testing.T, ix int, _ netip.Addr) func() {
				return update(t, peeringdb.ObjIX, ix, map[string]any{"status": peeringdb.StatusDeleted}, map[string]any{"status": "ok"})
			}},
		{name: "lower limit", reason: peeringv1.ReasonLimitLowered, limit: 127, afterAccept: []string{addr.String()}, // ⌈(10+100)×1.15⌉
			change: func(t *testing.T, _ int, addr netip.Addr) func() {
				n, _ := pdbSource.Cache.Network(asn)
				return update(t, peeringdb.ObjNetwork, netID, map[string]any{"info_prefixes4": 10}, map[string]any{"info_prefixes4": *n.InfoPrefixes4})
			}},
	}
}

// liveRouter is the router side of a drift test: what the daemon itself
// reports.
type liveRouter struct {
	// has reports whether the router has a neighbor at addr, whether it
	// is Established, and its prefix limit.
	has func(g Gomega, addr netip.Addr) (present, established bool, limit int64)
	// removals counts neighbor removals the operator sent, if the router
	// can tell.
	removals func() int64
}

// refreshPeeringDB applies PeeringDB's changes to the operator's cache now,
// as the hourly refresh would.
func refreshPeeringDB(t *testing.T) {
	t.Helper()
	if err := pdbSource.Cache.Refresh(context.Background()); err != nil {
		t.Fatalf("PeeringDB refresh: %v", err)
	}
}

// reconciles is how many reconciles a controller finished so far, as
// controller-runtime counts them (controller_runtime_reconcile_total).
func reconciles(controller string) float64 {
	mfs, err := crmetrics.Registry.Gather()
	if err != nil {
		return 0
	}
	total := 0.0
	for _, mf := range mfs {
		if mf.GetName() != "controller_runtime_reconcile_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "controller" && l.GetValue() == controller {
					total += m.GetCounter().GetValue()
				}
			}
		}
	}
	return total
}

// afterReconciles waits until the controller has run n more reconciles.
func afterReconciles(t *testing.T, controller string, n int) {
	t.Helper()
	start := reconciles(controller)
	NewWithT(t).Eventually(func() float64 { return reconciles(controller) }, timeout).Should(BeNumerically(">=", start+float64(n)))
}

// accept does what `kubectl peering accept` does: annotate the request with
// the token of the change it holds.
func accept(t *testing.T, pr *peeringv1.PeeringRequest) string {
	t.Helper()
	g := NewWithT(t)
	cur := getPR(g, pr)
	g.Expect(cur.Status.Drift).NotTo(BeNil())
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{peeringv1.AnnotationAcceptDrift: cur.Status.Drift.Token}}})
	g.Expect(k8s.Patch(context.Background(), cur, client.RawPatch(types.MergePatchType, patch))).To(Succeed())
	return cur.Status.Drift.Token
}

// runDriftCase holds one PeeringDB change under an Established session and
// then accepts it.
func runDriftCase(t *testing.T, tc driftCase, r liveRouter, pr *peeringv1.PeeringRequest, ix int, addr netip.Addr) {
	g := NewWithT(t)
	expectCondition(t, pr, "Ready", metav1.ConditionTrue, peeringv1.ReasonSessionsEstablished)
	removedBefore := r.removals()
	_, _, limitBefore := r.has(g, addr)

	undo := tc.change(t, ix, addr)
	t.Cleanup(func() { undo(); refreshPeeringDB(t) })
	refreshPeeringDB(t)

	c := expectCondition(t, pr, "DriftHeld", metav1.ConditionTrue, tc.reason)
	g.Expect(c.Message).To(ContainSubstring("kubectl peering accept " + pr.Name))
	// Several rounds of both controllers: the session stays as it was.
	afterReconciles(t, "router", 3)
	afterReconciles(t, "peeringrequest", 2)
	present, established, limit := r.has(g, addr)
	g.Expect(present).To(BeTrue(), "the neighbor must stay on the router")
	g.Expect(established).To(BeTrue(), "the session must stay Established")
	g.Expect(limit).To(Equal(limitBefore), "the limit must stay as pushed")
	g.Expect(r.removals()).To(Equal(removedBefore), "nothing may be removed from the router")
	cur := getPR(g, pr)
	g.Expect(cur.Status.SessionSummary).To(HavePrefix("1/"), "status must show what the router has")
	if tc.adds {
		g.Expect(cur.Status.Config.Sessions).To(HaveLen(2), "the new address is added, the old one kept")
	} else {
		g.Expect(conditionOf(g, pr, "Ready").Status).To(Equal(metav1.ConditionTrue))
	}
	g.Expect(testutil.ToFloat64(metrics.DriftHeld.With(prometheus.Labels{"request": pr.Namespace + "/" + pr.Name, "peer_asn": "8763", "reason": tc.reason}))).To(Equal(1.0))
	g.Eventually(func(g Gomega) { g.Expect(eventsFor(g, pr, tc.reason)).NotTo(BeEmpty()) }, timeout).Should(Succeed())

	// A human accepts: the change applies.
	accept(t, pr)
	expectCondition(t, pr, "DriftHeld", metav1.ConditionFalse, peeringv1.ReasonInSync)
	g.Eventually(func(g Gomega) {
		cur := getPR(g, pr)
		g.Expect(cur.Status.Config).NotTo(BeNil())
		g.Expect(cur.Status.Config.Reason).To(Equal(peeringv1.ReasonPinAccepted))
		var want []string
		for _, s := range cur.Status.Config.Sessions {
			want = append(want, s.Address)
		}
		g.Expect(want).To(ConsistOf(tc.afterAccept), "pinned sessions after the accept")
		present, _, limit := r.has(g, addr)
		g.Expect(present).To(Equal(len(tc.afterAccept) > 0 && tc.afterAccept[0] == addr.String()))
		if tc.limit > 0 {
			g.Expect(limit).To(Equal(tc.limit))
		}
		for _, a := range tc.afterAccept {
			p, _, _ := r.has(g, netip.MustParseAddr(a))
			g.Expect(p).To(BeTrue(), "%s must be configured after the accept", a)
		}
	}, timeout).Should(Succeed())
}

// Every PeeringDB change that would remove or narrow a live session on the
// GoBGP route server is held until a human accepts it.
func TestDriftHeldOnGoBGP(t *testing.T) {
	for _, tc := range driftCases(netip.MustParseAddr("127.0.0.11"), netip.MustParseAddr("127.0.0.21")) {
		t.Run(tc.name, func(t *testing.T) {
			l := newLab(t)
			bgptest.StartPeer(t, bgptest.PeerConfig{Name: "denic", Addr: netip.MustParseAddr("127.0.0.11"), ASN: 8763, RouteServer: l.rs.Endpoint(),
				Routes: []bgptest.Route{{Prefix: netip.MustParsePrefix("4.44.128.0/18")}}})
			create(t, l.router)
			create(t, l.port)
			create(t, l.request)
			approve(t, l.request)
			r := liveRouter{
				has: func(g Gomega, addr netip.Addr) (bool, bool, int64) {
					stream, err := l.rs.API.ListPeer(context.Background(), &api.ListPeerRequest{Address: addr.String()})
					g.Expect(err).NotTo(HaveOccurred())
					m, err := stream.Recv()
					if err != nil {
						return false, false, 0
					}
					var limit int64
					for _, af := range m.Peer.AfiSafis {
						if pl := af.GetPrefixLimits(); pl != nil {
							limit = int64(pl.MaxPrefixes)
						}
					}
					return true, m.Peer.State.SessionState == api.PeerState_ESTABLISHED, limit
				},
				removals: func() int64 { return gobgpCallCount(l.rs.GRPCAddr(), "DeletePeer") },
			}
			runDriftCase(t, tc, r, l.request, pdbtest.LabIXID, netip.MustParseAddr("127.0.0.11"))
			deleteAndWait(t, l.request)
		})
	}
}

// The same on FRR over SSH.
func TestDriftHeldOnFRR(t *testing.T) {
	frrtest.RequirePrerequisites(t)
	rtr := frrtest.StartFRR(t, frrtest.Options{LocalASN: 64500})
	peer, err := rtr.StartPeer(8763, netip.MustParseAddr("192.0.2.2"), netip.MustParsePrefix("4.44.128.0/18"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(peer.Stop)
	for _, tc := range driftCases(netip.MustParseAddr("192.0.2.2"), netip.MustParseAddr("192.0.2.21")) {
		t.Run(tc.name, func(t *testing.T) {
			o := frrObjects(t, rtr)
			create(t, o.router)
			create(t, o.port)
			create(t, o.request)
			approve(t, o.request)
			r := liveRouter{
				has: func(g Gomega, addr netip.Addr) (bool, bool, int64) {
					out, err := rtr.Vtysh("show bgp neighbors " + addr.String() + " json")
					g.Expect(err).NotTo(HaveOccurred())
					var m map[string]struct {
						BGPState          string `json:"bgpState"`
						AddressFamilyInfo map[string]struct {
							MaxPrefix int64 `json:"prefixAllowedMax"`
						} `json:"addressFamilyInfo"`
					}
					if json.Unmarshal([]byte(out), &m) != nil {
						return false, false, 0
					}
					n, ok := m[addr.String()]
					if !ok {
						return false, false, 0
					}
					var limit int64
					for _, af := range n.AddressFamilyInfo {
						limit = max(limit, af.MaxPrefix)
					}
					return true, n.BGPState == "Established", limit
				},
				removals: func() int64 {
					run, err := rtr.Vtysh("show running-config")
					if err != nil || !strings.Contains(run, "neighbor 192.0.2.2 ") {
						return 1 // gone: counts as a removal
					}
					return 0
				},
			}
			runDriftCase(t, tc, r, o.request, pdbtest.FRRLabIXID, netip.MustParseAddr("192.0.2.2"))
			deleteAndWait(t, o.request)
		})
	}
}
