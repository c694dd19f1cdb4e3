package main

import (
	"cmp"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
)

type reportOptions struct {
	kube          *kubeFlags
	pdb           pdbFlags
	traffic       string
	top           int
	allNamespaces bool
	output        string
}

var reportFormats = []string{"", "json", "yaml"}

func newReportCmd(s genericiooptions.IOStreams, k *kubeFlags) *cobra.Command {
	o := reportOptions{kube: k}
	cmd := &cobra.Command{
		Use:   "report [--traffic FILE.csv]",
		Short: "Summarise peering progress: requests by state, sessions up, % peered",
		Long: `Summarise where peering stands:

  - PeeringRequests by state (the Ready reason, as kubectl get pr shows it)
    and by approval;
  - BGP sessions Established out of all sessions;
  - per IXPort: how many of the networks PeeringDB shows at its IX (our own
    AS and the IX's route servers left out) have a PeeringRequest there, and
    how many have a session Established;
  - with --traffic: the share of our traffic exchanged with networks we peer
    with (at least one session Established), and the biggest networks we do
    not peer with yet, with the IXPorts where PeeringDB says we could.

The traffic file is CSV with the columns asn,bytes (a header line is
optional; "AS13335" and "13335" both work; an ASN listed twice is summed),
e.g. an export of your flow collector's top ASNs.

Requests are counted in the namespace (-n) or in every namespace (-A).

-o json|yaml prints the same numbers as a Report (kubectl.peering.dev/v1alpha1),
counts and bytes rather than percentages.`,
		Example: `  kubectl peering report -A
  kubectl peering report -n peers --traffic top-asns-30d.csv
  kubectl peering report -A -o json | jq .sessions`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd.Context(), s)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.traffic, "traffic", "", "CSV file with asn,bytes per network")
	f.IntVar(&o.top, "top", 10, "how many unpeered networks to list from the traffic file")
	f.BoolVarP(&o.allNamespaces, "all-namespaces", "A", false, "count requests in every namespace")
	addOutputFlag(cmd, &o.output, "output format: json or yaml (default: text)", reportFormats...)
	o.pdb.add(f)
	return cmd
}

// reportData is what report computes: the text below, or -o json|yaml.
type reportData struct {
	metav1.TypeMeta `json:",inline"`
	// Namespace is where requests were counted, "" for every namespace.
	Namespace string `json:"namespace,omitempty"`
	Requests  int    `json:"requests"`
	// ByState counts requests by Ready reason, most frequent first.
	ByState  []stateCount    `json:"byState"`
	Approval approvalCounts  `json:"approval"`
	Sessions sessionCounts   `json:"sessions"`
	IXPorts  []ixPortPeering `json:"ixPorts,omitempty"`
	Traffic  *trafficShare   `json:"traffic,omitempty"`
}

func (r *reportData) DeepCopyObject() runtime.Object {
	c := *r
	return &c // printed, never changed
}

type stateCount struct {
	State    string `json:"state"`
	Requests int    `json:"requests"`
}

type approvalCounts struct {
	Approved int `json:"approved"`
	Pending  int `json:"pending"`
	Denied   int `json:"denied"`
}

type sessionCounts struct {
	Established int `json:"established"`
	Total       int `json:"total"`
}

// ixPortPeering: of the networks PeeringDB shows at the port's IX (our AS
// and the IX's route servers left out), how many we requested and peer with.
type ixPortPeering struct {
	Name   string `json:"name"`
	IXID   int    `json:"ixID"`
	IXName string `json:"ixName,omitempty"`
	// Error says why the counts are missing (PeeringDB unavailable).
	Error       string `json:"error,omitempty"`
	Networks    int    `json:"networks"`
	Requested   int    `json:"requested"`
	Established int    `json:"established"`
}

type trafficShare struct {
	File     string `json:"file"`
	Networks int    `json:"networks"`
	Bytes    uint64 `json:"bytes"`
	// PeeredBytes is exchanged with networks with a session Established.
	PeeredBytes uint64 `json:"peeredBytes"`
	// Unpeered are the biggest networks we do not peer with (--top).
	Unpeered []unpeeredNetwork `json:"unpeered"`
}

