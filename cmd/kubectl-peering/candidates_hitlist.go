package main

import (
	"cmp"
	"context"
	"encoding/csv"
	"fmt"
	"maps"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/pflag"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	kptr "k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
	"github.com/peering-operator/peering-operator/internal/peeringdb"
	preport "github.com/peering-operator/peering-operator/internal/report"
)

// hitListFlags are the hit list's own flags.
type hitListFlags struct {
	top     int
	traffic string
	// prometheus is an instant-query URL returning bytes per ASN.
	prometheus string
	asnLabel   string
	ourASNs    []string
	weights    scoreWeights
}

// hitListOnlyFlags make no sense with --ix-port.
var hitListOnlyFlags = []string{"top", "traffic", "traffic-prometheus", "traffic-asn-label", "our-asn", "weight-traffic", "weight-type", "weight-locations", "weight-policy"}

func (h *hitListFlags) add(f *pflag.FlagSet) {
	f.IntVar(&h.top, "top", 50, "how many networks the hit list shows (0: all)")
	f.StringVar(&h.traffic, "traffic", "", "CSV file with asn,bytes per network (report's format): rank by our traffic")
	f.StringVar(&h.prometheus, "traffic-prometheus", "",
		"rank by our traffic from Prometheus: an instant-query URL returning bytes per ASN, http://HOST:9090/api/v1/query?query=PROMQL")
	f.StringVar(&h.asnLabel, "traffic-asn-label", "asn", "the label holding the ASN in --traffic-prometheus's series")
	f.StringSliceVar(&h.ourASNs, "our-asn", nil, "our network(s) in PeeringDB: left out of the list, their facilities searched (default: the localASN of our IXPorts' Routers)")
	f.Float64Var(&h.weights.Traffic, "weight-traffic", 3, "weight of the traffic part of the score")
	f.Float64Var(&h.weights.Type, "weight-type", 2, "weight of the network-type part (used without --traffic)")
	f.Float64Var(&h.weights.Locations, "weight-locations", 1, "weight of the common-locations part")
	f.Float64Var(&h.weights.Policy, "weight-policy", 1, "weight of the peering-policy part")
}

// hitRow is one network of the hit list in -o json|yaml.
type hitRow struct {
	Rank      int     `json:"rank"`
	ASN       uint32  `json:"asn"`
	Name      string  `json:"name"`
	Score     float64 `json:"score"` // one decimal, as the table shows it
	Type      string  `json:"type,omitempty"`
	Policy    string  `json:"policy,omitempty"`
	Prefixes4 *int64  `json:"prefixes4,omitempty"`
	Prefixes6 *int64  `json:"prefixes6,omitempty"`
	// Traffic is PeeringDB's band; TrafficBytes ours from --traffic.
	Traffic      string      `json:"traffic,omitempty"`
	TrafficBytes *uint64     `json:"trafficBytes,omitempty"`
	IXs          []commonIX  `json:"ixs"`
	Facilities   []commonFac `json:"facilities"`
	// RequestedOn are our IXPorts with a PeeringRequest for the network.
	RequestedOn []string `json:"requestedOn,omitempty"`
	// Peering: one of those requests has a session Established.
	Peering bool       `json:"peering"`
	Parts   scoreParts `json:"scoreParts"`
}

type commonIX struct {
	ID     int    `json:"id"`
	Name   string `json:"name"`
	RSPeer bool   `json:"rsPeer"`
}

type commonFac struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
	City string `json:"city,omitempty"`
}

// hit is a network we share a location with, while it is being ranked.
type hit struct {
	net          peeringdb.Network
	ixs          map[int]*commonIX
	facs         map[int]bool
	requestedOn  []string
	requestedIXs map[int]bool
	peering      bool
	bytes        uint64 // from --traffic(-prometheus); 0 when not listed
	parts        scoreParts
	score        float64
}

