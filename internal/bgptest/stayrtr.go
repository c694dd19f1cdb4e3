package bgptest

import (
	"encoding/json"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// StartStayRTR runs Debian's stayrtr as the RTR cache for a test, serving
// vrps from a local JSON file (rpki-client's format) on a free 127.0.0.1
// port, and stops it by pid when the test ends. It returns "host:port".
// Without stayrtr installed the test is skipped, except in CI (CI=true),
// where a missing package is a failure.
func StartStayRTR(t testing.TB, vrps []VRP) string {
	t.Helper()
	return StartStayRTRAt(t, netip.MustParseAddr("127.0.0.1"), vrps)
}

// StartStayRTRAt is StartStayRTR listening on bind, an address of the
// test's own (e.g. frrtest.Router.MgmtRoot for an FRR in its namespace).
func StartStayRTRAt(t testing.TB, bind netip.Addr, vrps []VRP) string {
	t.Helper()
	bin, err := exec.LookPath("stayrtr")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("stayrtr is not installed (apt-get install stayrtr)")
		}
		t.Skip("stayrtr is not installed (apt-get install stayrtr)")
	}
	if err := validateVRPs(vrps); err != nil {
		t.Fatal(err)
	}
	type roa struct {
		Prefix    string `json:"prefix"`
		MaxLength int    `json:"maxLength"`
		ASN       uint32 `json:"asn"`
		TA        string `json:"ta"`
	}
	doc := struct {
		ROAs []roa `json:"roas"`
	}{}
	for _, v := range vrps {
		doc.ROAs = append(doc.ROAs, roa{Prefix: v.Prefix.String(), MaxLength: v.MaxLen, ASN: v.ASN, TA: "test"})
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "vrps.json")
	b, _ := json.Marshal(doc)
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
	port, err := FreePort(bind)
	if err != nil {
		t.Fatal(err)
	}
	mport, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := net.JoinHostPort(bind.String(), strconv.Itoa(port))
	// Everything on loopback, nothing fetched: the cache is a local file.
	cmd := exec.Command(bin, "-bind", addr, "-cache", file, "-checktime=false", "-refresh", "3600",
		"-metrics.addr", net.JoinHostPort("127.0.0.1", strconv.Itoa(mport)))
	cmd.Stdout, cmd.Stderr = nil, nil
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start stayrtr: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("stayrtr (pid %d) does not listen on %s: %v", cmd.Process.Pid, addr, err)
		}
		time.Sleep(50 * time.Millisecond) // polling a port that is about to open
	}
}
