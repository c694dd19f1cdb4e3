package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
	preport "github.com/peering-operator/peering-operator/internal/report"
)

type reportOptions struct {
	kube          *kubeFlags
	pdb           pdbFlags
	traffic       string
	top           int
	allNamespaces bool
	output        string
	file          string
	goal          string
}

var reportFormats = []string{"", "json", "yaml", "html"}

func newReportCmd(s genericiooptions.IOStreams, k *kubeFlags) *cobra.Command {
	o := reportOptions{kube: k}
	cmd := &cobra.Command{
		Use:   "report [--traffic FILE.csv] [--goal 40%] [-o html --output-file FILE]",
		Short: "Summarise peering progress: requests by state, sessions up, % peered",
		Long: `Summarise where peering stands now, and how it went period by period:

  - PeeringRequests by state (the Ready reason, as kubectl get pr shows it)
    and by approval; the median time from a request to its decision and from
    approval to Established; the requests waiting longest for a decision and
    those waiting for the peer (Established reason WaitingForPeer: configured
    on our side, not on theirs), with the days waited;
  - BGP sessions Established out of all sessions;
  - per IXPort: how many of the networks PeeringDB shows at its IX (our own
    AS and the IX's route servers left out) have a PeeringRequest there, and
    how many have a session Established;
  - with --traffic: the share of our traffic exchanged with networks we peer
    with (at least one session Established), and the biggest networks we do
    not peer with yet, with the IXPorts where PeeringDB says we could;
  - the history: the PeeringReports the operator records once per period
    (kubectl get peeringreports; the manager's --report-period), counted in
    every namespace, and with --goal the trend toward it: the share of
    traffic peered when the reports have traffic data (the manager's
    --report-traffic-file), else the share of networks at our IXs peered.

The traffic file is CSV with the columns asn,bytes (a header line is
optional; "AS13335" and "13335" both work; an ASN listed twice is summed),
e.g. an export of your flow collector's top ASNs.

Requests are counted in the namespace (-n) or in every namespace (-A).

-o json|yaml prints the same numbers as a Report (kubectl.peering.dev/v1alpha1),
counts and bytes rather than percentages. -o html prints one self-contained
HTML page (inline SVG chart of the trend, no scripts, fonts or links to
fetch) for people without kubectl; --output-file writes it to a file.`,
		Example: `  kubectl peering report -A
  kubectl peering report -n peers --traffic top-asns-30d.csv
  kubectl peering report -A --goal 40% -o html --output-file peering-2026-11.html
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
	f.StringVar(&o.goal, "goal", "", "the goal, e.g. 40% (of traffic peered, or of networks when the reports have no traffic data)")
	f.StringVar(&o.file, "output-file", "", "write the report to this file instead of standard output")
	addOutputFlag(cmd, &o.output, "output format: json, yaml or html (default: text)", reportFormats...)
	o.pdb.add(f)
	return cmd
}

// reportData is what report computes: the text below, or -o json|yaml|html.
type reportData struct {
	metav1.TypeMeta `json:",inline"`
	// Now is when the report was made.
	Now metav1.Time `json:"now"`
	// Namespace is where requests were counted, "" for every namespace.
	Namespace string `json:"namespace,omitempty"`
	Requests  int    `json:"requests"`
	// ByState counts requests by Ready reason, most frequent first.
	ByState  []stateCount    `json:"byState"`
	Approval approvalCounts  `json:"approval"`
	Sessions sessionCounts   `json:"sessions"`
	IXPorts  []ixPortPeering `json:"ixPorts,omitempty"`
	Traffic  *trafficShare   `json:"traffic,omitempty"`
	// MedianDecision: request to approval or denial; MedianEstablished:
	// approval to Established.
	MedianDecision    *metav1.Duration `json:"medianDecision,omitempty"`
	MedianEstablished *metav1.Duration `json:"medianEstablished,omitempty"`
	// WaitingForAnswer and WaitingForPeer, oldest first, with Pending and
	// WaitingForPeerCount counting them all.
	Pending             int          `json:"pending"`
	WaitingForAnswer    []waitingRow `json:"waitingForAnswer,omitempty"`
	WaitingForPeerCount int          `json:"waitingForPeerCount"`
	WaitingForPeer      []waitingRow `json:"waitingForPeer,omitempty"`
	// History are the operator's PeeringReports, oldest first.
	History []peeringv1.PeeringReportSpec `json:"history"`
	Goal    *goalTrend                    `json:"goal,omitempty"`
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

type waitingRow struct {
	Namespace string      `json:"namespace"`
	Name      string      `json:"name"`
	PeerASN   int64       `json:"peerASN"`
	Since     metav1.Time `json:"since"`
	Days      int         `json:"days"`
}

// goalTrend is the way toward --goal over the history.
type goalTrend struct {
	// Metric is "traffic" or "networks" (what share the goal is of).
	Metric string  `json:"metric"`
	Goal   float64 `json:"goal"`
	// Current is the latest report's share (0..1), Period its name.
	Current float64 `json:"current"`
	Period  string  `json:"period"`
	Reached bool    `json:"reached"`
	// PerPeriod is the mean change per period over the history.
	PerPeriod float64 `json:"perPeriod"`
	// PeriodsLeft at that pace, 0 when reached or not moving toward it;
	// ETA names the period it would be reached in.
	PeriodsLeft int    `json:"periodsLeft,omitempty"`
	ETA         string `json:"eta,omitempty"`
}

func (o *reportOptions) run(ctx context.Context, s genericiooptions.IOStreams) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if err := checkOutput(o.output, reportFormats...); err != nil {
		return err
	}
	goal := -1.0
	if o.goal != "" {
		g, err := preport.ParsePercent(o.goal)
		if err != nil {
			return fmt.Errorf("--goal: %w", err)
		}
		goal = g
	}
	r, err := o.gather(ctx, s, goal)
	if err != nil {
		return err
	}
	w := s.Out
	var f *os.File
	if o.file != "" {
		if err := os.MkdirAll(filepath.Dir(o.file), 0o755); err != nil {
			return fmt.Errorf("cannot create the directory of --output-file: %w", err)
		}
		if f, err = os.Create(o.file); err != nil {
			return fmt.Errorf("cannot write --output-file: %w", err)
		}
		w = f
	}
	switch o.output {
	case "":
		err = r.writeText(w)
	case "html":
		err = r.writeHTML(w)
	default:
		err = printObject(w, o.output, "Report", r)
	}
	if f != nil {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			fmt.Fprintf(s.ErrOut, "wrote %s\n", o.file)
		}
	}
	return err
}

func (o *reportOptions) gather(ctx context.Context, s genericiooptions.IOStreams, goal float64) (*reportData, error) {
	// Read the traffic file first: a typo in it should not cost a PeeringDB
	// download.
	var traffic *preport.Traffic
	if o.traffic != "" {
		var err error
		if traffic, err = preport.ReadTraffic(o.traffic); err != nil {
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
	r := &reportData{Now: metav1.NewTime(now()), ByState: []stateCount{}, History: []peeringv1.PeeringReportSpec{}}
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
	var reports peeringv1.PeeringReportList
	if err := c.List(ctx, &reports); err != nil {
		// An operator without the PeeringReport CRD yet: the rest stands.
		fmt.Fprintf(s.ErrOut, "warning: cannot read the history (PeeringReports): %v\n", kubeErr(err))
	}

	in := preport.Input{Now: now(), Requests: l.Items, Traffic: traffic}
	var src *pdbSource
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
			port := preport.Port{Name: p.Name, IXID: int(p.Spec.IX.PeeringDBID)}
			if src != nil {
				if err := src.ensure(ctx, port.IXID); err != nil {
					fmt.Fprintf(s.ErrOut, "warning: IXPort %s: %v\n", p.Name, err)
				} else {
					ix, _ := src.cache.IX(port.IXID)
					port.IXName = ix.Name
					port.Networks, port.Known = preport.Networks(src.cache, port.IXID, routers[p.Spec.RouterRef.Name])
				}
			}
			in.Ports = append(in.Ports, port)
		}
	}
	res := preport.Compute(in)
	sp := res.Spec
	r.Requests = int(sp.Requests)
	for _, st := range sp.ByState {
		r.ByState = append(r.ByState, stateCount{st.State, int(st.Requests)})
	}
	r.Approval = approvalCounts{int(sp.Approval.Approved), int(sp.Approval.Pending), int(sp.Approval.Denied)}
	r.Sessions = sessionCounts{int(sp.Sessions.Established), int(sp.Sessions.Total)}
	r.MedianDecision, r.MedianEstablished = sp.MedianDecision, sp.MedianEstablished
	r.Pending, r.WaitingForPeerCount = int(sp.PendingRequests), int(sp.WaitingForPeerCount)
	r.WaitingForAnswer, r.WaitingForPeer = waitingRows(sp.WaitingForAnswer), waitingRows(sp.WaitingForPeer)
	atPorts := map[uint32][]string{} // ASN → our IXPorts at whose IX PeeringDB shows it
	for _, p := range res.Ports {
		row := ixPortPeering{Name: p.Name, IXID: p.IXID, IXName: p.IXName, Networks: len(p.Networks), Requested: p.Requested, Established: p.Established}
		if !p.Known {
			row.Error = "PeeringDB unavailable"
		}
		for _, asn := range p.Networks {
			atPorts[asn] = append(atPorts[asn], p.Name)
		}
		r.IXPorts = append(r.IXPorts, row)
	}
	for _, rep := range reports.Items {
		r.History = append(r.History, rep.Spec)
	}
	slices.SortFunc(r.History, func(a, b peeringv1.PeeringReportSpec) int { return a.Start.Compare(b.Start.Time) })
	if goal >= 0 {
		r.Goal = trendToward(goal, r.History)
	}

	if traffic == nil {
		return r, nil
	}
	t := &trafficShare{File: o.traffic, Networks: len(traffic.Bytes), Bytes: uint64(sp.Traffic.Bytes), PeeredBytes: uint64(sp.Traffic.PeeredBytes),
		Unpeered: []unpeeredNetwork{}}
	r.Traffic = t
	unpeered := res.Unpeered[:min(len(res.Unpeered), max(o.top, 0))]
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
		u := unpeeredNetwork{ASN: asn, Bytes: traffic.Bytes[asn], AtIXPorts: atPorts[asn]}
		if src != nil {
			if n, ok := src.cache.Network(asn); ok {
				u.Name = n.Name
			}
		}
		t.Unpeered = append(t.Unpeered, u)
	}
	return r, nil
}

func waitingRows(w []peeringv1.ReportWaiting) []waitingRow {
	var out []waitingRow
	for _, x := range w {
		out = append(out, waitingRow{Namespace: x.Namespace, Name: x.Name, PeerASN: int64(x.PeerASN), Since: x.Since,
			Days: max(preport.Days(now(), x.Since), 0)})
	}
	return out
}

// share is the goal's metric in one report: traffic peered when the report
// has traffic data, else networks peered; false when it has neither.
func share(s peeringv1.PeeringReportSpec, metric string) (float64, bool) {
	if metric == "traffic" {
		if s.Traffic == nil || s.Traffic.Bytes == 0 {
			return 0, false
		}
		return float64(s.Traffic.PeeredBytes) / float64(s.Traffic.Bytes), true
	}
	if s.Networks == 0 {
		return 0, false
	}
	return float64(s.Peered) / float64(s.Networks), true
}

// goalMetric: traffic when the latest report has traffic data.
func goalMetric(history []peeringv1.PeeringReportSpec) string {
	if n := len(history); n > 0 && history[n-1].Traffic != nil {
		return "traffic"
	}
	return "networks"
}

// trendToward projects the mean change per period over the history (first
// to latest report with the metric) to the goal.
func trendToward(goal float64, history []peeringv1.PeeringReportSpec) *goalTrend {
	g := &goalTrend{Metric: goalMetric(history), Goal: goal}
	var pts []float64
	var last peeringv1.PeeringReportSpec
	for _, h := range history {
		if v, ok := share(h, g.Metric); ok {
			pts, last = append(pts, v), h
		}
	}
	if len(pts) == 0 {
		return g
	}
	g.Current, g.Period = pts[len(pts)-1], last.Period
	g.Reached = g.Current >= goal
	if len(pts) > 1 {
		g.PerPeriod = (pts[len(pts)-1] - pts[0]) / float64(len(pts)-1)
	}
	if !g.Reached && g.PerPeriod > 0 {
		g.PeriodsLeft = int(math.Ceil((goal - g.Current) / g.PerPeriod))
		g.ETA = periodAfter(last, g.PeriodsLeft)
	}
	return g
}

// periodAfter names the period n periods after the report's.
func periodAfter(s peeringv1.PeeringReportSpec, n int) string {
	if s.Start.Day() == 1 && s.End.Equal(&metav1.Time{Time: s.Start.AddDate(0, 1, 0)}) {
		return s.Start.AddDate(0, n, 0).Format("2006-01")
	}
	t := s.Start.Add(time.Duration(n) * s.End.Sub(s.Start.Time))
	if s.End.Sub(s.Start.Time) == 7*24*time.Hour {
		name, _, _ := preport.Weekly.Of(t)
		return name
	}
	return t.UTC().Format("2006-01-02 15:04")
}

// human prints a duration in days and hours, hours and minutes, or seconds.
func human(d *metav1.Duration) string {
	if d == nil {
		return "-"
	}
	switch v := d.Duration; {
	case v >= 24*time.Hour:
		return fmt.Sprintf("%dd %dh", v/(24*time.Hour), v%(24*time.Hour)/time.Hour)
	case v >= time.Hour:
		return fmt.Sprintf("%dh %dm", v/time.Hour, v%time.Hour/time.Minute)
	case v >= time.Minute:
		return fmt.Sprintf("%dm", v/time.Minute)
	default:
		return fmt.Sprintf("%ds", v/time.Second)
	}
}

func pct(v float64) string { return strconv.FormatFloat(100*v, 'f', 1, 64) + "%" }

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
		fmt.Fprintf(w, "Median time from request to decision: %s; from approval to Established: %s\n", human(r.MedianDecision), human(r.MedianEstablished))
	}
	fmt.Fprintf(w, "Sessions: %d of %d Established (%s)\n", r.Sessions.Established, r.Sessions.Total,
		percent(float64(r.Sessions.Established), float64(r.Sessions.Total)))
	r.writeWaiting(w, fmt.Sprintf("\nWaiting longest for a decision (%d pending):\n", r.Pending), r.WaitingForAnswer)
	r.writeWaiting(w, fmt.Sprintf("\nWaiting for the peer to configure its side (%d, Established reason WaitingForPeer; days since we pushed ours):\n",
		r.WaitingForPeerCount), r.WaitingForPeer)

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

	if tr := r.Traffic; tr != nil {
		sum, peered := tr.Bytes, tr.PeeredBytes
		fmt.Fprintf(w, "\nTraffic (%s: %d networks, %s):\n", tr.File, tr.Networks, bytesHuman(sum))
		fmt.Fprintf(w, "  with networks we peer with (a session Established): %s (%s)\n", bytesHuman(peered), percent(float64(peered), float64(sum)))
		fmt.Fprintf(w, "  with networks we do not peer with yet:               %s (%s)\n", bytesHuman(sum-peered), percent(float64(sum-peered), float64(sum)))
		if len(tr.Unpeered) > 0 {
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
			_ = t.flush()
		}
	}
	return r.writeHistory(w)
}

func (r *reportData) writeWaiting(w io.Writer, title string, rows []waitingRow) {
	if len(rows) == 0 {
		return
	}
	fmt.Fprint(w, title)
	t := newTable(w, "  REQUEST", "ASN", "DAYS")
	for _, x := range rows {
		t.row("  "+x.Namespace+"/"+x.Name, strconv.FormatInt(x.PeerASN, 10), strconv.Itoa(x.Days))
	}
	_ = t.flush()
}

// writeHistory prints the operator's reports and the goal.
func (r *reportData) writeHistory(w io.Writer) error {
	fmt.Fprintf(w, "\nHistory (PeeringReports the operator recorded, every namespace):\n")
	if len(r.History) == 0 {
		fmt.Fprintln(w, "  none yet: the operator records one per period (its --report-period, default monthly)")
		return nil
	}
	current, _, _ := periodOfHistory(r.History, r.Now.Time)
	t := newTable(w, "PERIOD", "NETWORKS", "CANDIDATES", "PEERED", "TRAFFIC PEERED", "SESSIONS UP", "PENDING", "WAITING FOR PEER", "RECORDED")
	for _, h := range r.History {
		name := h.Period
		if name == current {
			name += " (current)"
		}
		traffic := "-"
		if h.Traffic != nil {
			traffic = h.Traffic.PeeredPercent
		}
		t.row(name, strconv.Itoa(int(h.Networks)), strconv.Itoa(int(h.Candidates)), fmt.Sprintf("%d (%s)", h.Peered, h.PeeredPercent), traffic,
			fmt.Sprintf("%d/%d", h.Sessions.Established, h.Sessions.Total), strconv.Itoa(int(h.PendingRequests)),
			strconv.Itoa(int(h.WaitingForPeerCount)), h.Recorded.UTC().Format("2006-01-02 15:04"))
	}
	if err := t.flush(); err != nil {
		return err
	}
	if g := r.Goal; g != nil {
		fmt.Fprintln(w, "\n"+g.Sentence())
	}
	return nil
}

// periodOfHistory names the report whose period contains t, if any.
func periodOfHistory(h []peeringv1.PeeringReportSpec, t time.Time) (string, time.Time, time.Time) {
	for _, s := range h {
		if !t.Before(s.Start.Time) && t.Before(s.End.Time) {
			return s.Period, s.Start.Time, s.End.Time
		}
	}
	return "", time.Time{}, time.Time{}
}

func (g *goalTrend) what() string {
	if g.Metric == "traffic" {
		return "of our traffic peered"
	}
	return "of the networks at our IXs peered"
}

// Sentence says where the goal stands.
func (g *goalTrend) Sentence() string {
	head := fmt.Sprintf("Goal: %s %s.", pct(g.Goal), g.what())
	switch {
	case g.Period == "":
		return head + " No report has the numbers yet."
	case g.Reached:
		return fmt.Sprintf("%s Reached: %s in %s.", head, pct(g.Current), g.Period)
	case g.PeriodsLeft > 0:
		return fmt.Sprintf("%s Now %s (%s), %+.1f points per period: at this pace reached in %d period(s), in %s.",
			head, pct(g.Current), g.Period, 100*g.PerPeriod, g.PeriodsLeft, g.ETA)
	case g.PerPeriod == 0:
		return fmt.Sprintf("%s Now %s (%s); no trend yet (one report, or no change).", head, pct(g.Current), g.Period)
	default:
		return fmt.Sprintf("%s Now %s (%s), %+.1f points per period: moving away from it.", head, pct(g.Current), g.Period, 100*g.PerPeriod)
	}
}

// parseTraffic is preport.ParseTraffic (the commands that read a traffic
// file share it).
func parseTraffic(r io.Reader, name string) (map[uint32]uint64, error) {
	return preport.ParseTraffic(r, name)
}
