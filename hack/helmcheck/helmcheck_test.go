package helmcheck

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"go.yaml.in/yaml/v3"
	admissionv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
)

const (
	chartDir = "config/helm/peering-operator"
	release  = "noc"
	ns       = "peering-system"
	// The chart's object names: <release>-<chart>-<name in config/>.
	fullname = release + "-peering-operator"
)

// valueSets are the renders checked: the defaults (cert-manager) and the
// self-signed fallback with every optional object on.
var valueSets = []struct {
	name, file  string
	certManager bool
	monitoring  bool
	defaults    bool // the chart's own values: the manager as config/manager runs it
}{
	{name: "default", certManager: true, defaults: true},
	{name: "selfsigned", file: "ci/selfsigned-values.yaml", monitoring: true},
}

// obj is one rendered or source object, as JSON-shaped Go values.
type obj = map[string]any

var root = func() string {
	r, err := filepath.Abs("../..")
	if err != nil {
		panic(err)
	}
	return r
}()

var (
	helmOnce sync.Once
	helmPath string
	helmErr  error
)

// helm builds Helm from hack/helm/go.mod once per test binary. Without it
// the test skips, and fails with CI=true (a check that never runs is no check).
func helm(t *testing.T) string {
	t.Helper()
	helmOnce.Do(func() {
		if p := os.Getenv("HELM"); p != "" {
			helmPath = p
			return
		}
		out, err := exec.Command(filepath.Join(root, "hack/helm/build.sh")).CombinedOutput()
		if err != nil {
			helmErr = fmt.Errorf("hack/helm/build.sh: %v\n%s", err, out)
			return
		}
		helmPath = filepath.Join(root, "bin/helm")
	})
	if helmErr != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(helmErr)
		}
		t.Skip(helmErr)
	}
	return helmPath
}

func run(t *testing.T, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(helm(t), args...)
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helm %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.Bytes())
	}
	return out
}

