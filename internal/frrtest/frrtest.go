// Package frrtest runs a real FRR router reachable over SSH, for tests and
// for `make dev`. It needs root and Debian's frr and openssh-server.
//
// Layout, all inside network namespaces the harness creates and deletes:
//
//	root ns (the test) ── mgmt veth 198.51.100.x/30 ──┐
//	                                                   ns "router": zebra + bgpd + sshd
//	                                                   │ LAN veth 192.0.2.1/24, 2001:db8::1/64
//	                                                   ns "peers": one bgpd per StartPeer
//	                                                     192.0.2.n, 2001:db8::n
//
// FRR runs with its own config, pid and vty-socket directory, so it never
// meets a system FRR. sshd runs in the router namespace with a generated
// host key; its only user (password and key) gets vtysh as login shell,
// like a router's CLI. The user exists only in sshd's private mount
// namespace (bind-mounted passwd/shadow), not on the host.
package frrtest

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// Binaries the harness needs.
var (
	Zebra = "/usr/lib/frr/zebra"
	BGPd  = "/usr/lib/frr/bgpd"
	Vtysh = "/usr/bin/vtysh"
	SSHd  = "/usr/sbin/sshd"
)

// Fixed LAN addresses of the router.
var (
	RouterV4 = netip.MustParseAddr("192.0.2.1")
	RouterV6 = netip.MustParseAddr("2001:db8::1")
	LANv4    = netip.MustParsePrefix("192.0.2.0/24")
	LANv6    = netip.MustParsePrefix("2001:db8::/64")
)

// Options configure the router.
type Options struct {
	// LocalASN of "router bgp" (default 65000).
	LocalASN uint32
	// RouterID (default 192.0.2.1).
	RouterID netip.Addr
	// BGPConfig lines go inside "router bgp", e.g. a neighbor configured
	// by hand that the operator must leave alone.
	BGPConfig []string
	// Config lines are appended to bgpd's configuration (global level).
	Config []string
	// NoBGP starts FRR without a "router bgp" instance.
	NoBGP bool
	// RPKI loads bgpd's rpki module (Debian package frr-rpki-rtrlib), as
	// "-M rpki" in /etc/frr/daemons does.
	RPKI bool
}

// Router is a running FRR with sshd. The SSH fields are what a Router
// custom resource and its credentials Secret would hold.
type Router struct {
	Host       string
	Port       int
	User       string
	Password   string
	PrivateKey []byte // OpenSSH PEM, no passphrase
	KnownHosts []byte // one known_hosts line for Host:Port

	LocalASN uint32
	RouterID netip.Addr
	// NSRouter and NSPeers are the network namespaces.
	NSRouter, NSPeers string
	// Dir holds configs, sockets and logs.
	Dir string

	mu       sync.Mutex
	procs    map[string]*proc
	sshd     *proc
	peers    []*Peer
	mgmtLink string
	lanA     string
	vtyGID   int
	stopped  bool
}

var nsCounter atomic.Int64

// Prerequisites reports what is missing to run the harness (nil if
// nothing).
func Prerequisites() error {
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root")
	}
	for _, b := range []string{Zebra, BGPd, Vtysh, SSHd, ipBin} {
		if _, err := exec.LookPath(b); err != nil {
			missing = append(missing, b)
		}
	}
	if _, err := user.LookupGroup("frrvty"); err != nil {
		missing = append(missing, "group frrvty")
	}
	if _, err := user.Lookup("frr"); err != nil {
		missing = append(missing, "user frr")
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: %s", errMissing, strings.Join(missing, ", "))
	}
	return nil
}