type unpeeredNetwork struct {
	ASN   uint32 `json:"asn"`
	Name  string `json:"name,omitempty"`
	Bytes uint64 `json:"bytes"`
	// AtIXPorts are our IXPorts at whose IX PeeringDB shows the network.
	AtIXPorts []string `json:"atIXPorts,omitempty"`
}

func (o *reportOptions) run(ctx context.Context, s genericiooptions.IOStreams) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if err := checkOutput(o.output, reportFormats...); err != nil {
		return err
	}
	r, err := o.gather(ctx, s)
	if err != nil {
		return err
	}
	if o.output != "" {
		return printObject(s.Out, o.output, "Report", r)
	}
	return r.writeText(s.Out)
}

func (o *reportOptions) gather(ctx context.Context, s genericiooptions.IOStreams) (*reportData, error) {
	// Read the traffic file first: a typo in it should not cost a PeeringDB
	// download.
	var traffic map[uint32]uint64
	if o.traffic != "" {
		f, err := os.Open(o.traffic)
		if err != nil {
			return nil, err
		}
		traffic, err = parseTraffic(f, o.traffic)
		f.Close()
		if err != nil {
			return nil, err
		}
	}
	c, err := o.kube.client()
	if err != nil {
		return nil, err
	}
	ns, err := o.kube.ns()
	if err != nil {
		return nil, err
	}
	r := &reportData{ByState: []stateCount{}}
	var l peeringv1.PeeringRequestList
	var opts []client.ListOption
	if !o.allNamespaces {
		r.Namespace, opts = ns, append(opts, client.InNamespace(ns))
	}
	if err := c.List(ctx, &l, opts...); err != nil {
		return nil, kubeErr(err)
	}
	var ports peeringv1.IXPortList
	if err := c.List(ctx, &ports); err != nil {
		return nil, kubeErr(err)
	}

	// Requests by state and approval; sessions.
	states := map[string]int{}
	establishedASN := map[uint32]bool{}
	type portKey struct {
		port string
		asn  uint32
	}
	requested := map[portKey]bool{}
	established := map[portKey]bool{}
	for _, pr := range l.Items {
		states[readyReason(&pr)]++
		switch approvalState(&pr) {
		case peeringv1.ApprovalStateApproved:
			r.Approval.Approved++
		case peeringv1.ApprovalStateDenied:
			r.Approval.Denied++
		default:
			r.Approval.Pending++
		}
		k := portKey{pr.Spec.IXPortRef.Name, uint32(pr.Spec.PeerASN)}
		requested[k] = true
		for _, s := range pr.Status.Sessions {
			r.Sessions.Total++
			if s.State == "Established" {
				r.Sessions.Established++
				establishedASN[k.asn] = true
				established[k] = true
			}
		}
	}
	r.Requests = len(l.Items)
	for _, st := range sortedByCount(states) {
		r.ByState = append(r.ByState, stateCount{st, states[st]})
	}

	// Per IXPort: the share of the IX's networks we peer with.
	var src *pdbSource
	atPorts := map[uint32][]string{} // ASN → our IXPorts at whose IX PeeringDB shows it
	if len(ports.Items) > 0 {
		var perr error
		if src, perr = o.pdb.open(s.ErrOut); perr != nil {
			// The rest of the report does not need PeeringDB.
			fmt.Fprintf(s.ErrOut, "warning: %v\n", perr)
		}
		routers := map[string]uint32{}
		var rl peeringv1.RouterList
		if err := c.List(ctx, &rl); err == nil {
			for _, r := range rl.Items {
				routers[r.Name] = uint32(r.Spec.LocalASN)
			}
		}
		slices.SortFunc(ports.Items, func(a, b peeringv1.IXPort) int { return strings.Compare(a.Name, b.Name) })
		for _, p := range ports.Items {
			row := ixPortPeering{Name: p.Name, IXID: int(p.Spec.IX.PeeringDBID)}
			if src == nil {
				row.Error = "PeeringDB unavailable"
				r.IXPorts = append(r.IXPorts, row)
				continue
			}
			if err := src.ensure(ctx, row.IXID); err != nil {
				fmt.Fprintf(s.ErrOut, "warning: IXPort %s: %v\n", p.Name, err)
				row.Error = "PeeringDB unavailable"
				r.IXPorts = append(r.IXPorts, row)
				continue
			}
			ix, _ := src.cache.IX(row.IXID)
			row.IXName = ix.Name
			nets, _ := ixNetworks(src.cache, row.IXID)
			for _, cd := range nets {
				if cd.net.ASN == routers[p.Spec.RouterRef.Name] || cd.ixService {
					continue
				}
				row.Networks++
				k := portKey{p.Name, cd.net.ASN}
				if requested[k] {
					row.Requested++
				}
				if established[k] {
					row.Established++
				}
				atPorts[cd.net.ASN] = append(atPorts[cd.net.ASN], p.Name)
			}
			r.IXPorts = append(r.IXPorts, row)
		}
	}

	if traffic == nil {
		return r, nil
	}
	t := &trafficShare{File: o.traffic, Networks: len(traffic), Unpeered: []unpeeredNetwork{}}
	r.Traffic = t
	var unpeered []uint32
	for asn, b := range traffic {
		t.Bytes += b
		if establishedASN[asn] {
			t.PeeredBytes += b
		} else {
			unpeered = append(unpeered, asn)
		}
	}
	slices.SortFunc(unpeered, func(a, b uint32) int { return cmp.Or(cmp.Compare(traffic[b], traffic[a]), cmp.Compare(a, b)) })
	if len(unpeered) > o.top {
		unpeered = unpeered[:max(o.top, 0)]
	}
	if src != nil && !o.pdb.offline && len(unpeered) > 0 {
		// Names for the list: one PeeringDB request for those not cached.
		var missing []uint32
		for _, asn := range unpeered {
			if _, ok := src.cache.Network(asn); !ok {
				missing = append(missing, asn)
			}
		}
		if len(missing) > 0 {
			_ = src.cache.SyncNetworks(ctx, missing...) // names only; the table says "-" without
		}
	}
	for _, asn := range unpeered {
		u := unpeeredNetwork{ASN: asn, Bytes: traffic[asn], AtIXPorts: atPorts[asn]}
		if src != nil {
			if n, ok := src.cache.Network(asn); ok {
				u.Name = n.Name
			}
		}
		t.Unpeered = append(t.Unpeered, u)
	}
	return r, nil
}

