package report

import (
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
)

var t0 = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

func at(d time.Duration) metav1.Time { return metav1.NewTime(t0.Add(d)) }

func req(name string, asn int64, port string, created time.Duration, st peeringv1.PeeringRequestStatus) peeringv1.PeeringRequest {
	return peeringv1.PeeringRequest{ObjectMeta: metav1.ObjectMeta{Namespace: "peers", Name: name, CreationTimestamp: at(created)},
		Spec: peeringv1.PeeringRequestSpec{PeerASN: peeringv1.ASN(asn), IXPortRef: peeringv1.LocalObjectReference{Name: port}}, Status: st}
}

func cond(typ string, s metav1.ConditionStatus, reason string, when time.Duration) metav1.Condition {
	return metav1.Condition{Type: typ, Status: s, Reason: reason, LastTransitionTime: at(when)}
}

func approved(when time.Duration) *peeringv1.ApprovalStatus {
	t := at(when)
	return &peeringv1.ApprovalStatus{State: peeringv1.ApprovalStateApproved, Time: &t}
}

const day = 24 * time.Hour

func TestCompute(t *testing.T) {
	up := at(-5 * day)
	in := Input{Now: t0, Ports: []Port{
		{Name: "decix-fra", IXID: 31, Known: true, Networks: []uint32{10, 20, 30, 40}},
		{Name: "amsix", IXID: 26, Known: true, Networks: []uint32{20, 50}},
		{Name: "linx", IXID: 18},
	}, Traffic: &Traffic{Source: "t.csv", Bytes: map[uint32]uint64{10: 600, 20: 300, 99: 100}},
		Requests: []peeringv1.PeeringRequest{
			// Decided after 2 days, up 1 day after approval.
			req("as10", 10, "decix-fra", -10*day, peeringv1.PeeringRequestStatus{Approval: approved(-8 * day),
				Conditions: []metav1.Condition{cond(peeringv1.ConditionReady, "True", "Established", -7*day),
					cond(peeringv1.PeeringRequestEstablished, "True", "Established", -7*day)},
				Sessions: []peeringv1.SessionStatus{{Address: "192.0.2.10", State: "Established", EstablishedTime: &up}}}),
			// Decided after 4 days; the peer has not configured theirs.
			req("as20", 20, "amsix", -10*day, peeringv1.PeeringRequestStatus{Approval: approved(-6 * day),
				Conditions: []metav1.Condition{cond(peeringv1.ConditionReady, "False", "SessionsNotEstablished", -6*day),
					cond(peeringv1.PeeringRequestEstablished, "False", peeringv1.ReasonWaitingForPeer, -2*day)},
				Applied:  &peeringv1.AppliedStatus{Router: "edge1", Result: "Applied", Time: at(-6 * day)},
				Sessions: []peeringv1.SessionStatus{{Address: "192.0.2.20", State: "Active"}}}),
			// Pending: oldest first.
			req("as30", 30, "decix-fra", -3*day, peeringv1.PeeringRequestStatus{
				Conditions: []metav1.Condition{cond(peeringv1.ConditionReady, "False", "WaitingForApproval", -3*day)}}),
			req("as40", 40, "decix-fra", -9*day, peeringv1.PeeringRequestStatus{
				Conditions: []metav1.Condition{cond(peeringv1.ConditionReady, "False", "WaitingForApproval", -9*day)}}),
			// Only Ready says so (no Established condition yet), never pushed.
			req("as50", 50, "amsix", -20*day, peeringv1.PeeringRequestStatus{Approval: approved(-19 * day),
				Conditions: []metav1.Condition{cond(peeringv1.ConditionReady, "False", peeringv1.ReasonWaitingForPeer, -9*day)}}),
			// Not at any of our IXs per PeeringDB: counted as a request, not as a network.
			req("as77", 77, "decix-fra", -1*day, peeringv1.PeeringRequestStatus{Approval: &peeringv1.ApprovalStatus{State: "Denied", Time: ptr(at(0))}}),
		}}
	r := Compute(in)
	s := r.Spec
	for _, c := range []struct {
		what      string
		got, want any
	}{
		{"networks", s.Networks, int32(5)},
		{"requested", s.Requested, int32(5)},
		{"peered", s.Peered, int32(1)},
		{"candidates", s.Candidates, int32(0)},
		{"peered %", s.PeeredPercent, "20.0%"},
		{"without data", strings.Join(s.IXPortsWithoutData, ","), "linx"},
		{"requests", s.Requests, int32(6)},
		{"by state", s.ByState[0], peeringv1.ReportStateCount{State: "WaitingForApproval", Requests: 2}},
		{"approval", s.Approval, peeringv1.ReportApproval{Approved: 3, Pending: 2, Denied: 1}},
		{"sessions", s.Sessions, peeringv1.ReportSessions{Established: 1, Total: 2}},
		// Decisions took 2, 4, 1 and 1 days: the median is 1.5.
		{"median decision", s.MedianDecision.Duration, 36 * time.Hour},
		{"median established", s.MedianEstablished.Duration, day},
		{"pending", s.PendingRequests, int32(2)},
		{"oldest pending", s.WaitingForAnswer[0].Name, "as40"},
		{"waiting for peer", s.WaitingForPeerCount, int32(2)},
		{"waiting longest for the peer: since Ready said so", s.WaitingForPeer[0].Name + " " + strconv.Itoa(Days(t0, s.WaitingForPeer[0].Since)), "as50 9"},
		{"waiting for peer since the push", Days(t0, s.WaitingForPeer[1].Since), 6},
		{"traffic %", s.Traffic.PeeredPercent, "60.0%"},
		{"traffic bytes", s.Traffic.Bytes, int64(1000)},
		{"unpeered", r.Unpeered, []uint32{20, 99}},
		{"decix-fra", [2]int{r.Ports[0].Requested, r.Ports[0].Established}, [2]int{3, 1}},
		{"amsix", [2]int{r.Ports[1].Requested, r.Ports[1].Established}, [2]int{2, 0}},
	} {
		if !equal(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
		}
	}
	empty := Compute(Input{Now: t0})
	if empty.Spec.PeeredPercent != "-" || empty.Spec.MedianDecision != nil || empty.Spec.Traffic != nil {
		t.Errorf("no data: %+v", empty.Spec)
	}
}

