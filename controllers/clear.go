package controllers

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
	"github.com/peering-operator/peering-operator/internal/router"
	"github.com/peering-operator/peering-operator/internal/webhook"
)

// Results of a clear (status.lastClear.result), also event reasons.
const (
	ClearResultCleared = "Cleared"
	ClearResultFailed  = "Failed"
)

// clearJob is a clear a NOC asked for and the Router controller owes.
type clearJob struct {
	PR        *peeringv1.PeeringRequest
	Requested string
	Soft      bool
	Addrs     []netip.Addr
}

// clearsDue lists the pinned requests whose peering.dev/clear annotation
// has a value not answered yet (pure). Only addresses pushed for the
// request are cleared, so a clear never touches another request's session.
func clearsDue(cands []candidate) []clearJob {
	var out []clearJob
	for _, c := range cands {
		pr := c.PR
		v := strings.TrimSpace(pr.Annotations[peeringv1.AnnotationClear])
		if v == "" || pr.Status.Config == nil || !pr.DeletionTimestamp.IsZero() || !approvedNotDenied(pr) {
			continue
		}
		if lc := pr.Status.LastClear; lc != nil && lc.Requested == v {
			continue
		}
		j := clearJob{PR: pr, Requested: v, Soft: strings.HasSuffix(v, " soft")}
		for _, s := range pr.Status.Config.Sessions {
			if a, err := netip.ParseAddr(s.Address); err == nil {
				j.Addrs = append(j.Addrs, a)
			}
		}
		out = append(out, j)
	}
	return out
}

// runClears does the clears due on a router and records each in its
// request (status.lastClear, an event).
func (r *RouterReconciler) runClears(ctx context.Context, drv router.Driver, cands []candidate) {
	for _, j := range clearsDue(cands) {
		res := &peeringv1.ClearStatus{Requested: j.Requested, By: j.PR.Annotations[webhook.AnnotationClearedBy], Soft: j.Soft,
			Time: metav1.NewTime(r.now().Truncate(time.Second)), Result: ClearResultCleared}
		kind := "hard clear (the sessions restart)"
		if j.Soft {
			kind = "soft clear (routes re-read through the import policy, no reset)"
		}
		if err := drv.Clear(ctx, j.Addrs, j.Soft); err != nil {
			res.Result, res.Message = ClearResultFailed, fmt.Sprintf("%s of %v failed: %v", kind, j.Addrs, err)
		} else {
			res.Message = fmt.Sprintf("%s of %v", kind, j.Addrs)
		}
		ctrl.LoggerFrom(ctx).Info("cleared", "request", j.PR.Namespace+"/"+j.PR.Name, "by", res.By, "result", res.Result, "message", res.Message)
		pr := j.PR.DeepCopy() // j.PR is the cache's: never written
		pr.Status.LastClear = res
		if err := r.Status().Patch(ctx, pr, client.MergeFrom(j.PR)); err != nil && !apierrors.IsNotFound(err) {
			ctrl.LoggerFrom(ctx).Error(err, "failed to record a clear in the request", "request", j.PR.Namespace+"/"+j.PR.Name)
		}
		if rec := r.Reporter.Recorder; rec != nil {
			typ := "Normal"
			if res.Result == ClearResultFailed {
				typ = "Warning"
			}
			rec.Eventf(j.PR, nil, typ, res.Result, "Clear", "%s (asked by %s)", res.Message, res.By)
		}
	}
}
