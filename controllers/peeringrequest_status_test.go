package controllers

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
	"github.com/peering-operator/peering-operator/internal/conditions"
	"github.com/peering-operator/peering-operator/internal/peeringdb"
	"github.com/peering-operator/peering-operator/internal/policy"
	"github.com/peering-operator/peering-operator/internal/validation"
)

func TestComputePeeringRequestStatus(t *testing.T) {
	port := &peeringv1.IXPort{}
	router := &peeringv1.Router{}
	approved := metav1.Condition{Type: "Approved", Status: metav1.ConditionTrue, Reason: "NOCApproved"}
	denied := metav1.Condition{Type: "Denied", Status: metav1.ConditionTrue, Reason: "NOCDenied"}
	ok := &validation.Result{IXName: "DE-CIX Frankfurt", PeerFound: true, Peer: validation.Peer{Name: "DENIC eG"},
		Sessions: []validation.Session{{Address: netip.MustParseAddr("80.81.192.37"), Family: "ipv4"}, {Address: netip.MustParseAddr("2001:7f8::223b:0:1"), Family: "ipv6"}}}
	final := &validation.Result{Failures: []validation.Failure{{Reason: peeringv1.ReasonNotAtIX, Final: true, Message: "not there"}}}
	held := &validation.Result{PeerFound: true, Failures: []validation.Failure{{Reason: peeringv1.ReasonPeerPolicyNo, Message: "policy No"}}}
	built := []familyFilter{{Family: 4, OK: true}, {Family: 6, OK: true}}
	valid := prObserved{IXPort: port, Router: router, Validation: ok, Filters: built}
	irrDown := prObserved{IXPort: port, Router: router, Validation: ok, Filters: []familyFilter{{Family: 4, Reason: peeringv1.ReasonIRRUnavailable, Retry: true}}}
	outage := prObserved{IXPort: port, Router: router, PDBErr: &peeringdb.Error{Kind: peeringdb.ErrUnavailable}}
	tests := []struct {
		name          string
		conds         []metav1.Condition
		obs           prObserved
		wantReady     string
		wantApproval  string
		wantStalled   metav1.ConditionStatus
		wantReconcile metav1.ConditionStatus
		wantConfig    string
		wantValidated metav1.ConditionStatus
	}{
		{"missing port wins over everything", []metav1.Condition{approved}, prObserved{}, peeringv1.ReasonIXPortNotFound, "Approved", "False", "True", peeringv1.ReasonNotValidated, "Unknown"},
		{"missing router", nil, prObserved{IXPort: port}, peeringv1.ReasonRouterNotFound, "Pending", "False", "True", peeringv1.ReasonNotApproved, "Unknown"},
		{"valid and pending", nil, valid, peeringv1.ReasonWaitingForApproval, "Pending", "False", "False", peeringv1.ReasonNotApproved, "True"},
		{"valid and approved", []metav1.Condition{approved}, valid, peeringv1.ReasonConfigurationPending, "Approved", "False", "True", peeringv1.ReasonConfigurationPending, "True"},
		{"IRR down and no filter yet", []metav1.Condition{approved}, irrDown, peeringv1.ReasonIRRUnavailable, "Approved", "False", "True", peeringv1.ReasonFiltersPending, "True"},
		{"approved but not at the IX is stalled", []metav1.Condition{approved}, prObserved{IXPort: port, Router: router, Validation: final}, peeringv1.ReasonNotAtIX, "Approved", "True", "False", peeringv1.ReasonNotValidated, "False"},
		{"policy No is held, not stalled", nil, prObserved{IXPort: port, Router: router, Validation: held}, peeringv1.ReasonPeerPolicyNo, "Pending", "False", "True", peeringv1.ReasonNotApproved, "False"},
		{"PeeringDB outage retries", []metav1.Condition{approved}, outage, peeringv1.ReasonPeeringDBUnavailable, "Approved", "False", "True", peeringv1.ReasonNotValidated, "Unknown"},
		{"unknown IX is stalled", nil, prObserved{IXPort: port, Router: router, PDBErr: &peeringdb.Error{Kind: peeringdb.ErrNotFound}}, peeringv1.ReasonIXNotFound, "Pending", "True", "False", peeringv1.ReasonNotApproved, "False"},
		{"denied is final", []metav1.Condition{denied}, valid, peeringv1.ReasonDenied, "Denied", "True", "False", peeringv1.ReasonNotApproved, "True"},
		{"denied beats approved", []metav1.Condition{approved, denied}, valid, peeringv1.ReasonDenied, "Denied", "True", "False", peeringv1.ReasonNotApproved, "True"},
		{"an Approved=False condition is no approval", []metav1.Condition{{Type: "Approved", Status: metav1.ConditionFalse, Reason: "X"}}, valid,
			peeringv1.ReasonWaitingForApproval, "Pending", "False", "False", peeringv1.ReasonNotApproved, "True"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pr := &peeringv1.PeeringRequest{
				Spec:   peeringv1.PeeringRequestSpec{PeerASN: 8763, Addresses: []string{"80.81.192.37", "2001:7f8::223b:0:1"}},
				Status: peeringv1.PeeringRequestStatus{Conditions: tc.conds},
			}
			st := computePeeringRequestStatus(pr, tc.obs)
			got := map[string]conditions.Set{}
			for _, c := range st.Conditions {
				got[c.Type] = c
			}
			if r := got["Ready"]; r.Reason != tc.wantReady || r.Status != metav1.ConditionFalse {
				t.Errorf("Ready = %s/%s, want False/%s", r.Status, r.Reason, tc.wantReady)
			}
			if st.Approval.State != tc.wantApproval {
				t.Errorf("approval = %s, want %s", st.Approval.State, tc.wantApproval)
			}
			if s := got["Stalled"].Status; s != tc.wantStalled {
				t.Errorf("Stalled = %s, want %s", s, tc.wantStalled)
			}
			if s := got["Reconciling"].Status; s != tc.wantReconcile {
				t.Errorf("Reconciling = %s, want %s", s, tc.wantReconcile)
			}
			if c := got["Configured"]; c.Status != metav1.ConditionFalse || c.Reason != tc.wantConfig {
				t.Errorf("Configured = %s/%s, want False/%s", c.Status, c.Reason, tc.wantConfig)
			}
			if s := got["PeeringDBValidated"].Status; s != tc.wantValidated {
				t.Errorf("PeeringDBValidated = %s, want %s", s, tc.wantValidated)
			}
			if st.SessionSummary != "0/2" || st.Sessions[0].Family != "ipv4" || st.Sessions[1].Family != "ipv6" {
				t.Errorf("sessions = %+v (%s)", st.Sessions, st.SessionSummary)
			}
			irrRetry := len(tc.obs.Filters) > 0 && tc.obs.Filters[0].Retry
			if st.Retry != (errors.Is(tc.obs.PDBErr, peeringdb.ErrUnavailable) || irrRetry) {
				t.Errorf("retry = %v with PeeringDB error %v", st.Retry, tc.obs.PDBErr)
			}
			for _, typ := range []string{"Approved", "Denied"} {
				if _, ok := got[typ]; ok {
					t.Errorf("the controller must never set %s: only an approver does", typ)
				}
			}
		})
	}
}

