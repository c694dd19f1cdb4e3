package main

import (
	"context"

	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/yaml"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
)

// errText is an error's message for a golden file, "" for none.
func errText(err error) string {
	if err == nil {
		return ""
	}
	return "error: " + err.Error() + "\n"
}

func TestNewForADECIXPeer(t *testing.T) {
	out, errOut, err := run(t, args([]string{"new", "--asn", "8763", "--ix-port", "decix-fra"}, kube(), pdbFlagsFor(t))...)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "new-as8763", out)
	// The cluster already has a request for DENIC: the plugin says so.
	golden(t, "new-as8763-stderr", errOut)

	// What new writes is what the API server takes.
	pr := &peeringv1.PeeringRequest{}
	if err := yaml.UnmarshalStrict([]byte(out), pr); err != nil {
		t.Fatalf("new wrote YAML that does not decode strictly: %v", err)
	}
	pr.Namespace = "noc"
	if err := k8s.Create(context.Background(), pr); err != nil {
		t.Fatalf("the API server refused what new wrote: %v", err)
	}
	if got := pr.Spec.Addresses; len(got) != 2 || got[0] != "80.81.192.37" || got[1] != "2001:7f8::223b:0:1" {
		t.Errorf("addresses = %v, want DENIC's two from PeeringDB", got)
	}
}

func TestNewRefusesANetworkNotAtTheIX(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"new-not-at-ix", []string{"new", "--asn", "AS3320", "--ix-port", "decix-fra"}},
		{"new-own-asn", []string{"new", "--asn", "8804", "--ix-port", "decix-fra"}},
		{"new-no-port", []string{"new", "--asn", "8763", "--ix-port", "decix-muc"}},
		{"new-as-trans", []string{"new", "--asn", "23456", "--ix-port", "decix-fra"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, _, err := run(t, args(tc.args, kube(), pdbFlagsFor(t))...)
			if err == nil {
				t.Fatal("no error")
			}
			if out != "" {
				t.Errorf("a refusal wrote a request:\n%s", out)
			}
			golden(t, tc.name, errText(err))
		})
	}
}

// --ix-id works without a cluster; --output-file writes a file that validate passes.
func TestNewOfflineFromTheClusterToAFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "peers", "decix-fra", "9119.yaml")
	a := args([]string{"new", "--asn", "9119", "--ix-port", "decix-fra", "--ix-id", "31", "--output-file", file,
		"--kubeconfig", filepath.Join(dir, "no-such-kubeconfig")}, pdbFlagsFor(t))
	_, errOut, err := run(t, a...)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errOut, "wrote "+file) {
		t.Errorf("stderr = %q, want it to name the file", errOut)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "new-as9119-ix-id", string(b))
	if _, _, err := run(t, a...); err == nil || !strings.Contains(err.Error(), "--overwrite") {
		t.Errorf("a second run replaced the file: err = %v", err)
	}
	out, _, err := run(t, args([]string{"validate", "-f", file, "--ix-ports", "testdata/validate/ixports.yaml"}, pdbFlagsFor(t))...)
	if err != nil {
		t.Fatalf("validate refuses what new wrote: %v\n%s", err, out)
	}
}