func equal(a, b any) bool {
	if as, ok := a.([]uint32); ok {
		bs := b.([]uint32)
		if len(as) != len(bs) {
			return false
		}
		for i := range as {
			if as[i] != bs[i] {
				return false
			}
		}
		return true
	}
	return a == b
}

func ptr[T any](v T) *T { return &v }

func TestPeriod(t *testing.T) {
	for _, c := range []struct {
		period, at, name, start, end string
	}{
		{"monthly", "2026-11-30T23:59:59Z", "2026-11", "2026-11-01", "2026-12-01"},
		{"monthly", "2026-12-01T00:00:00Z", "2026-12", "2026-12-01", "2027-01-01"},
		{"weekly", "2026-12-02T10:00:00Z", "2026-w49", "2026-11-30", "2026-12-07"},
		{"weekly", "2027-01-01T10:00:00Z", "2026-w53", "2026-12-28", "2027-01-04"},
		{"24h", "2026-12-02T10:00:00Z", "2026-12-02-0000", "2026-12-02", "2026-12-03"},
	} {
		p, err := ParsePeriod(c.period)
		if err != nil {
			t.Fatal(err)
		}
		tm, _ := time.Parse(time.RFC3339, c.at)
		name, start, end := p.Of(tm)
		if name != c.name || start.Format(time.DateOnly) != c.start || end.Format(time.DateOnly) != c.end {
			t.Errorf("%s at %s: %s [%s, %s), want %s [%s, %s)", c.period, c.at, name, start, end, c.name, c.start, c.end)
		}
	}
	for _, bad := range []string{"yearly", "10m", ""} {
		if _, err := ParsePeriod(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestParsePercent(t *testing.T) {
	if v, err := ParsePercent("40%"); err != nil || v != 0.4 {
		t.Errorf("40%%: %v %v", v, err)
	}
	for _, bad := range []string{"140%", "-1", "lots"} {
		if _, err := ParsePercent(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}