// A hostile or broken PeeringDB irr_as_set never widens a filter: a field
// with a control character is ignored entirely (the peer's own AS is
// expanded) and FiltersReady says so; junk tokens are named and skipped.
func TestFilterSetsFromHostileFields(t *testing.T) {
	pr := &peeringv1.PeeringRequest{Spec: peeringv1.PeeringRequestSpec{PeerASN: 8763}}
	for _, c := range []struct {
		field, corrupt string
		sets, bad      []string
	}{
		{"AS-FOO\nneighbor 1.2.3.4 remote-as 1", "PeeringDB's irr_as_set for AS8763 is ignored: the AS-SET field holds a control character", []string{"AS8763"}, nil},
		{"AS-FOO 1 AS0", "", []string{"AS-FOO"}, []string{"1", "AS0"}},
		{"", "", []string{"AS8763"}, nil},
	} {
		sets, bad, corrupt := filterSets(pr, c.field)
		if !slices.Equal(sets, c.sets) || !slices.Equal(bad, c.bad) || !strings.HasPrefix(corrupt, c.corrupt) || (c.corrupt == "") != (corrupt == "") {
			t.Errorf("%q: %q %q %q, want %q %q %q", c.field, sets, bad, corrupt, c.sets, c.bad, c.corrupt)
		}
	}
	obs := prObserved{FilterSets: []string{"AS8763"}, FilterCorrupt: "PeeringDB's irr_as_set for AS8763 is ignored: x",
		Filters: []familyFilter{{Family: 4, OK: true, Message: "IPv4: filter built"}}}
	c := filtersCondition(obs, conditions.True(peeringv1.PeeringRequestPeeringDBValidated, peeringv1.ReasonValidated, ""))
	if !strings.Contains(c.Message, "is ignored") {
		t.Errorf("FiltersReady does not say the field was ignored: %+v", c)
	}
}

