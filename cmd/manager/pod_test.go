package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"debug/elf"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	appsv1 "k8s.io/api/apps/v1"
	authnv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
	"github.com/peering-operator/peering-operator/internal/frrtest"
	"github.com/peering-operator/peering-operator/internal/peeringdb/pdbtest"
	"github.com/peering-operator/peering-operator/internal/testenv"
)

// TestShippedPod runs the manager as the shipped Deployment declares it,
// everything taken from the manifests and the Dockerfile: its args, uid,
// read-only root with only its volumes writable, in-cluster credentials
// of its ServiceAccount with the shipped RBAC, probes and metrics at the
// declared ports. It must push a PeeringRequest to FRR over SSH with host
// key verification and see the session Established.
func TestShippedPod(t *testing.T) {
	frrtest.RequirePrerequisites(t)
	requireTools(t, "unshare", "setpriv", "chroot", "mount", "cp")
	g := NewWithT(t)
	root, err := testenv.RepoRoot()
	g.Expect(err).NotTo(HaveOccurred())

	// What ships: config/default (kubectl apply -k, make deploy), whose
	// Deployment is config/manager/manager.yaml plus the webhook overlay.
	shipped := renderKustomization(t, root, "config/default")
	dep := &appsv1.Deployment{}
	shipped.decode(t, "Deployment", "", dep)
	base := readManagerYAML(t, filepath.Join(root, "config", "manager", "manager.yaml"))
	c := managerContainer(t, dep)
	baseC := managerContainer(t, base)
	// The overlay may add flags, not replace the base's: a flag changed in
	// manager.yaml must reach the shipped Pod.
	g.Expect(c.Args[:min(len(c.Args), len(baseC.Args))]).To(Equal(baseC.Args), "config/default must keep config/manager's args")
	img := readDockerfile(t, filepath.Join(root, "Dockerfile"))
	uid, gid := checkImage(t, img, dep, c)
	checkWiring(t, shipped, dep, c)

	// The binary as the image has it: static (the base has no libc).
	f, err := elf.Open(managerBin)
	g.Expect(err).NotTo(HaveOccurred())
	for _, p := range f.Progs {
		g.Expect(p.Type).NotTo(Equal(elf.PT_INTERP), "the manager must be static like the Dockerfile's CGO_ENABLED=0 build")
	}
	f.Close()

	// The cluster side of the Pod: its namespace, ServiceAccount and RBAC
	// exactly as shipped, and the Secret cert-manager would issue.
	for _, kind := range []string{"Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"} {
		for _, o := range shipped.all(kind) {
			create(t, o)
		}
	}
	// Its namespace enforces the restricted Pod Security Standard: the API
	// server must admit the Pod (a dry run; no kubelet here).
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: dep.Name + "-admission", Namespace: dep.Namespace, Labels: dep.Spec.Template.Labels},
		Spec: *dep.Spec.Template.Spec.DeepCopy()}
	g.Expect(k8s.Create(context.Background(), pod, client.DryRunAll)).To(Succeed(), "the Pod must be admitted in its namespace")
	cert := &unstructured.Unstructured{}
	shipped.decode(t, "Certificate", "", cert)
	dnsNames, _, _ := unstructured.NestedStringSlice(cert.Object, "spec", "dnsNames")
	certSecret, _, _ := unstructured.NestedString(cert.Object, "spec", "secretName")
	servingPEM, servingKey := selfSigned(t, dnsNames)
	create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: certSecret, Namespace: dep.Namespace}, Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{"tls.crt": servingPEM, "tls.key": servingKey, "ca.crt": servingPEM}})

	// The lab: PeeringDB, IRR, FRR with sshd, DENIC's peer, and the objects
	// a NOC creates: Router (credentials with known_hosts, verified), IXPort,
	// an approved request for AS8763.
	l := newLab(t)
	frr := frrtest.StartFRR(t, frrtest.Options{LocalASN: 64500})
	frrPeer, err := frr.StartPeer(pdbtest.FRRLabPeer.ASN, pdbtest.FRRLabPeer.Addr, netip.MustParsePrefix("4.44.128.0/18"))
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(frrPeer.Stop)
	creds := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "frr-pod-ssh", Namespace: "default"},
		Data: map[string][]byte{"username": []byte(frr.User), "password": []byte(frr.Password), "known_hosts": frr.KnownHosts}}
	create(t, creds)
	rtr := &peeringv1.Router{ObjectMeta: metav1.ObjectMeta{Name: "frr-pod"},
		Spec: peeringv1.RouterSpec{Driver: peeringv1.DriverFRR, Address: frr.Host, Port: int32(frr.Port), LocalASN: 64500, RouterID: frr.RouterID.String(),
			CredentialsSecretRef: &peeringv1.SecretReference{Namespace: "default", Name: creds.Name}}}
	create(t, rtr)
	create(t, &peeringv1.IXPort{ObjectMeta: metav1.ObjectMeta{Name: "frr-pod-lan"},
		Spec: peeringv1.IXPortSpec{IX: peeringv1.IXReference{PeeringDBID: pdbtest.FRRLabIXID}, RouterRef: peeringv1.LocalObjectReference{Name: rtr.Name}, IPv4Address: "192.0.2.1/24"}})
	pr := request("pod-as8763", "frr-pod-lan", 8763)
	create(t, pr)
	dumpOnFailure(t, rtr, pr)

	// The manifest's args, with only what a test must change: the lab's
	// PeeringDB and IRR instead of the Internet's (unreachable here, and
	// not ours to load). Later flags win. The lease namespace and API
	// server come from the in-cluster ServiceAccount files, as in a Pod.
	args := append(slices.Clone(c.Args), "--peeringdb-url="+l.pdb.BaseURL, "--irr-servers="+l.irrAddr)
	p := startPod(t, dep, c, uid, gid, args)

	// The process is what the securityContext asks for.
	st := procStatus(t, p.cmd.Process.Pid)
	g.Expect(strings.Fields(st["Uid"])).To(HaveEach(strconv.Itoa(uid)), "uid")
	g.Expect(strings.Fields(st["Gid"])).To(HaveEach(strconv.Itoa(gid)), "gid")
	g.Expect(strings.Fields(st["Groups"])).To(Or(BeEmpty(), HaveEach(strconv.Itoa(gid))), "supplementary groups")
	g.Expect(st["CapEff"]).To(MatchRegexp("^0+$"), "no effective capabilities")
	g.Expect(st["CapPrm"]).To(MatchRegexp("^0+$"), "no permitted capabilities")
	if c.SecurityContext.AllowPrivilegeEscalation != nil && !*c.SecurityContext.AllowPrivilegeEscalation {
		g.Expect(st["NoNewPrivs"]).To(Equal("1"), "allowPrivilegeEscalation: false")
	}
	// Its root is read-only (even for root), its volumes are not.
	proot := fmt.Sprintf("/proc/%d/root", p.cmd.Process.Pid)
	err = os.WriteFile(filepath.Join(proot, "tmp", "probe"), nil, 0o600)
	g.Expect(errors.Is(err, syscall.EROFS)).To(BeTrue(), "the root filesystem must be read-only: %v", err)

	// Probes at the manifest's paths and ports.
	for name, pr := range map[string]*corev1.Probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
		g.Expect(pr).NotTo(BeNil(), name)
		g.Expect(pr.HTTPGet).NotTo(BeNil(), name)
		u := fmt.Sprintf("http://127.0.0.1:%d%s", containerPort(t, c, pr.HTTPGet.Port), pr.HTTPGet.Path)
		g.Eventually(func() (int, error) { return httpStatus(http.DefaultClient, u, "") }, timeout).Should(Equal(http.StatusOK), "%s probe %s", name, u)
	}

	// Metrics at the manifest's metrics port, HTTPS with the API server's
	// authentication and authorization: a caller bound to the shipped
	// metrics-reader role (as Prometheus would be) reads them, others not.
	// The serving certificate is the manager's self-signed one; the shipped
	// ServiceMonitor skips verification the same way.
	metricsURL := fmt.Sprintf("https://127.0.0.1:%d/metrics", containerPort(t, c, intstr.FromString("metrics")))
	insecure := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // self-signed, see above
	reader := serviceAccountToken(t, "default", "metrics-scraper")
	stranger := serviceAccountToken(t, "default", "metrics-stranger")
	create(t, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "pod-test-metrics-scraper"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: metricsReaderRole(t, shipped)},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Namespace: "default", Name: "metrics-scraper"}}})
	g.Eventually(func() (int, error) { return httpStatus(insecure, metricsURL, "") }, timeout).Should(Equal(http.StatusUnauthorized))
	g.Eventually(func() (int, error) { return httpStatus(insecure, metricsURL, stranger) }, timeout).Should(Equal(http.StatusForbidden))
	g.Eventually(func() (int, error) { return httpStatus(insecure, metricsURL, reader) }, timeout).Should(Equal(http.StatusOK))

	// The webhook server serves the certificate from the Secret volume on
	// the manifest's webhook port.
	webhookAddr := fmt.Sprintf("127.0.0.1:%d", containerPort(t, c, intstr.FromString("webhook")))
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(servingPEM)
	g.Eventually(func() error {
		conn, err := tls.Dial("tcp", webhookAddr, &tls.Config{RootCAs: pool, ServerName: dnsNames[0]})
		if err == nil {
			conn.Close()
		}
		return err
	}, timeout).Should(Succeed())

	// The push, over SSH with the host key verified against the Secret.
	approveAll(t, []*peeringv1.PeeringRequest{pr})
	established(t, pr)
	cfg, err := frr.Vtysh("show running-config")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(cfg).To(ContainSubstring(fmt.Sprintf("neighbor %s remote-as 8763", pdbtest.FRRLabPeer.Addr)))

	// It could write where the manifest lets it: the PeeringDB cache file.
	cacheFile := flagValue(c.Args, "--peeringdb-cache-file")
	g.Expect(cacheFile).NotTo(BeEmpty())
	g.Eventually(func() error { _, err := os.Stat(filepath.Join(proot, cacheFile)); return err }, timeout).Should(Succeed())
	// Metrics show real work: this replica leads and reconciled routers.
	g.Eventually(func(g Gomega) {
		body, err := httpBody(insecure, metricsURL, reader)
		g.Expect(err).NotTo(HaveOccurred())
		parser := expfmt.NewTextParser(model.UTF8Validation)
		mfs, err := parser.TextToMetricFamilies(strings.NewReader(body))
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(mfs["leader_election_master_status"].GetMetric()).To(ContainElement(
			WithTransform(func(m *dto.Metric) float64 { return m.GetGauge().GetValue() }, Equal(1.0))))
		routers := 0.0
		for _, m := range mfs["controller_runtime_reconcile_total"].GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "controller" && l.GetValue() == "router" {
					routers += m.GetCounter().GetValue()
				}
			}
		}
		g.Expect(routers).To(BeNumerically(">", 0))
	}, timeout).Should(Succeed())
	log, err := os.ReadFile(p.logPath)
	g.Expect(err).NotTo(HaveOccurred())
	for _, bad := range []string{"is forbidden", "read-only file system", "DISABLED", frr.Password} {
		g.Expect(string(log)).NotTo(ContainSubstring(bad), "manager log")
	}
}

