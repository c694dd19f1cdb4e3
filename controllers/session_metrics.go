package controllers

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/utils/ptr"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
	"github.com/peering-operator/peering-operator/internal/metrics"
)

// exportSessionMetrics publishes each session's state and prefix counts,
// whether a human shut it down (as desiredFor decides it) and whether its
// limit tripped, and which IXPort the request is on.
func exportSessionMetrics(rt *peeringv1.Router, c candidate, now time.Time, sessions []peeringv1.SessionStatus) {
	routerName, owner := rt.Name, c.PR.Namespace+"/"+c.PR.Name
	asn := strconv.FormatInt(int64(c.PR.Spec.PeerASN), 10)
	metrics.RequestInfo.With(prometheus.Labels{"request": owner, "peer_asn": asn, "router": routerName, "ixport": c.PR.Spec.IXPortRef.Name}).Set(1)
	adminDown := gauge(c.PR.Spec.Shutdown || drainOf(c.PR, c.Port, rt, now).Down)
	for _, s := range sessions {
		l := prometheus.Labels{"router": routerName, "request": owner, "peer_asn": asn, "address": s.Address}
		metrics.SessionAdminDown.With(l).Set(adminDown)
		metrics.MaxPrefixTripped.With(l).Set(gauge(metrics.IsMaxPrefixTrip(s.State, s.LastError)))
		up := 0.0
		if s.State == "Established" {
			up = 1
		}
		metrics.SessionUp.With(l).Set(up)
		for _, st := range metrics.States {
			v := 0.0
			if st == s.State {
				v = 1
			}
			metrics.SessionState.With(prometheus.Labels{"router": routerName, "request": owner, "peer_asn": asn, "address": s.Address, "state": st}).Set(v)
		}
		metrics.PrefixesReceived.With(l).Set(float64(ptr.Deref(s.Received, 0)))
		metrics.PrefixesAccepted.With(l).Set(float64(ptr.Deref(s.Accepted, 0)))
		metrics.PrefixLimit.With(l).Set(float64(ptr.Deref(s.Limit, 0)))
	}
}

// deleteSessionMetrics drops a deleted request's series.
func deleteSessionMetrics(pr *peeringv1.PeeringRequest) {
	l := prometheus.Labels{"request": pr.Namespace + "/" + pr.Name}
	for _, v := range []*prometheus.GaugeVec{metrics.SessionUp, metrics.SessionState, metrics.PrefixesReceived, metrics.PrefixesAccepted, metrics.PrefixLimit,
		metrics.SessionAdminDown, metrics.MaxPrefixTripped, metrics.RequestInfo} {
		v.DeletePartialMatch(l)
	}
	deleteRequestMetrics(pr)
}

// gauge is 1 for true.
func gauge(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// exportDriftMetric sets peering_request_drift_held for the request.
func exportDriftMetric(pr *peeringv1.PeeringRequest, pin pinResult) {
	deleteDriftMetric(pr)
	if pin.Drift != nil {
		metrics.DriftHeld.With(prometheus.Labels{"request": pr.Namespace + "/" + pr.Name,
			"peer_asn": strconv.FormatInt(int64(pr.Spec.PeerASN), 10), "reason": pin.DriftReason}).Set(1)
	}
}

func deleteDriftMetric(pr *peeringv1.PeeringRequest) {
	metrics.DriftHeld.DeletePartialMatch(prometheus.Labels{"request": pr.Namespace + "/" + pr.Name})
}
