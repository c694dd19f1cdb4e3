package bgptest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// Config describes one gobgpd instance.
type Config struct {
	// Name labels the instance in errors and log file names (default "gobgpd").
	Name string
	// ASN is the instance's global AS (required).
	ASN uint32
	// RouterID defaults to ListenAddr when that is IPv4.
	RouterID netip.Addr
	// ListenAddr is the only address BGP and gRPC listen on
	// (default 127.0.0.1); use 127.0.0.x for several instances.
	ListenAddr netip.Addr
	// BGPPort and GRPCPort default to free ports on ListenAddr.
	BGPPort, GRPCPort int
	// Dir holds the config and log files. Start creates (and Stop removes)
	// a temporary directory when empty; StartGoBGPD uses t.TempDir().
	Dir string
	// LogLevel is gobgpd's log level (default "info").
	LogLevel string
	// StartTimeout bounds the wait for the gRPC API (default 30s).
	StartTimeout time.Duration
	// Netns runs gobgpd in this network namespace (ip netns exec), e.g.
	// internal/frrtest's LAN. Its gRPC API is then a unix socket in Dir,
	// the way in from outside the namespace, and BGPPort defaults to 179.
	Netns string
}

// Speaker is a running gobgpd process.
type Speaker struct {
	// Config is the resolved configuration (ports and router ID filled in).
	Config Config
	// API is a gRPC client on the instance's API.
	API  api.GobgpApiClient
	conn *grpc.ClientConn

	cmd      *exec.Cmd
	exited   chan struct{}
	waitErr  error
	logPath  string
	ownedDir bool
	stopOnce sync.Once
	stopErr  error

	pathState
}

// GRPCAddr is the "host:port" of the gRPC API.
func (s *Speaker) GRPCAddr() string {
	if s.Config.Netns != "" {
		return "unix://" + filepath.Join(s.Config.Dir, s.Config.Name+".api.sock")
	}
	return netip.AddrPortFrom(s.Config.ListenAddr, uint16(s.Config.GRPCPort)).String()
}

// BGPAddr is the address and port BGP listens on.
func (s *Speaker) BGPAddr() netip.AddrPort {
	return netip.AddrPortFrom(s.Config.ListenAddr, uint16(s.Config.BGPPort))
}

// PID of the gobgpd process.
func (s *Speaker) PID() int { return s.cmd.Process.Pid }

// LogPath is the file gobgpd logs to.
func (s *Speaker) LogPath() string { return s.logPath }

// Log returns the last n bytes of gobgpd's log (for failure messages).
func (s *Speaker) Log(n int) string {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return err.Error()
	}
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// StartGoBGPD starts gobgpd for a test and stops it in t.Cleanup; it fails
// the test when gobgpd cannot start.
func StartGoBGPD(t testing.TB, cfg Config) *Speaker {
	t.Helper()
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute) // includes a first build
	defer cancel()
	s, err := Start(ctx, cfg)
	if err != nil {
		t.Fatalf("start gobgpd: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("stop gobgpd %s (pid %d): %v", s.Config.Name, s.PID(), err)
		}
	})
	return s
}

// Start builds gobgpd if needed, writes its TOML config, starts it and
// waits until its gRPC API answers with the configured AS. The process
// outlives ctx (ctx only bounds the start); call Stop to end it.
func Start(ctx context.Context, cfg Config) (*Speaker, error) {
	if cfg.ASN == 0 {
		return nil, errors.New("bgptest: Config.ASN is required")
	}
	if cfg.Name == "" {
		cfg.Name = "gobgpd"
	}
	if !cfg.ListenAddr.IsValid() {
		cfg.ListenAddr = netip.MustParseAddr("127.0.0.1")
	}
	if !cfg.RouterID.IsValid() {
		if !cfg.ListenAddr.Is4() {
			return nil, errors.New("bgptest: Config.RouterID is required with an IPv6 ListenAddr")
		}
		cfg.RouterID = cfg.ListenAddr
	}
	if cfg.LogLevel == "" {
		cfg.LogLevel = "info"
	}
	if cfg.StartTimeout == 0 {
		cfg.StartTimeout = 30 * time.Second
	}
	bin, err := GoBGPD(ctx)
	if err != nil {
		return nil, err
	}
	owned := false
	if cfg.Dir == "" {
		if cfg.Dir, err = os.MkdirTemp("", "bgptest-"+cfg.Name+"-"); err != nil {
			return nil, err
		}
		owned = true
	}
	// Free ports are picked by binding and closing, so another process can
	// take one in between: retry with fresh ports when gobgpd dies at start.
	if cfg.Netns != "" && cfg.BGPPort == 0 {
		// Free ports cannot be probed from outside the namespace; it is
		// the test's own, so BGP's port is free there.
		cfg.BGPPort, cfg.GRPCPort = 179, -1
	}
	autoPorts := cfg.BGPPort == 0 || cfg.GRPCPort == 0
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		c := cfg
		if c.BGPPort == 0 {
			if c.BGPPort, err = FreePort(c.ListenAddr); err != nil {
				return nil, err
			}
		}
		if c.GRPCPort == 0 {
			if c.GRPCPort, err = FreePort(c.ListenAddr); err != nil {
				return nil, err
			}
		}
		s, err := start(ctx, bin, c, attempt)
		if err == nil {
			s.ownedDir = owned
			return s, nil
		}
		lastErr = err
		if !autoPorts || !errors.Is(err, errExited) {
			break
		}
	}
	if owned {
		os.RemoveAll(cfg.Dir)
	}
	return nil, lastErr
}

