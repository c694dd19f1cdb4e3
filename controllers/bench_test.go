package controllers_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
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
	n := 2000
	if v, err := strconv.Atoi(os.Getenv("BENCH_REQUESTS")); err == nil && v > 0 {
		n = v // a quicker look at the same path; the README's figures are at 2,000
	}
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

	// The API server's floor: what no operator can avoid per request, a
	// create, the approval and one status write, timed on ConfigMaps of a
	// request's size in a namespace the operator does not read, one after
	// the other as the harness creates the requests.
	apiFloor := apiWriteFloor(ctx, b, n)

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
	_ = apiWriteCounts() // count from here
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
		if cur.Status.Neighbors == int32(n) {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("only %d of %d neighbors configured after 15 minutes", cur.Status.Neighbors, n)
		}
		time.Sleep(200 * time.Millisecond)
	}
	all := time.Since(start)
	b.StopTimer()
	// Settled: the last status writes land after the Router counts them.
	var inWrites map[string]int64
	if err := wait.PollUntilContextTimeout(ctx, 2*time.Second, 2*time.Minute, false, func(context.Context) (bool, error) {
		allReady := true
		list := &peeringv1.PeeringRequestList{}
		if err := k8s.List(ctx, list, client.InNamespace("default")); err != nil {
			return false, err
		}
		for _, pr := range list.Items {
			if strings.HasPrefix(pr.Name, "bench-") && !meta.IsStatusConditionTrue(pr.Status.Conditions, peeringv1.PeeringRequestConfigured) {
				allReady = false
			}
		}
		return allReady, nil
	}); err != nil {
		b.Logf("not every request Configured within 2 minutes after all were configured: %v", err)
	}
	inWrites = apiWriteCounts()
	events := &eventsv1.EventList{}
	if err := k8s.List(ctx, events, client.InNamespace("default")); err == nil {
		byReason := map[string]int{}
		for _, e := range events.Items {
			if strings.HasPrefix(e.Regarding.Name, "bench-") {
				byReason[e.Reason]++
			}
		}
		b.Logf("events by reason: %v", byReason)
	}

	// A resync with nothing changed: several poll rounds, no writes.
	gobgpWrites.Store(0)
	cpu0 := cpuTime()
	time.Sleep(10 * time.Second)
	resyncCPU := cpuTime() - cpu0
	resyncAPI := apiWriteCounts()

	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	b.ReportMetric(all.Seconds(), "s-until-all-configured")
	b.ReportMetric(created.Seconds(), "s-to-create-and-approve")
	b.ReportMetric(floor.Seconds(), "s-raw-AddPeer-floor")
	b.ReportMetric(apiFloor.Seconds(), "s-API-floor")
	b.ReportMetric(all.Seconds()/(floor+apiFloor).Seconds(), "x-floor")
	var total int64
	for res, c := range inWrites {
		total += c
		b.Logf("API writes on the way in: %s %d (%.2f per request)", res, c, float64(c)/float64(n))
	}
	for res, c := range resyncAPI {
		b.Logf("API writes in the idle resync: %s %d", res, c)
	}
	b.ReportMetric(float64(total)/float64(n)+2, "API-writes-per-request") // + the harness's create and approval
	b.ReportMetric(float64(sum(resyncAPI)), "resync-API-writes")
	b.ReportMetric(float64(gobgpWrites.Load()), "resync-writes")
	b.ReportMetric(resyncCPU.Seconds()/10, "cpu-s-per-s-idle-resync")
	b.ReportMetric(float64(ru.Maxrss)/1024, "peak-RSS-MiB")
}

func sum(m map[string]int64) (t int64) {
	for _, v := range m {
		t += v
	}
	return t
}

// apiWriteFloor times n × (create, patch, patch) of ConfigMaps the size of a
// PeeringRequest with its status, one after the other.
func apiWriteFloor(ctx context.Context, b *testing.B, n int) time.Duration {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "bench-floor"}}
	if err := k8s.Create(ctx, ns); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = k8s.Delete(context.Background(), ns) })
	body := strings.Repeat("x", 1500)
	start := time.Now()
	for i := range n {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("floor-%d", i), Namespace: ns.Name}, Data: map[string]string{"spec": body}}
		if err := k8s.Create(ctx, cm); err != nil {
			b.Fatal(err)
		}
		for _, k := range []string{"approval", "status"} {
			if err := k8s.Patch(ctx, cm, client.RawPatch(types.MergePatchType, []byte(`{"data":{"`+k+`":"`+body+`"}}`))); err != nil {
				b.Fatal(err)
			}
		}
	}
	return time.Since(start)
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
