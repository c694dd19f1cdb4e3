package controllers

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
	"github.com/peering-operator/peering-operator/internal/metrics"
)

// exportRequestMetrics publishes what of a request waits for a human, from
// the status just computed: the approval itself, and a filter the guard
// holds before anything is pinned (after the pin that is drift).
func exportRequestMetrics(pr *peeringv1.PeeringRequest) {
	deleteRequestMetrics(pr)
	owner, asn := pr.Namespace+"/"+pr.Name, strconv.FormatInt(int64(pr.Spec.PeerASN), 10)
	if a := pr.Status.Approval; a != nil && a.State == peeringv1.ApprovalStatePending {
		metrics.PendingApprovalSince.With(prometheus.Labels{"request": owner, "peer_asn": asn, "ixport": pr.Spec.IXPortRef.Name}).
			Set(float64(pr.CreationTimestamp.Unix()))
	}
	f := meta.FindStatusCondition(pr.Status.Conditions, peeringv1.PeeringRequestFiltersReady)
	if f != nil && f.Status == metav1.ConditionFalse && pr.Status.Config == nil &&
		(f.Reason == peeringv1.ReasonFilterEmpty || f.Reason == peeringv1.ReasonFilterShrink) {
		metrics.FilterHeld.With(prometheus.Labels{"request": owner, "peer_asn": asn, "reason": f.Reason}).Set(1)
	}
}

// deleteRequestMetrics drops the request's series of exportRequestMetrics.
func deleteRequestMetrics(pr *peeringv1.PeeringRequest) {
	l := prometheus.Labels{"request": pr.Namespace + "/" + pr.Name}
	metrics.PendingApprovalSince.DeletePartialMatch(l)
	metrics.FilterHeld.DeletePartialMatch(l)
}