func TestSafeDescription(t *testing.T) {
	for in, want := range map[string]string{
		"DENIC eG":                             "DENIC eG",
		"Telefónica Germany GmbH & Co. OHG":    "Telefonica Germany GmbH & Co. OHG",
		"PŸUR - Sued":                          "PYUR - Sued",
		"BTnet (BT's UK IP Network - AS2856)":  "BTnet (BTs UK IP Network - AS2856)",
		"GFiber | Webpass":                     "GFiber Webpass",
		"a\"b;c|d#e!f\\g{h}i$j<k>l`m":          "abcdefghijklm",
		"  tabs\tand\nnewlines  ":              "tabs and newlines",
		"日本":                                   "",
		strings.Repeat("x", 250):               strings.Repeat("x", 200),
		"Ex $(rm -rf /) ; reboot\r\nconfigure": "Ex (rm -rf /) reboot configure",
	} {
		if got := safeDescription(in); got != want {
			t.Errorf("safeDescription(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestValidate(t *testing.T) {
	cache := pdbFlagsFor(t) // one cache file for the online and offline runs
	t.Run("text", func(t *testing.T) {
		out, _, err := run(t, args([]string{"validate", "-f", "testdata/validate"}, kube(), cache)...)
		if err == nil {
			t.Error("no error for a directory with bad requests")
		}
		golden(t, "validate-text", out+errText(err))
	})
	t.Run("github", func(t *testing.T) {
		out, _, err := run(t, args([]string{"validate", "-f", "testdata/validate/peers", "--ix-ports", "testdata/validate/ixports.yaml",
			"--output", "github"}, kube(), cache)...)
		if err == nil {
			t.Error("no error for a directory with bad requests")
		}
		golden(t, "validate-github", out+errText(err))
	})
	t.Run("good", func(t *testing.T) {
		out, _, err := run(t, args([]string{"validate", "-f", "testdata/validate/peers/decix-fra/8763.yaml",
			"-f", "testdata/validate/peers/decix-fra/6939.yaml", "--ix-ports", "testdata/validate/ixports.yaml"}, cache)...)
		if err != nil {
			t.Errorf("error for good requests: %v", err)
		}
		golden(t, "validate-good", out)
	})
	t.Run("offline from the cache file", func(t *testing.T) {
		// The runs above filled the cache; PeeringDB's URL now leads nowhere.
		off := slicesReplace(cache, pdb.BaseURL, "http://127.0.0.1:1/api")
		out, _, err := run(t, args([]string{"validate", "-f", "testdata/validate/peers", "--ix-ports", "testdata/validate/ixports.yaml",
			"--output", "github", "--offline"}, off)...)
		if err == nil {
			t.Error("no error offline")
		}
		// Same verdicts, except the request whose IXPort only the cluster
		// could give: --offline does not ask it.
		golden(t, "validate-github-offline", out+errText(err))
	})
	t.Run("offline without a cache", func(t *testing.T) {
		_, _, err := run(t, "validate", "-f", "testdata/validate", "--offline", "--cache", "testdata/no-such-cache.json.gz")
		golden(t, "validate-offline-no-cache", errText(err))
	})
	t.Run("IXPort from the cluster", func(t *testing.T) {
		out, _, err := run(t, args([]string{"validate", "-f", "testdata/validate/peers/decix-fra/8763.yaml"}, kube(), cache)...)
		if err != nil {
			t.Errorf("error: %v\n%s", err, out)
		}
		// edge1 is not a route server: 13030 would pass there; the port's
		// values came from the cluster.
		if !strings.Contains(out, "OK: AS8763 DENIC eG") {
			t.Errorf("output:\n%s", out)
		}
	})
	t.Run("no requests", func(t *testing.T) {
		_, _, err := run(t, args([]string{"validate", "-f", "testdata/validate/ixports.yaml"}, cache)...)
		if err == nil || !strings.Contains(err.Error(), "no PeeringRequest found") {
			t.Errorf("err = %v", err)
		}
	})
}

// The GitOps example in docs/gitops validates as the CI workflow runs it:
// online, then offline from the cache file the online run wrote.
func TestGitOpsExampleValidates(t *testing.T) {
	const ex = "../../docs/gitops/example"
	cache := pdbFlagsFor(t)
	for _, extra := range [][]string{nil, {"--offline"}} {
		out, _, err := run(t, args([]string{"validate", "-f", ex + "/peers", "--ix-ports", ex + "/ixports," + ex + "/routers",
			"--output", "github"}, cache, extra)...)
		if err != nil || !strings.Contains(out, "2 OK, 0 with errors; 0 error(s), 0 warning(s)") {
			t.Errorf("%v: %v\n%s", extra, err, out)
		}
	}
}

func slicesReplace(s []string, old, new string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = strings.ReplaceAll(v, old, new)
	}
	return out
}

// The plugin as a process: exit status 1 on a bad request, 0 on good ones,
// the report on stdout and the error on stderr.
func TestValidateExitStatus(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		files []string
		want  int
	}{
		{[]string{"testdata/validate/peers/decix-fra/8763.yaml"}, 0},
		{[]string{"testdata/validate/peers/decix-fra/bad.yaml"}, 1},
		{[]string{"testdata/validate/peers/decix-fra/broken.yaml"}, 1},
	} {
		a := []string{"validate", "--ix-ports", "testdata/validate/ixports.yaml"}
		for _, f := range tc.files {
			a = append(a, "-f", f)
		}
		cmd := exec.Command(exe, args(a, pdbFlagsFor(t))...)
		cmd.Env = append(os.Environ(), mainEnv+"=1")
		out, _ := cmd.Output()
		code := cmd.ProcessState.ExitCode()
		if code != tc.want {
			t.Errorf("%v: exit status %d, want %d\n%s", tc.files, code, tc.want, out)
		}
	}
}

func createRequest(t *testing.T, ns, name string, asn int64) *peeringv1.PeeringRequest {
	t.Helper()
	pr := &peeringv1.PeeringRequest{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: peeringv1.PeeringRequestSpec{PeerASN: peeringv1.ASN(asn), IXPortRef: peeringv1.LocalObjectReference{Name: "decix-fra"}}}
	if err := k8s.Create(context.Background(), pr); err != nil {
		t.Fatal(err)
	}
	return pr
}

func getRequest(t *testing.T, ns, name string) *peeringv1.PeeringRequest {
	t.Helper()
	pr := &peeringv1.PeeringRequest{}
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, pr); err != nil {
		t.Fatal(err)
	}
	return pr
}