// StartFRR starts a router for a test and stops it in t.Cleanup. Without
// root, FRR or sshd the test is skipped, except when CI=true, where it
// fails: CI must run it.
func StartFRR(t testing.TB, opts Options) *Router {
	t.Helper()
	RequirePrerequisites(t)
	r, err := Start(context.Background(), opts)
	if err != nil {
		t.Fatalf("frrtest: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("frrtest logs:\n%s", r.Logs())
		}
		if err := r.Stop(); err != nil {
			t.Errorf("frrtest stop: %v", err)
		}
	})
	return r
}

// RequirePrerequisites skips (or, with CI=true, fails) t when the harness
// cannot run here.
func RequirePrerequisites(t testing.TB) {
	t.Helper()
	if err := Prerequisites(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("frrtest: %v (CI=true: install frr and openssh-server, run as root)", err)
		}
		t.Skipf("frrtest: %v", err)
	}
}

// Start starts the router; the caller must call Stop. Usable without a
// testing.T (make dev).
func Start(ctx context.Context, opts Options) (r *Router, err error) {
	if err := Prerequisites(); err != nil {
		return nil, err
	}
	if opts.LocalASN == 0 {
		opts.LocalASN = 65000
	}
	if !opts.RouterID.IsValid() {
		opts.RouterID = RouterV4
	}
	n := nsCounter.Add(1)
	pid := os.Getpid()
	r = &Router{
		Port:     22,
		User:     "po-vty",
		Password: randomString(20),
		LocalASN: opts.LocalASN,
		RouterID: opts.RouterID,
		NSRouter: fmt.Sprintf("po-%d-%d-r", pid, n),
		NSPeers:  fmt.Sprintf("po-%d-%d-p", pid, n),
		procs:    map[string]*proc{},
	}
	defer func() {
		if err != nil {
			_ = r.Stop()
			r = nil
		}
	}()
	g, err := user.LookupGroup("frrvty")
	if err != nil {
		return r, err
	}
	r.vtyGID, _ = strconv.Atoi(g.Gid)

	// 0755 all the way: bgpd runs as user frr, vtysh as the SSH user.
	r.Dir, err = os.MkdirTemp("", "po-frrtest-")
	if err != nil {
		return r, err
	}
	if err := os.Chmod(r.Dir, 0o755); err != nil {
		return r, err
	}
	if err := r.mkdir("frr", true); err != nil {
		return r, err
	}
	if err := r.mkdir("ssh", false); err != nil {
		return r, err
	}
	if err := r.mkdir("peers", true); err != nil {
		return r, err
	}
	if err := r.network(pid, n); err != nil {
		return r, err
	}
	if err := r.startFRR(ctx, opts); err != nil {
		return r, err
	}
	if err := r.setupSSH(); err != nil {
		return r, err
	}
	if err := r.StartSSH(); err != nil {
		return r, err
	}
	return r, nil
}

func (r *Router) mkdir(name string, frrOwned bool) error {
	p := filepath.Join(r.Dir, name)
	if err := os.Mkdir(p, 0o755); err != nil {
		return err
	}
	if frrOwned {
		return chownFRR(p)
	}
	return nil
}

func chownFRR(p string) error {
	u, err := user.Lookup("frr")
	if err != nil {
		return err
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return os.Chown(p, uid, gid)
}

func writeFile(p, content string, mode os.FileMode, frrOwned bool) error {
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		return err
	}
	if err := os.Chmod(p, mode); err != nil {
		return err
	}
	if frrOwned {
		return chownFRR(p)
	}
	return nil
}