func (o *candidatesOptions) runHitList(ctx context.Context, s genericiooptions.IOStreams) error {
	if ctx == nil {
		ctx = context.Background()
	}
	limit, err := o.checkFlags()
	if err != nil {
		return err
	}
	if o.hit.traffic != "" && o.hit.prometheus != "" {
		return fmt.Errorf("--traffic and --traffic-prometheus: give one source of traffic")
	}
	if err := o.hit.weights.check(o.hit.traffic != "" || o.hit.prometheus != ""); err != nil {
		return err
	}
	if o.hit.top < 0 {
		return fmt.Errorf("--top %d: want a number of networks, 0 for all", o.hit.top)
	}
	ours := map[uint32]bool{}
	for _, a := range o.hit.ourASNs {
		n, err := parseASN(a)
		if err != nil {
			return fmt.Errorf("--our-asn: %w", err)
		}
		ours[n] = true
	}
	// A typo in the traffic file should not cost a PeeringDB download.
	var traffic map[uint32]uint64
	if o.hit.traffic != "" {
		f, err := os.Open(o.hit.traffic)
		if err != nil {
			return fmt.Errorf("--traffic: %w", err)
		}
		traffic, err = parseTraffic(f, o.hit.traffic)
		f.Close()
		if err != nil {
			return err
		}
	}
	if o.hit.prometheus != "" {
		var err error
		if traffic, err = prometheusTraffic(ctx, o.hit.prometheus, o.hit.asnLabel); err != nil {
			return err
		}
	}

	c, err := o.kube.client()
	if err != nil {
		return err
	}
	var ports peeringv1.IXPortList
	if err := c.List(ctx, &ports); err != nil {
		return fmt.Errorf("cannot list IXPorts: %w", kubeErr(err))
	}
	if len(ports.Items) == 0 {
		return fmt.Errorf("no IXPort in the cluster: the hit list starts from our IXs (kubectl get ixports)")
	}
	slices.SortFunc(ports.Items, func(a, b peeringv1.IXPort) int { return strings.Compare(a.Name, b.Name) })
	if len(ours) == 0 {
		if err := routerASNs(ctx, c, ports.Items, ours); err != nil {
			return err
		}
	}
	if len(ours) == 0 {
		return fmt.Errorf("our AS is unknown: no IXPort's Router exists in the cluster; name it with --our-asn")
	}
	reqs, err := requestsByASN(ctx, c)
	if err != nil {
		return err
	}
	src, err := o.pdb.open(s.ErrOut)
	if err != nil {
		return err
	}

	hits := map[uint32]*hit{}
	get := func(n peeringdb.Network) *hit {
		h := hits[n.ASN]
		if h == nil {
			h = &hit{net: n, ixs: map[int]*commonIX{}, facs: map[int]bool{}, requestedIXs: map[int]bool{}}
			hits[n.ASN] = h
		}
		return h
	}
	var services int
	unknown := map[uint32]bool{} // at our IXs or facilities, not in PeeringDB
	ixOfPort := map[string]int{}
	ixSeen := map[int]bool{}
	var ixNames []string
	for _, p := range ports.Items {
		id := int(p.Spec.IX.PeeringDBID)
		ixOfPort[p.Name] = id
		if ixSeen[id] {
			continue // a second port at the same IX meets the same networks
		}
		ixSeen[id] = true
		if err := src.ensure(ctx, id); err != nil {
			return fmt.Errorf("cannot read IX %d of IXPort %s from PeeringDB: %w", id, p.Name, err)
		}
		ix, ok := src.cache.IX(id)
		if !ok {
			return fmt.Errorf("IX %d of IXPort %s is not in PeeringDB; fix spec.ix.peeringdbID of the IXPort", id, p.Name)
		}
		ixNames = append(ixNames, printable(ix.Name))
		nets, _ := ixNetworks(src.cache, id)
		for _, p := range src.cache.NetIXLANsOfIX(id) {
			if _, ok := src.cache.Network(p.ASN); !ok {
				unknown[p.ASN] = true
			}
		}
		for _, cd := range nets {
			switch {
			case ours[cd.net.ASN]:
			case cd.ixService:
				services++
			default:
				get(cd.net).ixs[id] = &commonIX{ID: id, Name: ix.Name, RSPeer: cd.rsPeer}
			}
		}
	}

	// Facilities where we are: every network there shares one with us.
	facs, facErr := o.sharedFacilities(ctx, src, ours, get, unknown)
	if facErr != nil {
		fmt.Fprintf(s.ErrOut, "warning: facilities left out: %v\n", facErr)
	}

	ourType := ""
	for _, a := range slices.Sorted(maps.Keys(ours)) {
		if n, ok := src.cache.Network(a); ok && n.InfoType != "" {
			ourType = n.InfoType
			break
		}
	}

	var list []*hit
	var done, belowPolicy int
	var maxBytes uint64
	for asn, h := range hits {
		for _, r := range reqs[asn] {
			if !slices.Contains(h.requestedOn, r.port) {
				h.requestedOn = append(h.requestedOn, r.port)
			}
			if id, ok := ixOfPort[r.port]; ok {
				h.requestedIXs[id] = true
			}
			h.peering = h.peering || r.established
		}
		slices.Sort(h.requestedOn)
		if !h.open() {
			done++
			continue
		}
		if policyRank(h.net.PolicyGeneral) > limit {
			belowPolicy++
			continue
		}
		h.bytes = traffic[asn]
		maxBytes = max(maxBytes, h.bytes)
		list = append(list, h)
	}
	for _, h := range list {
		h.parts = o.hit.weights.parts(h, ourType, traffic != nil, maxBytes)
		h.score = o.hit.weights.score(h.parts, traffic != nil)
	}
	slices.SortFunc(list, func(a, b *hit) int {
		return cmp.Or(cmp.Compare(round1(b.score), round1(a.score)), cmp.Compare(b.parts.Traffic, a.parts.Traffic), cmp.Compare(a.net.ASN, b.net.ASN))
	})
	total := len(list)
	if o.hit.top > 0 && len(list) > o.hit.top {
		list = list[:o.hit.top]
	}
	rows := make([]hitRow, 0, len(list))
	for i, h := range list {
		rows = append(rows, h.row(i+1, facs.byID, traffic != nil))
	}
	if err := writeHitList(s, o.output, rows, traffic != nil); err != nil {
		return err
	}

	// The summary goes to stderr so that -o csv|json|yaml stays a clean file.
	fmt.Fprintf(s.ErrOut, "%d networks at our %s (%s) and %s (%s); %d candidates, %d shown",
		len(hits), plural(len(ixNames), "IX", "IXs"), strings.Join(ixNames, ", "), plural(len(facs.byID), "facility", "facilities"),
		facs.names(), total, len(rows))
	var left []string
	if done > 0 {
		left = append(left, fmt.Sprintf("%d requested wherever we meet", done))
	}
	if belowPolicy > 0 {
		left = append(left, fmt.Sprintf("%d below --min-policy %s", belowPolicy, o.minPolicy))
	}
	if services > 0 {
		left = append(left, fmt.Sprintf("%d IX route servers and collectors", services))
	}
	if len(left) > 0 {
		fmt.Fprintf(s.ErrOut, " (left out: %s)", strings.Join(left, ", "))
	}
	fmt.Fprintln(s.ErrOut)
	fmt.Fprintf(s.ErrOut, "our network: %s, type %s; score from %s\n", asList(slices.Collect(maps.Keys(ours))), orDash(ourType),
		o.hit.weights.describe(o.hit.trafficSource()))
	if len(unknown) > 0 {
		fmt.Fprintf(s.ErrOut, "%d ASNs at our IXs or facilities have no network record in PeeringDB and are not listed\n", len(unknown))
	}
	return nil
}