func TestApproveAndDeny(t *testing.T) {
	ctx := context.Background()
	createRequest(t, "noc", "as8560-decix-fra", 8560)
	createRequest(t, "noc", "as6939-decix-fra", 6939)
	noc := args(kube(), []string{"-n", "noc"})

	out, _, err := run(t, args([]string{"approve", "as8560-decix-fra", "--reason", "CHG-4711 policy Open"}, noc)...)
	if err != nil {
		t.Fatal(err)
	}
	if out != "peeringrequest noc/as8560-decix-fra approved\n" {
		t.Errorf("out = %q", out)
	}
	pr := getRequest(t, "noc", "as8560-decix-fra")
	c := meta.FindStatusCondition(pr.Status.Conditions, peeringv1.PeeringRequestApproved)
	if c == nil || c.Status != metav1.ConditionTrue || c.Reason != "Approved" || c.Message != "CHG-4711 policy Open" ||
		!c.LastTransitionTime.Time.Equal(testNow) || c.ObservedGeneration != pr.Generation {
		t.Fatalf("Approved condition = %+v", c)
	}
	if meta.FindStatusCondition(pr.Status.Conditions, peeringv1.PeeringRequestDenied) != nil {
		t.Error("approve set Denied")
	}

	// A second approval and a denial of an approved request are refused.
	_, _, err = run(t, args([]string{"approve", "as8560-decix-fra", "--reason", "again"}, noc)...)
	golden(t, "approve-twice", errText(err))
	// The operator's webhook records who approved; the refusal names them.
	pr.Status.Approval = &peeringv1.ApprovalStatus{State: "Approved", User: "noc-alice", Time: ptr(metav1.NewTime(testNow)), Reason: "CHG-4711 policy Open"}
	if err := k8s.Status().Update(ctx, pr); err != nil {
		t.Fatal(err)
	}
	_, _, err = run(t, args([]string{"deny", "as8560-decix-fra", "--reason", "changed my mind"}, noc)...)
	golden(t, "deny-approved", errText(err))
	if c := meta.FindStatusCondition(getRequest(t, "noc", "as8560-decix-fra").Status.Conditions, peeringv1.PeeringRequestDenied); c != nil {
		t.Errorf("a refused deny wrote %+v", c)
	}

	// Deny, then approve is refused.
	if _, _, err := run(t, args([]string{"deny", "as6939-decix-fra", "--reason", "no capacity on the port until Q3"}, noc)...); err != nil {
		t.Fatal(err)
	}
	c = meta.FindStatusCondition(getRequest(t, "noc", "as6939-decix-fra").Status.Conditions, peeringv1.PeeringRequestDenied)
	if c == nil || c.Status != metav1.ConditionTrue || c.Reason != "Denied" || c.Message != "no capacity on the port until Q3" {
		t.Fatalf("Denied condition = %+v", c)
	}
	_, _, err = run(t, args([]string{"approve", "as6939-decix-fra", "--reason", "capacity after all"}, noc)...)
	golden(t, "approve-denied", errText(err))

	for _, a := range [][]string{
		{"approve", "as1-decix-fra", "--reason", "x"},     // no such request
		{"approve", "as8560-decix-fra"},                   // no reason
		{"approve", "as8560-decix-fra", "--reason", "  "}, // an empty one
	} {
		if _, _, err := run(t, args(a, noc)...); err == nil {
			t.Errorf("%q: no error", a)
		}
	}
}

