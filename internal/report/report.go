// Package report computes the peering coordinator's numbers: networks at
// our IXs and how many we peer with, requests by state, sessions up, the
// share of traffic peered, how long decisions and sessions take, and who
// waits. The operator records them once per period (PeeringReport) and
// kubectl peering report prints them; both call Compute, a pure function.
package report

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
	"github.com/peering-operator/peering-operator/internal/peeringdb"
)

// Port is one of our IXPorts and the networks PeeringDB shows at its IX.
type Port struct {
	Name string
	IXID int
	// IXName is PeeringDB's name of the IX.
	IXName string
	// Known: the IX's PeeringDB data was loaded; without it Networks is
	// empty and the port is listed in IXPortsWithoutData.
	Known bool
	// Networks are the ASNs at the IX, our own and the IX's route servers
	// and collectors left out.
	Networks []uint32
}

// Traffic is bytes exchanged per ASN, from Source.
type Traffic struct {
	Source string
	Bytes  map[uint32]uint64
}

// Input is everything Compute reads.
type Input struct {
	Now      time.Time
	Requests []peeringv1.PeeringRequest
	Ports    []Port
	Traffic  *Traffic
}

// PortCount is one IXPort's share: of its IX's networks, how many have a
// request on the port and how many a session Established there.
type PortCount struct {
	Port
	Requested   int
	Established int
}

// Result is Compute's answer: the numbers a PeeringReport records, the
// per-port rows and the networks we exchange the most traffic with but do
// not peer with (biggest first).
type Result struct {
	Spec     peeringv1.PeeringReportSpec
	Ports    []PortCount
	Unpeered []uint32
}

// Limits of the lists a report keeps (an object stays small).
const (
	MaxWaitingForAnswer = 5
	MaxWaitingForPeer   = 10
)

