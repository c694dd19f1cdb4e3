package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
)

type clearOptions struct {
	kube    *kubeFlags
	soft    bool
	wait    time.Duration
	refresh time.Duration
}

func newClearCmd(s genericiooptions.IOStreams, k *kubeFlags) *cobra.Command {
	o := clearOptions{kube: k, refresh: time.Second}
	cmd := &cobra.Command{
		Use:   "clear NAME [--soft]",
		Short: "Restart a PeeringRequest's sessions on the router (e.g. after a max-prefix trip)",
		Long: `Clear the BGP sessions of a PeeringRequest on its router, without router
access: after a max-prefix trip the router keeps the session down until
someone clears it (raise the limit first, or it trips again). --soft re-reads
what the peer sent through the import policy without resetting the session.

The operator clears on its next apply and records the result in
status.lastClear and an event. Clearing is an audited act: it needs verb
"clear" on the request's IXPort (the peering-approver ClusterRole has it).`,
		Example: `  kubectl peering clear as8763-decix-fra
  kubectl peering clear as8763-decix-fra --soft --wait 1m`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: k.completeRequests,
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.Context(), s, args[0])
		},
	}
	cmd.Flags().BoolVar(&o.soft, "soft", false, "re-read the routes through the import policy, do not reset the sessions")
	cmd.Flags().DurationVar(&o.wait, "wait", 0, "wait this long for the operator to report the clear (0: do not wait)")
	return cmd
}

func (o *clearOptions) run(ctx context.Context, s genericiooptions.IOStreams, name string) error {
	if ctx == nil {
		ctx = context.Background()
	}
	ns, c, err := o.kube.nsClient()
	if err != nil {
		return err
	}
	value := now().UTC().Format(time.RFC3339Nano)
	if o.soft {
		value += " soft"
	}
	pr := &peeringv1.PeeringRequest{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, pr); err != nil {
		if apierrors.IsNotFound(err) {
			return fmt.Errorf("peeringrequest %q not found in namespace %q", name, ns)
		}
		return kubeErr(err)
	}
	orig := pr.DeepCopy()
	if pr.Annotations == nil {
		pr.Annotations = map[string]string{}
	}
	pr.Annotations[peeringv1.AnnotationClear] = value
	if err := c.Patch(ctx, pr, client.MergeFrom(orig)); err != nil {
		return fmt.Errorf("the API server refused to clear %s/%s: %w", ns, name, kubeErr(err))
	}
	fmt.Fprintf(s.Out, "peeringrequest %s/%s: clear asked (%s)\n", ns, name, value)
	if o.wait <= 0 {
		fmt.Fprintf(s.Out, "the operator clears on its next apply; see: kubectl get pr %s -o jsonpath='{.status.lastClear}'\n", name)
		return nil
	}
	var done *peeringv1.ClearStatus
	err = wait.PollUntilContextTimeout(ctx, o.refresh, o.wait, true, func(ctx context.Context) (bool, error) {
		cur := &peeringv1.PeeringRequest{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, cur); err != nil {
			return false, err
		}
		if lc := cur.Status.LastClear; lc != nil && lc.Requested == value {
			done = lc
			return true, nil
		}
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("the operator did not report the clear within %s: %w", o.wait, err)
	}
	fmt.Fprintf(s.Out, "%s: %s\n", done.Result, printable(done.Message))
	if done.Result != "Cleared" {
		return fmt.Errorf("clear of %s/%s failed", ns, name)
	}
	return nil
}