// The Router controller writes a pinned request's router-facing conditions
// with its report (followRouter); the request controller must compute the
// same on its next pass, or every report would cost a second write.
func TestFollowRouterAgreesWithTheRequestController(t *testing.T) {
	port := &peeringv1.IXPort{Spec: peeringv1.IXPortSpec{RouterRef: peeringv1.LocalObjectReference{Name: "rs1"}}}
	rt := &peeringv1.Router{}
	ok := &validation.Result{IXName: "DE-CIX Frankfurt", PeerFound: true, Peer: validation.Peer{Name: "DENIC eG"},
		Sessions: []validation.Session{{Address: netip.MustParseAddr("80.81.192.37"), Family: "ipv4"}, {Address: netip.MustParseAddr("2001:7f8::223b:0:1"), Family: "ipv6"}}}
	f4 := &policy.CachedFilter{Summary: policy.FilterSummary{Prefixes: 1, Entries: 1, Digest: "sha256:4"}}
	f6 := &policy.CachedFilter{Summary: policy.FilterSummary{Prefixes: 1, Entries: 1, Digest: "sha256:6"}}
	obs := prObserved{IXPort: port, Router: rt, Validation: ok, Now: time.Unix(1_800_000_000, 0), WaitingForPeerAfter: 7 * 24 * time.Hour,
		Filters: []familyFilter{{Family: 4, OK: true, Candidate: f4}, {Family: 6, OK: true, Candidate: f6}}}
	approved := metav1.Condition{Type: "Approved", Status: metav1.ConditionTrue, Reason: "NOCApproved", LastTransitionTime: metav1.NewTime(obs.Now.Add(-3 * 24 * time.Hour))}
	settle := func(pr *peeringv1.PeeringRequest) prStatus {
		st := computePeeringRequestStatus(pr, obs)
		conditions.Apply(&pr.Status.Conditions, pr.Generation, st.Conditions...)
		pr.Status.Approval, pr.Status.Config, pr.Status.Drift = &st.Approval, st.Pin.Config, st.Pin.Drift
		pr.Status.SessionSummary = st.SessionSummary
		return st
	}
	up := metav1.NewTime(obs.Now.Add(-time.Hour))
	configured := func(pr *peeringv1.PeeringRequest) {
		pr.Status.Applied = &peeringv1.AppliedStatus{Router: "rs1", Result: peeringv1.AppliedResultApplied, ConfigDigest: pr.Status.Config.Digest, Time: metav1.NewTime(obs.Now)}
	}
	tests := []struct {
		name   string
		report func(pr *peeringv1.PeeringRequest)
		want   string // Ready's reason
	}{
		{"approved 8 days ago, never up: waiting for the peer", func(pr *peeringv1.PeeringRequest) {
			configured(pr)
			pr.Status.Conditions[0].LastTransitionTime = metav1.NewTime(obs.Now.Add(-8*24*time.Hour - time.Minute))
			pr.Status.Approval.Time = &pr.Status.Conditions[0].LastTransitionTime
			pr.Status.Sessions = []peeringv1.SessionStatus{{Address: "80.81.192.37", Family: "ipv4", State: "Active"}}
		}, peeringv1.ReasonWaitingForPeer},
		{"approved 8 days ago, up once: a drop, not a wait", func(pr *peeringv1.PeeringRequest) {
			configured(pr)
			pr.Status.Conditions[0].LastTransitionTime = metav1.NewTime(obs.Now.Add(-8 * 24 * time.Hour))
			pr.Status.Approval.Time = &pr.Status.Conditions[0].LastTransitionTime
			pr.Status.Sessions = []peeringv1.SessionStatus{{Address: "80.81.192.37", Family: "ipv4", State: "Active", EstablishedTime: &up}}
		}, peeringv1.ReasonSessionsDown},
		{"not yet applied", func(pr *peeringv1.PeeringRequest) {}, peeringv1.ReasonConfigurationPending},
		{"applied, sessions down", func(pr *peeringv1.PeeringRequest) {
			pr.Status.Applied = &peeringv1.AppliedStatus{Router: "rs1", Result: peeringv1.AppliedResultApplied, ConfigDigest: pr.Status.Config.Digest, Time: metav1.NewTime(obs.Now)}
			pr.Status.Sessions = []peeringv1.SessionStatus{{Address: "80.81.192.37", Family: "ipv4", State: "Active"}, {Address: "2001:7f8::223b:0:1", Family: "ipv6", State: "Idle", LastError: "hold timer expired"}}
		}, peeringv1.ReasonSessionsDown},
		{"applied, established", func(pr *peeringv1.PeeringRequest) {
			pr.Status.Applied = &peeringv1.AppliedStatus{Router: "rs1", Result: peeringv1.AppliedResultApplied, ConfigDigest: pr.Status.Config.Digest, Time: metav1.NewTime(obs.Now)}
			pr.Status.Sessions = []peeringv1.SessionStatus{{Address: "80.81.192.37", Family: "ipv4", State: "Established", EstablishedTime: &up}, {Address: "2001:7f8::223b:0:1", Family: "ipv6", State: "Established", EstablishedTime: &up}}
		}, peeringv1.ReasonSessionsEstablished},
		{"an older pin applied", func(pr *peeringv1.PeeringRequest) {
			pr.Status.Applied = &peeringv1.AppliedStatus{Router: "rs1", Result: peeringv1.AppliedResultApplied, ConfigDigest: "sha256:old", Time: metav1.NewTime(obs.Now)}
		}, peeringv1.ReasonConfigurationPending},
		{"held by the router", func(pr *peeringv1.PeeringRequest) {
			pr.Status.Applied = &peeringv1.AppliedStatus{Router: "rs1", Result: peeringv1.AppliedResultHeld, Reason: peeringv1.ReasonPasswordSecretError, Message: "secret x: not found", Time: metav1.NewTime(obs.Now)}
		}, peeringv1.ReasonPasswordSecretError},
		{"shut down by the NOC", func(pr *peeringv1.PeeringRequest) {
			pr.Spec.Shutdown = true
			pr.Status.Applied = &peeringv1.AppliedStatus{Router: "rs1", Result: peeringv1.AppliedResultApplied, ConfigDigest: pr.Status.Config.Digest, Time: metav1.NewTime(obs.Now)}
		}, peeringv1.ReasonAdminShutdown},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pr := &peeringv1.PeeringRequest{
				Spec:   peeringv1.PeeringRequestSpec{PeerASN: 8763, Addresses: []string{"80.81.192.37", "2001:7f8::223b:0:1"}},
				Status: peeringv1.PeeringRequestStatus{Conditions: []metav1.Condition{approved}},
			}
			settle(pr)
			if pr.Status.Config == nil {
				t.Fatal("the request was not pinned")
			}
			tc.report(pr)
			sets, summary, ok := followRouter(pr, port, rt, obs.Now, obs.WaitingForPeerAfter)
			if !ok {
				t.Fatal("followRouter declined an approved, pinned request")
			}
			router := pr.DeepCopy()
			conditions.Apply(&router.Status.Conditions, router.Generation, sets...)
			router.Status.SessionSummary = summary
			// The request controller's next pass over what the router wrote.
			next := router.DeepCopy()
			settle(next)
			if !equality.Semantic.DeepEqual(router.Status, next.Status) {
				t.Errorf("the request controller would write again:\nrouter:  %+v\nrequest: %+v", router.Status.Conditions, next.Status.Conditions)
			}
			if r := meta.FindStatusCondition(next.Status.Conditions, "Ready"); r == nil || r.Reason != tc.want {
				t.Errorf("Ready = %+v, want reason %s", r, tc.want)
			} else if tc.want == peeringv1.ReasonWaitingForPeer && !strings.Contains(r.Message, "in 8 day(s) since the approval") {
				t.Errorf("WaitingForPeer does not say the days waited: %s", r.Message)
			}
		})
	}
	t.Run("not pinned: left to the request controller", func(t *testing.T) {
		pr := &peeringv1.PeeringRequest{Spec: peeringv1.PeeringRequestSpec{PeerASN: 8763}}
		if _, _, ok := followRouter(pr, port, rt, obs.Now, obs.WaitingForPeerAfter); ok {
			t.Error("followRouter took a request that is not pinned")
		}
	})
}
