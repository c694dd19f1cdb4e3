package controllers

import (
	"cmp"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
	"github.com/peering-operator/peering-operator/internal/conditions"
	"github.com/peering-operator/peering-operator/internal/peeringdb"
	"github.com/peering-operator/peering-operator/internal/policy"
	"github.com/peering-operator/peering-operator/internal/router"
	"github.com/peering-operator/peering-operator/internal/validation"
	"github.com/peering-operator/peering-operator/internal/webhook"
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
	// FilterCorrupt says why the AS-SET field was ignored entirely ("":
	// it was not).
	FilterCorrupt string
	// ExportSets are what the announce AS-SET names (exportSetsOf),
	// ExportBadSets its tokens that are not names, ExportErr why it cannot
	// be used; ExportFilters their expansions per family.
	ExportSets, ExportBadSets []string
	ExportErr                 error
	ExportFilters             []familyFilter
	// Now is the time of the reconcile.
	Now time.Time
	// WaitingForPeerAfter is how long after the approval sessions that
	// never came up are WaitingForPeer (0: never).
	WaitingForPeerAfter time.Duration
}

// prStatus is the computed status of a PeeringRequest.
type prStatus struct {
	Conditions     []conditions.Set
	Approval       peeringv1.ApprovalStatus
	Peer           *peeringv1.PeerInfo
	Sessions       []peeringv1.SessionStatus
	SessionSummary string
	Filters        *peeringv1.Filters
	// Exports is status.exports.
	Exports *peeringv1.Filters
	Imports *peeringv1.ImportStatus
	// ExportFilters is status.exportFilters.
	ExportFilters *peeringv1.Filters
	// WriteSessions: Sessions are the request's to write (before it is
	// pinned). Once pinned, the Router controller writes status.sessions
	// from what the router reports.
	WriteSessions bool
	// Pin is the pinned configuration and what it needs saved first.
	Pin pinResult
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
// never Configured. Once a request is pinned, PeeringDB and the IRR no
// longer gate it: what they say is reported (PeeringDBValidated,
// FiltersReady, DriftHeld), and Ready follows the router.
func computePeeringRequestStatus(pr *peeringv1.PeeringRequest, obs prObserved) prStatus {
	st := prStatus{Approval: approvalOf(pr)}
	validated := validatedCondition(pr, obs)
	st.Retry = validated.Reason == peeringv1.ReasonPeeringDBUnavailable || validated.Reason == peeringv1.ReasonPeeringDBThrottled
	st.Peer = pr.Status.Peer // kept while PeeringDB does not answer
	if v := obs.Validation; v != nil && v.PeerFound {
		st.Peer = peerInfo(v.Peer)
	}
	candidates := sessionsOf(pr, obs.Validation)
	if obs.IXPort != nil && st.Peer != nil {
		setLimits(candidates, pr, obs.IXPort, st.Peer)
	}
	filters := filtersCondition(obs, validated)
	st.Retry = st.Retry || filters.Reason == peeringv1.ReasonIRRUnavailable

	approved := st.Approval.State == peeringv1.ApprovalStateApproved
	auto, autoOK := autoApproval(pr, obs, st.Approval.State, validated, filters)
	if autoOK {
		st.Conditions = append(st.Conditions, auto)
	}
	var legacy []peeringv1.PinnedSession
	if approved && pr.Status.Config == nil {
		legacy = legacySessions(pr)
	}
	in := pinInput{Now: obs.Now, Approved: approved, Pinned: pr.Status.Config, Drift: pr.Status.Drift, Legacy: legacy,
		Filters: obs.Filters, AcceptDrift: pr.Annotations[peeringv1.AnnotationAcceptDrift], AcceptedBy: pr.Annotations[webhook.AnnotationAcceptedBy],
		Exports: obs.ExportFilters}
	// No AS-SET to announce is a human's setting; one that cannot be read
	// (or an unknown Router or port) keeps what is pinned.
	in.ExportsOff = obs.Router != nil && obs.IXPort != nil && len(obs.ExportSets) == 0 && obs.ExportErr == nil
	switch {
	case validated.Status == metav1.ConditionTrue || (obs.Validation != nil && !obs.Validation.OK()):
		in.Validation = obs.Validation
	case validated.Reason == peeringv1.ReasonIXNotFound:
		// PeeringDB answered that the IX is gone: a change to hold.
		in.Validation = &validation.Result{Failures: []validation.Failure{{Reason: validated.Reason, Final: true, Message: validated.Message}}}
	}
	if in.Validation != nil && in.Validation.OK() {
		in.Sessions = pinnedSessions(candidates)
	}
	st.Pin = decidePin(in)
	st.Filters = filtersStatus(pr, obs, st.Pin.Config)
	st.ExportFilters = exportFiltersStatus(pr, obs, st.Pin.Config)

	pinned := st.Pin.Config
	switch {
	case pinned == nil && len(legacy) > 0:
		// What the router reported stays until the request is pinned.
		st.SessionSummary = sessionSummary(pr.Status.Sessions)
	case pinned == nil:
		st.Sessions, st.WriteSessions = candidates, true
		st.SessionSummary = sessionSummary(candidates)
	default:
		st.SessionSummary = pinnedSummary(pinned, pr.Status.Sessions)
	}
	st.Conditions = append(st.Conditions, announceConditions(pr, obs, &st, candidates))
	configured := configuredCondition(pr, st, obs, validated, filters)
	established := establishedCondition(pr, obs.IXPort, obs.Router, st, obs.Now, obs.WaitingForPeerAfter)
	drift := driftCondition(pr, st.Pin)
	g := prGate(pr, obs, st.Approval.State, validated, filters, configured, established)
	if pinned != nil && st.Approval.State == peeringv1.ApprovalStateApproved {
		g = pinnedGate(pr, obs.IXPort, obs.Router, configured, established, drift, obs.Now)
	}
	st.Conditions = append(st.Conditions, validated, filters, configured, established, drift)
	st.Conditions = append(st.Conditions, g.conditions()...)
	return st
}

// conditions are Ready, Reconciling and Stalled for the gate.
func (g gate) conditions() []conditions.Set {
	ready := conditions.False(peeringv1.ConditionReady, g.reason, g.message)
	if g.ready {
		ready = conditions.True(peeringv1.ConditionReady, g.reason, g.message)
	}
	return kstatus(ready, g.stalled, g.progressing)
}

// followRouter is the part of an approved, pinned request's status that
// follows the router (Configured, Established, Ready, Reconciling, Stalled
// and the session summary), computed from the status alone exactly as
// computePeeringRequestStatus computes it. The Router controller writes it
// with status.applied and status.sessions, so a router's report changes a
// request in one API write, not two (measured: 1 of 4.5 status writes per
// new request). ok is false when the request is not approved and pinned, or
// has no DriftHeld yet: then only the request controller writes them.
func followRouter(pr *peeringv1.PeeringRequest, port *peeringv1.IXPort, rt *peeringv1.Router, now time.Time, waitAfter time.Duration) (sets []conditions.Set, summary string, ok bool) {
	pin := pr.Status.Config
	held := meta.FindStatusCondition(pr.Status.Conditions, peeringv1.PeeringRequestDriftHeld)
	st := prStatus{Approval: approvalOf(pr), Pin: pinResult{Config: pin}}
	if pin == nil || held == nil || st.Approval.State != peeringv1.ApprovalStateApproved {
		return nil, "", false
	}
	st.SessionSummary = pinnedSummary(pin, pr.Status.Sessions)
	// PeeringDB and the IRR no longer gate a pinned request: validated and
	// filters are not read on this path.
	configured := configuredCondition(pr, st, prObserved{IXPort: port, Router: rt, Now: now}, conditions.Set{}, conditions.Set{})
	established := establishedCondition(pr, port, rt, st, now, waitAfter)
	drift := conditions.Set{Type: held.Type, Status: held.Status, Reason: held.Reason, Message: held.Message}
	g := pinnedGate(pr, port, rt, configured, established, drift, now)
	return append([]conditions.Set{configured, established}, g.conditions()...), st.SessionSummary, true
}

// pinnedGate is Ready for a pinned request: it follows the router, whatever
// PeeringDB and the IRR say now (their news is in DriftHeld and the other
// conditions, and in Ready's message).
func pinnedGate(pr *peeringv1.PeeringRequest, port *peeringv1.IXPort, rt *peeringv1.Router, configured, established, drift conditions.Set, now time.Time) gate {
	note := ""
	if drift.Status == metav1.ConditionTrue {
		note = "; held for a human: " + drift.Message
	}
	ds := drainOf(pr, port, rt, now)
	if ds.Note != "" && !ds.Down {
		note += "; " + ds.Note
	}
	switch {
	case configured.Reason == peeringv1.ReasonInvalidForRouter || configured.Reason == peeringv1.ReasonAddressInUse || configured.Reason == peeringv1.ReasonPasswordSecretError:
		// A human must fix these (the request, the Secret).
		return gate{configured.Reason, configured.Message + note, true, false, false}
	case established.Status == metav1.ConditionTrue:
		return gate{established.Reason, established.Message + note, false, false, true}
	case (pr.Spec.Shutdown || ds.Down) && configured.Status == metav1.ConditionTrue:
		return gate{established.Reason, established.Message + note, false, false, true}
	case configured.Status != metav1.ConditionTrue:
		return gate{configured.Reason, configured.Message + note, false, true, false}
	default:
		// A wait on the peer's people, like one on the NOC, is not progress
		// the operator makes.
		return gate{established.Reason, established.Message + note, false, established.Reason != peeringv1.ReasonWaitingForPeer, false}
	}
}

// prGate returns the first gate that holds a request that is not pinned.
func prGate(pr *peeringv1.PeeringRequest, obs prObserved, approval string, validated, filters, configured, established conditions.Set) gate {
	switch {
	case obs.IXPort == nil:
		return gate{peeringv1.ReasonIXPortNotFound, fmt.Sprintf("IXPort %q does not exist: create it or fix spec.ixPortRef.name", pr.Spec.IXPortRef.Name), false, true, false}
	case obs.Router == nil:
		return gate{peeringv1.ReasonRouterNotFound, fmt.Sprintf("IXPort %q is on Router %q, which does not exist: create it or fix the IXPort's spec.routerRef.name",
			obs.IXPort.Name, obs.IXPort.Spec.RouterRef.Name), false, true, false}
	case approval == peeringv1.ApprovalStateDenied:
		return gate{peeringv1.ReasonDenied, "the request was denied; delete it, or create a new one to ask again", true, false, false}
	case validated.Status != metav1.ConditionTrue:
		final := obs.Validation != nil && obs.Validation.Final() ||
			validated.Reason == peeringv1.ReasonIXNotFound
		return gate{validated.Reason, validated.Message, final, !final, false}
	case filters.Status != metav1.ConditionTrue:
		return gate{filters.Reason, filters.Message, false, true, false}
	case approval != peeringv1.ApprovalStateApproved:
		return gate{peeringv1.ReasonWaitingForApproval, "validated against PeeringDB, filters built; waiting for a NOC approval (condition Approved=True); nothing is pushed until then", false, false, false}
	case configured.Status != metav1.ConditionTrue:
		return gate{configured.Reason, configured.Message, false, true, false}
	case established.Status != metav1.ConditionTrue && established.Reason != peeringv1.ReasonAdminShutdown:
		return gate{established.Reason, established.Message, false, true, false}
	default:
		return gate{established.Reason, established.Message, false, false, true}
	}
}

// pdbUnavailable is condition t while PeeringDB has not answered for the
// IX: Unknown and retried. A throttle is an outage with a known end: it
// changes the words (which query, until when), never what happens.
func pdbUnavailable(t string, err error) conditions.Set {
	if th, ok := peeringdb.ThrottleOf(err); ok {
		return conditions.Unknown(t, peeringv1.ReasonPeeringDBThrottled, th.String()+"; retrying by itself")
	}
	msg := "PeeringDB has not been reached yet"
	if err != nil {
		msg = err.Error()
	}
	return conditions.Unknown(t, peeringv1.ReasonPeeringDBUnavailable, msg+"; retrying by itself")
}

// validatedCondition is the PeeringDBValidated condition.
func validatedCondition(pr *peeringv1.PeeringRequest, obs prObserved) conditions.Set {
	const t = peeringv1.PeeringRequestPeeringDBValidated
	v := obs.Validation
	switch {
	case obs.IXPort == nil:
		return conditions.Unknown(t, peeringv1.ReasonIXPortNotFound, "checked once the IXPort exists")
	case obs.Router == nil:
		return conditions.Unknown(t, peeringv1.ReasonRouterNotFound, "checked once the IXPort's Router exists")
	case v == nil && errors.Is(obs.PDBErr, peeringdb.ErrNotFound):
		return conditions.False(t, peeringv1.ReasonIXNotFound, fmt.Sprintf(
			"IX %d (IXPort %q) is not in PeeringDB; fix the IXPort's spec.ix.peeringdbID", obs.IXPort.Spec.IX.PeeringDBID, obs.IXPort.Name))
	case v == nil:
		return pdbUnavailable(t, obs.PDBErr)
	case !v.OK():
		return conditions.False(t, v.Reason(), v.Message())
	}
	msg := fmt.Sprintf("AS%d (%s) is at %s with %d session(s)", pr.Spec.PeerASN, v.Peer.Name, v.IXName, len(v.Sessions))
	if obs.PDB.Stale {
		msg += fmt.Sprintf("; PeeringDB data is stale since %s (%s)", obs.PDB.StaleSince.UTC().Format("2006-01-02T15:04:05Z"), obs.PDB.LastError)
	}
	return conditions.True(t, peeringv1.ReasonValidated, msg)
}

// filtersCondition is FiltersReady: True when every family has a current
// filter; otherwise the first family's problem (an IRR outage, or a filter
// the guard held).
func filtersCondition(obs prObserved, validated conditions.Set) conditions.Set {
	const t = peeringv1.PeeringRequestFiltersReady
	if validated.Status != metav1.ConditionTrue {
		return conditions.Unknown(t, peeringv1.ReasonNotValidated, "prefix filters are built once the request validates against PeeringDB")
	}
	if len(obs.Filters) == 0 {
		return conditions.Unknown(t, peeringv1.ReasonFiltersPending, "no session, so no filter to build")
	}
	var msgs []string
	var bad *familyFilter
	all := append(slices.Clone(obs.Filters), obs.ExportFilters...)
	for i, f := range all {
		msgs = append(msgs, f.Message)
		if !f.OK && bad == nil {
			bad = &all[i]
		}
	}
	head := fmt.Sprintf("AS-SETs %s from %s", strings.Join(obs.FilterSets, " "), sourcesLabel(obs.FilterSources))
	if slices.Equal(obs.FilterSets, []string{policy.RouteServerSet}) {
		head = "route server: any prefix outside bogon space (" + policy.RouteServerSet + ", no IRR query)"
	}
	if len(obs.FilterBadSets) > 0 {
		head += fmt.Sprintf(" (ignored, not AS-SET names: %s)", strings.Join(obs.FilterBadSets, " "))
	}
	if obs.FilterCorrupt != "" {
		head += " (" + obs.FilterCorrupt + ")"
	}
	msg := head + ": " + strings.Join(msgs, "; ")
	if len(obs.ExportSets) > 0 {
		msg += fmt.Sprintf("; we announce %s too (the export lists above)", strings.Join(obs.ExportSets, " "))
	}
	if obs.ExportErr != nil {
		msg += fmt.Sprintf("; the announce AS-SET cannot be used (%v): what is pinned stays", obs.ExportErr)
	}
	if bad != nil {
		return conditions.False(t, bad.Reason, msg)
	}
	return conditions.True(t, peeringv1.ReasonFiltersBuilt, msg)
}

func sourcesLabel(src []string) string {
	if len(src) == 0 {
		return "every IRR source"
	}
	return strings.Join(src, ",")
}

// filtersStatus is status.filters: per family the filter the request uses,
// which is the pinned one once approved (a held or unpinned candidate does
// not show here but in FiltersReady and DriftHeld), else the latest one the
// guard passed. What the status said stays when the IRR has not answered.
func filtersStatus(pr *peeringv1.PeeringRequest, obs prObserved, pin *peeringv1.PinnedConfig) *peeringv1.Filters {
	var pinned map[int]string
	if pin != nil {
		pinned = map[int]string{4: pin.IPv4Filter, 6: pin.IPv6Filter}
	}
	return inUse(pr.Status.Filters, obs.Filters, pinned, obs.FilterSources)
}

// exportFiltersStatus is status.exportFilters: per family the export list
// from the announce AS-SET in use (pinned once approved), like
// filtersStatus; none once no AS-SET is announced.
func exportFiltersStatus(pr *peeringv1.PeeringRequest, obs prObserved, pin *peeringv1.PinnedConfig) *peeringv1.Filters {
	if pin == nil && len(obs.ExportSets) == 0 && obs.ExportErr == nil {
		return nil
	}
	var pinned map[int]string
	if pin != nil {
		pinned = map[int]string{4: pin.IPv4Export, 6: pin.IPv6Export}
	}
	var sources []string
	if obs.IXPort != nil {
		sources = obs.IXPort.Spec.PeerDefaults.IRRSources
	}
	return inUse(pr.Status.ExportFilters, obs.ExportFilters, pinned, sources)
}

// inUse is the status of the filters in use per family: those pinned
// (pinned, by family; nil before a pin: those the guard passed). What the
// status said stays while the IRR has not answered, and a rebuild to the
// same filter is no news: the status (and its build time) stays, so an
// unchanged request is not rewritten. A family the pin names nothing for
// has none.
func inUse(was *peeringv1.Filters, fs []familyFilter, pinned map[int]string, sources []string) *peeringv1.Filters {
	out := &peeringv1.Filters{}
	if was != nil {
		out = was.DeepCopy()
	}
	for _, f := range fs {
		uses := f.OK
		if pinned != nil {
			uses = f.Candidate != nil && f.Candidate.Summary.Digest == pinned[f.Family]
		}
		if !uses || f.Candidate == nil {
			continue
		}
		cur := &out.IPv4
		if f.Family == 6 {
			cur = &out.IPv6
		}
		if *cur == nil || (*cur).Digest != f.Candidate.Summary.Digest {
			*cur = filterStatus(f.Candidate, sources)
		}
	}
	if pinned != nil {
		if pinned[4] == "" {
			out.IPv4 = nil
		}
		if pinned[6] == "" {
			out.IPv6 = nil
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
	return conditions.True(peeringv1.PeeringRequestApproved, peeringv1.ReasonAutoApproved, fmt.Sprintf(
		"auto-approved by IXPort %q's AutoOpen policy: AS%d (%s) has an Open policy in PeeringDB and validated cleanly",
		obs.IXPort.Name, pr.Spec.PeerASN, obs.Validation.Peer.Name)), true
}

// configuredCondition is Configured: True when the router has the pinned
// configuration, as the Router controller reports it (status.applied).
// Nothing is pushed before approval, validation and filters.
func configuredCondition(pr *peeringv1.PeeringRequest, st prStatus, obs prObserved, validated, filters conditions.Set) conditions.Set {
	const t = peeringv1.PeeringRequestConfigured
	pin := st.Pin.Config
	switch {
	case st.Approval.State != peeringv1.ApprovalStateApproved:
		return conditions.False(t, peeringv1.ReasonNotApproved, "nothing is pushed to a router before Approved=True and PeeringDBValidated=True")
	case pin == nil && validated.Status != metav1.ConditionTrue:
		return conditions.False(t, peeringv1.ReasonNotValidated, "approved, but nothing is pushed until PeeringDBValidated=True")
	case pin == nil && filters.Status != metav1.ConditionTrue:
		return conditions.False(t, peeringv1.ReasonFiltersPending, "waiting for the prefix filters before anything is pushed")
	case pin == nil:
		return conditions.False(t, peeringv1.ReasonConfigurationPending, "approved and validated; pinning the configuration to push")
	}
	router := ""
	if obs.IXPort != nil {
		router = obs.IXPort.Spec.RouterRef.Name
	}
	a := pr.Status.Applied
	switch {
	case a == nil:
		return conditions.False(t, peeringv1.ReasonConfigurationPending, fmt.Sprintf("waiting for Router %q to push the pinned configuration (%d session(s))", router, len(pin.Sessions)))
	case a.Result == peeringv1.AppliedResultHeld || a.Result == peeringv1.AppliedResultRejected:
		return conditions.False(t, a.Reason, a.Message)
	case a.Result == peeringv1.AppliedResultApplied && a.ConfigDigest == pin.Digest:
		return conditions.True(t, peeringv1.ReasonConfigured, fmt.Sprintf("%d neighbor(s) configured on Router %q as pinned (%s)", len(pin.Sessions), a.Router, pin.Digest))
	}
	return conditions.False(t, peeringv1.ReasonConfigurationPending, fmt.Sprintf("waiting for Router %q to push the pinned configuration (%s)", router, pin.Digest))
}

// establishedCondition is Established: True when every session is up, as
// the router reports it.
func establishedCondition(pr *peeringv1.PeeringRequest, port *peeringv1.IXPort, rt *peeringv1.Router, st prStatus, now time.Time, waitAfter time.Duration) conditions.Set {
	const t = peeringv1.PeeringRequestEstablished
	pin := st.Pin.Config
	if pin == nil || pr.Status.Applied == nil {
		return conditions.False(t, peeringv1.ReasonNotConfigured, fmt.Sprintf("%s sessions established", st.SessionSummary))
	}
	if pr.Spec.Shutdown {
		return conditions.False(t, peeringv1.ReasonAdminShutdown, "spec.shutdown: the sessions are configured and administratively down")
	}
	if ds := drainOf(pr, port, rt, now); ds.Down {
		return conditions.False(t, peeringv1.ReasonDrained, ds.Note+"; "+undrainHint(pr, port, rt))
	}
	state := map[string]peeringv1.SessionStatus{}
	for _, s := range pr.Status.Sessions {
		state[s.Address] = s
	}
	var down []string
	for _, p := range pin.Sessions {
		s, ok := state[p.Address]
		if ok && s.State == "Established" {
			continue
		}
		d := fmt.Sprintf("%s is %s", p.Address, cmp.Or(s.State, "Unknown"))
		if s.LastError != "" {
			d += " (" + s.LastError + ")"
		}
		down = append(down, d)
	}
	if len(down) > 0 || len(pin.Sessions) == 0 {
		if days, ok := waitingForPeer(pr, pin, st.Approval.Time, now, waitAfter); ok {
			return conditions.False(t, peeringv1.ReasonWaitingForPeer, fmt.Sprintf("%s sessions established: no session has come up in %d day(s) since the approval (%s): the peer has not configured its side; ask them: kubectl peering email %s; %s",
				st.SessionSummary, days, st.Approval.Time.UTC().Format(time.DateOnly), pr.Name, strings.Join(down, "; ")))
		}
		return conditions.False(t, peeringv1.ReasonSessionsDown, fmt.Sprintf("%s sessions established: %s", st.SessionSummary, strings.Join(down, "; ")))
	}
	return conditions.True(t, peeringv1.ReasonSessionsEstablished, fmt.Sprintf("%s sessions established", st.SessionSummary))
}

// waitingForPeer: the router has the pinned configuration, no session
// has ever come up, and the approval is at least after ago; days is how
// many whole days since the approval.
func waitingForPeer(pr *peeringv1.PeeringRequest, pin *peeringv1.PinnedConfig, approved *metav1.Time, now time.Time, after time.Duration) (days int, ok bool) {
	a := pr.Status.Applied
	if after <= 0 || len(pin.Sessions) == 0 || approved == nil || a == nil ||
		a.Result != peeringv1.AppliedResultApplied || a.ConfigDigest != pin.Digest {
		return 0, false
	}
	for _, s := range pr.Status.Sessions {
		if s.EstablishedTime != nil {
			return 0, false
		}
	}
	waited := now.Sub(approved.Time)
	return int(waited / (24 * time.Hour)), waited >= after
}

// driftCondition is DriftHeld: True while a change from PeeringDB or the
// IRR is held, with what changed and the command that accepts it.
func driftCondition(pr *peeringv1.PeeringRequest, pin pinResult) conditions.Set {
	const t = peeringv1.PeeringRequestDriftHeld
	if pin.Drift == nil {
		return conditions.False(t, peeringv1.ReasonInSync, "nothing from PeeringDB or the IRR is held")
	}
	pushed := ""
	if pin.Config != nil {
		pushed = " (pinned " + pin.Config.Time.UTC().Format(time.RFC3339) + ")"
	}
	return conditions.True(t, pin.DriftReason, fmt.Sprintf("%s; the router keeps what was pushed%s; to apply it: kubectl peering accept %s (or kubectl annotate pr %s %s=%s --overwrite)",
		strings.Join(pin.Drift.Changes, "; "), pushed, pr.Name, pr.Name, peeringv1.AnnotationAcceptDrift, pin.Drift.Token))
}

// pinnedSessions turns validated sessions with limits into pinned ones.
func pinnedSessions(ss []peeringv1.SessionStatus) []peeringv1.PinnedSession {
	out := make([]peeringv1.PinnedSession, 0, len(ss))
	for _, s := range ss {
		out = append(out, peeringv1.PinnedSession{Address: s.Address, Family: s.Family, Limit: ptr.Deref(s.Limit, 0)})
	}
	return out
}

// importStatus is status.imports: the marks the Router controller renders
// for the request's sessions (router_desired.go), with our learned-from
// community once the Router and IXPort are known.
func importStatus(rt *peeringv1.Router, port *peeringv1.IXPort, pr *peeringv1.PeeringRequest, now time.Time) *peeringv1.ImportStatus {
	im := importOf(rt, port, pr)
	out := &peeringv1.ImportStatus{LocalPreference: int64(im.LocalPref), Communities: slices.Clone(im.Communities), HonourGracefulShutdown: !im.IgnoreGShut, From: im.From}
	if drainOf(pr, port, rt, now).Drain {
		out.LocalPreference = 0
	}
	if rt != nil && port != nil {
		kind := router.LearnedPeer
		if pr.Spec.RouteServer {
			kind = router.LearnedRouteServer
		}
		out.Communities = append(out.Communities, router.LearnedCommunity(uint32(rt.Spec.LocalASN), kind, uint32(port.Spec.IX.PeeringDBID)))
	}
	return out
}

// announceConditions is the Announcing condition; it fills st.Exports and
// st.Imports.
func announceConditions(pr *peeringv1.PeeringRequest, obs prObserved, st *prStatus, candidates []peeringv1.SessionStatus) conditions.Set {
	var v4, v6 bool
	fams := func(addr string) {
		if a, err := netip.ParseAddr(addr); err == nil {
			v4, v6 = v4 || a.Is4(), v6 || a.Is6()
		}
	}
	if pin := st.Pin.Config; pin != nil {
		for _, s := range pin.Sessions {
			fams(s.Address)
		}
	} else {
		for _, s := range candidates {
			fams(s.Address)
		}
	}
	a4, a6 := announceFor(obs.Router, obs.IXPort, pr, false), announceFor(obs.Router, obs.IXPort, pr, true)
	if obs.Router == nil || !obs.Router.Spec.RouteServer {
		st.Exports = exportStatus(a4, a6, v4, v6, st.ExportFilters)
		st.Imports = importStatus(obs.Router, obs.IXPort, pr, obs.Now)
	}
	const t = peeringv1.PeeringRequestAnnouncing
	if obs.Router == nil {
		return conditions.Unknown(t, peeringv1.ReasonRouterNotFound, "known once the IXPort's Router exists")
	}
	ok, reason, msg := announcingCondition(obs.Router, obs.IXPort, a4, a6, v4, v6, st.ExportFilters)
	if ok {
		return conditions.True(t, reason, msg)
	}
	return conditions.False(t, reason, msg)
}

// legacySessions are the sessions the router reports for a request an
// earlier version pushed without pinning it.
func legacySessions(pr *peeringv1.PeeringRequest) []peeringv1.PinnedSession {
	var out []peeringv1.PinnedSession
	for _, s := range pr.Status.Sessions {
		if s.State == "" || s.State == stateNotConfigured {
			continue
		}
		out = append(out, peeringv1.PinnedSession{Address: s.Address, Family: s.Family, Limit: ptr.Deref(s.Limit, 0)})
	}
	return out
}

// pinnedSummary is established/pinned sessions, from the router's report.
func pinnedSummary(pin *peeringv1.PinnedConfig, ss []peeringv1.SessionStatus) string {
	up := map[string]bool{}
	for _, s := range ss {
		up[s.Address] = s.State == "Established"
	}
	n := 0
	for _, p := range pin.Sessions {
		if up[p.Address] {
			n++
		}
	}
	return fmt.Sprintf("%d/%d", n, len(pin.Sessions))
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