// requireTools skips (fails with CI=true) when a program is missing.
func requireTools(t *testing.T, names ...string) {
	t.Helper()
	var missing []string
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			missing = append(missing, n)
		}
	}
	if len(missing) == 0 {
		return
	}
	msg := fmt.Sprintf("missing %s (util-linux, coreutils)", strings.Join(missing, ", "))
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// manifests are the documents kustomize renders.
type manifests []*unstructured.Unstructured

func renderKustomization(t *testing.T, root, dir string) manifests {
	t.Helper()
	// bin/kubectl is built with kube-apiserver (make controlplane): the
	// same kustomize `make deploy` uses.
	out, err := exec.Command(filepath.Join(root, "bin", "kubectl"), "kustomize", filepath.Join(root, dir)).Output()
	if err != nil {
		t.Fatalf("kubectl kustomize %s: %v", dir, err)
	}
	var ms manifests
	for _, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(out), -1) {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		ms = append(ms, u)
	}
	return ms
}

func (ms manifests) all(kind string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, u := range ms {
		if u.GetKind() == kind {
			out = append(out, u.DeepCopy())
		}
	}
	return out
}

// decode strictly decodes the one object of kind (and name, if given):
// a misspelt field would be dropped by the API server without a word.
func (ms manifests) decode(t *testing.T, kind, name string, into any) {
	t.Helper()
	var found []*unstructured.Unstructured
	for _, u := range ms.all(kind) {
		if name == "" || u.GetName() == name {
			found = append(found, u)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want one %s %q in the rendered manifests, found %d", kind, name, len(found))
	}
	b, err := json.Marshal(found[0].Object)
	if err == nil {
		err = yaml.UnmarshalStrict(b, into)
	}
	if err != nil {
		t.Fatalf("%s %s: %v", kind, found[0].GetName(), err)
	}
}

// readManagerYAML decodes the Deployment of config/manager/manager.yaml.
func readManagerYAML(t *testing.T, file string) *appsv1.Deployment {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(b), -1) {
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if tm.Kind == "Deployment" {
			d := &appsv1.Deployment{}
			if err := yaml.UnmarshalStrict([]byte(doc), d); err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			return d
		}
	}
	t.Fatalf("%s has no Deployment", file)
	return nil
}

