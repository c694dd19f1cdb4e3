package cli

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"

	"github.com/peering-operator/peering-operator/internal/router"
)

// Ownership marks. Every neighbor the operator creates carries a
// description starting with Marker, and every filter object it creates is
// named with ObjectPrefix; configuration without them is never changed.
const (
	Marker       = "po:"
	ObjectPrefix = "PO-"
)

var spaces = regexp.MustCompile(`\s+`)

// Description is the neighbor description the operator writes:
// "po:<owner> <description>", whitespace collapsed (CLIs do that on input,
// and a value that reads back differently would be rewritten forever) and
// cut to max bytes.
func Description(n router.Neighbor, max int) string {
	d := Marker + n.Owner
	if t := strings.TrimSpace(spaces.ReplaceAllString(n.Description, " ")); t != "" {
		d += " " + t
	}
	if max > 0 && len(d) > max {
		d = strings.TrimRight(d[:max], " ")
	}
	return d
}

// DescriptionWithFingerprint is Description with the password's
// Fingerprint after the owner ("po:<owner> md5=<fp> <description>"), for
// platforms that never show a password back: a changed password changes
// the description, so the next apply sees it.
func DescriptionWithFingerprint(n router.Neighbor, max int) string {
	fp := Fingerprint(n.Address, n.Password)
	if fp == "" {
		return Description(n, max)
	}
	m := n
	m.Owner = n.Owner + " md5=" + fp
	return Description(m, max)
}

// Managed reports whether a description read from a router marks a neighbor
// the operator owns.
func Managed(desc string) bool {
	return strings.HasPrefix(strings.Trim(strings.TrimSpace(desc), `"`), Marker)
}

// Check validates d before anything is rendered: the shared rules of
// router.Desired.Validate plus what every CLI driver needs.
func Check(d router.Desired) error {
	if err := d.Validate(); err != nil {
		return err
	}
	for _, n := range d.Neighbors {
		// The drivers configure external peers: an eBGP session without an
		// import policy accepts nothing (FRR, IOS-XR), so a half-created
		// neighbor is harmless; an iBGP one would not be.
		if n.PeerASN == d.LocalASN {
			return fmt.Errorf("%w: neighbor %s: peer ASN %d is our own ASN (only external peers are managed)", router.ErrInvalid, n.Address, n.PeerASN)
		}
		if strings.ContainsAny(n.Owner, " \t") {
			return fmt.Errorf("%w: neighbor %s owner %q contains spaces", router.ErrInvalid, n.Address, n.Owner)
		}
	}
	return nil
}

// Sorted returns the neighbors ordered by address, so rendering is
// deterministic whatever order the controller listed them in.
func Sorted(ns []router.Neighbor) []router.Neighbor {
	out := slices.Clone(ns)
	slices.SortFunc(out, func(a, b router.Neighbor) int { return a.Address.Compare(b.Address) })
	return out
}

// Lengths is the prefix-length range an entry matches.
func Lengths(e router.Entry) (lo, hi int) {
	if e.Exact {
		return e.Prefix.Bits(), e.Prefix.Bits()
	}
	return e.GE, e.LE
}

// Range is an Entry reduced to what it matches; two entries that match the
// same routes compare equal however they were written.
type Range struct {
	Prefix netip.Prefix
	Lo, Hi int
}

// Ranges returns the distinct ranges of entries in a stable order.
func Ranges(es []router.Entry) []Range {
	seen := map[Range]bool{}
	var out []Range
	for _, e := range es {
		lo, hi := Lengths(e)
		r := Range{e.Prefix, lo, hi}
		if !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	slices.SortFunc(out, CompareRange)
	return out
}

// CompareRange orders ranges by prefix, then length range.
func CompareRange(a, b Range) int {
	if c := a.Prefix.Addr().Compare(b.Prefix.Addr()); c != 0 {
		return c
	}
	return cmp.Or(cmp.Compare(a.Prefix.Bits(), b.Prefix.Bits()), cmp.Compare(a.Lo, b.Lo), cmp.Compare(a.Hi, b.Hi))
}

// Digest is the SHA-256 of a rendered configuration with password values
// masked: the digest is published in Router status, and a hash over a
// password would let anyone who reads the status guess a weak one offline.
func Digest(rendered []byte) string {
	sum := sha256.Sum256([]byte(Redact(string(rendered))))
	return hex.EncodeToString(sum[:])
}

// Fingerprint is a short, salted hash of a neighbor's password. Platforms
// that show passwords only encrypted (Junos, IOS-XR, EOS) keep it next to
// the neighbor so the next apply can tell whether the password changed
// without ever reading it back. It reveals no more than the reversible
// encryption those platforms already print.
func Fingerprint(addr netip.Addr, pw router.Secret) string {
	if pw == "" {
		return ""
	}
	sum := sha256.Sum256([]byte("peering-operator md5 " + addr.String() + " " + pw.Reveal()))
	return hex.EncodeToString(sum[:6])
}

// ObjectName is the name of a per-neighbor filter object:
// PO-<kind>-<address>, with the address characters a platform does not
// allow in names replaced by '_' when safe is true.
func ObjectName(kind string, addr netip.Addr, safe bool) string {
	a := addr.String()
	if safe {
		a = strings.NewReplacer(".", "_", ":", "_").Replace(a)
	}
	return ObjectPrefix + kind + "-" + a
}
