package controllers

import (
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
	"github.com/peering-operator/peering-operator/internal/report"
)

// reportWrite is what the recorder does with the current period's report.
type reportWrite int

const (
	reportNone reportWrite = iota
	reportCreate
	reportUpdate
)

// reportObserved is everything the current period's report depends on.
type reportObserved struct {
	Now    metav1.Time
	Period report.Period
	// Numbers are report.Compute's for the cluster now.
	Numbers peeringv1.PeeringReportSpec
	// Existing is the current period's report; nil when not written yet.
	Existing *peeringv1.PeeringReport
}

// computeReport decides the one write of a snapshot: create the period's
// report, update it when its numbers changed, or nothing. Only the period
// now falls in is ever named, so past periods are never rewritten.
func computeReport(obs reportObserved) (*peeringv1.PeeringReport, reportWrite) {
	name, start, end := obs.Period.Of(obs.Now.Time)
	spec := obs.Numbers
	spec.Period, spec.Start, spec.End, spec.Recorded = name, metav1.NewTime(start), metav1.NewTime(end), obs.Now
	if obs.Existing == nil {
		return &peeringv1.PeeringReport{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: spec}, reportCreate
	}
	old := obs.Existing.Spec
	// An IX whose PeeringDB data is not loaded yet (a restart) would
	// shrink the counts: keep the numbers recorded with it.
	if len(spec.IXPortsWithoutData) > len(old.IXPortsWithoutData) {
		return nil, reportNone
	}
	spec.Recorded = old.Recorded
	if equality.Semantic.DeepEqual(spec, old) {
		return nil, reportNone
	}
	spec.Recorded = obs.Now
	r := obs.Existing.DeepCopy()
	r.Spec = spec
	return r, reportUpdate
}
