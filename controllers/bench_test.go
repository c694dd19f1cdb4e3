package controllers_test

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
	"github.com/peering-operator/peering-operator/internal/bgptest"
	"github.com/peering-operator/peering-operator/internal/irr/irrtest"
	"github.com/peering-operator/peering-operator/internal/peeringdb"
)

// BenchmarkConfigure2000 measures the whole operator: 2,000 approved
// PeeringRequests (PeeringDB validation, IRR filters, one batch per router)
// until all are configured on one GoBGP route server, against the floor of
// a raw AddPeer loop on another gobgpd; then a resync with nothing changed
// (gobgpd writes, must be 0; operator CPU) and the test process's peak RSS.
func BenchmarkConfigure2000(b *testing.B) {
	const n = 2000
	const ixID, lanID = 90002, 90002
	ctx := context.Background()

	// A bench IX with 2,000 networks on 127.1.0.0/16, each with one route
	// object in the IRR.
	pdb.AddIX(peeringdb.IX{ID: ixID, Name: "Bench IX (loopback)"})
	pdb.AddIXLAN(peeringdb.IXLAN{ID: lanID, IXID: ixID})
	pdb.AddIXPrefix(peeringdb.IXPrefix{IXLANID: lanID, Protocol: "IPv4", Prefix: netip.MustParsePrefix("127.1.0.0/16")})
	var rpsl strings.Builder
	addrs := make([]netip.Addr, n)
	for i := range n {
		asn := uint32(100000 + i) // 32-bit public range, in no sample
		addrs[i] = netip.AddrFrom4([4]byte{127, 1, byte(i / 250), byte(i%250 + 1)})
		c4 := int64(1)
		id := pdb.AddNetwork(peeringdb.Network{ASN: asn, Name: fmt.Sprintf("Bench %d", i), PolicyGeneral: "Open", InfoPrefixes4: &c4})
		pdb.AddNetIXLAN(peeringdb.NetIXLAN{NetID: id, IXID: ixID, IXLANID: lanID, ASN: asn, IPAddr4: addrs[i], Operational: true})
		fmt.Fprintf(&rpsl, "route: 20.%d.%d.0/24\norigin: AS%d\nsource: RIPE\n\n", i/250, i%250, asn)
	}
	if err := irrSrv.Replace(irrtest.DefaultFixture(), rpsl.String()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = irrSrv.Replace(irrtest.DefaultFixture()) })

	// The floor: AddPeer for the same neighbors, one call each.
	floorRS := bgptest.StartGoBGPD(b, bgptest.Config{Name: "floor", ASN: 64500, ListenAddr: netip.MustParseAddr("127.0.0.1"), RouterID: netip.MustParseAddr("192.0.2.1")})
	start := time.Now()
	for i, a := range addrs {
		_, err := floorRS.API.AddPeer(ctx, &api.AddPeerRequest{Peer: &api.Peer{
			Conf:      &api.PeerConf{NeighborAddress: a.String(), PeerAsn: uint32(100000 + i)},
			Transport: &api.Transport{PassiveMode: true},
		}})
		if err != nil {
			b.Fatal(err)
		}
	}
	floor := time.Since(start)

	rs := bgptest.StartGoBGPD(b, bgptest.Config{Name: "bench", ASN: 64500, ListenAddr: netip.MustParseAddr("127.0.0.1"), RouterID: netip.MustParseAddr("192.0.2.1")})
	router := &peeringv1.Router{ObjectMeta: metav1.ObjectMeta{Name: "bench-rs"}, Spec: peeringv1.RouterSpec{Driver: peeringv1.DriverGoBGP,
		Address: "127.0.0.1", Port: int32(rs.Config.GRPCPort), LocalASN: 64500, RouterID: "192.0.2.1", RouteServer: true}}
	port := &peeringv1.IXPort{ObjectMeta: metav1.ObjectMeta{Name: "bench-ix"}, Spec: peeringv1.IXPortSpec{IX: peeringv1.IXReference{PeeringDBID: ixID},
		RouterRef: peeringv1.LocalObjectReference{Name: "bench-rs"}, IPv4Address: "127.1.255.1/16"}}
	for _, o := range []client.Object{router, port} {
		if err := k8s.Create(ctx, o); err != nil {
			b.Fatal(err)
		}
	}

	approvePatch := []byte(fmt.Sprintf(`{"status":{"conditions":[{"type":"Approved","status":"True","reason":"Bench","message":"bench","lastTransitionTime":%q}]}}`,
		time.Now().UTC().Format(time.RFC3339)))
	b.ResetTimer()
	start = time.Now()
	for i := range n {
		pr := &peeringv1.PeeringRequest{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("bench-%d", i), Namespace: "default"},
			Spec: peeringv1.PeeringRequestSpec{PeerASN: peeringv1.ASN(100000 + i), IXPortRef: peeringv1.LocalObjectReference{Name: "bench-ix"}}}
		if err := k8s.Create(ctx, pr); err != nil {
			b.Fatal(err)
		}
		if err := k8s.Status().Patch(ctx, pr, client.RawPatch(types.MergePatchType, approvePatch)); err != nil {
			b.Fatal(err)
		}
	}
	created := time.Since(start)
	deadline := time.Now().Add(15 * time.Minute)
	for {
		cur := &peeringv1.Router{}
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(router), cur); err != nil {
			b.Fatal(err)
		}
		if cur.Status.Neighbors == n {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("only %d of %d neighbors configured after 15 minutes", cur.Status.Neighbors, n)
		}
		time.Sleep(200 * time.Millisecond)
	}
	all := time.Since(start)
	b.StopTimer()

	// A resync with nothing changed: several poll rounds, no writes.
	gobgpWrites.Store(0)
	cpu0 := cpuTime()
	time.Sleep(10 * time.Second)
	resyncCPU := cpuTime() - cpu0

	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	b.ReportMetric(all.Seconds(), "s-until-all-configured")
	b.ReportMetric(created.Seconds(), "s-to-create-and-approve")
	b.ReportMetric(floor.Seconds(), "s-raw-AddPeer-floor")
	b.ReportMetric(all.Seconds()/floor.Seconds(), "x-floor")
	b.ReportMetric(float64(gobgpWrites.Load()), "resync-writes")
	b.ReportMetric(resyncCPU.Seconds()/10, "cpu-s-per-s-idle-resync")
	b.ReportMetric(float64(ru.Maxrss)/1024, "peak-RSS-MiB")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
