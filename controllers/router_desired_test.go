package controllers

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
	"github.com/peering-operator/peering-operator/internal/router"
)

// pinnedRequest is an approved request pinned to sessions with filter f4/f6.
func pinnedRequest(name string, created time.Time, addrs ...string) *peeringv1.PeeringRequest {
	pr := &peeringv1.PeeringRequest{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name), CreationTimestamp: metav1.NewTime(created)},
		Spec:       peeringv1.PeeringRequestSpec{PeerASN: 8763},
		Status: peeringv1.PeeringRequestStatus{
			Conditions: []metav1.Condition{{Type: "Approved", Status: metav1.ConditionTrue, Reason: "NOCApproved"}},
			Peer:       &peeringv1.PeerInfo{Name: "DENIC eG"},
		},
	}
	sess := map[netip.Addr]peeringv1.PinnedSession{}
	for _, a := range addrs {
		fam := "ipv4"
		if netip.MustParseAddr(a).Is6() {
			fam = "ipv6"
		}
		sess[netip.MustParseAddr(a)] = peeringv1.PinnedSession{Address: a, Family: fam, Limit: 100}
	}
	pr.Status.Config = pinnedConfig(sess, map[int]string{4: "sha256:f4", 6: "sha256:f6"})
	return pr
}

func withFilters(pr *peeringv1.PeeringRequest) candidate {
	e4 := []router.Entry{{Prefix: netip.MustParsePrefix("192.0.2.0/24"), Exact: true}}
	e6 := []router.Entry{{Prefix: netip.MustParsePrefix("2001:db8::/32"), Exact: true}}
	return candidate{PR: pr, Filters: map[string][]router.Entry{"sha256:f4": e4, "sha256:f6": e6}}
}

