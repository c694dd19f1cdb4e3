package controllers

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
	"github.com/peering-operator/peering-operator/internal/conditions"
)

func TestComputePeeringRequestStatus(t *testing.T) {
	port := &peeringv1.IXPort{}
	approved := metav1.Condition{Type: "Approved", Status: metav1.ConditionTrue, Reason: "NOCApproved"}
	denied := metav1.Condition{Type: "Denied", Status: metav1.ConditionTrue, Reason: "NOCDenied"}
	tests := []struct {
		name          string
		conds         []metav1.Condition
		port          *peeringv1.IXPort
		wantReady     string
		wantApproval  string
		wantStalled   metav1.ConditionStatus
		wantReconcile metav1.ConditionStatus
		wantConfig    string
	}{
		{"missing port wins over everything", []metav1.Condition{approved}, nil, ReasonIXPortNotFound, "Approved", "False", "True", ReasonValidationPending},
		{"pending", nil, port, ReasonWaitingForApproval, "Pending", "False", "False", ReasonNotApproved},
		{"approved", []metav1.Condition{approved}, port, ReasonValidationPending, "Approved", "False", "True", ReasonValidationPending},
		{"denied is final", []metav1.Condition{denied}, port, ReasonDenied, "Denied", "True", "False", ReasonNotApproved},
		{"denied beats approved", []metav1.Condition{approved, denied}, port, ReasonDenied, "Denied", "True", "False", ReasonNotApproved},
		{"an Approved=False condition is no approval", []metav1.Condition{{Type: "Approved", Status: metav1.ConditionFalse, Reason: "X"}}, port,
			ReasonWaitingForApproval, "Pending", "False", "False", ReasonNotApproved},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pr := &peeringv1.PeeringRequest{
				Spec:   peeringv1.PeeringRequestSpec{Addresses: []string{"80.81.192.100", "2001:7f8::1"}},
				Status: peeringv1.PeeringRequestStatus{Conditions: tc.conds},
			}
			st := computePeeringRequestStatus(pr, prObserved{IXPort: tc.port})
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
			if st.SessionSummary != "0/2" || st.Sessions[0].Family != "ipv4" || st.Sessions[1].Family != "ipv6" {
				t.Errorf("sessions = %+v (%s)", st.Sessions, st.SessionSummary)
			}
			for _, typ := range []string{"Approved", "Denied"} {
				if _, ok := got[typ]; ok {
					t.Errorf("the controller must never set %s: only an approver does", typ)
				}
			}
		})
	}
}
