package controllers

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
	"github.com/peering-operator/peering-operator/internal/irr"
	"github.com/peering-operator/peering-operator/internal/policy"
	"github.com/peering-operator/peering-operator/internal/router"
	"github.com/peering-operator/peering-operator/internal/validation"
)

func testFilter(family int, prefixes ...string) *policy.CachedFilter {
	var ps []netip.Prefix
	var es []irr.Entry
	for _, p := range prefixes {
		pp := netip.MustParsePrefix(p)
		ps = append(ps, pp)
		es = append(es, irr.Entry{Prefix: pp, Exact: true})
	}
	return &policy.CachedFilter{Key: policy.FilterKey{Sets: "AS-TEST", Family: family}, Prefixes: ps, Entries: es, Summary: policy.Summarize(ps, es)}
}

func TestDecidePin(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	v4a, v4b, v6a := "80.81.192.37", "80.81.192.99", "2001:7f8::223b:0:1"
	f4 := testFilter(4, "192.0.2.0/24", "198.51.100.0/24")
	f4grown := testFilter(4, "192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")
	f4shrunk := testFilter(4, "192.0.2.0/24")
	f6 := testFilter(6, "2001:db8::/32")
	ok := &validation.Result{IXName: "DE-CIX Frankfurt", PeerFound: true, Peer: validation.Peer{ASN: 8763}}
	policyNo := &validation.Result{PeerFound: true, Failures: []validation.Failure{{Reason: peeringv1.ReasonPeerPolicyNo, Message: "AS8763 says policy No"}}}
	notOperational := &validation.Result{PeerFound: true, Failures: []validation.Failure{{Reason: peeringv1.ReasonNotOperational, Message: "port not operational"}}}
	sess := func(addr string, limit int64) peeringv1.PinnedSession {
		fam := "ipv4"
		if netip.MustParseAddr(addr).Is6() {
			fam = "ipv6"
		}
		return peeringv1.PinnedSession{Address: addr, Family: fam, Limit: limit}
	}
	built := func(f *policy.CachedFilter) familyFilter {
		return familyFilter{Family: f.Key.Family, Candidate: f, OK: true, Reason: peeringv1.ReasonGuardAccepted}
	}
	heldF := func(f *policy.CachedFilter) familyFilter {
		return familyFilter{Family: f.Key.Family, Candidate: f, Reason: peeringv1.ReasonFilterShrink, Message: "IPv4: shrank"}
	}
	irrDown := func(fam int) familyFilter {
		return familyFilter{Family: fam, Reason: peeringv1.ReasonIRRUnavailable, Retry: true}
	}

	first := decidePin(pinInput{Now: now, Approved: true, Validation: ok,
		Sessions: []peeringv1.PinnedSession{sess(v4a, 200), sess(v6a, 50)}, Filters: []familyFilter{built(f4), built(f6)}})
	if first.Config == nil || len(first.Config.Sessions) != 2 || first.Config.IPv4Filter != f4.Summary.Digest ||
		first.Config.IPv6Filter != f6.Summary.Digest || first.Config.Reason != peeringv1.ReasonPinApproved || len(first.Save) != 2 || first.Drift != nil {
		t.Fatalf("first pin = %+v", first)
	}
	pinned := first.Config
	// A pin over v4 only, for the address and limit cases.
	pin4 := pinnedConfig(map[netip.Addr]peeringv1.PinnedSession{netip.MustParseAddr(v4a): sess(v4a, 200)}, map[int]string{4: f4.Summary.Digest})
	pin4.Reason, pin4.Time = peeringv1.ReasonPinApproved, metav1.NewTime(now.Add(-time.Hour))

	type want struct {
		unchanged   bool     // the same pin object comes back
		sessions    []string // addresses of the next pin ("" check skipped when nil)
		limitOf     map[string]int64
		v4          *policy.CachedFilter
		driftReason string
		reason      string
		save        int
		nilConfig   bool
	}
	tests := []struct {
		name string
		in   pinInput
		want want
	}{
		{"nothing is pinned before approval", pinInput{Approved: false, Validation: ok, Sessions: []peeringv1.PinnedSession{sess(v4a, 200)}, Filters: []familyFilter{built(f4)}},
			want{nilConfig: true}},
		{"nothing is pinned without a filter for every family", pinInput{Approved: true, Validation: ok,
			Sessions: []peeringv1.PinnedSession{sess(v4a, 200), sess(v6a, 50)}, Filters: []familyFilter{built(f4), irrDown(6)}}, want{nilConfig: true}},
		{"nothing is pinned while PeeringDB has not validated", pinInput{Approved: true, Validation: policyNo, Filters: []familyFilter{built(f4)}}, want{nilConfig: true}},
		{"an outage of PeeringDB and the IRR changes nothing", pinInput{Approved: true, Pinned: pinned, Filters: []familyFilter{irrDown(4), irrDown(6)}},
			want{unchanged: true}},
		{"policy No is held", pinInput{Approved: true, Pinned: pinned, Validation: policyNo, Filters: []familyFilter{built(f4), built(f6)}},
			want{unchanged: true, driftReason: peeringv1.ReasonPeerPolicyNo}},
		{"not operational is held", pinInput{Approved: true, Pinned: pinned, Validation: notOperational}, want{unchanged: true, driftReason: peeringv1.ReasonNotOperational}},
		{"a renumbered peer: the new address is added, the old one held", pinInput{Approved: true, Pinned: pin4, Validation: ok,
			Sessions: []peeringv1.PinnedSession{sess(v4b, 200)}, Filters: []familyFilter{built(f4)}},
			want{sessions: []string{v4a, v4b}, driftReason: peeringv1.ReasonAddressRemoved, reason: peeringv1.ReasonPinWidened}},
		{"a lower limit is held", pinInput{Approved: true, Pinned: pin4, Validation: ok, Sessions: []peeringv1.PinnedSession{sess(v4a, 100)}, Filters: []familyFilter{built(f4)}},
			want{unchanged: true, limitOf: map[string]int64{v4a: 200}, driftReason: peeringv1.ReasonLimitLowered}},
		{"a higher limit applies", pinInput{Approved: true, Pinned: pin4, Validation: ok, Sessions: []peeringv1.PinnedSession{sess(v4a, 300)}, Filters: []familyFilter{built(f4)}},
			want{limitOf: map[string]int64{v4a: 300}, reason: peeringv1.ReasonPinWidened}},
		{"no limit is wider than any", pinInput{Approved: true, Pinned: pin4, Validation: ok, Sessions: []peeringv1.PinnedSession{sess(v4a, 0)}, Filters: []familyFilter{built(f4)}},
			want{limitOf: map[string]int64{v4a: 0}, reason: peeringv1.ReasonPinWidened}},
		{"a filter the guard passes applies and is saved", pinInput{Approved: true, Pinned: pin4, Validation: ok, Sessions: []peeringv1.PinnedSession{sess(v4a, 200)}, Filters: []familyFilter{built(f4grown)}},
			want{v4: f4grown, reason: peeringv1.ReasonPinFilterUpdated, save: 1}},
		{"a filter the guard holds is held", pinInput{Approved: true, Pinned: pin4, Validation: ok, Sessions: []peeringv1.PinnedSession{sess(v4a, 200)}, Filters: []familyFilter{heldF(f4shrunk)}},
			want{unchanged: true, v4: f4, driftReason: peeringv1.ReasonFilterShrink}},
		{"a new family whose filter is not built yet is not added", pinInput{Approved: true, Pinned: pin4, Validation: ok,
			Sessions: []peeringv1.PinnedSession{sess(v4a, 200), sess(v6a, 50)}, Filters: []familyFilter{built(f4), irrDown(6)}},
			want{unchanged: true}},
		{"a new family with its filter is added", pinInput{Approved: true, Pinned: pin4, Validation: ok,
			Sessions: []peeringv1.PinnedSession{sess(v4a, 200), sess(v6a, 50)}, Filters: []familyFilter{built(f4), built(f6)}},
			want{sessions: []string{v4a, v6a}, reason: peeringv1.ReasonPinWidened, save: 1}},
	}
	// A request an earlier version pushed without pinning: what the router
	// has is the baseline.
	legacy := []peeringv1.PinnedSession{sess(v4a, 200)}
	tests = append(tests,
		struct {
			name string
			in   pinInput
			want want
		}{"legacy: the router's sessions are the baseline", pinInput{Approved: true, Legacy: legacy, Validation: ok,
			Sessions: []peeringv1.PinnedSession{sess(v4b, 200)}, Filters: []familyFilter{built(f4)}},
			want{sessions: []string{v4a, v4b}, driftReason: peeringv1.ReasonAddressRemoved, reason: peeringv1.ReasonPinApproved, save: 1}},
		struct {
			name string
			in   pinInput
			want want
		}{"legacy: no pin while a family in use has no filter", pinInput{Approved: true, Legacy: legacy, Validation: ok,
			Sessions: []peeringv1.PinnedSession{sess(v4a, 200)}, Filters: []familyFilter{irrDown(4)}}, want{nilConfig: true}},
	)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.in.Now = now
			got := decidePin(tc.in)
			w := tc.want
			if w.nilConfig {
				if got.Config != nil {
					t.Fatalf("pinned %+v, want nothing", got.Config)
				}
				return
			}
			if got.Config == nil {
				t.Fatal("no pin")
			}
			if w.unchanged && got.Config != tc.in.Pinned {
				t.Errorf("pin changed to %+v, want it unchanged", got.Config)
			}
			if !w.unchanged && got.Config == tc.in.Pinned {
				t.Errorf("pin unchanged, want a change")
			}
			if w.sessions != nil {
				var addrs []string
				for _, s := range got.Config.Sessions {
					addrs = append(addrs, s.Address)
				}
				if len(addrs) != len(w.sessions) {
					t.Errorf("sessions %v, want %v", addrs, w.sessions)
				}
				for i := range addrs {
					if i < len(w.sessions) && addrs[i] != w.sessions[i] {
						t.Errorf("sessions %v, want %v", addrs, w.sessions)
					}
				}
			}
			for a, l := range w.limitOf {
				for _, s := range got.Config.Sessions {
					if s.Address == a && s.Limit != l {
						t.Errorf("limit of %s = %d, want %d", a, s.Limit, l)
					}
				}
			}
			if w.v4 != nil && got.Config.IPv4Filter != w.v4.Summary.Digest {
				t.Errorf("IPv4 filter %s, want %s", got.Config.IPv4Filter, w.v4.Summary.Digest)
			}
			if got.DriftReason != w.driftReason || (w.driftReason == "") != (got.Drift == nil) {
				t.Errorf("drift %q %+v, want %q", got.DriftReason, got.Drift, w.driftReason)
			}
			if w.reason != "" && got.Config.Reason != w.reason {
				t.Errorf("reason %s, want %s", got.Config.Reason, w.reason)
			}
			if len(got.Save) != w.save {
				t.Errorf("save %d filters, want %d", len(got.Save), w.save)
			}
			if got.Config.Digest != configDigest(got.Config) {
				t.Errorf("digest %s does not match the configuration", got.Config.Digest)
			}
		})
	}
}

