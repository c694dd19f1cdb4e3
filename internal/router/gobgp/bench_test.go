package gobgp

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

	"github.com/peering-operator/peering-operator/internal/bgptest"
	"github.com/peering-operator/peering-operator/internal/router"
)

// bench2000 is 2,000 route-server clients on 127.1.x.y (passive: gobgpd
// never dials them, so nothing but loopback is ever touched), each with a
// three-entry filter and a limit.
func bench2000() router.Desired {
	var ns []router.Neighbor
	for i := range 2000 {
		ns = append(ns, router.Neighbor{
			Address:     netip.AddrFrom4([4]byte{127, 1, byte(i / 250), byte(1 + i%250)}),
			PeerASN:     uint32(64512 + i),
			Owner:       fmt.Sprintf("peering/as%d-ix", 64512+i),
			Description: fmt.Sprintf("peer %d", i),
			MaxPrefixes: 100,
			Import: []router.Entry{
				exact(fmt.Sprintf("10.%d.%d.0/24", i/256, i%256)),
				upto(fmt.Sprintf("100.%d.0.0/16", i%250), 16, 24),
				exact(fmt.Sprintf("100.%d.7.0/24", i%250)),
			},
		})
	}
	return router.Desired{LocalASN: rsASN, RouterID: rsAddr, Neighbors: ns}
}

func cpuSelf() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func maxRSSMiB() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Maxrss) / 1024 // KiB on Linux
}

// cpuOf reads a process's user+system CPU time from /proc (Linux).
func cpuOf(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond // USER_HZ = 100
}