// writeText prints the report for a person.
func (r *reportData) writeText(w io.Writer) error {
	scope := "in all namespaces"
	if r.Namespace != "" {
		scope = "in namespace " + r.Namespace
	}
	fmt.Fprintf(w, "PeeringRequests %s: %d\n", scope, r.Requests)
	if r.Requests > 0 {
		t := newTable(w, "  STATE", "REQUESTS")
		for _, st := range r.ByState {
			t.row("  "+st.State, strconv.Itoa(st.Requests))
		}
		_ = t.flush()
		fmt.Fprintf(w, "Approval: %d approved, %d pending, %d denied\n", r.Approval.Approved, r.Approval.Pending, r.Approval.Denied)
	}
	fmt.Fprintf(w, "Sessions: %d of %d Established (%s)\n", r.Sessions.Established, r.Sessions.Total,
		percent(float64(r.Sessions.Established), float64(r.Sessions.Total)))

	if len(r.IXPorts) > 0 {
		fmt.Fprintf(w, "\nPeering per IXPort (networks PeeringDB shows at the IX; our AS and the IX's route servers left out):\n")
		t := newTable(w, "IXPORT", "IX", "NETWORKS", "REQUESTED", "ESTABLISHED")
		for _, p := range r.IXPorts {
			if p.Error != "" {
				t.row(p.Name, fmt.Sprintf("ix %d: %s", p.IXID, p.Error), "-", "-", "-")
				continue
			}
			n := float64(p.Networks)
			t.row(p.Name, fmt.Sprintf("%s (ix %d)", truncate(printable(p.IXName), 30), p.IXID), strconv.Itoa(p.Networks),
				fmt.Sprintf("%d (%s)", p.Requested, percent(float64(p.Requested), n)),
				fmt.Sprintf("%d (%s)", p.Established, percent(float64(p.Established), n)))
		}
		_ = t.flush()
	}

	tr := r.Traffic
	if tr == nil {
		return nil
	}
	sum, peered := tr.Bytes, tr.PeeredBytes
	fmt.Fprintf(w, "\nTraffic (%s: %d networks, %s):\n", tr.File, tr.Networks, bytesHuman(sum))
	fmt.Fprintf(w, "  with networks we peer with (a session Established): %s (%s)\n", bytesHuman(peered), percent(float64(peered), float64(sum)))
	fmt.Fprintf(w, "  with networks we do not peer with yet:               %s (%s)\n", bytesHuman(sum-peered), percent(float64(sum-peered), float64(sum)))
	if len(tr.Unpeered) == 0 {
		return nil
	}
	fmt.Fprintf(w, "\nBiggest networks by traffic that we do not peer with yet:\n")
	t := newTable(w, "ASN", "NAME", "BYTES", "SHARE", "AT OUR IXPORTS")
	for _, u := range tr.Unpeered {
		name := "-"
		if u.Name != "" {
			name = truncate(printable(u.Name), 30)
		}
		where := "-"
		if len(u.AtIXPorts) > 0 {
			where = strings.Join(u.AtIXPorts, ", ")
		}
		t.row(strconv.FormatUint(uint64(u.ASN), 10), name, bytesHuman(u.Bytes), percent(float64(u.Bytes), float64(sum)), where)
	}
	return t.flush()
}

