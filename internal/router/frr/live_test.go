package frr

// Tests against a real FRR reached over SSH (internal/frrtest). They need
// root, frr and openssh-server; without them they skip, except with CI=true.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"

	"github.com/peering-operator/peering-operator/internal/frrtest"
	"github.com/peering-operator/peering-operator/internal/router"
	"github.com/peering-operator/peering-operator/internal/router/cli"
)

func liveConfig(r *frrtest.Router, useKey bool) cli.Config {
	c := cli.Config{Host: r.Host, Port: r.Port, Username: r.User, KnownHosts: r.KnownHosts, CommandTimeout: 30 * time.Second, DialTimeout: 5 * time.Second}
	if useKey {
		c.PrivateKey = r.PrivateKey
	} else {
		c.Password = router.Secret(r.Password)
	}
	return c
}

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }
func addr(s string) netip.Addr  { return netip.MustParseAddr(s) }

func desired(ns ...router.Neighbor) router.Desired {
	return router.Desired{LocalASN: 65000, RouterID: addr("192.0.2.1"), Neighbors: ns}
}

func exact(ps ...string) []router.Entry {
	var es []router.Entry
	for _, p := range ps {
		es = append(es, router.Entry{Prefix: pfx(p), Exact: true})
	}
	return es
}

// eventually polls f until it returns "" (success) or the deadline.
func eventually(t *testing.T, d time.Duration, f func() string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		msg := f()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timeout after %s: %s", d, msg)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func stateOf(t *testing.T, d *Driver, a netip.Addr) (router.NeighborState, string) {
	t.Helper()
	sts, err := d.State(context.Background())
	if err != nil {
		return router.NeighborState{}, err.Error()
	}
	for _, s := range sts {
		if s.Address == a {
			return s, ""
		}
	}
	return router.NeighborState{}, fmt.Sprintf("no state for %s in %+v", a, sts)
}