// addPeerFloor adds des's neighbors to a fresh gobgpd with bare AddPeer
// calls (no filter, limit only), inFlight at a time, and returns how long
// that took: the floor the driver is measured against. timed: b's timer
// runs for the calls only (else it is left stopped).
func addPeerFloor(b *testing.B, des router.Desired, inFlight int, timed bool) time.Duration {
	ctx := context.Background()
	if timed {
		b.StopTimer()
	}
	rs, err := bgptest.Start(ctx, bgptest.Config{Name: "rs", ASN: rsASN, ListenAddr: rsAddr, Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		if timed {
			b.StopTimer()
			defer b.StartTimer()
		}
		rs.Stop()
	}()
	if timed {
		b.StartTimer()
	}
	add := func(n router.Neighbor) error {
		fam := apiFamily(false)
		_, err := rs.API.AddPeer(ctx, &api.AddPeerRequest{Peer: &api.Peer{
			Conf:        &api.PeerConf{NeighborAddress: n.Address.String(), PeerAsn: n.PeerASN, Description: n.Description},
			Transport:   &api.Transport{PassiveMode: true},
			RouteServer: &api.RouteServer{RouteServerClient: true},
			AfiSafis: []*api.AfiSafi{{Config: &api.AfiSafiConfig{Family: fam, Enabled: true},
				PrefixLimits: &api.PrefixLimit{Family: fam, MaxPrefixes: n.MaxPrefixes}}},
		}})
		return err
	}
	start := time.Now()
	if inFlight == 1 {
		for _, n := range des.Neighbors {
			if err := add(n); err != nil {
				b.Fatal(err)
			}
		}
		return time.Since(start)
	}
	sem := make(chan struct{}, inFlight)
	errs := make(chan error, len(des.Neighbors))
	for _, n := range des.Neighbors {
		sem <- struct{}{}
		go func() {
			errs <- add(n)
			<-sem
		}()
	}
	for range des.Neighbors {
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	}
	return time.Since(start)
}

// BenchmarkApply2000 configures 2,000 neighbors on one gobgpd: raw
// AddPeer loops (the floors: one call per neighbor, no filters, one at a
// time and 8 in flight), the driver's Apply (sets, policy and neighbor per
// peer, after reading the running state; 8 writes in flight, and one at a
// time for comparison), and a resync with nothing changed (0 writes). Each
// driver run is paired with both floors measured just before it, on fresh
// gobgpd processes: x-floor is against the sequential loop (the goal's
// ratio), x-parfloor against the parallel one. Run with -benchtime=1x.
func BenchmarkApply2000(b *testing.B) {
	des := bench2000()
	ctx := context.Background()
	fresh := func(b *testing.B) *bgptest.Speaker {
		b.StopTimer()
		defer b.StartTimer()
		rs, err := bgptest.Start(ctx, bgptest.Config{Name: "rs", ASN: rsASN, ListenAddr: rsAddr, Dir: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		return rs
	}
	for _, f := range []struct {
		name     string
		inFlight int
	}{{"raw-addpeer", 1}, {"raw-addpeer-parallel", 8}} {
		b.Run(f.name, func(b *testing.B) {
			for range b.N {
				addPeerFloor(b, des, f.inFlight, true)
			}
			b.ReportMetric(1, "writes/nb")
		})
	}
	for _, v := range []struct {
		name     string
		inFlight int
	}{{"driver", 0}, {"driver-1inflight", 1}} {
		b.Run(v.name, func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				floor, parFloor := addPeerFloor(b, des, 1, false), addPeerFloor(b, des, 8, false)
				b.StartTimer()
				rs := fresh(b)
				d, err := New(ctx, Options{Address: rs.GRPCAddr(), RouteServer: true, Passive: true, MaxInFlight: v.inFlight})
				if err != nil {
					b.Fatal(err)
				}
				cpu0, gcpu0 := cpuSelf(), cpuOf(rs.PID())
				start := time.Now()
				res, err := d.Apply(ctx, des)
				elapsed := time.Since(start)
				if err != nil || res.Added != 2000 {
					b.Fatalf("Apply: %+v %v", res, err)
				}
				b.ReportMetric(float64(d.Writes()), "writes")
				b.ReportMetric(float64(d.Writes())/float64(len(des.Neighbors)), "writes/nb")
				b.ReportMetric(float64(cpuSelf()-cpu0)/1e6, "op-cpu-ms")
				b.ReportMetric(float64(cpuOf(rs.PID())-gcpu0)/1e6, "gobgpd-cpu-ms")
				b.ReportMetric(float64(elapsed)/float64(floor), "x-floor")
				b.ReportMetric(float64(elapsed)/float64(parFloor), "x-parfloor")
				b.ReportMetric(float64(floor.Milliseconds()), "floor-ms")
				b.ReportMetric(float64(parFloor.Milliseconds()), "parfloor-ms")
				b.StopTimer()
				d.Close()
				rs.Stop()
				b.StartTimer()
			}
		})
	}
	b.Run("resync-nochange", func(b *testing.B) {
		for range b.N {
			rs := fresh(b)
			d, err := New(ctx, Options{Address: rs.GRPCAddr(), RouteServer: true, Passive: true})
			if err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			if _, err := d.Apply(ctx, des); err != nil {
				b.Fatal(err)
			}
			before := d.Writes()
			cpu0, gcpu0 := cpuSelf(), cpuOf(rs.PID())
			b.StartTimer()
			res, err := d.Apply(ctx, des)
			b.StopTimer()
			if err != nil || res.Changed() || d.Writes() != before {
				b.Fatalf("resync wrote %d times: %+v %v", d.Writes()-before, res, err)
			}
			b.ReportMetric(float64(d.Writes()-before), "writes")
			b.ReportMetric(float64(cpuSelf()-cpu0)/1e6, "op-cpu-ms")
			b.ReportMetric(float64(cpuOf(rs.PID())-gcpu0)/1e6, "gobgpd-cpu-ms")
			st := time.Now()
			states, err := d.State(ctx)
			if err != nil || len(states) != 2000 {
				b.Fatalf("State: %d %v", len(states), err)
			}
			b.ReportMetric(float64(time.Since(st).Milliseconds()), "state-ms")
			b.ReportMetric(maxRSSMiB(), "peak-rss-MiB")
			d.Close()
			rs.Stop()
			b.StartTimer()
		}
	})
}
