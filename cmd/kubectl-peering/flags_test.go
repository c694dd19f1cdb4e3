package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/yaml"
)

// kubeconfigWithContexts writes a kubeconfig whose current context points
// at nothing (port 1) and whose context "good" is the test API server, so
// a command only works when --context is honoured.
func kubeconfigWithContexts(t *testing.T) string {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	good := cfg.Contexts[cfg.CurrentContext].DeepCopy()
	cfg.Clusters["nowhere"] = &clientcmdapi.Cluster{Server: "https://127.0.0.1:1", InsecureSkipTLSVerify: true}
	cfg.Contexts["broken"] = &clientcmdapi.Context{Cluster: "nowhere", AuthInfo: good.AuthInfo, Namespace: "default"}
	cfg.Contexts["good"] = good
	cfg.CurrentContext = "broken"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// kubectl's connection flags sit on the root command: before or after the
// verb, a command reads the same cluster and namespace.
func TestConnectionFlagsBeforeAndAfterTheVerb(t *testing.T) {
	kc := kubeconfigWithContexts(t)
	want, err := os.ReadFile("testdata/status-one.golden")
	if err != nil {
		t.Fatal(err)
	}
	conn := []string{"--kubeconfig", kc, "--context", "good", "-n", "peers"}
	for name, a := range map[string][]string{
		"before": args(conn, []string{"status", "as6939-decix-fra"}),
		"after":  args([]string{"status", "as6939-decix-fra"}, conn),
		"split":  {"--kubeconfig", kc, "status", "--context", "good", "as6939-decix-fra", "-n", "peers"},
	} {
		out, _, err := run(t, a...)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if out != string(want) {
			t.Errorf("%s: output differs from testdata/status-one.golden:\n%s", name, out)
		}
	}
	// Without --context the current one, which leads nowhere, is used.
	if _, _, err := run(t, "--kubeconfig", kc, "-n", "peers", "status"); err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("current context: err = %v, want a connection error to 127.0.0.1:1", err)
	}
}

// The flags the hand-written ones lacked: -s with a CA and a client
// certificate, and no kubeconfig at all.
func TestServerAndCertificateFlagsWithoutAKubeconfig(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ca, cert, key := write("ca.crt", restCfg.CAData), write("client.crt", restCfg.CertData), write("client.key", restCfg.KeyData)
	empty := write("empty-kubeconfig", nil)
	t.Setenv("KUBECONFIG", empty)
	out, _, err := run(t, "-s", restCfg.Host, "--certificate-authority", ca, "--client-certificate", cert, "--client-key", key,
		"status", "as6939-decix-fra", "--namespace", "peers")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "80.81.192.172") {
		t.Errorf("output:\n%s", out)
	}
	// Nothing configured: the error says what is missing, not "localhost:8080".
	_, _, err = run(t, "status", "-n", "peers")
	if err == nil || !strings.Contains(err.Error(), "no cluster configured") {
		t.Errorf("no kubeconfig: err = %v", err)
	}
	// Offline commands need no cluster at all.
	if out, _, err := run(t, args([]string{"validate", "-f", "testdata/validate/peers/decix-fra/8763.yaml",
		"--ix-ports", "testdata/validate/ixports.yaml"}, pdbFlagsFor(t))...); err != nil {
		t.Errorf("validate without a kubeconfig: %v\n%s", err, out)
	}
}

// --as reaches the API server: the test user "nobody" has no rights, so the
// API server refuses it by that name (RBAC is on in the test server).
func TestImpersonation(t *testing.T) {
	_, _, err := run(t, args(kube(), []string{"--as", "nobody", "status", "-n", "peers"})...)
	if err == nil || !strings.Contains(err.Error(), `User "nobody" cannot list`) {
		t.Errorf("err = %v, want the API server refusing user nobody", err)
	}
	_, _, err = run(t, args(kube(), []string{"status", "-n", "peers", "--as", "nobody", "--as-group", "system:masters"})...)
	if err != nil {
		t.Errorf("--as-group system:masters: %v", err)
	}
}

