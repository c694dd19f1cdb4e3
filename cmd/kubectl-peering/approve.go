package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
)

// decision is what approve and deny write: one condition, only ever True.
type decision struct {
	verb      string // "approve", "deny"
	done      string // "approved", "denied"
	condition string // Approved, Denied
}

var (
	approveDecision = decision{"approve", "approved", peeringv1.PeeringRequestApproved}
	denyDecision    = decision{"deny", "denied", peeringv1.PeeringRequestDenied}
)

type decisionOptions struct {
	kube   *kubeFlags
	reason string
}

func newApproveCmd(s genericiooptions.IOStreams, k *kubeFlags) *cobra.Command {
	return newDecisionCmd(s, k, approveDecision, `Approve a PeeringRequest, as a NOC engineer: the operator configures its
sessions once the request is also validated against PeeringDB. Nothing is
pushed to a router before both.

Approval is a recorded, permission-checked act, like approving a certificate
signing request: it sets the condition Approved=True on the request's status
(reason Approved, message = --reason); the operator records who approved and
when. Only users allowed the verb "approve" on the request's IXPort may do it;
the API server's answer is printed as it is when it refuses.

A decision is final: a request that is already approved or denied is left
alone (the command says by whom and when). To start over, delete the request
and create it again.`,
		`  kubectl peering approve as13335-decix-fra --reason "CHG-4711, policy Open, filters checked"
  kubectl peering approve as8763-decix-fra -n peers --reason "per peering agreement"`)
}

func newDenyCmd(s genericiooptions.IOStreams, k *kubeFlags) *cobra.Command {
	return newDecisionCmd(s, k, denyDecision, `Deny a PeeringRequest: it sets the condition Denied=True on the request's status
(reason Denied, message = --reason). A denied request is never configured; its
state becomes Denied and stays so until it is deleted.

Like approval, denial is permission-checked and final: a request that is
already approved or denied is left alone. To remove the sessions of an
approved request, delete the request.`,
		`  kubectl peering deny as64496-decix-fra --reason "not at the IX yet, ask again after the port is live"`)
}

func newDecisionCmd(s genericiooptions.IOStreams, k *kubeFlags, d decision, long, example string) *cobra.Command {
	o := decisionOptions{kube: k}
	cmd := &cobra.Command{
		Use:               d.verb + " NAME --reason TEXT",
		Short:             strings.ToUpper(d.verb[:1]) + d.verb[1:] + " a PeeringRequest (the decision is recorded and final)",
		Long:              long,
		Example:           example,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: k.completeRequests,
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.Context(), s, d, args[0])
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.reason, "reason", "", "why, for the record (a ticket, a policy); required")
	_ = cmd.MarkFlagRequired("reason")
	return cmd
}

// errDecided: someone decided first. Not retried.
var errDecided = errors.New("already decided")

func (o *decisionOptions) run(ctx context.Context, s genericiooptions.IOStreams, d decision, name string) error {
	if ctx == nil {
		ctx = context.Background()
	}
	reason := strings.TrimSpace(o.reason)
	if reason == "" {
		return fmt.Errorf("--reason must say why (a ticket number, the policy that applies)")
	}
	if len(reason) > 32768 {
		return fmt.Errorf("--reason is %d characters; a condition message holds at most 32768", len(reason))
	}
	ns, c, err := o.kube.nsClient()
	if err != nil {
		return err
	}
	var refusal string
	// A conflict means the request changed between our read and our write
	// (the operator's status update, or another approver): read again and
	// decide again, since the other change may have been a decision.
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		pr := &peeringv1.PeeringRequest{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, pr); err != nil {
			return err
		}
		if msg := decided(pr); msg != "" {
			refusal = msg
			return errDecided
		}
		orig := pr.DeepCopy()
		meta.SetStatusCondition(&pr.Status.Conditions, metav1.Condition{
			Type:               d.condition,
			Status:             metav1.ConditionTrue,
			Reason:             d.condition,
			Message:            reason,
			ObservedGeneration: pr.Generation,
			LastTransitionTime: metav1.NewTime(now().UTC().Truncate(time.Second)),
		})
		// The patch carries the resourceVersion read above: the API server
		// refuses it if anything changed since (optimistic lock).
		return c.Status().Patch(ctx, pr, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{}))
	})
	switch {
	case errors.Is(err, errDecided):
		return fmt.Errorf("refusing to %s %s/%s: %s", d.verb, ns, name, refusal)
	case apierrors.IsNotFound(err):
		return fmt.Errorf("peeringrequest %q not found in namespace %q", name, ns)
	case err != nil:
		// RBAC or the approval webhook said no: their words, unchanged.
		return fmt.Errorf("the API server refused to %s %s/%s: %w", d.verb, ns, name, kubeErr(err))
	}
	fmt.Fprintf(s.Out, "peeringrequest %s/%s %s\n", ns, name, d.done)
	return nil
}

// decided describes an earlier decision, "" when there is none. The
// operator's status.approval says who; the condition says when and why.
func decided(pr *peeringv1.PeeringRequest) string {
	for _, t := range []string{peeringv1.PeeringRequestDenied, peeringv1.PeeringRequestApproved} {
		c := meta.FindStatusCondition(pr.Status.Conditions, t)
		if c == nil || c.Status != metav1.ConditionTrue {
			continue
		}
		state := "approved"
		if t == peeringv1.PeeringRequestDenied {
			state = "denied"
		}
		when := c.LastTransitionTime.Time
		why := c.Message
		var who string
		if a := pr.Status.Approval; a != nil && strings.EqualFold(a.State, t) {
			who = a.User
			if a.Time != nil {
				when = a.Time.Time
			}
			if a.Reason != "" {
				why = a.Reason
			}
		}
		msg := "already " + state
		if who != "" {
			msg += " by " + who
		}
		if !when.IsZero() {
			msg += " at " + when.UTC().Format(time.RFC3339)
		}
		if why != "" {
			msg += fmt.Sprintf(" (%q)", printable(why))
		}
		return msg + "; a decision is final: delete the request and create it again to start over"
	}
	return ""
}
