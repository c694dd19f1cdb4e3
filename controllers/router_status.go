package controllers

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
	"github.com/peering-operator/peering-operator/internal/conditions"
	"github.com/peering-operator/peering-operator/internal/router"
)

// maxNotPushed bounds status.notPushed, so a router with thousands of held
// requests does not grow its object without end.
const maxNotPushed = 50

// routerObserved is what one reconcile of a Router saw and did.
type routerObserved struct {
	Now time.Time
	// Skip: nothing was observed (a debounced or failed read); the status
	// stays as it is.
	Skip bool
	// DeletionUsers are the IXPorts a deletion waits for.
	DeletionUsers []string
	Reachable     conditions.Set
	// Stage is how far the reconcile got (a Ready reason), Message why.
	Stage, Message string
	// Desired and Outcomes are what was (to be) pushed.
	Desired  router.Desired
	Outcomes []outcome
	// Apply is the result of a successful apply.
	Apply *router.ApplyResult
	// StateErr: reading the sessions after the apply failed.
	StateErr error
}

// computeRouterStatus is the Router's status after a reconcile (pure).
func computeRouterStatus(cur peeringv1.RouterStatus, gen int64, obs routerObserved) peeringv1.RouterStatus {
	st := *cur.DeepCopy()
	if len(obs.DeletionUsers) > 0 {
		conditions.Apply(&st.Conditions, gen, deletionBlocked("IXPort", obs.DeletionUsers)...)
		return st
	}
	msg := obs.Message
	switch obs.Stage {
	case peeringv1.ReasonApplied:
		st.Neighbors, st.Held = int32(len(obs.Desired.Neighbors)), int32(len(obs.Desired.Held))
		msg = fmt.Sprintf("%d neighbors configured", st.Neighbors)
		if st.Held > 0 {
			msg += fmt.Sprintf(", %d held as they run (status.notPushed)", st.Held)
		}
		if a := obs.Apply; a.Changed() {
			msg += fmt.Sprintf(" (last change: %d added, %d updated, %d removed)", a.Added, a.Updated, a.Removed)
		}
		if obs.StateErr != nil {
			msg += "; reading session state failed: " + obs.StateErr.Error()
		}
		st.LastApply = lastApply(st.LastApply, "Success", obs.Apply.Digest, "", obs.Now)
		st.NotPushed = notPushed(obs.Outcomes)
	case peeringv1.ReasonApplyFailed:
		st.LastApply = lastApply(st.LastApply, "Failure", "", obs.Message, obs.Now)
	}
	conditions.Apply(&st.Conditions, gen, routerConditions(obs.Reachable, obs.Stage, msg)...)
	return st
}

// lastApply updates status.lastApply only when the outcome differs from the
// last one, so an unchanged router does not rewrite its status every poll.
func lastApply(cur *peeringv1.ApplyResult, result, digest, msg string, now time.Time) *peeringv1.ApplyResult {
	if cur != nil && cur.Result == result && cur.Digest == digest && cur.Message == msg {
		return cur
	}
	return &peeringv1.ApplyResult{Time: metav1.NewTime(now), Result: result, Digest: digest, Message: msg}
}

// notPushed lists the held and refused requests, in name order.
func notPushed(outs []outcome) []peeringv1.RequestNotPushed {
	var out []peeringv1.RequestNotPushed
	for _, o := range outs {
		if o.Result == peeringv1.AppliedResultHeld || o.Result == peeringv1.AppliedResultRejected {
			out = append(out, peeringv1.RequestNotPushed{Request: o.PR.Namespace + "/" + o.PR.Name, Result: o.Result, Reason: o.Reason, Message: o.Message})
		}
	}
	slices.SortFunc(out, func(a, b peeringv1.RequestNotPushed) int { return strings.Compare(a.Request, b.Request) })
	return out[:min(len(out), maxNotPushed)]
}

