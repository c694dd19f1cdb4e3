package pdbtest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/peering-operator/peering-operator/internal/peeringdb/pdbtest"
)

type answer struct {
	Data []map[string]any `json:"data"`
	Meta map[string]any   `json:"meta"`
}

func get(t *testing.T, srv *pdbtest.Server, pathQuery string) (int, answer) {
	t.Helper()
	resp, err := http.Get(srv.BaseURL + pathQuery)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var a answer
	if err := json.Unmarshal(b, &a); err != nil {
		t.Fatalf("%s: %v: %s", pathQuery, err, b)
	}
	return resp.StatusCode, a
}

func ids(a answer) []int {
	var out []int
	for _, r := range a.Data {
		out = append(out, int(r["id"].(float64)))
	}
	return out
}

func TestFilters(t *testing.T) {
	srv := pdbtest.NewServer(pdbtest.Options{})
	defer srv.Close()
	for _, tc := range []struct {
		q    string
		want int
	}{
		{"/net", 500},
		{"/net?asn=6939", 1},
		{"/net?asn__in=6939,15169,64496", 2},
		{"/net?id=1", 1},
		{"/net?id__in=1,2,3", 3},
		{"/netixlan?ix_id=31", 70},
		{"/netixlan?ixlan_id=31", 70},
		{"/netixlan?net_id=433", 21}, // Google's ports in the sample
		{"/netixlan?ix_id=31&asn=8359", 2},
		{"/ixpfx?ixlan_id=31", 2},
		{"/ixpfx?ixlan_id__in=31,18", 3}, // LINX has only its IPv4 prefix in the sample
		{"/net?limit=10&skip=495", 5},
		{"/net?limit=7&depth=0", 7},
		{"/poc", 40},
		{"/fac?org_id=2&limit=1", 1},
	} {
		code, a := get(t, srv, tc.q)
		if code != 200 || len(a.Data) != tc.want || a.Meta == nil {
			t.Errorf("%s: HTTP %d, %d records, want %d", tc.q, code, len(a.Data), tc.want)
		}
	}
	// Raw records keep PeeringDB's nulls.
	_, a := get(t, srv, "/net?asn=1299")
	if v, ok := a.Data[0]["info_prefixes4"]; !ok || v != nil {
		t.Errorf("info_prefixes4 = %v, %v; want a JSON null", v, ok)
	}
	if code, _ := get(t, srv, "/net?name=foo"); code != 400 {
		t.Errorf("unknown filter: HTTP %d", code)
	}
	if code, a := get(t, srv, "/ix/31"); code != 200 || len(a.Data) != 1 || a.Data[0]["name"] != "DE-CIX Frankfurt" {
		t.Errorf("/ix/31: %d %v", code, a.Data)
	}
	if code, a := get(t, srv, "/ix/999999"); code != 404 || a.Meta["error"] == nil {
		t.Errorf("/ix/999999: %d %v", code, a.Meta)
	}
}

func TestSinceReturnsChangesAndDeletions(t *testing.T) {
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	srv := pdbtest.NewServer(pdbtest.Options{Clock: func() time.Time { return now }})
	defer srv.Close()
	if err := srv.DeleteNetIXLAN(1240); err != nil {
		t.Fatal(err)
	}
	if err := srv.UpdateNetwork(6939, map[string]any{"policy_general": "Selective"}); err != nil {
		t.Fatal(err)
	}
	since := now.Add(-time.Second).Unix()
	_, a := get(t, srv, "/netixlan?since="+itoa(since))
	if len(a.Data) != 1 || a.Data[0]["status"] != "deleted" || a.Data[0]["updated"] != "2026-06-01T00:00:00Z" {
		t.Errorf("since netixlan: %v", a.Data)
	}
	_, a = get(t, srv, "/net?since="+itoa(since))
	if len(a.Data) != 1 || a.Data[0]["policy_general"] != "Selective" || a.Data[0]["name"] != "Hurricane Electric" {
		t.Errorf("since net: %v", a.Data)
	}
	// Without since, deleted objects are gone.
	if _, a := get(t, srv, "/netixlan?ix_id=31"); len(a.Data) != 69 {
		t.Errorf("%d DE-CIX ports after a delete, want 69", len(a.Data))
	}
	if code, _ := get(t, srv, "/netixlan/1240"); code != 404 {
		t.Errorf("deleted object by id: HTTP %d", code)
	}
	id, err := srv.Add("ix", map[string]any{"name": "Test IX", "city": "Nowhere"})
	if err != nil {
		t.Fatal(err)
	}
	if _, a := get(t, srv, "/ix?id="+itoa(int64(id))); len(a.Data) != 1 || a.Data[0]["status"] != "ok" || a.Data[0]["created"] == nil {
		t.Errorf("added ix: %v", a.Data)
	}
}