func TestStatusJSONAndYAML(t *testing.T) {
	for _, format := range []string{"json", "yaml"} {
		out, _, err := run(t, args(kube(), []string{"status", "-n", "peers", "-o", format})...)
		if err != nil {
			t.Fatal(err)
		}
		var l sessionList
		if format == "json" {
			err = json.Unmarshal([]byte(out), &l)
		} else {
			err = yaml.UnmarshalStrict([]byte(out), &l)
		}
		if err != nil {
			t.Fatalf("-o %s does not parse back: %v\n%s", format, err, out)
		}
		if l.APIVersion != "kubectl.peering.dev/v1alpha1" || l.Kind != "SessionList" {
			t.Errorf("-o %s: apiVersion %q kind %q", format, l.APIVersion, l.Kind)
		}
		// As the table: 2 + 2 sessions, and one row each for the two
		// requests without sessions.
		if len(l.Items) != 6 {
			t.Fatalf("-o %s: %d items, want 6:\n%s", format, len(l.Items), out)
		}
		var he *sessionRow
		for i, r := range l.Items {
			if r.Request == "as6939-decix-fra" && r.Family == "ipv6" {
				he = &l.Items[i]
			}
			if r.Namespace != "peers" || r.Ready == "" {
				t.Errorf("-o %s: item %+v", format, r)
			}
		}
		if he == nil || he.State != "Active" || he.Limit == nil || *he.Limit != 198055 || he.Received != nil ||
			!strings.Contains(he.LastError, "Cease") || he.PeerName != "Hurricane Electric" || he.Ready != "SessionsNotEstablished" {
			t.Errorf("-o %s: the IPv6 session of AS6939 = %+v", format, he)
		}
		if len(l.Held) != 1 || l.Held[0].Request != "as8763-decix-fra" || l.Held[0].Token != "5f1c0a9e2b7d4c31" {
			t.Errorf("-o %s: held = %+v", format, l.Held)
		}
	}
	// An empty namespace is an empty list, not a message.
	out, errOut, err := run(t, args(kube(), []string{"status", "-n", "empty", "-o", "json"})...)
	var l sessionList
	if err != nil || json.Unmarshal([]byte(out), &l) != nil || l.Items == nil || len(l.Items) != 0 || errOut != "" {
		t.Errorf("empty namespace: %v %q %q", err, out, errOut)
	}
}

func TestReportJSONAndYAML(t *testing.T) {
	for _, format := range []string{"json", "yaml"} {
		out, _, err := run(t, args([]string{"report", "-n", "peers", "--traffic", "testdata/traffic.csv", "-o", format}, kube(), pdbFlagsFor(t))...)
		if err != nil {
			t.Fatal(err)
		}
		var r reportData
		if format == "json" {
			err = json.Unmarshal([]byte(out), &r)
		} else {
			err = yaml.UnmarshalStrict([]byte(out), &r)
		}
		if err != nil {
			t.Fatalf("-o %s does not parse back: %v\n%s", format, err, out)
		}
		// The numbers of testdata/report.golden.
		if r.Kind != "Report" || r.Namespace != "peers" || r.Requests != 4 ||
			r.Sessions != (sessionCounts{Established: 3, Total: 4}) || r.Approval != (approvalCounts{Approved: 2, Pending: 2}) {
			t.Errorf("-o %s: %+v", format, r)
		}
		if !slices.Contains(r.ByState, stateCount{"WaitingForApproval", 1}) {
			t.Errorf("-o %s: byState %+v", format, r.ByState)
		}
		i := slices.IndexFunc(r.IXPorts, func(p ixPortPeering) bool { return p.Name == "decix-fra" })
		if i < 0 || r.IXPorts[i] != (ixPortPeering{Name: "decix-fra", IXID: 31, IXName: "DE-CIX Frankfurt", Networks: 36, Requested: 3, Established: 2}) {
			t.Errorf("-o %s: ixPorts %+v", format, r.IXPorts)
		}
		tr := r.Traffic
		if tr == nil || tr.Networks != 6 || len(tr.Unpeered) != 4 || tr.Unpeered[0].ASN != 15169 || tr.Unpeered[0].Name != "Google LLC" ||
			!slices.Contains(tr.Unpeered[0].AtIXPorts, "decix-fra") || tr.Unpeered[2].Name != "" {
			t.Errorf("-o %s: traffic %+v", format, tr)
		}
	}
}

