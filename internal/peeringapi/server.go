package peeringapi

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-logr/logr"
	authenticationv1 "k8s.io/api/authentication/v1"
	"sigs.k8s.io/controller-runtime/pkg/certwatcher"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Defaults of Options.
const (
	DefaultMaxBodyBytes          = 64 << 10
	DefaultMaxSessions           = 16
	DefaultMaxPendingPerASN      = 32
	DefaultCallerPerMinute       = 60
	DefaultAddressPerMinute      = 120
	defaultBurst                 = 10
	defaultPageSize, maxPageSize = 100, 100
)

// Options configure a Server.
type Options struct {
	// Client reads IXPorts, Routers and PeeringRequests and creates and
	// deletes PeeringRequests in Namespace.
	Client    client.Client
	Namespace string
	Verifier  Verifier
	// Addr to listen on (host:port) and CertDir with tls.crt and tls.key.
	Addr, CertDir string
	// Per-minute rates: per authenticated caller, and per client address
	// before authentication (checking a signature costs CPU). <0: none.
	CallerPerMinute, AddressPerMinute float64
	// MaxBodyBytes and MaxSessions bound a POST.
	MaxBodyBytes int64
	MaxSessions  int
	// MaxPendingPerASN bounds the requests one ASN has waiting for a
	// decision, so a valid token cannot fill the NOC's queue.
	MaxPendingPerASN int
	// Self is the Kubernetes user the server acts as: only requests it
	// created (spec.requester.username, stamped by the webhook) count as
	// made through the API, so a requester.peeringAPI someone else wrote
	// makes nothing deletable by a remote. Empty: learnt at Start with a
	// SelfSubjectReview.
	Self string
	Log  logr.Logger
}

// Server serves the Peering API.
type Server struct {
	opts             Options
	callers, clients *limiter
}

// New checks opts and fills defaults.
func New(opts Options) (*Server, error) {
	if opts.Client == nil || opts.Verifier == nil || opts.Namespace == "" {
		return nil, errors.New("the Peering API server needs a client, a token verifier and a namespace")
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.MaxSessions <= 0 {
		opts.MaxSessions = DefaultMaxSessions
	}
	if opts.MaxPendingPerASN <= 0 {
		opts.MaxPendingPerASN = DefaultMaxPendingPerASN
	}
	if opts.CallerPerMinute == 0 {
		opts.CallerPerMinute = DefaultCallerPerMinute
	}
	if opts.AddressPerMinute == 0 {
		opts.AddressPerMinute = DefaultAddressPerMinute
	}
	return &Server{opts: opts,
		callers: newLimiter(opts.CallerPerMinute, defaultBurst),
		clients: newLimiter(opts.AddressPerMinute, defaultBurst)}, nil
}

// NeedLeaderElection: every replica serves (reads come from the cache,
// writes are single creates and deletes).
func (s *Server) NeedLeaderElection() bool { return false }

// Start serves HTTPS on opts.Addr until ctx ends (a manager Runnable).
func (s *Server) Start(ctx context.Context) error {
	if s.opts.Self == "" {
		ssr := &authenticationv1.SelfSubjectReview{}
		if err := s.opts.Client.Create(ctx, ssr); err != nil || ssr.Status.UserInfo.Username == "" {
			return fmt.Errorf("the Peering API could not learn its own Kubernetes user (SelfSubjectReview: %v): it needs it to tell its requests from others'", err)
		}
		s.opts.Self = ssr.Status.UserInfo.Username
	}
	if s.opts.CertDir == "" {
		return errors.New("the Peering API needs --peering-api-cert-dir with tls.crt and tls.key: it is served over HTTPS only")
	}
	cw, err := certwatcher.New(filepath.Join(s.opts.CertDir, "tls.crt"), filepath.Join(s.opts.CertDir, "tls.key"))
	if err != nil {
		return fmt.Errorf("failed to load the Peering API certificate from %s: %w", s.opts.CertDir, err)
	}
	go func() { _ = cw.Start(ctx) }()
	ln, err := net.Listen("tcp", s.opts.Addr)
	if err != nil {
		return fmt.Errorf("failed to listen for the Peering API on %s: %w", s.opts.Addr, err)
	}
	srv := s.httpServer()
	srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: cw.GetCertificate,
		// HTTP/2 stays off: CVE-2023-44487 (rapid reset).
		NextProtos: []string{"http/1.1"}}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	s.opts.Log.Info("serving the Peering API", "address", ln.Addr().String(), "namespace", s.opts.Namespace)
	if err := srv.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// httpServer has the timeouts a server facing the Internet needs.
func (s *Server) httpServer() *http.Server {
	return &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 15 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 60 * time.Second, MaxHeaderBytes: 32 << 10}
}

