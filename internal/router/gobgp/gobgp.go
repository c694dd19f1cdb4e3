// Package gobgp implements router.Driver for a GoBGP (v3) speaker,
// typically an IX route server, over gobgpd's gRPC API.
//
// Per neighbor the driver owns a prefix set (po-in-<id>), for ordinary
// peers a neighbor set (po-nb-<id>), the switch of the bogon ASN check (a
// prefix set, po-bg-<id>), the first-AS check (an AS_PATH set,
// po-fa-<id>), and an import policy (po-in-<id>); <id> is the neighbor
// address with "." and ":" replaced by "_". One AS_PATH set of bogon ASN
// patterns (po-bogon-asns) serves every neighbor. A route-server client
// gets the policy as its own import policy with default reject; an
// ordinary peer's policy goes into the global import policy ahead of any
// policy configured by hand (which keeps its default), and its accepted
// routes get the large community of router.Neighbor.Learned (any of ours
// they carry is removed first). An ordinary peer also has an export prefix
// set and policy (both po-out-<id>), ahead of any hand-made policy in the
// global export policy: routes carrying a community of the shared large
// community set po-learned are rejected, then those in the export set
// accepted, then the rest rejected. Neighbors are marked by a description
// starting with "po[owner]". Nothing without these marks is changed or
// deleted. A held neighbor (router.Held) keeps its neighbor, objects and
// places in the global policies as they run; only its admin state may
// change.
package gobgp

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/peering-operator/peering-operator/internal/router"
)

// Options configure the driver.
type Options struct {
	// Address of gobgpd's gRPC API, "host:port".
	Address string
	// RouteServer makes every neighbor a route-server client (in addition
	// to neighbors whose RouteServerClient is set).
	RouteServer bool
	// DialTimeout bounds New's first call (default 5s).
	DialTimeout time.Duration
	// Passive neighbors: gobgpd never dials them and only accepts their
	// connections.
	Passive bool
	// PeerPort is the BGP port gobgpd dials on neighbors (0: 179).
	PeerPort uint16
	// ConnectRetry after a failed or refused connection (0: GoBGP's 120s).
	ConnectRetry time.Duration
	// ShutdownThresholdPct makes GoBGP log a warning when a neighbor
	// reaches this percentage of its limit (0: off). GoBGP does not expose
	// the warning in its API.
	ShutdownThresholdPct uint32
	// RPKIServer is an RTR cache "host:port"; when set, the driver adds it
	// (AddRpki) and RPKI-invalid routes are rejected. Without it no route
	// is ever invalid and the RPKI statements are inert.
	RPKIServer string
	// ListenPort and ListenAddresses are used only when gobgpd has not
	// started BGP yet (GetBgp returns AS 0): Apply then starts it with
	// Desired's AS and router ID (ListenPort 0: 179, -1: do not listen).
	ListenPort      int32
	ListenAddresses []string
	// MaxInFlight bounds the writes of one phase of an Apply that run at
	// once (new neighbors' sets, policies, neighbors; 0: 8, 1: one at a
	// time). gobgpd applies them in turn; in flight together, their round
	// trips overlap.
	MaxInFlight int
	// DisableWatch turns off the background WatchEvent stream that notes
	// session transitions as they happen (used for LastError); without it
	// they are only noticed when State is called.
	DisableWatch bool
	// Interceptors run on every unary call after the write counter (tests
	// use one to inject failures).
	Interceptors []grpc.UnaryClientInterceptor
	// DialOptions are added to the gRPC dial (e.g. TLS credentials; the
	// default is an insecure connection).
	DialOptions []grpc.DialOption
}

// Driver is a router.Driver for gobgpd.
type Driver struct {
	opts   Options
	conn   *grpc.ClientConn
	client api.GobgpApiClient
	writes atomic.Uint64

	applyMu sync.Mutex // one Apply at a time
	// vrpsSeen is what the RTR servers held at the last Apply (running.vrps),
	// once vrpsKnown; under applyMu.
	vrpsSeen  string
	vrpsKnown bool

	sessions *sessionTracker

	watchCancel context.CancelFunc
	watchDone   chan struct{}
	closeOnce   sync.Once
}

var _ router.Driver = (*Driver)(nil)

// New connects to gobgpd and checks that it answers within DialTimeout.
func New(ctx context.Context, o Options) (*Driver, error) {
	if o.Address == "" {
		return nil, errors.New("gobgp: Options.Address is required")
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = 5 * time.Second
	}
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = 8
	}
	d := &Driver{opts: o, sessions: newSessionTracker()}
	dial := []grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		// ListPolicy/ListPolicyAssignment answers grow with the neighbor
		// count; gobgpd itself allows 256 MiB.
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(256 << 20)),
		grpc.WithChainUnaryInterceptor(append([]grpc.UnaryClientInterceptor{d.countWrites}, o.Interceptors...)...),
	}
	conn, err := grpc.NewClient(o.Address, append(dial, o.DialOptions...)...)
	if err != nil {
		return nil, fmt.Errorf("gobgp: connect %s: %w", o.Address, err)
	}
	d.conn, d.client = conn, api.NewGobgpApiClient(conn)
	cctx, cancel := context.WithTimeout(ctx, o.DialTimeout)
	defer cancel()
	if _, err := d.client.GetBgp(cctx, &api.GetBgpRequest{}, grpc.WaitForReady(true)); err != nil {
		conn.Close()
		return nil, fmt.Errorf("gobgp: %s does not answer: %w", o.Address, err)
	}
	if !o.DisableWatch {
		wctx, cancel := context.WithCancel(context.Background())
		d.watchCancel, d.watchDone = cancel, make(chan struct{})
		go d.watch(wctx)
	}
	return d, nil
}

// Close stops the watcher and closes the connection.
func (d *Driver) Close() error {
	var err error
	d.closeOnce.Do(func() {
		if d.watchCancel != nil {
			d.watchCancel()
			<-d.watchDone
		}
		err = d.conn.Close()
	})
	return err
}

// Writes returns how many state-changing gRPC calls the driver has made
// (every call but Get*, List* and WatchEvent), whether they succeeded or
// not.
func (d *Driver) Writes() uint64 { return d.writes.Load() }

// isRead reports whether a gRPC method only reads.
func isRead(method string) bool {
	m := method[strings.LastIndex(method, "/")+1:]
	return strings.HasPrefix(m, "List") || strings.HasPrefix(m, "Get") || m == "WatchEvent"
}

func (d *Driver) countWrites(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	if !isRead(method) {
		d.writes.Add(1)
	}
	return invoker(ctx, method, req, reply, cc, opts...)
}

// Render returns the configuration Apply would push for d (pure).
func (d *Driver) Render(des router.Desired) ([]byte, error) {
	return Render(des, d.opts)
}
