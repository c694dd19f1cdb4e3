package controllers

import (
	"fmt"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
	"github.com/peering-operator/peering-operator/internal/conditions"
)

// Reasons of a Router.
const (
	ReasonReachable   = "Reachable"
	ReasonUnreachable = "Unreachable"
)

// routerObserved is what a Router's status depends on.
type routerObserved struct {
	// ProbeErr is the result of dialing the management port.
	ProbeErr error
	// Users are the IXPorts on this router.
	Users []string
}

// computeRouterStatus returns the Router's conditions.
func computeRouterStatus(rt *peeringv1.Router, obs routerObserved) []conditions.Set {
	target := fmt.Sprintf("%s port %d", rt.Spec.Address, rt.Spec.DefaultPort())
	if obs.ProbeErr != nil {
		msg := fmt.Sprintf("management port %s does not answer: %v; check the address, the port and any firewall in between", target, obs.ProbeErr)
		return append([]conditions.Set{conditions.False(peeringv1.RouterReachable, ReasonUnreachable, msg)},
			kstatus(conditions.False(peeringv1.ConditionReady, ReasonUnreachable, msg), false, true)...)
	}
	msg := "management port " + target + " answers"
	return append([]conditions.Set{conditions.True(peeringv1.RouterReachable, ReasonReachable, msg)},
		kstatus(conditions.True(peeringv1.ConditionReady, ReasonReachable, msg), false, false)...)
}
