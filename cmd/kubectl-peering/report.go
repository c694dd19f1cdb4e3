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
	"sigs.k8s.io/controller-runtime/pkg/client"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
)

type reportOptions struct {
	kube    kubeFlags
	pdb     pdbFlags
	traffic string
	top     int
}

func newReportCmd(s streams) *cobra.Command {
	o := reportOptions{}
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

Requests are counted in the namespace (-n) or in every namespace (-A).`,
		Example: `  kubectl peering report -A
  kubectl peering report -n peers --traffic top-asns-30d.csv`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd.Context(), s)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.traffic, "traffic", "", "CSV file with asn,bytes per network")
	f.IntVar(&o.top, "top", 10, "how many unpeered networks to list from the traffic file")
	o.kube.add(f, "count the requests of this namespace (default: the context's namespace)")
	o.kube.addAllNamespaces(f, "count requests in every namespace")
	o.pdb.add(f)
	return cmd
}

func (o *reportOptions) run(ctx context.Context, s streams) error {
	if ctx == nil {
		ctx = context.Background()
	}
	// Read the traffic file first: a typo in it should not cost a PeeringDB
	// download.
	var traffic map[uint32]uint64
	if o.traffic != "" {
		f, err := os.Open(o.traffic)
		if err != nil {
			return err
		}
		traffic, err = parseTraffic(f, o.traffic)
		f.Close()
		if err != nil {
			return err
		}
	}
	c, err := o.kube.client()
	if err != nil {
		return err
	}
	ns, err := o.kube.ns()
	if err != nil {
		return err
	}
	var l peeringv1.PeeringRequestList
	scope, opts := "in all namespaces", []client.ListOption{}
	if !o.kube.allNamespaces {
		scope, opts = "in namespace "+ns, append(opts, client.InNamespace(ns))
	}
	if err := c.List(ctx, &l, opts...); err != nil {
		return kubeErr(err)
	}
	var ports peeringv1.IXPortList
	if err := c.List(ctx, &ports); err != nil {
		return kubeErr(err)
	}
	w := s.Out

	// Requests by state and approval; sessions.
	states := map[string]int{}
	approval := map[string]int{}
	up, total := 0, 0
	establishedASN := map[uint32]bool{}
	type portKey struct {
		port string
		asn  uint32
	}
	requested := map[portKey]bool{}
	established := map[portKey]bool{}
	for _, pr := range l.Items {
		states[readyReason(&pr)]++
		a := peeringv1.ApprovalStatePending
		if st := approvalState(&pr); st != "" {
			a = st
		}
		approval[a]++
		k := portKey{pr.Spec.IXPortRef.Name, uint32(pr.Spec.PeerASN)}
		requested[k] = true
		for _, s := range pr.Status.Sessions {
			total++
			if s.State == "Established" {
				up++
				establishedASN[k.asn] = true
				established[k] = true
			}
		}
	}
	fmt.Fprintf(w, "PeeringRequests %s: %d\n", scope, len(l.Items))
	if len(l.Items) > 0 {
		t := newTable(w, "  STATE", "REQUESTS")
		for _, st := range sortedByCount(states) {
			t.row("  "+st, strconv.Itoa(states[st]))
		}
		_ = t.flush()
		fmt.Fprintf(w, "Approval: %d approved, %d pending, %d denied\n",
			approval[peeringv1.ApprovalStateApproved], approval[peeringv1.ApprovalStatePending], approval[peeringv1.ApprovalStateDenied])
	}
	fmt.Fprintf(w, "Sessions: %d of %d Established (%s)\n", up, total, percent(float64(up), float64(total)))

	// Per IXPort: the share of the IX's networks we peer with.
	var src *pdbSource
	atPorts := map[uint32][]string{} // ASN → our IXPorts at whose IX PeeringDB shows it
	if len(ports.Items) > 0 {
		var perr error
		if src, perr = o.pdb.open(s.Err); perr != nil {
			// The rest of the report does not need PeeringDB.
			fmt.Fprintf(s.Err, "warning: %v\n", perr)
		}
		routers := map[string]uint32{}
		var rl peeringv1.RouterList
		if err := c.List(ctx, &rl); err == nil {
			for _, r := range rl.Items {
				routers[r.Name] = uint32(r.Spec.LocalASN)
			}
		}
		slices.SortFunc(ports.Items, func(a, b peeringv1.IXPort) int { return strings.Compare(a.Name, b.Name) })
		fmt.Fprintf(w, "\nPeering per IXPort (networks PeeringDB shows at the IX; our AS and the IX's route servers left out):\n")
		t := newTable(w, "IXPORT", "IX", "NETWORKS", "REQUESTED", "ESTABLISHED")
		for _, p := range ports.Items {
			id := int(p.Spec.IX.PeeringDBID)
			if src == nil {
				t.row(p.Name, fmt.Sprintf("ix %d: PeeringDB unavailable", id), "-", "-", "-")
				continue
			}
			if err := src.ensure(ctx, id); err != nil {
				fmt.Fprintf(s.Err, "warning: IXPort %s: %v\n", p.Name, err)
				t.row(p.Name, fmt.Sprintf("ix %d: PeeringDB unavailable", id), "-", "-", "-")
				continue
			}
			ix, _ := src.cache.IX(id)
			nets, _ := ixNetworks(src.cache, id)
			n, req, est := 0, 0, 0
			for _, cd := range nets {
				if cd.net.ASN == routers[p.Spec.RouterRef.Name] || cd.ixService {
					continue
				}
				n++
				k := portKey{p.Name, cd.net.ASN}
				if requested[k] {
					req++
				}
				if established[k] {
					est++
				}
				atPorts[cd.net.ASN] = append(atPorts[cd.net.ASN], p.Name)
			}
			t.row(p.Name, fmt.Sprintf("%s (ix %d)", truncate(printable(ix.Name), 30), id), strconv.Itoa(n),
				fmt.Sprintf("%d (%s)", req, percent(float64(req), float64(n))),
				fmt.Sprintf("%d (%s)", est, percent(float64(est), float64(n))))
		}
		_ = t.flush()
	}

	if traffic == nil {
		return nil
	}
	var sum, peered uint64
	var unpeered []uint32
	for asn, b := range traffic {
		sum += b
		if establishedASN[asn] {
			peered += b
		} else {
			unpeered = append(unpeered, asn)
		}
	}
	fmt.Fprintf(w, "\nTraffic (%s: %d networks, %s):\n", o.traffic, len(traffic), bytesHuman(sum))
	fmt.Fprintf(w, "  with networks we peer with (a session Established): %s (%s)\n", bytesHuman(peered), percent(float64(peered), float64(sum)))
	fmt.Fprintf(w, "  with networks we do not peer with yet:               %s (%s)\n", bytesHuman(sum-peered), percent(float64(sum-peered), float64(sum)))
	slices.SortFunc(unpeered, func(a, b uint32) int { return cmp.Or(cmp.Compare(traffic[b], traffic[a]), cmp.Compare(a, b)) })
	if len(unpeered) > o.top {
		unpeered = unpeered[:max(o.top, 0)]
	}
	if len(unpeered) == 0 {
		return nil
	}
	if src != nil && !o.pdb.offline {
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
	fmt.Fprintf(w, "\nBiggest networks by traffic that we do not peer with yet:\n")
	t := newTable(w, "ASN", "NAME", "BYTES", "SHARE", "AT OUR IXPORTS")
	for _, asn := range unpeered {
		name := "-"
		if src != nil {
			if n, ok := src.cache.Network(asn); ok {
				name = truncate(printable(n.Name), 30)
			}
		}
		where := "-"
		if ps := atPorts[asn]; len(ps) > 0 {
			where = strings.Join(ps, ", ")
		}
		t.row(strconv.FormatUint(uint64(asn), 10), name, bytesHuman(traffic[asn]),
			percent(float64(traffic[asn]), float64(sum)), where)
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
