package main

import (
	"bufio"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// startPrometheus runs the real Prometheus (Debian's prometheus package, as
// .ci/run installs it) on a TSDB that promtool backfilled from samples, so
// the query engine, the HTTP API and its JSON are Prometheus's own. It
// returns the server's address.
func startPrometheus(t *testing.T, openMetrics string) string {
	t.Helper()
	var bins []string
	for _, b := range []string{"prometheus", "promtool"} {
		p, err := exec.LookPath(b)
		if err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is not installed, and CI=true: install it (apt-get install -y --no-install-recommends prometheus)", b)
			}
			t.Skipf("%s is not installed (apt-get install -y --no-install-recommends prometheus); CI=true makes this a failure", b)
		}
		bins = append(bins, p)
	}
	dir := t.TempDir()
	om, tsdb, cfg := filepath.Join(dir, "samples.om"), filepath.Join(dir, "tsdb"), filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(om, []byte(openMetrics), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg, []byte("global:\n  scrape_interval: 1h\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bins[1], "tsdb", "create-blocks-from", "openmetrics", om, tsdb).CombinedOutput(); err != nil {
		t.Fatalf("promtool backfill: %v\n%s", err, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(bins[0], "--config.file="+cfg, "--storage.tsdb.path="+tsdb, "--web.listen-address="+addr,
		"--storage.tsdb.retention.time=100y")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	// Ready when Prometheus logs so; its log goes on being read so that it
	// never blocks on a full pipe.
	ready := make(chan bool, 1)
	var log strings.Builder
	go func() {
		sc := bufio.NewScanner(stderr)
		said := false
		for sc.Scan() {
			if !said {
				log.WriteString(sc.Text() + "\n")
			}
			if !said && strings.Contains(sc.Text(), "Server is ready to receive web requests.") {
				said = true
				ready <- true
			}
		}
		if !said {
			ready <- false
		}
	}()
	select {
	case ok := <-ready:
		if !ok {
			t.Fatalf("prometheus exited before it was ready:\n%s", log.String())
		}
	case <-time.After(time.Minute):
		t.Fatal("prometheus not ready after a minute")
	}
	return "http://" + addr
}

// The bytes of hitlist-traffic.csv as a flow collector exports them to
// Prometheus: per direction, the ASN with or without "AS".
func trafficSamples() string {
	ts := testNow.Add(-time.Minute).Unix()
	var b strings.Builder
	b.WriteString("# TYPE flow_bytes_30d gauge\n")
	for _, s := range []struct {
		asn, dir string
		bytes    int64
	}{
		{"15169", "out", 3000000000000}, {"15169", "in", 500000000000}, {"AS9002", "out", 800000000000},
		{"13030", "out", 420000000000}, {"8075", "in", 2100000000000}, {"6939", "out", 2500000000000},
		{"3303", "out", 150000000000}, {"64496", "out", 99000000000},
	} {
		fmt.Fprintf(&b, "flow_bytes_30d{asn=%q,dir=%q} %d %d\n", s.asn, s.dir, s.bytes, ts)
	}
	b.WriteString("# EOF\n")
	return b.String()
}

func promQuery(base, q string) string {
	return base + "/api/v1/query?query=" + url.QueryEscape(q)
}

// Prometheus and the CSV with the same bytes give the same hit list.
func TestHitListFromPrometheus(t *testing.T) {
	prom := startPrometheus(t, trafficSamples())
	cache := pdbFlagsFor(t)
	common := []string{"candidates", "--our-asn", "8804,AS20640", "--min-policy", "selective", "--top", "15", "-o", "csv"}
	fromProm, errOut, err := run(t, args(common, []string{"--traffic-prometheus", promQuery(prom, "sum by (asn) (flow_bytes_30d)")}, kube(), cache)...)
	if err != nil {
		t.Fatal(err)
	}
	fromCSV, _, err := run(t, args(common, []string{"--traffic", "testdata/hitlist-traffic.csv"}, kube(), cache)...)
	if err != nil {
		t.Fatal(err)
	}
	if fromProm != fromCSV {
		t.Errorf("from Prometheus:\n%s\nfrom the CSV:\n%s", fromProm, fromCSV)
	}
	if !strings.Contains(errOut, "score from Prometheus bytes ×3") {
		t.Errorf("stderr: %s", errOut)
	}
	out, _, err := run(t, args([]string{"candidates", "--top", "8", "--traffic-prometheus", promQuery(prom, "sum by (asn) (flow_bytes_30d)")},
		kube(), cache)...)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "candidates-hitlist-prometheus", out)

	for q, want := range map[string]string{
		"scalar(sum(flow_bytes_30d))":            "returned a scalar; want an instant vector with one series per ASN (label asn)",
		"sum by (dir) (flow_bytes_30d)":          "has no label asn (--traffic-asn-label names the ASN label)",
		"sum by (asn) (flow_bytes_30d{x=\"y\"})": "returned no series at 2026-03-02T12:00:00Z",
		"sum by (asn) (":                         "bad_data",
	} {
		_, _, err := run(t, args([]string{"candidates", "--traffic-prometheus", promQuery(prom, q)}, kube(), cache)...)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want %q", q, err, want)
		}
	}
	_, _, err = run(t, args([]string{"candidates", "--traffic-prometheus", prom + "/graph?g0.expr=up"}, kube(), cache)...)
	if err == nil || !strings.Contains(err.Error(), "want the URL of an instant query") {
		t.Errorf("a graph URL: err = %v", err)
	}
}