// network creates both namespaces, the LAN between them and the
// management link from the root namespace. Nothing gets a default route
// and forwarding is off everywhere, so no packet can leave.
func (r *Router) network(pid int, n int64) error {
	for _, ns := range []string{r.NSRouter, r.NSPeers} {
		if err := ip("netns", "add", ns); err != nil {
			return err
		}
		if err := ip("-n", ns, "link", "set", "lo", "up"); err != nil {
			return err
		}
		for _, k := range []string{"net.ipv4.ip_forward=0", "net.ipv6.conf.all.forwarding=0"} {
			if _, err := run(ipBin, "netns", "exec", ns, "sysctl", "-qw", k); err != nil {
				return err
			}
		}
	}
	tag := fmt.Sprintf("%d%d", pid%100000, n%100)
	r.lanA = "pol" + tag
	lanB := "poq" + tag
	if err := ip("link", "add", r.lanA, "type", "veth", "peer", "name", lanB); err != nil {
		return err
	}
	steps := [][]string{
		{"link", "set", r.lanA, "netns", r.NSRouter},
		{"link", "set", lanB, "netns", r.NSPeers},
		{"-n", r.NSRouter, "link", "set", r.lanA, "name", "lan0"},
		{"-n", r.NSPeers, "link", "set", lanB, "name", "lan0"},
		{"-n", r.NSRouter, "addr", "add", RouterV4.String() + "/24", "dev", "lan0"},
		{"-n", r.NSRouter, "addr", "add", RouterV6.String() + "/64", "dev", "lan0", "nodad"},
		{"-n", r.NSRouter, "link", "set", "lan0", "up"},
		{"-n", r.NSPeers, "link", "set", "lan0", "up"},
	}
	for _, s := range steps {
		if err := ip(s...); err != nil {
			return err
		}
	}
	r.lanA = ""
	return r.mgmt()
}

// mgmt links the root namespace to the router namespace on a free /30 of
// 198.51.100.0/24 (TEST-NET-2); the choice is serialised across processes
// with a lock file, and a /30 is free when its root-side link is absent.
func (r *Router) mgmt() error {
	release, err := lockFile()
	if err != nil {
		return err
	}
	defer release()
	for slot := range 64 {
		link := fmt.Sprintf("pomgmt%d", slot)
		if _, err := net.InterfaceByName(link); err == nil {
			continue
		}
		local := netip.AddrFrom4([4]byte{198, 51, 100, byte(4*slot + 1)})
		remote := local.Next()
		if inUse(local) || inUse(remote) {
			continue
		}
		peer := fmt.Sprintf("pomgmx%d", slot)
		if err := ip("link", "add", link, "type", "veth", "peer", "name", peer); err != nil {
			return err
		}
		r.mgmtLink = link
		steps := [][]string{
			{"link", "set", peer, "netns", r.NSRouter},
			{"-n", r.NSRouter, "link", "set", peer, "name", "mgmt0"},
			{"addr", "add", local.String() + "/30", "dev", link},
			{"-n", r.NSRouter, "addr", "add", remote.String() + "/30", "dev", "mgmt0"},
			{"link", "set", link, "up"},
			{"-n", r.NSRouter, "link", "set", "mgmt0", "up"},
		}
		for _, s := range steps {
			if err := ip(s...); err != nil {
				return err
			}
		}
		r.Host = remote.String()
		return nil
	}
	return errors.New("no free management /30 in 198.51.100.0/24")
}

func inUse(a netip.Addr) bool {
	addrs, _ := net.InterfaceAddrs()
	for _, x := range addrs {
		if p, err := netip.ParsePrefix(x.String()); err == nil && p.Addr() == a {
			return true
		}
	}
	return false
}

func (r *Router) frrDir() string { return filepath.Join(r.Dir, "frr") }