// Another approver decides between our read and our write: the optimistic
// lock makes our patch fail, the retry reads the other decision and
// refuses instead of overwriting it.
func TestApproveLosesARaceWithADenial(t *testing.T) {
	createRequest(t, "noc", "as8763-race", 8763)
	orig := newKubeClient
	defer func() { newKubeClient = orig }()
	patches := 0
	newKubeClient = func(cfg *rest.Config) (client.Client, error) {
		c, err := client.NewWithWatch(cfg, client.Options{Scheme: scheme})
		if err != nil {
			return nil, err
		}
		return interceptor.NewClient(c, interceptor.Funcs{
			SubResourcePatch: func(ctx context.Context, c client.Client, sub string, obj client.Object, p client.Patch, opts ...client.SubResourcePatchOption) error {
				patches++
				if patches == 1 {
					other := getRequest(t, "noc", "as8763-race")
					meta.SetStatusCondition(&other.Status.Conditions, metav1.Condition{Type: "Denied", Status: "True", Reason: "Denied",
						Message: "denied by the other NOC shift", LastTransitionTime: metav1.NewTime(testNow)})
					if err := k8s.Status().Update(ctx, other); err != nil {
						t.Errorf("concurrent denial: %v", err)
					}
				}
				return c.Status().Patch(ctx, obj, p, opts...)
			},
		}), nil
	}
	_, _, err := run(t, args([]string{"approve", "as8763-race", "--reason", "CHG-1", "-n", "noc"}, kube())...)
	golden(t, "approve-race", errText(err))
	if patches != 1 {
		t.Errorf("%d patches; want 1 (refused after the re-read)", patches)
	}
	pr := getRequest(t, "noc", "as8763-race")
	if meta.FindStatusCondition(pr.Status.Conditions, peeringv1.PeeringRequestApproved) != nil {
		t.Error("the approval overwrote a concurrent denial")
	}

}

