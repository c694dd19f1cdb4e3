package controllers

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
	"github.com/peering-operator/peering-operator/internal/conditions"
	"github.com/peering-operator/peering-operator/internal/peeringdb"
	"github.com/peering-operator/peering-operator/internal/policy"
	"github.com/peering-operator/peering-operator/internal/router"
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
	ReasonConfigurationPending = "ConfigurationPending"
	ReasonNotApproved          = "NotApproved"
	ReasonNotValidated         = "NotValidated"
	ReasonNotConfigured        = "NotConfigured"
	ReasonSessionsEstablished  = "Established"
	ReasonSessionsDown         = "SessionsNotEstablished"
	ReasonAdminShutdown        = "AdministrativelyDown"
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
	// Filters per address family, built once the request validates.
	Filters []familyFilter
	// FilterSets are the AS-SETs/ASNs expanded; FilterBadSets the tokens
	// of the AS-SET field that are not names; FilterSources the IRR
	// sources queried.
	FilterSets, FilterBadSets, FilterSources []string
	// RouterKnown: the Router controller has applied the router since the
	// operator started, so Configured lists what is on it.
	RouterKnown bool
	// Configured addresses of this request on the router, and their state.
	Configured []netip.Addr
	State      map[netip.Addr]router.NeighborState
	// RejectReason/Message: the Router controller refused to push the
	// request (a value no router CLI may take, a missing password Secret).
	RejectReason, RejectMessage string
}

// prStatus is the computed status of a PeeringRequest.
type prStatus struct {
	Conditions     []conditions.Set
	Approval       peeringv1.ApprovalStatus
	Peer           *peeringv1.PeerInfo
	Sessions       []peeringv1.SessionStatus
	SessionSummary string
	Filters        *peeringv1.Filters
	// Retry: the request waits on something that resolves by itself
	// (PeeringDB outage); requeue soon.
	Retry bool
}

// gate is the first thing holding a request back.
type gate struct {
	reason, message      string
	stalled, progressing bool
	// ready: no gate holds the request; Ready=True.
	ready bool
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
	if obs.IXPort != nil && st.Peer != nil {
		setLimits(st.Sessions, pr, obs.IXPort, st.Peer)
	}
	setSessionState(st.Sessions, obs)
	st.SessionSummary = sessionSummary(st.Sessions)
	filters := filtersCondition(obs, validated)
	st.Retry = st.Retry || filters.Reason == ReasonIRRUnavailable
	st.Filters = filtersStatus(pr, obs)

	if c, ok := autoApproval(pr, obs, st.Approval.State, validated, filters); ok {
		st.Conditions = append(st.Conditions, c)
	}
	configured := configuredCondition(st, obs, validated, filters)
	established := establishedCondition(pr, st, configured)
	g := prGate(pr, obs, st.Approval.State, validated, filters, configured, established)
	ready := conditions.False(peeringv1.ConditionReady, g.reason, g.message)
	if g.ready {
		ready = conditions.True(peeringv1.ConditionReady, g.reason, g.message)
	}
	st.Conditions = append(st.Conditions, validated, filters, configured, established)
	st.Conditions = append(st.Conditions, kstatus(ready, g.stalled, g.progressing)...)
	return st
}

