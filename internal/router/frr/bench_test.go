package frr

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/peering-operator/peering-operator/internal/frrtest"
	"github.com/peering-operator/peering-operator/internal/router"
)

// bench500 is 500 neighbors (250 IPv4, 250 IPv6), each with a 5-entry
// import filter and a limit.
func bench500() router.Desired {
	var ns []router.Neighbor
	for i := range 250 {
		a := netip.AddrFrom4([4]byte{192, 0, 2, byte(2 + i)})
		n := router.Neighbor{Address: a, PeerASN: uint32(64600 + i), Owner: fmt.Sprintf("peers/n%d", i), Description: "bench", MaxPrefixes: 100}
		for j := range 5 {
			n.Import = append(n.Import, router.Entry{Prefix: netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 18 + byte(j%2), byte(i), byte(j * 32)}), 27), Exact: true})
		}
		ns = append(ns, n)
		a6 := netip.MustParseAddr(fmt.Sprintf("2001:db8::1:%x", i))
		n6 := router.Neighbor{Address: a6, PeerASN: uint32(64600 + i), Owner: fmt.Sprintf("peers/m%d", i), MaxPrefixes: 100, RouteServerClient: true}
		for j := range 5 {
			n6.Import = append(n6.Import, router.Entry{Prefix: netip.MustParsePrefix(fmt.Sprintf("2001:db8:%x:%x::/64", i, j)), GE: 64, LE: 64})
		}
		ns = append(ns, n6)
	}
	return desired(ns...)
}

// BenchmarkFRRApply500 pushes 500 neighbors through the driver (SSH,
// vtysh, read-back and verification) and, in the same iteration, loads
// the same rendered configuration with a raw "vtysh -f" on the router
// itself (the floor: the machine's load moves both alike); then it
// resyncs with no change, which must write nothing. Run with
// -benchtime=1x.
func BenchmarkFRRApply500(b *testing.B) {
	des := bench500()
	ctx := context.Background()
	b.Run("driver", func(b *testing.B) {
		var driver, floor time.Duration
		for range b.N {
			b.StopTimer()
			floor += vtyshFile(b, des)
			r := frrtest.StartFRR(b, frrtest.Options{})
			cfg := liveConfig(r, true)
			cfg.CommandTimeout = 5 * time.Minute
			batches := 0
			cfg.OnSend = func(l string) {
				if l == batchStart {
					batches++
				}
			}
			d := New(cfg)
			start := time.Now()
			b.StartTimer()
			res, err := d.Apply(ctx, des)
			b.StopTimer()
			driver += time.Since(start)
			if err != nil || res.Added != 500 {
				b.Fatalf("%+v %v", res, err)
			}
			b.ReportMetric(float64(d.Stats().Writes), "lines/op")
			b.ReportMetric(float64(batches), "batches/op")
			d.Close()
			if err := r.Stop(); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
		b.ReportMetric(floor.Seconds()/float64(b.N), "vtysh-f-s/op")
		b.ReportMetric(driver.Seconds()/floor.Seconds(), "x-vtysh-f")
	})
	b.Run("resync-no-change", func(b *testing.B) {
		b.StopTimer()
		r := frrtest.StartFRR(b, frrtest.Options{})
		cfg := liveConfig(r, true)
		cfg.CommandTimeout = 5 * time.Minute
		d := New(cfg)
		defer d.Close()
		if _, err := d.Apply(ctx, des); err != nil {
			b.Fatal(err)
		}
		before := d.Stats()
		b.StartTimer()
		for range b.N {
			res, err := d.Apply(ctx, des)
			if err != nil || res.Changed() {
				b.Fatalf("%+v %v", res, err)
			}
		}
		b.StopTimer()
		b.ReportMetric(float64(d.Stats().Writes-before.Writes)/float64(b.N), "writes/op")
	})
}

// vtyshFile loads des's rendered configuration with "vtysh -f" on a fresh
// router and returns how long that took.
func vtyshFile(b *testing.B, des router.Desired) time.Duration {
	r := frrtest.StartFRR(b, frrtest.Options{})
	defer r.Stop()
	cfg, err := New(liveConfig(r, true)).Render(des)
	if err != nil {
		b.Fatal(err)
	}
	f := filepath.Join(b.TempDir(), "frr.conf")
	if err := os.WriteFile(f, cfg, 0o644); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	if out, err := r.VtyshFile(f); err != nil {
		b.Fatalf("%v %s", err, out)
	}
	d := time.Since(start)
	if out, _ := r.Vtysh("show bgp summary json"); strings.Count(out, `"remoteAs"`) != 500 {
		b.Fatalf("vtysh -f did not configure 500 neighbors")
	}
	return d
}
