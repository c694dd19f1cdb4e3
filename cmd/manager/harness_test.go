package main

// The tests in this package run the manager binary as the Deployment does,
// as separate processes against a real API server: restarts, crashes and
// leader failover can only be tested on a process that really stops.

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
	"github.com/peering-operator/peering-operator/internal/irr/irrtest"
	"github.com/peering-operator/peering-operator/internal/peeringdb"
	"github.com/peering-operator/peering-operator/internal/peeringdb/pdbtest"
	"github.com/peering-operator/peering-operator/internal/testenv"
)

var (
	// managerBin is the manager built for this test run.
	managerBin string
	// kubeconfig reaches the test API server as admin.
	kubeconfig string
	k8s        client.Client
	restCfg    *rest.Config
)

const timeout = 60 * time.Second

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "peering-manager-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	managerBin = filepath.Join(dir, "manager")
	// Static, as the Dockerfile builds it: the shipped Pod test runs it on a
	// root without libc, like the distroless base.
	build := exec.Command("go", "build", "-trimpath", "-o", managerBin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building the manager:", err)
		return 1
	}
	env, cfg, err := testenv.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() {
		if err := env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "failed to stop the API server:", err)
		}
	}()
	restCfg = cfg
	// The tests create thousands of objects; client-go's default is 5/s.
	cfg.QPS, cfg.Burst = 1000, 2000
	kubeconfig = filepath.Join(dir, "kubeconfig")
	if err := testenv.WriteKubeconfig(cfg, kubeconfig); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if k8s, err = client.New(cfg, client.Options{Scheme: testenv.Scheme}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// manager is one running manager process.
type manager struct {
	name        string
	cmd         *exec.Cmd
	metricsAddr string
	probeAddr   string
	logPath     string
	exited      chan struct{}
}

// start runs m.cmd with its output in logf until the test ends, when it
// is stopped by its pid; onFail says what to log if the test failed.
func (m *manager) start(t testing.TB, logf *os.File, onFail func() string) {
	t.Helper()
	m.cmd.Stdout, m.cmd.Stderr = logf, logf
	if err := m.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = m.cmd.Wait()
		logf.Close()
		close(m.exited)
	}()
	t.Cleanup(func() {
		m.stop()
		if t.Failed() {
			t.Log(onFail())
		}
	})
}

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// labArgs are the flags of a manager in these tests: the lab's PeeringDB
// and IRR, fast polls, no webhooks (the approval path has its own tests).
func labArgs(pdbURL, irrAddr string) []string {
	return []string{
		"--peeringdb-url=" + pdbURL, "--peeringdb-requests-per-minute=600",
		"--irr-servers=" + irrAddr, "--irr-cooldown=1s",
		"--router-poll-interval=2s", "--resync-interval=2s", "--retry-interval=1s", "--min-apply-interval=300ms",
		"--filter-ttl=2s",
		"--gobgp-passive-neighbors", "--gobgp-connect-retry=1s",
		"--enable-webhooks=false",
	}
}

// startManager runs the manager binary with args until the test ends (it
// is stopped by its pid then) and waits for its readiness probe.
func startManager(t testing.TB, name string, args ...string) *manager {
	t.Helper()
	m := &manager{name: name, metricsAddr: freeAddr(t), probeAddr: freeAddr(t), exited: make(chan struct{})}
	dir := t.TempDir()
	if d := os.Getenv("PEERING_TEST_LOGDIR"); d != "" {
		dir = d // kept after the test, for a post-mortem
	}
	m.logPath = filepath.Join(dir, fmt.Sprintf("%s-%s.log", strings.ReplaceAll(t.Name(), "/", "_"), name))
	logf, err := os.Create(m.logPath)
	if err != nil {
		t.Fatal(err)
	}
	m.cmd = exec.Command(managerBin, append([]string{
		"--metrics-bind-address=" + m.metricsAddr, "--metrics-secure=false",
		"--health-probe-bind-address=" + m.probeAddr, "--zap-log-level=" + logLevel(),
	}, args...)...)
	m.cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	m.start(t, logf, func() string { return fmt.Sprintf("--- %s log (last lines) ---\n%s", name, tail(m.logPath, 60)) })
	NewWithT(t).Eventually(func() error {
		select {
		case <-m.exited:
			return StopTrying(fmt.Sprintf("manager %s exited at start:\n%s", name, tail(m.logPath, 40)))
		default:
		}
		resp, err := http.Get("http://" + m.probeAddr + "/readyz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("readyz: %s", resp.Status)
		}
		return nil
	}, timeout).Should(Succeed())
	return m
}

// stop ends the process gracefully (SIGTERM), then for good.
func (m *manager) stop() {
	select {
	case <-m.exited:
		return
	default:
	}
	_ = m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.exited:
	case <-time.After(20 * time.Second):
		_ = m.cmd.Process.Kill()
		<-m.exited
	}
}

// kill ends the process at once, as a node failure or an OOM kill does.
func (m *manager) kill() {
	_ = m.cmd.Process.Signal(syscall.SIGKILL)
	<-m.exited
}

