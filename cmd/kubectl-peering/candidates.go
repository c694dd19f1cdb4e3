package main

import (
	"cmp"
	"context"
	"encoding/csv"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	kptr "k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
	"github.com/peering-operator/peering-operator/internal/peeringdb"
	preport "github.com/peering-operator/peering-operator/internal/report"
)

type candidatesOptions struct {
	kube      *kubeFlags
	pdb       pdbFlags
	ixPort    string
	minPolicy string
	output    string
	// The hit list across every IXPort and facility (no --ix-port).
	hit hitListFlags
}

func newCandidatesCmd(s genericiooptions.IOStreams, k *kubeFlags) *cobra.Command {
	o := candidatesOptions{kube: k}
	cmd := &cobra.Command{
		Use:   "candidates [--ix-port NAME]",
		Short: "Rank the networks we could peer with at our IXs and facilities (the hit list)",
		Long: `Without --ix-port: the coordinator's hit list. Every network PeeringDB shows
at the IX of one of our IXPorts, or in a facility where our own network is
present (PeeringDB netfac: private-interconnect candidates), ranked by a
score, best first, --top of them (default 50).

Our network is the localASN of the Routers behind our IXPorts (--our-asn
replaces it). Left out: our own AS, the IXs' route servers and
collectors, networks PeeringDB has no record of, and networks with nothing
left to ask: a PeeringRequest (any namespace) on an IXPort at every common
IX, and no common facility or already a request somewhere.

Columns: SCORE, ASN, NAME, TYPE (PeeringDB info_type), POLICY, PREFIXES4/6,
TRAFFIC (PeeringDB's info_traffic band, or the bytes of --traffic), IXS (the
common IXs), FACS (how many common facilities; -o json|csv names them),
REQUESTED (IXPorts with a PeeringRequest for the network already).

Score, 0 to 100: the weighted mean of four parts, each 0 to 1:
  traffic    with --traffic(-prometheus): the network's bytes / the largest
             bytes of any candidate (0 when not listed); without: PeeringDB's
             traffic band on a log scale, log10(1 + lower bound in Mbit/s)/8
             (0-20Mbps: 0, 1-5Gbps: 0.38, 1-5Tbps: 0.75, 100+Tbps: 1)
  type       only without traffic data, "content loves eyeballs": how well its
             info_type complements ours. Ours Content: Cable/DSL/ISP 1,
             NSP 0.5, Content and others 0.25. Ours Cable/DSL/ISP: Content
             1, NSP and Cable/DSL/ISP 0.5, others 0.25. Ours NSP or other:
             Content and Cable/DSL/ISP 0.75, NSP 0.5, others 0.25. Not
             disclosed: 0.25
  locations  common IXs + common facilities, up to 4: min(n, 4)/4
  policy     Open 1, Selective 0.5, Restrictive, No or unstated 0
score = 100 * sum(weight * part) / sum(weights), the weights from
--weight-traffic (default 3), --weight-type (2), --weight-locations (1) and
--weight-policy (1). Ties: more traffic, then lower ASN.

The traffic file is report's: CSV asn,bytes (e.g. your flow collector's top
ASNs over 30 days). --traffic-prometheus takes the bytes from Prometheus
instead: the URL of an instant query (run at the current time) whose series
carry the ASN in a label (--traffic-asn-label, default asn), e.g.
  http://prometheus:9090/api/v1/query?query=sum by (asn) (increase(flow_bytes_total[30d]))
(URL-encode the query).

With --ix-port NAME: the networks at that one IXPort's IX with no
PeeringRequest on it, ordered by PeeringDB's traffic band (biggest first,
none last), then most prefixes, then ASN; columns ASN, NAME, POLICY,
PREFIXES4, PREFIXES6, TRAFFIC, RS-PEER (one of its ports peers with the IX
route servers).

--min-policy open lists only Open networks, selective adds Selective ones,
any (the default) lists every policy, Restrictive and No included.

-o csv prints the list for a spreadsheet, -o json|yaml a CandidateList
(kubectl.peering.dev/v1alpha1); the summary goes to stderr either way.`,
		Example: `  kubectl peering candidates
  kubectl peering candidates --traffic top-asns-30d.csv --top 20 -o csv > hitlist.csv
  kubectl peering candidates --weight-locations 3 --min-policy selective
  kubectl peering candidates --ix-port decix-fra
  kubectl peering candidates --ix-port decix-fra --min-policy open -o csv > decix-fra.csv`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.ixPort == "" {
				return o.runHitList(cmd.Context(), s)
			}
			for _, f := range hitListOnlyFlags {
				if cmd.Flags().Changed(f) {
					return fmt.Errorf("--%s ranks the hit list across every IXPort and facility; it does not apply with --ix-port", f)
				}
			}
			return o.run(cmd.Context(), s)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.ixPort, "ix-port", "", "list one IXPort's IX only (kubectl get ixports)")
	f.StringVar(&o.minPolicy, "min-policy", "any", "open, selective or any")
	addOutputFlag(cmd, &o.output, "output format: csv, json or yaml (default: the table)", candidateFormats...)
	_ = cmd.RegisterFlagCompletionFunc("ix-port", k.completeIXPorts)
	o.hit.add(f)
	o.pdb.add(f)
	return cmd
}

