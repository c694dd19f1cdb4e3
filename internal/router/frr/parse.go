package frr

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/peering-operator/peering-operator/internal/router/cli"
)

// parseRunning reads "show running-config" into the parts the driver
// reasons about. Lines it does not know are skipped: they belong to
// configuration it never touches.
func parseRunning(text string) (*config, error) {
	c := newConfig()
	const (
		top = iota
		inBGP
		inOtherBGP // a VRF or view instance: not ours
		inAF
		inRmap
		inOther // some other block
		inRPKI
	)
	state := top
	af := -1
	var rm *rmEntry
	var rmName string
	nbr := func(a netip.Addr) *neighbor {
		n := c.nbrs[a]
		if n == nil {
			n = &neighbor{addr: a}
			// With "bgp default ipv4-unicast" (FRR's default) every
			// neighbor, IPv6 ones included, starts active in IPv4.
			if c.defaultV4 {
				n.af[v4].active = true
			}
			c.nbrs[a] = n
		}
		return n
	}
	for raw := range strings.SplitSeq(text, "\n") {
		line := strings.TrimRight(raw, " \r")
		t := strings.TrimSpace(line)
		if t == "" || t == "!" {
			continue
		}
		indented := line[0] == ' '
		if !indented {
			// A new top-level statement ends any block.
			if rm != nil {
				c.addRmapEntry(rmName, *rm)
				rm = nil
			}
			state = top
		}
		f := strings.Fields(t)
		switch state {
		case top:
			switch {
			case f[0] == "router" && len(f) >= 3 && f[1] == "bgp":
				if len(f) > 3 { // "router bgp N vrf X" / "view X"
					state = inOtherBGP
					continue
				}
				asn, err := strconv.ParseUint(f[2], 10, 32)
				if err != nil {
					return nil, fmt.Errorf("parse %q: %v", t, err)
				}
				c.asn = uint32(asn)
				state = inBGP
			case (f[0] == "ip" || f[0] == "ipv6") && len(f) >= 3 && f[1] == "prefix-list":
				if err := c.addPrefixListLine(f); err != nil {
					return nil, err
				}
			case f[0] == "bgp" && len(f) >= 7 && f[1] == "as-path" && f[2] == "access-list" && f[4] == "seq":
				if err := addSeqLine(c.aspaths, f[3], f[5], f[6:]); err != nil {
					return nil, fmt.Errorf("parse %q: %v", t, err)
				}
			case f[0] == "bgp" && len(f) >= 8 && f[1] == "large-community-list" && f[2] == "expanded" && f[4] == "seq":
				if err := addSeqLine(c.lclists, f[3], f[5], f[6:]); err != nil {
					return nil, fmt.Errorf("parse %q: %v", t, err)
				}
			case f[0] == "bgp" && len(f) >= 8 && f[1] == "community-list" && f[2] == "standard" && f[4] == "seq":
				if err := addSeqLine(c.clists, f[3], f[5], f[6:]); err != nil {
					return nil, fmt.Errorf("parse %q: %v", t, err)
				}
			case f[0] == "rpki" && len(f) == 1:
				state = inRPKI
			case f[0] == "route-map" && len(f) == 4:
				seq, err := strconv.ParseInt(f[3], 10, 64)
				if err != nil {
					return nil, fmt.Errorf("parse %q: %v", t, err)
				}
				rmName = f[1]
				rm = &rmEntry{action: f[2], seq: seq}
				state = inRmap
			default:
				state = inOther
			}
		case inRPKI:
			if f[0] == "rpki" && len(f) > 1 && f[1] == "cache" {
				c.rpki = append(c.rpki, t)
			}
		case inRmap:
			if t == "exit" {
				continue
			}
			rm.lines = append(rm.lines, t)
		case inBGP, inAF:
			switch {
			case t == "exit":
				continue
			case strings.HasPrefix(t, "address-family "):
				af = -1
				switch strings.TrimPrefix(t, "address-family ") {
				case afName[v4]:
					af = v4
				case afName[v6]:
					af = v6
				}
				state = inAF
				continue
			case t == "exit-address-family":
				state, af = inBGP, -1
				continue
			}
			if state == inBGP {
				switch {
				case t == "bgp router-id" || strings.HasPrefix(t, "bgp router-id "):
					c.routerID = strings.TrimSpace(strings.TrimPrefix(t, "bgp router-id"))
				case t == "bgp default shutdown":
					c.defaultShutdown = true
				case t == "no bgp default ipv4-unicast":
					c.defaultV4 = false
					// Neighbors seen before this line (FRR prints it
					// first, but be safe) lose the implicit activation.
					for _, n := range c.nbrs {
						n.af[v4].active = false
					}
				case f[0] == "neighbor" && len(f) >= 3:
					a, err := netip.ParseAddr(f[1])
					if err != nil {
						continue // interface or peer-group neighbor
					}
					n := nbr(a)
					rest := strings.TrimSpace(strings.TrimPrefix(t, "neighbor "+f[1]))
					switch {
					case f[2] == "remote-as" && len(f) >= 4:
						n.remoteAS = f[3]
					case f[2] == "description":
						n.desc = strings.TrimSpace(strings.TrimPrefix(rest, "description"))
					case f[2] == "password" && len(f) >= 4:
						n.password = f[3]
					case f[2] == "shutdown":
						n.shutdown = true
					}
				}
				continue
			}
			// Inside an address family.
			if af < 0 {
				continue
			}
			no := false
			if f[0] == "no" {
				no, f = true, f[1:]
			}
			if len(f) < 3 || f[0] != "neighbor" {
				continue
			}
			a, err := netip.ParseAddr(f[1])
			if err != nil {
				continue
			}
			n := nbr(a)
			s := &n.af[af]
			switch f[2] {
			case "activate":
				s.active = !no
			case "soft-reconfiguration":
				s.softIn = !no
			case "route-server-client":
				s.rsClient = !no
			case "maximum-prefix":
				if !no {
					s.maxPrefix = strings.Join(f[3:], " ")
				}
			case "route-map":
				if !no && len(f) == 5 && f[4] == "in" {
					s.routeMapIn = f[3]
				}
				if !no && len(f) == 5 && f[4] == "out" {
					s.routeMapOut = f[3]
				}
			}
		}
	}
	if rm != nil {
		c.addRmapEntry(rmName, *rm)
	}
	return c, nil
}

