package iosxr

import (
	"context"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/peering-operator/peering-operator/internal/router"
	"github.com/peering-operator/peering-operator/internal/router/cli"
)

var (
	reState    = regexp.MustCompile(`^BGP state = (\w+)(?:.*?, up for (\S+))?(.*)$`)
	reAccepted = regexp.MustCompile(`^(\d+) accepted prefixes`)
	reDenied   = regexp.MustCompile(`^Exact no\. of prefixes denied\s*:\s*(\d+)`)
	reMax      = regexp.MustCompile(`^Maximum prefixes allowed (\d+)`)
	reReset    = regexp.MustCompile(`^Last reset \S+, due to (.+)$`)
	reUnit     = regexp.MustCompile(`(\d+)([ywdhm])`)
)

// uptime reads IOS-XR durations: "01:02:03", "1d02h", "3w2d", "1y2w".
func uptime(s string) (time.Duration, bool) {
	if strings.Count(s, ":") == 2 {
		var h, m, sec int
		f := strings.Split(s, ":")
		h, _ = strconv.Atoi(f[0])
		m, _ = strconv.Atoi(f[1])
		sec, _ = strconv.Atoi(f[2])
		return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(sec)*time.Second, true
	}
	unit := map[string]time.Duration{"y": 365 * 24 * time.Hour, "w": 7 * 24 * time.Hour, "d": 24 * time.Hour, "h": time.Hour, "m": time.Minute}
	var d time.Duration
	ms := reUnit.FindAllStringSubmatch(s, -1)
	for _, m := range ms {
		n, _ := strconv.Atoi(m[1])
		d += time.Duration(n) * unit[m[2]]
	}
	return d, len(ms) > 0
}

// parseNeighbors reads "show bgp neighbors" (text: IOS-XR has no JSON for
// it) into the states of the neighbors with our description marker.
// IOS-XR gives uptime relative to now, so EstablishedSince is rounded to
// the minute to stay stable between polls. Received is accepted plus
// what the import policy denied.
func parseNeighbors(out string, now time.Time) []router.NeighborState {
	var states []router.NeighborState
	var cur *router.NeighborState
	var owned bool
	var denied int64
	var reset string
	done := func() {
		if cur != nil && owned {
			cur.Received = cur.Accepted + denied
			if cur.State != "Established" {
				cur.Accepted, cur.Received = 0, 0
			}
			low := strings.ToLower(reset)
			switch {
			case strings.Contains(low, "maximum prefix"):
				cur.LastError = "maximum prefix limit " + strconv.FormatInt(cur.Limit, 10) + " exceeded; session held down (" + reset + ")"
			case strings.Contains(low, "notification"):
				cur.LastError = reset
			}
			states = append(states, *cur)
		}
		cur, owned, denied, reset = nil, false, 0, ""
	}
	for raw := range strings.SplitSeq(out, "\n") {
		t := strings.TrimSpace(raw)
		if a, ok := strings.CutPrefix(t, "BGP neighbor is "); ok {
			done()
			addr, err := netip.ParseAddr(strings.Fields(a)[0])
			if err != nil {
				continue
			}
			cur = &router.NeighborState{Address: addr, State: "Idle"}
			continue
		}
		if cur == nil {
			continue
		}
		if d, ok := strings.CutPrefix(t, "Description: "); ok {
			owned = cli.Managed(d)
		} else if m := reState.FindStringSubmatch(t); m != nil {
			cur.State = m[1]
			if m[1] == "Established" && m[2] != "" {
				if d, ok := uptime(m[2]); ok {
					cur.EstablishedSince = now.Add(-d).Truncate(time.Minute).UTC()
				}
			}
			if strings.Contains(strings.ToLower(m[3]), "maximum prefix") {
				reset = strings.Trim(strings.TrimSpace(m[3]), "()")
			}
		} else if m := reAccepted.FindStringSubmatch(t); m != nil {
			cur.Accepted, _ = strconv.ParseInt(m[1], 10, 64)
		} else if m := reDenied.FindStringSubmatch(t); m != nil {
			denied, _ = strconv.ParseInt(m[1], 10, 64)
		} else if m := reMax.FindStringSubmatch(t); m != nil {
			cur.Limit, _ = strconv.ParseInt(m[1], 10, 64)
		} else if m := reReset.FindStringSubmatch(t); m != nil {
			reset = m[1]
		}
	}
	done()
	slices.SortFunc(states, func(x, y router.NeighborState) int { return x.Address.Compare(y.Address) })
	return states
}

// State reads the sessions of the owned neighbors.
func (d *Driver) State(ctx context.Context) ([]router.NeighborState, error) {
	return cli.Query(ctx, &d.Base, func(s *cli.Session) ([]router.NeighborState, error) {
		text, err := s.Show(ctx, "show bgp neighbors")
		if err != nil {
			return nil, err
		}
		return parseNeighbors(text, time.Now()), nil
	})
}

// Clear restarts the sessions of owned neighbors (hard; this also brings
// back one that maximum-prefix tore down), or runs what they sent through
// the import policy again (soft in, no reset).
func (d *Driver) Clear(ctx context.Context, addrs []netip.Addr, soft bool) error {
	return cli.Clear(ctx, d.Conn(), addrs, owned, func(a netip.Addr) []string {
		l := "clear bgp ipv4 unicast " + a.String()
		if a.Is6() {
			l = "clear bgp ipv6 unicast " + a.String()
		}
		if soft {
			l += " soft in"
		}
		return []string{l}
	})
}

// owned reads which neighbors carry our description marker.
func owned(ctx context.Context, s *cli.Session) (map[netip.Addr]bool, error) {
	out, err := s.Show(ctx, "show running-config router bgp")
	if err != nil {
		return nil, err
	}
	m := map[netip.Addr]bool{}
	for k := range parse(out).objs {
		if a, ok := strings.CutPrefix(k, "neighbor "); ok {
			m[netip.MustParseAddr(a)] = true
		}
	}
	return m, nil
}
