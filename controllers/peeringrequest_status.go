package controllers

import (
	"fmt"
	"net/netip"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
	"github.com/peering-operator/peering-operator/internal/conditions"
)

// Ready reasons of a PeeringRequest, in the order the gates are checked.
const (
	ReasonIXPortNotFound      = "IXPortNotFound"
	ReasonDenied              = "Denied"
	ReasonWaitingForApproval  = "WaitingForApproval"
	ReasonValidationPending   = "ValidationPending"
	ReasonNotApproved         = "NotApproved"
	ReasonNotConfigured       = "NotConfigured"
	ReasonSessionsEstablished = "Established"
)

// prObserved is everything outside the PeeringRequest its status depends on.
type prObserved struct {
	// IXPort is the referenced port; nil when it does not exist.
	IXPort *peeringv1.IXPort
}

// prStatus is the computed status of a PeeringRequest.
type prStatus struct {
	Conditions     []conditions.Set
	Approval       peeringv1.ApprovalStatus
	Sessions       []peeringv1.SessionStatus
	SessionSummary string
}

// computePeeringRequestStatus walks the gates a request passes on its way to
// the router and stops at the first that holds it. Nothing after a failed
// gate is reported as done: a request that is not approved is never
// Configured.
func computePeeringRequestStatus(pr *peeringv1.PeeringRequest, obs prObserved) prStatus {
	st := prStatus{Approval: approvalOf(pr)}
	st.Sessions = sessionsOf(pr)
	st.SessionSummary = sessionSummary(st.Sessions)

	ready, stalled, progressing := prReady(pr, obs, st.Approval.State)
	configured := conditions.False(peeringv1.PeeringRequestConfigured, ReasonNotApproved,
		"nothing is pushed to a router before Approved=True and PeeringDBValidated=True")
	if st.Approval.State == peeringv1.ApprovalStateApproved {
		configured = conditions.False(peeringv1.PeeringRequestConfigured, ReasonValidationPending,
			"waiting for PeeringDB validation and filters before anything is pushed")
	}
	st.Conditions = append(st.Conditions,
		conditions.Unknown(peeringv1.PeeringRequestPeeringDBValidated, ReasonValidationPending, "not checked against PeeringDB yet"),
		conditions.Unknown(peeringv1.PeeringRequestFiltersReady, ReasonValidationPending, "prefix filters are built after PeeringDB validation"),
		configured,
		conditions.False(peeringv1.PeeringRequestEstablished, ReasonNotConfigured, fmt.Sprintf("%s sessions established", st.SessionSummary)),
	)
	st.Conditions = append(st.Conditions, kstatus(ready, stalled, progressing)...)
	return st
}

// prReady returns the Ready condition and whether the request is stalled
// (needs a human to change it) or progressing (will move by itself).
func prReady(pr *peeringv1.PeeringRequest, obs prObserved, approval string) (ready conditions.Set, stalled, progressing bool) {
	port := pr.Spec.IXPortRef.Name
	switch {
	case obs.IXPort == nil:
		return conditions.False(peeringv1.ConditionReady, ReasonIXPortNotFound,
			fmt.Sprintf("IXPort %q does not exist: create it or fix spec.ixPortRef.name", port)), false, true
	case approval == peeringv1.ApprovalStateDenied:
		return conditions.False(peeringv1.ConditionReady, ReasonDenied,
			"the request was denied; delete it, or create a new one to ask again"), true, false
	case approval != peeringv1.ApprovalStateApproved:
		return conditions.False(peeringv1.ConditionReady, ReasonWaitingForApproval,
			fmt.Sprintf("waiting for a NOC approval (kubectl peering approve %s); nothing is pushed until then", pr.Name)), false, false
	default:
		return conditions.False(peeringv1.ConditionReady, ReasonValidationPending,
			"approved; waiting for PeeringDB validation"), false, true
	}
}

// approvalOf derives the approval summary from the Approved and Denied
// conditions, which only the approver sets.
func approvalOf(pr *peeringv1.PeeringRequest) peeringv1.ApprovalStatus {
	a := peeringv1.ApprovalStatus{State: peeringv1.ApprovalStatePending}
	if pr.Status.Approval != nil {
		a = *pr.Status.Approval.DeepCopy()
	}
	decided := func(t, state string) bool {
		c := meta.FindStatusCondition(pr.Status.Conditions, t)
		if c == nil || c.Status != metav1.ConditionTrue {
			return false
		}
		if a.State != state {
			a.State = state
			a.Time = c.LastTransitionTime.DeepCopy()
			a.Reason = c.Message
		}
		return true
	}
	// Denied wins: a request someone denied is never pushed.
	if !decided(peeringv1.PeeringRequestDenied, peeringv1.ApprovalStateDenied) &&
		!decided(peeringv1.PeeringRequestApproved, peeringv1.ApprovalStateApproved) {
		a = peeringv1.ApprovalStatus{State: peeringv1.ApprovalStatePending}
	}
	return a
}

// sessionsOf lists one session per requested address, keeping what is known
// about sessions that already exist.
func sessionsOf(pr *peeringv1.PeeringRequest) []peeringv1.SessionStatus {
	known := map[string]peeringv1.SessionStatus{}
	for _, s := range pr.Status.Sessions {
		known[s.Address] = s
	}
	out := make([]peeringv1.SessionStatus, 0, len(pr.Spec.Addresses))
	for _, a := range pr.Spec.Addresses {
		addr, err := netip.ParseAddr(a)
		if err != nil {
			continue // the API server's CEL rule rejects these; never trust, though
		}
		s, ok := known[addr.String()]
		if !ok {
			s = peeringv1.SessionStatus{Address: addr.String(), Family: familyOf(addr), State: "NotConfigured"}
		}
		out = append(out, s)
	}
	return out
}

func familyOf(a netip.Addr) string {
	if a.Is4() {
		return "ipv4"
	}
	return "ipv6"
}

// sessionSummary renders established/total, e.g. 2/2.
func sessionSummary(ss []peeringv1.SessionStatus) string {
	up := 0
	for _, s := range ss {
		if s.State == "Established" {
			up++
		}
	}
	return fmt.Sprintf("%d/%d", up, len(ss))
}