// addSeqLine adds "seq SEQ ACTION REGEX..." to the list name of lists.
func addSeqLine(lists map[string]*asPathList, name, seqText string, entry []string) error {
	seq, err := strconv.ParseInt(seqText, 10, 64)
	if err != nil {
		return err
	}
	al := lists[name]
	if al == nil {
		al = &asPathList{name: name, entries: map[int64]string{}}
		lists[name] = al
	}
	al.entries[seq] = strings.Join(entry, " ")
	return nil
}

func (c *config) addRmapEntry(name string, e rmEntry) {
	rm := c.rmaps[name]
	if rm == nil {
		rm = &routeMap{name: name}
		c.rmaps[name] = rm
	}
	rm.entries = append(rm.entries, e)
}

// addPrefixListLine parses "ip[v6] prefix-list NAME seq N ACTION PREFIX
// [ge X] [le Y]" (other forms, like descriptions, are ignored).
func (c *config) addPrefixListLine(f []string) error {
	if len(f) < 7 || f[3] != "seq" {
		return nil
	}
	v6 := f[0] == "ipv6"
	seq, err := strconv.ParseInt(f[4], 10, 64)
	if err != nil {
		return fmt.Errorf("parse prefix-list seq %q: %v", f[4], err)
	}
	r, err := parseRange(f[6], f[7:], v6)
	if err != nil {
		return fmt.Errorf("parse %q: %v", strings.Join(f, " "), err)
	}
	pl := &prefixList{name: f[2], v6: v6}
	if old := c.plists[pl.cmd()]; old != nil {
		pl = old
	} else {
		c.plists[pl.cmd()] = pl
	}
	pl.entries = append(pl.entries, plEntry{seq: seq, action: f[5], r: r})
	return nil
}

func parseRange(p string, opts []string, isV6 bool) (cli.Range, error) {
	if p == "any" {
		if isV6 {
			return denyAll(v6), nil
		}
		return denyAll(v4), nil
	}
	pfx, err := netip.ParsePrefix(p)
	if err != nil {
		return cli.Range{}, err
	}
	pfx = pfx.Masked()
	r := cli.Range{Prefix: pfx, Lo: pfx.Bits(), Hi: pfx.Bits()}
	ge, le := -1, -1
	for i := 0; i+1 < len(opts); i += 2 {
		v, err := strconv.Atoi(opts[i+1])
		if err != nil {
			return cli.Range{}, err
		}
		switch opts[i] {
		case "ge":
			ge = v
		case "le":
			le = v
		}
	}
	switch {
	case ge >= 0 && le >= 0:
		r.Lo, r.Hi = ge, le
	case ge >= 0:
		r.Lo, r.Hi = ge, pfx.Addr().BitLen()
	case le >= 0:
		r.Hi = le
	}
	return r, nil
}