func (r *Router) startFRR(ctx context.Context, o Options) error {
	d := r.frrDir()
	if err := writeFile(filepath.Join(d, "zebra.conf"), "hostname r1\n", 0o644, true); err != nil {
		return err
	}
	var b strings.Builder
	b.WriteString("hostname r1\n")
	if !o.NoBGP {
		fmt.Fprintf(&b, "router bgp %d\n bgp router-id %s\n", o.LocalASN, o.RouterID)
		for _, l := range o.BGPConfig {
			fmt.Fprintf(&b, " %s\n", l)
		}
		b.WriteString("exit\n")
	}
	for _, l := range o.Config {
		fmt.Fprintf(&b, "%s\n", l)
	}
	if err := writeFile(filepath.Join(d, "bgpd.conf"), b.String(), 0o644, true); err != nil {
		return err
	}
	// vtysh reads vtysh.conf from --config_dir; the system one is not
	// readable by our SSH user.
	if err := writeFile(filepath.Join(d, "vtysh.conf"), "", 0o644, true); err != nil {
		return err
	}
	common := []string{"--vty_socket", d, "-z", filepath.Join(d, "zserv.api"), "-P", "0", "--log", "stdout"}
	z, err := startIn(r.NSRouter, "zebra", filepath.Join(r.Dir, "zebra.log"),
		append([]string{Zebra, "-f", filepath.Join(d, "zebra.conf"), "-i", filepath.Join(d, "zebra.pid")}, common...)...)
	if err != nil {
		return err
	}
	r.procs["zebra"] = z
	if err := waitFor(10*time.Second, "zebra vty socket", sockReady(z, filepath.Join(d, "zebra.vty"))); err != nil {
		return err
	}
	bgpArgs := []string{BGPd, "-f", filepath.Join(d, "bgpd.conf"), "-i", filepath.Join(d, "bgpd.pid")}
	if o.RPKI {
		if m, _ := filepath.Glob("/usr/lib/*/frr/modules/bgpd_rpki.so"); len(m) == 0 {
			return errors.New("bgpd's rpki module is not installed (apt-get install frr-rpki-rtrlib)")
		}
		bgpArgs = append(bgpArgs, "-M", "rpki")
	}
	bg, err := startIn(r.NSRouter, "bgpd", filepath.Join(r.Dir, "bgpd.log"), append(bgpArgs, common...)...)
	if err != nil {
		return err
	}
	r.procs["bgpd"] = bg
	if err := waitFor(10*time.Second, "bgpd vty socket", sockReady(bg, filepath.Join(d, "bgpd.vty"))); err != nil {
		return err
	}
	return waitFor(10*time.Second, "vtysh", func() error {
		_, err := r.Vtysh("show version")
		return err
	})
}

// MgmtRoot is the root namespace's end of the management link: a
// service a test runs there (an RTR cache) is reachable from the router.
func (r *Router) MgmtRoot() netip.Addr {
	return netip.MustParseAddr(r.Host).Prev()
}

func sockReady(p *proc, path string) func() error {
	return func() error {
		if p.exited() {
			return fmt.Errorf("%s exited: %v", p.name, p.err)
		}
		_, err := os.Stat(path)
		return err
	}
}

// Vtysh runs commands on the router itself, outside SSH: the assertions'
// view of "what is really configured".
func (r *Router) Vtysh(cmds ...string) (string, error) {
	return vtyshIn(r.NSRouter, r.frrDir(), cmds...)
}

func vtyshIn(ns, dir string, cmds ...string) (string, error) {
	args := []string{"netns", "exec", ns, Vtysh, "--vty_socket", dir, "--config_dir", dir}
	for _, c := range cmds {
		args = append(args, "-c", c)
	}
	out, err := exec.Command(ipBin, args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("vtysh %q: %v: %s", cmds, err, out)
	}
	return string(out), nil
}

func (r *Router) sshDir() string { return filepath.Join(r.Dir, "ssh") }