// route is one endpoint.
type route func(ctx context.Context, c *Caller, w http.ResponseWriter, r *http.Request) *apiError

// Handler serves the API under BasePath.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if e := s.serve(w, r); e != nil {
			if e.code >= 500 {
				s.opts.Log.Error(e, "Peering API request failed", "method", r.Method, "path", r.URL.Path)
			}
			writeError(w, e)
		}
	})
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) *apiError {
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	if !s.clients.allow(host) {
		return refuse(http.StatusTooManyRequests, "request", "too many requests from %s: slow down and retry in a minute", host)
	}
	h, e := s.route(r)
	if e != nil {
		return e
	}
	tok, ok := bearer(r)
	if !ok {
		return refuse(http.StatusUnauthorized, "authorization", "send a bearer token (Authorization: Bearer <token>) from the issuer this server trusts")
	}
	c, err := s.opts.Verifier.Verify(r.Context(), tok)
	switch {
	case errors.Is(err, errNotReady):
		return refuse(http.StatusServiceUnavailable, "authorization", "tokens cannot be checked right now (the issuer is unreachable); retry later")
	case err != nil:
		return refuse(http.StatusUnauthorized, "authorization", "the bearer token was refused: %v", err)
	}
	if !s.callers.allow(c.Key()) {
		return refuse(http.StatusTooManyRequests, "request", "too many requests for %s: slow down and retry in a minute", c.Subject)
	}
	return h(r.Context(), c, w, r)
}

// route picks the endpoint; unknown paths and methods are refused before
// the token is checked.
func (s *Server) route(r *http.Request) (route, *apiError) {
	p, ok := strings.CutPrefix(r.URL.Path, BasePath+"/")
	if !ok {
		return nil, refuse(http.StatusNotFound, "path", "no such endpoint %q: the Peering API is under %s/", r.URL.Path, BasePath)
	}
	id, one := strings.CutPrefix(p, "sessions/")
	switch {
	case p == "locations" && r.Method == http.MethodGet:
		return s.listLocations, nil
	case p == "sessions" && r.Method == http.MethodPost:
		return s.createSessions, nil
	case p == "sessions" && r.Method == http.MethodGet:
		return s.listSessions, nil
	case one && id != "" && !strings.Contains(id, "/") && r.Method == http.MethodGet:
		return func(ctx context.Context, c *Caller, w http.ResponseWriter, r *http.Request) *apiError {
			return s.getSession(ctx, c, w, id)
		}, nil
	case one && id != "" && !strings.Contains(id, "/") && r.Method == http.MethodDelete:
		return func(ctx context.Context, c *Caller, w http.ResponseWriter, r *http.Request) *apiError {
			return s.deleteSession(ctx, c, w, id)
		}, nil
	case p == "locations" || p == "sessions" || one:
		return nil, refuse(http.StatusMethodNotAllowed, "method", "%s is not served on %s", r.Method, r.URL.Path)
	}
	return nil, refuse(http.StatusNotFound, "path", "no such endpoint %q (locations, sessions, sessions/{session_id})", r.URL.Path)
}
