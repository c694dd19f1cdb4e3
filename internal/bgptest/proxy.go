package bgptest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/metadata"
)

// Proxy sits between an operator and gobgpd and counts the gRPC calls that
// pass, by method: a test of a separate operator process (a restart, a
// failover) counts what reaches the route server, e.g. every DeletePeer.
// It forwards every method unchanged, streams included.
type Proxy struct {
	// Addr is where operators dial (host:port on 127.0.0.1).
	Addr string

	target *grpc.ClientConn
	srv    *grpc.Server
	ln     net.Listener

	mu     sync.Mutex
	counts map[string]int64
	hooks  []func(method string, n int64)
}

// frame is one message as bytes: the proxy never decodes.
type frame struct{ b []byte }

// rawCodec passes frames through as they are.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) {
	f, ok := v.(*frame)
	if !ok {
		return nil, fmt.Errorf("bgptest proxy: cannot marshal %T", v)
	}
	return f.b, nil
}

func (rawCodec) Unmarshal(data []byte, v any) error {
	f, ok := v.(*frame)
	if !ok {
		return fmt.Errorf("bgptest proxy: cannot unmarshal into %T", v)
	}
	f.b = append(f.b[:0], data...)
	return nil
}

// Name says proto, so the proxy is invisible on the wire.
func (rawCodec) Name() string { return "proto" }

var _ encoding.Codec = rawCodec{}

// StartProxy forwards to target (gobgpd's gRPC address) until the test ends.
func StartProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	p, err := NewProxy(target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// NewProxy starts a proxy to target; Close stops it.
func NewProxy(target string) (*Proxy, error) {
	conn, err := grpc.NewClient(target, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.ForceCodec(rawCodec{})))
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		conn.Close()
		return nil, err
	}
	p := &Proxy{Addr: ln.Addr().String(), target: conn, ln: ln, counts: map[string]int64{}}
	p.srv = grpc.NewServer(grpc.ForceServerCodec(rawCodec{}), grpc.UnknownServiceHandler(p.forward))
	go func() { _ = p.srv.Serve(ln) }()
	return p, nil
}

// Close stops the proxy; calls in flight end.
func (p *Proxy) Close() {
	p.srv.Stop()
	_ = p.target.Close()
}

// Count returns how often method (e.g. "DeletePeer") was called.
func (p *Proxy) Count(method string) int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.counts[method]
}

// Writes counts the calls that change gobgpd's configuration.
func (p *Proxy) Writes() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	var n int64
	for m, c := range p.counts {
		if IsWrite(m) {
			n += c
		}
	}
	return n
}

// OnCall runs hook (outside the proxy's lock) after each call is counted,
// with the method's count so far; a test uses it to act at a given point
// of an apply (kill the operator after the 50th AddPeer).
func (p *Proxy) OnCall(hook func(method string, n int64)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.hooks = append(p.hooks, hook)
}

// IsWrite tells the gobgpd methods that change its configuration.
func IsWrite(method string) bool {
	for _, w := range []string{"Add", "Delete", "Update", "Set", "Enable", "Disable", "Reset", "Shutdown", "Start", "Stop"} {
		if strings.HasPrefix(method, w) {
			return true
		}
	}
	return false
}

func (p *Proxy) forward(_ any, ss grpc.ServerStream) error {
	full, ok := grpc.MethodFromServerStream(ss)
	if !ok {
		return errors.New("bgptest proxy: no method")
	}
	name := full[strings.LastIndex(full, "/")+1:]
	p.mu.Lock()
	p.counts[name]++
	n, hooks := p.counts[name], append([]func(string, int64){}, p.hooks...)
	p.mu.Unlock()
	for _, h := range hooks {
		h(name, n)
	}

	ctx, cancel := context.WithCancel(ss.Context())
	defer cancel()
	md, _ := metadata.FromIncomingContext(ctx)
	cs, err := p.target.NewStream(metadata.NewOutgoingContext(ctx, md.Copy()),
		&grpc.StreamDesc{ServerStreams: true, ClientStreams: true}, full)
	if err != nil {
		return err
	}
	up := make(chan error, 1)
	go func() {
		for {
			f := &frame{}
			if err := ss.RecvMsg(f); err != nil {
				if errors.Is(err, io.EOF) {
					up <- cs.CloseSend()
					return
				}
				cancel()
				up <- err
				return
			}
			if err := cs.SendMsg(f); err != nil {
				up <- err
				return
			}
		}
	}()
	if h, err := cs.Header(); err == nil {
		_ = ss.SendHeader(h)
	}
	for {
		f := &frame{}
		if err := cs.RecvMsg(f); err != nil {
			ss.SetTrailer(cs.Trailer())
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if err := ss.SendMsg(f); err != nil {
			return err
		}
	}
}