// setupSSH writes the host key, the user's key, and the passwd/shadow
// files sshd will see.
func (r *Router) setupSSH() error {
	d := r.sshDir()
	_, hostPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	hb, err := ssh.MarshalPrivateKey(hostPriv, "")
	if err != nil {
		return err
	}
	if err := writeFile(filepath.Join(d, "host_key"), string(pem.EncodeToMemory(hb)), 0o600, false); err != nil {
		return err
	}
	hostSigner, err := ssh.NewSignerFromKey(hostPriv)
	if err != nil {
		return err
	}
	r.KnownHosts = []byte(knownhosts.Line([]string{knownhosts.Normalize(net.JoinHostPort(r.Host, strconv.Itoa(r.Port)))}, hostSigner.PublicKey()) + "\n")

	_, userPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	ub, err := ssh.MarshalPrivateKey(userPriv, "")
	if err != nil {
		return err
	}
	r.PrivateKey = pem.EncodeToMemory(ub)
	userSigner, err := ssh.NewSignerFromKey(userPriv)
	if err != nil {
		return err
	}
	if err := writeFile(filepath.Join(d, "authorized_keys"), string(ssh.MarshalAuthorizedKey(userSigner.PublicKey())), 0o644, false); err != nil {
		return err
	}

	passwd, err := os.ReadFile("/etc/passwd")
	if err != nil {
		return err
	}
	home := filepath.Join(d, "home")
	if err := os.Mkdir(home, 0o755); err != nil {
		return err
	}
	uid := 64999
	if err := os.Chown(home, uid, r.vtyGID); err != nil {
		return err
	}
	entry := fmt.Sprintf("%s:x:%d:%d:peering-operator test:%s:/bin/sh\n", r.User, uid, r.vtyGID, home)
	if err := writeFile(filepath.Join(d, "passwd"), string(passwd)+entry, 0o644, false); err != nil {
		return err
	}
	shadow := fmt.Sprintf("%s:%s:19000:0:99999:7:::\n", r.User, sha512Crypt(r.Password, randomString(16)))
	if err := writeFile(filepath.Join(d, "shadow"), shadow, 0o600, false); err != nil {
		return err
	}
	cfg := strings.Join([]string{
		"ListenAddress " + net.JoinHostPort(r.Host, strconv.Itoa(r.Port)),
		"HostKey " + filepath.Join(d, "host_key"),
		"PidFile none",
		"UsePAM no",
		// The temp dir lives under the world-writable /tmp.
		"StrictModes no",
		"PermitRootLogin no",
		"AllowUsers " + r.User,
		"PasswordAuthentication yes",
		"KbdInteractiveAuthentication no",
		"PubkeyAuthentication yes",
		"AuthorizedKeysFile " + filepath.Join(d, "authorized_keys"),
		"X11Forwarding no",
		"AllowTcpForwarding no",
		"AllowAgentForwarding no",
		"PermitTunnel no",
		"PrintMotd no",
		"PrintLastLog no",
		"UseDNS no",
		"LogLevel VERBOSE",
		"MaxStartups 100",
		"ForceCommand " + Vtysh + " --vty_socket " + r.frrDir() + " --config_dir " + r.frrDir(),
	}, "\n") + "\n"
	return writeFile(filepath.Join(d, "sshd_config"), cfg, 0o600, false)
}

// StartSSH starts sshd (again, after KillSSH) and waits until it accepts
// connections.
func (r *Router) StartSSH() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.sshd != nil && !r.sshd.exited() {
		return nil
	}
	// sshd insists on its privilege separation directory; Debian creates
	// it at boot (systemd RuntimeDirectory), containers may not have it.
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		return err
	}
	d := r.sshDir()
	script := fmt.Sprintf("mount --bind %s /etc/passwd && mount --bind %s /etc/shadow && exec %s -D -e -f %s",
		filepath.Join(d, "passwd"), filepath.Join(d, "shadow"), SSHd, filepath.Join(d, "sshd_config"))
	p, err := startIn(r.NSRouter, "sshd", filepath.Join(r.Dir, "sshd.log"), "/bin/sh", "-c", script)
	if err != nil {
		return err
	}
	r.sshd = p
	addr := net.JoinHostPort(r.Host, strconv.Itoa(r.Port))
	return waitFor(10*time.Second, "sshd", func() error {
		if p.exited() {
			return fmt.Errorf("sshd exited: %v", p.err)
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return err
		}
		return c.Close()
	})
}

