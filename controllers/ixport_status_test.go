package controllers

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
	"github.com/peering-operator/peering-operator/internal/conditions"
	"github.com/peering-operator/peering-operator/internal/peeringdb"
	"github.com/peering-operator/peering-operator/internal/validation"
)

func TestIXPortStatus(t *testing.T) {
	port := &peeringv1.IXPort{}
	port.Spec.RouterRef.Name = "edge1"
	port.Spec.IX.PeeringDBID = 31
	router := &peeringv1.Router{}
	until := time.Date(2026, 6, 1, 13, 0, 0, 0, time.UTC)
	// As the client answers while PeeringDB holds one URL, wrapped the way
	// the cache and PeeringDBSource.Ensure wrap it.
	held := &peeringdb.Error{Object: "netixlan", Query: "depth=0&ix_id=31", Kind: peeringdb.ErrRateLimited,
		StatusCode: 429, RetryAfter: time.Hour, Until: until, QueryOnly: true}
	throttled := &peeringdb.Error{Object: "ix", Query: "id=31", Kind: peeringdb.ErrUnavailable,
		Err: fmt.Errorf("loading from PeeringDB in the background (last attempt: %w)", fmt.Errorf("sync of IX 31 from PeeringDB: %w", held))}
	valid := &validation.PortResult{IXID: 31, IXName: "DE-CIX Frankfurt"}
	stale := peeringdb.CacheStatus{Stale: true, StaleSince: until.Add(-2 * time.Hour),
		Throttle: &peeringdb.Throttle{Object: "net", Query: "depth=0&since=1780300800", Until: until, QueryOnly: true}}

	tests := []struct {
		name          string
		obs           ixPortObserved
		wantValidated metav1.ConditionStatus
		wantReason    string // of PeeringDBValidated and Ready
		wantReady     metav1.ConditionStatus
		wantRetry     bool
		wantStalled   bool
		wantInMessage []string
	}{
		{"router missing", ixPortObserved{}, "", peeringv1.ReasonRouterNotFound, metav1.ConditionFalse, false, false, []string{`"edge1"`}},
		{"PeeringDB down, nothing cached", ixPortObserved{Router: router, PDBErr: &peeringdb.Error{Kind: peeringdb.ErrUnavailable}},
			metav1.ConditionUnknown, peeringv1.ReasonPeeringDBUnavailable, metav1.ConditionFalse, true, false, []string{"retrying by itself"}},
		{"not reached yet", ixPortObserved{Router: router},
			metav1.ConditionUnknown, peeringv1.ReasonPeeringDBUnavailable, metav1.ConditionFalse, true, false, []string{"not been reached"}},
		{"a throttled query names the query and until when", ixPortObserved{Router: router, PDBErr: throttled},
			metav1.ConditionUnknown, peeringv1.ReasonPeeringDBThrottled, metav1.ConditionFalse, true, false,
			[]string{"netixlan?depth=0&ix_id=31", "2026-06-01T13:00:00Z", "retrying by itself"}},
		{"a throttle with no end known is an outage", ixPortObserved{Router: router, PDBErr: &peeringdb.Error{Kind: peeringdb.ErrRateLimited}},
			metav1.ConditionUnknown, peeringv1.ReasonPeeringDBUnavailable, metav1.ConditionFalse, true, false, nil},
		{"IX not in PeeringDB is final", ixPortObserved{Router: router, PDBErr: &peeringdb.Error{Kind: peeringdb.ErrNotFound}},
			metav1.ConditionFalse, peeringv1.ReasonIXNotFound, metav1.ConditionFalse, false, true, []string{"IX 31"}},
		{"validated", ixPortObserved{Router: router, Validation: valid},
			metav1.ConditionTrue, peeringv1.ReasonPortValid, metav1.ConditionTrue, false, false, []string{"DE-CIX Frankfurt"}},
		// What runs keeps running: a throttled refresh leaves the port
		// validated from the cache and only says so.
		{"validated from a cache a throttle keeps stale", ixPortObserved{Router: router, Validation: valid, PDB: stale},
			metav1.ConditionTrue, peeringv1.ReasonPortValid, metav1.ConditionTrue, false, false,
			[]string{"stale since 2026-06-01T11:00:00Z", "net?depth=0&since=1780300800", "until 2026-06-01T13:00:00Z"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := computeIXPortStatus(port, tc.obs)
			conds := map[string]conditions.Set{}
			for _, c := range st.Conditions {
				conds[c.Type] = c
			}
			ready := conds[peeringv1.ConditionReady]
			if ready.Status != tc.wantReady || ready.Reason != tc.wantReason {
				t.Errorf("Ready = %s/%s, want %s/%s", ready.Status, ready.Reason, tc.wantReady, tc.wantReason)
			}
			if tc.wantValidated != "" {
				v, ok := conds[peeringv1.IXPortPeeringDBValidated]
				if !ok || v.Status != tc.wantValidated || v.Reason != tc.wantReason {
					t.Errorf("PeeringDBValidated = %+v, want %s/%s", v, tc.wantValidated, tc.wantReason)
				}
			}
			msg := ready.Message
			if tc.wantValidated != "" {
				msg = conds[peeringv1.IXPortPeeringDBValidated].Message
			}
			for _, s := range tc.wantInMessage {
				if !strings.Contains(msg, s) {
					t.Errorf("message %q lacks %q", msg, s)
				}
			}
			if st.Retry != tc.wantRetry {
				t.Errorf("Retry = %v, want %v", st.Retry, tc.wantRetry)
			}
			stalled := conds[peeringv1.ConditionStalled].Status == metav1.ConditionTrue
			if stalled != tc.wantStalled {
				t.Errorf("Stalled = %v, want %v", stalled, tc.wantStalled)
			}
			if tc.wantReady != metav1.ConditionTrue && !tc.wantStalled && conds[peeringv1.ConditionReconciling].Status != metav1.ConditionTrue {
				t.Errorf("Reconciling = %+v, want True while it resolves itself", conds[peeringv1.ConditionReconciling])
			}
		})
	}
	if errors.Is(throttled, peeringdb.ErrNotFound) {
		t.Error("a throttle must never read as not found")
	}
}
