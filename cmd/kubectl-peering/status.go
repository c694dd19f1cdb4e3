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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
)

type statusOptions struct {
	kube          *kubeFlags
	allNamespaces bool
	output        string
}

// statusFormats are status's -o formats; "" is the table.
var statusFormats = []string{"", "json", "yaml"}

func newStatusCmd(s genericiooptions.IOStreams, k *kubeFlags) *cobra.Command {
	o := statusOptions{kube: k}
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
IRR the operator holds for a human (kubectl peering accept applies them).

-o json|yaml prints a SessionList (kubectl.peering.dev/v1alpha1): one item
per session as in the table, with the request's Ready reason, the time the
session came up instead of its uptime, and the held changes under "held".`,
		Example: `  kubectl peering status as13335-decix-fra
  kubectl peering status -n peers
  kubectl peering status -A -o json | jq '.items[] | select(.state != "Established")'`,
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: k.completeRequests,
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.Context(), s, args)
		},
	}
	cmd.Flags().BoolVarP(&o.allNamespaces, "all-namespaces", "A", false, "show requests in every namespace")
	addOutputFlag(cmd, &o.output, "output format: json or yaml (default: the table)", statusFormats...)
	return cmd
}

// sessionRow is one BGP session of a request, or the request alone when it
// has none yet: a row of the table, an item of -o json|yaml.
type sessionRow struct {
	Namespace string `json:"namespace"`
	Request   string `json:"request"`
	PeerASN   int64  `json:"peerASN"`
	PeerName  string `json:"peerName,omitempty"`
	// Ready is the request's Ready reason (Established, WaitingForApproval, ...).
	Ready string `json:"ready"`
	// Address, Family and State are empty for a request without sessions.
	Address         string       `json:"address,omitempty"`
	Family          string       `json:"family,omitempty"`
	State           string       `json:"state,omitempty"`
	EstablishedTime *metav1.Time `json:"establishedTime,omitempty"`
	Received        *int64       `json:"received,omitempty"`
	Accepted        *int64       `json:"accepted,omitempty"`
	Limit           *int64       `json:"limit,omitempty"`
	LastError       string       `json:"lastError,omitempty"`
}

// heldChange is what the operator holds for a human on one request.
type heldChange struct {
	Namespace string   `json:"namespace"`
	Request   string   `json:"request"`
	Token     string   `json:"token"`
	Changes   []string `json:"changes"`
}

// remoteRequest is what a peer's Peering API answered to our request
// (kubectl peering request).
type remoteRequest struct {
	Namespace string                 `json:"namespace"`
	Request   string                 `json:"request"`
	Remote    peeringv1.RemoteStatus `json:"remote"`
}

// sessionList is what status -o json|yaml prints.
type sessionList struct {
	metav1.TypeMeta `json:",inline"`
	Items           []sessionRow    `json:"items"`
	Held            []heldChange    `json:"held,omitempty"`
	Remote          []remoteRequest `json:"remote,omitempty"`
}

func (l *sessionList) DeepCopyObject() runtime.Object {
	c := *l
	c.Items, c.Held, c.Remote = slices.Clone(l.Items), slices.Clone(l.Held), slices.Clone(l.Remote)
	return &c
}

func (o *statusOptions) run(ctx context.Context, s genericiooptions.IOStreams, args []string) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if err := checkOutput(o.output, statusFormats...); err != nil {
		return err
	}
	if len(args) == 1 && o.allNamespaces {
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
		if !o.allNamespaces {
			opts = append(opts, client.InNamespace(ns))
		}
		if err := c.List(ctx, &l, opts...); err != nil {
			return kubeErr(err)
		}
		items = l.Items
	}
	slices.SortFunc(items, func(a, b peeringv1.PeeringRequest) int {
		return strings.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name)
	})
	list := &sessionList{Items: []sessionRow{}}
	for _, pr := range items {
		list.Items = append(list.Items, sessionRows(&pr)...)
		if d := pr.Status.Drift; d != nil {
			list.Held = append(list.Held, heldChange{Namespace: pr.Namespace, Request: pr.Name, Token: d.Token, Changes: d.Changes})
		}
		if r := pr.Status.Remote; r != nil {
			list.Remote = append(list.Remote, remoteRequest{Namespace: pr.Namespace, Request: pr.Name, Remote: *r})
		}
	}
	if o.output != "" {
		// An empty list is an answer a script can read: no message.
		return printObject(s.Out, o.output, "SessionList", list)
	}
	if len(items) == 0 {
		where := fmt.Sprintf("in namespace %s", ns)
		if o.allNamespaces {
			where = "in any namespace"
		}
		fmt.Fprintf(s.ErrOut, "No PeeringRequests found %s.\n", where)
		return nil
	}
	header := []string{"REQUEST", "PEER", "ADDRESS", "STATE", "UPTIME", "RECEIVED", "ACCEPTED", "LIMIT", "LAST ERROR"}
	if o.allNamespaces {
		header = append([]string{"NAMESPACE"}, header...)
	}
	t := newTable(s.Out, header...)
	for _, r := range list.Items {
		row := r.cells()
		if o.allNamespaces {
			row = append([]string{r.Namespace}, row...)
		}
		t.row(row...)
	}
	if err := t.flush(); err != nil {
		return err
	}
	// What the operator holds for a human: the router keeps what was pushed.
	for i, h := range list.Held {
		if i == 0 {
			fmt.Fprintln(s.Out, "\nHeld for a human (the routers keep what was pushed; kubectl peering accept NAME applies it):")
		}
		fmt.Fprintf(s.Out, "  %s: %s\n", h.Request, printable(strings.Join(h.Changes, "; ")))
	}
	printRemote(s, list.Remote)
	return nil
}

// printRemote shows what peers answered to our Peering API requests.
func printRemote(s genericiooptions.IOStreams, rs []remoteRequest) {
	for i, r := range rs {
		if i == 0 {
			fmt.Fprintln(s.Out, "\nRequested from the peer (kubectl peering request; the peer's view, as of its last answer):")
		}
		var parts []string
		for _, ss := range r.Remote.Sessions {
			parts = append(parts, printable(ss.Address)+" "+printable(ss.State))
		}
		if len(parts) == 0 {
			parts = []string{"no sessions"}
		}
		fmt.Fprintf(s.Out, "  %s: %s (%s, request %s, %s ago)\n", r.Request, strings.Join(parts, ", "), printable(r.Remote.URL),
			printable(r.Remote.RequestID), duration.HumanDuration(now().Sub(r.Remote.Time.Time)))
	}
}

// sessionRows is one row per session; a request without sessions gets one
// row saying why (its Ready reason), so it does not vanish from the view.
func sessionRows(pr *peeringv1.PeeringRequest) []sessionRow {
	base := sessionRow{Namespace: pr.Namespace, Request: pr.Name, PeerASN: int64(pr.Spec.PeerASN), Ready: readyReason(pr)}
	if p := pr.Status.Peer; p != nil {
		base.PeerName = p.Name
	}
	if len(pr.Status.Sessions) == 0 {
		return []sessionRow{base}
	}
	var rows []sessionRow
	for _, s := range pr.Status.Sessions {
		r := base
		r.Address, r.Family, r.State = s.Address, s.Family, s.State
		r.EstablishedTime, r.Received, r.Accepted, r.Limit, r.LastError = s.EstablishedTime, s.Received, s.Accepted, s.Limit, s.LastError
		rows = append(rows, r)
	}
	return rows
}

// cells is the row as the table prints it.
func (r sessionRow) cells() []string {
	peer := "AS" + strconv.FormatInt(r.PeerASN, 10)
	if r.PeerName != "" {
		peer += " " + truncate(printable(r.PeerName), 30)
	}
	if r.Address == "" && r.State == "" {
		return []string{r.Request, peer, "-", r.Ready, "-", "-", "-", "-", ""}
	}
	state := r.State
	if state == "" {
		state = "-"
	}
	uptime := "-"
	if r.State == "Established" && r.EstablishedTime != nil {
		uptime = duration.HumanDuration(now().Sub(r.EstablishedTime.Time))
	}
	return []string{r.Request, peer, r.Address, state, uptime, opt(r.Received), opt(r.Accepted), opt(r.Limit), printable(r.LastError)}
}

// readyReason is the request's state as `kubectl get pr` shows it.
func readyReason(pr *peeringv1.PeeringRequest) string {
	c := meta.FindStatusCondition(pr.Status.Conditions, peeringv1.ConditionReady)
	if c == nil || c.Reason == "" {
		return "Unknown"
	}
	return c.Reason
}
