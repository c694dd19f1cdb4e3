package controllers_test

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
	"github.com/peering-operator/peering-operator/internal/bgptest"
	"github.com/peering-operator/peering-operator/internal/irr/irrtest"
	"github.com/peering-operator/peering-operator/internal/peeringdb"
)

// BenchmarkConfigure2000 measures the whole operator: 2,000 approved
// PeeringRequests (PeeringDB validation, IRR filters, one batch per router)
// until all are configured on one GoBGP route server, against the floor of
// a raw AddPeer loop on another gobgpd plus the API server's time for the
// writes a request cannot avoid; then a resync with nothing changed
// (gobgpd writes, must be 0; operator CPU) and the test process's peak RSS.
func BenchmarkConfigure2000(b *testing.B) {
	benchConfigure(b, benchSize{requests: envInt("BENCH_REQUESTS", 2000), routers: 1, creators: 1, asnBase: 100000, name: "bench"})
}

// BenchmarkConfigure10000On20 is the same path across a fleet: 10,000
// requests on 20 gobgpd route servers (500 each, one IX each), the harness
// creating and approving with 8 writers in flight (the floor too). Shows
// that the routers' applies run side by side and what RSS the operator
// needs at that size.
func BenchmarkConfigure10000On20(b *testing.B) {
	benchConfigure(b, benchSize{requests: envInt("BENCH_FLEET_REQUESTS", 10000), routers: 20, creators: 8, asnBase: 200000, name: "fleet"})
}

type benchSize struct {
	requests, routers, creators int
	asnBase                     uint32
	name                        string // object names and IX ids are set apart by it
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v // a quicker look at the same path; the README's figures are at the default
	}
	return def
}

