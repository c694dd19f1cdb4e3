package controllers

import (
	"errors"
	"fmt"
	"net/netip"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
	"github.com/peering-operator/peering-operator/internal/conditions"
	"github.com/peering-operator/peering-operator/internal/peeringdb"
	"github.com/peering-operator/peering-operator/internal/validation"
)

// Ready reasons of a PeeringRequest, in the order the gates are checked.
// The PeeringDB failure reasons come from internal/validation.
const (
	ReasonIXPortNotFound       = "IXPortNotFound"
	ReasonRouterMissing        = "RouterNotFound"
	ReasonDenied               = "Denied"
	ReasonPeeringDBUnavailable = "PeeringDBUnavailable"
	ReasonValidated            = "Validated"
	ReasonWaitingForApproval   = "WaitingForApproval"
	ReasonFiltersPending       = "FiltersPending"
	ReasonNotApproved          = "NotApproved"
	ReasonNotValidated         = "NotValidated"
	ReasonNotConfigured        = "NotConfigured"
	ReasonSessionsEstablished  = "Established"
)

// prObserved is everything outside the PeeringRequest its status depends on.
type prObserved struct {
	// IXPort is the referenced port; nil when it does not exist.
	IXPort *peeringv1.IXPort
	// Router is the port's router; nil when it (or the port) does not exist.
	Router *peeringv1.Router
	// Validation is the PeeringDB check; nil when PeeringDB has no data
	// for the IX yet (PDBErr says why).
	Validation *validation.Result
	// PDBErr is the last PeeringDB error for the IX, if any.
	PDBErr error
	// PDB is the cache's health, for messages about stale data.
	PDB peeringdb.CacheStatus
}

// prStatus is the computed status of a PeeringRequest.
type prStatus struct {
	Conditions     []conditions.Set
	Approval       peeringv1.ApprovalStatus
	Peer           *peeringv1.PeerInfo
	Sessions       []peeringv1.SessionStatus
	SessionSummary string
	// Retry: the request waits on something that resolves by itself
	// (PeeringDB outage); requeue soon.
	Retry bool
}

// gate is the first thing holding a request back.
type gate struct {
	reason, message      string
	stalled, progressing bool
}

// computePeeringRequestStatus walks the gates a request passes on its way to
// the router and stops at the first that holds it. Nothing after a failed
// gate is reported as done: a request that is not approved and validated is
// never Configured.
func computePeeringRequestStatus(pr *peeringv1.PeeringRequest, obs prObserved) prStatus {
	st := prStatus{Approval: approvalOf(pr)}
	validated := validatedCondition(pr, obs)
	st.Retry = validated.Reason == ReasonPeeringDBUnavailable
	if v := obs.Validation; v != nil && v.PeerFound {
		st.Peer = peerInfo(v.Peer)
	}
	st.Sessions = sessionsOf(pr, obs.Validation)
	st.SessionSummary = sessionSummary(st.Sessions)

	g := prGate(pr, obs, st.Approval.State, validated)
	ready := conditions.False(peeringv1.ConditionReady, g.reason, g.message)

	approvedAndValid := st.Approval.State == peeringv1.ApprovalStateApproved && validated.Status == metav1.ConditionTrue
	configured := conditions.False(peeringv1.PeeringRequestConfigured, ReasonNotApproved,
		"nothing is pushed to a router before Approved=True and PeeringDBValidated=True")
	switch {
	case st.Approval.State == peeringv1.ApprovalStateApproved && !approvedAndValid:
		configured = conditions.False(peeringv1.PeeringRequestConfigured, ReasonNotValidated,
			"approved, but nothing is pushed until PeeringDBValidated=True")
	case approvedAndValid:
		configured = conditions.False(peeringv1.PeeringRequestConfigured, ReasonFiltersPending,
			"waiting for the prefix filters before anything is pushed")
	}
	st.Conditions = append(st.Conditions,
		validated,
		conditions.Unknown(peeringv1.PeeringRequestFiltersReady, ReasonFiltersPending, "prefix filters are built after PeeringDB validation"),
		configured,
		conditions.False(peeringv1.PeeringRequestEstablished, ReasonNotConfigured, fmt.Sprintf("%s sessions established", st.SessionSummary)),
	)
	st.Conditions = append(st.Conditions, kstatus(ready, g.stalled, g.progressing)...)
	return st
}

