package main

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
)

type acceptOptions struct {
	kube   *kubeFlags
	dryRun bool
}

func newAcceptCmd(s genericiooptions.IOStreams, k *kubeFlags) *cobra.Command {
	o := acceptOptions{kube: k}
	cmd := &cobra.Command{
		Use:   "accept NAME",
		Short: "Apply a change from PeeringDB or the IRR that the operator holds for a human",
		Long: `Accept the change the operator holds on a PeeringRequest: a change from
PeeringDB or the IRR that would remove or narrow a live session (the peer's
policy became No, its port is not operational, an address went away, a lower
prefix limit, a filter that shrank past the guard or came back empty). Until
a human accepts it the router keeps exactly what was pushed; the condition
DriftHeld and status.drift say what changed.

The command prints what it accepts and names that exact change (a token):
if PeeringDB or the IRR change again before the operator acts, the new change
is held again and needs its own accept. Accepting needs the same permission
as approving: verb "approve" on the request's IXPort.`,
		Example: `  kubectl peering accept as8763-decix-fra
  kubectl peering accept as8763-decix-fra --dry-run   # show what would be accepted`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: k.completeRequests,
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.Context(), s, args[0])
		},
	}
	cmd.Flags().BoolVar(&o.dryRun, "dry-run", false, "print what would be accepted, change nothing")
	return cmd
}

// heldFilterDigest finds the digest FiltersReady asks a human to accept.
var heldFilterDigest = regexp.MustCompile(regexp.QuoteMeta(peeringv1.AnnotationAcceptFilter) + `=(sha256:[0-9a-f]{64})`)

// acceptance is what one accept writes: annotation → value.
type acceptance struct {
	annotations map[string]string
	what        []string
}

// toAccept reads what a request holds for a human.
func toAccept(pr *peeringv1.PeeringRequest) acceptance {
	a := acceptance{annotations: map[string]string{}}
	if d := pr.Status.Drift; d != nil && d.Token != "" {
		a.annotations[peeringv1.AnnotationAcceptDrift] = d.Token
		a.what = append(a.what, d.Changes...)
	}
	// Before approval nothing is pinned: a held filter is accepted by its
	// digest, as the guard's message names it.
	if c := meta.FindStatusCondition(pr.Status.Conditions, peeringv1.PeeringRequestFiltersReady); c != nil && c.Status == metav1.ConditionFalse && pr.Status.Config == nil {
		var digests []string
		for _, m := range heldFilterDigest.FindAllStringSubmatch(c.Message, -1) {
			digests = append(digests, m[1])
		}
		if len(digests) > 0 {
			a.annotations[peeringv1.AnnotationAcceptFilter] = strings.Join(digests, ",")
			a.what = append(a.what, c.Message)
		}
	}
	return a
}

func (o *acceptOptions) run(ctx context.Context, s genericiooptions.IOStreams, name string) error {
	if ctx == nil {
		ctx = context.Background()
	}
	ns, c, err := o.kube.nsClient()
	if err != nil {
		return err
	}
	var acc acceptance
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		pr := &peeringv1.PeeringRequest{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, pr); err != nil {
			return err
		}
		acc = toAccept(pr)
		if len(acc.annotations) == 0 || o.dryRun {
			return nil
		}
		orig := pr.DeepCopy()
		if pr.Annotations == nil {
			pr.Annotations = map[string]string{}
		}
		for k, v := range acc.annotations {
			pr.Annotations[k] = v
		}
		return c.Patch(ctx, pr, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{}))
	})
	switch {
	case apierrors.IsNotFound(err):
		return fmt.Errorf("peeringrequest %q not found in namespace %q", name, ns)
	case err != nil:
		return fmt.Errorf("the API server refused to accept the held change of %s/%s: %w", ns, name, kubeErr(err))
	case len(acc.annotations) == 0:
		fmt.Fprintf(s.Out, "peeringrequest %s/%s holds nothing for a human (condition DriftHeld is not True)\n", ns, name)
		return nil
	}
	verb := "accepted"
	if o.dryRun {
		verb = "would accept"
	}
	fmt.Fprintf(s.Out, "peeringrequest %s/%s: %s\n", ns, name, verb)
	for _, w := range acc.what {
		fmt.Fprintf(s.Out, "  - %s\n", printable(w))
	}
	if !o.dryRun {
		fmt.Fprintln(s.Out, "the operator applies it on its next reconcile; watch: kubectl get pr "+name+" -o wide")
	}
	return nil
}
