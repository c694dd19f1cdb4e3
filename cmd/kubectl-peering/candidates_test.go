package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
)

// withLINX adds a second IXPort, at LINX LON1 (PeeringDB ix 18), for the
// length of the test: the hit list then spans two IXs.
func withLINX(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	p := &peeringv1.IXPort{ObjectMeta: metav1.ObjectMeta{Name: "linx-lon1"}, Spec: peeringv1.IXPortSpec{
		IX: peeringv1.IXReference{PeeringDBID: 18}, RouterRef: peeringv1.LocalObjectReference{Name: "edge1"},
		IPv6Address: "2001:7f8:4::2264:1/64"}}
	if err := k8s.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := k8s.Delete(ctx, p); err != nil {
			t.Errorf("deleting IXPort linx-lon1: %v", err)
		}
	})
}

// The hit list across DE-CIX Frankfurt and LINX LON1 and our facility
// (AS8804 is in Deutschherrnkarree in the sample), scored from PeeringDB.
func TestHitList(t *testing.T) {
	withLINX(t)
	cache := pdbFlagsFor(t)
	out, errOut, err := run(t, args([]string{"candidates", "--top", "25"}, kube(), cache)...)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "candidates-hitlist", out+"--- stderr\n"+errOut)

	// JSON: the whole list, every candidate's parts and where we meet.
	out, _, err = run(t, args([]string{"candidates", "--top", "0", "-o", "json"}, kube(), cache)...)
	if err != nil {
		t.Fatal(err)
	}
	var l struct {
		Kind  string   `json:"kind"`
		Items []hitRow `json:"items"`
	}
	if err := json.Unmarshal([]byte(out), &l); err != nil {
		t.Fatal(err)
	}
	if l.Kind != "CandidateList" || len(l.Items) < 40 {
		t.Fatalf("kind %q, %d items", l.Kind, len(l.Items))
	}
	seen := map[uint32]hitRow{}
	for i, r := range l.Items {
		seen[r.ASN] = r
		if r.Rank != i+1 || (i > 0 && r.Score > l.Items[i-1].Score) {
			t.Errorf("rank %d (%v) out of order", r.Rank, r.Score)
		}
		if len(r.IXs) == 0 && len(r.Facilities) == 0 {
			t.Errorf("AS%d listed without a common IX or facility", r.ASN)
		}
	}
	// 8804 is us; 8763 is requested on decix-fra and not at LINX.
	for _, asn := range []uint32{8804, 8763} {
		if _, ok := seen[asn]; ok {
			t.Errorf("AS%d listed", asn)
		}
	}
	// 6939 and 8560 are requested on decix-fra and at LINX too: listed for
	// LINX, saying so; only 6939 has a session up.
	for asn, peering := range map[uint32]bool{6939: true, 8560: false} {
		r, ok := seen[asn]
		if !ok || len(r.IXs) != 2 || strings.Join(r.RequestedOn, ",") != "decix-fra" || r.Peering != peering {
			t.Errorf("AS%d = %+v, want it at both IXs, requested on decix-fra, peering %v", asn, r, peering)
		}
	}
	// Janet is at LINX only.
	if r, ok := seen[786]; !ok || len(r.IXs) != 1 || r.IXs[0].ID != 18 {
		t.Errorf("AS786 = %+v, want it at LINX LON1 only", r)
	}
}

// With our traffic, the bytes rank first; a second "our" AS brings its
// facilities in (AS20640 Titan Networks: Digital Realty FRA1-27, Equinix AM7).
func TestHitListTrafficAndFacilities(t *testing.T) {
	withLINX(t)
	out, errOut, err := run(t, args([]string{"candidates", "--traffic", "testdata/hitlist-traffic.csv", "--our-asn", "8804,AS20640",
		"--top", "15", "--min-policy", "selective", "-o", "csv"}, kube(), pdbFlagsFor(t))...)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "candidates-hitlist-traffic.csv", out+"--- stderr\n"+errOut)
	lines := strings.Split(out, "\n")
	if !strings.HasPrefix(lines[1], "1,") || !strings.Contains(lines[1], ",15169,") {
		t.Errorf("first row %q, want Google (most bytes)", lines[1])
	}
}

func TestHitListRefusesBadFlags(t *testing.T) {
	for a, want := range map[string]string{
		"--weight-traffic -1":            "--weight-traffic -1: want a number of 0 or more",
		"--traffic testdata/no-such.csv": "--traffic: open testdata/no-such.csv",
		"--our-asn 23456":                "--our-asn:",
		"--ix-port decix-fra --top 5":    "--top ranks the hit list across every IXPort and facility",
		"--top -1":                       "--top -1: want a number of networks",
		"--weight-traffic 0 --weight-type 0 --weight-locations 0 --weight-policy 0": "nothing would rank the candidates",
	} {
		_, _, err := run(t, args(append([]string{"candidates"}, strings.Fields(a)...), kube(), pdbFlagsFor(t))...)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want %q", a, err, want)
		}
	}
}

func TestScoreParts(t *testing.T) {
	for _, tc := range []struct {
		band string
		want float64
	}{{"", 0}, {"0-20Mbps", 0}, {"1-5Gbps", 0.375}, {"1-5Tbps", 0.75}, {"100+Tbps", 1}} {
		if got := round3(trafficBandPart(tc.band)); got != tc.want {
			t.Errorf("trafficBandPart(%q) = %v, want %v", tc.band, got, tc.want)
		}
	}
	for _, tc := range []struct {
		ours, their string
		want        float64
	}{
		{"Content", "Cable/DSL/ISP", 1}, {"Cable/DSL/ISP", "Content", 1}, {"Content", "Content", 0.25},
		{"NSP", "Content", 0.75}, {"NSP", "NSP", 0.5}, {"Cable/DSL/ISP", "Enterprise", 0.25}, {"", "Not Disclosed", 0.25},
	} {
		if got := kindFit(networkKind(tc.ours), networkKind(tc.their)); got != tc.want {
			t.Errorf("fit(%s, %s) = %v, want %v", tc.ours, tc.their, got, tc.want)
		}
	}
}

func round3(f float64) float64 { return float64(int(f*1000+0.5)) / 1000 }

// -o yaml pins the CandidateList's shape; offline, from the cache file the
// first run wrote, the list is the same but facilities are left out (they
// are not in the cache), with a warning that says so.
func TestHitListYAMLAndOffline(t *testing.T) {
	cache := pdbFlagsFor(t)
	out, _, err := run(t, args([]string{"candidates", "--top", "2", "-o", "yaml"}, kube(), cache)...)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "candidates-hitlist.yaml", out)
	off, errOut, err := run(t, args([]string{"candidates", "--top", "2", "-o", "yaml", "--offline"}, kube(), cache)...)
	if err != nil {
		t.Fatal(err)
	}
	if off != out || !strings.Contains(errOut, "warning: facilities left out: --offline: PeeringDB facilities and contacts are not in the cache file") ||
		!strings.Contains(errOut, "and 0 facilities (none)") {
		t.Errorf("offline:\n%s\n--- stderr\n%s", off, errOut)
	}
}
