// Package cli is the scrapligo plumbing shared by the SSH/CLI router drivers
// (frr, junos, iosxr, eos): connect with a password or a key, verify the
// SSH host key against a known_hosts blob (on by default), send show
// commands and configuration lines, detect failure strings, and keep
// passwords out of every error and log line.
package cli

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"github.com/scrapli/scrapligo/driver/network"
	"github.com/scrapli/scrapligo/driver/opoptions"
	"github.com/scrapli/scrapligo/driver/options"
	"github.com/scrapli/scrapligo/platform"
	"github.com/scrapli/scrapligo/transport"
	"github.com/scrapli/scrapligo/util"

	"github.com/peering-operator/peering-operator/internal/router"
)

var (
	// ErrHostKey marks a host key that is unknown or does not match.
	ErrHostKey = errors.New("ssh host key verification failed")
	// ErrConflict marks router configuration the operator does not own that
	// is in the way of what it must write; nothing was written.
	ErrConflict = errors.New("configuration not managed by peering-operator is in the way")
	// ErrVerify marks an apply whose read-back still differs from the
	// desired configuration.
	ErrVerify = errors.New("router configuration differs from the desired configuration after apply")
	// ErrClosed marks a session whose connection is gone.
	ErrClosed = errors.New("router session closed")
)

// Config says how to reach one router.
type Config struct {
	// Host and Port of the SSH server (Port 0 means 22).
	Host string
	Port int
	// Username, and Password and/or PrivateKey (PEM, OpenSSH or PKCS#8).
	Username             string
	Password             router.Secret
	PrivateKey           []byte
	PrivateKeyPassphrase router.Secret
	// KnownHosts is an OpenSSH known_hosts blob; the host key must match
	// it unless InsecureIgnoreHostKey is set (logged as a warning on
	// every connect).
	KnownHosts            []byte
	InsecureIgnoreHostKey bool
	// DialTimeout bounds TCP connect plus SSH handshake (default 15s) and
	// is the keepalive interval; CommandTimeout bounds one command
	// (default 2m: a large show running-config takes time).
	DialTimeout    time.Duration
	CommandTimeout time.Duration
	// Log receives connect/close events and the insecure warning; never a
	// password.
	Log logr.Logger
	// Transport replaces SSH, for tests with scrapligo's file transport.
	Transport transport.Implementation
	// ReadDelay overrides the platform's pause between channel reads
	// (recorded-session tests use a tiny one: the file transport returns
	// one byte per read).
	ReadDelay time.Duration
	// OnSend, when set, is called with every line (redacted) just before
	// it is written to the router; tests use it to count writes or to cut
	// the connection in the middle of an apply.
	OnSend func(line string)
}

// Platform describes one vendor CLI.
type Platform struct {
	// Definition is a scrapligo platform definition (YAML).
	Definition []byte
	// FailureStrings mark a failed line when they appear in its output,
	// in addition to the definition's failed-when-contains.
	FailureStrings []string
	// StrictConfig treats any output to a configuration line as a
	// failure (FRR prints nothing on success).
	StrictConfig bool
	// ReadDelay is scrapligo's pause between reads of the channel
	// (default 250µs); every line waits for its echo and its prompt, so
	// it adds up over thousands of lines.
	ReadDelay time.Duration
	// Width of the pty; long lines must not wrap (default 1024).
	Width int
}

// Stats counts what a session sent.
type Stats struct {
	// Shows counts read-only commands.
	Shows int
	// Writes counts every other line: configuration lines and mode
	// changes such as "configure terminal" or "commit".
	Writes int
}

// Session is one interactive CLI session. It is safe for use by one
// goroutine at a time; the drivers serialise with their own mutex.
type Session struct {
	cfg     Config
	plat    Platform
	d       *network.Driver
	fail    []string
	mu      sync.Mutex
	secrets []string
	stats   Stats
	broken  error
}

// CommandError is a line the router refused. Line and Output are redacted.
type CommandError struct {
	Line   string
	Output string
	// Match is the failure string that was found ("" for strict output).
	Match string
}

