package controllers

import (
	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
	"github.com/peering-operator/peering-operator/internal/conditions"
)

// routerConditions is a Router's conditions: Reachable as observed, Ready
// True only when the last apply succeeded, Stalled when a human must fix
// something (credentials, an unsupported driver).
func routerConditions(reachable conditions.Set, reason, msg string) []conditions.Set {
	ready := conditions.False(peeringv1.ConditionReady, reason, msg)
	if reason == ReasonApplied {
		ready = conditions.True(peeringv1.ConditionReady, reason, msg)
	}
	stalled := reason == ReasonCredentialsError || reason == ReasonDriverUnavailable
	return append([]conditions.Set{reachable}, kstatus(ready, stalled, !stalled && reason != ReasonApplied)...)
}
