package cli

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // OpenSSH's hashed host names are HMAC-SHA1
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// knownHosts is a known_hosts blob parsed in memory. x/crypto's knownhosts
// only reads files, and the manager runs on a read-only root filesystem.
type knownHosts struct {
	entries []hostEntry
	// revoked holds the wire form of every @revoked key: refused for any
	// host, as OpenSSH and x/crypto do.
	revoked map[string]bool
}

// hostEntry is one known_hosts line with a host key.
type hostEntry struct {
	// patterns as written: "name", "!name", "[name]:port", wildcards, or
	// a hashed "|1|salt|hmac".
	patterns []string
	key      ssh.PublicKey
}

// The reasons a host key is refused; verboseHostKey words them.
var (
	errHostUnknown  = errors.New("host is not in known_hosts")
	errHostMismatch = errors.New("host key does not match known_hosts (possible man-in-the-middle)")
	errHostRevoked  = errors.New("host key is marked @revoked in known_hosts")
)

// parseKnownHosts reads an OpenSSH known_hosts blob. A line that does not
// parse is an error: silently dropping it could drop the router's key.
func parseKnownHosts(blob []byte) (*knownHosts, error) {
	kh := &knownHosts{revoked: map[string]bool{}}
	for i, line := range bytes.Split(blob, []byte("\n")) {
		marker, hosts, key, _, _, err := ssh.ParseKnownHosts(line)
		if errors.Is(err, io.EOF) {
			continue // blank or comment
		}
		if err != nil {
			return nil, fmt.Errorf("line %d: %v", i+1, err)
		}
		switch marker {
		case "revoked":
			kh.revoked[string(key.Marshal())] = true
		case "cert-authority":
			// A CA key signs host certificates; it is never the host key
			// itself, and certificates are not negotiated (see algorithms).
		case "":
			for _, p := range hosts {
				if strings.HasPrefix(p, "|") {
					if _, _, err := decodeHashed(p); err != nil {
						return nil, fmt.Errorf("line %d: %v", i+1, err)
					}
				}
			}
			kh.entries = append(kh.entries, hostEntry{patterns: hosts, key: key})
		default:
			return nil, fmt.Errorf("line %d: unknown marker @%s", i+1, marker)
		}
	}
	return kh, nil
}

// check verifies the key a server at addr ("host:port", as dialed) offers.
func (kh *knownHosts) check(addr string, key ssh.PublicKey) error {
	wire := key.Marshal()
	if kh.revoked[string(wire)] {
		return errHostRevoked
	}
	known := false
	for _, e := range kh.matching(addr) {
		known = true
		if bytes.Equal(e.key.Marshal(), wire) {
			return nil
		}
	}
	if known {
		return errHostMismatch
	}
	return errHostUnknown
}

// matching returns the entries naming addr.
func (kh *knownHosts) matching(addr string) []hostEntry {
	// known_hosts names a host as Normalize writes it: "name" for port 22,
	// "[name]:port" otherwise; OpenSSH compares host names in lower case.
	target := strings.ToLower(knownhosts.Normalize(addr))
	var out []hostEntry
	for _, e := range kh.entries {
		if e.names(target) {
			out = append(out, e)
		}
	}
	return out
}

// names reports whether the entry's patterns name target: one matches
// and no negated one does.
func (e hostEntry) names(target string) bool {
	named := false
	for _, p := range e.patterns {
		negated := strings.HasPrefix(p, "!")
		p = strings.TrimPrefix(p, "!")
		if !patternMatches(p, target) {
			continue
		}
		if negated {
			return false
		}
		named = true
	}
	return named
}

func patternMatches(p, target string) bool {
	if strings.HasPrefix(p, "|") {
		salt, sum, err := decodeHashed(p)
		if err != nil {
			return false
		}
		m := hmac.New(sha1.New, salt)
		m.Write([]byte(target))
		return hmac.Equal(m.Sum(nil), sum)
	}
	p = strings.ToLower(p)
	if !strings.ContainsAny(p, "*?") {
		// "[h]:22" and "h" are the same host.
		return knownhosts.Normalize(p) == target
	}
	return wildcard(p, target)
}

// decodeHashed splits "|1|base64(salt)|base64(hmac-sha1(salt, host))".
func decodeHashed(p string) (salt, sum []byte, err error) {
	f := strings.Split(p, "|")
	if len(f) != 4 || f[0] != "" || f[1] != "1" {
		return nil, nil, fmt.Errorf("unsupported hashed host %q", p)
	}
	if salt, err = base64.StdEncoding.DecodeString(f[2]); err == nil {
		sum, err = base64.StdEncoding.DecodeString(f[3])
	}
	if err != nil || len(sum) != sha1.Size {
		return nil, nil, fmt.Errorf("malformed hashed host %q", p)
	}
	return salt, sum, nil
}

// wildcard matches OpenSSH host patterns: '*' is any run of characters
// (dots and colons included), '?' exactly one.
func wildcard(p, s string) bool {
	// Greedy with backtracking to the last '*': linear for these patterns.
	star, mark := -1, 0
	i, j := 0, 0
	for j < len(s) {
		switch {
		case i < len(p) && p[i] == '*':
			star, mark = i, j
			i++
		case i < len(p) && (p[i] == '?' || p[i] == s[j]):
			i++
			j++
		case star >= 0:
			mark++
			i, j = star+1, mark
		default:
			return false
		}
	}
	for i < len(p) && p[i] == '*' {
		i++
	}
	return i == len(p)
}

// algorithms restricts negotiation to the key types known for addr:
// otherwise the server may present a type we have no entry for and
// verification fails although a valid key of another type is known. Nil
// (the defaults) when the host has no entry: verification then says so.
func (kh *knownHosts) algorithms(addr string) []string {
	seen := map[string]bool{}
	var algos []string
	for _, e := range kh.matching(addr) {
		a := []string{e.key.Type()}
		if a[0] == ssh.KeyAlgoRSA {
			a = []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
		}
		for _, s := range a {
			if !seen[s] {
				seen[s] = true
				algos = append(algos, s)
			}
		}
	}
	return algos
}