func (e *CommandError) Error() string {
	out := strings.TrimSpace(e.Output)
	if len(out) > 500 {
		out = out[:500] + "…"
	}
	return fmt.Sprintf("router refused %q: %s", e.Line, out)
}

func (c *Config) defaults() {
	if c.Port == 0 {
		c.Port = 22
	}
	if c.DialTimeout <= 0 {
		c.DialTimeout = 15 * time.Second
	}
	if c.CommandTimeout <= 0 {
		c.CommandTimeout = 2 * time.Minute
	}
	if c.Log.GetSink() == nil {
		c.Log = logr.Discard()
	}
}

// Open connects and brings the CLI to its default privilege level.
func Open(ctx context.Context, cfg Config, p Platform) (*Session, error) {
	cfg.defaults()
	if p.Width == 0 {
		p.Width = 1024
	}
	if cfg.ReadDelay > 0 {
		p.ReadDelay = cfg.ReadDelay
	}
	if p.ReadDelay <= 0 {
		p.ReadDelay = 250 * time.Microsecond
	}
	s := &Session{cfg: cfg, plat: p}
	s.AddSecret(cfg.Password)
	s.AddSecret(cfg.PrivateKeyPassphrase)
	impl := cfg.Transport
	if impl == nil {
		impl = &sshTransport{cfg: &s.cfg, ctx: ctx}
	}
	pl, err := platform.NewPlatform(p.Definition, cfg.Host,
		options.WithCustomTransport(impl),
		options.WithPort(cfg.Port),
		options.WithAuthUsername(cfg.Username),
		options.WithTimeoutOps(cfg.CommandTimeout),
		options.WithTimeoutSocket(cfg.DialTimeout),
		options.WithTermWidth(p.Width),
		options.WithReadDelay(p.ReadDelay),
		// Our transport authenticates in the SSH protocol; never look for
		// login prompts in the channel.
		options.WithAuthBypass(),
	)
	if err != nil {
		return nil, fmt.Errorf("scrapligo platform: %w", err)
	}
	d, err := pl.GetNetworkDriver()
	if err != nil {
		return nil, err
	}
	s.d = d
	s.fail = append(append([]string{}, d.FailedWhenContains...), p.FailureStrings...)
	// Our own FailureStrings do the checking; scrapligo's Response would
	// carry the raw (unredacted) output around.
	d.FailedWhenContains = nil
	stop := context.AfterFunc(ctx, func() { _ = impl.Close() })
	err = d.Open()
	stop()
	if err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return nil, &redactedError{msg: fmt.Sprintf("connect %s: %s", cfg.addr(), s.Redact(err.Error())), err: err}
	}
	cfg.Log.V(1).Info("router session open", "host", cfg.Host, "port", cfg.Port)
	return s, nil
}

// AddSecret registers a value that must never appear in errors or logs.
func (s *Session) AddSecret(sec router.Secret) {
	if v := sec.Reveal(); v != "" {
		s.mu.Lock()
		s.secrets = append(s.secrets, v)
		s.mu.Unlock()
	}
}

// Redact removes registered secrets and anything following a password
// keyword from s.
func (s *Session) Redact(text string) string {
	s.mu.Lock()
	secs := append([]string(nil), s.secrets...)
	s.mu.Unlock()
	return Redact(text, secs...)
}

var keywordSecret = regexp.MustCompile(`(?i)\b(password|authentication-key|secret)((?:\s+(?:clear|encrypted|0|7|8))?\s+)("[^"\n]*"|[^\s]+)`)

// Redact replaces every secret in text, and the value after the keywords
// password, authentication-key and secret, with "[redacted]".
func Redact(text string, secrets ...string) string {
	for _, sec := range secrets {
		if sec != "" {
			text = strings.ReplaceAll(text, sec, "[redacted]")
		}
	}
	return keywordSecret.ReplaceAllString(text, "${1}${2}[redacted]")
}

// redactedError keeps the chain of err for errors.Is/As while printing
// only the redacted message.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// Stats returns what the session sent so far.
func (s *Session) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// Alive reports whether the session can still be used.
func (s *Session) Alive() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.broken == nil && s.d.Transport.IsAlive()
}