// A held change is applied only with its own token; a later, different
// change needs a new accept, and the drift keeps the time it started.
func TestDecidePinAccept(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	f4 := testFilter(4, "192.0.2.0/24", "198.51.100.0/24")
	f4shrunk := testFilter(4, "192.0.2.0/24")
	pin := pinnedConfig(map[netip.Addr]peeringv1.PinnedSession{
		netip.MustParseAddr("80.81.192.37"): {Address: "80.81.192.37", Family: "ipv4", Limit: 200},
	}, map[int]string{4: f4.Summary.Digest})
	policyNo := &validation.Result{PeerFound: true, Failures: []validation.Failure{{Reason: peeringv1.ReasonPeerPolicyNo, Message: "policy No"}}}
	in := pinInput{Now: now, Approved: true, Pinned: pin, Validation: policyNo}
	held := decidePin(in)
	if held.Drift == nil || held.Config != pin {
		t.Fatalf("policy No not held: %+v", held)
	}
	// A wrong token changes nothing.
	in.AcceptDrift = "0000000000000000"
	if got := decidePin(in); got.Config != pin || got.Drift == nil {
		t.Fatalf("a wrong token applied the change: %+v", got)
	}
	// The right token removes the sessions: a human decided.
	in.AcceptDrift = held.Drift.Token
	acc := decidePin(in)
	if acc.Drift != nil || acc.Config == nil || len(acc.Config.Sessions) != 0 || acc.Config.Reason != peeringv1.ReasonPinAccepted {
		t.Fatalf("accepted = %+v", acc)
	}
	// Another change gets another token; the drift keeps its start.
	later := pinInput{Now: now.Add(time.Hour), Approved: true, Pinned: pin, Validation: policyNo, Drift: held.Drift,
		Filters: []familyFilter{{Family: 4, Candidate: f4shrunk, Reason: peeringv1.ReasonFilterShrink, Message: "shrank"}}, AcceptDrift: held.Drift.Token}
	got := decidePin(later)
	if got.Drift == nil || got.Drift.Token == held.Drift.Token || !got.Drift.Since.Equal(&held.Drift.Since) || got.Config != pin {
		t.Fatalf("a new change under an old token: %+v", got)
	}
	if len(got.Drift.Changes) != 2 {
		t.Errorf("changes %v, want the policy and the filter", got.Drift.Changes)
	}
	// Accepting a held filter pins it and asks for it to be saved first.
	shrink := pinInput{Now: now, Approved: true, Pinned: pin, Validation: &validation.Result{PeerFound: true, Peer: validation.Peer{ASN: 8763}},
		Sessions: pin.Sessions, Filters: []familyFilter{{Family: 4, Candidate: f4shrunk, Reason: peeringv1.ReasonFilterShrink, Message: "shrank"}}}
	tok := decidePin(shrink).Drift.Token
	shrink.AcceptDrift = tok
	acc = decidePin(shrink)
	if acc.Config.IPv4Filter != f4shrunk.Summary.Digest || len(acc.Save) != 1 || acc.Drift != nil {
		t.Fatalf("accepted filter = %+v", acc)
	}
}

