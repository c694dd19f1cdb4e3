package conditions_test

import (
	"fmt"
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/peering-operator/peering-operator/internal/conditions"
)

type recorder struct{ got []string }

func (r *recorder) Eventf(_ runtime.Object, _ runtime.Object, eventtype, reason, action, note string, args ...any) {
	r.got = append(r.got, fmt.Sprintf("%s %s %s", eventtype, reason, fmt.Sprintf(note, args...)))
}

func ready(status metav1.ConditionStatus, reason string) []metav1.Condition {
	return []metav1.Condition{{Type: "Ready", Status: status, Reason: reason, Message: reason + " message"}}
}

func TestReport(t *testing.T) {
	quiet := map[string]bool{"FiltersPending": true, "FiltersBuilt": true, "SessionsNotEstablished": true}
	normal := map[string]bool{"WaitingForApproval": true, "FiltersPending": true, "Established": true}
	for _, tc := range []struct {
		name          string
		before, after []metav1.Condition
		want          []string
	}{
		{"a first Ready", nil, ready(metav1.ConditionFalse, "WaitingForApproval"), []string{"Normal WaitingForApproval WaitingForApproval message"}},
		{"no change, no event", ready(metav1.ConditionFalse, "WaitingForApproval"), ready(metav1.ConditionFalse, "WaitingForApproval"), nil},
		{"a quiet step", ready(metav1.ConditionFalse, "WaitingForApproval"), ready(metav1.ConditionFalse, "FiltersPending"), nil},
		{"up", ready(metav1.ConditionFalse, "FiltersPending"), ready(metav1.ConditionTrue, "Established"), []string{"Normal Established Established message"}},
		{"a problem is a warning", ready(metav1.ConditionTrue, "Established"), ready(metav1.ConditionFalse, "ApplyFailed"), []string{"Warning ApplyFailed ApplyFailed message"}},
		{"a new session not up yet, after a wait", ready(metav1.ConditionFalse, "FiltersPending"), ready(metav1.ConditionFalse, "SessionsNotEstablished"), nil},
		{"a session that drops is a warning", ready(metav1.ConditionTrue, "Established"), ready(metav1.ConditionFalse, "SessionsNotEstablished"),
			[]string{"Warning SessionsNotEstablished SessionsNotEstablished message"}},
		{"a quiet good state first", nil, ready(metav1.ConditionTrue, "FiltersBuilt"), nil},
		{"a quiet good state after a problem is a recovery", ready(metav1.ConditionFalse, "IRRUnavailable"), ready(metav1.ConditionTrue, "FiltersBuilt"),
			[]string{"Normal FiltersBuilt FiltersBuilt message"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			conditions.Reporter{Recorder: rec, Normal: normal, Quiet: quiet}.Report(&metav1.PartialObjectMetadata{}, tc.before, tc.after)
			if !slices.Equal(rec.got, tc.want) {
				t.Errorf("events %q, want %q", rec.got, tc.want)
			}
		})
	}
}
