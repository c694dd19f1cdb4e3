package cli

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	"github.com/scrapli/scrapligo/transport"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/peering-operator/peering-operator/internal/router"
)

// testPlatform is a minimal CLI: "r1#" and "r1(config)#".
var testPlatform = Platform{Definition: []byte(`
platform-type: test
default:
  driver-type: network
  privilege-levels:
    exec:
      name: exec
      pattern: '(?im)^[\w.\-]{1,63}#\s?$'
    configuration:
      name: configuration
      pattern: '(?im)^[\w.\-]{1,63}\(config[\w.\-]{0,40}\)#\s?$'
      previous-priv: exec
      deescalate: end
      escalate: configure terminal
  default-desired-privilege-level: exec
  failed-when-contains: ['% Unknown command']
  network-on-open:
    - operation: acquire-priv
    - operation: driver.send-command
      command: terminal length 0
`), StrictConfig: true}

// fakeRouter is an in-process SSH server with a tiny CLI: it echoes what
// it gets, answers "% Unknown command" to lines starting with "bad", "!
// warning" to lines starting with "warn", and a prompt to anything else.
type fakeRouter struct {
	addr     string
	host     ssh.Signer
	password string
	userKey  ssh.PublicKey
	mu       sync.Mutex
	lines    []string
}

func startFake(t *testing.T) *fakeRouter {
	t.Helper()
	_, hk, _ := ed25519.GenerateKey(rand.Reader)
	hs, _ := ssh.NewSignerFromKey(hk)
	f := &fakeRouter{host: hs, password: "login-pw"}
	cfg := &ssh.ServerConfig{
		PasswordCallback: func(_ ssh.ConnMetadata, p []byte) (*ssh.Permissions, error) {
			if string(p) == f.password {
				return nil, nil
			}
			return nil, errors.New("denied")
		},
		PublicKeyCallback: func(_ ssh.ConnMetadata, k ssh.PublicKey) (*ssh.Permissions, error) {
			if f.userKey != nil && bytes.Equal(k.Marshal(), f.userKey.Marshal()) {
				return nil, nil
			}
			return nil, errors.New("denied")
		},
	}
	cfg.AddHostKey(hs)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	f.addr = ln.Addr().String()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go f.serve(c, cfg)
		}
	}()
	return f
}

func (f *fakeRouter) serve(c net.Conn, cfg *ssh.ServerConfig) {
	defer c.Close()
	_, chans, reqs, err := ssh.NewServerConn(c, cfg)
	if err != nil {
		return
	}
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		ch, creqs, err := nc.Accept()
		if err != nil {
			return
		}
		go func() {
			for r := range creqs {
				_ = r.Reply(r.Type == "pty-req" || r.Type == "shell", nil)
			}
		}()
		go f.shell(ch)
	}
}

func (f *fakeRouter) shell(ch ssh.Channel) {
	defer ch.Close()
	prompt := "r1#"
	fmt.Fprintf(ch, "Hello\r\n%s", prompt)
	var line []byte
	buf := make([]byte, 1)
	for {
		if _, err := ch.Read(buf); err != nil {
			return
		}
		if buf[0] != '\n' {
			line = append(line, buf[0])
			_, _ = ch.Write(buf)
			continue
		}
		l := string(line)
		line = nil
		f.mu.Lock()
		f.lines = append(f.lines, l)
		f.mu.Unlock()
		out := ""
		switch {
		case strings.HasPrefix(l, "bad"):
			out = "% Unknown command: " + l + "\r\n"
		case strings.HasPrefix(l, "warn"):
			out = "! warning about " + l + "\r\n"
		case l == "configure terminal":
			prompt = "r1(config)#"
		case l == "end":
			prompt = "r1#"
		case l == "exit":
			return
		}
		fmt.Fprintf(ch, "\r\n%s%s", out, prompt)
	}
}