// prGate returns the first gate that holds the request.
func prGate(pr *peeringv1.PeeringRequest, obs prObserved, approval string, validated, filters, configured, established conditions.Set) gate {
	switch {
	case obs.IXPort == nil:
		return gate{ReasonIXPortNotFound, fmt.Sprintf("IXPort %q does not exist: create it or fix spec.ixPortRef.name", pr.Spec.IXPortRef.Name), false, true, false}
	case obs.Router == nil:
		return gate{ReasonRouterMissing, fmt.Sprintf("IXPort %q is on Router %q, which does not exist: create it or fix the IXPort's spec.routerRef.name",
			obs.IXPort.Name, obs.IXPort.Spec.RouterRef.Name), false, true, false}
	case approval == peeringv1.ApprovalStateDenied:
		return gate{ReasonDenied, "the request was denied; delete it, or create a new one to ask again", true, false, false}
	case validated.Status != metav1.ConditionTrue:
		final := obs.Validation != nil && obs.Validation.Final() ||
			validated.Reason == validation.ReasonIXNotFound
		return gate{validated.Reason, validated.Message, final, !final, false}
	case filters.Status != metav1.ConditionTrue:
		return gate{filters.Reason, filters.Message, false, true, false}
	case approval != peeringv1.ApprovalStateApproved:
		return gate{ReasonWaitingForApproval, "validated against PeeringDB, filters built; waiting for a NOC approval (condition Approved=True); nothing is pushed until then", false, false, false}
	case configured.Status != metav1.ConditionTrue:
		final := configured.Reason == ReasonInvalidForRouter || configured.Reason == ReasonPasswordSecretError
		return gate{configured.Reason, configured.Message, final, !final, false}
	case established.Status != metav1.ConditionTrue && established.Reason != ReasonAdminShutdown:
		return gate{established.Reason, established.Message, false, true, false}
	default:
		return gate{established.Reason, established.Message, false, false, true}
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

// filtersCondition is FiltersReady: True when every family has a current
// filter; otherwise the first family's problem (an IRR outage, or a filter
// the guard held).
func filtersCondition(obs prObserved, validated conditions.Set) conditions.Set {
	const t = peeringv1.PeeringRequestFiltersReady
	if validated.Status != metav1.ConditionTrue {
		return conditions.Unknown(t, ReasonNotValidated, "prefix filters are built once the request validates against PeeringDB")
	}
	if len(obs.Filters) == 0 {
		return conditions.Unknown(t, ReasonFiltersPending, "no session, so no filter to build")
	}
	var msgs []string
	var bad *familyFilter
	for i, f := range obs.Filters {
		msgs = append(msgs, f.Message)
		if !f.OK && bad == nil {
			bad = &obs.Filters[i]
		}
	}
	head := fmt.Sprintf("AS-SETs %s from %s", strings.Join(obs.FilterSets, " "), sourcesLabel(obs.FilterSources))
	if len(obs.FilterBadSets) > 0 {
		head += fmt.Sprintf(" (ignored, not AS-SET names: %s)", strings.Join(obs.FilterBadSets, " "))
	}
	msg := head + ": " + strings.Join(msgs, "; ")
	if bad != nil {
		return conditions.False(t, bad.Reason, msg)
	}
	return conditions.True(t, ReasonFiltersBuilt, msg)
}

func sourcesLabel(src []string) string {
	if len(src) == 0 {
		return "every IRR source"
	}
	return strings.Join(src, ",")
}

// filtersStatus is status.filters: the filters in use, or what the status
// said before when the operator has none in memory (after a restart, while
// the IRR is down).
func filtersStatus(pr *peeringv1.PeeringRequest, obs prObserved) *peeringv1.Filters {
	out := &peeringv1.Filters{}
	if pr.Status.Filters != nil {
		out = pr.Status.Filters.DeepCopy()
	}
	for _, f := range obs.Filters {
		fs := filterStatus(f.InUse, obs.FilterSources)
		if fs == nil {
			continue
		}
		if f.Family == 4 {
			out.IPv4 = fs
		} else {
			out.IPv6 = fs
		}
	}
	if out.IPv4 == nil && out.IPv6 == nil {
		return nil
	}
	return out
}

// setLimits fills each session's max-prefix limit: the request's override,
// else the IXPort's formula over PeeringDB's prefix count.
func setLimits(ss []peeringv1.SessionStatus, pr *peeringv1.PeeringRequest, port *peeringv1.IXPort, peer *peeringv1.PeerInfo) {
	d := maxPrefixDefaults(port.Spec.PeerDefaults.MaxPrefixes)
	var o4, o6 *int64
	if m := pr.Spec.MaxPrefixes; m != nil {
		o4, o6 = m.IPv4, m.IPv6
	}
	l4 := policy.MaxPrefix(peer.InfoPrefixes4, 4, d, o4)
	l6 := policy.MaxPrefix(peer.InfoPrefixes6, 6, d, o6)
	for i := range ss {
		l := l6
		if ss[i].Family == "ipv4" {
			l = l4
		}
		ss[i].Limit = &l
	}
}

// maxPrefixDefaults is the IXPort's max-prefix settings, unset ones
// defaulted as the CRD does.
func maxPrefixDefaults(m peeringv1.MaxPrefixDefaults) policy.Defaults {
	return policy.Defaults{Absolute: m.AbsoluteHeadroom, RelativePercent: m.RelativeHeadroomPercent,
		Unknown4: m.IPv4Unknown, Unknown6: m.IPv6Unknown}.OrDefault()
}

// ReasonAutoApproved marks an approval by the IXPort's AutoOpen policy.
const ReasonAutoApproved = "AutoApproved"

// autoApproval approves a pending request when its IXPort's policy is
// AutoOpen, the request validates cleanly, its filters are built and the
// peer's PeeringDB policy is Open. Anything else waits for a human.
func autoApproval(pr *peeringv1.PeeringRequest, obs prObserved, approval string, validated, filters conditions.Set) (conditions.Set, bool) {
	if obs.IXPort == nil || obs.IXPort.Spec.PeerDefaults.Approval != peeringv1.ApprovalAutoOpen ||
		approval != peeringv1.ApprovalStatePending || validated.Status != metav1.ConditionTrue ||
		filters.Status != metav1.ConditionTrue || obs.Validation == nil || len(obs.Validation.Warnings) > 0 ||
		obs.Validation.Peer.PolicyGeneral != peeringdb.PolicyOpen {
		return conditions.Set{}, false
	}
	return conditions.True(peeringv1.PeeringRequestApproved, ReasonAutoApproved, fmt.Sprintf(
		"auto-approved by IXPort %q's AutoOpen policy: AS%d (%s) has an Open policy in PeeringDB and validated cleanly",
		obs.IXPort.Name, pr.Spec.PeerASN, obs.Validation.Peer.Name)), true
}

// configuredCondition is Configured: True when every session's neighbor is on
// the router. Nothing is pushed before approval, validation and filters.
func configuredCondition(st prStatus, obs prObserved, validated, filters conditions.Set) conditions.Set {
	const t = peeringv1.PeeringRequestConfigured
	approved := st.Approval.State == peeringv1.ApprovalStateApproved
	switch {
	case !approved:
		return conditions.False(t, ReasonNotApproved, "nothing is pushed to a router before Approved=True and PeeringDBValidated=True")
	case validated.Status != metav1.ConditionTrue:
		return conditions.False(t, ReasonNotValidated, "approved, but nothing is pushed until PeeringDBValidated=True")
	case filters.Status != metav1.ConditionTrue && len(obs.Configured) == 0:
		return conditions.False(t, ReasonFiltersPending, "waiting for the prefix filters before anything is pushed")
	case obs.RejectReason != "":
		return conditions.False(t, obs.RejectReason, obs.RejectMessage)
	}
	on := map[string]bool{}
	for _, a := range obs.Configured {
		on[a.String()] = true
	}
	var missing []string
	for _, s := range st.Sessions {
		if !on[s.Address] {
			missing = append(missing, s.Address)
		}
	}
	router := obs.IXPort.Spec.RouterRef.Name
	if len(missing) > 0 || len(st.Sessions) == 0 {
		return conditions.False(t, ReasonConfigurationPending, fmt.Sprintf("waiting for Router %q to configure %s", router, strings.Join(missing, ", ")))
	}
	return conditions.True(t, ReasonConfigured, fmt.Sprintf("%d neighbor(s) configured on Router %q", len(st.Sessions), router))
}

// establishedCondition is Established: True when every session is up.
func establishedCondition(pr *peeringv1.PeeringRequest, st prStatus, configured conditions.Set) conditions.Set {
	const t = peeringv1.PeeringRequestEstablished
	if configured.Status != metav1.ConditionTrue {
		return conditions.False(t, ReasonNotConfigured, fmt.Sprintf("%s sessions established", st.SessionSummary))
	}
	if pr.Spec.Shutdown {
		return conditions.False(t, ReasonAdminShutdown, "spec.shutdown: the sessions are configured and administratively down")
	}
	var down []string
	for _, s := range st.Sessions {
		if s.State != "Established" {
			d := fmt.Sprintf("%s is %s", s.Address, s.State)
			if s.LastError != "" {
				d += " (" + s.LastError + ")"
			}
			down = append(down, d)
		}
	}
	if len(down) > 0 {
		return conditions.False(t, ReasonSessionsDown, fmt.Sprintf("%s sessions established: %s", st.SessionSummary, strings.Join(down, "; ")))
	}
	return conditions.True(t, ReasonSessionsEstablished, fmt.Sprintf("%s sessions established", st.SessionSummary))
}

// setSessionState copies what the router reports into each session.
func setSessionState(ss []peeringv1.SessionStatus, obs prObserved) {
	on := map[string]bool{}
	for _, a := range obs.Configured {
		on[a.String()] = true
	}
	for i := range ss {
		s := &ss[i]
		if !on[s.Address] {
			*s = peeringv1.SessionStatus{Address: s.Address, Family: s.Family, State: "NotConfigured", Limit: s.Limit}
			continue
		}
		a, _ := netip.ParseAddr(s.Address)
		rs, ok := obs.State[a]
		if !ok {
			s.State = "Unknown"
			continue
		}
		s.State, s.LastError = rs.State, rs.LastError
		s.EstablishedTime = nil
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
	}
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
