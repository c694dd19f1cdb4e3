package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
)

type drainOptions struct {
	kube          *kubeFlags
	shutdownAfter time.Duration
	undrain       bool
}

func newDrainCmd(s genericiooptions.IOStreams, k *kubeFlags) *cobra.Command {
	o := drainOptions{kube: k}
	cmd := &cobra.Command{
		Use:   "drain NAME|ixport/NAME|router/NAME [--shutdown-after 10m]",
		Short: "Gracefully shut down the sessions of a PeeringRequest, an IXPort or a Router (RFC 8326)",
		Long: `Start a graceful shutdown (RFC 8326) of a PeeringRequest's sessions: what we
announce to the peer carries the GRACEFUL_SHUTDOWN community (65535:0) and
what we accept from it gets local preference 0, so traffic moves to other
paths while the sessions stay up; after --shutdown-after they are shut down.
kubectl peering undrain NAME reverses both. ixport/NAME drains every
session on the port, router/NAME every session on the router (not a route
server), for their maintenance; each drain has its own start and wait, and
a session is shut down when the first one over it is due.

Like spec.shutdown it is a human act that reaches the router whatever
PeeringDB or the IRR are doing; it writes spec.drain, so it needs the right
to update the request. The admission webhook stamps when the drain started
(annotation peering.dev/drain-since); the request's Ready condition says
when the shutdown is due.`,
		Example: `  kubectl peering drain as8763-decix-fra
  kubectl peering drain as8763-decix-fra --shutdown-after 30m
  kubectl peering drain as8763-decix-fra --shutdown-after 0s   # drained, kept up
  kubectl peering undrain as8763-decix-fra
  kubectl peering drain router/edge1 --shutdown-after 15m   # the router's maintenance`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: k.completeDrainTargets,
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.Context(), s, args[0])
		},
	}
	cmd.Flags().DurationVar(&o.shutdownAfter, "shutdown-after", peeringv1.DefaultDrainShutdownAfter, "how long the sessions stay up drained before the shutdown (0s: until undrained)")
	return cmd
}

func newUndrainCmd(s genericiooptions.IOStreams, k *kubeFlags) *cobra.Command {
	o := drainOptions{kube: k, undrain: true}
	cmd := &cobra.Command{
		Use:   "undrain NAME|ixport/NAME|router/NAME",
		Short: "End a graceful shutdown: sessions up, announcements untagged",
		Long: `Remove spec.drain from a PeeringRequest: its sessions come back up (unless
spec.shutdown is set) and what we announce and accept is no longer marked.`,
		Example: `  kubectl peering undrain as8763-decix-fra
  kubectl peering undrain router/edge1`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: k.completeDrainTargets,
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.Context(), s, args[0])
		},
	}
	return cmd
}

func (o *drainOptions) run(ctx context.Context, s genericiooptions.IOStreams, name string) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if o.shutdownAfter < 0 {
		return fmt.Errorf("--shutdown-after %s is negative", o.shutdownAfter)
	}
	ns, c, err := o.kube.nsClient()
	if err != nil {
		return err
	}
	var drain any // JSON null removes spec.drain
	if !o.undrain {
		drain = map[string]string{"shutdownAfter": o.shutdownAfter.String()}
	}
	patch, err := json.Marshal(map[string]any{"spec": map[string]any{"drain": drain}})
	if err != nil {
		return err
	}
	// kind/NAME names a cluster-scoped IXPort or Router.
	var obj client.Object
	what := ""
	switch kind, n, ok := strings.Cut(name, "/"); {
	case !ok:
		pr := &peeringv1.PeeringRequest{}
		pr.Namespace, pr.Name = ns, name
		obj, what = pr, "peeringrequest "+ns+"/"+name
	case kind == "ixport" || kind == "ixports" || kind == "ixp":
		obj, what = &peeringv1.IXPort{ObjectMeta: metav1.ObjectMeta{Name: n}}, "ixport "+n
	case kind == "router" || kind == "routers":
		obj, what = &peeringv1.Router{ObjectMeta: metav1.ObjectMeta{Name: n}}, "router "+n
	default:
		return fmt.Errorf("%q: name a PeeringRequest, ixport/NAME or router/NAME", name)
	}
	if err := c.Patch(ctx, obj, client.RawPatch(types.MergePatchType, patch)); err != nil {
		if apierrors.IsNotFound(err) {
			if _, ok := obj.(*peeringv1.PeeringRequest); ok {
				return fmt.Errorf("peeringrequest %q not found in namespace %q", name, ns)
			}
			return fmt.Errorf("%s not found", what)
		}
		return fmt.Errorf("the API server refused to change the drain of %s: %w", what, kubeErr(err))
	}
	sessions := "its sessions"
	if _, ok := obj.(*peeringv1.PeeringRequest); !ok {
		sessions = "the sessions on it"
	}
	if o.undrain {
		fmt.Fprintf(s.Out, "%s: undrained; %s come back up (unless another drain or a shutdown holds them) and are no longer marked\n", what, sessions)
		return nil
	}
	since := obj.GetAnnotations()[peeringv1.AnnotationDrainSince]
	when := "is kept up, drained, until undrained"
	if t, err := time.Parse(time.RFC3339, since); err == nil && o.shutdownAfter > 0 {
		when = "is shut down at " + t.Add(o.shutdownAfter).UTC().Format(time.RFC3339)
	} else if o.shutdownAfter > 0 {
		when = fmt.Sprintf("is shut down %s after the drain started", o.shutdownAfter)
	}
	if since != "" {
		since = " since " + printable(since)
	}
	fmt.Fprintf(s.Out, "%s: draining%s (GRACEFUL_SHUTDOWN on what we announce, local preference 0 on what we accept); %s %s\n",
		what, since, sessions, strings.Replace(when, "is ", "are ", 1))
	return nil
}
