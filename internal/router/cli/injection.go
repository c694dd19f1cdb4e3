package cli

import (
	"net/netip"

	"github.com/peering-operator/peering-operator/internal/router"
)

// Injections returns neighbors whose text fields try to smuggle commands
// into a router CLI (newlines, ;, |, #, quotes, non-ASCII, shell and
// template characters). Every driver's tests feed them and expect
// router.ErrInvalid before anything is sent.
func Injections() []router.Neighbor {
	base := router.Neighbor{Address: netip.MustParseAddr("192.0.2.2"), PeerASN: 65001, Owner: "ns/name"}
	var out []router.Neighbor
	for _, d := range []string{
		"x\nexit\nno router bgp 65000",
		"x\r\nreload",
		"a; no router bgp 65000",
		"a | include x",
		"a # comment",
		`a "quoted"`,
		"a 'single'",
		"café",
		"a ! b",
		"a\x00b",
		"a\tb",
		"a `cmd`",
		"a $(cmd)",
		"a {b}",
		"a \\ b",
		"AS-EXAMPLE\ndelete protocols",
	} {
		n := base
		n.Description = d
		out = append(out, n)
	}
	for _, o := range []string{"ns/name\nshutdown", "ns/na me;x", "ns/ñ"} {
		n := base
		n.Owner = o
		out = append(out, n)
	}
	for _, p := range []router.Secret{"pw\nno neighbor 192.0.2.2", "pw with space", `pw"q`, "pwé"} {
		n := base
		n.Password = p
		out = append(out, n)
	}
	// An address cannot carry text (netip refuses it), except in an IPv6
	// zone, which Validate refuses.
	if a, err := netip.ParseAddr("fe80::1%eth0\nshutdown"); err == nil {
		n := base
		n.Address = a
		out = append(out, n)
	}
	n := base
	n.Import = []router.Entry{{}} // zero prefix
	out = append(out, n)
	return out
}
