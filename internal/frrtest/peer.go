package frrtest

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Peer is a BGP speaker on the LAN (its own bgpd in the peers namespace).
type Peer struct {
	ASN  uint32
	Addr netip.Addr
	dir  string
	ns   string
	p    *proc
}

// StartPeer starts a bgpd in the peers namespace on addr (in 192.0.2.0/24
// or 2001:db8::/64) with AS asn, announcing prefixes to the router. The
// peer is passive and accepts everything: the router's filters are under
// test, not the peer's. It needs no zebra ("network" statements without
// import check).
func (r *Router) StartPeer(asn uint32, addr netip.Addr, prefixes ...netip.Prefix) (*Peer, error) {
	var nbr netip.Addr
	var plen int
	switch {
	case addr.Is4() && LANv4.Contains(addr) && addr != RouterV4:
		nbr, plen = RouterV4, 24
	case addr.Is6() && LANv6.Contains(addr) && addr != RouterV6:
		nbr, plen = RouterV6, 64
	default:
		return nil, fmt.Errorf("peer address %s is not a free address of %s or %s", addr, LANv4, LANv6)
	}
	r.mu.Lock()
	idx := len(r.peers) + 1
	r.mu.Unlock()
	p := &Peer{ASN: asn, Addr: addr, ns: r.NSPeers, dir: filepath.Join(r.Dir, "peers", fmt.Sprintf("p%d", idx))}
	if err := os.Mkdir(p.dir, 0o755); err != nil {
		return nil, err
	}
	if err := chownFRR(p.dir); err != nil {
		return nil, err
	}
	if err := r.addPeerAddress(addr, plen); err != nil {
		return nil, err
	}
	rid := addr
	if !addr.Is4() {
		// Only an identifier, never an address on the wire.
		rid = netip.AddrFrom4([4]byte{0, 0, byte(idx >> 8), byte(idx)})
	}
	var b strings.Builder
	fmt.Fprintf(&b, "hostname peer%d\nrouter bgp %d\n bgp router-id %s\n no bgp ebgp-requires-policy\n no bgp network import-check\n", idx, asn, rid)
	fmt.Fprintf(&b, " neighbor %s remote-as %d\n neighbor %s passive\n", nbr, r.LocalASN, nbr)
	if addr.Is6() {
		fmt.Fprintf(&b, " address-family ipv4 unicast\n  no neighbor %s activate\n exit-address-family\n", nbr)
		fmt.Fprintf(&b, " address-family ipv6 unicast\n  neighbor %s activate\n", nbr)
	} else {
		b.WriteString(" address-family ipv4 unicast\n")
	}
	for _, pf := range prefixes {
		fmt.Fprintf(&b, "  network %s\n", pf.Masked())
	}
	b.WriteString(" exit-address-family\nexit\n")
	if err := writeFile(filepath.Join(p.dir, "bgpd.conf"), b.String(), 0o644, true); err != nil {
		return nil, err
	}
	if err := writeFile(filepath.Join(p.dir, "vtysh.conf"), "", 0o644, true); err != nil {
		return nil, err
	}
	pr, err := startIn(r.NSPeers, fmt.Sprintf("peer%d", idx), filepath.Join(p.dir, "bgpd.log"),
		BGPd, "-Z", "-l", addr.String(), "-f", filepath.Join(p.dir, "bgpd.conf"), "-i", filepath.Join(p.dir, "bgpd.pid"),
		"--vty_socket", p.dir, "-P", "0", "--log", "stdout")
	if err != nil {
		return nil, err
	}
	p.p = pr
	r.mu.Lock()
	r.peers = append(r.peers, p)
	r.mu.Unlock()
	if err := waitFor(10*time.Second, "peer bgpd", sockReady(pr, filepath.Join(p.dir, "bgpd.vty"))); err != nil {
		return nil, err
	}
	return p, nil
}

// AddPeerAddress puts a free address of the LAN on the peers' side, for a
// BGP speaker other than StartPeer's to run there (in NSPeers).
func (r *Router) AddPeerAddress(addr netip.Addr) error {
	switch {
	case addr.Is4() && LANv4.Contains(addr) && addr != RouterV4:
		return r.addPeerAddress(addr, 24)
	case addr.Is6() && LANv6.Contains(addr) && addr != RouterV6:
		return r.addPeerAddress(addr, 64)
	}
	return fmt.Errorf("peer address %s is not a free address of %s or %s", addr, LANv4, LANv6)
}

func (r *Router) addPeerAddress(addr netip.Addr, plen int) error {
	args := []string{"-n", r.NSPeers, "addr", "add", fmt.Sprintf("%s/%d", addr, plen), "dev", "lan0"}
	if addr.Is6() {
		args = append(args, "nodad")
	}
	return ip(args...)
}

// Vtysh runs commands on the peer.
func (p *Peer) Vtysh(cmds ...string) (string, error) { return vtyshIn(p.ns, p.dir, cmds...) }

// Announce adds prefixes to what the peer announces.
func (p *Peer) Announce(prefixes ...netip.Prefix) error {
	af := "ipv4 unicast"
	if p.Addr.Is6() {
		af = "ipv6 unicast"
	}
	cmds := []string{"configure terminal", fmt.Sprintf("router bgp %d", p.ASN), "address-family " + af}
	for _, pf := range prefixes {
		cmds = append(cmds, "network "+pf.Masked().String())
	}
	_, err := p.Vtysh(cmds...)
	return err
}

// Routes returns the prefixes in the peer's own BGP table of its address
// family: what it announces and what it accepted from the router.
func (p *Peer) Routes() ([]netip.Prefix, error) {
	af := "ipv4"
	if p.Addr.Is6() {
		af = "ipv6"
	}
	out, err := p.Vtysh("show bgp " + af + " unicast json")
	if err != nil {
		return nil, err
	}
	var t struct {
		Routes map[string]json.RawMessage `json:"routes"`
	}
	if err := json.Unmarshal([]byte(out), &t); err != nil {
		return nil, fmt.Errorf("peer %s: show bgp json: %v", p.Addr, err)
	}
	var ps []netip.Prefix
	for k := range t.Routes {
		pf, err := netip.ParsePrefix(k)
		if err != nil {
			return nil, fmt.Errorf("peer %s: route %q: %v", p.Addr, k, err)
		}
		ps = append(ps, pf)
	}
	slices.SortFunc(ps, func(a, b netip.Prefix) int {
		if c := a.Addr().Compare(b.Addr()); c != 0 {
			return c
		}
		return a.Bits() - b.Bits()
	})
	return ps, nil
}

// Stop stops the peer's bgpd (by pid).
func (p *Peer) Stop() {
	if p != nil {
		p.p.stop(5 * time.Second)
	}
}