// open: something is left to ask the network for. An IX where we meet and
// no request names it on any of our ports there, or a common facility
// while no request names it at all (a private interconnect comes after a
// first session, not instead of one we have).
func (h *hit) open() bool {
	for id := range h.ixs {
		if !h.requestedIXs[id] {
			return true
		}
	}
	return len(h.facs) > 0 && len(h.requestedOn) == 0
}

func (h *hit) row(rank int, facs map[int]peeringdb.Facility, withTraffic bool) hitRow {
	r := hitRow{Rank: rank, ASN: h.net.ASN, Name: h.net.Name, Score: round1(h.score),
		Type: h.net.InfoType, Policy: h.net.PolicyGeneral, Prefixes4: h.net.InfoPrefixes4, Prefixes6: h.net.InfoPrefixes6,
		Traffic: h.net.InfoTraffic, IXs: []commonIX{}, Facilities: []commonFac{}, RequestedOn: h.requestedOn, Peering: h.peering, Parts: h.parts}
	if withTraffic {
		r.TrafficBytes = kptr.To(h.bytes)
	}
	for _, id := range slices.Sorted(maps.Keys(h.ixs)) {
		r.IXs = append(r.IXs, *h.ixs[id])
	}
	for _, id := range slices.Sorted(maps.Keys(h.facs)) {
		f := facs[id]
		r.Facilities = append(r.Facilities, commonFac{ID: id, Name: f.Name, City: f.City})
	}
	return r
}

