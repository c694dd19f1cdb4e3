package controllers

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
	"github.com/peering-operator/peering-operator/internal/metrics"
)

// exportSessionMetrics publishes each session's state and prefix counts.
func exportSessionMetrics(routerName string, pr *peeringv1.PeeringRequest) {
	owner := pr.Namespace + "/" + pr.Name
	asn := strconv.FormatInt(int64(pr.Spec.PeerASN), 10)
	for _, s := range pr.Status.Sessions {
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
		metrics.PrefixesReceived.With(l).Set(float64(deref(s.Received)))
		metrics.PrefixesAccepted.With(l).Set(float64(deref(s.Accepted)))
		metrics.PrefixLimit.With(l).Set(float64(deref(s.Limit)))
	}
}

// deleteSessionMetrics drops a deleted request's series.
func deleteSessionMetrics(pr *peeringv1.PeeringRequest) {
	l := prometheus.Labels{"request": pr.Namespace + "/" + pr.Name}
	for _, v := range []*prometheus.GaugeVec{metrics.SessionUp, metrics.SessionState, metrics.PrefixesReceived, metrics.PrefixesAccepted, metrics.PrefixLimit} {
		v.DeletePartialMatch(l)
	}
}

func deref(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}
