package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
)

// BenchmarkIdle2000 is the manager process alone, at its default intervals,
// with 2,000 configured requests on one route server: the CPU it burns when
// nothing changes (goal ≤ 0.05 CPU-s/s) and its memory (goal ≤ 256 MiB),
// read from its own process metrics and /proc, not the test's.
func BenchmarkIdle2000(b *testing.B) {
	const n = 2000
	const idle = time.Minute
	l := newLab(b)
	g := NewWithT(b)
	_, prs, _ := synthLab(b, l, "bench-idle", 90040, n)
	// The lab's short intervals, then the defaults of config/manager (the
	// last value of a flag wins).
	m := startManager(b, "idle", append(l.args(), "--resync-interval=10m", "--router-poll-interval=30s",
		"--retry-interval=30s", "--min-apply-interval=2s", "--filter-ttl=4h", "--kube-api-qps=200", "--kube-api-burst=400")...)
	start := time.Now()
	g.Eventually(func(g Gomega) int { return countConfigured(g, prs) }, 20*time.Minute, 2*time.Second).Should(Equal(n))
	b.Logf("%d requests configured in %v", n, time.Since(start).Round(time.Second))

	// Settled once the Router's last batch and the requests' last status
	// writes are in: the reconcile counters stop moving between two reads.
	settled := func() float64 {
		return m.reconciles("peeringrequest") + m.reconciles("router") + m.reconciles("ixport")
	}
	last := -1.0
	g.Eventually(func() bool {
		cur := settled()
		stable := cur == last
		last = cur
		return stable
	}, 5*time.Minute, 5*time.Second).Should(BeTrue())

	b.ResetTimer()
	cpu0 := m.metric("process_cpu_seconds_total", nil)
	rec0 := settled()
	t0 := time.Now()
	time.Sleep(idle) // the measurement window itself; nothing is awaited
	cpu := (m.metric("process_cpu_seconds_total", nil) - cpu0) / time.Since(t0).Seconds()
	b.StopTimer()

	rss := m.metric("process_resident_memory_bytes", nil) / (1 << 20)
	peak := procStatusKiB(b, m.cmd.Process.Pid, "VmHWM") / 1024
	b.ReportMetric(cpu, "idle-cpu-s-per-s")
	b.ReportMetric(cpu/0.05, "x-idle-cpu-goal")
	b.ReportMetric(rss, "RSS-MiB")
	b.ReportMetric(peak, "peak-RSS-MiB")
	b.ReportMetric(peak/256, "x-RSS-goal")
	b.ReportMetric(settled()-rec0, "idle-reconciles")
}

// procStatusKiB reads a "kB" field of /proc/PID/status (e.g. VmHWM).
func procStatusKiB(t testing.TB, pid int, field string) float64 {
	t.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kib, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			if err != nil {
				t.Fatal(err)
			}
			return kib
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}
