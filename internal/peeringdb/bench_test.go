package peeringdb_test

import (
	"context"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/peering-operator/peering-operator/internal/peeringdb"
	"github.com/peering-operator/peering-operator/internal/peeringdb/pdbtest"
)

// Real-world size: PeeringDB has about 30k networks, 1.2k IXs and 60k
// netixlan.
const benchNets, benchIXs, benchNetIXLANs = 30000, 1200, 60000

var realWorld = sync.OnceValue(func() *pdbtest.Dataset {
	return pdbtest.Synthetic(benchNets, benchIXs, benchNetIXLANs, 1)
})

func benchClient(b *testing.B, srv *pdbtest.Server) *peeringdb.Client {
	b.Helper()
	c, err := peeringdb.New(peeringdb.Options{BaseURL: srv.BaseURL, RequestsPerMinute: peeringdb.Unlimited})
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// heapPeak samples HeapInuse until stopped and returns the maximum.
func heapPeak() (stop func() uint64) {
	done := make(chan struct{})
	result := make(chan uint64)
	go func() {
		var ms runtime.MemStats
		var peak uint64
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
			select {
			case <-done:
				result <- peak
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 { close(done); return <-result }
}

func heapInuseAfterGC() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// BenchmarkFullSync: every net, ix, ixlan, ixpfx and netixlan of a
// real-world-size PeeringDB from the local test server, rate limiter off.
// peak-heap-MB is the largest heap in use during the sync above the
// baseline (test server and data set already loaded); retained-heap-MB is
// what the finished cache keeps.
func BenchmarkFullSync(b *testing.B) {
	srv := pdbtest.NewServer(pdbtest.Options{Dataset: realWorld()})
	defer srv.Close()
	cl := benchClient(b, srv)
	ctx := context.Background()
	base := heapInuseAfterGC()
	srv.ResetStats()
	var peak, retained uint64
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		stop := heapPeak()
		cache := peeringdb.NewCache(cl, peeringdb.CacheOptions{})
		if err := cache.FullSync(ctx); err != nil {
			b.Fatal(err)
		}
		peak = max(peak, stop())
		b.StopTimer()
		if st := cache.Status(); st.Counts.Networks != benchNets || st.Counts.NetIXLANs != benchNetIXLANs || st.Counts.IXs != benchIXs {
			b.Fatalf("counts %+v", st.Counts)
		}
		retained = max(retained, heapInuseAfterGC()-base)
		runtime.KeepAlive(cache)
		b.StartTimer()
	}
	b.StopTimer()
	b.ReportMetric(float64(peak-base)/(1<<20), "peak-heap-MB")
	b.ReportMetric(float64(retained)/(1<<20), "retained-heap-MB")
	b.ReportMetric(float64(srv.Requests())/float64(b.N), "requests/op")
	b.ReportMetric(float64(srv.BytesServed())/float64(b.N)/(1<<20), "MB-transferred/op")
}

// BenchmarkIncrementalRefresh: after a full sync, 100 changes on the server
// (netixlan updated/deleted/added, networks updated/deleted, IXs updated),
// then one Refresh; reports what it costs PeeringDB.
func BenchmarkIncrementalRefresh(b *testing.B) {
	clock := newFakeClock()
	srv := pdbtest.NewServer(pdbtest.Options{Dataset: realWorld(), Clock: clock.Now})
	defer srv.Close()
	cl := benchClient(b, srv)
	ctx := context.Background()
	cache := peeringdb.NewCache(cl, peeringdb.CacheOptions{Clock: clock.Now})
	if err := cache.FullSync(ctx); err != nil {
		b.Fatal(err)
	}
	fullBytes := srv.BytesServed()
	r := rand.New(rand.NewPCG(1, 2))
	deleted := map[[2]int]bool{}
	pick := func(obj string, n int) int {
		for {
			id := 1 + r.IntN(n)
			if !deleted[[2]int{len(obj), id}] {
				return id
			}
		}
	}
	must := func(err error) {
		if err != nil {
			b.Fatal(err)
		}
	}
	added := 0
	var reqs, bytes int64
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		clock.Advance(5 * time.Minute)
		wantNIX := cache.Status().Counts.NetIXLANs
		for range 40 {
			must(srv.Update("netixlan", pick("netixlan", benchNetIXLANs), map[string]any{"speed": 100000, "is_rs_peer": r.IntN(2) == 0}))
		}
		for range 15 {
			id := pick("netixlan", benchNetIXLANs)
			must(srv.DeleteNetIXLAN(id))
			deleted[[2]int{len("netixlan"), id}] = true
			wantNIX--
		}
		for range 10 {
			added++
			ix := 1 + r.IntN(benchIXs)
			net := pick("net", benchNets)
			srv.AddNetIXLAN(peeringdb.NetIXLAN{NetID: net, IXID: ix, IXLANID: ix, ASN: uint32(4200000000 + net),
				IPAddr4: netip.AddrFrom4([4]byte{100, 64, byte(added >> 8), byte(added)}), Speed: 10000, Operational: true})
			wantNIX++
		}
		for range 25 {
			must(srv.Update("net", pick("net", benchNets), map[string]any{"policy_general": "Selective", "info_prefixes4": 1234}))
		}
		for range 5 {
			id := pick("net", benchNets)
			must(srv.Delete("net", id))
			deleted[[2]int{len("net"), id}] = true
		}
		for range 5 {
			must(srv.Update("ix", 1+r.IntN(benchIXs), map[string]any{"tech_email": "noc@changed.example"}))
		}
		clock.Advance(5 * time.Minute)
		srv.ResetStats()
		b.StartTimer()

		if err := cache.Refresh(ctx); err != nil {
			b.Fatal(err)
		}

		b.StopTimer()
		reqs += int64(srv.Requests())
		bytes += srv.BytesServed()
		if got := cache.Status().Counts.NetIXLANs; got != wantNIX {
			b.Fatalf("netixlan count %d after refresh, want %d", got, wantNIX)
		}
		b.StartTimer()
	}
	b.StopTimer()
	b.ReportMetric(float64(reqs)/float64(b.N), "requests/op")
	b.ReportMetric(float64(bytes)/float64(b.N), "bytes-transferred/op")
	b.ReportMetric(float64(fullBytes), "fullsync-bytes")
}