func (f *fakeRouter) knownHosts() []byte {
	return []byte(knownhosts.Line([]string{knownhosts.Normalize(f.addr)}, f.host.PublicKey()) + "\n")
}

func (f *fakeRouter) config() Config {
	h, p, _ := net.SplitHostPort(f.addr)
	port, _ := strconv.Atoi(p)
	return Config{Host: h, Port: port, Username: "u", Password: router.Secret(f.password), KnownHosts: f.knownHosts(),
		DialTimeout: 3 * time.Second, CommandTimeout: 3 * time.Second}
}

func TestSessionCommandsAndFailures(t *testing.T) {
	f := startFake(t)
	var sent []string
	cfg := f.config()
	cfg.OnSend = func(l string) { sent = append(sent, l) }
	ctx := context.Background()
	s, err := Open(ctx, cfg, testPlatform)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.AddSecret("md5-Secret")
	if out, err := s.Show(ctx, "show version"); err != nil || out != "" {
		t.Fatalf("show: %q %v", out, err)
	}
	if _, err := s.Exec(ctx, "configure terminal"); err != nil {
		t.Fatal(err)
	}
	err = s.ExecAll(ctx, []string{"neighbor x password md5-Secret", "bad neighbor x password md5-Secret", "never sent"})
	var ce *CommandError
	if !errors.As(err, &ce) || ce.Match != "% Unknown command" {
		t.Fatalf("failure string: %v", err)
	}
	if strings.Contains(err.Error(), "md5-Secret") || !strings.Contains(err.Error(), "[redacted]") {
		t.Errorf("error leaks or lost the redaction: %v", err)
	}
	// Strict mode: any output to a write is a failure, not to a show.
	if _, err := s.Exec(ctx, "warn me"); !errors.As(err, &ce) || ce.Match != "" {
		t.Errorf("strict output: %v", err)
	}
	if out, err := s.Show(ctx, "warn show"); err != nil || !strings.Contains(out, "warning") {
		t.Errorf("show output: %q %v", out, err)
	}
	if _, err := s.Exec(ctx, "a\nb"); !errors.Is(err, router.ErrInvalid) {
		t.Errorf("newline: %v", err)
	}
	if st := s.Stats(); st.Writes != 5 || st.Shows != 2 {
		t.Errorf("stats %+v", st)
	}
	for _, l := range sent {
		if strings.Contains(l, "md5-Secret") {
			t.Errorf("OnSend saw a secret: %q", l)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if strings.Contains(strings.Join(f.lines, "\n"), "never sent") {
		t.Error("a line after a failure was sent")
	}
	if !strings.Contains(strings.Join(f.lines, "\n"), "neighbor x password md5-Secret") {
		t.Error("the router did not get the real value")
	}
}

func TestHostKeyVerification(t *testing.T) {
	f := startFake(t)
	ctx := context.Background()
	other := startFake(t)

	cfg := f.config()
	cfg.KnownHosts = []byte(strings.Replace(string(other.knownHosts()), other.addr, f.addr, 1))
	if _, err := Open(ctx, cfg, testPlatform); !errors.Is(err, ErrHostKey) || !strings.Contains(err.Error(), ssh.FingerprintSHA256(f.host.PublicKey())) {
		t.Errorf("mismatch: %v", err)
	}
	cfg.KnownHosts = other.knownHosts()
	if _, err := Open(ctx, cfg, testPlatform); !errors.Is(err, ErrHostKey) || !strings.Contains(err.Error(), "not in known_hosts") {
		t.Errorf("unknown: %v", err)
	}
	cfg.KnownHosts = nil
	if _, err := Open(ctx, cfg, testPlatform); !errors.Is(err, ErrHostKey) {
		t.Errorf("none: %v", err)
	}
	// Revoked.
	cfg.KnownHosts = []byte("@revoked " + string(f.knownHosts()))
	if _, err := Open(ctx, cfg, testPlatform); !errors.Is(err, ErrHostKey) {
		t.Errorf("revoked: %v", err)
	}
	// Hashed entries (ssh-keygen -H) verify too.
	h, p, _ := net.SplitHostPort(f.addr)
	cfg.KnownHosts = []byte(knownhosts.HashHostname(knownhosts.Normalize(net.JoinHostPort(h, p))) + " " + string(ssh.MarshalAuthorizedKey(f.host.PublicKey())))
	if s, err := Open(ctx, cfg, testPlatform); err != nil {
		t.Errorf("hashed: %v", err)
	} else {
		s.Close()
	}

	var logs bytes.Buffer
	cfg.KnownHosts = nil
	cfg.InsecureIgnoreHostKey = true
	cfg.Log = funcr.New(func(_, a string) { logs.WriteString(a) }, funcr.Options{})
	s, err := Open(ctx, cfg, testPlatform)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if !strings.Contains(logs.String(), "DISABLED") {
		t.Errorf("insecure mode not logged: %s", logs.String())
	}
}

func TestAuth(t *testing.T) {
	f := startFake(t)
	ctx := context.Background()
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	f.userKey, _ = ssh.NewPublicKey(pub)

	cfg := f.config()
	cfg.Password = ""
	blk, _ := ssh.MarshalPrivateKeyWithPassphrase(priv, "", []byte("key-Passphrase"))
	cfg.PrivateKey = pem.EncodeToMemory(blk)
	cfg.PrivateKeyPassphrase = "key-Passphrase"
	if s, err := Open(ctx, cfg, testPlatform); err != nil {
		t.Errorf("key with passphrase: %v", err)
	} else {
		s.Close()
	}
	cfg.PrivateKeyPassphrase = "wrong"
	if _, err := Open(ctx, cfg, testPlatform); err == nil {
		t.Error("wrong passphrase accepted")
	}
	cfg.PrivateKey, cfg.PrivateKeyPassphrase = nil, ""
	cfg.Password = "Wrong-Login-PW"
	_, err := Open(ctx, cfg, testPlatform)
	if err == nil || strings.Contains(err.Error(), "Wrong-Login-PW") {
		t.Errorf("wrong password: %v", err)
	}
	cfg.Password = ""
	if _, err := Open(ctx, cfg, testPlatform); err == nil || !strings.Contains(err.Error(), "no SSH credentials") {
		t.Errorf("no credentials: %v", err)
	}
}

// A connection that dies makes the session unusable with ErrClosed, and
// a cancelled context stops a command.
func TestSessionLost(t *testing.T) {
	f := startFake(t)
	ctx := context.Background()
	s, err := Open(ctx, f.config(), testPlatform)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Exec(ctx, "exit"); !errors.Is(err, ErrClosed) {
		t.Errorf("exit: %v", err)
	}
	if s.Alive() {
		t.Error("alive after the connection closed")
	}
	if _, err := s.Show(ctx, "show x"); !errors.Is(err, ErrClosed) {
		t.Errorf("reuse: %v", err)
	}
	_ = s.Close()

	s, err = Open(ctx, f.config(), testPlatform)
	if err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Show(cctx, "show x"); err == nil {
		t.Error("cancelled context ignored")
	}
	_ = s.Close()
}

// File transport: what scrapligo's recorded-session tests see.
func TestFileTransport(t *testing.T) {
	p := filepath.Join(t.TempDir(), "session.txt")
	rec := "Hello\nr1#\nr1#terminal length 0\nr1#show version\nFRR 1.0\nr1#"
	if err := os.WriteFile(p, []byte(rec), 0o644); err != nil {
		t.Fatal(err)
	}
	ft, _ := transport.NewFileTransport()
	ft.F = p
	cfg := Config{Host: "file", Username: "u", Password: "x", Transport: ft, CommandTimeout: 2 * time.Second}
	s, err := Open(context.Background(), cfg, testPlatform)
	if err != nil {
		t.Fatal(err)
	}
	out, err := s.Show(context.Background(), "show version")
	if err != nil || out != "FRR 1.0" {
		t.Fatalf("%q %v", out, err)
	}
	if got := string(bytes.Join(ft.Writes, nil)); got != "\nterminal length 0\nshow version\n" {
		t.Errorf("writes %q", got)
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"neighbor 192.0.2.2 password s3cret":                 "neighbor 192.0.2.2 password [redacted]",
		`set authentication-key "$9$abc"`:                    `set authentication-key [redacted]`,
		"neighbor X password 7 0A1B2C":                       "neighbor X password 7 [redacted]",
		"password clear hunter2 and more":                    "password clear [redacted] and more",
		"nothing here":                                       "nothing here",
		"the value is topsecret":                             "the value is [redacted]",
		"neighbor 192.0.2.2 password topsecret\nsecond line": "neighbor 192.0.2.2 password [redacted]\nsecond line",
	} {
		if got := Redact(in, "topsecret"); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestHelpers(t *testing.T) {
	n := router.Neighbor{Owner: "ns/a", Description: "  Example   Net "}
	if got := Description(n, 0); got != "po:ns/a Example Net" || !Managed(got) || Managed("transit") {
		t.Errorf("description %q", got)
	}
	if got := Description(n, 8); got != "po:ns/a" {
		t.Errorf("cut %q", got)
	}
	if Digest([]byte("neighbor x password a")) != Digest([]byte("neighbor x password b")) {
		t.Error("digest depends on the password")
	}
	if Fingerprint(netipAddr("192.0.2.1"), "a") == Fingerprint(netipAddr("192.0.2.1"), "b") || Fingerprint(netipAddr("192.0.2.1"), "") != "" {
		t.Error("fingerprint")
	}
	if _, err := parseKnownHosts([]byte("h ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQDJ\n")); err == nil {
		t.Error("an unparsable key must be refused, not skipped")
	}
}

func netipAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

// DecimalRange matches exactly its range: checked number by number around
// every boundary, against the regexp engine.
func TestDecimalRange(t *testing.T) {
	for _, r := range [][2]uint64{{0, 0}, {7, 7}, {5, 123}, {64496, 131071}, {23456, 23456}, {99, 1000}, {4200000000, 4294967295}, {10, 19}, {100, 199}, {1, 9999}} {
		re := regexp.MustCompile("^(" + strings.Join(DecimalRange(r[0], r[1]), "|") + ")$")
		lo := r[0]
		if lo > 200 {
			lo -= 200
		} else {
			lo = 0
		}
		for n := lo; n <= r[1]+200 && n < 1<<33; n++ {
			if n > r[0]+2000 && n < r[1]-2000 {
				n = r[1] - 2000 // skip the middle of big ranges
			}
			if got, want := re.MatchString(strconv.FormatUint(n, 10)), n >= r[0] && n <= r[1]; got != want {
				t.Fatalf("%v: %d matched=%v", r, n, got)
			}
		}
	}
	got := BogonASNRegex()
	for asn, bogon := range map[string]bool{"0": true, "23456": true, "64496": true, "65000": true, "131071": true, "131072": false, "13335": false, "4200000000": true, "4294967295": true, "4199999999": false, "174": false} {
		re := regexp.MustCompile("(^| )" + strings.Trim(got, "_") + "( |$)")
		if re.MatchString("3356 "+asn+" 100") != bogon {
			t.Errorf("%s: bogon=%v not matched by %s", asn, bogon, got)
		}
	}
}

func TestConfigFor(t *testing.T) {
	f := startFake(t)
	h, p, _ := net.SplitHostPort(f.addr)
	port, _ := strconv.Atoi(p)
	cfg := ConfigFor(h, port, &router.Credentials{Username: "u", Password: router.Secret(f.password), KnownHosts: string(f.knownHosts())})
	s, err := Open(context.Background(), cfg, testPlatform)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if c := ConfigFor("r1", 0, nil); c.Host != "r1" || c.KnownHosts != nil {
		t.Errorf("%+v", c)
	}
}