// approvalState is status.approval.state, or what the conditions say when
// the operator has not summarised them yet.
func approvalState(pr *peeringv1.PeeringRequest) string {
	if a := pr.Status.Approval; a != nil && a.State != "" {
		return a.State
	}
	switch {
	case hasTrue(pr, peeringv1.PeeringRequestDenied):
		return peeringv1.ApprovalStateDenied
	case hasTrue(pr, peeringv1.PeeringRequestApproved):
		return peeringv1.ApprovalStateApproved
	}
	return ""
}

func hasTrue(pr *peeringv1.PeeringRequest, t string) bool {
	for _, c := range pr.Status.Conditions {
		if c.Type == t {
			return c.Status == "True"
		}
	}
	return false
}

// sortedByCount: most frequent first, then by name.
func sortedByCount(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int { return cmp.Or(cmp.Compare(m[b], m[a]), strings.Compare(a, b)) })
	return keys
}

// parseTraffic reads asn,bytes rows. The first row is a header when its
// first cell is not an AS number; a header may name the columns in any
// order.
func parseTraffic(r io.Reader, name string) (map[uint32]uint64, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.Comment = '#'
	cr.TrimLeadingSpace = true
	out := map[uint32]uint64{}
	asnCol, bytesCol := 0, 1
	for row := 1; ; row++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		line, _ := cr.FieldPos(0)
		if row == 1 {
			if _, err := parseASN(rec[0]); err != nil {
				asnCol, bytesCol = -1, -1
				for i, h := range rec {
					switch strings.ToLower(strings.TrimSpace(h)) {
					case "asn", "as":
						asnCol = i
					case "bytes":
						bytesCol = i
					}
				}
				if asnCol < 0 || bytesCol < 0 {
					return nil, fmt.Errorf("%s:%d: the header needs the columns asn and bytes (got %s)", name, line, strings.Join(rec, ","))
				}
				continue
			}
		}
		if len(rec) <= max(asnCol, bytesCol) {
			return nil, fmt.Errorf("%s:%d: want asn,bytes, got %d column(s)", name, line, len(rec))
		}
		asn, err := parseASN(rec[asnCol])
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, line, err)
		}
		b, err := strconv.ParseUint(strings.TrimSpace(rec[bytesCol]), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: bytes %q is not a whole number", name, line, rec[bytesCol])
		}
		if out[asn]+b < out[asn] {
			return nil, fmt.Errorf("%s:%d: the bytes of AS%d overflow", name, line, asn)
		}
		out[asn] += b
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no asn,bytes rows", name)
	}
	return out, nil
}