// metrics scrapes the manager's /metrics.
func (m *manager) metrics() (map[string]*dto.MetricFamily, error) {
	resp, err := http.Get("http://" + m.metricsAddr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	return p.TextToMetricFamilies(resp.Body)
}

// metric sums the series of name whose labels include want.
func (m *manager) metric(name string, want map[string]string) float64 {
	mfs, err := m.metrics()
	if err != nil {
		return -1
	}
	total := 0.0
	for _, s := range mfs[name].GetMetric() {
		ok := true
		for k, v := range want {
			found := false
			for _, l := range s.GetLabel() {
				found = found || (l.GetName() == k && l.GetValue() == v)
			}
			ok = ok && found
		}
		if !ok {
			continue
		}
		switch {
		case s.Counter != nil:
			total += s.GetCounter().GetValue()
		case s.Gauge != nil:
			total += s.GetGauge().GetValue()
		}
	}
	return total
}

// leading: the manager holds the leader lease.
func (m *manager) leading() bool {
	return m.metric("leader_election_master_status", nil) == 1
}

// reconciles counts the controller's finished reconciles.
func (m *manager) reconciles(controller string) float64 {
	return m.metric("controller_runtime_reconcile_total", map[string]string{"controller": controller})
}

func tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	var lines []string
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 1<<20), 1<<20)
	for s.Scan() {
		lines = append(lines, s.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}

// lab is a PeeringDB and an IRR for one test.
type lab struct {
	pdb *pdbtest.Server
	irr *irrtest.Server
	// irrAddr stays the same when the IRR is stopped and started again.
	irrAddr string
	mu      sync.Mutex
}

func newLab(t testing.TB, irrFixtures ...string) *lab {
	t.Helper()
	l := &lab{pdb: pdbtest.NewServer(pdbtest.Options{})}
	t.Cleanup(l.pdb.Close)
	if err := l.pdb.AddLabIX(pdbtest.LabPorts...); err != nil {
		t.Fatal(err)
	}
	if err := l.pdb.AddFRRLabIX(); err != nil {
		t.Fatal(err)
	}
	srv, err := irrtest.Start("127.0.0.1:0", append([]string{irrtest.DefaultFixture()}, irrFixtures...)...)
	if err != nil {
		t.Fatal(err)
	}
	l.irr, l.irrAddr = srv, srv.Addr()
	t.Cleanup(func() { l.stopIRR() })
	return l
}

// stopIRR makes the IRR unreachable (connections refused).
func (l *lab) stopIRR() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.irr != nil {
		_ = l.irr.Close()
		l.irr = nil
	}
}

// startIRR serves the IRR again, at the same address, with fixtures.
func (l *lab) startIRR(t testing.TB, fixtures ...string) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	srv, err := irrtest.Start(l.irrAddr, fixtures...)
	if err != nil {
		t.Fatal(err)
	}
	l.irr = srv
}

func (l *lab) args() []string { return labArgs(l.pdb.BaseURL, l.irrAddr) }

// synthPorts adds n networks with a port each on a new lab IX (LAN
// 127.1.0.0/16) and the IRR route objects of their filters: one /24 each.
func synthPorts(t testing.TB, pdb *pdbtest.Server, ixID, n int) (rpsl string, ports []pdbtest.LabPort) {
	t.Helper()
	pdb.AddIX(peeringdb.IX{ID: ixID, Name: fmt.Sprintf("Synthetic IX %d", ixID), City: "Localhost", Country: "ZZ", Status: "ok"})
	pdb.AddIXLAN(peeringdb.IXLAN{ID: ixID, IXID: ixID, Name: "synthetic LAN", Status: "ok"})
	pdb.AddIXPrefix(peeringdb.IXPrefix{IXLANID: ixID, Protocol: "IPv4", Prefix: netip.MustParsePrefix("127.1.0.0/16"), Status: "ok"})
	var b strings.Builder
	for i := range n {
		asn := uint32(3900000000 + i + 1)
		c := int64(1)
		id := pdb.AddNetwork(peeringdb.Network{ASN: asn, Name: fmt.Sprintf("Synthetic %d", i), PolicyGeneral: "Open", InfoPrefixes4: &c, Status: "ok"})
		addr := netip.AddrFrom4([4]byte{127, 1, byte((i + 10) / 250), byte((i+10)%250 + 2)})
		pdb.AddNetIXLAN(peeringdb.NetIXLAN{NetID: id, IXID: ixID, IXLANID: ixID, ASN: asn, IPAddr4: addr, Speed: 1000, Operational: true, Status: "ok"})
		fmt.Fprintf(&b, "route: 31.%d.%d.0/24\norigin: AS%d\nsource: RIPE\n\n", i/250, i%250, asn)
		ports = append(ports, pdbtest.LabPort{ASN: asn, Addr: addr, NetID: id})
	}
	return b.String(), ports
}

// approveAll approves requests as a NOC would (no webhook in these tests).
func approveAll(t testing.TB, prs []*peeringv1.PeeringRequest) {
	t.Helper()
	ctx := context.Background()
	for _, pr := range prs {
		NewWithT(t).Eventually(func() error {
			cur := &peeringv1.PeeringRequest{}
			if err := k8s.Get(ctx, client.ObjectKeyFromObject(pr), cur); err != nil {
				return err
			}
			meta.SetStatusCondition(&cur.Status.Conditions, metav1.Condition{Type: peeringv1.PeeringRequestApproved,
				Status: metav1.ConditionTrue, Reason: "NOCApproved", Message: "test"})
			return k8s.Status().Update(ctx, cur)
		}, timeout).Should(Succeed())
	}
}

// dumpOnFailure logs the objects' status when the test fails.
func dumpOnFailure(t testing.TB, objs ...client.Object) {
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		for _, o := range objs {
			cur := o.DeepCopyObject().(client.Object)
			if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(o), cur); err != nil {
				t.Logf("%s: %v", o.GetName(), err)
				continue
			}
			cur.SetManagedFields(nil)
			b, _ := yaml.Marshal(cur)
			t.Logf("--- %s ---\n%s", o.GetName(), b)
		}
	})
}

// logLevel is the managers' log level: info, or PEERING_TEST_LOGLEVEL.
func logLevel() string {
	if l := os.Getenv("PEERING_TEST_LOGLEVEL"); l != "" {
		return l
	}
	return "info"
}