// candidateFormats are candidates' -o formats; "" and "table" are the table.
var candidateFormats = []string{"", "csv", "json", "yaml", "table"}

// candidateRow is one candidate in -o json|yaml.
type candidateRow struct {
	ASN       uint32 `json:"asn"`
	Name      string `json:"name"`
	Policy    string `json:"policy,omitempty"`
	Prefixes4 *int64 `json:"prefixes4,omitempty"`
	Prefixes6 *int64 `json:"prefixes6,omitempty"`
	Traffic   string `json:"traffic,omitempty"`
	RSPeer    bool   `json:"rsPeer"`
}

// candidate is one network at the IX.
type candidate struct {
	net      peeringdb.Network
	rsPeer   bool
	traffic  int64 // lower bound of info_traffic in Mbit/s; -1 unknown
	prefixes int64
	// ixService: the IX's own route server or route collector. Not a
	// bilateral peer; its sessions come with the IX port.
	ixService bool
}

// policyRank orders PeeringDB's general policies from the most to the
// least open; --min-policy keeps ranks up to its own.
func policyRank(p string) int {
	switch p {
	case peeringdb.PolicyOpen:
		return 0
	case peeringdb.PolicySelective:
		return 1
	case peeringdb.PolicyRestrictive:
		return 2
	case peeringdb.PolicyNo:
		return 3
	}
	return 4 // not stated
}

// checkFlags checks what both lists share; limit is the worst policy rank
// --min-policy lets through.
func (o *candidatesOptions) checkFlags() (limit int, err error) {
	maxRank := map[string]int{"open": 0, "selective": 1, "any": 4}
	limit, ok := maxRank[strings.ToLower(o.minPolicy)]
	if !ok {
		return 0, fmt.Errorf("--min-policy %q: want open, selective or any", o.minPolicy)
	}
	return limit, checkOutput(o.output, candidateFormats...)
}

func (o *candidatesOptions) run(ctx context.Context, s genericiooptions.IOStreams) error {
	if ctx == nil {
		ctx = context.Background()
	}
	limit, err := o.checkFlags()
	if err != nil {
		return err
	}
	c, err := o.kube.client()
	if err != nil {
		return err
	}
	port, err := readPort(ctx, c, o.ixPort)
	if err != nil {
		return err
	}
	peered, err := requestedASNs(ctx, c)
	if err != nil {
		return err
	}
	src, err := o.pdb.open(s.ErrOut)
	if err != nil {
		return err
	}
	if err := src.ensure(ctx, port.ixID); err != nil {
		return fmt.Errorf("cannot read IX %d from PeeringDB: %w", port.ixID, err)
	}
	ix, ok := src.cache.IX(port.ixID)
	if !ok {
		return fmt.Errorf("IX %d of IXPort %q is not in PeeringDB", port.ixID, o.ixPort)
	}
	all, unknown := ixNetworks(src.cache, port.ixID)
	var list []candidate
	var requested, us, policy int
	var services []string
	for _, cd := range all {
		switch {
		case cd.net.ASN == port.localASN:
			us++
		case cd.ixService:
			services = append(services, fmt.Sprintf("AS%d", cd.net.ASN))
		case peered[o.ixPort][cd.net.ASN]:
			requested++
		case policyRank(cd.net.PolicyGeneral) > limit:
			policy++
		default:
			list = append(list, cd)
		}
	}
	sortCandidates(list)

	switch o.output {
	case "json", "yaml":
		l := &listOf[candidateRow]{Items: []candidateRow{}}
		for _, cd := range list {
			l.Items = append(l.Items, candidateRow{ASN: cd.net.ASN, Name: cd.net.Name, Policy: cd.net.PolicyGeneral,
				Prefixes4: cd.net.InfoPrefixes4, Prefixes6: cd.net.InfoPrefixes6, Traffic: cd.net.InfoTraffic, RSPeer: cd.rsPeer})
		}
		if err := printObject(s.Out, o.output, "CandidateList", l); err != nil {
			return err
		}
	case "csv":
		w := csv.NewWriter(s.Out)
		_ = w.Write([]string{"asn", "name", "policy", "prefixes4", "prefixes6", "traffic", "rs_peer"})
		for _, cd := range list {
			_ = w.Write([]string{strconv.FormatUint(uint64(cd.net.ASN), 10), printable(cd.net.Name), cd.net.PolicyGeneral,
				csvOpt(cd.net.InfoPrefixes4), csvOpt(cd.net.InfoPrefixes6), cd.net.InfoTraffic, yesNo(cd.rsPeer)})
		}
		w.Flush()
		if err := w.Error(); err != nil {
			return err
		}
	default:
		if len(list) == 0 {
			break
		}
		t := newTable(s.Out, "ASN", "NAME", "POLICY", "PREFIXES4", "PREFIXES6", "TRAFFIC", "RS-PEER")
		for _, cd := range list {
			t.row(strconv.FormatUint(uint64(cd.net.ASN), 10), truncate(printable(cd.net.Name), 40), orDash(cd.net.PolicyGeneral),
				opt(cd.net.InfoPrefixes4), opt(cd.net.InfoPrefixes6), orDash(cd.net.InfoTraffic), yesNo(cd.rsPeer))
		}
		if err := t.flush(); err != nil {
			return err
		}
	}
	// The summary goes to stderr so that -o csv|json|yaml stays a clean file.
	fmt.Fprintf(s.ErrOut, "%s (PeeringDB ix %d): %d networks; %d candidates", printable(ix.Name), port.ixID, len(all), len(list))
	var left []string
	if requested > 0 {
		left = append(left, fmt.Sprintf("%d with a PeeringRequest on %s", requested, o.ixPort))
	}
	if us > 0 {
		left = append(left, "1 is us")
	}
	if len(services) > 0 {
		left = append(left, fmt.Sprintf("the IX's route servers and collectors %s", strings.Join(services, " ")))
	}
	if policy > 0 {
		left = append(left, fmt.Sprintf("%d below --min-policy %s", policy, o.minPolicy))
	}
	if len(left) > 0 {
		fmt.Fprintf(s.ErrOut, " (left out: %s)", strings.Join(left, ", "))
	}
	fmt.Fprintln(s.ErrOut)
	if unknown > 0 {
		fmt.Fprintf(s.ErrOut, "%d ASNs with a port at the IX have no network record in PeeringDB and are not listed\n", unknown)
	}
	return nil
}

