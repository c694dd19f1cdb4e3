package controllers_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	ctrlwebhook "sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/peering-operator/peering-operator/controllers"
	"github.com/peering-operator/peering-operator/internal/bgptest"
	"github.com/peering-operator/peering-operator/internal/filterstore"
	"github.com/peering-operator/peering-operator/internal/irr"
	"github.com/peering-operator/peering-operator/internal/irr/irrtest"
	"github.com/peering-operator/peering-operator/internal/peeringdb"
	"github.com/peering-operator/peering-operator/internal/peeringdb/pdbtest"
	"github.com/peering-operator/peering-operator/internal/policy"
	"github.com/peering-operator/peering-operator/internal/router/drivers"
	"github.com/peering-operator/peering-operator/internal/testenv"
	"github.com/peering-operator/peering-operator/internal/webhook"
)

var (
	logs    lockedBuffer
	k8s     client.Client
	restCfg *rest.Config
	testEnv *envtest.Environment
	// pdb is the PeeringDB test server with the real sample plus the
	// records seedPeeringDB adds.
	pdb *pdbtest.Server
	// pdbSource is the operator's PeeringDB cache.
	pdbSource *controllers.PeeringDBSource
	// irrSrv is the IRR test server with the default fixture.
	irrSrv *irrtest.Server
	// filters is the operator's filter builder.
	filters *controllers.FilterSource
	// store is the operator's store of pinned filters.
	store *filterstore.Store
)

// filterTTL is short so the tests see rebuilds (IRR changes, outages).
const filterTTL = time.Second

// testRate is the PeeringDB client's rate in the tests: high enough to be
// quick, low enough that TestPeeringDBRateLimit can see it hold.
const testRate = 600 // requests per minute