// An admission check (here a ValidatingAdmissionPolicy standing in for the
// operator's approval webhook) refuses the status write: its message
// reaches the user unchanged.
func TestApproveShowsTheAdmissionDenial(t *testing.T) {
	ctx := context.Background()
	const msg = `user may not set Approved: deciding a request needs verb "approve" on ixports/decix-fra in group peering.dev (bind the peering-approver ClusterRole)`
	policy := &admissionv1.ValidatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "test-deny-decisions"},
		Spec: admissionv1.ValidatingAdmissionPolicySpec{
			FailurePolicy: ptr(admissionv1.Fail),
			MatchConstraints: &admissionv1.MatchResources{ResourceRules: []admissionv1.NamedRuleWithOperations{{
				RuleWithOperations: admissionv1.RuleWithOperations{
					Operations: []admissionv1.OperationType{admissionv1.Update},
					Rule: admissionv1.Rule{APIGroups: []string{"peering.dev"}, APIVersions: []string{"v1alpha1"},
						Resources: []string{"peeringrequests/status"}},
				},
			}}},
			Validations: []admissionv1.Validation{{Expression: "false", Message: msg}},
		},
	}
	binding := &admissionv1.ValidatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "test-deny-decisions"},
		Spec: admissionv1.ValidatingAdmissionPolicyBindingSpec{
			PolicyName:        policy.Name,
			ValidationActions: []admissionv1.ValidationAction{admissionv1.Deny},
			MatchResources: &admissionv1.MatchResources{NamespaceSelector: &metav1.LabelSelector{
				MatchLabels: map[string]string{"peering-test": "locked"}}},
		},
	}
	for _, o := range []client.Object{policy, binding} {
		if err := k8s.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
		defer k8s.Delete(ctx, o)
	}
	// The policy takes a moment to reach the admission chain: wait until a
	// probe write is refused.
	probe := createRequest(t, "locked", "probe", 64496)
	deadline := time.Now().Add(30 * time.Second)
	for {
		p := getRequest(t, "locked", probe.Name)
		p.Status.SessionSummary = time.Now().String()
		err := k8s.Status().Update(ctx, p)
		if err != nil && strings.Contains(err.Error(), msg) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the admission policy never applied: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}

	createRequest(t, "locked", "as8763-decix-fra", 8763)
	_, _, err := run(t, args([]string{"approve", "as8763-decix-fra", "--reason", "CHG-2", "-n", "locked"}, kube())...)
	if err == nil || !strings.Contains(err.Error(), msg) {
		t.Fatalf("err = %v; want the admission message verbatim", err)
	}
	golden(t, "approve-admission-denied", errText(err))
}

func TestStatus(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"status-namespace", []string{"status", "-n", "peers"}},
		{"status-one", []string{"status", "as6939-decix-fra", "-n", "peers"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, _, err := run(t, args(tc.args, kube())...)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, tc.name, out)
		})
	}
	out, _, err := run(t, args([]string{"status", "-A"}, kube())...)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, "NAMESPACE") || !strings.Contains(out, "peers ") {
		t.Errorf("-A:\n%s", out)
	}
	_, _, err = run(t, args([]string{"status", "as1-decix-fra", "-n", "peers"}, kube())...)
	golden(t, "status-not-found", errText(err))
	_, errOut, err := run(t, args([]string{"status", "-n", "empty"}, kube())...)
	if err != nil || errOut != "No PeeringRequests found in namespace empty.\n" {
		t.Errorf("empty namespace: %v, %q", err, errOut)
	}
}

func TestCandidates(t *testing.T) {
	out, errOut, err := run(t, args([]string{"candidates", "--ix-port", "decix-fra"}, kube(), pdbFlagsFor(t))...)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "candidates-decix-fra", out+"--- stderr\n"+errOut)
	for _, asn := range []string{"8763", "6939", "8560", "8804"} {
		for _, line := range strings.Split(out, "\n") {
			if strings.HasPrefix(line, asn+" ") {
				t.Errorf("AS%s is listed, but it is requested already or our own:\n%s", asn, line)
			}
		}
	}
	out, _, err = run(t, args([]string{"candidates", "--ix-port", "decix-fra", "--min-policy", "open", "-o", "csv"}, kube(), pdbFlagsFor(t))...)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "candidates-decix-fra-open.csv", out)
	for _, a := range [][]string{
		{"candidates", "--ix-port", "decix-fra", "--min-policy", "friendly"},
		{"candidates", "--ix-port", "decix-muc"},
	} {
		if _, _, err := run(t, args(a, kube(), pdbFlagsFor(t))...); err == nil {
			t.Errorf("%q: no error", a)
		}
	}
}

func TestReport(t *testing.T) {
	out, _, err := run(t, args([]string{"report", "-n", "peers", "--traffic", "testdata/traffic.csv"}, kube(), pdbFlagsFor(t))...)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "report", out)
}