// ixNetworks lists the networks with a port on the IX, one entry per ASN,
// and counts ports whose network PeeringDB does not return.
func ixNetworks(c *peeringdb.Cache, ixID int) ([]candidate, int) {
	byASN := map[uint32]*candidate{}
	var order []uint32
	unknown := map[uint32]bool{}
	rsASNs := preport.RouteServerASNs(c, ixID)
	for _, p := range c.NetIXLANsOfIX(ixID) {
		if cd, ok := byASN[p.ASN]; ok {
			cd.rsPeer = cd.rsPeer || p.IsRSPeer
			continue
		}
		n, ok := c.Network(p.ASN)
		if !ok {
			unknown[p.ASN] = true
			continue
		}
		byASN[p.ASN] = &candidate{net: n, rsPeer: p.IsRSPeer, traffic: trafficLevel(n.InfoTraffic),
			prefixes: kptr.Deref(n.InfoPrefixes4, 0) + kptr.Deref(n.InfoPrefixes6, 0), ixService: rsASNs[p.ASN] || preport.IXService(n)}
		order = append(order, p.ASN)
	}
	out := make([]candidate, 0, len(order))
	for _, a := range order {
		out = append(out, *byASN[a])
	}
	return out, len(unknown)
}

func sortCandidates(l []candidate) {
	slices.SortFunc(l, func(a, b candidate) int {
		return cmp.Or(cmp.Compare(b.traffic, a.traffic), cmp.Compare(b.prefixes, a.prefixes), cmp.Compare(a.net.ASN, b.net.ASN))
	})
}

// requestedASNs maps IXPort name → ASNs with a PeeringRequest on it, in
// every namespace: a peer requested by another team is not a candidate.
func requestedASNs(ctx context.Context, c client.Client) (map[string]map[uint32]bool, error) {
	var l peeringv1.PeeringRequestList
	if err := c.List(ctx, &l); err != nil {
		return nil, fmt.Errorf("cannot list PeeringRequests: %w", kubeErr(err))
	}
	out := map[string]map[uint32]bool{}
	for _, pr := range l.Items {
		m := out[pr.Spec.IXPortRef.Name]
		if m == nil {
			m = map[uint32]bool{}
			out[pr.Spec.IXPortRef.Name] = m
		}
		m[uint32(pr.Spec.PeerASN)] = true
	}
	return out, nil
}

// trafficLevel reads PeeringDB's info_traffic ("0-20Mbps", "1-5Tbps",
// "100+Tbps") as its lower bound in Mbit/s, so levels sort by size; -1 when
// empty or unreadable.
func trafficLevel(s string) int64 {
	s = strings.TrimSpace(s)
	var mult int64
	switch {
	case strings.HasSuffix(s, "Mbps"):
		mult = 1
	case strings.HasSuffix(s, "Gbps"):
		mult = 1000
	case strings.HasSuffix(s, "Tbps"):
		mult = 1000000
	default:
		return -1
	}
	lo := strings.TrimSuffix(s[:len(s)-4], "+")
	if i := strings.IndexByte(lo, '-'); i >= 0 {
		lo = lo[:i]
	}
	n, err := strconv.ParseInt(lo, 10, 64)
	if err != nil {
		return -1
	}
	return n * mult
}

func csvOpt(p *int64) string {
	if p == nil {
		return ""
	}
	return strconv.FormatInt(*p, 10)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
