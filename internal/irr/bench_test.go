package irr_test

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"net/netip"
	"os/exec"
	"runtime/metrics"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/peering-operator/peering-operator/internal/irr"
	"github.com/peering-operator/peering-operator/internal/irr/irrtest"
)

// largeServer serves irrtest.LargeFixture(100000) to every benchmark in the
// run; generating and loading it takes a moment.
var largeServer = sync.OnceValues(func() (*irrtest.Server, error) {
	return irrtest.Start("127.0.0.1:0", irrtest.LargeFixture(100_000))
})

// BenchmarkExpand compares our client (expand, aggregate, write JSON) with
// bgpq4 -A -j on the same AS-SET of 100,000 route objects from the same
// local server, once with server-side !a and once with !i and pipelined !g.
// Both produce the same bytes (checked first). Run with -benchtime=1x or a
// small count: each op is one full expansion.
func BenchmarkExpand(b *testing.B) {
	srv, err := largeServer()
	if err != nil {
		b.Fatal(err)
	}
	for _, path := range []string{"a", "i+g"} {
		b.Run(path, func(b *testing.B) {
			srv.SetASupport(path == "a")
			o := bgpq4Opts{sources: []string{irrtest.LargeSource}}
			c := newClient(b, irr.Config{Servers: []string{srv.Addr()}})
			if _, err := exec.LookPath("bgpq4"); err == nil {
				want, _ := runBGPQ4(b, srv.Addr(), o, irrtest.LargeSet)
				got, entries, st := ours(b, c, o, irrtest.LargeSet)
				if !bytes.Equal(want, got) {
					b.Fatalf("ours and bgpq4 differ on the large set")
				}
				b.Logf("%s: %d prefixes, %d entries, %d origin ASNs", path, st.Prefixes, len(entries), st.ASNs)
			}
			b.Run("ours", func(b *testing.B) {
				b.ReportAllocs()
				peak := watchHeap()
				for b.Loop() {
					ps, _, err := c.Expand(context.Background(), irr.Query{Sets: []string{irrtest.LargeSet}, Family: 4, Sources: o.sources})
					if err != nil {
						b.Fatal(err)
					}
					if err := irr.WriteJSON(io.Discard, "x", irr.Aggregate(ps, irr.AggregateOptions{})); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(peak()/(1<<20), "peak-heap-MB")
			})
			b.Run("bgpq4", func(b *testing.B) {
				bin := bgpq4Path(b)
				var rss int64
				for b.Loop() {
					cmd := exec.Command(bin, o.args(srv.Addr(), "x", []string{irrtest.LargeSet})...)
					cmd.Stdout = io.Discard
					if err := cmd.Run(); err != nil {
						b.Fatal(err)
					}
					if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
						rss = max(rss, ru.Maxrss) // KiB on Linux
					}
				}
				b.ReportMetric(float64(rss)/1024, "peak-rss-MB")
			})
		})
	}
}

// BenchmarkAggregate aggregates 1,000,000 prefixes alone (no network).
func BenchmarkAggregate(b *testing.B) {
	for _, v6 := range []bool{false, true} {
		name := "1M-v4"
		if v6 {
			name = "1M-v6"
		}
		b.Run(name, func(b *testing.B) {
			in := millionPrefixes(v6)
			b.ReportAllocs()
			peak := watchHeap()
			var n int
			for b.Loop() {
				n = len(irr.Aggregate(in, irr.AggregateOptions{}))
			}
			b.ReportMetric(float64(n), "entries")
			b.ReportMetric(peak()/(1<<20), "peak-heap-MB")
		})
	}
}

// millionPrefixes is a routing-table-like mix: mostly /24 (/48), runs of
// neighbours, covering aggregates and some more-specifics, in random order.
func millionPrefixes(v6 bool) []netip.Prefix {
	rng := rand.New(rand.NewPCG(1, 1_000_000))
	out := make([]netip.Prefix, 0, 1_000_000)
	cur := uint64(0x0100_0000) // 1.0.0.0
	if v6 {
		cur = 0x2a00_0000_0000 // 2a00::/16 in units of /48
	}
	for len(out) < cap(out) {
		cur += 1 + uint64(rng.IntN(3)/2) // mostly adjacent
		var p netip.Prefix
		if !v6 {
			a := uint32(cur << 8)
			p = netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), 0}), 24)
		} else {
			var a [16]byte
			for i := range 6 {
				a[i] = byte(cur >> (40 - 8*i))
			}
			p = netip.PrefixFrom(netip.AddrFrom16(a), 48)
		}
		switch x := rng.IntN(10); {
		case x == 0:
			p = netip.PrefixFrom(p.Addr(), p.Bits()-2-rng.IntN(6)).Masked()
		case x == 1:
			p = netip.PrefixFrom(p.Addr(), p.Bits()+1+rng.IntN(3))
		}
		out = append(out, p)
	}
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// watchHeap samples the live heap every millisecond until the returned
// function is called, which reports the peak in bytes.
func watchHeap() func() float64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	var peak uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(s)
			peak = max(peak, s[0].Value.Uint64())
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	return func() float64 {
		close(stop)
		<-done
		return float64(peak)
	}
}