// TestMain runs the real kube-apiserver and etcd from bin/ and the
// operator's controllers in this process, as the manager does.
func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	// Everything the operator logs also goes to logs, for the redaction test.
	ctrl.SetLogger(zap.New(zap.WriteTo(io.MultiWriter(os.Stderr, &logs)), zap.UseDevMode(true)))
	env, cfg, err := testenv.Start(testenv.WithWebhooks())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() {
		if err := env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "failed to stop the API server:", err)
		}
	}()
	restCfg, testEnv = cfg, env
	wh := env.WebhookInstallOptions
	// The operator's API writes are counted on its own connection.
	mgrCfg := rest.CopyConfig(cfg)
	mgrCfg.Wrap(countAPIWrites)
	mgr, err := ctrl.NewManager(mgrCfg, ctrl.Options{
		Scheme:                 testenv.Scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		WebhookServer:          ctrlwebhook.NewServer(ctrlwebhook.Options{Host: wh.LocalServingHost, Port: wh.LocalServingPort, CertDir: wh.LocalServingCertDir}),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pdb = pdbtest.NewServer(pdbtest.Options{})
	defer pdb.Close()
	seedPeeringDB(pdb)
	pdbClient, err := peeringdb.New(peeringdb.Options{BaseURL: pdb.BaseURL, RequestsPerMinute: testRate,
		MaxRetries: 1, Backoff: 50 * time.Millisecond, Timeout: 5 * time.Second})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	pdbSource = &controllers.PeeringDBSource{Cache: peeringdb.NewCache(pdbClient, peeringdb.CacheOptions{})}
	irrSrv, err = irrtest.Start("127.0.0.1:0", irrtest.DefaultFixture())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer irrSrv.Close()
	irrClient, err := irr.New(irr.Config{Servers: []string{irrSrv.Addr()}, QueryTimeout: 2 * time.Second, Retries: -1, Cooldown: 500 * time.Millisecond})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	filters = &controllers.FilterSource{IRR: irrClient, Cache: policy.NewFilterCache(filterTTL)}
	store = filterstore.New(mgr.GetClient(), mgr.GetAPIReader())
	opts := controllers.Options{
		Filters: filters,
		Store:   controllers.PrefixListStore{Store: store},
		// Lab route servers wait for the peers to dial in, and retry fast.
		Drivers: drivers.Opener{Options: drivers.Options{GoBGPPassive: true, GoBGPConnectRetry: time.Second,
			GoBGPInterceptors: []grpc.UnaryClientInterceptor{countWrites}}},
		MinApplyInterval:    300 * time.Millisecond,
		ResyncInterval:      2 * time.Second,
		RouterProbeInterval: 2 * time.Second,
		PeeringDB:           pdbSource,
		RetryInterval:       time.Second,
	}
	if err := controllers.Setup(ctx, mgr, opts); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	webhook.Register(mgr)
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	if k8s, err = client.New(cfg, client.Options{Scheme: testenv.Scheme}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if !mgr.GetCache().WaitForCacheSync(ctx) {
		fmt.Fprintln(os.Stderr, "cache did not sync")
		return 1
	}
	code := m.Run()
	cancel()
	if err := <-done; err != nil {
		fmt.Fprintln(os.Stderr, "manager:", err)
	}
	return code
}

// lockedBuffer is a bytes.Buffer safe for the logger's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// apiWrites counts the operator's writes to the API server by resource
// (e.g. "peeringrequests/status", "events"): what a request costs the API
// server on its way in, and that a resync with nothing changed costs none.
var apiWrites sync.Map // resource → *atomic.Int64

type writeCounter struct{ next http.RoundTripper }

func countAPIWrites(rt http.RoundTripper) http.RoundTripper { return writeCounter{rt} }

func (w writeCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		n, _ := apiWrites.LoadOrStore(apiResource(r.URL.Path), new(atomic.Int64))
		n.(*atomic.Int64).Add(1)
	}
	return w.next.RoundTrip(r)
}

// apiResource is a request path's resource with its subresource:
// /apis/peering.dev/v1alpha1/namespaces/default/peeringrequests/x/status is
// "peeringrequests/status".
func apiResource(path string) string {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	if i := slices.Index(parts, "namespaces"); i >= 0 && i+2 < len(parts) {
		parts = parts[i+2:]
	} else if len(parts) > 0 && parts[0] == "api" {
		parts = parts[min(2, len(parts)):]
	} else {
		parts = parts[min(3, len(parts)):]
	}
	switch len(parts) {
	case 0:
		return path
	case 1, 2:
		return parts[0]
	default:
		return parts[0] + "/" + parts[2]
	}
}

// apiWriteCounts returns the counts so far by resource and resets them.
func apiWriteCounts() map[string]int64 {
	out := map[string]int64{}
	apiWrites.Range(func(k, v any) bool {
		out[k.(string)] = v.(*atomic.Int64).Swap(0)
		return true
	})
	return out
}

// gobgpWrites counts the calls that change any gobgpd's configuration;
// gobgpCalls counts them per gobgpd (the gRPC target) and method, so a test
// counts only what reaches its own route server.
var (
	gobgpWrites atomic.Int64
	gobgpCalls  sync.Map // target + " " + method → *atomic.Int64
)

func countWrites(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	name := method[strings.LastIndex(method, "/")+1:]
	if bgptest.IsWrite(name) {
		gobgpWrites.Add(1)
		n, _ := gobgpCalls.LoadOrStore(cc.Target()+" "+name, new(atomic.Int64))
		n.(*atomic.Int64).Add(1)
	}
	return invoker(ctx, method, req, reply, cc, opts...)
}

// gobgpCallCount is how often the operator called a write method (e.g.
// DeletePeer) of the gobgpd at grpcAddr; "*" counts every write method.
func gobgpCallCount(grpcAddr, method string) int64 {
	var total int64
	gobgpCalls.Range(func(k, v any) bool {
		target, m, _ := strings.Cut(k.(string), " ")
		if strings.HasSuffix(target, grpcAddr) && (method == "*" || m == method) {
			total += v.(*atomic.Int64).Load()
		}
		return true
	})
	return total
}

// Test records on top of the real sample, at DE-CIX Frankfurt (ix 31, ixlan
// 31): Pacnet (AS10026, policy "No" in the sample) gets a port, and Akamai
// (AS20940) a port marked not operational.
func seedPeeringDB(s *pdbtest.Server) {
	s.AddNetIXLAN(peeringdb.NetIXLAN{NetID: 72, IXID: 31, IXLANID: 31, ASN: 10026, Speed: 100000,
		IPAddr4: netip.MustParseAddr("80.81.199.126"), Operational: true, Status: "ok"})
	s.AddNetIXLAN(peeringdb.NetIXLAN{NetID: 2, IXID: 31, IXLANID: 31, ASN: 20940, Speed: 100000,
		IPAddr4: netip.MustParseAddr("80.81.199.40"), Operational: false, Status: "ok"})
	if err := s.AddLabIX(append(slices.Clone(pdbtest.LabPorts), pdbtest.LabRouteServer)...); err != nil {
		panic(err)
	}
	if err := s.AddFRRLabIX(); err != nil {
		panic(err)
	}
}