func vtysh(t *testing.T, r *frrtest.Router, cmds ...string) string {
	t.Helper()
	out, err := r.Vtysh(cmds...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Two neighbors come up with peers on the LAN; the filter lets one route
// in and keeps one out, as the router itself shows; a second apply writes
// nothing.
func TestLiveSessionsAndFilters(t *testing.T) {
	r := frrtest.StartFRR(t, frrtest.Options{})
	if _, err := r.StartPeer(65001, addr("192.0.2.2"), pfx("203.0.113.0/25"), pfx("203.0.113.128/25")); err != nil {
		t.Fatal(err)
	}
	if _, err := r.StartPeer(65002, addr("2001:db8::2"), pfx("2001:db8:f000::/48"), pfx("2001:db8:f001::/48")); err != nil {
		t.Fatal(err)
	}
	d := New(liveConfig(r, false)) // password login
	defer d.Close()
	ctx := context.Background()
	des := desired(
		// As the controller sets them for peers with private ASNs: first
		// AS enforced, no bogon-ASN check (it would reject everything).
		router.Neighbor{Address: addr("192.0.2.2"), PeerASN: 65001, Owner: "peers/as65001", Description: "Example v4", MaxPrefixes: 10, Import: exact("203.0.113.0/25"), EnforceFirstAS: true},
		router.Neighbor{Address: addr("2001:db8::2"), PeerASN: 65002, Owner: "peers/as65002", RouteServerClient: true, MaxPrefixes: 20, Import: exact("2001:db8:f000::/48"), EnforceFirstAS: true},
	)
	res, err := d.Apply(ctx, des)
	if err != nil {
		t.Fatal(err)
	}
	if res.Added != 2 || !res.Changed() || len(res.Digest) != 64 {
		t.Errorf("result %+v", res)
	}
	start := time.Now()
	for _, c := range []struct {
		a     netip.Addr
		limit int64
	}{{addr("192.0.2.2"), 10}, {addr("2001:db8::2"), 20}} {
		eventually(t, 60*time.Second, func() string {
			s, msg := stateOf(t, d, c.a)
			if msg != "" {
				return msg
			}
			if s.State != "Established" || s.Received != 2 || s.Accepted != 1 || s.Limit != c.limit {
				return fmt.Sprintf("%+v", s)
			}
			// LastError is history (the last NOTIFICATION, even of a
			// session that came back), but no limit may have tripped.
			if s.EstablishedSince.IsZero() || s.EstablishedSince.Before(start.Add(-time.Minute)) || strings.Contains(s.LastError, "maximum prefix") {
				return fmt.Sprintf("%+v", s)
			}
			return ""
		})
	}
	// On the router itself: inside the filter accepted, outside rejected
	// (but received: soft-reconfiguration keeps it in Adj-RIB-In).
	v4 := vtysh(t, r, "show bgp ipv4 unicast json")
	if !strings.Contains(v4, `"203.0.113.0/25"`) || strings.Contains(v4, `"203.0.113.128/25"`) {
		t.Errorf("IPv4 RIB:\n%s", v4)
	}
	v6 := vtysh(t, r, "show bgp ipv6 unicast json")
	if !strings.Contains(v6, `"2001:db8:f000::/48"`) || strings.Contains(v6, `"2001:db8:f001::/48"`) {
		t.Errorf("IPv6 RIB:\n%s", v6)
	}
	if rr := vtysh(t, r, "show bgp ipv4 unicast neighbors 192.0.2.2 received-routes"); !strings.Contains(rr, "203.0.113.128/25") {
		t.Errorf("received-routes:\n%s", rr)
	}

	before := d.Stats()
	res, err = d.Apply(ctx, des)
	if err != nil || res.Changed() {
		t.Fatalf("second apply: %+v %v", res, err)
	}
	if after := d.Stats(); after.Writes != before.Writes {
		t.Errorf("second apply wrote %d lines", after.Writes-before.Writes)
	}

	// Widening the filter lets the second route in (FRR applies filter
	// changes after its route-map delay timer, ~5s).
	des.Neighbors[0].Import = exact("203.0.113.0/25", "203.0.113.128/25")
	if res, err = d.Apply(ctx, des); err != nil || res.Updated != 1 {
		t.Fatalf("widen: %+v %v", res, err)
	}
	eventually(t, 30*time.Second, func() string {
		s, msg := stateOf(t, d, addr("192.0.2.2"))
		if msg == "" && s.Accepted != 2 {
			msg = fmt.Sprintf("%+v", s)
		}
		return msg
	})
}

// A peer that sends more than its limit loses the session, and LastError
// says why. The limit counts what the peer sends, filtered or not: here
// the filter accepts one of three routes.
func TestLiveMaxPrefix(t *testing.T) {
	r := frrtest.StartFRR(t, frrtest.Options{})
	if _, err := r.StartPeer(65001, addr("192.0.2.2"), pfx("203.0.113.0/26"), pfx("203.0.113.64/26"), pfx("203.0.113.128/26")); err != nil {
		t.Fatal(err)
	}
	d := New(liveConfig(r, true))
	defer d.Close()
	_, err := d.Apply(context.Background(), desired(router.Neighbor{Address: addr("192.0.2.2"), PeerASN: 65001, Owner: "p/q", MaxPrefixes: 2,
		Import: exact("203.0.113.0/26")}))
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, func() string {
		s, msg := stateOf(t, d, addr("192.0.2.2"))
		if msg != "" {
			return msg
		}
		if s.State == "Established" || !strings.Contains(s.LastError, "maximum prefix limit 2 exceeded") || !strings.Contains(s.LastError, "Maximum Number of Prefixes Reached") {
			return fmt.Sprintf("%+v", s)
		}
		return ""
	})
	if out := vtysh(t, r, "show bgp summary"); !strings.Contains(out, "PfxCt") {
		t.Errorf("router does not show the trip:\n%s", out)
	}
}

var handBGP = []string{"neighbor 192.0.2.99 remote-as 65099", "neighbor 192.0.2.99 description transit by hand"}
var handGlobal = []string{"ip prefix-list HAND seq 5 permit 192.0.2.0/24", "route-map HAND permit 10", " match ip address prefix-list HAND", "exit"}

// Removing a neighbor removes it and its filter; what was configured by
// hand stays, and a desired neighbor that collides with it is refused
// without a write.
func TestLiveRemoveKeepsHandMade(t *testing.T) {
	r := frrtest.StartFRR(t, frrtest.Options{BGPConfig: handBGP, Config: handGlobal})
	d := New(liveConfig(r, true))
	defer d.Close()
	ctx := context.Background()
	a := router.Neighbor{Address: addr("192.0.2.2"), PeerASN: 65001, Owner: "p/a", Import: exact("203.0.113.0/24")}
	b := router.Neighbor{Address: addr("2001:db8::3"), PeerASN: 65003, Owner: "p/b", Import: exact("2001:db8:f000::/48")}
	if _, err := d.Apply(ctx, desired(a, b)); err != nil {
		t.Fatal(err)
	}
	res, err := d.Apply(ctx, desired(a))
	if err != nil || res.Removed != 1 || res.Added+res.Updated != 0 {
		t.Fatalf("remove: %+v %v", res, err)
	}
	run := vtysh(t, r, "show running-config")
	for _, gone := range []string{"2001:db8::3", "PO-IN-2001:db8::3"} {
		if strings.Contains(run, gone) {
			t.Errorf("%s still configured:\n%s", gone, run)
		}
	}
	for _, kept := range append(append([]string{"neighbor 192.0.2.2 remote-as 65001", "ip prefix-list PO-IN-192.0.2.2 seq 5 permit 203.0.113.0/24"}, handBGP...), handGlobal[:2]...) {
		if !strings.Contains(run, kept) {
			t.Errorf("%q missing:\n%s", kept, run)
		}
	}

	before := d.Stats()
	_, err = d.Apply(ctx, desired(a, router.Neighbor{Address: addr("192.0.2.99"), PeerASN: 65099, Owner: "p/c"}))
	if !errors.Is(err, cli.ErrConflict) {
		t.Fatalf("collision with a hand-made neighbor: %v", err)
	}
	if d.Stats().Writes != before.Writes {
		t.Error("a refused apply wrote to the router")
	}
}

// The SSH session (and the vtysh behind it) dies before every line of an
// apply in turn: in the shutdowns, in the creations, before, inside and at
// the end of the batch, and in the enabling. Each time, on the router
// itself, no neighbor is enabled, nor has a session past Active, without
// its filter, limit, export policy and description, and the next apply
// converges. The peers run, so an enabled neighbor does come up.
func TestLiveSSHKilledMidApply(t *testing.T) {
	r := frrtest.StartFRR(t, frrtest.Options{BGPConfig: handBGP})
	for _, p := range []struct {
		asn uint32
		a   string
		pfx []netip.Prefix
	}{{65001, "192.0.2.2", []netip.Prefix{pfx("203.0.113.0/25"), pfx("198.51.100.0/24")}}, {65002, "2001:db8::2", []netip.Prefix{pfx("2001:db8:f000::/48")}}} {
		if _, err := r.StartPeer(p.asn, addr(p.a), p.pfx...); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	des := desired(
		router.Neighbor{Address: addr("192.0.2.2"), PeerASN: 65001, Owner: "p/a", MaxPrefixes: 5, Import: exact("203.0.113.0/25", "203.0.113.128/25"),
			RejectBogonASNs: true, EnforceFirstAS: true},
		router.Neighbor{Address: addr("2001:db8::2"), PeerASN: 65002, Owner: "p/b", MaxPrefixes: 7, Import: exact("2001:db8:f000::/48"), EnforceFirstAS: true},
	)
	var (
		mu      sync.Mutex
		killAt  int
		writes  int
		lines   []string
		inBatch bool
		where   = map[string]int{}
	)
	cfg := liveConfig(r, true)
	cfg.OnSend = func(l string) {
		mu.Lock()
		defer mu.Unlock()
		if strings.HasPrefix(l, "show ") || strings.HasPrefix(l, "terminal ") {
			return
		}
		writes++
		lines = append(lines, l)
		if writes == killAt {
			switch {
			case l == batchStart:
				where["batch start"]++
			case l == batchEnd:
				where["batch end"]++
			case inBatch:
				where["inside the batch"]++
			default:
				where["line by line"]++
			}
			r.KillSSH()
		}
		switch l {
		case batchStart:
			inBatch = true
		case batchEnd, "end":
			inBatch = false
		}
	}
	d := New(cfg)
	defer d.Close()

	// Count the lines of a full apply first.
	if _, err := d.Apply(ctx, des); err != nil {
		t.Fatal(err)
	}
	total := writes
	if _, err := d.Apply(ctx, desired()); err != nil {
		t.Fatal(err)
	}
	t.Logf("a full apply sends %d lines", total)

	for k := 1; k <= total; k++ {
		mu.Lock()
		writes, killAt, lines, inBatch = 0, k, nil, false
		mu.Unlock()
		_, err := d.Apply(ctx, des)
		if err == nil {
			t.Fatalf("kill at line %d: apply succeeded", k)
		}
		mu.Lock()
		killed := lines[len(lines)-1]
		killAt = 0
		mu.Unlock()
		checkNoHalfNeighbor(t, r, des, fmt.Sprintf("killed before line %d %q", k, killed))
		if err := r.StartSSH(); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Apply(ctx, des); err != nil {
			t.Fatalf("kill at %d: next apply: %v", k, err)
		}
		if res, err := d.Apply(ctx, des); err != nil || res.Changed() {
			t.Fatalf("kill at %d: not converged: %+v %v", k, res, err)
		}
		checkNoHalfNeighbor(t, r, des, fmt.Sprintf("converged after a kill before line %d %q", k, killed))
		if _, err := d.Apply(ctx, desired()); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("kills: %v", where)
	if where["inside the batch"] == 0 || where["batch start"] == 0 || where["batch end"] == 0 || where["line by line"] == 0 {
		t.Errorf("kills: %v", where)
	}
	if run := vtysh(t, r, "show running-config"); !strings.Contains(run, handBGP[1]) || strings.Contains(run, "PO-") {
		t.Errorf("after the last reset:\n%s", run)
	}
	// Converged for good, the sessions come up with their filters.
	if _, err := d.Apply(ctx, des); err != nil {
		t.Fatal(err)
	}
	for _, a := range []netip.Addr{addr("192.0.2.2"), addr("2001:db8::2")} {
		eventually(t, 60*time.Second, func() string {
			s, msg := stateOf(t, d, a)
			if msg == "" && s.State != "Established" {
				msg = fmt.Sprintf("%+v", s)
			}
			return msg
		})
	}
	checkNoHalfNeighbor(t, r, des, "at the end")
}

// checkNoHalfNeighbor asserts, on the router itself, that every neighbor
// the operator created is either shut down or complete.
func checkNoHalfNeighbor(t *testing.T, r *frrtest.Router, des router.Desired, when string) {
	t.Helper()
	have, err := parseRunning(vtysh(t, r, "show running-config"))
	if err != nil {
		t.Fatal(err)
	}
	want := desiredConfig(des)
	// What bgpd runs, not only what it prints: a session past Active
	// (connecting counts: it could establish) must be a complete neighbor.
	var sessions map[string]struct {
		State string `json:"bgpState"`
	}
	if err := json.Unmarshal([]byte(jsonPart(vtysh(t, r, "show bgp neighbors json"))), &sessions); err != nil {
		t.Fatal(err)
	}
	for a, s := range sessions {
		na, err := netip.ParseAddr(a)
		if n := have.nbrs[na]; err == nil && n != nil && n.shutdown && s.State != "Idle" {
			t.Fatalf("%s: neighbor %s is configured shut down but its session is %s", when, a, s.State)
		}
	}
	for a, h := range have.nbrs {
		w := want.nbrs[a]
		if w == nil || h.shutdown {
			continue
		}
		f := familyOf(a)
		pl := have.plists[plistKey(a)]
		complete := h.desc == w.desc && h.af[f].routeMapIn == w.af[f].routeMapIn && h.af[f].maxPrefix == w.af[f].maxPrefix &&
			h.remoteAS == w.remoteAS && pl != nil && len(pl.entries) == len(want.plists[plistKey(a)].entries) &&
			sameRouteMap(want.rmaps[filterName(a)], have.rmaps[filterName(a)])
		for _, l := range []string{firstASName(a), bogonASNs} {
			if want.aspaths[l] != nil && have.aspaths[l] == nil {
				complete = false
			}
		}
		// The export policy, unless it is a route-server client.
		if out := w.af[f].routeMapOut; out != "" {
			opl := have.plists[plistKeyOf(a, out)]
			complete = complete && h.af[f].routeMapOut == out && opl != nil && len(opl.entries) == len(want.plists[plistKeyOf(a, out)].entries) &&
				sameRouteMap(want.rmaps[out], have.rmaps[out]) && have.lclists[learnedList] != nil
		}
		if !complete {
			t.Fatalf("%s: neighbor %s is up but half-configured: %+v", when, a, h)
		}
	}
}

// The MD5 password reaches the router's configuration, never an error, a
// hook or a log line.
func TestLivePasswordRedacted(t *testing.T) {
	r := frrtest.StartFRR(t, frrtest.Options{})
	var logs strings.Builder
	var mu sync.Mutex
	log := funcr.New(func(prefix, args string) {
		mu.Lock()
		defer mu.Unlock()
		logs.WriteString(prefix + " " + args + "\n")
	}, funcr.Options{Verbosity: 10})
	const pw1, pw2 = "Sup3rSecretPW", "An0therSecretPW"
	var sent []string
	killOn := ""
	cfg := liveConfig(r, false)
	cfg.Log = log
	cfg.OnSend = func(l string) {
		mu.Lock()
		sent = append(sent, l)
		mu.Unlock()
		if killOn != "" && strings.Contains(l, killOn) {
			r.KillSSH()
		}
	}
	d := New(cfg)
	defer d.Close()
	ctx := context.Background()
	n := router.Neighbor{Address: addr("192.0.2.2"), PeerASN: 65001, Owner: "p/a", Password: pw1}
	res, err := d.Apply(ctx, desired(n))
	if err != nil {
		t.Fatal(err)
	}
	if run := vtysh(t, r, "show running-config"); !strings.Contains(run, "neighbor 192.0.2.2 password "+pw1) {
		t.Fatalf("password not configured:\n%s", run)
	}
	// Change it and lose the connection on that very line.
	n.Password = pw2
	killOn = "neighbor 192.0.2.2 password"
	res2, err := d.Apply(ctx, desired(n))
	if err == nil {
		t.Fatal("apply survived the kill")
	}
	if err := r.StartSSH(); err != nil {
		t.Fatal(err)
	}
	killOn = ""
	if _, err := d.Apply(ctx, desired(n)); err != nil {
		t.Fatal(err)
	}
	st, _ := d.State(ctx)
	everything := fmt.Sprintf("%v %+v %#v %+v %+v %+v %q", err, res, res, res2, st, n, sent) + logs.String()
	if e := fmt.Sprint(err); e != "" {
		everything += e
	}
	for _, pw := range []string{pw1, pw2} {
		if strings.Contains(everything, pw) {
			t.Errorf("password %q leaked: %s", pw, everything)
		}
	}
	if !strings.Contains(strings.Join(sent, "\n"), "neighbor 192.0.2.2 password [redacted]") {
		t.Errorf("hook did not see the redacted line: %q", sent)
	}
}

// Host keys are verified; key and password logins both work; the opt-out
// works and is loud.
func TestLiveAuthAndHostKey(t *testing.T) {
	r := frrtest.StartFRR(t, frrtest.Options{})
	ctx := context.Background()
	for _, key := range []bool{true, false} {
		d := New(liveConfig(r, key))
		if _, err := d.State(ctx); err != nil {
			t.Errorf("login (key=%v): %v", key, err)
		}
		d.Close()
	}

	other := frrtest.StartFRR(t, frrtest.Options{})
	cfg := liveConfig(r, true)
	cfg.KnownHosts = []byte(strings.Replace(string(other.KnownHosts), other.Host, r.Host, 1))
	_, err := New(cfg).State(ctx)
	if !errors.Is(err, cli.ErrHostKey) || !strings.Contains(err.Error(), "does not match") || !strings.Contains(err.Error(), "SHA256:") {
		t.Errorf("wrong host key: %v", err)
	}
	cfg.KnownHosts = other.KnownHosts // a key for another host only
	if _, err := New(cfg).State(ctx); !errors.Is(err, cli.ErrHostKey) || !strings.Contains(err.Error(), "not in known_hosts") {
		t.Errorf("unknown host: %v", err)
	}
	cfg.KnownHosts = nil
	if _, err := New(cfg).State(ctx); !errors.Is(err, cli.ErrHostKey) {
		t.Errorf("no known_hosts: %v", err)
	}

	var logs strings.Builder
	cfg.InsecureIgnoreHostKey = true
	cfg.Log = funcr.New(func(p, a string) { logs.WriteString(a) }, funcr.Options{})
	d := New(cfg)
	if _, err := d.State(ctx); err != nil {
		t.Errorf("insecure: %v", err)
	}
	d.Close()
	if !strings.Contains(logs.String(), "WARNING: SSH host key verification is DISABLED") {
		t.Errorf("opt-out not logged: %q", logs.String())
	}

	cfg = liveConfig(r, false)
	cfg.Password = "wrong-password-xyz"
	if _, err := New(cfg).State(ctx); err == nil || strings.Contains(err.Error(), "wrong-password-xyz") {
		t.Errorf("wrong password: %v", err)
	}
}

// Values that could smuggle a command never reach the router: Apply fails
// before connecting.
func TestLiveInjectionNeverReachesRouter(t *testing.T) {
	r := frrtest.StartFRR(t, frrtest.Options{})
	before := vtysh(t, r, "show running-config")
	for _, n := range injections() {
		sent := 0
		cfg := liveConfig(r, true)
		cfg.OnSend = func(string) { sent++ }
		d := New(cfg)
		_, err := d.Apply(context.Background(), desired(n))
		d.Close()
		if !errors.Is(err, router.ErrInvalid) {
			t.Errorf("%q: got %v", n.Description+n.Owner, err)
		}
		if sent != 0 || d.Stats() != (cli.Stats{}) {
			t.Errorf("%q: %d lines sent", n.Description, sent)
		}
	}
	if after := vtysh(t, r, "show running-config"); after != before {
		t.Errorf("running config changed:\n%s", after)
	}
}

// AS-path checks, on the router itself: a path holding a bogon ASN is
// rejected, and so is a path that does not start with the peer's AS (here
// a peer that behaves as a transparent route server); turning the checks
// off lets those routes in and removes the as-path lists.
func TestLiveASPathChecks(t *testing.T) {
	r := frrtest.StartFRR(t, frrtest.Options{})
	pa, err := r.StartPeer(174, addr("192.0.2.2"), pfx("203.0.113.0/25"), pfx("203.0.113.128/25"))
	if err != nil {
		t.Fatal(err)
	}
	// The peer puts a private ASN into the path of one route.
	if _, err := pa.Vtysh("configure terminal", "ip prefix-list BOGUS seq 5 permit 203.0.113.128/25",
		"route-map OUT permit 10", "match ip address prefix-list BOGUS", "set as-path prepend 64512", "exit",
		"route-map OUT permit 20", "exit", "router bgp 174", "address-family ipv4 unicast", "neighbor 192.0.2.1 route-map OUT out"); err != nil {
		t.Fatal(err)
	}
	pb, err := r.StartPeer(3356, addr("192.0.2.3"), pfx("203.0.113.64/26"))
	if err != nil {
		t.Fatal(err)
	}
	// This peer does not put its AS first.
	if _, err := pb.Vtysh("configure terminal", "router bgp 3356", "address-family ipv4 unicast", "neighbor 192.0.2.1 route-server-client"); err != nil {
		t.Fatal(err)
	}
	d := New(liveConfig(r, true))
	defer d.Close()
	ctx := context.Background()
	a := router.Neighbor{Address: addr("192.0.2.2"), PeerASN: 174, Owner: "p/a", RejectBogonASNs: true, EnforceFirstAS: true,
		Import: []router.Entry{{Prefix: pfx("203.0.113.0/24"), GE: 24, LE: 25}}}
	b := router.Neighbor{Address: addr("192.0.2.3"), PeerASN: 3356, Owner: "p/b", RejectBogonASNs: true, EnforceFirstAS: true,
		Import: []router.Entry{{Prefix: pfx("203.0.113.0/24"), GE: 24, LE: 26}}}
	if _, err := d.Apply(ctx, desired(a, b)); err != nil {
		t.Fatal(err)
	}
	want := func(n router.Neighbor, received, accepted int64) {
		t.Helper()
		eventually(t, 60*time.Second, func() string {
			s, msg := stateOf(t, d, n.Address)
			if msg == "" && (s.State != "Established" || s.Received != received || s.Accepted != accepted) {
				msg = fmt.Sprintf("%+v", s)
			}
			return msg
		})
	}
	want(a, 2, 1)
	want(b, 1, 0)
	rib := vtysh(t, r, "show bgp ipv4 unicast json")
	if !strings.Contains(rib, `"203.0.113.0/25"`) || strings.Contains(rib, `"203.0.113.128/25"`) || strings.Contains(rib, `"203.0.113.64/26"`) {
		t.Errorf("RIB:\n%s", rib)
	}

	a.RejectBogonASNs, b.EnforceFirstAS, b.RejectBogonASNs = false, false, false
	if res, err := d.Apply(ctx, desired(a, b)); err != nil || res.Updated != 2 {
		t.Fatalf("%+v %v", res, err)
	}
	want(a, 2, 2)
	want(b, 1, 1)
	run := vtysh(t, r, "show running-config")
	if strings.Contains(run, "PO-BOGON-ASNS") || strings.Contains(run, "PO-FIRST-192.0.2.3") || !strings.Contains(run, "bgp as-path access-list PO-FIRST-192.0.2.2 seq 5 permit ^174_") {
		t.Errorf("as-path lists not cleaned up:\n%s", run)
	}
}

func sameRouteMap(want, have *routeMap) bool {
	if have == nil || len(want.entries) != len(have.entries) {
		return false
	}
	for i, w := range want.entries {
		h := have.entries[i]
		if w.action != h.action || w.seq != h.seq || len(w.lines) != len(h.lines) {
			return false
		}
		for _, l := range w.lines {
			if !slices.Contains(h.lines, l) {
				return false
			}
		}
	}
	return true
}

// heldLines are the lines of a running configuration that configure the
// neighbor at a: its own lines, the route-map entries named after it and
// the shared bogon as-path and learned large-community lists.
func heldLines(run string, a netip.Addr) []string {
	var out []string
	inRmap := false
	for _, l := range strings.Split(run, "\n") {
		if l == "" || l[0] != ' ' {
			inRmap = strings.HasPrefix(l, "route-map ") && strings.Contains(l, a.String())
		}
		if inRmap || strings.Contains(l, a.String()) || strings.HasPrefix(l, asPathCmd+bogonASNs+" ") || strings.HasPrefix(l, lcListCmd+learnedList+" ") {
			out = append(out, l)
		}
	}
	return out
}

// A held neighbor stays exactly as it runs, session included, while the
// same apply removes another neighbor (the other user of the bogon and
// learned lists) and creates a third (a route-server client: no out
// policy); its admin state is the one thing that follows the hold's
// Shutdown, both ways.
func TestLiveHeld(t *testing.T) {
	r := frrtest.StartFRR(t, frrtest.Options{})
	if _, err := r.StartPeer(174, addr("192.0.2.2"), pfx("203.0.113.0/25"), pfx("203.0.113.128/25")); err != nil {
		t.Fatal(err)
	}
	d := New(liveConfig(r, true))
	defer d.Close()
	ctx := context.Background()
	a := router.Neighbor{Address: addr("192.0.2.2"), PeerASN: 174, Owner: "p/a", MaxPrefixes: 10, Import: exact("203.0.113.0/25"),
		RejectBogonASNs: true, EnforceFirstAS: true}
	b := router.Neighbor{Address: addr("2001:db8::3"), PeerASN: 65003, Owner: "p/b", Import: exact("2001:db8:f000::/48"), RejectBogonASNs: true}
	c := router.Neighbor{Address: addr("192.0.2.3"), PeerASN: 65004, Owner: "p/c", Import: exact("198.51.100.0/24"), RouteServerClient: true}
	if _, err := d.Apply(ctx, desired(a, b)); err != nil {
		t.Fatal(err)
	}
	up := func() router.NeighborState {
		t.Helper()
		var st router.NeighborState
		eventually(t, 60*time.Second, func() string {
			s, msg := stateOf(t, d, a.Address)
			if msg == "" && (s.State != "Established" || s.Accepted != 1) {
				msg = fmt.Sprintf("%+v", s)
			}
			st = s
			return msg
		})
		return st
	}
	since := up().EstablishedSince
	before := heldLines(vtysh(t, r, "show running-config"), a.Address)
	for _, l := range []string{" neighbor 192.0.2.2 remote-as 174", "  neighbor 192.0.2.2 route-map PO-IN-192.0.2.2 in",
		"  neighbor 192.0.2.2 maximum-prefix 10 force", "ip prefix-list PO-IN-192.0.2.2 seq 5 permit 203.0.113.0/25",
		"bgp as-path access-list PO-FIRST-192.0.2.2 seq 5 permit ^174_", " match as-path " + bogonASNs,
		"  neighbor 192.0.2.2 route-map PO-OUT-192.0.2.2 out", "ip prefix-list PO-OUT-192.0.2.2 seq 5 deny 0.0.0.0/0 le 32", " match large-community " + learnedList,
		lcListCmd + learnedList + " seq 5 permit _65000:[12]:"} {
		if !slices.Contains(before, l) {
			t.Fatalf("fixture: no %q in\n%s", l, strings.Join(before, "\n"))
		}
	}

	held := func(shutdown *bool) router.Desired {
		des := desired(c)
		des.Held = []router.Held{{Address: a.Address, Owner: a.Owner, Shutdown: shutdown}}
		return des
	}
	res, err := d.Apply(ctx, held(nil))
	if err != nil || res.Added != 1 || res.Removed != 1 || res.Updated != 0 {
		t.Fatalf("hold: %+v %v", res, err)
	}
	run := vtysh(t, r, "show running-config")
	if got := heldLines(run, a.Address); !slices.Equal(got, before) {
		t.Errorf("held neighbor changed:\n%s\nwas\n%s", strings.Join(got, "\n"), strings.Join(before, "\n"))
	}
	if strings.Contains(run, "2001:db8::3") || !strings.Contains(run, " neighbor 192.0.2.3 remote-as 65004") {
		t.Errorf("the rest of the apply did not happen:\n%s", run)
	}
	// Not even the session was reset.
	if s := up(); s.EstablishedSince.Sub(since).Abs() > time.Second {
		t.Errorf("held session reset: up since %s, was %s", s.EstablishedSince, since)
	}

	// Emergency shutdown: that line only, and the session goes down.
	down, on := true, false
	res2, err := d.Apply(ctx, held(&down))
	if err != nil || res2.Updated != 1 || res2.Added+res2.Removed != 0 || res2.Digest == res.Digest {
		t.Fatalf("shutdown: %+v %v", res2, err)
	}
	got := heldLines(vtysh(t, r, "show running-config"), a.Address)
	const shutLine = " neighbor 192.0.2.2 shutdown"
	if !slices.Contains(got, shutLine) || !slices.Equal(slices.DeleteFunc(slices.Clone(got), func(l string) bool { return l == shutLine }), before) {
		t.Errorf("after shutdown:\n%s\nwas\n%s", strings.Join(got, "\n"), strings.Join(before, "\n"))
	}
	eventually(t, 60*time.Second, func() string {
		s, msg := stateOf(t, d, a.Address)
		if msg == "" && s.State == "Established" {
			msg = fmt.Sprintf("still up: %+v", s)
		}
		return msg
	})

	// And back up.
	if res, err := d.Apply(ctx, held(&on)); err != nil || res.Updated != 1 || res.Added+res.Removed != 0 {
		t.Fatalf("enable: %+v %v", res, err)
	}
	if got := heldLines(vtysh(t, r, "show running-config"), a.Address); !slices.Equal(got, before) {
		t.Errorf("after enable:\n%s\nwas\n%s", strings.Join(got, "\n"), strings.Join(before, "\n"))
	}
	up()
	w := d.Stats().Writes
	if res, err := d.Apply(ctx, held(&on)); err != nil || res.Changed() || d.Stats().Writes != w {
		t.Errorf("converged hold wrote: %+v %v", res, err)
	}
}

// A batch FRR refuses a line of: the apply stops with an error that names
// the line and its neighbor; the new neighbors stay shut down, the live
// one keeps its session and its filter (nothing narrowed, even the
// entries this apply removes), a NOC shutdown in the same apply is done;
// without the bad line the next apply converges.
func TestLiveBatchRefused(t *testing.T) {
	r := frrtest.StartFRR(t, frrtest.Options{})
	if _, err := r.StartPeer(65001, addr("192.0.2.2"), pfx("203.0.113.0/25"), pfx("203.0.113.128/25")); err != nil {
		t.Fatal(err)
	}
	d := New(liveConfig(r, true))
	defer d.Close()
	ctx := context.Background()
	live := router.Neighbor{Address: addr("192.0.2.2"), PeerASN: 65001, Owner: "p/a", MaxPrefixes: 10, Import: exact("203.0.113.0/25"), EnforceFirstAS: true}
	other := router.Neighbor{Address: addr("192.0.2.9"), PeerASN: 65009, Owner: "p/o", Import: exact("198.51.100.0/24")}
	if _, err := d.Apply(ctx, desired(live, other)); err != nil {
		t.Fatal(err)
	}
	var since time.Time
	eventually(t, 60*time.Second, func() string {
		s, msg := stateOf(t, d, live.Address)
		if msg == "" && (s.State != "Established" || s.Accepted != 1) {
			msg = fmt.Sprintf("%+v", s)
		}
		since = s.EstablishedSince
		return msg
	})

	const bad = "neighbor 192.0.2.3 no-such-command"
	editBatch = func(l []string) []string {
		i := slices.Index(l, "neighbor 192.0.2.3 description po:p/b")
		return slices.Insert(slices.Clone(l), i+1, bad)
	}
	defer func() { editBatch = nil }()
	b := router.Neighbor{Address: addr("192.0.2.3"), PeerASN: 65003, Owner: "p/b", MaxPrefixes: 5, Import: exact("198.51.100.0/24")}
	c := router.Neighbor{Address: addr("2001:db8::3"), PeerASN: 65004, Owner: "p/c", MaxPrefixes: 5, Import: exact("2001:db8:f000::/48")}
	narrowed := live
	narrowed.Import = exact("203.0.113.128/25") // a human's narrowing, in the same apply
	other.Shutdown = true
	des := desired(narrowed, b, c, other)
	_, err := d.Apply(ctx, des)
	if err == nil || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), "(neighbor 192.0.2.3)") {
		t.Fatalf("got %v", err)
	}
	t.Log(err)
	run := vtysh(t, r, "show running-config")
	for _, l := range []string{" neighbor 192.0.2.3 shutdown", " neighbor 2001:db8::3 shutdown", " neighbor 192.0.2.9 shutdown",
		"ip prefix-list PO-IN-192.0.2.2 seq 5 permit 203.0.113.0/25"} {
		if !slices.Contains(strings.Split(run, "\n"), l) {
			t.Errorf("no %q after the refused batch:\n%s", l, run)
		}
	}
	checkNoHalfNeighbor(t, r, desired(b, c), "after the refused batch")
	if s, msg := stateOf(t, d, live.Address); msg != "" || s.State != "Established" || !s.EstablishedSince.Equal(since) {
		t.Errorf("live session touched: %+v %s", s, msg)
	}

	editBatch = nil
	if _, err := d.Apply(ctx, des); err != nil {
		t.Fatal(err)
	}
	if res, err := d.Apply(ctx, des); err != nil || res.Changed() {
		t.Fatalf("not converged: %+v %v", res, err)
	}
	run = vtysh(t, r, "show running-config")
	if strings.Contains(run, " neighbor 192.0.2.3 shutdown") || strings.Contains(run, "PO-IN-192.0.2.2 seq 5 ") {
		t.Errorf("after the fixed apply:\n%s", run)
	}
}
