package main

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/util/duration"
	"sigs.k8s.io/controller-runtime/pkg/client"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
)

type statusOptions struct {
	kube kubeFlags
}

func newStatusCmd(s streams) *cobra.Command {
	o := statusOptions{}
	cmd := &cobra.Command{
		Use:   "status [NAME]",
		Short: "Show each BGP session of PeeringRequests: state, uptime, prefixes, last error",
		Long: `Show one line per BGP session of a PeeringRequest, or of every request in the
namespace (-n, or every namespace with -A), as the operator last read them
from the router:

  REQUEST     the PeeringRequest
  PEER        AS number and PeeringDB name
  ADDRESS     the peer's address on the IX
  STATE       BGP state (Established, Active, Idle, ...); for a request
              without sessions yet, why (WaitingForApproval, NotAtIX, ...)
  UPTIME      time since the session came up (Established only)
  RECEIVED    prefixes received from the peer
  ACCEPTED    prefixes accepted by the import filter
  LIMIT       max-prefix limit of the session
  LAST ERROR  the last NOTIFICATION or max-prefix trip

"-" means not known (yet). Below the table: the changes from PeeringDB or the
IRR the operator holds for a human (kubectl peering accept applies them).`,
		Example: `  kubectl peering status as13335-decix-fra
  kubectl peering status -n peers
  kubectl peering status -A`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.Context(), s, args)
		},
	}
	o.kube.add(cmd.Flags(), "the namespace (default: the context's namespace)")
	o.kube.addAllNamespaces(cmd.Flags(), "show requests in every namespace")
	return cmd
}

func (o *statusOptions) run(ctx context.Context, s streams, args []string) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if len(args) == 1 && o.kube.allNamespaces {
		return fmt.Errorf("give a NAME or --all-namespaces, not both")
	}
	c, err := o.kube.client()
	if err != nil {
		return err
	}
	ns, err := o.kube.ns()
	if err != nil {
		return err
	}
	var items []peeringv1.PeeringRequest
	if len(args) == 1 {
		pr := &peeringv1.PeeringRequest{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: args[0]}, pr); err != nil {
			if apierrors.IsNotFound(err) {
				return fmt.Errorf("peeringrequest %q not found in namespace %q", args[0], ns)
			}
			return kubeErr(err)
		}
		items = []peeringv1.PeeringRequest{*pr}
	} else {
		var l peeringv1.PeeringRequestList
		var opts []client.ListOption
		if !o.kube.allNamespaces {
			opts = append(opts, client.InNamespace(ns))
		}
		if err := c.List(ctx, &l, opts...); err != nil {
			return kubeErr(err)
		}
		items = l.Items
	}
	if len(items) == 0 {
		where := fmt.Sprintf("in namespace %s", ns)
		if o.kube.allNamespaces {
			where = "in any namespace"
		}
		fmt.Fprintf(s.Err, "No PeeringRequests found %s.\n", where)
		return nil
	}
	slices.SortFunc(items, func(a, b peeringv1.PeeringRequest) int {
		return strings.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name)
	})
	header := []string{"REQUEST", "PEER", "ADDRESS", "STATE", "UPTIME", "RECEIVED", "ACCEPTED", "LIMIT", "LAST ERROR"}
	if o.kube.allNamespaces {
		header = append([]string{"NAMESPACE"}, header...)
	}
	t := newTable(s.Out, header...)
	for _, pr := range items {
		for _, row := range sessionRows(&pr) {
			if o.kube.allNamespaces {
				row = append([]string{pr.Namespace}, row...)
			}
			t.row(row...)
		}
	}
	if err := t.flush(); err != nil {
		return err
	}
	// What the operator holds for a human: the router keeps what was pushed.
	first := true
	for _, pr := range items {
		d := pr.Status.Drift
		if d == nil {
			continue
		}
		if first {
			fmt.Fprintln(s.Out, "\nHeld for a human (the routers keep what was pushed; kubectl peering accept NAME applies it):")
			first = false
		}
		fmt.Fprintf(s.Out, "  %s: %s\n", pr.Name, printable(strings.Join(d.Changes, "; ")))
	}
	return nil
}

// sessionRows is one row per session; a request without sessions gets one
// row saying why (its Ready reason), so it does not vanish from the view.
func sessionRows(pr *peeringv1.PeeringRequest) [][]string {
	peer := "AS" + strconv.FormatInt(int64(pr.Spec.PeerASN), 10)
	if p := pr.Status.Peer; p != nil && p.Name != "" {
		peer += " " + truncate(printable(p.Name), 30)
	}
	if len(pr.Status.Sessions) == 0 {
		return [][]string{{pr.Name, peer, "-", readyReason(pr), "-", "-", "-", "-", ""}}
	}
	var rows [][]string
	for _, s := range pr.Status.Sessions {
		state := s.State
		if state == "" {
			state = "-"
		}
		uptime := "-"
		if s.State == "Established" && s.EstablishedTime != nil {
			uptime = duration.HumanDuration(now().Sub(s.EstablishedTime.Time))
		}
		rows = append(rows, []string{pr.Name, peer, s.Address, state, uptime,
			opt(s.Received), opt(s.Accepted), opt(s.Limit), printable(s.LastError)})
	}
	return rows
}

// readyReason is the request's state as `kubectl get pr` shows it.
func readyReason(pr *peeringv1.PeeringRequest) string {
	c := meta.FindStatusCondition(pr.Status.Conditions, peeringv1.ConditionReady)
	if c == nil || c.Reason == "" {
		return "Unknown"
	}
	return c.Reason
}