func writeHitList(s genericiooptions.IOStreams, format string, rows []hitRow, withTraffic bool) error {
	ixNames := func(r hitRow, sep string) string {
		var n []string
		for _, x := range r.IXs {
			n = append(n, printable(x.Name))
		}
		return strings.Join(n, sep)
	}
	traffic := func(r hitRow) string {
		if withTraffic {
			return bytesHuman(*r.TrafficBytes)
		}
		return r.Traffic
	}
	switch format {
	case "json", "yaml":
		return printObject(s.Out, format, "CandidateList", &listOf[hitRow]{Items: rows})
	case "csv":
		w := csv.NewWriter(s.Out)
		_ = w.Write([]string{"rank", "score", "asn", "name", "type", "policy", "prefixes4", "prefixes6", "traffic", "traffic_bytes",
			"ixs", "facilities", "requested_on", "peering"})
		for _, r := range rows {
			var facs []string
			for _, f := range r.Facilities {
				facs = append(facs, printable(f.Name))
			}
			b := ""
			if r.TrafficBytes != nil {
				b = strconv.FormatUint(*r.TrafficBytes, 10)
			}
			_ = w.Write([]string{strconv.Itoa(r.Rank), scoreText(r.Score), strconv.FormatUint(uint64(r.ASN), 10), printable(r.Name), r.Type, r.Policy,
				csvOpt(r.Prefixes4), csvOpt(r.Prefixes6), r.Traffic, b, ixNames(r, "; "),
				strings.Join(facs, "; "), strings.Join(r.RequestedOn, "; "), yesNo(r.Peering)})
		}
		w.Flush()
		return w.Error()
	}
	if len(rows) == 0 {
		return nil
	}
	t := newTable(s.Out, "SCORE", "ASN", "NAME", "TYPE", "POLICY", "PREFIXES4", "PREFIXES6", "TRAFFIC", "IXS", "FACS", "REQUESTED")
	for _, r := range rows {
		t.row(scoreText(r.Score), strconv.FormatUint(uint64(r.ASN), 10), truncate(printable(r.Name), 30), orDash(r.Type), orDash(r.Policy),
			opt(r.Prefixes4), opt(r.Prefixes6), orDash(traffic(r)), orDash(truncate(ixNames(r, ", "), 30)), strconv.Itoa(len(r.Facilities)),
			orDash(strings.Join(r.RequestedOn, ",")))
	}
	return t.flush()
}

// sharedFacs are the facilities where we are.
type sharedFacs struct {
	byID map[int]peeringdb.Facility
}

func (f sharedFacs) names() string {
	if len(f.byID) == 0 {
		return "none"
	}
	var n []string
	for _, id := range slices.Sorted(maps.Keys(f.byID)) {
		n = append(n, printable(f.byID[id].Name))
	}
	return strings.Join(n, "; ") // facility names hold commas
}