func benchConfigure(b *testing.B, size benchSize) {
	n, routers := size.requests, size.routers
	ctx := context.Background()
	ixBase := 90002
	if size.name != "bench" {
		ixBase = 91000
	}

	// Per router one bench IX on 127.(10+k).0.0/16 with its share of the
	// networks, each with one route object in the IRR.
	var rpsl strings.Builder
	addrs := make([]netip.Addr, n)
	for k := range routers {
		ixID := ixBase + k
		pdb.AddIX(peeringdb.IX{ID: ixID, Name: fmt.Sprintf("Bench IX %d (loopback)", ixID)})
		pdb.AddIXLAN(peeringdb.IXLAN{ID: ixID, IXID: ixID})
		pdb.AddIXPrefix(peeringdb.IXPrefix{IXLANID: ixID, Protocol: "IPv4", Prefix: netip.PrefixFrom(netip.AddrFrom4([4]byte{127, byte(10 + k), 0, 0}), 16)})
	}
	for i := range n {
		k, j := i%routers, i/routers
		asn := size.asnBase + uint32(i) // 32-bit public range, in no sample
		addrs[i] = netip.AddrFrom4([4]byte{127, byte(10 + k), byte(j / 250), byte(j%250 + 1)})
		c4 := int64(1)
		id := pdb.AddNetwork(peeringdb.Network{ASN: asn, Name: fmt.Sprintf("Bench %d", asn), PolicyGeneral: "Open", InfoPrefixes4: &c4})
		pdb.AddNetIXLAN(peeringdb.NetIXLAN{NetID: id, IXID: ixBase + k, IXLANID: ixBase + k, ASN: asn, IPAddr4: addrs[i], Operational: true})
		fmt.Fprintf(&rpsl, "route: %d.%d.%d.0/24\norigin: AS%d\nsource: RIPE\n\n", 20+i/62500, i/250%250, i%250, asn)
	}
	if err := irrSrv.Replace(irrtest.DefaultFixture(), rpsl.String()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = irrSrv.Replace(irrtest.DefaultFixture()) })

	// The floor: AddPeer for the same neighbors, one call each, one router
	// after the other.
	floorRS := make([]*bgptest.Speaker, routers)
	for k := range routers {
		floorRS[k] = bgptest.StartGoBGPD(b, bgptest.Config{Name: fmt.Sprintf("floor-%s-%d", size.name, k), ASN: 64500, ListenAddr: netip.MustParseAddr("127.0.0.1"), RouterID: netip.MustParseAddr("192.0.2.1")})
	}
	start := time.Now()
	for i, a := range addrs {
		_, err := floorRS[i%routers].API.AddPeer(ctx, &api.AddPeerRequest{Peer: &api.Peer{
			Conf:      &api.PeerConf{NeighborAddress: a.String(), PeerAsn: size.asnBase + uint32(i)},
			Transport: &api.Transport{PassiveMode: true},
		}})
		if err != nil {
			b.Fatal(err)
		}
	}
	floor := time.Since(start)
	for _, f := range floorRS {
		_ = f.Stop() // by pid; their memory is not the operator's to carry
	}

	// The API server's floor: what no operator can avoid per request, a
	// create, the approval and one status write, timed on ConfigMaps of a
	// request's size in a namespace the operator does not read, with as
	// many writers in flight as the harness uses.
	floorCPU := childCPU()
	apiFloor := apiWriteFloor(ctx, b, size)
	for name, d := range childCPU() {
		if name != "gobgpd" {
			b.Logf("CPU of the API floor (%.1f s wall, %d writes): %s %.1f s", apiFloor.Seconds(), 3*n, name, (d - floorCPU[name]).Seconds())
		}
	}

	var rts []*peeringv1.Router
	for k := range routers {
		rs := bgptest.StartGoBGPD(b, bgptest.Config{Name: fmt.Sprintf("%s-%d", size.name, k), ASN: 64500, ListenAddr: netip.MustParseAddr("127.0.0.1"), RouterID: netip.MustParseAddr("192.0.2.1")})
		router := &peeringv1.Router{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-rs-%d", size.name, k)}, Spec: peeringv1.RouterSpec{Driver: peeringv1.DriverGoBGP,
			Address: "127.0.0.1", Port: int32(rs.Config.GRPCPort), LocalASN: 64500, RouterID: "192.0.2.1", RouteServer: true}}
		port := &peeringv1.IXPort{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-ix-%d", size.name, k)}, Spec: peeringv1.IXPortSpec{IX: peeringv1.IXReference{PeeringDBID: int64(ixBase + k)},
			RouterRef: peeringv1.LocalObjectReference{Name: router.Name}, IPv4Address: fmt.Sprintf("127.%d.255.1/16", 10+k)}}
		for _, o := range []client.Object{router, port} {
			if err := k8s.Create(ctx, o); err != nil {
				b.Fatal(err)
			}
		}
		rts = append(rts, router)
	}

	approvePatch := []byte(fmt.Sprintf(`{"status":{"conditions":[{"type":"Approved","status":"True","reason":"Bench","message":"bench","lastTransitionTime":%q}]}}`,
		time.Now().UTC().Format(time.RFC3339)))
	_ = apiWriteCounts() // count from here
	b.ResetTimer()
	cpuIn0, childIn0 := cpuTime(), childCPU()
	if f := os.Getenv("BENCH_APISERVER_PROFILE"); f != "" {
		go profileAPIServer(ctx, b, f, 20*time.Second) // what the API server spends its CPU on
	}
	start = time.Now()
	inParallel(b, n, size.creators, func(i int) error {
		pr := &peeringv1.PeeringRequest{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%d", size.name, i), Namespace: "default"},
			Spec: peeringv1.PeeringRequestSpec{PeerASN: peeringv1.ASN(size.asnBase + uint32(i)), IXPortRef: peeringv1.LocalObjectReference{Name: fmt.Sprintf("%s-ix-%d", size.name, i%routers)}}}
		if err := k8s.Create(ctx, pr); err != nil {
			return err
		}
		return k8s.Status().Patch(ctx, pr, client.RawPatch(types.MergePatchType, approvePatch))
	})
	created := time.Since(start)
	deadline := time.Now().Add(time.Duration(15*n/2000+5) * time.Minute)
	for {
		configured := 0
		for _, rt := range rts {
			cur := &peeringv1.Router{}
			if err := k8s.Get(ctx, client.ObjectKeyFromObject(rt), cur); err != nil {
				b.Fatal(err)
			}
			configured += int(cur.Status.Neighbors)
		}
		if configured == n {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("only %d of %d neighbors configured by the deadline", configured, n)
		}
		time.Sleep(200 * time.Millisecond)
	}
	all := time.Since(start)
	b.StopTimer()
	// Where the CPU went on the way in: this process (the operator, its
	// webhooks and the harness's client) and the test's children (the API
	// server, etcd, gobgpd), from the kernel's own accounting.
	b.Logf("CPU on the way in (%.1f s wall): test process %.1f s", all.Seconds(), (cpuTime() - cpuIn0).Seconds())
	for name, d := range childCPU() {
		b.Logf("CPU on the way in: %s %.1f s", name, (d - childIn0[name]).Seconds())
	}
	// Settled: the last status writes land after the Router counts them.
	var inWrites map[string]int64
	if err := wait.PollUntilContextTimeout(ctx, 2*time.Second, 2*time.Minute, false, func(context.Context) (bool, error) {
		allReady := true
		list := &peeringv1.PeeringRequestList{}
		if err := k8s.List(ctx, list, client.InNamespace("default")); err != nil {
			return false, err
		}
		for _, pr := range list.Items {
			if strings.HasPrefix(pr.Name, size.name+"-") && !meta.IsStatusConditionTrue(pr.Status.Conditions, peeringv1.PeeringRequestConfigured) {
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
			if strings.HasPrefix(e.Regarding.Name, size.name+"-") {
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
	var total, stored int64
	for res, c := range inWrites {
		total += c
		if res != "subjectaccessreviews" { // an authorization check, not stored
			stored += c
		}
		b.Logf("API writes on the way in: %s %d (%.2f per request)", res, c, float64(c)/float64(n))
	}
	for res, c := range resyncAPI {
		b.Logf("API writes in the idle resync: %s %d", res, c)
	}
	b.ReportMetric(float64(total)/float64(n)+2, "API-writes-per-request")         // + the harness's create and approval
	b.ReportMetric(float64(stored)/float64(n)+2, "stored-API-writes-per-request") // without SubjectAccessReviews
	b.ReportMetric(float64(sum(resyncAPI)), "resync-API-writes")
	b.ReportMetric(float64(gobgpWrites.Load()), "resync-writes")
	b.ReportMetric(resyncCPU.Seconds()/10, "cpu-s-per-s-idle-resync")
	b.ReportMetric(float64(ru.Maxrss)/1024, "peak-RSS-MiB")
}

// profileAPIServer writes a CPU profile of kube-apiserver (its
// /debug/pprof, on by default, read with the suite's admin credentials).
func profileAPIServer(ctx context.Context, b *testing.B, file string, d time.Duration) {
	hc, err := rest.HTTPClientFor(restCfg)
	if err != nil {
		b.Log(err)
		return
	}
	resp, err := hc.Get(fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", strings.TrimSuffix(restCfg.Host, "/"), int(d.Seconds())))
	if err != nil {
		b.Log(err)
		return
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err == nil {
		err = os.WriteFile(file, data, 0o644)
	}
	b.Logf("kube-apiserver CPU profile (%s, HTTP %d) in %s: %v", d, resp.StatusCode, file, err)
}

// inParallel runs fn(0..n-1) with workers in flight, failing b on the
// first error.
func inParallel(b *testing.B, n, workers int, fn func(i int) error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				if err := fn(i); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
}

func sum(m map[string]int64) (t int64) {
	for _, v := range m {
		t += v
	}
	return t
}

// apiWriteFloor times n × (create, patch, patch) of ConfigMaps the size of a
// PeeringRequest with its status, with size.creators writers in flight.
func apiWriteFloor(ctx context.Context, b *testing.B, size benchSize) time.Duration {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: size.name + "-floor"}}
	if err := k8s.Create(ctx, ns); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = k8s.Delete(context.Background(), ns) })
	body := strings.Repeat("x", 1500)
	start := time.Now()
	inParallel(b, size.requests, size.creators, func(i int) error {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("floor-%d", i), Namespace: ns.Name}, Data: map[string]string{"spec": body}}
		if err := k8s.Create(ctx, cm); err != nil {
			return err
		}
		for _, k := range []string{"approval", "status"} {
			if err := k8s.Patch(ctx, cm, client.RawPatch(types.MergePatchType, []byte(`{"data":{"`+k+`":"`+body+`"}}`))); err != nil {
				return err
			}
		}
		return nil
	})
	return time.Since(start)
}

// childCPU is the CPU time (user + system) of this process's children by
// command name, read from /proc/PID/stat (fields 14 and 15, in clock ticks
// of 1/100 s, the kernel's USER_HZ on Linux).
func childCPU() map[string]time.Duration {
	out := map[string]time.Duration{}
	dirs, _ := os.ReadDir("/proc")
	me := strconv.Itoa(os.Getpid())
	for _, d := range dirs {
		raw, err := os.ReadFile("/proc/" + d.Name() + "/stat")
		if err != nil {
			continue
		}
		// comm is in parentheses and may hold spaces: split after it.
		i := strings.LastIndexByte(string(raw), ')')
		j := strings.IndexByte(string(raw), '(')
		if i < 0 || j < 0 {
			continue
		}
		f := strings.Fields(string(raw[i+2:]))
		if len(f) < 13 || f[1] != me {
			continue
		}
		u, _ := strconv.ParseInt(f[11], 10, 64)
		s, _ := strconv.ParseInt(f[12], 10, 64)
		out[string(raw[j+1:i])] += time.Duration(u+s) * 10 * time.Millisecond
	}
	return out
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
