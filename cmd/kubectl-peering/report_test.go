package main

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
	"github.com/peering-operator/peering-operator/controllers"
	"github.com/peering-operator/peering-operator/internal/peeringdb"
	preport "github.com/peering-operator/peering-operator/internal/report"
)

// historyScope is the operator's view in TestReportHistory: the requests in
// namespace history and the IXPort decix-fra (other tests add their own),
// with the writes counted.
type historyScope struct {
	client.Client
	writes int
}

func (h *historyScope) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	if _, ok := list.(*peeringv1.PeeringRequestList); ok {
		opts = append(opts, client.InNamespace("history"))
	}
	if err := h.Client.List(ctx, list, opts...); err != nil {
		return err
	}
	if l, ok := list.(*peeringv1.IXPortList); ok {
		l.Items = slices.DeleteFunc(l.Items, func(p peeringv1.IXPort) bool { return p.Name != "decix-fra" })
	}
	return nil
}

func (h *historyScope) Create(ctx context.Context, obj client.Object, opts ...client.CreateOption) error {
	h.writes++
	return h.Client.Create(ctx, obj, opts...)
}

func (h *historyScope) Update(ctx context.Context, obj client.Object, opts ...client.UpdateOption) error {
	h.writes++
	return h.Client.Update(ctx, obj, opts...)
}

// setStatus writes a request's status with times relative to its real
// creation (the API server stamps that; the recorder's clock is injected).
func setStatus(t *testing.T, name string, f func(created time.Time, st *peeringv1.PeeringRequestStatus)) {
	t.Helper()
	pr := getRequest(t, "history", name)
	f(pr.CreationTimestamp.Time, &pr.Status)
	if err := k8s.Status().Update(context.Background(), pr); err != nil {
		t.Fatalf("status of %s: %v", name, err)
	}
}

func approvedAt(at time.Time) *peeringv1.ApprovalStatus {
	return &peeringv1.ApprovalStatus{State: peeringv1.ApprovalStateApproved, User: "noc-alice", Time: ptr(metav1.NewTime(at))}
}

func established(ready bool, at time.Time, sessions ...peeringv1.SessionStatus) func(time.Time, *peeringv1.PeeringRequestStatus) {
	return func(_ time.Time, st *peeringv1.PeeringRequestStatus) {
		reason, status := "Established", metav1.ConditionTrue
		if !ready {
			reason, status = "SessionsNotEstablished", metav1.ConditionFalse
		}
		st.Conditions = []metav1.Condition{
			{Type: peeringv1.PeeringRequestApproved, Status: "True", Reason: "Approved", Message: "CHG", LastTransitionTime: metav1.NewTime(at)},
			{Type: peeringv1.ConditionReady, Status: status, Reason: reason, Message: "sessions", LastTransitionTime: metav1.NewTime(at)},
			{Type: peeringv1.PeeringRequestEstablished, Status: "True", Reason: "Established", Message: "up", LastTransitionTime: metav1.NewTime(at)}}
		st.Sessions = sessions
	}
}

func session(addr, state string) peeringv1.SessionStatus {
	return peeringv1.SessionStatus{Address: addr, Family: "ipv4", State: state}
}