// sharedFacilities adds to the hits every network present in a facility
// where one of ours is (PeeringDB netfac); ASNs PeeringDB has no network
// for go to unknown.
func (o *candidatesOptions) sharedFacilities(ctx context.Context, src *pdbSource, ours map[uint32]bool, get func(peeringdb.Network) *hit,
	unknown map[uint32]bool) (sharedFacs, error) {
	out := sharedFacs{byID: map[int]peeringdb.Facility{}}
	mine, err := src.netFacsOf(ctx, slices.Sorted(maps.Keys(ours)))
	if err != nil || len(mine) == 0 {
		return out, err
	}
	facIDs := map[int]bool{}
	for _, nf := range mine {
		facIDs[nf.FacID] = true
	}
	// Not cached: at PeeringDB's anonymous rate this is some seconds per
	// run; say why the command is quiet.
	fmt.Fprintf(src.warn, "reading the networks in our %s from PeeringDB\n", plural(len(facIDs), "facility", "facilities"))
	there, facs, err := src.netFacsAt(ctx, slices.Sorted(maps.Keys(facIDs)))
	if err != nil {
		return out, err
	}
	for id := range facIDs {
		f, ok := facs[id]
		if !ok {
			f = peeringdb.Facility{ID: id, Name: fmt.Sprintf("fac %d", id)}
		}
		out.byID[id] = f
	}
	var asns []uint32
	for _, nf := range there {
		if !ours[nf.LocalASN] {
			asns = append(asns, nf.LocalASN)
		}
	}
	asns = slices.Compact(slices.Sorted(slices.Values(asns)))
	if err := src.cache.EnsureNetworks(ctx, asns...); err != nil {
		return out, fmt.Errorf("cannot read the networks in our facilities from PeeringDB: %w", err)
	}
	for _, nf := range there {
		if ours[nf.LocalASN] {
			continue
		}
		n, ok := src.cache.Network(nf.LocalASN)
		switch {
		case !ok:
			unknown[nf.LocalASN] = true
		case !preport.IXService(n): // a route collector in the building is no peer
			get(n).facs[nf.FacID] = true
		}
	}
	return out, nil
}

// routerASNs adds the localASN of each IXPort's Router to ours.
func routerASNs(ctx context.Context, c client.Client, ports []peeringv1.IXPort, ours map[uint32]bool) error {
	var rl peeringv1.RouterList
	if err := c.List(ctx, &rl); err != nil {
		return fmt.Errorf("cannot list Routers (for our AS; or give --our-asn): %w", kubeErr(err))
	}
	used := map[string]bool{}
	for _, p := range ports {
		used[p.Spec.RouterRef.Name] = true
	}
	for _, r := range rl.Items {
		if used[r.Name] {
			ours[uint32(r.Spec.LocalASN)] = true
		}
	}
	return nil
}

// existingRequest is a PeeringRequest as the hit list sees it.
type existingRequest struct {
	port        string
	established bool
}

// requestsByASN lists the PeeringRequests of every namespace by peer ASN.
func requestsByASN(ctx context.Context, c client.Client) (map[uint32][]existingRequest, error) {
	var l peeringv1.PeeringRequestList
	if err := c.List(ctx, &l); err != nil {
		return nil, fmt.Errorf("cannot list PeeringRequests: %w", kubeErr(err))
	}
	out := map[uint32][]existingRequest{}
	for _, pr := range l.Items {
		r := existingRequest{port: pr.Spec.IXPortRef.Name}
		for _, s := range pr.Status.Sessions {
			r.established = r.established || s.State == "Established"
		}
		out[uint32(pr.Spec.PeerASN)] = append(out[uint32(pr.Spec.PeerASN)], r)
	}
	return out, nil
}

func round1(f float64) float64 { return math.Round(f*10) / 10 }

// trafficSource names where measured traffic comes from, "" for none.
func (h *hitListFlags) trafficSource() string {
	switch {
	case h.traffic != "":
		return "--traffic"
	case h.prometheus != "":
		return "Prometheus"
	}
	return ""
}

func scoreText(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) }

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}