func TestFaultsAndAccounting(t *testing.T) {
	srv := pdbtest.NewServer(pdbtest.Options{})
	defer srv.Close()
	srv.FailNext(1, 429, 1500*time.Millisecond)
	resp, err := http.Get(srv.BaseURL + "/ix?id=31")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "2" {
		t.Errorf("HTTP %d Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	srv.MalformedNext(1)
	resp, _ = http.Get(srv.BaseURL + "/ix?id=31")
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if json.Valid(b) || !strings.HasPrefix(string(b), `{"data":[`) {
		t.Errorf("malformed answer is valid JSON: %s", b)
	}
	srv.SetDown(true)
	if code, _ := get(t, srv, "/ix?id=31"); code != 500 {
		t.Errorf("down: HTTP %d", code)
	}
	srv.SetDown(false)
	if code, _ := get(t, srv, "/ix?id=31"); code != 200 {
		t.Errorf("up: HTTP %d", code)
	}
	log := srv.RequestLog()
	if len(log) != 4 || srv.Requests() != 4 || len(srv.RequestTimes()) != 4 {
		t.Fatalf("%d requests logged", len(log))
	}
	var sum int64
	for _, r := range log {
		sum += r.Bytes
	}
	if sum != srv.BytesServed() || sum == 0 {
		t.Errorf("bytes %d vs %d", sum, srv.BytesServed())
	}
	srv.ResetStats()
	if srv.Requests() != 0 || srv.BytesServed() != 0 {
		t.Error("ResetStats")
	}
}

func TestStartOnlyOnLoopback(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", "192.0.2.1:0", ":0"} {
		if s, err := pdbtest.Start(addr, pdbtest.Options{}); err == nil {
			s.Close()
			t.Errorf("Start(%q) accepted a non-loopback address", addr)
		}
	}
	s, err := pdbtest.Start("127.0.0.1:0", pdbtest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !strings.HasPrefix(s.URL, "http://127.0.0.1:") || s.BaseURL != s.URL+"/api" {
		t.Errorf("URL %q BaseURL %q", s.URL, s.BaseURL)
	}
}

func TestSyntheticShape(t *testing.T) {
	d := pdbtest.Synthetic(3000, 120, 6000, 7)
	for obj, want := range map[string]int{"net": 3000, "ix": 120, "ixlan": 120, "ixpfx": 240, "netixlan": 6000, "org": 3120} {
		if got := d.Count(obj); got != want {
			t.Errorf("%s: %d records, want %d", obj, got, want)
		}
	}
	again := pdbtest.Synthetic(3000, 120, 6000, 7)
	if string(d.Objects["netixlan"][4321]) != string(again.Objects["netixlan"][4321]) {
		t.Error("same seed, different data")
	}
	// Every port's addresses are inside its IX's LAN, and unique.
	lans := map[int][]netip.Prefix{}
	for _, raw := range d.Objects["ixpfx"] {
		var p struct {
			IXLANID int          `json:"ixlan_id"`
			Prefix  netip.Prefix `json:"prefix"`
		}
		_ = json.Unmarshal(raw, &p)
		lans[p.IXLANID] = append(lans[p.IXLANID], p.Prefix)
	}
	seen := map[netip.Addr]bool{}
	var v6null, biggest int
	perIX := map[int]int{}
	for _, raw := range d.Objects["netixlan"] {
		var n struct {
			IXLANID int         `json:"ixlan_id"`
			IPAddr4 netip.Addr  `json:"ipaddr4"`
			IPAddr6 *netip.Addr `json:"ipaddr6"`
		}
		if err := json.Unmarshal(raw, &n); err != nil {
			t.Fatal(err)
		}
		perIX[n.IXLANID]++
		biggest = max(biggest, perIX[n.IXLANID])
		addrs := []netip.Addr{n.IPAddr4}
		if n.IPAddr6 == nil {
			v6null++
		} else {
			addrs = append(addrs, *n.IPAddr6)
		}
		for _, a := range addrs {
			in := false
			for _, p := range lans[n.IXLANID] {
				in = in || p.Contains(a)
			}
			if !in || seen[a] {
				t.Fatalf("address %s outside LAN %v or duplicated", a, lans[n.IXLANID])
			}
			seen[a] = true
		}
	}
	if v6null == 0 || biggest < 3*6000/120 {
		t.Errorf("quirks/long tail missing: %d IPv4-only ports, biggest IX %d ports", v6null, biggest)
	}
	srv := pdbtest.NewServer(pdbtest.Options{Dataset: d})
	defer srv.Close()
	if _, a := get(t, srv, "/net?limit=1"); len(a.Data) != 1 || a.Data[0]["asn"].(float64) != 4200000001 {
		t.Errorf("synthetic server: %v", a.Data)
	}
}

func TestSampleFSHasReadme(t *testing.T) {
	b, err := pdbtest.SampleFS.ReadFile("sample/README.md")
	if err != nil || !strings.Contains(string(b), "BSD-3-Clause") {
		t.Errorf("README with attribution missing: %v", err)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// since answers come ordered by updated, not id (rest.py, get_queryset:
// .order_by("updated")), deleted rows included.
func TestSinceOrderedByUpdated(t *testing.T) {
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	srv := pdbtest.NewServer(pdbtest.Options{Clock: func() time.Time { return now }})
	defer srv.Close()
	since := now.Unix()
	for _, asn := range []uint32{8560, 6939, 15169} {
		now = now.Add(time.Second)
		if err := srv.UpdateNetwork(asn, map[string]any{"notes": "changed"}); err != nil {
			t.Fatal(err)
		}
	}
	now = now.Add(time.Second)
	if err := srv.DeleteNetwork(8560); err != nil {
		t.Fatal(err)
	}
	_, a := get(t, srv, "/net?since="+itoa(since))
	var asns []float64
	for _, r := range a.Data {
		asns = append(asns, r["asn"].(float64))
	}
	if want := []float64{6939, 15169, 8560}; !slices.Equal(asns, want) {
		t.Errorf("since answer in ASN order %v, want %v (by updated, the deleted one last)", asns, want)
	}
	if _, a := get(t, srv, "/net?limit=1&skip=2&since="+itoa(since)); len(a.Data) != 1 || a.Data[0]["status"] != "deleted" {
		t.Errorf("skip and limit apply after the order: %v", a.Data)
	}
}

// Which list queries the API cache answers is api_cache.py's
// APICacheLoader.qualifies: unfiltered, no since, and not depth=0 with a
// limit of 1..250.
func TestAPICacheServesQualifyingQueriesOnly(t *testing.T) {
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	srv := pdbtest.NewServer(pdbtest.Options{Clock: func() time.Time { return now }})
	defer srv.Close()
	srv.Snapshot()
	now = now.Add(time.Minute)
	if err := srv.UpdateNetwork(6939, map[string]any{"name": "HE (live)"}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		query  string
		cached bool
	}{
		{"/net", true},
		{"/net?depth=0", true},
		{"/net?depth=0&limit=1000&skip=0", true},
		{"/net?limit=251", true},
		{"/net?depth=1&limit=10", true},
		{"/net?depth=0&limit=250", false},
		{"/net?limit=1&skip=0", false},
		{"/net?asn=6939", false},
		{"/net?since=" + itoa(now.Add(-time.Hour).Unix()), false},
	} {
		_, a := get(t, srv, tc.query)
		_, generated := a.Meta["generated"]
		var name any
		for _, r := range a.Data {
			if r["asn"] == float64(6939) {
				name = r["name"]
			}
		}
		if generated != tc.cached || (name != nil && (name == "HE (live)") == tc.cached) {
			t.Errorf("%s: generated %v, AS6939 %v; want cached=%v", tc.query, a.Meta["generated"], name, tc.cached)
		}
	}
}

// The file a cache run writes holds the rows updated at or before the
// run's start; meta.generated is when it was written.
func TestSnapshotAtLeavesOutRowsUpdatedDuringTheRun(t *testing.T) {
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	srv := pdbtest.NewServer(pdbtest.Options{Clock: func() time.Time { return now }})
	defer srv.Close()
	cutoff := now
	now = now.Add(5 * time.Minute)
	if err := srv.UpdateNetwork(6939, map[string]any{"notes": "during the run"}); err != nil {
		t.Fatal(err)
	}
	now = now.Add(5 * time.Minute)
	srv.SnapshotAt(cutoff)
	_, a := get(t, srv, "/net")
	if a.Meta["generated"] != float64(now.Unix()) || len(a.Data) != 499 {
		t.Errorf("generated %v with %d rows, want %d with 499 (AS6939 left out)", a.Meta["generated"], len(a.Data), now.Unix())
	}
}

// An empty answer to a unique query is 404: by id for every object, and
// by asn for net (serializers.py, is_unique_query).
func TestUniqueQueryFindingNothingIs404(t *testing.T) {
	srv := pdbtest.NewServer(pdbtest.Options{})
	defer srv.Close()
	for _, tc := range []struct {
		query string
		code  int
	}{
		{"/net?asn=64496", 404},
		{"/net?id=999999", 404},
		{"/ix?id=999999", 404},
		{"/netixlan?asn=64496", 200},
		{"/net?asn__in=64496", 200},
		{"/net?asn=6939", 200},
	} {
		if code, a := get(t, srv, tc.query); code != tc.code || (code == 404 && a.Meta["error"] == nil) {
			t.Errorf("%s: HTTP %d %v, want %d", tc.query, code, a.Meta, tc.code)
		}
	}
}