// The export list from the announce AS-SET is pinned like a filter: the
// first pin waits for it; a grown list applies by itself, a shrunk one is
// held until a human accepts it; a human taking the AS-SET away removes it;
// an IRR outage changes nothing; a pin without exports keeps its digest.
func TestDecidePinExports(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	v4 := "80.81.192.37"
	f4 := testFilter(4, "192.0.2.0/24")
	x := testFilter(4, "31.3.1.0/24", "31.3.2.0/24")
	xGrown := testFilter(4, "31.3.1.0/24", "31.3.2.0/24", "31.3.3.0/24")
	xShrunk := testFilter(4, "31.3.1.0/24")
	ok := &validation.Result{IXName: "DE-CIX Frankfurt", PeerFound: true, Peer: validation.Peer{ASN: 8763}}
	sessions := []peeringv1.PinnedSession{{Address: v4, Family: "ipv4", Limit: 100}}
	built := func(f *policy.CachedFilter) familyFilter {
		return familyFilter{Family: 4, Sets: []string{"AS-OURCUST"}, Candidate: f, OK: true}
	}
	held := familyFilter{Family: 4, Sets: []string{"AS-OURCUST"}, Candidate: xShrunk, Reason: peeringv1.ReasonFilterShrink, Message: "export IPv4: 50% fewer"}
	in := func(pinned *peeringv1.PinnedConfig, exports ...familyFilter) pinInput {
		return pinInput{Now: now, Approved: true, Validation: ok, Sessions: sessions, Pinned: pinned, Filters: []familyFilter{built(f4)}, Exports: exports}
	}

	if res := decidePin(in(nil, familyFilter{Family: 4, Reason: peeringv1.ReasonIRRUnavailable, Retry: true})); res.Config != nil {
		t.Fatalf("first pin without the export list: %+v", res.Config)
	}
	first := decidePin(in(nil, built(x)))
	if first.Config == nil || first.Config.IPv4Export != x.Summary.Digest || len(first.Save) != 2 {
		t.Fatalf("first pin: %+v (save %d)", first.Config, len(first.Save))
	}
	plain := decidePin(pinInput{Now: now, Approved: true, Validation: ok, Sessions: sessions, Filters: []familyFilter{built(f4)}})
	if plain.Config.Digest == first.Config.Digest || configDigest(&peeringv1.PinnedConfig{Sessions: sessions, IPv4Filter: f4.Summary.Digest}) != plain.Config.Digest {
		t.Error("a pin without exports must keep the digest it had before export lists existed")
	}
	pinned := first.Config

	grown := decidePin(in(pinned, built(xGrown)))
	if grown.Config.IPv4Export != xGrown.Summary.Digest || grown.Drift != nil || grown.Config.Reason != peeringv1.ReasonPinFilterUpdated {
		t.Errorf("grown: %+v drift %+v", grown.Config, grown.Drift)
	}
	shrunk := decidePin(in(pinned, held))
	if shrunk.Config != pinned || shrunk.Drift == nil || shrunk.DriftReason != peeringv1.ReasonFilterShrink {
		t.Errorf("shrunk: config %+v drift %+v", shrunk.Config, shrunk.Drift)
	}
	accept := in(pinned, held)
	accept.AcceptDrift = shrunk.Drift.Token
	if res := decidePin(accept); res.Config == nil || res.Config.IPv4Export != xShrunk.Summary.Digest || res.Config.Reason != peeringv1.ReasonPinAccepted {
		t.Errorf("accepted: %+v", res.Config)
	}
	if res := decidePin(in(pinned, familyFilter{Family: 4, Reason: peeringv1.ReasonIRRUnavailable, Retry: true})); res.Config != pinned {
		t.Errorf("IRR down: %+v", res.Config)
	}
	off := in(pinned)
	off.ExportsOff = true
	if res := decidePin(off); res.Config == nil || res.Config.IPv4Export != "" || res.Drift != nil {
		t.Errorf("AS-SET taken away: %+v drift %+v", res.Config, res.Drift)
	}
}