// Without PeeringDB the report still counts requests and sessions.
func TestReportWithoutPeeringDB(t *testing.T) {
	out, errOut, err := run(t, args([]string{"report", "-n", "peers", "--offline", "--cache", "testdata/no-such-cache.json.gz"}, kube())...)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "Sessions: 3 of 4 Established") || !strings.Contains(out, "ix 31: PeeringDB unavailable") ||
		!strings.Contains(errOut, "does not exist") {
		t.Errorf("stdout:\n%s\nstderr:\n%s", out, errOut)
	}
}

func TestParseTraffic(t *testing.T) {
	got, err := parseTraffic(strings.NewReader("bytes,asn\n10,AS1\n5,as1\n7,64496\n"), "t.csv")
	if err != nil {
		t.Fatal(err)
	}
	if got[1] != 15 || got[64496] != 7 || len(got) != 2 {
		t.Errorf("got %v", got)
	}
	if got, err := parseTraffic(strings.NewReader("13335,100\n"), "t.csv"); err != nil || got[13335] != 100 {
		t.Errorf("no header: %v %v", got, err)
	}
	for in, want := range map[string]string{
		"asn,bytes\n13335,lots\n": `t.csv:2: bytes "lots" is not a whole number`,
		"asn,bytes\n0,1\n":        "t.csv:2: AS0 is out of range",
		"network,volume\n":        "t.csv:1: the header needs the columns asn and bytes",
		"13335\n":                 "t.csv:1: want asn,bytes, got 1 column(s)",
		"":                        "t.csv: no asn,bytes rows",
	} {
		if _, err := parseTraffic(strings.NewReader(in), "t.csv"); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err = %v, want %q", in, err, want)
		}
	}
}

func TestSubcommandHelp(t *testing.T) {
	for _, c := range []string{"new", "validate", "approve", "deny", "status", "candidates", "report"} {
		out, _, err := run(t, c, "--help")
		if err != nil {
			t.Fatal(err)
		}
		golden(t, "help-"+c, out)
	}
}

// accept writes the token of the held change (and nothing when nothing is
// held); --dry-run only prints.
func TestAccept(t *testing.T) {
	ctx := context.Background()
	createRequest(t, "noc", "as8763-accept", 8763)
	noc := args(kube(), []string{"-n", "noc"})

	out, _, err := run(t, args([]string{"accept", "as8763-accept"}, noc)...)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "accept-nothing", out)

	pr := getRequest(t, "noc", "as8763-accept")
	pr.Status.Drift = &peeringv1.DriftStatus{Token: "0123456789abcdef", Since: metav1.NewTime(testNow),
		Changes: []string{"PeeringDB: AS8763 (DENIC eG) states a peering policy of No"}}
	if err := k8s.Status().Update(ctx, pr); err != nil {
		t.Fatal(err)
	}
	out, _, err = run(t, args([]string{"accept", "as8763-accept", "--dry-run"}, noc)...)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "accept-dry-run", out)
	if _, ok := getRequest(t, "noc", "as8763-accept").Annotations[peeringv1.AnnotationAcceptDrift]; ok {
		t.Fatal("--dry-run wrote the annotation")
	}
	out, _, err = run(t, args([]string{"accept", "as8763-accept"}, noc)...)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "accept", out)
	if got := getRequest(t, "noc", "as8763-accept").Annotations[peeringv1.AnnotationAcceptDrift]; got != "0123456789abcdef" {
		t.Errorf("annotation = %q, want the drift's token", got)
	}
	if _, _, err := run(t, args([]string{"accept", "as1-none"}, noc)...); err == nil {
		t.Error("accept of a missing request: no error")
	}
}