// What the Router controller pushes and holds, per request, decided without a
// router: PeeringDB and the IRR are not inputs here at all.
func TestDesiredFor(t *testing.T) {
	rt := &peeringv1.Router{ObjectMeta: metav1.ObjectMeta{Name: "rs1"}, Spec: peeringv1.RouterSpec{LocalASN: 64500, RouterID: "192.0.2.1", RouteServer: true}}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	shut := pinnedRequest("shut", t0, "80.81.192.1")
	shut.Spec.Shutdown = true
	deleting := pinnedRequest("deleting", t0, "80.81.192.2")
	now := metav1.Now()
	deleting.DeletionTimestamp = &now
	deleting.Finalizers = []string{peeringv1.FinalizerNeighborCleanup}
	deleting.Status.Applied = &peeringv1.AppliedStatus{Router: "rs1", Result: peeringv1.AppliedResultApplied}
	noFilter := pinnedRequest("nofilter", t0, "80.81.192.3", "2001:7f8::3")
	noPassword := pinnedRequest("nopassword", t0, "80.81.192.4")
	badDesc := pinnedRequest("baddesc", t0, "80.81.192.5")
	badDesc.Spec.Description = "evil; rm -rf"
	badDesc.Spec.Shutdown = true
	live := pinnedRequest("zlive", t0.Add(time.Hour), "80.81.192.6")
	live.Status.Applied = &peeringv1.AppliedStatus{Router: "rs1", Result: peeringv1.AppliedResultApplied}
	newcomer := pinnedRequest("anew", t0, "80.81.192.6") // older, same address, not on the router
	unpinned := pinnedRequest("legacy", t0, "80.81.192.7")
	unpinned.Status.Config = nil
	unpinned.Status.Sessions = []peeringv1.SessionStatus{{Address: "80.81.192.7", Family: "ipv4", State: "Established"}, {Address: "80.81.192.8", Family: "ipv4", State: "NotConfigured"}}
	pending := pinnedRequest("pending", t0, "80.81.192.9")
	pending.Status.Conditions = nil
	denied := pinnedRequest("denied", t0, "80.81.192.10")
	denied.Status.Conditions = append(denied.Status.Conditions, metav1.Condition{Type: "Denied", Status: metav1.ConditionTrue, Reason: "X"})

	nf := withFilters(noFilter)
	delete(nf.Filters, "sha256:f6")
	nf.FilterErr = map[string]error{"sha256:f6": errors.New("PrefixList default/nofilter-ipv6-f6 is missing part 1")}
	np := withFilters(noPassword)
	np.PasswordErr = errors.New("cannot read Secret default/pw")
	cands := []candidate{withFilters(shut), withFilters(deleting), nf, np, withFilters(badDesc), withFilters(live), withFilters(newcomer),
		withFilters(unpinned), withFilters(pending), withFilters(denied)}
	res := desiredFor(rt, cands, time.Now())
	if err := res.Desired.Validate(); err != nil {
		t.Fatalf("the desired set is invalid: %v", err)
	}

	pushed := map[string]router.Neighbor{}
	for _, n := range res.Desired.Neighbors {
		pushed[n.Address.String()] = n
	}
	held := map[string]router.Held{}
	for _, h := range res.Desired.Held {
		held[h.Address.String()] = h
	}
	outcomes := map[string]outcome{}
	for _, o := range res.Outcomes {
		outcomes[o.PR.Name] = o
	}
	check := func(cond bool, format string, args ...any) {
		t.Helper()
		if !cond {
			t.Errorf(format, args...)
		}
	}
	// A shutdown reaches the router with the rest of the pin.
	check(pushed["80.81.192.1"].Shutdown && len(pushed["80.81.192.1"].Import) == 1 && pushed["80.81.192.1"].MaxPrefixes == 100, "shut = %+v", pushed["80.81.192.1"])
	check(outcomes["shut"].Result == peeringv1.AppliedResultApplied && outcomes["shut"].ConfigDigest == shut.Status.Config.Digest, "shut outcome %+v", outcomes["shut"])
	// A deleted request is neither pushed nor held: removed.
	_, p := pushed["80.81.192.2"]
	_, h := held["80.81.192.2"]
	check(!p && !h && outcomes["deleting"].Result == peeringv1.AppliedResultRemoved, "deleting: pushed %v held %v %+v", p, h, outcomes["deleting"])
	// A missing filter holds that family's neighbor only.
	_, p4 := pushed["80.81.192.3"]
	_, h6 := held["2001:7f8::3"]
	check(p4 && h6 && outcomes["nofilter"].Result == peeringv1.AppliedResultHeld && outcomes["nofilter"].Reason == peeringv1.ReasonFilterUnavailable, "nofilter: %+v", outcomes["nofilter"])
	// An unreadable password holds the neighbor.
	_, h = held["80.81.192.4"]
	check(h && outcomes["nopassword"].Reason == peeringv1.ReasonPasswordSecretError, "nopassword: %+v", outcomes["nopassword"])
	// A value no router may take is refused, the neighbor held, and the
	// human's shutdown still reaches it.
	hd, h := held["80.81.192.5"]
	check(h && hd.Shutdown != nil && *hd.Shutdown && outcomes["baddesc"].Result == peeringv1.AppliedResultRejected && outcomes["baddesc"].Reason == peeringv1.ReasonInvalidForRouter,
		"baddesc: %+v %+v", hd, outcomes["baddesc"])
	// The address on the router stays with its owner; the newcomer is refused.
	check(pushed["80.81.192.6"].Owner == "default/zlive" && outcomes["anew"].Reason == peeringv1.ReasonAddressInUse, "address in use: %+v %+v", pushed["80.81.192.6"], outcomes["anew"])
	// Approved, not pinned yet: what runs for it stays.
	_, h7 := held["80.81.192.7"]
	_, h8 := held["80.81.192.8"]
	check(h7 && !h8, "legacy holds %v", held)
	_, ok := outcomes["legacy"]
	check(!ok, "no outcome before the pin")
	// Never pushed without approval, never when denied.
	for _, a := range []string{"80.81.192.9", "80.81.192.10"} {
		_, p := pushed[a]
		_, h := held[a]
		check(!p && !h, "%s reached the router", a)
	}
	check(!slices.ContainsFunc(res.Outcomes, func(o outcome) bool { return o.PR.Name == "pending" || o.PR.Name == "denied" }), "outcomes %+v", res.Outcomes)
}

// The report written into a request follows the router: an Established
// session is never shown as anything else, and an unchanged report is not
// rewritten.
func TestRequestReport(t *testing.T) {
	pr := pinnedRequest("r", time.Now(), "80.81.192.1", "80.81.192.2")
	since := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
	states := map[netip.Addr]router.NeighborState{
		netip.MustParseAddr("80.81.192.1"): {Address: netip.MustParseAddr("80.81.192.1"), State: "Established", EstablishedSince: since, Received: 3, Accepted: 2, Limit: 100},
	}
	o := outcome{PR: pr, Result: peeringv1.AppliedResultApplied, ConfigDigest: pr.Status.Config.Digest}
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	rep := requestReport("rs1", pr, o, states, true, now)
	if !rep.Changed || rep.Applied.Result != peeringv1.AppliedResultApplied || rep.Applied.ConfigDigest != pr.Status.Config.Digest {
		t.Fatalf("report %+v", rep)
	}
	if len(rep.Sessions) != 2 || rep.Sessions[0].State != "Established" || *rep.Sessions[0].Accepted != 2 || rep.Sessions[1].State != stateNotConfigured {
		t.Fatalf("sessions %+v", rep.Sessions)
	}
	pr.Status.Applied, pr.Status.Sessions = rep.Applied, rep.Sessions
	again := requestReport("rs1", pr, o, states, true, now.Add(time.Minute))
	if again.Changed || again.Applied != pr.Status.Applied {
		t.Errorf("an unchanged report is rewritten: %+v", again)
	}
	// After a failed apply only the sessions are reported.
	failed := requestReport("rs1", pr, outcome{PR: pr, Result: peeringv1.AppliedResultHeld}, states, false, now)
	if failed.Applied != pr.Status.Applied {
		t.Errorf("a failed apply rewrote status.applied: %+v", failed.Applied)
	}
}