// routerConditions is a Router's conditions: Reachable as observed, Ready
// True only when the last apply succeeded, Stalled when a human must fix
// something (credentials, an unsupported driver).
func routerConditions(reachable conditions.Set, reason, msg string) []conditions.Set {
	ready := conditions.False(peeringv1.ConditionReady, reason, msg)
	if reason == peeringv1.ReasonApplied {
		ready = conditions.True(peeringv1.ConditionReady, reason, msg)
	}
	stalled := reason == peeringv1.ReasonCredentialsError || reason == peeringv1.ReasonDriverUnavailable
	return append([]conditions.Set{reachable}, kstatus(ready, stalled, !stalled && reason != peeringv1.ReasonApplied)...)
}

// requestReportResult is what the Router controller writes into a request.
type requestReportResult struct {
	Applied  *peeringv1.AppliedStatus
	Sessions []peeringv1.SessionStatus // nil: leave status.sessions alone
	Changed  bool
}

// requestReport computes a request's status.applied (after a successful
// apply) and status.sessions from what the router reports (pure). Sessions
// are the pinned ones, each with the router's state for it, so the status
// never contradicts the router.
func requestReport(routerName string, pr *peeringv1.PeeringRequest, o outcome, states map[netip.Addr]router.NeighborState, applied bool, now time.Time) requestReportResult {
	res := requestReportResult{Applied: pr.Status.Applied}
	if applied {
		next := &peeringv1.AppliedStatus{Router: routerName, Result: o.Result, ConfigDigest: o.ConfigDigest, Reason: o.Reason, Message: o.Message, Time: metav1.NewTime(now)}
		if cur := pr.Status.Applied; cur != nil {
			same := *cur
			same.Time = next.Time
			if same == *next {
				next = cur
			}
		}
		res.Applied = next
	}
	// A request refused for an address another one has would be shown the
	// other's session: its sessions are left alone.
	if pin := pr.Status.Config; pin != nil && o.Result != peeringv1.AppliedResultRemoved && o.Reason != peeringv1.ReasonAddressInUse {
		res.Sessions = make([]peeringv1.SessionStatus, 0, len(pin.Sessions))
		last := map[string]*metav1.Time{}
		for _, s := range pr.Status.Sessions {
			last[s.Address] = s.EstablishedTime
		}
		for _, p := range pin.Sessions {
			s := sessionFromRouter(p, states)
			if s.EstablishedTime == nil {
				// When it last came up, kept while it is down: that it
				// ever did tells a peer that never configured its side
				// (WaitingForPeer) from a session that dropped.
				s.EstablishedTime = last[p.Address]
			}
			res.Sessions = append(res.Sessions, s)
		}
	}
	res.Changed = !equality.Semantic.DeepEqual(res.Applied, pr.Status.Applied) ||
		(res.Sessions != nil && !equality.Semantic.DeepEqual(res.Sessions, pr.Status.Sessions))
	return res
}

// sessionFromRouter is one pinned session as the router reports it.
func sessionFromRouter(p peeringv1.PinnedSession, states map[netip.Addr]router.NeighborState) peeringv1.SessionStatus {
	s := peeringv1.SessionStatus{Address: p.Address, Family: p.Family, State: stateNotConfigured}
	if p.Limit > 0 {
		l := p.Limit
		s.Limit = &l
	}
	a, err := netip.ParseAddr(p.Address)
	if err != nil {
		return s
	}
	rs, ok := states[a]
	if !ok {
		return s
	}
	s.State, s.LastError = rs.State, rs.LastError
	if !rs.EstablishedSince.IsZero() {
		t := metav1.NewTime(rs.EstablishedSince.Truncate(time.Second))
		s.EstablishedTime = &t
	}
	rcv, acc := rs.Received, rs.Accepted
	s.Received, s.Accepted = &rcv, &acc
	if rs.Limit > 0 {
		l := rs.Limit
		s.Limit = &l
	}
	return s
}
