package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/scrapli/scrapligo/transport"
	"golang.org/x/crypto/ssh"
)

// sshTransport is a scrapligo transport on golang.org/x/crypto/ssh. We use
// our own instead of scrapligo's "standard" one because that one only reads
// known_hosts from a file path, ignores the passphrase of an in-memory key and
// cannot be cancelled while dialing; the operator has the known_hosts blob
// from a Secret and must verify host keys strictly.
type sshTransport struct {
	cfg  *Config
	ctx  context.Context
	mu   sync.Mutex
	cl   *ssh.Client
	sess *ssh.Session
	w    io.WriteCloser
	r    io.Reader
}

var _ transport.Implementation = (*sshTransport)(nil)

// hostKeyCallback builds the verifier from the known_hosts blob, in memory:
// the manager's root filesystem is read-only.
func hostKeyCallback(c *Config) (ssh.HostKeyCallback, []string, error) {
	if c.InsecureIgnoreHostKey {
		c.Log.Info("WARNING: SSH host key verification is DISABLED for this router; anyone on the path can impersonate it and read its credentials",
			"host", c.Host, "port", c.Port)
		return ssh.InsecureIgnoreHostKey(), nil, nil //nolint:gosec // explicit, logged opt-out
	}
	addr := c.addr()
	if len(strings.TrimSpace(string(c.KnownHosts))) == 0 {
		return nil, nil, fmt.Errorf("%w: no known_hosts given for %s (host key verification is required)", ErrHostKey, addr)
	}
	kh, err := parseKnownHosts(c.KnownHosts)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: parse known_hosts: %v", ErrHostKey, err)
	}
	// The address we dialed is checked, not the name the handshake
	// passes: they are the same today, and this cannot drift.
	cb := func(_ string, _ net.Addr, key ssh.PublicKey) error {
		if err := kh.check(addr, key); err != nil {
			// The fingerprint lets the NOC compare with the router's console.
			return fmt.Errorf("%w: %s offered %s %s: %v", ErrHostKey, addr, key.Type(), ssh.FingerprintSHA256(key), err)
		}
		return nil
	}
	return cb, kh.algorithms(addr), nil
}

func authMethods(c *Config) ([]ssh.AuthMethod, error) {
	var m []ssh.AuthMethod
	if len(c.PrivateKey) > 0 {
		var signer ssh.Signer
		var err error
		if p := c.PrivateKeyPassphrase.Reveal(); p != "" {
			signer, err = ssh.ParsePrivateKeyWithPassphrase(c.PrivateKey, []byte(p))
		} else {
			signer, err = ssh.ParsePrivateKey(c.PrivateKey)
		}
		if err != nil {
			// x/crypto's errors never quote key material.
			return nil, fmt.Errorf("parse SSH private key: %v", err)
		}
		m = append(m, ssh.PublicKeys(signer))
	}
	if p := c.Password.Reveal(); p != "" {
		m = append(m, ssh.Password(p), ssh.KeyboardInteractive(
			func(_, _ string, q []string, _ []bool) ([]string, error) {
				a := make([]string, len(q))
				for i := range a {
					a[i] = p
				}
				return a, nil
			}))
	}
	if len(m) == 0 {
		return nil, errors.New("no SSH credentials: give a password or a private key")
	}
	return m, nil
}

// Open dials, verifies the host key, authenticates and starts a shell on a
// pty (the vendor CLIs are interactive).
func (t *sshTransport) Open(a *transport.Args) error {
	c := t.cfg
	hk, algos, err := hostKeyCallback(c)
	if err != nil {
		return err
	}
	auth, err := authMethods(c)
	if err != nil {
		return err
	}
	addr := c.addr()
	cc := &ssh.ClientConfig{
		User:              c.Username,
		Auth:              auth,
		HostKeyCallback:   hk,
		HostKeyAlgorithms: algos,
		Timeout:           c.DialTimeout,
	}
	ctx, cancel := context.WithTimeout(t.ctx, c.DialTimeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("dial %s: %w", addr, err)
	}
	// The handshake has no context: bound it with a deadline on the socket.
	_ = conn.SetDeadline(time.Now().Add(c.DialTimeout))
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	sc, chans, reqs, err := ssh.NewClientConn(conn, addr, cc)
	stop()
	if err != nil {
		_ = conn.Close()
		return fmt.Errorf("ssh %s: %w", addr, err)
	}
	_ = conn.SetDeadline(time.Time{})
	cl := ssh.NewClient(sc, chans, reqs)
	sess, err := cl.NewSession()
	if err != nil {
		_ = cl.Close()
		return fmt.Errorf("ssh %s: new session: %w", addr, err)
	}
	w, err := sess.StdinPipe()
	if err == nil {
		t.r, err = sess.StdoutPipe()
	}
	if err == nil {
		err = sess.RequestPty("xterm", a.TermHeight, a.TermWidth, ssh.TerminalModes{
			ssh.ECHO: 1, ssh.TTY_OP_ISPEED: 115200, ssh.TTY_OP_OSPEED: 115200,
		})
	}
	if err == nil {
		err = sess.Shell()
	}
	if err != nil {
		_ = sess.Close()
		_ = cl.Close()
		return fmt.Errorf("ssh %s: start shell: %w", addr, err)
	}
	t.mu.Lock()
	t.cl, t.sess, t.w = cl, sess, w
	t.mu.Unlock()
	go t.keepalive(cl, c.DialTimeout)
	return nil
}

// keepalive notices a dead peer (router rebooted, link cut) that would
// otherwise leave a read blocked until the operation timeout.
func (t *sshTransport) keepalive(cl *ssh.Client, every time.Duration) {
	tk := time.NewTicker(every)
	defer tk.Stop()
	for range tk.C {
		done := make(chan error, 1)
		go func() { _, _, err := cl.SendRequest("keepalive@openssh.com", true, nil); done <- err }()
		select {
		case err := <-done:
			if err != nil {
				return // closed
			}
		case <-time.After(every):
			_ = cl.Close()
			return
		}
	}
}

// Close ends the session and the connection.
func (t *sshTransport) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.sess != nil {
		_ = t.sess.Close()
		t.sess = nil
	}
	if t.cl != nil {
		err := t.cl.Close()
		t.cl = nil
		if err != nil && !errors.Is(err, net.ErrClosed) {
			return err
		}
	}
	return nil
}

// IsAlive reports whether the session is open.
func (t *sshTransport) IsAlive() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.sess != nil
}

// Read blocks until output arrives; io.EOF when the connection is gone.
func (t *sshTransport) Read(n int) ([]byte, error) {
	b := make([]byte, n)
	n, err := t.r.Read(b)
	if err != nil {
		// The peer is gone: report it through IsAlive too.
		t.mu.Lock()
		t.sess = nil
		t.mu.Unlock()
		return nil, err
	}
	return b[:n], nil
}

// Write sends bytes to the shell.
func (t *sshTransport) Write(b []byte) error {
	_, err := t.w.Write(b)
	return err
}

func (c *Config) addr() string {
	return net.JoinHostPort(c.Host, strconv.Itoa(c.Port))
}