// managerContainer is the container kubectl defaults to.
func managerContainer(t *testing.T, d *appsv1.Deployment) *corev1.Container {
	t.Helper()
	name := d.Spec.Template.Annotations["kubectl.kubernetes.io/default-container"]
	for i := range d.Spec.Template.Spec.Containers {
		if c := &d.Spec.Template.Spec.Containers[i]; c.Name == name {
			return c
		}
	}
	t.Fatalf("Deployment %s has no container %q", d.Name, name)
	return nil
}

// image is what the Dockerfile says about the final image.
type image struct {
	base       string            // FROM of the final stage
	user       string            // USER of the final stage
	entrypoint []string          // ENTRYPOINT of the final stage (exec form)
	copied     map[string]string // final stage: destination → source, COPY --from
	build      string            // the RUN that runs go build
}

func readDockerfile(t *testing.T, file string) image {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var img image
	for _, l := range strings.Split(strings.ReplaceAll(string(b), "\\\n", " "), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		kw, rest, _ := strings.Cut(l, " ")
		rest = strings.TrimSpace(rest)
		switch strings.ToUpper(kw) {
		case "FROM":
			img = image{base: rest, copied: map[string]string{}, build: img.build}
		case "USER":
			img.user = rest
		case "ENTRYPOINT":
			img.entrypoint = nil
			if err := json.Unmarshal([]byte(rest), &img.entrypoint); err != nil {
				t.Fatalf("Dockerfile: ENTRYPOINT must be the exec form (no shell in the image): %s", rest)
			}
		case "COPY":
			if f := strings.Fields(rest); len(f) == 3 && strings.HasPrefix(f[0], "--from=") {
				img.copied[f[2]] = f[1]
			}
		case "RUN":
			if strings.Contains(rest, "go build") {
				img.build = rest
			}
		}
	}
	return img
}

