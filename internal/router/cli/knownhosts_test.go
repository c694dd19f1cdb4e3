package cli

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

func newKey(t *testing.T, kind string) ssh.PublicKey {
	t.Helper()
	var pub any
	switch kind {
	case "ed25519":
		p, _, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		pub = p
	case "ecdsa":
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		pub = &k.PublicKey
	case "rsa":
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		pub = &k.PublicKey
	}
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// line is one known_hosts line for the patterns (as written) and key.
func line(patterns string, k ssh.PublicKey) string {
	return patterns + " " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k)))
}

func mustParse(t *testing.T, lines ...string) *knownHosts {
	t.Helper()
	kh, err := parseKnownHosts([]byte(strings.Join(lines, "\n")))
	if err != nil {
		t.Fatal(err)
	}
	return kh
}

func TestKnownHostsForms(t *testing.T) {
	key, other := newKey(t, "ed25519"), newKey(t, "ed25519")
	for _, tc := range []struct {
		name  string
		entry string
		addr  string
		want  error
	}{
		{"plain port 22", line("r1.example.net", key), "r1.example.net:22", nil},
		{"plain in a list", line("r0,r1.example.net,192.0.2.1", key), "192.0.2.1:22", nil},
		{"case-insensitive name", line("R1.Example.NET", key), "r1.example.net:22", nil},
		{"bare name is port 22 only", line("192.0.2.1", key), "192.0.2.1:2222", errHostUnknown},
		{"bracketed port", line("[192.0.2.1]:2222", key), "192.0.2.1:2222", nil},
		{"bracketed port is that port only", line("[192.0.2.1]:2222", key), "192.0.2.1:22", errHostUnknown},
		{"bracketed 22 is the bare name", line("[192.0.2.1]:22", key), "192.0.2.1:22", nil},
		{"ipv6", line("2001:db8::1", key), "[2001:db8::1]:22", nil},
		{"ipv6 port", line("[2001:db8::1]:830", key), "[2001:db8::1]:830", nil},
		{"hashed port 22", line(knownhosts.HashHostname("192.0.2.1"), key), "192.0.2.1:22", nil},
		{"hashed port", line(knownhosts.HashHostname("[192.0.2.1]:2222"), key), "192.0.2.1:2222", nil},
		{"hashed other port", line(knownhosts.HashHostname("[192.0.2.1]:2222"), key), "192.0.2.1:22", errHostUnknown},
		{"hashed ipv6 port", line(knownhosts.HashHostname(knownhosts.Normalize("[2001:db8::1]:830")), key), "[2001:db8::1]:830", nil},
		{"hashed other host", line(knownhosts.HashHostname("192.0.2.2"), key), "192.0.2.1:22", errHostUnknown},
		{"wildcard", line("*.example.net", key), "r1.example.net:22", nil},
		{"wildcard with port", line("[192.0.2.?]:2222", key), "192.0.2.7:2222", nil},
		{"negated", line("*.example.net,!r1.example.net", key), "r1.example.net:22", errHostUnknown},
		{"unknown host", line("r2.example.net", key), "r1.example.net:22", errHostUnknown},
		{"mismatch", line("r1.example.net", other), "r1.example.net:22", errHostMismatch},
		{"hashed mismatch", line(knownhosts.HashHostname("[192.0.2.1]:2222"), other), "192.0.2.1:2222", errHostMismatch},
		{"revoked", line("@revoked *", key) + "\n" + line("r1.example.net", key), "r1.example.net:22", errHostRevoked},
		{"revoked for any host", line("@revoked other.example.net", key) + "\n" + line("r1.example.net", key), "r1.example.net:22", errHostRevoked},
		{"revoked other key", line("@revoked *", other) + "\n" + line("r1.example.net", key), "r1.example.net:22", nil},
		{"a CA key is not a host key", line("@cert-authority *.example.net", key), "r1.example.net:22", errHostUnknown},
		{"comments and CRLF", "# router\r\n\r\n" + line("r1.example.net", key) + " comment\r\n", "r1.example.net:22", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := mustParse(t, tc.entry).check(tc.addr, key); !errors.Is(err, tc.want) {
				t.Errorf("check = %v, want %v", err, tc.want)
			}
		})
	}
}