// candidates -o json lists what -o csv lists.
func TestCandidatesJSON(t *testing.T) {
	out, _, err := run(t, args([]string{"candidates", "--ix-port", "decix-fra", "--min-policy", "open", "-o", "json"}, kube(), pdbFlagsFor(t))...)
	if err != nil {
		t.Fatal(err)
	}
	var l listOf[candidateRow]
	if err := json.Unmarshal([]byte(out), &l); err != nil || l.Kind != "CandidateList" {
		t.Fatalf("%v %q\n%s", err, l.Kind, out)
	}
	csv, err := os.ReadFile("testdata/candidates-decix-fra-open.csv.golden")
	if err != nil {
		t.Fatal(err)
	}
	rows := strings.Split(strings.TrimSpace(string(csv)), "\n")[1:]
	if len(l.Items) != len(rows) || len(rows) == 0 || l.Items[0].ASN != 12713 || l.Items[0].Name != "OTEGlobe" || !l.Items[0].RSPeer {
		t.Errorf("%d items, %d CSV rows; first %+v", len(l.Items), len(rows), l.Items[0])
	}
}

// -o is the output format everywhere; a file name there is refused with a
// pointer to --output-file.
func TestOutputIsAFormat(t *testing.T) {
	for _, a := range [][]string{
		{"new", "--asn", "8763", "--ix-port", "decix-fra", "-o", "peers/8763.yaml"},
		{"status", "-o", "wide"},
		{"report", "-o", "csv"},
		{"candidates", "--ix-port", "decix-fra", "-o", "xml"},
		{"validate", "-f", "testdata/validate", "-o", "json"},
	} {
		_, _, err := run(t, args(a, kube())...)
		if err == nil || !strings.Contains(err.Error(), "-o is the output format") {
			t.Errorf("%q: err = %v", a, err)
		}
	}
}

// complete runs the plugin's completion as kubectl would and returns the
// names it offers: the last line (cobra's directive) and the flags cobra
// suggests (a required --reason) left out.
func complete(t *testing.T, a ...string) []string {
	t.Helper()
	out, _, err := run(t, append([]string{"__complete"}, a...)...)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	return slices.DeleteFunc(lines[:len(lines)-1], func(l string) bool { return strings.HasPrefix(l, "-") })
}

// Names come from the real API server, in the namespace of -n, with the
// connection flags typed before or after the verb.
func TestCompletion(t *testing.T) {
	kc := kubeconfigWithContexts(t)
	peers := []string{"as3320-decix-fra", "as6939-decix-fra", "as8560-decix-fra", "as8763-decix-fra"}
	for _, a := range [][]string{
		{"--kubeconfig", kc, "--context", "good", "-n", "peers", "approve", ""},
		{"approve", "--kubeconfig", kc, "--context", "good", "-n", "peers", ""},
		{"status", "--kubeconfig", kc, "--context=good", "--namespace=peers", ""},
		{"--kubeconfig", kc, "--context", "good", "-n", "peers", "clear", ""},
		{"--kubeconfig", kc, "--context", "good", "-n", "peers", "accept", ""},
		{"--kubeconfig", kc, "--context", "good", "-n", "peers", "deny", ""},
	} {
		if got := complete(t, a...); !slices.Equal(got, peers) {
			t.Errorf("%q: %q, want %q", a, got, peers)
		}
	}
	good := []string{"--kubeconfig", kc, "--context", "good", "-n", "peers"}
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{args(good, []string{"approve", "as6"}), []string{"as6939-decix-fra"}},
		{args(good, []string{"approve", "as6939-decix-fra", ""}), nil}, // one NAME only
		{args(good, []string{"drain", "ix"}), []string{"ixport/"}},
		{args(good, []string{"drain", "ixport/decix-f"}), []string{"ixport/decix-fra"}},
		{args(good, []string{"undrain", "router/edge1"}), []string{"router/edge1"}},
		{args(good, []string{"candidates", "--ix-port", "decix-f"}), []string{"decix-fra"}},
		{args(good, []string{"new", "--ix-port", "decix-f"}), []string{"decix-fra"}},
		{args(good, []string{"status", "-n", "pe"}), []string{"peers"}},
		{[]string{"--kubeconfig", kc, "status", "--context", ""}, []string{"broken", "good", "peering-dev"}},
		{args(good, []string{"status", "-o", ""}), []string{"json", "yaml"}},
		// The current context leads nowhere: nothing, quickly, no error.
		{[]string{"--kubeconfig", kc, "-n", "peers", "approve", ""}, nil},
	} {
		if got := complete(t, tc.args...); !slices.Equal(got, tc.want) {
			t.Errorf("%q: %q, want %q", tc.args, got, tc.want)
		}
	}
}

