package gobgp

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"time"

	api "github.com/osrg/gobgp/v3/api"

	"github.com/peering-operator/peering-operator/internal/router"
)

// State reads every managed neighbor: FSM state, established time, prefixes
// received (GoBGP's adj-rib-in count, which is also what its prefix limit
// counts) and accepted, the limit, and the last error.
//
// Accepted is counted from the adj-rib-in listed with filtered paths:
// GoBGP's own "accepted" counter ignores the import policy.
func (d *Driver) State(ctx context.Context) ([]router.NeighborState, error) {
	peers, err := d.listPeers(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("gobgp: ListPeer: %w", err)
	}
	var out []router.NeighborState
	var mine []*api.Peer
	for _, p := range peers {
		a, err := netip.ParseAddr(p.GetConf().GetNeighborAddress())
		if err != nil || !isOwnedPeer(p) {
			continue
		}
		ns := router.NeighborState{Address: a, State: stateName(p.GetState().GetSessionState())}
		var limit uint32
		for _, as := range p.AfiSafis {
			ns.Received += int64(as.GetState().GetReceived())
			limit = max(limit, as.GetPrefixLimits().GetMaxPrefixes())
		}
		ns.Limit = int64(limit)
		if ns.State == "Established" && p.GetTimers().GetState().GetUptime() != nil {
			ns.EstablishedSince = p.Timers.State.Uptime.AsTime()
		}
		ns.LastError = d.sessions.observe(a, observation(p, time.Now()))
		if p.GetState().GetAdminState() == api.PeerState_PFX_CT {
			// gobgpd's own word: the limit tripped and it keeps the
			// session down until the neighbor is enabled again.
			ns.LastError = fmt.Sprintf("maximum prefix limit %d exceeded: GoBGP holds the session down (admin state PFX_CT) until it is cleared", limit)
		}
		out = append(out, ns)
		mine = append(mine, p)
	}
	// Accepted counts need one ListPath per established neighbor; a few in
	// parallel keep a 2,000-neighbor poll short without flooding gobgpd.
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	errs := make([]error, len(out))
	for i := range out {
		if out[i].State != "Established" {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			out[i].Accepted, errs[i] = d.accepted(ctx, out[i].Address, mine[i])
		}(i)
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("gobgp: count accepted prefixes of %s: %w", out[i].Address, err)
		}
	}
	slices.SortFunc(out, func(a, b router.NeighborState) int { return a.Address.Compare(b.Address) })
	return out, nil
}

// accepted lists the neighbor's adj-rib-in with the import policy applied
// (EnableFiltered) and counts the paths it does not reject. For a
// route-server client GoBGP applies the client's own import policy, for
// an ordinary peer the global one.
func (d *Driver) accepted(ctx context.Context, a netip.Addr, p *api.Peer) (int64, error) {
	var n int64
	for _, as := range p.AfiSafis {
		stream, err := d.client.ListPath(ctx, &api.ListPathRequest{
			TableType: api.TableType_ADJ_IN, Name: a.String(), Family: as.GetConfig().GetFamily(),
			EnableFiltered: true, EnableOnlyBinary: true,
		})
		dests, err := recvAll(stream, err)
		if err != nil {
			return 0, err
		}
		for _, dst := range dests {
			for _, path := range dst.GetDestination().GetPaths() {
				if !path.Filtered {
					n++
				}
			}
		}
	}
	return n, nil
}

func stateName(s api.PeerState_SessionState) string {
	switch s {
	case api.PeerState_CONNECT:
		return "Connect"
	case api.PeerState_ACTIVE:
		return "Active"
	case api.PeerState_OPENSENT:
		return "OpenSent"
	case api.PeerState_OPENCONFIRM:
		return "OpenConfirm"
	case api.PeerState_ESTABLISHED:
		return "Established"
	}
	return "Idle"
}

// obs is a snapshot of what GoBGP reports for one neighbor.
type obs struct {
	at          time.Time
	established bool
	uptime      int64 // Unix seconds the last session came up (0: never)
	sentNotif   uint64
	recvNotif   uint64
}

func observation(p *api.Peer, at time.Time) obs {
	st, m := p.GetState(), p.GetState().GetMessages()
	return obs{
		at:          at,
		established: st.GetSessionState() == api.PeerState_ESTABLISHED,
		uptime:      p.GetTimers().GetState().GetUptime().GetSeconds(),
		sentNotif:   m.GetSent().GetNotification(),
		recvNotif:   m.GetReceived().GetNotification(),
	}
}