// prGate returns the first gate that holds the request.
func prGate(pr *peeringv1.PeeringRequest, obs prObserved, approval string, validated conditions.Set) gate {
	switch {
	case obs.IXPort == nil:
		return gate{ReasonIXPortNotFound, fmt.Sprintf("IXPort %q does not exist: create it or fix spec.ixPortRef.name", pr.Spec.IXPortRef.Name), false, true}
	case obs.Router == nil:
		return gate{ReasonRouterMissing, fmt.Sprintf("IXPort %q is on Router %q, which does not exist: create it or fix the IXPort's spec.routerRef.name",
			obs.IXPort.Name, obs.IXPort.Spec.RouterRef.Name), false, true}
	case approval == peeringv1.ApprovalStateDenied:
		return gate{ReasonDenied, "the request was denied; delete it, or create a new one to ask again", true, false}
	case validated.Status != metav1.ConditionTrue:
		final := obs.Validation != nil && obs.Validation.Final() ||
			validated.Reason == validation.ReasonIXNotFound
		return gate{validated.Reason, validated.Message, final, !final}
	case approval != peeringv1.ApprovalStateApproved:
		return gate{ReasonWaitingForApproval, "validated against PeeringDB; waiting for a NOC approval (condition Approved=True); nothing is pushed until then", false, false}
	default:
		return gate{ReasonFiltersPending, "approved and validated; waiting for the prefix filters", false, true}
	}
}

// validatedCondition is the PeeringDBValidated condition.
func validatedCondition(pr *peeringv1.PeeringRequest, obs prObserved) conditions.Set {
	const t = peeringv1.PeeringRequestPeeringDBValidated
	v := obs.Validation
	switch {
	case obs.IXPort == nil:
		return conditions.Unknown(t, ReasonIXPortNotFound, "checked once the IXPort exists")
	case obs.Router == nil:
		return conditions.Unknown(t, ReasonRouterMissing, "checked once the IXPort's Router exists")
	case v == nil && errors.Is(obs.PDBErr, peeringdb.ErrNotFound):
		return conditions.False(t, validation.ReasonIXNotFound, fmt.Sprintf(
			"IX %d (IXPort %q) is not in PeeringDB; fix the IXPort's spec.ix.peeringdbID", obs.IXPort.Spec.IX.PeeringDBID, obs.IXPort.Name))
	case v == nil:
		msg := "PeeringDB has not been reached yet"
		if obs.PDBErr != nil {
			msg = obs.PDBErr.Error()
		}
		return conditions.Unknown(t, ReasonPeeringDBUnavailable, msg+"; retrying by itself")
	case !v.OK():
		return conditions.False(t, v.Reason(), v.Message())
	}
	msg := fmt.Sprintf("AS%d (%s) is at %s with %d session(s)", pr.Spec.PeerASN, v.Peer.Name, v.IXName, len(v.Sessions))
	if obs.PDB.Stale {
		msg += fmt.Sprintf("; PeeringDB data is stale since %s (%s)", obs.PDB.StaleSince.UTC().Format("2006-01-02T15:04:05Z"), obs.PDB.LastError)
	}
	return conditions.True(t, ReasonValidated, msg)
}

func peerInfo(p validation.Peer) *peeringv1.PeerInfo {
	return &peeringv1.PeerInfo{
		Name: p.Name, PeeringDBID: int64(p.NetID), Policy: p.PolicyGeneral, IRRASSet: p.IRRASSet,
		InfoPrefixes4: p.InfoPrefixes4, InfoPrefixes6: p.InfoPrefixes6,
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

// sessionsOf lists one session per address: the validated ones (PeeringDB's
// when spec.addresses is empty), else the requested ones. What is known of
// existing sessions is kept.
func sessionsOf(pr *peeringv1.PeeringRequest, v *validation.Result) []peeringv1.SessionStatus {
	var addrs []netip.Addr
	if v != nil && v.Sessions != nil {
		for _, s := range v.Sessions {
			addrs = append(addrs, s.Address)
		}
	} else {
		for _, a := range pr.Spec.Addresses {
			if addr, err := netip.ParseAddr(a); err == nil { // CEL rejects the rest; never trust, though
				addrs = append(addrs, addr.Unmap())
			}
		}
	}
	known := map[string]peeringv1.SessionStatus{}
	for _, s := range pr.Status.Sessions {
		known[s.Address] = s
	}
	out := make([]peeringv1.SessionStatus, 0, len(addrs))
	for _, a := range addrs {
		s, ok := known[a.String()]
		if !ok {
			s = peeringv1.SessionStatus{Address: a.String(), Family: familyOf(a), State: "NotConfigured"}
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
