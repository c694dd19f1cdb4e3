package controllers

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/utils/ptr"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
	"github.com/peering-operator/peering-operator/internal/metrics"
)

// exportSessionMetrics publishes each session's state and prefix counts.
func exportSessionMetrics(routerName, owner string, peerASN int64, sessions []peeringv1.SessionStatus) {
	asn := strconv.FormatInt(peerASN, 10)
	for _, s := range sessions {
		l := prometheus.Labels{"router": routerName, "request": owner, "peer_asn": asn, "address": s.Address}
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
	for _, v := range []*prometheus.GaugeVec{metrics.SessionUp, metrics.SessionState, metrics.PrefixesReceived, metrics.PrefixesAccepted, metrics.PrefixLimit} {
		v.DeletePartialMatch(l)
	}
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
