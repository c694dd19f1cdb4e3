package junos

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/peering-operator/peering-operator/internal/router"
	"github.com/peering-operator/peering-operator/internal/router/cli"
)

// Junos JSON wraps every leaf as [{"data": "...", "attributes": {...}}].
type leaf []struct {
	Data  string            `json:"data"`
	Attrs map[string]string `json:"attributes"`
}

func (l leaf) String() string {
	if len(l) == 0 {
		return ""
	}
	return l[0].Data
}

type peerJSON struct {
	Address     leaf `json:"peer-address"`
	Group       leaf `json:"peer-group"`
	State       leaf `json:"peer-state"`
	LastError   leaf `json:"last-error"`
	LastFlap    leaf `json:"last-flap-event"`
	ElapsedTime leaf `json:"elapsed-time"`
	RIB         []struct {
		Name     leaf `json:"name"`
		Received leaf `json:"received-prefix-count"`
		Accepted leaf `json:"accepted-prefix-count"`
	} `json:"bgp-rib"`
}

type bgpJSON struct {
	Info []struct {
		Peers []peerJSON `json:"bgp-peer"`
	} `json:"bgp-information"`
}

func parsePeers(out string) ([]peerJSON, error) {
	var b bgpJSON
	i := strings.IndexByte(out, '{')
	if i < 0 {
		return nil, fmt.Errorf("no JSON in output")
	}
	if err := json.Unmarshal([]byte(out[i:strings.LastIndexByte(out, '}')+1]), &b); err != nil {
		return nil, err
	}
	var ps []peerJSON
	for _, in := range b.Info {
		ps = append(ps, in.Peers...)
	}
	return ps, nil
}

// peerAddr strips Junos' "+port".
func peerAddr(s string) (netip.Addr, error) {
	if i := strings.LastIndexByte(s, '+'); i > 0 {
		s = s[:i]
	}
	return netip.ParseAddr(s)
}

// limits reads each owned neighbor's prefix-limit from "display set".
func limits(objs cli.Objects) map[netip.Addr]int64 {
	out := map[netip.Addr]int64{}
	for k, lines := range objs {
		f := strings.Fields(k)
		if f[0] != "neighbor" {
			continue
		}
		a, err := netip.ParseAddr(f[2])
		if err != nil {
			continue
		}
		out[a] = 0
		for _, l := range lines {
			if i := strings.Index(l, " prefix-limit maximum "); i > 0 {
				out[a], _ = strconv.ParseInt(strings.TrimSpace(l[i+len(" prefix-limit maximum "):]), 10, 64)
			}
		}
	}
	return out
}

// states combines the neighbor detail, the summary (for how long a session
// has been up) and the configured limits. Junos gives uptime as elapsed
// seconds, so EstablishedSince is rounded to the minute to stay stable
// between polls.
func states(detail, summary string, limit map[netip.Addr]int64, now time.Time) ([]router.NeighborState, error) {
	peers, err := parsePeers(detail)
	if err != nil {
		return nil, fmt.Errorf("parse show bgp neighbor: %v", err)
	}
	sum, err := parsePeers(summary)
	if err != nil {
		return nil, fmt.Errorf("parse show bgp summary: %v", err)
	}
	up := map[netip.Addr]int64{}
	for _, p := range sum {
		a, err := peerAddr(p.Address.String())
		if err != nil || len(p.ElapsedTime) == 0 {
			continue
		}
		up[a], _ = strconv.ParseInt(p.ElapsedTime[0].Attrs["junos:seconds"], 10, 64)
	}
	var out []router.NeighborState
	for _, p := range peers {
		a, err := peerAddr(p.Address.String())
		if err != nil {
			continue
		}
		lim, owned := limit[a]
		if !owned {
			continue
		}
		st := router.NeighborState{Address: a, State: p.State.String(), Limit: lim}
		if st.State == "Established" {
			if s, ok := up[a]; ok {
				st.EstablishedSince = now.Add(-time.Duration(s) * time.Second).Truncate(time.Minute).UTC()
			}
			for _, r := range p.RIB {
				if n := r.Name.String(); n == "inet.0" || n == "inet6.0" {
					st.Received, _ = strconv.ParseInt(r.Received.String(), 10, 64)
					st.Accepted, _ = strconv.ParseInt(r.Accepted.String(), 10, 64)
				}
			}
		}
		if strings.Contains(strings.ToLower(p.LastFlap.String()), "prefixlimit") {
			st.LastError = fmt.Sprintf("maximum prefix limit %d exceeded; session held down", lim)
		}
		if e := p.LastError.String(); e != "" && e != "None" {
			if st.LastError != "" {
				st.LastError += " (NOTIFICATION: " + e + ")"
			} else {
				st.LastError = "NOTIFICATION: " + e
			}
		}
		out = append(out, st)
	}
	slices.SortFunc(out, func(x, y router.NeighborState) int { return x.Address.Compare(y.Address) })
	return out, nil
}

// State reads the sessions of the owned neighbors.
func (d *Driver) State(ctx context.Context) ([]router.NeighborState, error) {
	return cli.Query(ctx, &d.Base, func(s *cli.Session) ([]router.NeighborState, error) {
		cfg, err := s.Show(ctx, "show configuration protocols bgp | display set")
		if err != nil {
			return nil, err
		}
		objs, _ := parse(cfg)
		detail, err := s.Show(ctx, "show bgp neighbor | display json")
		if err != nil {
			return nil, err
		}
		summary, err := s.Show(ctx, "show bgp summary | display json")
		if err != nil {
			return nil, err
		}
		return states(detail, summary, limits(objs), time.Now())
	})
}

// Clear restarts the sessions of owned neighbors (hard; this also ends a
// prefix-limit teardown), or runs what they sent through the import
// policy again (soft-inbound, no reset).
func (d *Driver) Clear(ctx context.Context, addrs []netip.Addr, soft bool) error {
	return cli.Clear(ctx, d.Conn(), addrs, owned, func(a netip.Addr) []string {
		if soft {
			return []string{"clear bgp neighbor " + a.String() + " soft-inbound"}
		}
		return []string{"clear bgp neighbor " + a.String()}
	})
}

// owned reads which neighbors are in the groups the operator owns.
func owned(ctx context.Context, s *cli.Session) (map[netip.Addr]bool, error) {
	cfg, err := s.Show(ctx, "show configuration protocols bgp | display set")
	if err != nil {
		return nil, err
	}
	objs, _ := parse(cfg)
	m := map[netip.Addr]bool{}
	for a := range limits(objs) {
		m[a] = true
	}
	return m, nil
}
