package controllers

import (
	"k8s.io/utils/ptr"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
)

// DefaultLocalPreference is BGP's own: adopting the operator changes no
// route's preference until a human sets one.
const DefaultLocalPreference = 100

// importMarks is what a request's sessions mark on the routes they accept.
type importMarks struct {
	LocalPref   uint32
	Communities []string
	// IgnoreGShut: a received GRACEFUL_SHUTDOWN is not honoured.
	IgnoreGShut bool
	// From says where the settings come from (ImportStatus.From).
	From string
}

// importOf is what a request's sessions mark on what they accept: the
// IXPort's spec.import, else the Router's, else the defaults, with the
// request's own local preference over all. Read live, like spec.drain: a
// human's edit reaches the running sessions without a new approval.
func importOf(rt *peeringv1.Router, port *peeringv1.IXPort, pr *peeringv1.PeeringRequest) importMarks {
	pol, from := &peeringv1.ImportPolicy{}, "defaults"
	switch {
	case port != nil && port.Spec.Import != nil:
		pol, from = port.Spec.Import, "IXPort "+port.Name
	case rt != nil && rt.Spec.Import != nil:
		pol, from = rt.Spec.Import, "Router "+rt.Name
	}
	lp := ptr.Deref(pol.LocalPreference, DefaultLocalPreference)
	if pr.Spec.RouteServer {
		lp = ptr.Deref(pol.RouteServerLocalPreference, lp)
	}
	if pr.Spec.LocalPreference != nil {
		lp, from = *pr.Spec.LocalPreference, from+", spec.localPreference"
	}
	return importMarks{
		LocalPref:   uint32(min(max(lp, 1), int64(^uint32(0)))),
		Communities: pol.Communities,
		IgnoreGShut: !ptr.Deref(pol.HonourGracefulShutdown, true),
		From:        from,
	}
}