// Compute counts. Spec.Period, Start, End and Recorded are left to the
// caller.
func Compute(in Input) Result {
	var res Result
	s := &res.Spec
	s.Requests = int32(len(in.Requests))
	states := map[string]int32{}
	type portASN struct {
		port string
		asn  uint32
	}
	requestedASN, establishedASN := map[uint32]bool{}, map[uint32]bool{}
	requested, established := map[portASN]bool{}, map[portASN]bool{}
	var decisions, toEstablished []time.Duration
	var pending, waitingPeer []peeringv1.ReportWaiting
	for i := range in.Requests {
		pr := &in.Requests[i]
		states[ReadyReason(pr)]++
		asn := uint32(pr.Spec.PeerASN)
		k := portASN{pr.Spec.IXPortRef.Name, asn}
		requestedASN[asn], requested[k] = true, true
		var firstUp *metav1.Time
		for _, ss := range pr.Status.Sessions {
			s.Sessions.Total++
			if ss.State == "Established" {
				s.Sessions.Established++
				establishedASN[asn], established[k] = true, true
				if t := ss.EstablishedTime; t != nil && (firstUp == nil || t.Before(firstUp)) {
					firstUp = t
				}
			}
		}
		w := peeringv1.ReportWaiting{Namespace: pr.Namespace, Name: pr.Name, PeerASN: pr.Spec.PeerASN}
		a := pr.Status.Approval
		switch ApprovalState(pr) {
		case peeringv1.ApprovalStateApproved:
			s.Approval.Approved++
			if a != nil && a.Time != nil {
				decisions = append(decisions, nonNegative(a.Time.Sub(pr.CreationTimestamp.Time)))
				if up := establishedSince(pr, firstUp); up != nil {
					toEstablished = append(toEstablished, nonNegative(up.Sub(a.Time.Time)))
				}
			}
		case peeringv1.ApprovalStateDenied:
			s.Approval.Denied++
			if a != nil && a.Time != nil {
				decisions = append(decisions, nonNegative(a.Time.Sub(pr.CreationTimestamp.Time)))
			}
		default:
			s.Approval.Pending++
			w.Since = pr.CreationTimestamp
			pending = append(pending, w)
		}
		if c := waitingForPeer(pr); c != nil {
			w.Since = c.LastTransitionTime
			if pr.Status.Applied != nil {
				w.Since = pr.Status.Applied.Time
			}
			waitingPeer = append(waitingPeer, w)
		}
	}
	for _, st := range slices.SortedFunc(maps.Keys(states), func(a, b string) int {
		return cmp.Or(cmp.Compare(states[b], states[a]), strings.Compare(a, b))
	}) {
		s.ByState = append(s.ByState, peeringv1.ReportStateCount{State: st, Requests: states[st]})
	}
	s.MedianDecision, s.MedianEstablished = median(decisions), median(toEstablished)
	s.PendingRequests, s.WaitingForPeerCount = int32(len(pending)), int32(len(waitingPeer))
	s.WaitingForAnswer, s.WaitingForPeer = oldest(pending, MaxWaitingForAnswer), oldest(waitingPeer, MaxWaitingForPeer)

	networks := map[uint32]bool{}
	for _, p := range in.Ports {
		row := PortCount{Port: p}
		if !p.Known {
			s.IXPortsWithoutData = append(s.IXPortsWithoutData, p.Name)
		}
		for _, asn := range p.Networks {
			networks[asn] = true
			if requested[portASN{p.Name, asn}] {
				row.Requested++
			}
			if established[portASN{p.Name, asn}] {
				row.Established++
			}
		}
		res.Ports = append(res.Ports, row)
	}
	s.Networks = int32(len(networks))
	for asn := range networks {
		if requestedASN[asn] {
			s.Requested++
		}
		if establishedASN[asn] {
			s.Peered++
		}
	}
	s.Candidates = s.Networks - s.Requested
	s.PeeredPercent = Percent(float64(s.Peered), float64(s.Networks))

	if t := in.Traffic; t != nil {
		var sum, peered uint64
		for asn, b := range t.Bytes {
			sum += b
			if establishedASN[asn] {
				peered += b
			} else {
				res.Unpeered = append(res.Unpeered, asn)
			}
		}
		slices.SortFunc(res.Unpeered, func(a, b uint32) int { return cmp.Or(cmp.Compare(t.Bytes[b], t.Bytes[a]), cmp.Compare(a, b)) })
		s.Traffic = &peeringv1.ReportTraffic{Source: t.Source, Networks: int32(len(t.Bytes)), Bytes: clampInt64(sum),
			PeeredBytes: clampInt64(peered), PeeredPercent: Percent(float64(peered), float64(sum))}
	}
	return res
}

// waitingForPeer is the condition that says the request waits for the
// peer: Established=False, or Ready, with reason WaitingForPeer.
func waitingForPeer(pr *peeringv1.PeeringRequest) *metav1.Condition {
	for _, t := range []string{peeringv1.PeeringRequestEstablished, peeringv1.ConditionReady} {
		if c := meta.FindStatusCondition(pr.Status.Conditions, t); c != nil && c.Status == metav1.ConditionFalse && c.Reason == peeringv1.ReasonWaitingForPeer {
			return c
		}
	}
	return nil
}

// establishedSince is when an approved request came up: the Established
// condition's transition to True, else its earliest session up now.
func establishedSince(pr *peeringv1.PeeringRequest, firstUp *metav1.Time) *metav1.Time {
	if c := meta.FindStatusCondition(pr.Status.Conditions, peeringv1.PeeringRequestEstablished); c != nil && c.Status == metav1.ConditionTrue {
		return &c.LastTransitionTime
	}
	return firstUp
}

// ReadyReason is the request's state as kubectl get pr shows it.
func ReadyReason(pr *peeringv1.PeeringRequest) string {
	c := meta.FindStatusCondition(pr.Status.Conditions, peeringv1.ConditionReady)
	if c == nil || c.Reason == "" {
		return "Unknown"
	}
	return c.Reason
}

