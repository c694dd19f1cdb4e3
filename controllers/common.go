// Package controllers holds one reconciler per kind. Each follows the same
// skeleton: get, finalizer, phases that compute the status with pure
// functions (the *_status.go files), and one deferred status patch that also
// records observedGeneration and reports condition changes as events.
package controllers

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/apimachinery/pkg/util/wait"
	ctrl "sigs.k8s.io/controller-runtime"

	"k8s.io/apimachinery/pkg/api/equality"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
	"github.com/peering-operator/peering-operator/internal/conditions"
)

// Field indexes for finding dependants.
const (
	indexIXPortRef = "spec.ixPortRef.name"
	indexRouterRef = "spec.routerRef.name"
)

// ensureFinalizer adds f to obj and patches it when missing.
func ensureFinalizer(ctx context.Context, c client.Client, obj client.Object, f string) error {
	if controllerutil.ContainsFinalizer(obj, f) {
		return nil
	}
	base := obj.DeepCopyObject().(client.Object)
	controllerutil.AddFinalizer(obj, f)
	if err := c.Patch(ctx, obj, client.MergeFrom(base)); err != nil {
		return fmt.Errorf("failed to add finalizer %s: %w", f, err)
	}
	return nil
}

// removeFinalizer drops f from obj and patches it when present.
func removeFinalizer(ctx context.Context, c client.Client, obj client.Object, f string) error {
	if !controllerutil.ContainsFinalizer(obj, f) {
		return nil
	}
	base := obj.DeepCopyObject().(client.Object)
	controllerutil.RemoveFinalizer(obj, f)
	if err := c.Patch(ctx, obj, client.MergeFrom(base)); err != nil {
		return fmt.Errorf("failed to remove finalizer %s: %w", f, err)
	}
	return nil
}

// patchStatus writes obj's status when it differs from before's. The patch
// carries the resourceVersion, so a concurrent writer (a NOC approving the
// request) makes it fail with a conflict and the reconcile is retried,
// instead of one side silently overwriting the other's conditions.
func patchStatus(ctx context.Context, c client.Client, before, obj client.Object, status func(client.Object) any) error {
	if equality.Semantic.DeepEqual(status(before), status(obj)) {
		return nil
	}
	err := c.Status().Patch(ctx, obj, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{}))
	if err != nil && !apierrors.IsNotFound(err) { // gone: nothing left to report on
		return fmt.Errorf("failed to patch status: %w", err)
	}
	return nil
}

// finishReconcile is the deferred tail of every reconcile: it records the
// observed generation, patches the status and reports condition changes. A
// conflict means someone else wrote the object since it was read; that is
// routine, so it becomes a quiet requeue instead of an error.
func finishReconcile(ctx context.Context, c client.Client, rep conditions.Reporter, before, obj client.Object,
	status func(client.Object) any, conds func(client.Object) []metav1.Condition, res *ctrl.Result, retErr *error) {
	if err := patchStatus(ctx, c, before, obj, status); err != nil {
		if apierrors.IsConflict(err) && *retErr == nil {
			*res = ctrl.Result{Requeue: true}
			return
		}
		*retErr = kerrors.NewAggregate([]error{*retErr, err})
		return
	}
	rep.Report(obj, conds(before), conds(obj))
}

// kstatus returns Reconciling and Stalled conditions that mirror a Ready
// condition: a final failure is Stalled, a wait on something that resolves
// by itself is Reconciling, and Ready=True or a wait on a human is neither.
func kstatus(ready conditions.Set, stalled, progressing bool) []conditions.Set {
	rec := conditions.False(peeringv1.ConditionReconciling, peeringv1.ReasonNotReconciling, "")
	st := conditions.False(peeringv1.ConditionStalled, peeringv1.ReasonNotStalled, "")
	switch {
	case stalled:
		st = conditions.True(peeringv1.ConditionStalled, ready.Reason, ready.Message)
	case progressing:
		rec = conditions.True(peeringv1.ConditionReconciling, ready.Reason, ready.Message)
	}
	return []conditions.Set{ready, rec, st}
}

// every runs fn every d until ctx ends, the first time after d (the
// callers have just done the work once): apimachinery's timer loop, never
// ending on its own.
func every(ctx context.Context, d time.Duration, fn func()) {
	_ = wait.PollUntilContextCancel(ctx, d, false, func(context.Context) (bool, error) {
		fn()
		return false, nil
	})
}