// Show runs a read-only command and returns its output (prompt stripped).
func (s *Session) Show(ctx context.Context, cmd string) (string, error) {
	s.mu.Lock()
	s.stats.Shows++
	s.mu.Unlock()
	return s.send(ctx, cmd, false)
}

// Exec sends one line that changes something (a configuration line, a
// mode change, a commit) and fails with *CommandError when the router
// refuses it.
func (s *Session) Exec(ctx context.Context, line string) (string, error) {
	s.mu.Lock()
	s.stats.Writes++
	s.mu.Unlock()
	return s.send(ctx, line, true)
}

// ExecAll sends lines with Exec and stops at the first failure.
func (s *Session) ExecAll(ctx context.Context, lines []string) error {
	for _, l := range lines {
		if _, err := s.Exec(ctx, l); err != nil {
			return err
		}
	}
	return nil
}

func (s *Session) send(ctx context.Context, line string, write bool) (string, error) {
	if strings.ContainsAny(line, "\r\n") {
		// Never reachable with validated values; a newline would start a
		// second command.
		return "", fmt.Errorf("%w: line contains a newline", router.ErrInvalid)
	}
	s.mu.Lock()
	broken := s.broken
	s.mu.Unlock()
	if broken != nil {
		return "", broken
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	red := s.Redact(line)
	if s.cfg.OnSend != nil {
		s.cfg.OnSend(red)
	}
	stop := context.AfterFunc(ctx, func() { _ = s.d.Transport.Close(true) })
	r, err := s.d.SendCommand(line, opoptions.WithTimeoutOps(s.cfg.CommandTimeout))
	stop()
	if err != nil {
		switch {
		case ctx.Err() != nil:
			err = fmt.Errorf("%w: %v", ErrClosed, ctx.Err())
		case errors.Is(err, util.ErrConnectionError), !s.d.Transport.IsAlive():
			err = fmt.Errorf("%w: connection lost while sending %q", ErrClosed, red)
		case errors.Is(err, util.ErrTimeoutError):
			err = fmt.Errorf("%w: timeout after %s sending %q", ErrClosed, s.cfg.CommandTimeout, red)
		default:
			err = fmt.Errorf("%w: sending %q: %s", ErrClosed, red, s.Redact(err.Error()))
		}
		// Whatever the device did with the line, we no longer know where
		// the CLI is: never reuse this session.
		s.mu.Lock()
		s.broken = err
		s.mu.Unlock()
		return "", err
	}
	out := r.Result
	if m := util.StringContainsAnySubStrs(out, s.fail); m != "" {
		return out, &CommandError{Line: red, Output: s.Redact(out), Match: m}
	}
	if write && s.plat.StrictConfig && strings.TrimSpace(out) != "" {
		return out, &CommandError{Line: red, Output: s.Redact(out)}
	}
	return out, nil
}

// Close leaves the CLI politely and closes the connection.
func (s *Session) Close() error {
	s.mu.Lock()
	broken := s.broken
	s.mu.Unlock()
	if broken != nil || !s.d.Transport.IsAlive() {
		// Skip the on-close commands: the channel is in an unknown state.
		s.d.OnClose = nil
	}
	err := s.d.Close()
	if err != nil {
		return fmt.Errorf("close %s: %s", s.cfg.addr(), s.Redact(err.Error()))
	}
	return nil
}

// ConfigFor is the Config for a router at host:port with the credentials
// of its Secret (port 0 means 22). Timeouts keep their defaults; set Log
// to see connects and the insecure-host-key warning.
func ConfigFor(host string, port int, creds *router.Credentials) Config {
	c := Config{Host: host, Port: port}
	if creds != nil {
		c.Username = creds.Username
		c.Password = creds.Password
		c.PrivateKey = []byte(creds.PrivateKey.Reveal())
		c.KnownHosts = []byte(creds.KnownHosts)
		c.InsecureIgnoreHostKey = creds.InsecureSkipHostKey
	}
	return c
}