// Several keys per host (one per type, or a key rollover): any of them is
// accepted, and negotiation offers exactly this host's types.
func TestKnownHostsSeveralKeys(t *testing.T) {
	ed, ec, rs, other := newKey(t, "ed25519"), newKey(t, "ecdsa"), newKey(t, "rsa"), newKey(t, "ed25519")
	kh := mustParse(t,
		line("[192.0.2.1]:2222", ed),
		line(knownhosts.HashHostname("[192.0.2.1]:2222"), ec),
		line("[192.0.2.1]:2222,r1", rs),
		line("192.0.2.1", other), // the same address on port 22
		line("r9", newKey(t, "ecdsa")),
	)
	for _, k := range []ssh.PublicKey{ed, ec, rs} {
		if err := kh.check("192.0.2.1:2222", k); err != nil {
			t.Errorf("%s: %v", k.Type(), err)
		}
	}
	if err := kh.check("192.0.2.1:2222", other); !errors.Is(err, errHostMismatch) {
		t.Errorf("the port-22 key on port 2222: %v", err)
	}
	want := []string{ssh.KeyAlgoED25519, ssh.KeyAlgoECDSA256, ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	if got := kh.algorithms("192.0.2.1:2222"); !slices.Equal(got, want) {
		t.Errorf("algorithms %v, want %v", got, want)
	}
	if got := kh.algorithms("192.0.2.1:22"); !slices.Equal(got, []string{ssh.KeyAlgoED25519}) {
		t.Errorf("port 22 algorithms %v", got)
	}
	if got := kh.algorithms("192.0.2.9:22"); got != nil {
		t.Errorf("unknown host algorithms %v, want the defaults", got)
	}
}

func TestKnownHostsMalformed(t *testing.T) {
	k := newKey(t, "ed25519")
	for name, blob := range map[string]string{
		"truncated key":  "h ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI\n",
		"type mismatch":  "h ssh-rsa " + strings.Fields(line("h", k))[2],
		"unknown marker": line("@trusted h", k),
		"bad hash":       line("|1|notbase64!|xyz", k),
		"other hash":     line("|2|c2FsdA==|aGFzaA==", k),
	} {
		if _, err := parseKnownHosts([]byte("# ok\n" + line("ok", k) + "\n" + blob)); err == nil || !strings.Contains(err.Error(), "line 3") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// Over SSH: the errors name the offered key, never the password, and no
// file is written (TMPDIR points nowhere, as on the read-only root of the
// shipped Pod).
func TestHostKeyVerificationInMemory(t *testing.T) {
	t.Setenv("TMPDIR", filepath.Join(t.TempDir(), "missing"))
	f := startFake(t)
	ctx := context.Background()
	h, p, _ := net.SplitHostPort(f.addr)
	fp := ssh.FingerprintSHA256(f.host.PublicKey())
	hashed := line(knownhosts.HashHostname(knownhosts.Normalize(net.JoinHostPort(h, p))), f.host.PublicKey())
	rollover := line("["+h+"]:"+p, newKey(t, "ecdsa")) + "\n" + hashed

	cfg := f.config()
	for _, blob := range []string{hashed, rollover} {
		cfg.KnownHosts = []byte(blob)
		s, err := Open(ctx, cfg, testPlatform)
		if err != nil {
			t.Fatalf("%q: %v", blob, err)
		}
		s.Close()
	}
	for blob, reason := range map[string]string{
		line("["+h+"]:"+p, newKey(t, "ed25519")):                       "does not match known_hosts",
		line(knownhosts.HashHostname("["+h+"]:1"), f.host.PublicKey()): "not in known_hosts",
		line(h, f.host.PublicKey()):                                    "not in known_hosts", // port 22 only
		line("@revoked *", f.host.PublicKey()) + "\n" + hashed:         "@revoked",
	} {
		cfg.KnownHosts = []byte(blob)
		_, err := Open(ctx, cfg, testPlatform)
		if !errors.Is(err, ErrHostKey) || !strings.Contains(err.Error(), reason) || !strings.Contains(err.Error(), fp) {
			t.Errorf("%q: %v, want %q with the fingerprint", blob, err, reason)
		} else if strings.Contains(err.Error(), f.password) {
			t.Errorf("the error leaks the password: %v", err)
		}
	}
	if _, err := os.Stat(os.TempDir()); !os.IsNotExist(err) {
		t.Errorf("TMPDIR: %v", err)
	}
}