// drainOf: draining from the webhook's stamp, down once shutdownAfter has
// passed (default 10m), never early without a readable stamp, kept up
// with 0s; the request's, its IXPort's and its Router's drains add up:
// any drains, the first due shuts down, a route server's is ignored.
func TestDrainOf(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	d := func(x time.Duration) *time.Duration { return &x }
	drainMeta := func(after *time.Duration, since string) (*peeringv1.Drain, map[string]string) {
		dr := &peeringv1.Drain{}
		if after != nil {
			dr.ShutdownAfter = &metav1.Duration{Duration: *after}
		}
		if since == "" {
			return dr, nil
		}
		return dr, map[string]string{peeringv1.AnnotationDrainSince: since}
	}
	mk := func(after *time.Duration, since string) *peeringv1.PeeringRequest {
		pr := &peeringv1.PeeringRequest{}
		pr.Name = "as1"
		pr.Spec.Drain, pr.Annotations = drainMeta(after, since)
		return pr
	}
	port := func(after *time.Duration, since string) *peeringv1.IXPort {
		p := &peeringv1.IXPort{}
		p.Name = "decix"
		p.Spec.Drain, p.Annotations = drainMeta(after, since)
		return p
	}
	rtr := func(after *time.Duration, since string, rs bool) *peeringv1.Router {
		r := &peeringv1.Router{}
		r.Name = "edge1"
		r.Spec.RouteServer = rs
		r.Spec.Drain, r.Annotations = drainMeta(after, since)
		return r
	}
	plain := &peeringv1.PeeringRequest{}
	for _, c := range []struct {
		name        string
		pr          *peeringv1.PeeringRequest
		port        *peeringv1.IXPort
		rt          *peeringv1.Router
		drain, down bool
		wait        time.Duration
		note        string
	}{
		{"none", plain, &peeringv1.IXPort{}, &peeringv1.Router{}, false, false, 0, ""},
		{"default wait, just started", mk(nil, "2026-12-01T11:58:00Z"), nil, nil, true, false, 8 * time.Minute, "spec.drain: draining since 2026-12-01T11:58:00Z"},
		{"default wait, over", mk(nil, "2026-12-01T11:50:00Z"), nil, nil, true, true, 0, "spec.drain: drained since 2026-12-01T11:50:00Z, then administratively shut down"},
		{"30m", mk(d(30*time.Minute), "2026-12-01T11:50:00Z"), nil, nil, true, false, 20 * time.Minute, "shutdown at 2026-12-01T12:20:00Z"},
		{"kept up", mk(d(0), "2026-12-01T01:00:00Z"), nil, nil, true, false, 0, "kept up"},
		{"no stamp: counts from now", mk(d(time.Minute), ""), nil, nil, true, false, time.Minute, ""},
		{"garbage stamp: counts from now", mk(d(time.Minute), "yesterday"), nil, nil, true, false, time.Minute, ""},
		{"IXPort's drain", plain, port(d(30*time.Minute), "2026-12-01T11:50:00Z"), nil, true, false, 20 * time.Minute, "spec.drain of IXPort decix: draining"},
		{"Router's drain over", plain, nil, rtr(nil, "2026-12-01T11:00:00Z", false), true, true, 0, "spec.drain of Router edge1: drained since"},
		{"the first due wins", mk(d(0), "2026-12-01T11:00:00Z"), port(d(time.Hour), "2026-12-01T11:50:00Z"), rtr(d(20*time.Minute), "2026-12-01T11:50:00Z", false),
			true, false, 10 * time.Minute, "spec.drain of Router edge1: draining since 2026-12-01T11:50:00Z"},
		{"one due shuts down", mk(d(0), "2026-12-01T11:00:00Z"), port(d(time.Minute), "2026-12-01T11:50:00Z"), nil, true, true, 0, "IXPort decix: drained since 2026-12-01T11:50:00Z, then"},
		{"a route server's drain is ignored", plain, nil, rtr(nil, "2026-12-01T11:00:00Z", true), false, false, 0, ""},
	} {
		st := drainOf(c.pr, c.port, c.rt, now)
		if st.Drain != c.drain || st.Down != c.down || st.Wait != c.wait || !strings.Contains(st.Note, c.note) {
			t.Errorf("%s: drain %v down %v wait %s note %q, want %v %v %s, note with %q", c.name, st.Drain, st.Down, st.Wait, st.Note, c.drain, c.down, c.wait, c.note)
		}
	}
}