// ApprovalState is status.approval.state, or what the conditions say when
// the operator has not summarised them yet.
func ApprovalState(pr *peeringv1.PeeringRequest) string {
	if a := pr.Status.Approval; a != nil && a.State != "" {
		return a.State
	}
	switch {
	case meta.IsStatusConditionTrue(pr.Status.Conditions, peeringv1.PeeringRequestDenied):
		return peeringv1.ApprovalStateDenied
	case meta.IsStatusConditionTrue(pr.Status.Conditions, peeringv1.PeeringRequestApproved):
		return peeringv1.ApprovalStateApproved
	}
	return ""
}

// Networks lists the ASNs PeeringDB shows at the IX, leaving out localASN
// and the IX's route servers and collectors (IXService); false when the
// cache has not loaded the IX.
func Networks(c *peeringdb.Cache, ixID int, localASN uint32) ([]uint32, bool) {
	if !c.HasIX(ixID) {
		return nil, false
	}
	rs := RouteServerASNs(c, ixID)
	seen := map[uint32]bool{}
	var out []uint32
	for _, p := range c.NetIXLANsOfIX(ixID) {
		if seen[p.ASN] || p.ASN == localASN || rs[p.ASN] {
			continue
		}
		seen[p.ASN] = true
		n, ok := c.Network(p.ASN)
		if !ok || IXService(n) {
			continue // a port without a network record is not countable
		}
		out = append(out, p.ASN)
	}
	slices.Sort(out)
	return out, true
}

// RouteServerASNs are the route server ASNs the IX's LANs name.
func RouteServerASNs(c *peeringdb.Cache, ixID int) map[uint32]bool {
	rs := map[uint32]bool{}
	for _, l := range c.IXLANs(ixID) {
		if l.RSASN != 0 {
			rs[l.RSASN] = true
		}
	}
	return rs
}

// IXService: PeeringDB types the network as a route server or route
// collector (the IX's rs_asn is often not filled in).
func IXService(n peeringdb.Network) bool {
	for _, t := range append([]string{n.InfoType}, n.InfoTypes...) {
		if t == "Route Server" || t == "Route Collector" {
			return true
		}
	}
	return false
}

// Percent is part of whole with one decimal, "-" when whole is 0.
func Percent(part, whole float64) string {
	if whole == 0 {
		return "-"
	}
	return strconv.FormatFloat(100*part/whole, 'f', 1, 64) + "%"
}

// ParsePercent reads "40%", "40" or "12.5%" as a fraction of 1 in 0..1.
func ParsePercent(s string) (float64, error) {
	v, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(s), "%"), 64)
	if err != nil || v < 0 || v > 100 || math.IsNaN(v) {
		return 0, fmt.Errorf("%q is not a percentage between 0%% and 100%%", s)
	}
	return v / 100, nil
}

// Days is how many whole days have passed since t.
func Days(now time.Time, t metav1.Time) int {
	return int(now.Sub(t.Time) / (24 * time.Hour))
}

func median(d []time.Duration) *metav1.Duration {
	if len(d) == 0 {
		return nil
	}
	slices.Sort(d)
	m := d[len(d)/2]
	if len(d)%2 == 0 {
		m = (d[len(d)/2-1] + d[len(d)/2]) / 2
	}
	return &metav1.Duration{Duration: m.Round(time.Second)}
}

func oldest(w []peeringv1.ReportWaiting, n int) []peeringv1.ReportWaiting {
	slices.SortFunc(w, func(a, b peeringv1.ReportWaiting) int {
		return cmp.Or(a.Since.Compare(b.Since.Time), strings.Compare(a.Namespace, b.Namespace), strings.Compare(a.Name, b.Name))
	})
	return w[:min(len(w), n)]
}

func nonNegative(d time.Duration) time.Duration { return max(d, 0) }

func clampInt64(v uint64) int64 { return int64(min(v, math.MaxInt64)) }