// pluginPath is a PATH directory with kubectl-peering (this test binary
// running main()) and the kubectl_complete-peering script shipped here.
func pluginPath(t *testing.T) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	shim := "#!/bin/sh\n" + mainEnv + "=1 exec '" + exe + "' \"$@\"\n"
	if err := os.WriteFile(filepath.Join(bin, "kubectl-peering"), []byte(shim), 0o755); err != nil {
		t.Fatal(err)
	}
	script, err := os.ReadFile("kubectl_complete-peering")
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat("kubectl_complete-peering"); err != nil || fi.Mode()&0o111 == 0 {
		t.Fatalf("kubectl_complete-peering must be executable in the repository: %v", err)
	}
	if err := os.WriteFile(filepath.Join(bin, "kubectl_complete-peering"), script, 0o755); err != nil {
		t.Fatal(err)
	}
	return bin
}

// kubectl (1.26 and later) completes `kubectl peering` by running
// kubectl_complete-peering from the PATH, which calls the plugin.
func TestKubectlCompleteScript(t *testing.T) {
	cmd := exec.Command(filepath.Join(pluginPath(t), "kubectl_complete-peering"), "--kubeconfig", kubeconfig, "-n", "peers", "approve", "as85")
	cmd.Env = append(os.Environ(), "PATH="+pluginPath(t)+string(os.PathListSeparator)+os.Getenv("PATH"))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if got := strings.Split(strings.TrimSpace(string(out)), "\n"); len(got) != 2 || got[0] != "as8560-decix-fra" || got[1] != ":4" {
		t.Errorf("kubectl_complete-peering printed %q", got)
	}
}

// Through the real kubectl (bin/, built by make test): the flags after
// "peering" reach the plugin, and kubectl's completion of `kubectl peering`
// ends in the plugin's.
func TestThroughKubectl(t *testing.T) {
	kubectl, err := filepath.Abs("../../bin/kubectl")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(kubectl); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("bin/kubectl is missing, and CI=true")
		}
		t.Skip("bin/kubectl is missing (make controlplane builds it)")
	}
	path := "PATH=" + pluginPath(t) + string(os.PathListSeparator) + os.Getenv("PATH")
	kc := kubeconfigWithContexts(t)
	run := func(a ...string) string {
		t.Helper()
		cmd := exec.Command(kubectl, a...)
		cmd.Env = append(os.Environ(), path, "KUBECONFIG="+kc)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("kubectl %q: %v\n%s", a, err, out)
		}
		return string(out)
	}
	if out := run("peering", "--context", "good", "-n", "peers", "status", "as6939-decix-fra"); !strings.Contains(out, "2001:7f8::1b1b:0:1") {
		t.Errorf("kubectl peering --context good status:\n%s", out)
	}
	if out := run("peering", "status", "as6939-decix-fra", "--context", "good", "-n", "peers", "-o", "json"); !strings.Contains(out, `"kind": "SessionList"`) {
		t.Errorf("kubectl peering status --context good -o json:\n%s", out)
	}
	out := run("__complete", "peering", "--context", "good", "-n", "peers", "approve", "as85")
	if got := strings.Split(strings.TrimSpace(out), "\n"); len(got) < 2 || got[0] != "as8560-decix-fra" {
		t.Errorf("kubectl __complete peering approve as85: %q", got)
	}
}

// kubectl's flags are in the help: the root's flags, and every command's
// "Global Flags".
func TestHelpShowsTheKubectlFlags(t *testing.T) {
	flags := []string{"--as string", "--as-group", "--context", "--kubeconfig", "-n, --namespace", "-s, --server", "--token", "--certificate-authority", "--request-timeout"}
	for _, a := range [][]string{{"--help"}, {"approve", "--help"}, {"status", "--help"}} {
		out, _, err := run(t, a...)
		if err != nil {
			t.Fatal(err)
		}
		if len(a) > 1 && !strings.Contains(out, "Global Flags:") {
			t.Errorf("%q: no Global Flags section", a)
		}
		for _, f := range flags {
			if !strings.Contains(out, f) {
				t.Errorf("%q lacks %s", a, f)
			}
		}
	}
}
