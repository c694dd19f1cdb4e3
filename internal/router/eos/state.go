package eos

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/peering-operator/peering-operator/internal/router"
	"github.com/peering-operator/peering-operator/internal/router/cli"
)

// summaryJSON is EOS' "show ip[v6] bgp summary | json".
type summaryJSON struct {
	VRFs map[string]struct {
		Peers map[string]struct {
			State       string  `json:"peerState"`
			IdleReason  string  `json:"peerStateIdleReason"`
			Received    int64   `json:"prefixReceived"`
			Accepted    int64   `json:"prefixAccepted"`
			UpDownTime  float64 `json:"upDownTime"`
			Description string  `json:"description"`
		} `json:"peers"`
	} `json:"vrfs"`
}

// states reads the default VRF's peers from the summaries; limits come
// from the configuration (only owned neighbors have one). upDownTime is an
// epoch, so EstablishedSince is exact and stable.
func states(summaries []string, limit map[netip.Addr]int64) ([]router.NeighborState, error) {
	var out []router.NeighborState
	for _, s := range summaries {
		var sum summaryJSON
		i, j := strings.IndexByte(s, '{'), strings.LastIndexByte(s, '}')
		if i < 0 || j < i {
			return nil, fmt.Errorf("no JSON in bgp summary output")
		}
		if err := json.Unmarshal([]byte(s[i:j+1]), &sum); err != nil {
			return nil, fmt.Errorf("parse bgp summary: %v", err)
		}
		for k, p := range sum.VRFs["default"].Peers {
			a, err := netip.ParseAddr(k)
			if err != nil {
				continue
			}
			lim, owned := limit[a]
			if !owned {
				continue
			}
			st := router.NeighborState{Address: a, State: p.State, Limit: lim}
			if st.State == "Established" {
				st.Received, st.Accepted = p.Received, p.Accepted
				sec, frac := math.Modf(p.UpDownTime)
				st.EstablishedSince = time.Unix(int64(sec), 0).Add(time.Duration(frac * float64(time.Second))).Truncate(time.Second).UTC()
			}
			switch r := strings.ToLower(p.IdleReason); {
			case strings.Contains(r, "maxroutes") || strings.Contains(r, "maximum"):
				st.LastError = fmt.Sprintf("maximum prefix limit %d exceeded; session held down (%s)", lim, p.IdleReason)
			case r != "" && r != "admin":
				st.LastError = "idle: " + p.IdleReason
			}
			out = append(out, st)
		}
	}
	slices.SortFunc(out, func(x, y router.NeighborState) int { return x.Address.Compare(y.Address) })
	return out, nil
}

// limits reads maximum-routes of the owned neighbors.
func limits(objs cli.Objects) map[netip.Addr]int64 {
	out := map[netip.Addr]int64{}
	for k, lines := range objs {
		a, ok := strings.CutPrefix(k, "neighbor ")
		if !ok {
			continue
		}
		addr := netip.MustParseAddr(a)
		out[addr] = 0
		for _, l := range lines {
			if v, ok := strings.CutPrefix(l, "maximum-routes "); ok {
				out[addr], _ = strconv.ParseInt(strings.Fields(v)[0], 10, 64)
			}
		}
	}
	return out
}

// State reads the sessions of the owned neighbors.
func (d *Driver) State(ctx context.Context) ([]router.NeighborState, error) {
	return cli.Query(ctx, &d.Base, func(s *cli.Session) ([]router.NeighborState, error) {
		have, err := read(ctx, s)
		if err != nil {
			return nil, err
		}
		var sums []string
		for _, c := range []string{"show ip bgp summary | json", "show ipv6 bgp summary | json"} {
			o, err := s.Show(ctx, c)
			if err != nil {
				return nil, err
			}
			sums = append(sums, o)
		}
		return states(sums, limits(have.objs))
	})
}

// Clear restarts the sessions of owned neighbors (hard; this also brings
// back one that maximum-routes tore down), or runs what they sent through
// the import policy again (soft in, no reset).
func (d *Driver) Clear(ctx context.Context, addrs []netip.Addr, soft bool) error {
	return cli.Clear(ctx, d.Conn(), addrs, owned, func(a netip.Addr) []string {
		l := "clear ip bgp " + a.String()
		if a.Is6() {
			l = "clear ipv6 bgp " + a.String()
		}
		if soft {
			l += " soft in"
		}
		return []string{l}
	})
}

// owned reads which neighbors carry our description marker.
func owned(ctx context.Context, s *cli.Session) (map[netip.Addr]bool, error) {
	have, err := read(ctx, s)
	if err != nil {
		return nil, err
	}
	m := map[netip.Addr]bool{}
	for a := range limits(have.objs) {
		m[a] = true
	}
	return m, nil
}
