package controllers

import (
	"fmt"
	"strings"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
	"github.com/peering-operator/peering-operator/internal/conditions"
)

// Reasons of an IXPort.
const (
	ReasonRouterNotFound = "RouterNotFound"
	ReasonRouterFound    = "RouterFound"
)

// ixPortObserved is everything outside the IXPort its status depends on.
type ixPortObserved struct {
	// Router is the referenced router; nil when it does not exist.
	Router *peeringv1.Router
	// Users are the PeeringRequests on this port, as namespace/name.
	Users []string
}

// computeIXPortStatus returns the IXPort's conditions.
func computeIXPortStatus(port *peeringv1.IXPort, obs ixPortObserved) []conditions.Set {
	router := port.Spec.RouterRef.Name
	if obs.Router == nil {
		msg := fmt.Sprintf("Router %q does not exist: create it or fix spec.routerRef.name", router)
		return append([]conditions.Set{conditions.False(peeringv1.IXPortRouterFound, ReasonRouterNotFound, msg)},
			kstatus(conditions.False(peeringv1.ConditionReady, ReasonRouterNotFound, msg), false, true)...)
	}
	msg := fmt.Sprintf("on Router %q", router)
	return append([]conditions.Set{conditions.True(peeringv1.IXPortRouterFound, ReasonRouterFound, msg)},
		kstatus(conditions.True(peeringv1.ConditionReady, ReasonReconciled, msg), false, false)...)
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
	return kstatus(conditions.False(peeringv1.ConditionReady, ReasonDeletionWaits, msg), false, true)
}