// The export's parts merge without duplicates: an announce prefix that
// the AS-SET's list also has is one entry.
func TestMergeEntries(t *testing.T) {
	p := netip.MustParsePrefix
	got := mergeEntries([]router.Entry{{Prefix: p("192.0.2.0/24"), Exact: true}},
		[]router.Entry{{Prefix: p("192.0.2.0/24"), GE: 24, LE: 24}, {Prefix: p("31.3.0.0/16"), GE: 16, LE: 24}})
	want := []router.Entry{{Prefix: p("192.0.2.0/24"), Exact: true}, {Prefix: p("31.3.0.0/16"), GE: 16, LE: 24}}
	if !slices.Equal(got, want) {
		t.Errorf("merged %+v, want %+v", got, want)
	}
}

// The AS-SET to announce: the port's list over the Router's; none on a
// route server or for a request that narrows to prefixes; a field that
// names nothing is an error (what is pinned stays).
func TestExportSetsOf(t *testing.T) {
	rt := &peeringv1.Router{Spec: peeringv1.RouterSpec{Announce: &peeringv1.Announce{ASSet: "AS-RTR"}}}
	port := &peeringv1.IXPort{Spec: peeringv1.IXPortSpec{Announce: &peeringv1.Announce{ASSet: "AS-PORT AS64500"}}}
	bare := &peeringv1.IXPort{}
	pr := &peeringv1.PeeringRequest{}
	narrowed := &peeringv1.PeeringRequest{Spec: peeringv1.PeeringRequestSpec{Announce: &peeringv1.Announce{Prefixes: []string{"192.0.2.0/24"}}}}
	rs := &peeringv1.Router{Spec: peeringv1.RouterSpec{RouteServer: true, Announce: &peeringv1.Announce{ASSet: "AS-RTR"}}}
	bad := &peeringv1.Router{Spec: peeringv1.RouterSpec{Announce: &peeringv1.Announce{ASSet: "17 ; rm"}}}
	for _, c := range []struct {
		name string
		rt   *peeringv1.Router
		port *peeringv1.IXPort
		pr   *peeringv1.PeeringRequest
		want []string
		err  bool
	}{
		{"the Router's", rt, bare, pr, []string{"AS-RTR"}, false},
		{"the port's", rt, port, pr, []string{"AS-PORT", "AS64500"}, false},
		{"narrowed", rt, port, narrowed, nil, false},
		{"route server", rs, bare, pr, nil, false},
		{"names nothing", bad, bare, pr, nil, true},
	} {
		got, _, err := exportSetsOf(c.rt, c.port, c.pr)
		if !slices.Equal(got, c.want) || (err != nil) != c.err {
			t.Errorf("%s: %v %v, want %v (error %t)", c.name, got, err, c.want, c.err)
		}
	}
}