// classify says what gobgpd reported between two snapshots, or "".
//
// gobgpd's API does not expose why a session went down nor the code of a
// NOTIFICATION (the reason exists inside gobgpd; WatchEvent drops it). It
// reports the admin state (PFX_CT: the prefix limit tripped, read in
// State), the session state, the time the session came up and message
// counters. So the message says only what those show: which side sent a
// NOTIFICATION, or that the connection closed without one. Nothing is
// inferred from timing or route counts: an inference that holds on an idle
// machine fails on a loaded one.
func classify(prev, now obs) string {
	if now.sentNotif < prev.sentNotif || now.recvNotif < prev.recvNotif {
		return "" // counters were reset (neighbor re-created): new baseline
	}
	dSent, dRecv := now.sentNotif-prev.sentNotif, now.recvNotif-prev.recvNotif
	ended := prev.established && (!now.established || now.uptime != prev.uptime) ||
		!prev.established && !now.established && now.uptime != 0 && now.uptime != prev.uptime
	const noCode = " (gobgpd's API does not expose its code)"
	when := " at " + now.at.UTC().Format(time.RFC3339)
	switch {
	case dRecv > 0 && ended:
		return "session closed by the peer with a NOTIFICATION" + noCode + when
	case dRecv > 0 && !now.established: // not a collision resolved by the peer
		return "the peer refused the session with a NOTIFICATION" + noCode + when
	case dSent > 0 && ended:
		return "session closed by gobgpd with a NOTIFICATION" + noCode + when
	case dSent > 0 && !now.established: // not a collision resolved by gobgpd
		return "gobgpd refused the session with a NOTIFICATION" + noCode + when
	case ended:
		return "connection closed without a NOTIFICATION" + when
	}
	return ""
}

// sessionTracker keeps, per neighbor, the last snapshot and the last error
// (in memory: a restarted operator forgets old errors).
type sessionTracker struct {
	mu sync.Mutex
	m  map[netip.Addr]*track
}

type track struct {
	last      *obs
	lastError string
}

func newSessionTracker() *sessionTracker { return &sessionTracker{m: map[netip.Addr]*track{}} }

func (t *sessionTracker) get(a netip.Addr) *track {
	tr := t.m[a]
	if tr == nil {
		tr = &track{}
		t.m[a] = tr
	}
	return tr
}

// observe compares o with the previous snapshot, records what happened,
// and returns the neighbor's last error.
func (t *sessionTracker) observe(a netip.Addr, o obs) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	tr := t.get(a)
	if tr.last != nil && o.at.Before(tr.last.at) {
		return tr.lastError // older than what we have (a concurrent read)
	}
	if tr.last != nil {
		if msg := classify(*tr.last, o); msg != "" {
			tr.lastError = msg
		}
	}
	tr.last = &o
	return tr.lastError
}

// added records a neighbor the driver just created: its counters start at
// zero, so a NOTIFICATION before the first State is still reported.
func (t *sessionTracker) added(a netip.Addr) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.m[a] = &track{last: &obs{at: time.Now()}}
}

// wasEstablished: the last snapshot of addr saw the session up.
func (t *sessionTracker) wasEstablished(addr string) bool {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	tr := t.m[a]
	return tr != nil && tr.last != nil && tr.last.established
}

// drop forgets a neighbor the driver removed.
func (t *sessionTracker) drop(a netip.Addr) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.m, a)
}

// forget drops the snapshot (the driver reset or removed the session on
// purpose), keeping the last error.
func (t *sessionTracker) forget(a netip.Addr) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if tr := t.m[a]; tr != nil {
		tr.last = nil
	}
}

// watch follows gobgpd's peer events so session transitions are noted
// when they happen, not only when State is called: the counters of a
// neighbor are read right after each of its state changes.
func (d *Driver) watch(ctx context.Context) {
	defer close(d.watchDone)
	backoff := time.Second
	for {
		stream, err := d.client.WatchEvent(ctx, &api.WatchEventRequest{Peer: &api.WatchEventRequest_Peer{}})
		// seen: each neighbor's last state on this stream, which starts
		// with every existing neighbor's (INIT events).
		seen := map[string]api.PeerState_SessionState{}
		for err == nil {
			var ev *api.WatchEventResponse
			if ev, err = stream.Recv(); err != nil {
				break
			}
			backoff = time.Second
			pe := ev.GetPeer()
			if pe == nil || (pe.Type != api.WatchEventResponse_PeerEvent_STATE && pe.Type != api.WatchEventResponse_PeerEvent_INIT) {
				continue
			}
			addr := pe.GetPeer().GetState().GetNeighborAddress()
			st, prev := pe.GetPeer().GetState().GetSessionState(), seen[addr]
			seen[addr] = st
			if pe.Type != api.WatchEventResponse_PeerEvent_STATE {
				continue
			}
			if mayChangeLastError(prev, st) || d.sessions.wasEstablished(addr) {
				d.observeOne(ctx, addr)
			}
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}

// mayChangeLastError: a transition from prev (UNKNOWN: none seen) to st
// that can change a neighbor's last error: into Established, or back to
// Idle after an OPEN was sent (only then can a NOTIFICATION lead there).
// Idle->Active is not, nor the Idle gobgpd announces a new neighbor with:
// each read is a ListPeer that costs gobgpd a walk over every neighbor,
// 2,000 of them for 2,000 new neighbors.
func mayChangeLastError(prev, st api.PeerState_SessionState) bool {
	return st == api.PeerState_ESTABLISHED || st == api.PeerState_IDLE && prev >= api.PeerState_OPENSENT
}

func (d *Driver) observeOne(ctx context.Context, addr string) {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	peers, err := d.listPeers(cctx, addr)
	if err != nil || len(peers) != 1 || !isOwnedPeer(peers[0]) {
		return
	}
	d.sessions.observe(a, observation(peers[0], time.Now()))
}