func read(t *testing.T, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// decode parses a YAML stream into objects normalised through JSON, so
// values from Helm's output and from config/ compare with reflect.DeepEqual.
func decode(t *testing.T, name string, data []byte) []obj {
	t.Helper()
	var objs []obj
	d := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var v any
		err := d.Decode(&v)
		if errors.Is(err, io.EOF) {
			return objs
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if v == nil {
			continue
		}
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var o obj
		if err := json.Unmarshal(b, &o); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		objs = append(objs, o)
	}
}

func decodeFile(t *testing.T, rel string) []obj {
	t.Helper()
	return decode(t, rel, read(t, rel))
}

// strict decodes o into a typed API object, refusing unknown fields: a
// misplaced key in a template is an error here, not a field the API server drops.
func strict(t *testing.T, o obj, into any) {
	t.Helper()
	b, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(into); err != nil {
		t.Fatalf("%s %s: %v", o["kind"], name(o), err)
	}
}

func name(o obj) string {
	m, _ := o["metadata"].(obj)
	s, _ := m["name"].(string)
	return s
}

func kind(o obj) string { s, _ := o["kind"].(string); return s }

func diff(a, b any) string {
	ja, _ := json.MarshalIndent(a, "", " ")
	jb, _ := json.MarshalIndent(b, "", " ")
	return fmt.Sprintf("chart:\n%s\nconfig/:\n%s", ja, jb)
}

// render is the chart rendered with one value set, objects by kind/name.
type render map[string]obj

func (r render) get(t *testing.T, k, n string) obj {
	t.Helper()
	o, ok := r[k+"/"+n]
	if !ok {
		t.Fatalf("the chart renders no %s %s", k, n)
	}
	return o
}

func (r render) ofKind(k string) []obj {
	var out []obj
	for _, o := range r {
		if kind(o) == k {
			out = append(out, o)
		}
	}
	return out
}

func renderChart(t *testing.T, valuesFile string) render {
	t.Helper()
	args := []string{"template", release, chartDir, "--namespace", ns, "--include-crds"}
	if valuesFile != "" {
		args = append(args, "-f", filepath.Join(chartDir, valuesFile))
	}
	r := render{}
	for _, o := range decode(t, "helm template", run(t, args...)) {
		key := kind(o) + "/" + name(o)
		if _, dup := r[key]; dup {
			t.Fatalf("the chart renders %s twice", key)
		}
		r[key] = o
	}
	return r
}

// TestCopies: the chart's copies of config/ files are byte for byte the
// sources (make helm-sync writes them), and no source lacks its copy.
func TestCopies(t *testing.T) {
	bases, _ := filepath.Glob(filepath.Join(root, "config/crd/bases/*.yaml"))
	copies, _ := filepath.Glob(filepath.Join(root, chartDir, "crds/*.yaml"))
	if len(bases) == 0 {
		t.Fatal("no CRDs in config/crd/bases")
	}
	base := func(ps []string) (out []string) {
		for _, p := range ps {
			out = append(out, filepath.Base(p))
		}
		return out
	}
	if !slices.Equal(base(bases), base(copies)) {
		t.Errorf("%s/crds has %v, config/crd/bases has %v: run make helm-sync", chartDir, base(copies), base(bases))
	}
	var want []string
	for _, p := range bases {
		want = append(want, "crd/bases/"+filepath.Base(p)+"\x00crds/"+filepath.Base(p))
	}
	for _, g := range []string{"rbac/*role.yaml", "rbac/*role_binding.yaml", "webhook/manifests.yaml", "prometheus/rules.yaml", "grafana/peering-operator.json"} {
		ps, _ := filepath.Glob(filepath.Join(root, "config", g))
		if len(ps) == 0 {
			t.Errorf("config/%s matches nothing", g)
		}
		for _, p := range ps {
			rel, _ := filepath.Rel(filepath.Join(root, "config"), p)
			want = append(want, rel+"\x00files/"+rel)
		}
	}
	for _, w := range want {
		src, dst, _ := strings.Cut(w, "\x00")
		a, err := os.ReadFile(filepath.Join(root, "config", src))
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(root, chartDir, dst))
		if err != nil || !bytes.Equal(a, b) {
			t.Errorf("%s/%s is not a copy of config/%s: run make helm-sync", chartDir, dst, src)
		}
	}
	// A copy whose source is gone would still be rendered.
	err := filepath.WalkDir(filepath.Join(root, chartDir, "files"), func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(filepath.Join(root, chartDir, "files"), p)
		if _, err := os.Stat(filepath.Join(root, "config", rel)); err != nil {
			t.Errorf("%s/files/%s has no source in config/: run make helm-sync", chartDir, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestLint(t *testing.T) {
	for _, vs := range valueSets {
		t.Run(vs.name, func(t *testing.T) {
			args := []string{"lint", "--strict", chartDir}
			if vs.file != "" {
				args = append(args, "-f", filepath.Join(chartDir, vs.file))
			}
			run(t, args...)
		})
	}
}

func TestRender(t *testing.T) {
	for _, vs := range valueSets {
		t.Run(vs.name, func(t *testing.T) {
			r := renderChart(t, vs.file)
			checkCRDs(t, r)
			checkRBAC(t, r)
			dep := checkDeployment(t, r)
			if vs.defaults {
				checkManagerDefaults(t, r, dep)
			}
			checkWebhooks(t, r, dep, vs.certManager)
			checkMonitoring(t, r, vs.monitoring)
		})
	}
}

func checkCRDs(t *testing.T, r render) {
	bases, _ := filepath.Glob(filepath.Join(root, "config/crd/bases/*.yaml"))
	for _, p := range bases {
		rel, _ := filepath.Rel(root, p)
		for _, want := range decodeFile(t, rel) {
			got := r.get(t, "CustomResourceDefinition", name(want))
			strict(t, got, &apiextensionsv1.CustomResourceDefinition{})
			if !reflect.DeepEqual(got, want) {
				t.Errorf("CRD %s differs from %s", name(want), rel)
			}
		}
	}
	if n := len(r.ofKind("CustomResourceDefinition")); n != len(bases) {
		t.Errorf("the chart has %d CRDs, config/crd/bases %d", n, len(bases))
	}
}

// checkRBAC: every role of config/rbac is rendered with the same rules and
// labels (the aggregation labels matter), every binding binds the renamed
// role to the manager's ServiceAccount.
func checkRBAC(t *testing.T, r render) {
	sa := r.get(t, "ServiceAccount", fullname+"-controller-manager")
	ps, _ := filepath.Glob(filepath.Join(root, "config/rbac/*.yaml"))
	roles := 0
	for _, p := range ps {
		rel, _ := filepath.Rel(root, p)
		for _, want := range decodeFile(t, rel) {
			switch kind(want) {
			case "ClusterRole", "Role":
				roles++
				got := r.get(t, kind(want), fullname+"-"+name(want))
				if kind(want) == "ClusterRole" {
					strict(t, got, &rbacv1.ClusterRole{})
				} else {
					strict(t, got, &rbacv1.Role{})
					if got["metadata"].(obj)["namespace"] != ns {
						t.Errorf("Role %s is not in the release namespace", name(got))
					}
				}
				if !reflect.DeepEqual(got["rules"], want["rules"]) {
					t.Errorf("%s %s: rules differ from %s\n%s", kind(want), name(got), rel, diff(got["rules"], want["rules"]))
				}
				wl, _ := want["metadata"].(obj)["labels"].(obj)
				gl, _ := got["metadata"].(obj)["labels"].(obj)
				for k, v := range wl {
					if gl[k] != v {
						t.Errorf("%s %s: label %s=%v of %s missing", kind(want), name(got), k, v, rel)
					}
				}
			case "ClusterRoleBinding", "RoleBinding":
				got := r.get(t, kind(want), fullname+"-"+name(want))
				var b rbacv1.RoleBinding // same shape as ClusterRoleBinding
				strict(t, got, &b)
				wr := want["roleRef"].(obj)
				if b.RoleRef.Kind != wr["kind"] || b.RoleRef.Name != fullname+"-"+wr["name"].(string) {
					t.Errorf("%s %s binds %s %s, want %s %s-%s", kind(want), b.Name, b.RoleRef.Kind, b.RoleRef.Name, wr["kind"], fullname, wr["name"])
				}
				if len(b.Subjects) != 1 || b.Subjects[0].Kind != "ServiceAccount" || b.Subjects[0].Name != name(sa) || b.Subjects[0].Namespace != ns {
					t.Errorf("%s %s binds %+v, want the ServiceAccount %s/%s", kind(want), b.Name, b.Subjects, ns, name(sa))
				}
			}
		}
	}
	if roles == 0 {
		t.Error("no roles in config/rbac")
	}
}

// managerFlags are the flags cmd/manager defines: its flag.X calls and
// controller-runtime's zap flags it binds.
var managerFlags = sync.OnceValues(func() (map[string]bool, error) {
	files, err := filepath.Glob(filepath.Join(root, "cmd/manager/*.go"))
	if err != nil {
		return nil, err
	}
	flags := map[string]bool{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		// flag.X(...) in main.go, fs.X(...) where a file binds its own block.
		for _, m := range regexp.MustCompile(`(?:flag|fs)\.\w+\((?:&[\w.]+, )?"([a-z0-9-]+)"`).FindAllSubmatch(src, -1) {
			flags[string(m[1])] = true
		}
	}
	if len(flags) < 10 {
		return nil, fmt.Errorf("found only %d flags in cmd/manager: the pattern is stale", len(flags))
	}
	fs := flag.NewFlagSet("zap", flag.ContinueOnError)
	(&zap.Options{}).BindFlags(fs)
	fs.VisitAll(func(f *flag.Flag) { flags[f.Name] = true })
	return flags, nil
})

func checkDeployment(t *testing.T, r render) *appsv1.Deployment {
	var d appsv1.Deployment
	strict(t, r.get(t, "Deployment", fullname+"-controller-manager"), &d)
	flags, err := managerFlags()
	if err != nil {
		t.Fatal(err)
	}
	c := d.Spec.Template.Spec.Containers[0]
	for _, a := range c.Args {
		f, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || !flags[f] {
			t.Errorf("argument %q: cmd/manager has no such flag", a)
		}
	}
	if *d.Spec.Replicas > 1 {
		if !slices.Contains(c.Args, "--leader-elect") {
			t.Error("more than one replica without --leader-elect")
		}
		var pdb policyv1.PodDisruptionBudget
		strict(t, r.get(t, "PodDisruptionBudget", fullname+"-controller-manager"), &pdb)
		if !selects(pdb.Spec.Selector.MatchLabels, d.Spec.Template.Labels) {
			t.Error("the PodDisruptionBudget does not select the manager's pods")
		}
	}
	if !selects(d.Spec.Selector.MatchLabels, d.Spec.Template.Labels) {
		t.Error("the Deployment's selector does not select its pods")
	}
	if d.Spec.Template.Spec.ServiceAccountName != fullname+"-controller-manager" {
		t.Errorf("the manager runs as %q", d.Spec.Template.Spec.ServiceAccountName)
	}
	for _, e := range c.Env {
		if e.Name == "PEERINGDB_API_KEY" {
			ref := e.ValueFrom.SecretKeyRef
			var s corev1.Secret
			if o, ok := r["Secret/"+ref.Name]; ok {
				strict(t, o, &s)
				if _, ok := s.Data[ref.Key]; !ok {
					t.Errorf("Secret %s has no key %s", ref.Name, ref.Key)
				}
			}
		}
	}
	var metrics corev1.Service
	strict(t, r.get(t, "Service", fullname+"-metrics-service"), &metrics)
	checkServicePort(t, &metrics, &d)
	return &d
}

// checkManagerDefaults: with its default values the chart runs the manager
// as config/manager does: its flags, replicas, rollout, spread, probes,
// security contexts, resources and disruption budget.
func checkManagerDefaults(t *testing.T, r render, d *appsv1.Deployment) {
	var want appsv1.Deployment
	var wantPDB policyv1.PodDisruptionBudget
	for _, o := range decodeFile(t, "config/manager/manager.yaml") {
		if kind(o) == "Deployment" {
			strict(t, o, &want)
		}
	}
	strict(t, decodeFile(t, "config/manager/pdb.yaml")[0], &wantPDB)
	ws, gs := want.Spec, d.Spec
	wc, gc := ws.Template.Spec.Containers[0], gs.Template.Spec.Containers[0]
	for _, a := range wc.Args {
		if !slices.Contains(gc.Args, a) {
			t.Errorf("config/manager passes %s, the chart does not", a)
		}
	}
	same := func(what string, got, want any) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s differs from config/manager\n%s", what, diff(got, want))
		}
	}
	same("replicas", gs.Replicas, ws.Replicas)
	same("strategy", gs.Strategy, ws.Strategy)
	same("terminationGracePeriodSeconds", gs.Template.Spec.TerminationGracePeriodSeconds, ws.Template.Spec.TerminationGracePeriodSeconds)
	same("pod securityContext", gs.Template.Spec.SecurityContext, ws.Template.Spec.SecurityContext)
	same("container securityContext", gc.SecurityContext, wc.SecurityContext)
	same("resources", gc.Resources, wc.Resources)
	same("command", gc.Command, wc.Command)
	// The selectors differ by design (the chart adds its release's labels).
	spread := func(cs []corev1.TopologySpreadConstraint) []corev1.TopologySpreadConstraint {
		out := slices.Clone(cs)
		for i := range out {
			out[i].LabelSelector = nil
		}
		return out
	}
	same("topologySpreadConstraints", spread(gs.Template.Spec.TopologySpreadConstraints), spread(ws.Template.Spec.TopologySpreadConstraints))
	// Probes by path and timing; the chart names the port.
	probe := func(p *corev1.Probe) *corev1.Probe {
		if p == nil {
			return nil
		}
		c := p.DeepCopy()
		c.HTTPGet.Port = intstr.IntOrString{}
		return c
	}
	same("livenessProbe", probe(gc.LivenessProbe), probe(wc.LivenessProbe))
	same("readinessProbe", probe(gc.ReadinessProbe), probe(wc.ReadinessProbe))
	var pdb policyv1.PodDisruptionBudget
	strict(t, r.get(t, "PodDisruptionBudget", fullname+"-controller-manager"), &pdb)
	same("PodDisruptionBudget minAvailable", pdb.Spec.MinAvailable, wantPDB.Spec.MinAvailable)
}

func selects(sel, labels map[string]string) bool {
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return len(sel) > 0
}

// checkServicePort: the Service selects the manager and its target port is
// one the container listens on.
func checkServicePort(t *testing.T, s *corev1.Service, d *appsv1.Deployment) int32 {
	t.Helper()
	if !selects(s.Spec.Selector, d.Spec.Template.Labels) {
		t.Errorf("Service %s does not select the manager's pods", s.Name)
	}
	tp := s.Spec.Ports[0].TargetPort
	for _, p := range d.Spec.Template.Spec.Containers[0].Ports {
		if tp.String() == p.Name || tp.IntVal == p.ContainerPort {
			return p.ContainerPort
		}
	}
	t.Errorf("Service %s targets port %s, which the manager does not have", s.Name, tp.String())
	return 0
}

// checkWebhooks: the webhook configurations equal config/webhook's but for
// the Service they name and the CA, which is cert-manager's or the chart's.
func checkWebhooks(t *testing.T, r render, d *appsv1.Deployment, certManager bool) {
	var svc corev1.Service
	strict(t, r.get(t, "Service", fullname+"-webhook-service"), &svc)
	port := checkServicePort(t, &svc, d)
	if !slices.Contains(d.Spec.Template.Spec.Containers[0].Args, fmt.Sprintf("--webhook-port=%d", port)) {
		t.Errorf("the webhook Service targets port %d, not the manager's --webhook-port", port)
	}
	secret := ""
	for _, v := range d.Spec.Template.Spec.Volumes {
		if v.Name == "webhook-certs" && v.Secret != nil {
			secret = v.Secret.SecretName
		}
	}
	for _, m := range d.Spec.Template.Spec.Containers[0].VolumeMounts {
		if m.Name == "webhook-certs" && !slices.Contains(d.Spec.Template.Spec.Containers[0].Args, "--webhook-cert-dir="+m.MountPath) {
			t.Errorf("the webhook certificate is mounted at %s, not in --webhook-cert-dir", m.MountPath)
		}
	}
	dnsName := svc.Name + "." + ns + ".svc"

	var caBundle []byte
	if certManager {
		cert := r.get(t, "Certificate", fullname+"-serving-cert")
		spec := cert["spec"].(obj)
		if spec["secretName"] != secret {
			t.Errorf("the Certificate writes Secret %v, the manager mounts %q", spec["secretName"], secret)
		}
		if !slices.Contains(spec["dnsNames"].([]any), any(dnsName)) {
			t.Errorf("the Certificate's dnsNames %v lack %s", spec["dnsNames"], dnsName)
		}
		if ref := spec["issuerRef"].(obj); ref["kind"] == "Issuer" {
			r.get(t, "Issuer", ref["name"].(string))
		}
	} else {
		var s corev1.Secret
		strict(t, r.get(t, "Secret", secret), &s)
		caBundle = s.Data["ca.crt"]
		checkServingCert(t, s.Data["tls.crt"], s.Data["tls.key"], caBundle, dnsName)
	}

	for _, want := range decodeFile(t, "config/webhook/manifests.yaml") {
		got := r.get(t, kind(want), fullname+"-"+name(want))
		if kind(want) == "MutatingWebhookConfiguration" {
			strict(t, got, &admissionv1.MutatingWebhookConfiguration{})
		} else {
			strict(t, got, &admissionv1.ValidatingWebhookConfiguration{})
		}
		ann, _ := got["metadata"].(obj)["annotations"].(obj)
		inject := ann["cert-manager.io/inject-ca-from"]
		if certManager && inject != ns+"/"+fullname+"-serving-cert" {
			t.Errorf("%s: cert-manager.io/inject-ca-from is %v", name(got), inject)
		}
		if !certManager && inject != nil {
			t.Errorf("%s: cert-manager.io/inject-ca-from without cert-manager", name(got))
		}
		gw, ww := got["webhooks"].([]any), want["webhooks"].([]any)
		if len(gw) != len(ww) {
			t.Errorf("%s has %d webhooks, config/webhook %d", name(got), len(gw), len(ww))
			continue
		}
		for i := range ww {
			g, w := clone(gw[i].(obj)), clone(ww[i].(obj))
			gc, wc := g["clientConfig"].(obj), w["clientConfig"].(obj)
			delete(g, "clientConfig")
			delete(w, "clientConfig")
			if !reflect.DeepEqual(g, w) {
				t.Errorf("%s: webhook %d differs from config/webhook/manifests.yaml\n%s", name(got), i, diff(g, w))
			}
			gs, ws := gc["service"].(obj), wc["service"].(obj)
			if gs["path"] != ws["path"] || gs["name"] != svc.Name || gs["namespace"] != ns {
				t.Errorf("%s: webhook %v calls %v, want path %v on Service %s/%s", name(got), w["name"], gs, ws["path"], ns, svc.Name)
			}
			ca, _ := gc["caBundle"].(string)
			if certManager && ca != "" {
				t.Errorf("%s: a caBundle beside cert-manager's injection", name(got))
			}
			if !certManager && ca != base64.StdEncoding.EncodeToString(caBundle) {
				t.Errorf("%s: caBundle is not the CA of Secret %s", name(got), secret)
			}
		}
	}
}

func clone(o obj) obj {
	b, _ := json.Marshal(o)
	var c obj
	_ = json.Unmarshal(b, &c)
	return c
}

// checkServingCert: the generated certificate is valid for the Service's name
// under the CA the webhook configurations carry, and matches its key.
func checkServingCert(t *testing.T, crt, key, ca []byte, dnsName string) {
	t.Helper()
	if _, err := tls.X509KeyPair(crt, key); err != nil {
		t.Fatalf("the webhook Secret's certificate and key: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		t.Fatal("the webhook Secret's ca.crt holds no certificate")
	}
	blk, _ := pem.Decode(crt)
	if blk == nil {
		t.Fatal("the webhook Secret's tls.crt is not PEM")
	}
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cert.Verify(x509.VerifyOptions{DNSName: dnsName, Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		t.Errorf("the webhook certificate for %s: %v", dnsName, err)
	}
}

// checkMonitoring: the PrometheusRule carries config/prometheus/rules.yaml's
// groups and the dashboard ConfigMap config/grafana's JSON, when enabled.
func checkMonitoring(t *testing.T, r render, enabled bool) {
	rules, sm, dash := r.ofKind("PrometheusRule"), r.ofKind("ServiceMonitor"), r.ofKind("ConfigMap")
	if !enabled {
		if len(rules)+len(sm)+len(dash) != 0 {
			t.Error("monitoring objects rendered while disabled")
		}
		return
	}
	if len(rules) != 1 || len(sm) != 1 || len(dash) != 1 {
		t.Fatalf("want one PrometheusRule, ServiceMonitor and dashboard ConfigMap, got %d, %d, %d", len(rules), len(sm), len(dash))
	}
	want := decodeFile(t, "config/prometheus/rules.yaml")[0]["groups"]
	got := rules[0]["spec"].(obj)["groups"]
	if !reflect.DeepEqual(got, want) {
		t.Errorf("the PrometheusRule's groups differ from config/prometheus/rules.yaml\n%s", diff(got, want))
	}
	var cm corev1.ConfigMap
	strict(t, dash[0], &cm)
	if cm.Labels["grafana_dashboard"] == "" {
		t.Error("the dashboard ConfigMap lacks the grafana_dashboard label")
	}
	if cm.Data["peering-operator.json"] != string(read(t, "config/grafana/peering-operator.json")) {
		t.Error("the dashboard ConfigMap differs from config/grafana/peering-operator.json")
	}
	sel, _ := sm[0]["spec"].(obj)["selector"].(obj)["matchLabels"].(obj)
	var svc corev1.Service
	strict(t, r.get(t, "Service", fullname+"-metrics-service"), &svc)
	for k, v := range sel {
		if svc.Labels[k] != v {
			t.Errorf("the ServiceMonitor's selector %s=%v misses the metrics Service", k, v)
		}
	}
}