// clear writes the time of the request (and " soft") into the clear
// annotation; with --wait it reports the operator's result for exactly that
// request, and fails when the clear failed.
func TestClear(t *testing.T) {
	ctx := context.Background()
	createRequest(t, "noc", "as8763-clear", 8763)
	noc := args(kube(), []string{"-n", "noc"})
	value := testNow.UTC().Format(time.RFC3339Nano)

	out, _, err := run(t, args([]string{"clear", "as8763-clear"}, noc)...)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "clear", out)
	if got := getRequest(t, "noc", "as8763-clear").Annotations[peeringv1.AnnotationClear]; got != value {
		t.Errorf("annotation = %q, want %q", got, value)
	}

	// The operator's answer to an earlier clear is not this one's.
	pr := getRequest(t, "noc", "as8763-clear")
	pr.Status.LastClear = &peeringv1.ClearStatus{Requested: "2020-01-01T00:00:00Z", Time: metav1.NewTime(testNow), Result: "Cleared"}
	if err := k8s.Status().Update(ctx, pr); err != nil {
		t.Fatal(err)
	}
	if _, _, err := run(t, args([]string{"clear", "as8763-clear", "--soft", "--wait", "300ms"}, noc)...); err == nil ||
		!strings.Contains(err.Error(), "did not report the clear") {
		t.Errorf("wait on an old answer: %v", err)
	}
	if got := getRequest(t, "noc", "as8763-clear").Annotations[peeringv1.AnnotationClear]; got != value+" soft" {
		t.Errorf("soft annotation = %q", got)
	}

	pr = getRequest(t, "noc", "as8763-clear")
	pr.Status.LastClear = &peeringv1.ClearStatus{Requested: value, Time: metav1.NewTime(testNow), Result: "Failed", Message: "router r1: connection refused"}
	if err := k8s.Status().Update(ctx, pr); err != nil {
		t.Fatal(err)
	}
	out, _, err = run(t, args([]string{"clear", "as8763-clear", "--wait", "5s"}, noc)...)
	if err == nil || !strings.Contains(err.Error(), "clear of noc/as8763-clear failed") {
		t.Errorf("a failed clear: %v", err)
	}
	golden(t, "clear-failed", out)
	if _, _, err := run(t, args([]string{"clear", "as1-none"}, noc)...); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("clear of a missing request: %v", err)
	}
}

// new --route-servers writes one request per route-server network of the IX
// (DE-CIX Frankfurt: AS6695, typed "Route Server" in PeeringDB, two servers
// with both families), marked routeServer, which the API server takes.
func TestNewRouteServers(t *testing.T) {
	out, _, err := run(t, args([]string{"new", "--route-servers", "--ix-port", "decix-fra"}, kube(), pdbFlagsFor(t))...)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "new-route-servers", out)
	docs := strings.Split(out, "---\n")
	if len(docs) != 1 {
		t.Fatalf("%d documents, want 1 (AS6695)", len(docs))
	}
	pr := &peeringv1.PeeringRequest{}
	if err := yaml.UnmarshalStrict([]byte(docs[0]), pr); err != nil {
		t.Fatalf("new wrote YAML that does not decode strictly: %v", err)
	}
	if !pr.Spec.RouteServer || pr.Spec.PeerASN != 6695 || len(pr.Spec.Addresses) != 4 || pr.Spec.IRRASSet != "" {
		t.Errorf("request %+v", pr.Spec)
	}
	pr.Namespace = "noc"
	if err := k8s.Create(context.Background(), pr); err != nil {
		t.Fatalf("the API server refused what new wrote: %v", err)
	}
	if _, _, err := run(t, args([]string{"new", "--route-servers", "--asn", "6695", "--ix-port", "decix-fra"}, kube(), pdbFlagsFor(t))...); err == nil {
		t.Error("--route-servers with --asn: no error")
	}
}