// checkImage checks the Dockerfile against the container and returns the
// uid and gid the container runs as.
func checkImage(t *testing.T, img image, d *appsv1.Deployment, c *corev1.Container) (uid, gid int) {
	t.Helper()
	g := NewWithT(t)
	// The manifest's command replaces ENTRYPOINT: they must agree, or the
	// manifest runs something the image does not ship.
	g.Expect(img.entrypoint).NotTo(BeEmpty(), "Dockerfile ENTRYPOINT")
	if c.Command != nil {
		g.Expect(c.Command).To(Equal(img.entrypoint), "container command vs Dockerfile ENTRYPOINT")
	}
	bin := img.entrypoint[0]
	src, ok := img.copied[bin]
	g.Expect(ok).To(BeTrue(), "the final stage must COPY the binary to %s", bin)
	g.Expect(img.build).To(ContainSubstring("-o "+src), "the build must write %s", src)
	g.Expect(img.build).To(MatchRegexp(`\./cmd/manager\b`))
	if strings.Contains(img.base, "static") {
		g.Expect(img.build).To(ContainSubstring("CGO_ENABLED=0"), "a static base has no libc")
	}
	for _, m := range c.VolumeMounts {
		g.Expect(bin == m.MountPath || strings.HasPrefix(bin, strings.TrimSuffix(m.MountPath, "/")+"/")).To(BeFalse(), "volume %s hides the binary", m.Name)
	}

	// The uid: the image's USER unless the manifest sets runAsUser. The
	// kubelet can only enforce runAsNonRoot on a numeric USER.
	u, grp, _ := strings.Cut(img.user, ":")
	uid, err := strconv.Atoi(u)
	g.Expect(err).NotTo(HaveOccurred(), "Dockerfile USER %q must be numeric for runAsNonRoot", img.user)
	gid = uid
	if grp != "" {
		gid, err = strconv.Atoi(grp)
		g.Expect(err).NotTo(HaveOccurred(), "Dockerfile USER group")
	}
	// The manifest leaves the uid to the image (one place to change it);
	// an override must agree, or the image's files (its home) are not the
	// process's.
	ps, cs := d.Spec.Template.Spec.SecurityContext, c.SecurityContext
	g.Expect(ps).NotTo(BeNil())
	g.Expect(cs).NotTo(BeNil())
	for where, id := range map[string]*int64{"pod runAsUser": ps.RunAsUser, "container runAsUser": cs.RunAsUser} {
		g.Expect(id == nil || int(*id) == uid).To(BeTrue(), "%s differs from the Dockerfile's USER %s", where, img.user)
	}
	for where, id := range map[string]*int64{"pod runAsGroup": ps.RunAsGroup, "container runAsGroup": cs.RunAsGroup} {
		g.Expect(id == nil || int(*id) == gid).To(BeTrue(), "%s differs from the Dockerfile's USER %s", where, img.user)
	}
	nonRoot := (ps.RunAsNonRoot != nil && *ps.RunAsNonRoot) || (cs.RunAsNonRoot != nil && *cs.RunAsNonRoot)
	g.Expect(nonRoot).To(BeTrue(), "runAsNonRoot")
	g.Expect(uid).NotTo(BeZero(), "runAsNonRoot: the kubelet refuses uid 0")
	t.Logf("uid %d gid %d: the Dockerfile's USER", uid, gid)
	return uid, gid
}

