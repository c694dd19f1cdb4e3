package controllers

import (
	"errors"
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
	"github.com/peering-operator/peering-operator/internal/conditions"
	"github.com/peering-operator/peering-operator/internal/peeringdb"
	"github.com/peering-operator/peering-operator/internal/validation"
)

// ixPortObserved is everything outside the IXPort its status depends on.
type ixPortObserved struct {
	// Router is the referenced router; nil when it does not exist.
	Router *peeringv1.Router
	// Users are the PeeringRequests on this port, as namespace/name.
	Users []string
	// Validation is the PeeringDB check; nil when PeeringDB has no data
	// for the IX (PDBErr says why) or the router is missing.
	Validation *validation.PortResult
	PDBErr     error
	PDB        peeringdb.CacheStatus
}

// ixPortStatus is the computed status of an IXPort.
type ixPortStatus struct {
	Conditions  []conditions.Set
	IXName      string
	LANPrefixes []string
	Retry       bool
}

// computeIXPortStatus returns the IXPort's status.
func computeIXPortStatus(port *peeringv1.IXPort, obs ixPortObserved) ixPortStatus {
	var st ixPortStatus
	router := port.Spec.RouterRef.Name
	if obs.Router == nil {
		msg := fmt.Sprintf("Router %q does not exist: create it or fix spec.routerRef.name", router)
		st.Conditions = append([]conditions.Set{conditions.False(peeringv1.IXPortRouterFound, peeringv1.ReasonRouterNotFound, msg)},
			kstatus(conditions.False(peeringv1.ConditionReady, peeringv1.ReasonRouterNotFound, msg), false, true)...)
		return st
	}
	st.Conditions = append(st.Conditions, conditions.True(peeringv1.IXPortRouterFound, peeringv1.ReasonRouterFound, fmt.Sprintf("on Router %q", router)))

	const pv = peeringv1.IXPortPeeringDBValidated
	v := obs.Validation
	var validated conditions.Set
	final := false
	switch {
	case v == nil && errors.Is(obs.PDBErr, peeringdb.ErrNotFound):
		validated = conditions.False(pv, peeringv1.ReasonIXNotFound, fmt.Sprintf("IX %d is not in PeeringDB; fix spec.ix.peeringdbID", port.Spec.IX.PeeringDBID))
		final = true
	case v == nil:
		validated = pdbUnavailable(pv, obs.PDBErr)
		st.Retry = true
	case !v.OK():
		var msgs []string
		for _, f := range v.Failures {
			msgs = append(msgs, f.Message)
			final = final || f.Final
		}
		validated = conditions.False(pv, v.Failures[0].Reason, strings.Join(msgs, "; "))
	default:
		msg := fmt.Sprintf("%s (PeeringDB ix %d)", v.IXName, v.IXID)
		if len(v.Warnings) > 0 {
			msg += "; " + strings.Join(v.Warnings, "; ")
		}
		if obs.PDB.Stale {
			msg += fmt.Sprintf("; PeeringDB data is stale since %s", obs.PDB.StaleSince.UTC().Format("2006-01-02T15:04:05Z"))
			if t := obs.PDB.Throttle; t != nil {
				msg += " (" + t.String() + ")"
			}
		}
		validated = conditions.True(pv, peeringv1.ReasonPortValid, msg)
	}
	st.Conditions = append(st.Conditions, validated)
	if v != nil {
		st.IXName = v.IXName
		for _, p := range v.LANPrefixes {
			st.LANPrefixes = append(st.LANPrefixes, p.String())
		}
		// Our own PeeringDB entry is a warning only: peers use it to find
		// us, but a stale entry must not stop our sessions.
		if v.OwnEntry == validation.OwnEntryMatches {
			st.Conditions = append(st.Conditions, conditions.True(peeringv1.IXPortNetIXLANMatches, v.OwnEntry,
				"our PeeringDB entry lists this port's addresses"))
		} else if v.OwnEntry != "" {
			st.Conditions = append(st.Conditions, conditions.False(peeringv1.IXPortNetIXLANMatches, v.OwnEntry, v.OwnEntryMessage))
		}
	}

	if validated.Status != metav1.ConditionTrue {
		return withReady(st, conditions.False(peeringv1.ConditionReady, validated.Reason, validated.Message), final, !final)
	}
	return withReady(st, conditions.True(peeringv1.ConditionReady, peeringv1.ReasonPortValid, validated.Message), false, false)
}

func withReady(st ixPortStatus, ready conditions.Set, stalled, progressing bool) ixPortStatus {
	st.Conditions = append(st.Conditions, kstatus(ready, stalled, progressing)...)
	return st
}

// deletionBlocked is the Ready condition of an object whose deletion waits
// for its users to go.
func deletionBlocked(kind string, users []string) []conditions.Set {
	shown := users
	if len(shown) > 5 {
		shown = shown[:5]
	}
	list := strings.Join(shown, ", ")
	if len(users) > len(shown) {
		list += fmt.Sprintf(" and %d more", len(users)-len(shown))
	}
	msg := fmt.Sprintf("deletion waits until no %s uses this object (%d left: %s); delete or move them first",
		kind, len(users), list)
	return kstatus(conditions.False(peeringv1.ConditionReady, peeringv1.ReasonDeletionWaits, msg), false, true)
}