func start(ctx context.Context, bin string, cfg Config, attempt int) (*Speaker, error) {
	confPath := filepath.Join(cfg.Dir, cfg.Name+".toml")
	if err := os.WriteFile(confPath, []byte(renderTOML(cfg)), 0o644); err != nil {
		return nil, err
	}
	logPath := filepath.Join(cfg.Dir, fmt.Sprintf("%s.%d.log", cfg.Name, attempt))
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close() // the child keeps its own descriptor
	s := &Speaker{Config: cfg, logPath: logPath, exited: make(chan struct{})}
	args := []string{bin,
		"-f", confPath, "-t", "toml",
		"--api-hosts=" + s.GRPCAddr(),
		"--pprof-disable", // its default localhost:6060 would collide between instances
		"-l", cfg.LogLevel, "-p"}
	if cfg.Netns != "" {
		// ip netns exec execs gobgpd itself: the pid stays gobgpd's.
		args = append([]string{"ip", "netns", "exec", cfg.Netns}, args...)
	}
	s.cmd = exec.Command(args[0], args[1:]...)
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	s.cmd.SysProcAttr = sysProcAttr()
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() { s.waitErr = s.cmd.Wait(); close(s.exited) }()

	// A gRPC client that meets a refused connection backs off for a second
	// or more; wait for the port with plain dials first.
	if err := s.waitPort(ctx); err != nil {
		s.kill()
		return nil, fmt.Errorf("%s: %w\n%s", cfg.Name, err, s.Log(2000))
	}
	conn, err := grpc.NewClient(s.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		s.kill()
		return nil, err
	}
	s.conn, s.API = conn, api.NewGobgpApiClient(conn)
	if err := s.waitReady(ctx); err != nil {
		s.kill()
		return nil, fmt.Errorf("%s: %w\n%s", cfg.Name, err, s.Log(2000))
	}
	return s, nil
}

// waitPort polls until the gRPC port accepts connections.
func (s *Speaker) waitPort(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.Config.StartTimeout)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		network, addr := "tcp", s.GRPCAddr()
		if p, ok := strings.CutPrefix(addr, "unix://"); ok {
			network, addr = "unix", p
		}
		c, err := net.DialTimeout(network, addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-s.exited:
			return fmt.Errorf("%w: %v", errExited, s.waitErr)
		case <-ctx.Done():
			return fmt.Errorf("gRPC port %s not open: %v (%v)", s.GRPCAddr(), ctx.Err(), err)
		case <-tick.C:
		}
	}
}

// waitReady polls GetBgp until the config file has been applied (the AS is
// set), the process exits, or the deadline passes.
func (s *Speaker) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.Config.StartTimeout)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		cctx, ccancel := context.WithTimeout(ctx, time.Second)
		r, err := s.API.GetBgp(cctx, &api.GetBgpRequest{}, grpc.WaitForReady(true))
		ccancel()
		if err == nil && r.Global.GetAsn() == s.Config.ASN {
			return nil
		}
		select {
		case <-s.exited:
			return fmt.Errorf("%w: %v", errExited, s.waitErr)
		case <-ctx.Done():
			return fmt.Errorf("gRPC API at %s not ready: %v (last error: %v)", s.GRPCAddr(), ctx.Err(), err)
		case <-tick.C:
		}
	}
}

func renderTOML(c Config) string {
	var b strings.Builder
	fmt.Fprintf(&b, "[global.config]\n")
	fmt.Fprintf(&b, "  as = %d\n", c.ASN)
	fmt.Fprintf(&b, "  router-id = %q\n", c.RouterID.String())
	fmt.Fprintf(&b, "  port = %d\n", c.BGPPort)
	// Bind BGP to this instance's address only, so several instances can
	// share a port on 127.0.0.x.
	fmt.Fprintf(&b, "  local-address-list = [%q]\n", c.ListenAddr.String())
	return b.String()
}

// Stop ends gobgpd (SIGTERM, then SIGKILL after 10 s) and waits for it.
// It is safe to call more than once.
func (s *Speaker) Stop() error {
	s.stopOnce.Do(func() {
		if s.conn != nil {
			s.conn.Close()
		}
		s.stopErr = s.terminate(10 * time.Second)
		if s.ownedDir {
			os.RemoveAll(s.Config.Dir)
		}
	})
	return s.stopErr
}

func (s *Speaker) terminate(grace time.Duration) error {
	select {
	case <-s.exited:
		return nil
	default:
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-s.exited:
		return nil
	case <-t.C:
		s.kill()
		return fmt.Errorf("did not stop within %s after SIGTERM; killed", grace)
	}
}

// Kill ends gobgpd at once (SIGKILL), as a crash would.
func (s *Speaker) Kill() {
	s.kill()
}

func (s *Speaker) kill() {
	select {
	case <-s.exited:
		return
	default:
	}
	s.cmd.Process.Kill() //nolint:errcheck
	<-s.exited
}

// Exited is closed when the process has ended.
func (s *Speaker) Exited() <-chan struct{} { return s.exited }

// FreePort returns a TCP port that is free on every given address at the
// time of the call (so peers on 127.0.0.2, 127.0.0.3, … can share it).
func FreePort(addrs ...netip.Addr) (int, error) {
	if len(addrs) == 0 {
		addrs = []netip.Addr{netip.MustParseAddr("127.0.0.1")}
	}
	for try := 0; try < 20; try++ {
		l, err := net.Listen("tcp", netip.AddrPortFrom(addrs[0], 0).String())
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		ok := true
		var others []net.Listener
		for _, a := range addrs[1:] {
			o, err := net.Listen("tcp", net.JoinHostPort(a.String(), strconv.Itoa(port)))
			if err != nil {
				ok = false
				break
			}
			others = append(others, o)
		}
		for _, o := range others {
			o.Close()
		}
		l.Close()
		if ok {
			return port, nil
		}
	}
	return 0, fmt.Errorf("no TCP port free on all of %v", addrs)
}