// checkWiring checks what the Pod depends on in the other manifests: the
// Secret of its certificate volume is the one cert-manager issues, by an
// Issuer that exists; its Services target its ports.
func checkWiring(t *testing.T, ms manifests, d *appsv1.Deployment, c *corev1.Container) {
	t.Helper()
	g := NewWithT(t)
	cert := &unstructured.Unstructured{}
	ms.decode(t, "Certificate", "", cert)
	secretName, _, _ := unstructured.NestedString(cert.Object, "spec", "secretName")
	issuer, _, _ := unstructured.NestedString(cert.Object, "spec", "issuerRef", "name")
	issuerKind, _, _ := unstructured.NestedString(cert.Object, "spec", "issuerRef", "kind")
	var issuers []string
	for _, u := range ms.all(issuerKind) {
		issuers = append(issuers, u.GetName())
	}
	g.Expect(issuers).To(ContainElement(issuer), "the Certificate's issuerRef must name a rendered %s", issuerKind)

	certDir := flagValue(c.Args, "--webhook-cert-dir")
	g.Expect(certDir).NotTo(BeEmpty(), "--webhook-cert-dir")
	var certVolume string
	for _, m := range c.VolumeMounts {
		if path.Clean(m.MountPath) == path.Clean(certDir) {
			certVolume = m.Name
		}
	}
	g.Expect(certVolume).NotTo(BeEmpty(), "no volume at --webhook-cert-dir %s", certDir)
	for _, v := range d.Spec.Template.Spec.Volumes {
		if v.Name == certVolume {
			g.Expect(v.Secret).NotTo(BeNil(), "volume %s", v.Name)
			g.Expect(v.Secret.SecretName).To(Equal(secretName), "volume %s must mount the Certificate's Secret", v.Name)
		}
	}

	// Each Service selecting the Pod targets one of its declared ports;
	// the manager's flags listen on them.
	for _, u := range ms.all("Service") {
		svc := &corev1.Service{}
		ms.decode(t, "Service", u.GetName(), svc)
		if !selects(svc.Spec.Selector, d.Spec.Template.Labels) {
			continue
		}
		for _, sp := range svc.Spec.Ports {
			_, ok := declaredPort(c, sp.TargetPort)
			g.Expect(ok).To(BeTrue(), "Service %s targets %s, which the container does not declare", svc.Name, sp.TargetPort.String())
		}
		if strings.Contains(svc.Name, "webhook") {
			dns := svc.Name + "." + svc.Namespace + ".svc"
			names, _, _ := unstructured.NestedStringSlice(cert.Object, "spec", "dnsNames")
			g.Expect(names).To(ContainElement(dns), "the serving certificate must name the webhook Service")
		}
	}
	g.Expect(addrPort(t, flagValue(c.Args, "--metrics-bind-address"))).To(Equal(containerPort(t, c, intstr.FromString("metrics"))))
	for _, p := range []*corev1.Probe{c.LivenessProbe, c.ReadinessProbe} {
		g.Expect(addrPort(t, flagValue(c.Args, "--health-probe-bind-address"))).To(Equal(containerPort(t, c, p.HTTPGet.Port)))
	}
}