// KillSSH kills sshd and every session it forked (SIGKILL, by pid): the
// router's SSH dies in the middle of whatever it was doing. BGP keeps
// running. StartSSH brings SSH back.
func (r *Router) KillSSH() {
	r.mu.Lock()
	p := r.sshd
	r.mu.Unlock()
	if p == nil || p.exited() {
		return
	}
	pid := p.cmd.Process.Pid
	// Stop the listener so it forks nothing more, list its descendants
	// while they are still its descendants (killed parents hand their
	// children to init), then kill them all.
	_ = p.cmd.Process.Signal(syscall.SIGSTOP)
	for _, c := range descendants(pid) {
		_ = killPid(c)
	}
	_ = p.cmd.Process.Kill()
	<-p.done
}

// SSHSessions counts live SSH sessions (sshd children).
func (r *Router) SSHSessions() int {
	r.mu.Lock()
	p := r.sshd
	r.mu.Unlock()
	if p == nil || p.exited() {
		return 0
	}
	return len(descendants(p.cmd.Process.Pid))
}

// Logs returns the daemons' logs, for a failed test.
func (r *Router) Logs() string {
	var b strings.Builder
	files, _ := filepath.Glob(filepath.Join(r.Dir, "*.log"))
	peerLogs, _ := filepath.Glob(filepath.Join(r.Dir, "peers", "*", "bgpd.log"))
	for _, f := range append(files, peerLogs...) {
		data, _ := os.ReadFile(f)
		if len(data) > 8000 {
			data = data[len(data)-8000:]
		}
		fmt.Fprintf(&b, "==> %s <==\n%s\n", f, data)
	}
	return b.String()
}

// Stop stops every process (by pid) and deletes the namespaces and files.
func (r *Router) Stop() error {
	r.mu.Lock()
	if r.stopped {
		r.mu.Unlock()
		return nil
	}
	r.stopped = true
	peers := r.peers
	r.mu.Unlock()
	for _, p := range peers {
		p.Stop()
	}
	r.KillSSH()
	for _, name := range []string{"bgpd", "zebra"} {
		r.procs[name].stop(5 * time.Second)
	}
	var errs []error
	for _, ns := range []string{r.NSRouter, r.NSPeers} {
		if ns == "" {
			continue
		}
		if _, err := os.Stat(filepath.Join("/run/netns", ns)); err == nil {
			if err := ip("netns", "del", ns); err != nil {
				errs = append(errs, err)
			}
		}
	}
	// Deleting the namespace deletes the veth pair; a failed start may
	// have left a root-side end behind.
	for _, l := range []string{r.mgmtLink, r.lanA} {
		if l == "" {
			continue
		}
		if _, err := net.InterfaceByName(l); err == nil {
			_ = ip("link", "del", l)
		}
	}
	if r.Dir != "" {
		if err := os.RemoveAll(r.Dir); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Blackhole adds kernel blackhole routes in the router's namespace: zebra
// learns them, so "network P" in bgpd passes its import check and the
// router originates P (no staticd runs here).
func (r *Router) Blackhole(prefixes ...netip.Prefix) error {
	for _, p := range prefixes {
		args := []string{"-n", r.NSRouter, "route", "add", "blackhole", p.Masked().String()}
		if p.Addr().Is6() {
			args = append([]string{"-6"}, args...)
		}
		if err := ip(args...); err != nil {
			return err
		}
	}
	return nil
}

// VtyshFile loads a configuration file on the router with "vtysh -f", as
// an operator with shell access would: the baseline for the driver's
// benchmark.
func (r *Router) VtyshFile(path string) (string, error) {
	out, err := exec.Command(ipBin, "netns", "exec", r.NSRouter, Vtysh, "--vty_socket", r.frrDir(), "--config_dir", r.frrDir(), "-f", path).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("vtysh -f %s: %v: %s", path, err, out)
	}
	return string(out), nil
}