// The import marks: the IXPort's policy over the Router's over the
// defaults (100, honoured, no communities), the route servers' own local
// preference, the request's over all; what desiredFor renders and
// status.imports says are the same.
func TestImportMarks(t *testing.T) {
	i64 := func(v int64) *int64 { return &v }
	no := false
	rt := &peeringv1.Router{ObjectMeta: metav1.ObjectMeta{Name: "edge1"}, Spec: peeringv1.RouterSpec{LocalASN: 64500, RouterID: "192.0.2.1",
		Import: &peeringv1.ImportPolicy{LocalPreference: i64(200), Communities: []string{"64500:1000"}}}}
	port := &peeringv1.IXPort{ObjectMeta: metav1.ObjectMeta{Name: "decix"}, Spec: peeringv1.IXPortSpec{IX: peeringv1.IXReference{PeeringDBID: 31},
		Import: &peeringv1.ImportPolicy{LocalPreference: i64(250), RouteServerLocalPreference: i64(150), Communities: []string{"64500:3100"}, HonourGracefulShutdown: &no}}}
	bare := &peeringv1.IXPort{ObjectMeta: metav1.ObjectMeta{Name: "amsix"}, Spec: peeringv1.IXPortSpec{IX: peeringv1.IXReference{PeeringDBID: 26}}}
	peer := &peeringv1.PeeringRequest{}
	rs := &peeringv1.PeeringRequest{Spec: peeringv1.PeeringRequestSpec{RouteServer: true}}
	own := &peeringv1.PeeringRequest{Spec: peeringv1.PeeringRequestSpec{RouteServer: true, LocalPreference: i64(300)}}
	for _, c := range []struct {
		name string
		rt   *peeringv1.Router
		port *peeringv1.IXPort
		pr   *peeringv1.PeeringRequest
		want importMarks
	}{
		{"defaults", &peeringv1.Router{}, bare, peer, importMarks{LocalPref: 100, From: "defaults"}},
		{"the Router's", rt, bare, peer, importMarks{LocalPref: 200, Communities: []string{"64500:1000"}, From: "Router edge1"}},
		{"the IXPort's, whole", rt, port, peer, importMarks{LocalPref: 250, Communities: []string{"64500:3100"}, IgnoreGShut: true, From: "IXPort decix"}},
		{"a route server's", rt, port, rs, importMarks{LocalPref: 150, Communities: []string{"64500:3100"}, IgnoreGShut: true, From: "IXPort decix"}},
		{"the request's own", rt, port, own, importMarks{LocalPref: 300, Communities: []string{"64500:3100"}, IgnoreGShut: true, From: "IXPort decix, spec.localPreference"}},
	} {
		got := importOf(c.rt, c.port, c.pr)
		if got.LocalPref != c.want.LocalPref || !slices.Equal(got.Communities, c.want.Communities) || got.IgnoreGShut != c.want.IgnoreGShut || got.From != c.want.From {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
	}
	st := importStatus(rt, port, rs, time.Now())
	if st.LocalPreference != 150 || !slices.Equal(st.Communities, []string{"64500:3100", "64500:2:31"}) || st.HonourGracefulShutdown {
		t.Errorf("status.imports: %+v", st)
	}

	// desiredFor renders the same on an ordinary router.
	ord := rt.DeepCopy()
	pr := pinnedRequest("marks", time.Now(), "80.81.192.1")
	pr.Spec.RouteServer = true
	want := desiredFor(ord, []candidate{{PR: pr, Port: port, Filters: map[string][]router.Entry{pr.Status.Config.IPv4Filter: nil}}}, time.Now())
	if len(want.Desired.Neighbors) != 1 {
		t.Fatalf("desired: %+v", want)
	}
	n := want.Desired.Neighbors[0]
	if n.LocalPref != 150 || !slices.Equal(n.Communities, []string{"64500:3100"}) || !n.IgnoreGracefulShutdown {
		t.Errorf("neighbor marks: %+v", n)
	}
}

// A pinned export list is added to the announce list on the neighbor; one
// that cannot be read holds the neighbor as it runs (never pushed with
// less than it announces).
func TestDesiredForExportList(t *testing.T) {
	rt := &peeringv1.Router{ObjectMeta: metav1.ObjectMeta{Name: "edge1"}, Spec: peeringv1.RouterSpec{LocalASN: 64500, RouterID: "192.0.2.1",
		Announce: &peeringv1.Announce{Prefixes: []string{"198.51.100.0/24"}, ASSet: "AS-OURCUST"}}}
	pr := pinnedRequest("x", time.Now(), "80.81.192.1")
	pr.Status.Config = withExports(pr.Status.Config, map[int]string{4: "sha256:x4"})
	c := withFilters(pr)
	c.Filters["sha256:x4"] = []router.Entry{{Prefix: netip.MustParsePrefix("31.3.0.0/16"), GE: 16, LE: 24}}
	res := desiredFor(rt, []candidate{c}, time.Now())
	if len(res.Desired.Neighbors) != 1 {
		t.Fatalf("desired: %+v", res)
	}
	want := []router.Entry{{Prefix: netip.MustParsePrefix("198.51.100.0/24"), Exact: true}, {Prefix: netip.MustParsePrefix("31.3.0.0/16"), GE: 16, LE: 24}}
	if got := res.Desired.Neighbors[0].Export; !slices.Equal(got, want) {
		t.Errorf("export %+v, want %+v", got, want)
	}
	delete(c.Filters, "sha256:x4")
	c.FilterErr = map[string]error{"sha256:x4": fmt.Errorf("PrefixList gone")}
	res = desiredFor(rt, []candidate{c}, time.Now())
	if len(res.Desired.Neighbors) != 0 || len(res.Desired.Held) != 1 || res.Outcomes[0].Reason != peeringv1.ReasonFilterUnavailable || !strings.Contains(res.Outcomes[0].Message, "export list") {
		t.Errorf("unreadable export list: %+v", res)
	}
}

// What a human changes live on a request wakes its Router (the push key
// changes); what the Router controller writes itself does not.
func TestPushKey(t *testing.T) {
	base := pinnedRequest("k", time.Now(), "80.81.192.1")
	lp := int64(300)
	for _, c := range []struct {
		name   string
		change func(*peeringv1.PeeringRequest)
		wakes  bool
	}{
		{"shutdown", func(p *peeringv1.PeeringRequest) { p.Spec.Shutdown = true }, true},
		{"drain", func(p *peeringv1.PeeringRequest) { p.Spec.Drain = &peeringv1.Drain{} }, true},
		{"local preference", func(p *peeringv1.PeeringRequest) { p.Spec.LocalPreference = &lp }, true},
		{"announce narrowed", func(p *peeringv1.PeeringRequest) {
			p.Spec.Announce = &peeringv1.Announce{Prefixes: []string{"192.0.2.0/24"}}
		}, true},
		{"a new pin", func(p *peeringv1.PeeringRequest) {
			p.Status.Config = withExports(p.Status.Config, map[int]string{4: "sha256:x"})
		}, true},
		{"sessions reported", func(p *peeringv1.PeeringRequest) {
			p.Status.Sessions = []peeringv1.SessionStatus{{Address: "80.81.192.1", State: "Established"}}
		}, false},
	} {
		pr := base.DeepCopy()
		c.change(pr)
		if got := pushKey(pr) != pushKey(base); got != c.wakes {
			t.Errorf("%s: wakes the Router %t, want %t", c.name, got, c.wakes)
		}
	}
}

// Routers naming the same device are reconciled one at a time; others
// are not held up.
func TestLockDevice(t *testing.T) {
	r := &RouterReconciler{}
	mk := func(name, addr string) *peeringv1.Router {
		return &peeringv1.Router{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: peeringv1.RouterSpec{Driver: peeringv1.DriverFRR, Address: addr}}
	}
	unlock := r.lockDevice(mk("old", "192.0.2.1"))
	same := r.devices[deviceKey(mk("new", "192.0.2.1"))]
	if same == nil || same.TryLock() {
		t.Fatal("a second Router for the device could take it while the first holds it")
	}
	r.lockDevice(mk("b", "192.0.2.9"))() // another device: taken at once
	unlock()
	if !same.TryLock() {
		t.Fatal("the device stays locked after the first Router let go")
	}
	same.Unlock()
}