func selects(sel, labels map[string]string) bool {
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// flagValue is the last value of --name=value in args ("" if absent).
func flagValue(args []string, name string) string {
	v := ""
	for _, a := range args {
		if s, ok := strings.CutPrefix(a, name+"="); ok {
			v = s
		}
	}
	return v
}

func addrPort(t *testing.T, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("address %q: %v", addr, err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatalf("address %q: %v", addr, err)
	}
	return n
}

// containerPort resolves a probe's port (number or name); a number need
// not be declared.
func containerPort(t *testing.T, c *corev1.Container, p intstr.IntOrString) int {
	t.Helper()
	if n, ok := declaredPort(c, p); ok {
		return n
	}
	if p.Type == intstr.Int {
		return int(p.IntVal)
	}
	t.Fatalf("container %s has no port %q", c.Name, p.StrVal)
	return 0
}

// declaredPort finds p (number or name) among the container's ports.
func declaredPort(c *corev1.Container, p intstr.IntOrString) (int, bool) {
	for _, cp := range c.Ports {
		if (p.Type == intstr.String && cp.Name == p.StrVal) || (p.Type == intstr.Int && cp.ContainerPort == p.IntVal) {
			return int(cp.ContainerPort), true
		}
	}
	return 0, false
}

func metricsReaderRole(t *testing.T, ms manifests) string {
	t.Helper()
	for _, u := range ms.all("ClusterRole") {
		r := &rbacv1.ClusterRole{}
		ms.decode(t, "ClusterRole", u.GetName(), r)
		for _, rule := range r.Rules {
			if slices.Contains(rule.NonResourceURLs, "/metrics") && slices.Contains(rule.Verbs, "get") {
				return r.Name
			}
		}
	}
	t.Fatal("no shipped ClusterRole grants get on /metrics")
	return ""
}

// serviceAccountToken creates a ServiceAccount and returns a token of it.
func serviceAccountToken(t *testing.T, ns, name string) string {
	t.Helper()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(sa), sa); apierrors.IsNotFound(err) {
		create(t, sa)
	}
	tr := &authnv1.TokenRequest{}
	if err := k8s.SubResource("token").Create(context.Background(), sa, tr); err != nil {
		t.Fatalf("token for %s/%s: %v", ns, name, err)
	}
	return tr.Status.Token
}

func httpStatus(c *http.Client, u, token string) (int, error) {
	resp, err := httpGet(c, u, token)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

func httpBody(c *http.Client, u, token string) (string, error) {
	resp, err := httpGet(c, u, token)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s: %s", u, resp.Status)
	}
	return string(b), err
}

func httpGet(c *http.Client, u, token string) (*http.Response, error) {
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return c.Do(req)
}

// selfSigned returns a serving certificate and key for names, as
// cert-manager's self-signed Issuer would.
func selfSigned(t *testing.T, names []string) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: names[0]}, DNSNames: names,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
}

func procStatus(t *testing.T, pid int) map[string]string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	st := map[string]string{}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok {
			st[k] = strings.TrimSpace(v)
		}
	}
	return st
}