// The operator's recorder, with an injected clock, against the real API
// server and the PeeringDB sample: two months, one report each, written
// only when the numbers change; then kubectl peering report shows them,
// and -o html renders in Chromium with the chart's points where the
// reports put them.
func TestReportHistory(t *testing.T) {
	ctx := context.Background()
	if err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "history"}}); err != nil {
		t.Fatal(err)
	}
	// Later tests count requests in every namespace: leave none behind.
	t.Cleanup(func() {
		_ = k8s.DeleteAllOf(ctx, &peeringv1.PeeringRequest{}, client.InNamespace("history"))
		for _, name := range []string{"2026-01", "2026-02"} {
			_ = k8s.Delete(ctx, &peeringv1.PeeringReport{ObjectMeta: metav1.ObjectMeta{Name: name}})
		}
	})
	pc, err := peeringdb.New(peeringdb.Options{BaseURL: pdb.BaseURL, RequestsPerMinute: -1})
	if err != nil {
		t.Fatal(err)
	}
	cache := peeringdb.NewCache(pc, peeringdb.CacheOptions{})
	if err := cache.EnsureLoaded(ctx, 31); err != nil {
		t.Fatal(err)
	}
	scope := &historyScope{Client: k8s}
	var clock time.Time
	rec := &controllers.ReportRecorder{Client: scope, Reader: k8s, PeeringDB: cache, Period: preport.Monthly,
		TrafficFile: "testdata/traffic.csv", Now: func() time.Time { return clock }}
	record := func(at string, wantWrites int) {
		t.Helper()
		clock, _ = time.Parse(time.RFC3339, at)
		before := scope.writes
		if _, err := rec.Record(ctx); err != nil {
			t.Fatalf("%s: %v", at, err)
		}
		if got := scope.writes - before; got != wantWrites {
			t.Errorf("%s: %d writes, want %d", at, got, wantWrites)
		}
	}
	get := func(name string) *peeringv1.PeeringReport {
		t.Helper()
		r := &peeringv1.PeeringReport{}
		if err := k8s.Get(ctx, client.ObjectKey{Name: name}, r); err != nil {
			t.Fatalf("PeeringReport %s: %v", name, err)
		}
		return r
	}

	// January: DENIC up, Hurricane Electric waiting for a decision.
	createRequest(t, "history", "as8763-decix-fra", 8763)
	createRequest(t, "history", "as6939-decix-fra", 6939)
	setStatus(t, "as8763-decix-fra", func(c time.Time, st *peeringv1.PeeringRequestStatus) {
		established(true, c.Add(3*24*time.Hour), session("80.81.192.37", "Established"), session("2001:7f8::223b:0:1", "Established"))(c, st)
		st.Approval = approvedAt(c.Add(2 * 24 * time.Hour))
	})
	setStatus(t, "as6939-decix-fra", func(_ time.Time, st *peeringv1.PeeringRequestStatus) {
		st.Approval = &peeringv1.ApprovalStatus{State: peeringv1.ApprovalStatePending}
		st.Conditions = []metav1.Condition{{Type: "Ready", Status: "False", Reason: "WaitingForApproval", Message: "w", LastTransitionTime: metav1.Now()}}
	})
	record("2026-01-20T10:00:00Z", 1)
	record("2026-01-28T10:00:00Z", 0) // nothing changed
	jan := get("2026-01")

	// February: Hurricane Electric approved and half up, IONOS configured on
	// our side since the 13th but not on theirs, Google waiting.
	createRequest(t, "history", "as8560-decix-fra", 8560)
	createRequest(t, "history", "as15169-decix-fra", 15169)
	setStatus(t, "as6939-decix-fra", func(c time.Time, st *peeringv1.PeeringRequestStatus) {
		established(false, c.Add(6*24*time.Hour), session("80.81.192.172", "Established"), session("2001:7f8::1b1b:0:1", "Active"))(c, st)
		st.Approval = approvedAt(c.Add(4 * 24 * time.Hour))
	})
	setStatus(t, "as8560-decix-fra", func(c time.Time, st *peeringv1.PeeringRequestStatus) {
		st.Approval = approvedAt(c.Add(24 * time.Hour))
		st.Applied = &peeringv1.AppliedStatus{Router: "edge1", Result: peeringv1.AppliedResultApplied, Time: metav1.Date(2026, 2, 13, 9, 0, 0, 0, time.UTC)}
		st.Conditions = []metav1.Condition{
			{Type: "Ready", Status: "False", Reason: "SessionsNotEstablished", Message: "0 of 1 up", LastTransitionTime: metav1.Now()},
			{Type: peeringv1.PeeringRequestEstablished, Status: "False", Reason: peeringv1.ReasonWaitingForPeer,
				Message: "configured 7 days ago; the peer has not configured its side", LastTransitionTime: metav1.Now()}}
		st.Sessions = []peeringv1.SessionStatus{session("80.81.192.157", "Active")}
	})
	record("2026-02-25T10:00:00Z", 1)
	record("2026-02-26T10:00:00Z", 0)
	setStatus(t, "as15169-decix-fra", func(c time.Time, st *peeringv1.PeeringRequestStatus) {
		st.Approval = &peeringv1.ApprovalStatus{State: peeringv1.ApprovalStateDenied, User: "noc-bob", Time: ptr(metav1.NewTime(c.Add(12 * time.Hour)))}
		st.Conditions = []metav1.Condition{{Type: "Ready", Status: "False", Reason: "Denied", Message: "d", LastTransitionTime: metav1.Now()}}
	})
	record("2026-02-27T10:00:00Z", 1) // the same period's report, updated

	if j := get("2026-01"); j.ResourceVersion != jan.ResourceVersion {
		t.Errorf("January's report was rewritten in February: %+v", j.Spec)
	}
	feb := get("2026-02")
	for _, c := range []struct {
		what      string
		got, want any
	}{
		{"Jan networks", jan.Spec.Networks, int32(36)},
		{"Jan peered", jan.Spec.Peered, int32(1)},
		{"Jan traffic", jan.Spec.Traffic.PeeredPercent, "1.8%"},
		{"Jan pending", jan.Spec.PendingRequests, int32(1)},
		{"Jan median decision", jan.Spec.MedianDecision.Duration, 48 * time.Hour},
		{"Feb peered", feb.Spec.Peered, int32(2)},
		{"Feb traffic", feb.Spec.Traffic.PeeredPercent, "31.2%"},
		{"Feb waiting for peer", feb.Spec.WaitingForPeerCount, int32(1)},
		{"Feb approval", feb.Spec.Approval, peeringv1.ReportApproval{Approved: 3, Denied: 1}},
		{"Feb median decision", feb.Spec.MedianDecision.Duration, 36 * time.Hour},
		{"Feb median to Established", feb.Spec.MedianEstablished.Duration, 36 * time.Hour},
		{"Feb recorded", feb.Spec.Recorded.UTC().Format(time.RFC3339), "2026-02-27T10:00:00Z"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
		}
	}

	// kubectl get peeringreports shows the trend (the CRD's columns).
	listed := kubectlGet(t, "peeringreports")
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^NAME +NETWORKS +CANDIDATES +REQUESTS +SESSIONS UP +PEERED +TRAFFIC PEERED +PENDING +WAITING FOR PEER +RECORDED$`),
		regexp.MustCompile(`(?m)^2026-01 +36 +34 +2 +2 +2\.8% +1\.8% +1 +0 `),
		regexp.MustCompile(`(?m)^2026-02 +36 +32 +4 +3 +5\.6% +31\.2% +0 +1 `),
	} {
		if !want.MatchString(listed) {
			t.Errorf("kubectl get peeringreports does not match %s:\n%s", want, listed)
		}
	}
	writeArtifact(t, "peeringreports.txt", []byte(listed))

	// kubectl peering report late in February: the history and the goal.
	defer func(n func() time.Time) { now = n }(now)
	now = func() time.Time { return time.Date(2026, 2, 27, 12, 0, 0, 0, time.UTC) }
	a := args([]string{"report", "-n", "history", "--traffic", "testdata/traffic.csv", "--goal", "40%"}, kube(), pdbFlagsFor(t))
	out, _, err := run(t, a...)
	if err != nil {
		t.Fatal(err)
	}
	// Other tests add IXPorts: the golden file starts at the history.
	i := strings.Index(out, "\nHistory")
	if i < 0 {
		t.Fatalf("no history:\n%s", out)
	}
	golden(t, "report-history", out[i+1:])
	writeArtifact(t, "report.txt", []byte(out))
	for _, want := range []string{"history/as8560-decix-fra   8560   14", "Median time from request to decision: 1d 12h"} {
		if !strings.Contains(out, want) {
			t.Errorf("the report lacks %q:\n%s", want, out)
		}
	}

	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	if _, errOut, err := run(t, append(a, "-o", "html", "--output-file", page)...); err != nil || !strings.Contains(errOut, "wrote "+page) {
		t.Fatalf("-o html: %v %s", err, errOut)
	}
	html, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"<script", "http://", "https://", "@import", "url(", "<link"} {
		if bytes.Contains(html, []byte(bad)) {
			t.Errorf("the page has %q: it must not fetch anything", bad)
		}
	}
	checkRendering(t, page, []chartWant{{"2026-01", "1.8%"}, {"2026-02", "31.2%"}}, "40.0%")
}

// chartWant is a point the chart must show: a report's period and value.
type chartWant struct{ period, value string }

var circleRE = regexp.MustCompile(`<circle class="point" cx="([0-9.]+)" cy="([0-9.]+)"[^>]*data-period="([^"]+)" data-value="([^"]+)"`)
var goalRE = regexp.MustCompile(`<line class="goal" [^>]*y1="([0-9.]+)"`)
var tickRE = regexp.MustCompile(`y1="([0-9.]+)" y2="[0-9.]+" stroke="#e0e0e0"`)

// checkRendering renders the page in headless Chromium: the DOM Chromium
// built has the points of the reports, on the chart's scale, and the
// screenshot has the line's colour at each of them.
func checkRendering(t *testing.T, page string, want []chartWant, goal string) {
	t.Helper()
	dom := string(chromium(t, "--dump-dom", "file://"+page))
	pts := circleRE.FindAllStringSubmatch(dom, -1)
	if len(pts) != len(want) {
		t.Fatalf("Chromium's DOM has %d points, want %d:\n%s", len(pts), len(want), dom)
	}
	// The y axis is linear from 0 (the bottom tick) to the top tick.
	ticks := tickRE.FindAllStringSubmatch(dom, -1)
	if len(ticks) != 6 {
		t.Fatalf("%d ticks in the DOM", len(ticks))
	}
	bottom, top := num(t, ticks[0][1]), num(t, ticks[5][1])
	topLabel := regexp.MustCompile(`>([0-9]+)%</text>`).FindAllStringSubmatch(dom, -1)
	scale := num(t, topLabel[len(topLabel)-1][1]) / 100
	yOf := func(v float64) float64 { return bottom - (bottom-top)*v/scale }
	for i, p := range pts {
		if p[3] != want[i].period || p[4] != want[i].value {
			t.Errorf("point %d is %s %s, want %s %s", i, p[3], p[4], want[i].period, want[i].value)
		}
		v, _ := preport.ParsePercent(want[i].value)
		if y := num(t, p[2]); y < yOf(v)-1 || y > yOf(v)+1 {
			t.Errorf("point %s at y %.1f, want %.1f for %s", p[3], y, yOf(v), want[i].value)
		}
	}
	if m := goalRE.FindStringSubmatch(dom); m == nil {
		t.Error("no goal line")
	} else if g, _ := preport.ParsePercent(goal); num(t, m[1]) < yOf(g)-1 || num(t, m[1]) > yOf(g)+1 {
		t.Errorf("goal line at y %s, want %.1f", m[1], yOf(g))
	}

	shot := filepath.Join(filepath.Dir(page), "report.png")
	chromium(t, "--screenshot="+shot, "--window-size=1000,900", "file://"+page)
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("Chromium wrote no screenshot: %v", err)
	}
	img, err := png.Decode(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if n := colours(img); n < 10 {
		t.Fatalf("the screenshot is blank: %d colours", n)
	}
	for _, p := range pts {
		x, y := chartPageX+int(num(t, p[1])), chartPageY+int(num(t, p[2]))
		if !nearLine(img, x, y) {
			t.Errorf("no chart point of colour %s at (%d, %d) for %s; got %v", chartLineColour, x, y, p[3], img.At(x, y))
		}
	}
	for _, f := range []string{page, shot} {
		b, _ := os.ReadFile(f)
		writeArtifact(t, filepath.Base(f), b)
	}
}

// writeArtifact keeps what the test made for people to look at (README) in
// $REPORT_ARTIFACTS, by default bin/report/ (build output, not tracked).
func writeArtifact(t *testing.T, name string, b []byte) {
	t.Helper()
	dir := os.Getenv("REPORT_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("..", "..", "bin", "report")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("cannot keep %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
		t.Fatalf("cannot keep %s: %v", name, err)
	}
}

// kubectlGet runs bin/kubectl get against the test API server.
func kubectlGet(t *testing.T, args ...string) string {
	t.Helper()
	bin, err := filepath.Abs("../../bin/kubectl")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(bin); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("bin/kubectl is missing, and CI=true")
		}
		t.Skip("bin/kubectl is missing (make controlplane builds it)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, append([]string{"--kubeconfig", kubeconfig, "get"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl get %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func num(t *testing.T, s string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// nearLine: the pixel or one next to it is the line's colour.
func nearLine(img image.Image, x, y int) bool {
	for dx := -1; dx <= 1; dx++ {
		for dy := -1; dy <= 1; dy++ {
			r, g, b, _ := img.At(x+dx, y+dy).RGBA()
			if near(r>>8, chartLineR) && near(g>>8, chartLineG) && near(b>>8, chartLineB) {
				return true
			}
		}
	}
	return false
}

func near(a uint32, b int) bool { return int(a) >= b-8 && int(a) <= b+8 }

func colours(img image.Image) int {
	seen := map[color.RGBA]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 3 {
		for x := b.Min.X; x < b.Max.X; x += 3 {
			r, g, bl, a := img.At(x, y).RGBA()
			seen[color.RGBA{uint8(r >> 8), uint8(g >> 8), uint8(bl >> 8), uint8(a >> 8)}] = true
		}
	}
	return len(seen)
}

// chromium runs headless Chromium once, with a profile of the test's own
// and nothing to fetch, and stops it and every process it started (its
// process group) by the end or after a minute.
func chromium(t *testing.T, args ...string) []byte {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("chromium is not installed, and CI=true (.ci/run installs the Debian package chromium)")
		}
		t.Skip("chromium is not installed (Debian package chromium)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=" + t.TempDir(),
		"--no-first-run", "--no-default-browser-check", "--disable-background-networking", "--disable-component-update",
		"--disable-sync", "--disable-extensions", "--hide-scrollbars", "--force-device-scale-factor=1"}, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // helpers left in its group, if any
	}
	if err != nil {
		t.Fatalf("chromium %s: %v\n%s", strings.Join(args, " "), err, tail(errOut.String()))
	}
	return out.Bytes()
}

func tail(s string) string {
	if len(s) > 2000 {
		return "..." + s[len(s)-2000:]
	}
	return fmt.Sprint(s)
}
