package frr

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/peering-operator/peering-operator/internal/router"
	"github.com/peering-operator/peering-operator/internal/router/cli"
)

// nbrJSON is the part of FRR's "show bgp neighbors json" State reads.
type nbrJSON struct {
	Desc                   string `json:"nbrDesc"`
	State                  string `json:"bgpState"`
	UpEpoch                int64  `json:"bgpTimerUpEstablishedEpoch"`
	UpMsec                 int64  `json:"bgpTimerUpMsec"`
	LastNotificationReason string `json:"lastNotificationReason"`
	LastResetDueTo         string `json:"lastResetDueTo"`
	ExceedMax              bool   `json:"prefixesConfigExceedMax"`
	AF                     map[string]struct {
		SoftIn   bool  `json:"inboundSoftConfigPermit"`
		Accepted int64 `json:"acceptedPrefixCounter"`
		Max      int64 `json:"prefixAllowedMax"`
	} `json:"addressFamilyInfo"`
}

// afKey is FRR's JSON name of an address family.
var afKey = [2]string{"ipv4Unicast", "ipv6Unicast"}

// parseNeighbors turns "show bgp neighbors json" into states of the managed
// neighbors, ordered by address. now is the time reference when FRR gives
// no epoch.
func parseNeighbors(out string, now time.Time) ([]router.NeighborState, map[netip.Addr]bool, error) {
	raw := map[string]json.RawMessage{}
	if err := json.Unmarshal([]byte(jsonPart(out)), &raw); err != nil {
		return nil, nil, fmt.Errorf("parse show bgp neighbors json: %v", err)
	}
	var states []router.NeighborState
	softIn := map[netip.Addr]bool{}
	for k, v := range raw {
		a, err := netip.ParseAddr(k)
		if err != nil {
			continue
		}
		var n nbrJSON
		if err := json.Unmarshal(v, &n); err != nil {
			return nil, nil, fmt.Errorf("parse neighbor %s: %v", a, err)
		}
		if !cli.Managed(n.Desc) {
			continue
		}
		st := router.NeighborState{Address: a, State: fsmState(n.State)}
		af := n.AF[afKey[familyOf(a)]]
		st.Accepted, st.Limit = af.Accepted, af.Max
		if st.State == "Established" {
			switch {
			case n.UpEpoch > 0:
				st.EstablishedSince = time.Unix(n.UpEpoch, 0).UTC()
			case n.UpMsec > 0:
				st.EstablishedSince = now.Add(-time.Duration(n.UpMsec) * time.Millisecond).Truncate(time.Second).UTC()
			}
			softIn[a] = af.SoftIn
		} else {
			st.Accepted = 0
		}
		st.LastError = lastError(n, af.Max)
		states = append(states, st)
	}
	slices.SortFunc(states, func(a, b router.NeighborState) int { return a.Address.Compare(b.Address) })
	return states, softIn, nil
}

// fsmState maps FRR's state names onto the BGP FSM's.
func fsmState(s string) string {
	switch s {
	case "Idle", "Connect", "Active", "OpenSent", "OpenConfirm", "Established":
		return s
	case "":
		return "Idle"
	default: // Clearing, Deleted
		return "Idle"
	}
}

// lastError is the last NOTIFICATION, or the max-prefix trip, in words.
func lastError(n nbrJSON, limit int64) string {
	dir := "received"
	if strings.Contains(strings.ToLower(n.LastResetDueTo), "send") || strings.Contains(strings.ToLower(n.LastResetDueTo), "sent") {
		dir = "sent"
	}
	switch {
	case n.ExceedMax:
		msg := fmt.Sprintf("maximum prefix limit %d exceeded; session held down", limit)
		if n.LastNotificationReason != "" {
			msg += " (NOTIFICATION " + dir + ": " + n.LastNotificationReason + ")"
		}
		return msg
	case n.LastNotificationReason != "":
		return "NOTIFICATION " + dir + ": " + n.LastNotificationReason
	}
	return ""
}

// jsonPart cuts anything around the JSON document (a stray prompt or
// echo).
func jsonPart(s string) string {
	i, j := strings.IndexByte(s, '{'), strings.LastIndexByte(s, '}')
	if i < 0 || j < i {
		return s // not JSON: let the decoder say so
	}
	return s[i : j+1]
}

// prefixCounts is "show bgp ... neighbors X prefix-counts json".
type prefixCounts struct {
	Walk map[string]int64 `json:"ribTableWalkCounters"`
}

// State reads every managed neighbor's session. Received counts the
// neighbor's Adj-RIB-In (before the import filter; one extra command per
// established neighbor), Accepted what passed the filter.
func (d *Driver) State(ctx context.Context) ([]router.NeighborState, error) {
	var states []router.NeighborState
	err := d.conn.Do(ctx, func(s *cli.Session) error {
		out, err := s.Show(ctx, "show bgp neighbors json")
		if err != nil {
			return err
		}
		var softIn map[netip.Addr]bool
		states, softIn, err = parseNeighbors(out, time.Now())
		if err != nil {
			return err
		}
		for i := range states {
			st := &states[i]
			if st.State != "Established" {
				continue
			}
			if !softIn[st.Address] {
				st.Received = st.Accepted // FRR keeps no rejected routes
				continue
			}
			afi := "ipv4"
			if st.Address.Is6() {
				afi = "ipv6"
			}
			out, err := s.Show(ctx, fmt.Sprintf("show bgp %s unicast neighbors %s prefix-counts json", afi, st.Address))
			if err != nil {
				return err
			}
			st.Received = adjIn(out)
		}
		return nil
	})
	return states, err
}

// adjIn reads the Adj-RIB-In count from "prefix-counts json" (-1 when the
// output cannot be read).
func adjIn(out string) int64 {
	var pc prefixCounts
	if err := json.Unmarshal([]byte(jsonPart(out)), &pc); err != nil {
		return -1
	}
	if v, ok := pc.Walk["Adj-in"]; ok {
		return v
	}
	return -1
}