// startPod runs the container's command as the kubelet and a container
// runtime would: in a private mount namespace, on a root of its own (a
// tmpfs holding the binary, like the distroless image) that is remounted
// read-only, with the declared volumes and the ServiceAccount's token
// mounted, the declared env, as uid:gid with no capabilities. The network
// is the host's, so the declared ports must be free.
func startPod(t *testing.T, d *appsv1.Deployment, c *corev1.Container, uid, gid int, args []string) *manager {
	t.Helper()
	ctx := context.Background()
	ns := d.Namespace
	ports := []int{containerPort(t, c, c.LivenessProbe.HTTPGet.Port), containerPort(t, c, c.ReadinessProbe.HTTPGet.Port)}
	for _, p := range c.Ports {
		ports = append(ports, int(p.ContainerPort))
	}
	for _, p := range ports {
		l, err := net.Listen("tcp", fmt.Sprintf(":%d", p))
		if err != nil {
			t.Fatalf("port %d of the Pod is taken on this machine: %v", p, err)
		}
		l.Close()
	}
	work := t.TempDir()
	rootDir := filepath.Join(work, "root") // the mount point; stays empty outside the namespace
	stage := filepath.Join(work, "stage")  // files the script copies into the Pod's tmpfs
	for _, dir := range []string{rootDir, stage} {
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
	}

	var sh []string
	add := func(format string, a ...any) { sh = append(sh, fmt.Sprintf(format, a...)) }
	r := func(p string) string { return shq(filepath.Join(rootDir, p)) }
	add("set -eu")
	add("mount -t tmpfs -o mode=0755 pod-root %s", shq(rootDir))
	add("mkdir -p %s %s %s %s %s", r("proc"), r("sys"), r("dev"), r("tmp"), r("etc"))
	add("chmod 1777 %s", r("tmp"))
	// A distroless root: the binary, a passwd naming the USER, /tmp.
	add("printf 'root:x:0:0:root:/root:/sbin/nologin\\nnonroot:x:%d:%d:nonroot:/home/nonroot:/sbin/nologin\\n' > %s", uid, gid, r("etc/passwd"))
	add("printf 'root:x:0:\\nnonroot:x:%d:\\n' > %s", gid, r("etc/group"))
	add("mkdir -p %s && chown %d:%d %s && chmod 0700 %s", r("home/nonroot"), uid, gid, r("home/nonroot"), r("home/nonroot"))
	bin := c.Command[0]
	add("mkdir -p %s && touch %s", r(path.Dir(bin)), r(bin))
	add("mount --bind %s %s && mount -o remount,bind,ro %s", shq(managerBin), r(bin), r(bin))
	// What a runtime gives every container: /proc, /sys read-only, a few
	// devices.
	add("mount -t proc proc %s 2>/dev/null || mount --rbind /proc %s", r("proc"), r("proc"))
	add("mount --bind /sys %s && mount -o remount,bind,ro %s", r("sys"), r("sys"))
	add("mount -t tmpfs -o mode=0755,nosuid dev %s", r("dev"))
	for _, dev := range []string{"null", "zero", "full", "random", "urandom", "tty"} {
		add("touch %s && mount --bind /dev/%s %s", r("dev/"+dev), dev, r("dev/"+dev))
	}

	// The declared volumes, then the ServiceAccount's.
	vols := map[string]corev1.Volume{}
	for _, v := range d.Spec.Template.Spec.Volumes {
		vols[v.Name] = v
	}
	mountFiles := func(name, at string, files map[string][]byte, mode os.FileMode) {
		dir := filepath.Join(stage, name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for k, b := range files {
			if err := os.WriteFile(filepath.Join(dir, k), b, mode); err != nil {
				t.Fatal(err)
			}
		}
		add("mkdir -p %s && mount -t tmpfs -o mode=0755 %s %s", r(at), shq(name), r(at))
		add("cp -Rp %s/. %s && mount -o remount,ro %s", shq(dir), r(at), r(at))
	}
	for _, m := range c.VolumeMounts {
		v, ok := vols[m.Name]
		if !ok {
			t.Fatalf("volumeMount %s names no volume", m.Name)
		}
		if m.SubPath != "" || m.SubPathExpr != "" {
			t.Fatalf("volumeMount %s: subPath is not emulated", m.Name)
		}
		switch {
		case v.EmptyDir != nil:
			// The kubelet makes emptyDirs world-writable.
			add("mkdir -p %s && mount -t tmpfs -o mode=0777 %s %s", r(m.MountPath), shq(m.Name), r(m.MountPath))
			if m.ReadOnly {
				add("mount -o remount,ro %s", r(m.MountPath))
			}
		case v.Secret != nil:
			s := &corev1.Secret{}
			err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: v.Secret.SecretName}, s)
			if err != nil {
				t.Fatalf("volume %s: Secret %s/%s: %v (the Pod would not start)", m.Name, ns, v.Secret.SecretName, err)
			}
			mode := os.FileMode(0o644)
			if v.Secret.DefaultMode != nil {
				mode = os.FileMode(*v.Secret.DefaultMode)
			}
			if len(v.Secret.Items) > 0 {
				t.Fatalf("volume %s: items are not emulated", m.Name)
			}
			mountFiles(m.Name, m.MountPath, s.Data, mode) // always read-only
		default:
			t.Fatalf("volume %s: only emptyDir and secret volumes are emulated", m.Name)
		}
	}
	if a := d.Spec.Template.Spec.AutomountServiceAccountToken; a != nil && !*a {
		t.Fatal("automountServiceAccountToken is off: the manager has no in-cluster credentials")
	}
	token := serviceAccountToken(t, ns, d.Spec.Template.Spec.ServiceAccountName)
	mountFiles("kube-api-access", "/var/run/secrets/kubernetes.io/serviceaccount",
		map[string][]byte{"token": []byte(token), "ca.crt": restCfg.CAData, "namespace": []byte(ns)}, 0o644)

	if ro := c.SecurityContext.ReadOnlyRootFilesystem; ro != nil && *ro {
		add("mount -o remount,ro %s", shq(rootDir))
	}
	// Drop privileges last: chroot needs CAP_SYS_CHROOT, so the bounding
	// set keeps what chroot needs to switch user (no new privileges, no
	// capabilities once it runs as uid).
	priv := []string{"setpriv", "--inh-caps=-all"}
	if ape := c.SecurityContext.AllowPrivilegeEscalation; ape != nil && !*ape {
		priv = append(priv, "--no-new-privs")
	}
	if caps := c.SecurityContext.Capabilities; caps != nil && slices.Contains(caps.Drop, "ALL") {
		priv = append(priv, "--bounding-set=-all,+sys_chroot,+setuid,+setgid")
	}
	add(`exec %s -- chroot --userspec=%d:%d %s %s "$@"`, strings.Join(priv, " "), uid, gid, shq(rootDir), shq(bin))

	// The env the container gets: the runtime's, the kubelet's, the
	// manifest's (a missing optional Secret key is left out).
	u, err := url.Parse(restCfg.Host)
	if err != nil {
		t.Fatal(err)
	}
	env := []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/home/nonroot",
		"HOSTNAME=" + d.Name + "-pod-test", "KUBERNETES_SERVICE_HOST=" + u.Hostname(), "KUBERNETES_SERVICE_PORT=" + u.Port()}
	if len(c.EnvFrom) > 0 {
		t.Fatal("envFrom is not emulated")
	}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			env = append(env, e.Name+"="+e.Value)
		case e.ValueFrom.SecretKeyRef != nil:
			ref := e.ValueFrom.SecretKeyRef
			s := &corev1.Secret{}
			err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: ref.Name}, s)
			if v, ok := s.Data[ref.Key]; err == nil && ok {
				env = append(env, e.Name+"="+string(v))
			} else if ref.Optional == nil || !*ref.Optional {
				t.Fatalf("env %s: Secret %s key %s missing (the Pod would not start)", e.Name, ref.Name, ref.Key)
			}
		default:
			t.Fatalf("env %s: only values and secretKeyRef are emulated", e.Name)
		}
	}

	m := &manager{name: "pod", exited: make(chan struct{})}
	m.logPath = filepath.Join(work, "manager.log")
	if d := os.Getenv("PEERING_TEST_LOGDIR"); d != "" {
		m.logPath = filepath.Join(d, t.Name()+"-pod.log")
	}
	logf, err := os.Create(m.logPath)
	if err != nil {
		t.Fatal(err)
	}
	script := strings.Join(sh, "\n")
	// unshare, sh, setpriv and chroot each exec the next: the pid is the
	// manager's, and its mount namespace (every mount above) goes with it.
	m.cmd = exec.Command("unshare", append([]string{"--mount", "--propagation", "private", "--", "sh", "-c", script, "pod"}, append(slices.Clone(c.Command[1:]), args...)...)...)
	m.cmd.Env = env
	m.start(t, logf, func() string {
		return fmt.Sprintf("--- pod script ---\n%s\n--- manager log (last lines) ---\n%s", script, tail(m.logPath, 80))
	})
	// Started when the process is the manager (the mounts are done).
	NewWithT(t).Eventually(func() (string, error) {
		select {
		case <-m.exited:
			return "", StopTrying("the Pod exited at start:\n" + tail(m.logPath, 40))
		default:
		}
		comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", m.cmd.Process.Pid))
		return strings.TrimSpace(string(comm)), err
	}, timeout).Should(Equal(path.Base(bin)))
	entries, err := os.ReadDir(rootDir)
	if err != nil || len(entries) != 0 {
		t.Fatalf("the Pod's mounts leaked into the test's namespace: %v %v", entries, err)
	}
	return m
}

// shq quotes s for sh.
func shq(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
