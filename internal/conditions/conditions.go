// Package conditions sets metav1.Conditions on the operator's objects and
// reports changes as events, once per change of reason (cert-manager's
// Reporter model): a controller that re-reconciles every minute does not
// repeat an event it already emitted.
package conditions

import (
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	corev1 "k8s.io/api/core/v1"
)

// Set is a desired condition without bookkeeping: the generation and the
// transition time are filled in by Apply.
type Set struct {
	Type    string
	Status  metav1.ConditionStatus
	Reason  string
	Message string
}

// True, False and Unknown build a Set.
func True(t, reason, msg string) Set  { return Set{t, metav1.ConditionTrue, reason, msg} }
func False(t, reason, msg string) Set { return Set{t, metav1.ConditionFalse, reason, msg} }
func Unknown(t, reason, msg string) Set {
	return Set{t, metav1.ConditionUnknown, reason, msg}
}

// Apply writes each condition into conds for generation gen. The
// LastTransitionTime only moves when the status changes.
func Apply(conds *[]metav1.Condition, gen int64, sets ...Set) {
	for _, s := range sets {
		meta.SetStatusCondition(conds, metav1.Condition{
			Type: s.Type, Status: s.Status, Reason: s.Reason, Message: s.Message,
			ObservedGeneration: gen,
		})
	}
}

// Remove drops conditions of the given types.
func Remove(conds *[]metav1.Condition, types ...string) {
	for _, t := range types {
		meta.RemoveStatusCondition(conds, t)
	}
}

// EventRecorder is the subset of the events API recorder the Reporter needs.
type EventRecorder interface {
	Eventf(regarding runtime.Object, related runtime.Object, eventtype, reason, action, note string, args ...any)
}

// Reporter emits an event when the reason of a watched condition changes.
type Reporter struct {
	Recorder EventRecorder
	// Types are the condition types worth an event; empty means Ready only,
	// which carries the phase a NOC cares about.
	Types []string
	// Normal lists reasons that are expected waits, not problems (e.g.
	// WaitingForApproval); any other False condition is a Warning.
	Normal map[string]bool
	// Quiet lists reasons of routine steps and good states (FiltersBuilt,
	// ConfigurationPending, InSync): the condition shows them, an event
	// each would cost the API server writes per object for nothing a NOC
	// acts on. A recovery from a Warning is still an event. A quiet
	// problem reason (SessionsNotEstablished) is quiet only right after a
	// Normal wait; after a True state it is a Warning.
	Quiet map[string]bool
}

// Report compares the conditions before and after a reconcile and emits
// one event per watched condition whose (status, reason) changed.
func (r Reporter) Report(obj client.Object, before, after []metav1.Condition) {
	if r.Recorder == nil {
		return
	}
	types := r.Types
	if len(types) == 0 {
		types = []string{"Ready"}
	}
	emitted := map[string]bool{}
	for _, t := range types {
		c := meta.FindStatusCondition(after, t)
		if c == nil {
			continue
		}
		old := meta.FindStatusCondition(before, t)
		// Ready often mirrors another condition's reason: one event says it.
		if (old != nil && old.Status == c.Status && old.Reason == c.Reason) || emitted[c.Reason] {
			continue
		}
		// A quiet step says nothing, unless it is the recovery from a
		// problem (a Warning before).
		recovers := old != nil && old.Status != metav1.ConditionTrue && !r.Normal[old.Reason]
		// A quiet problem (a new session not up yet) is expected right after
		// a wait; after a good state it is news.
		expected := c.Status == metav1.ConditionTrue || r.Normal[c.Reason] ||
			old == nil || (old.Status != metav1.ConditionTrue && r.Normal[old.Reason])
		if r.Quiet[c.Reason] && expected && !recovers {
			continue
		}
		emitted[c.Reason] = true
		typ := corev1.EventTypeNormal
		if c.Status != metav1.ConditionTrue && !r.Normal[c.Reason] {
			typ = corev1.EventTypeWarning
		}
		r.Recorder.Eventf(obj, nil, typ, c.Reason, t, "%s", c.Message)
	}
}
