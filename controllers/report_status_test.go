package controllers

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
	"github.com/peering-operator/peering-operator/internal/report"
)

func TestComputeReport(t *testing.T) {
	nov := metav1.NewTime(time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC))
	later := metav1.NewTime(nov.Add(time.Hour))
	numbers := peeringv1.PeeringReportSpec{Networks: 36, Requested: 3, Peered: 2, Candidates: 33, PeeredPercent: "5.6%", Requests: 4}
	recorded, _ := computeReport(reportObserved{Now: nov, Period: report.Monthly, Numbers: numbers})
	more := numbers
	more.Peered, more.PeeredPercent = 3, "8.3%"
	noData := numbers
	noData.Networks, noData.IXPortsWithoutData = 0, []string{"decix-fra"}

	for _, c := range []struct {
		name     string
		obs      reportObserved
		want     reportWrite
		recorded metav1.Time
	}{
		{"first snapshot of the period", reportObserved{Now: nov, Numbers: numbers}, reportCreate, nov},
		{"same numbers an hour later", reportObserved{Now: later, Numbers: numbers, Existing: recorded}, reportNone, nov},
		{"a peer came up", reportObserved{Now: later, Numbers: more, Existing: recorded}, reportUpdate, later},
		{"PeeringDB not loaded after a restart", reportObserved{Now: later, Numbers: noData, Existing: recorded}, reportNone, nov},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.obs.Period = report.Monthly
			obj, w := computeReport(c.obs)
			if w != c.want {
				t.Fatalf("write = %v, want %v", w, c.want)
			}
			if w == reportNone {
				if obj != nil {
					t.Errorf("no write, but an object: %+v", obj)
				}
				return
			}
			if obj.Name != "2026-11" || obj.Spec.Period != "2026-11" || !obj.Spec.Recorded.Equal(&c.recorded) ||
				obj.Spec.Start.Format(time.DateOnly) != "2026-11-01" || obj.Spec.End.Format(time.DateOnly) != "2026-12-01" {
				t.Errorf("report %s: %+v", obj.Name, obj.Spec)
			}
			if c.obs.Existing != nil && obj.Spec.Peered != c.obs.Numbers.Peered {
				t.Errorf("update carries peered %d, want %d", obj.Spec.Peered, c.obs.Numbers.Peered)
			}
		})
	}
	// A new month is a new object; the old one is not named.
	dec, w := computeReport(reportObserved{Now: metav1.NewTime(time.Date(2026, 12, 1, 0, 30, 0, 0, time.UTC)), Period: report.Monthly,
		Numbers: numbers, Existing: nil})
	if w != reportCreate || dec.Name != "2026-12" {
		t.Errorf("December: %v %s", w, dec.Name)
	}
}