// drain writes spec.drain with the wait, undrain removes it; the webhook
// (not in this environment) stamps the start, so the plugin says the wait.
func TestDrainAndUndrain(t *testing.T) {
	createRequest(t, "noc", "as8763-drain", 8763)
	noc := args(kube(), []string{"-n", "noc"})
	out, _, err := run(t, args([]string{"drain", "as8763-drain", "--shutdown-after", "30m"}, noc)...)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "drain", out)
	d := getRequest(t, "noc", "as8763-drain").Spec.Drain
	if d == nil || d.ShutdownAfter == nil || d.ShutdownAfter.Duration != 30*time.Minute {
		t.Fatalf("spec.drain = %+v", d)
	}
	out, _, err = run(t, args([]string{"undrain", "as8763-drain"}, noc)...)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "undrain", out)
	if d := getRequest(t, "noc", "as8763-drain").Spec.Drain; d != nil {
		t.Errorf("undrain left spec.drain = %+v", d)
	}
	if _, _, err := run(t, args([]string{"drain", "as1-none"}, noc)...); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("drain of a missing request: %v", err)
	}
	if _, _, err := run(t, args([]string{"drain", "as8763-drain", "--shutdown-after", "-1m"}, noc)...); err == nil {
		t.Error("a negative wait: no error")
	}
}

// drain ixport/NAME and router/NAME write the cluster-scoped object's
// spec.drain; a route server's refuses it (the CRD says why); an unknown
// kind is an error that says what to name.
func TestDrainPortAndRouter(t *testing.T) {
	ctx := context.Background()
	objs := []client.Object{
		&peeringv1.Router{ObjectMeta: metav1.ObjectMeta{Name: "edge-drain"}, Spec: peeringv1.RouterSpec{
			Driver: peeringv1.DriverGoBGP, Address: "127.0.0.1", LocalASN: 8804, RouterID: "192.0.2.1"}},
		&peeringv1.Router{ObjectMeta: metav1.ObjectMeta{Name: "rs-drain"}, Spec: peeringv1.RouterSpec{
			Driver: peeringv1.DriverGoBGP, Address: "127.0.0.1", LocalASN: 8804, RouterID: "192.0.2.1", RouteServer: true}},
		&peeringv1.IXPort{ObjectMeta: metav1.ObjectMeta{Name: "decix-drain"}, Spec: peeringv1.IXPortSpec{
			IX: peeringv1.IXReference{PeeringDBID: 31}, RouterRef: peeringv1.LocalObjectReference{Name: "edge-drain"}, IPv4Address: "80.81.192.10/21"}},
	}
	for _, o := range objs {
		if err := k8s.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	for _, target := range []string{"router/edge-drain", "ixport/decix-drain"} {
		out, _, err := run(t, args([]string{"drain", target, "--shutdown-after", "15m"}, kube())...)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out, "the sessions on it are shut down 15m0s after the drain started") {
			t.Errorf("drain %s: %s", target, out)
		}
	}
	rt, port := &peeringv1.Router{}, &peeringv1.IXPort{}
	if err := k8s.Get(ctx, client.ObjectKey{Name: "edge-drain"}, rt); err != nil || rt.Spec.Drain == nil || rt.Spec.Drain.ShutdownAfter.Duration != 15*time.Minute {
		t.Errorf("router spec.drain = %+v (%v)", rt.Spec.Drain, err)
	}
	if err := k8s.Get(ctx, client.ObjectKey{Name: "decix-drain"}, port); err != nil || port.Spec.Drain == nil {
		t.Errorf("ixport spec.drain = %+v (%v)", port.Spec.Drain, err)
	}
	if _, _, err := run(t, args([]string{"undrain", "router/edge-drain"}, kube())...); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Get(ctx, client.ObjectKey{Name: "edge-drain"}, rt); err != nil || rt.Spec.Drain != nil {
		t.Errorf("undrain left router spec.drain = %+v (%v)", rt.Spec.Drain, err)
	}
	if _, _, err := run(t, args([]string{"drain", "router/rs-drain"}, kube())...); err == nil || !strings.Contains(err.Error(), "a route server is not drained") {
		t.Errorf("drain of a route server: %v", err)
	}
	if _, _, err := run(t, args([]string{"drain", "router/none"}, kube())...); err == nil || !strings.Contains(err.Error(), "router none not found") {
		t.Errorf("drain of a missing router: %v", err)
	}
	if _, _, err := run(t, args([]string{"drain", "node/x"}, kube())...); err == nil || !strings.Contains(err.Error(), "ixport/NAME or router/NAME") {
		t.Errorf("drain of node/x: %v", err)
	}
}
