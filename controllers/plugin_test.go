package controllers_test

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"

	. "github.com/onsi/gomega"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/peering-operator/peering-operator/internal/testenv"
)

// buildPlugin builds kubectl-peering for a test that runs it as a process.
func buildPlugin(t *testing.T) string {
	t.Helper()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	plugin := filepath.Join(t.TempDir(), "kubectl-peering")
	if out, err := exec.Command("go", "build", "-o", plugin, filepath.Join(root, "cmd", "kubectl-peering")).CombinedOutput(); err != nil {
		t.Fatalf("build kubectl-peering: %v\n%s", err, out)
	}
	return plugin
}

// userKubeconfig writes a kubeconfig for a test user (real RBAC applies).
func userKubeconfig(t *testing.T, user string) string {
	t.Helper()
	u, err := testEnv.AddUser(envtest.User{Name: user}, restCfg)
	if err != nil {
		t.Fatal(err)
	}
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	if err := testenv.WriteKubeconfig(u.Config(), kc); err != nil {
		t.Fatal(err)
	}
	return kc
}

// `kubectl peering approve` against the real webhook: a NOC user without the
// approve permission gets the webhook's refusal verbatim, one with it
// approves, and the approval records who.
func TestPluginApproveThroughTheWebhook(t *testing.T) {
	plugin := buildPlugin(t)
	addr, port := listener(t)
	o := newObjects(t, addr, port)
	create(t, o.router)
	create(t, o.port)
	create(t, o.request)
	expectCondition(t, o.request, "Ready", metav1.ConditionFalse, peeringv1.ReasonWaitingForApproval)

	const carol, dave = "noc-carol", "noc-dave"
	grant(t, carol, readWritePRs, writeStatus)
	grant(t, dave, readWritePRs, writeStatus,
		rbacv1.PolicyRule{APIGroups: []string{"peering.dev"}, Resources: []string{"ixports"}, Verbs: []string{"approve"}, ResourceNames: []string{o.port.Name}})
	run := func(user string, args ...string) (string, error) {
		out, err := exec.Command(plugin, append(args, "--kubeconfig", userKubeconfig(t, user), "-n", "default")...).CombinedOutput()
		return string(out), err
	}
	g := NewWithT(t)
	out, err := run(carol, "approve", o.request.Name, "--reason", "CHG-1")
	g.Expect(err).To(HaveOccurred(), out)
	g.Expect(out).To(ContainSubstring(`needs verb "approve" on ixports/` + o.port.Name))

	out, err = run(dave, "approve", o.request.Name, "--reason", "CHG-1")
	g.Expect(err).NotTo(HaveOccurred(), out)
	g.Eventually(func(g Gomega) {
		a := getPR(g, o.request).Status.Approval
		g.Expect(a.State).To(Equal("Approved"))
		g.Expect(a.User).To(Equal(dave))
		g.Expect(a.Reason).To(Equal("CHG-1"))
	}, timeout).Should(Succeed())

	out, err = run(dave, "approve", o.request.Name, "--reason", "again")
	g.Expect(err).To(HaveOccurred())
	g.Expect(strings.ToLower(out)).To(ContainSubstring(dave))
}

// `kubectl peering --as noc-erin approve ...` against the real webhook and
// RBAC: the shift lead's own credentials may only impersonate, so the
// approval is authorised as, and recorded for, the impersonated user. The
// API server impersonates (RBAC checks the lead's "impersonate" right), the
// webhook's SubjectAccessReview checks the impersonated user's "approve" on
// the IXPort, and status.approval.user names that user, not the lead.
func TestPluginApproveAsImpersonatedUser(t *testing.T) {
	plugin := buildPlugin(t)
	addr, port := listener(t)
	o := newObjects(t, addr, port)
	create(t, o.router)
	create(t, o.port)
	create(t, o.request)
	expectCondition(t, o.request, "Ready", metav1.ConditionFalse, peeringv1.ReasonWaitingForApproval)

	const lead, erin, frank, mallory = "noc-lead", "noc-erin", "noc-frank", "noc-mallory"
	// The lead holds no peering rights of their own, only impersonation of
	// the two NOC engineers.
	grant(t, lead, rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"users"}, Verbs: []string{"impersonate"}, ResourceNames: []string{erin, frank}})
	grant(t, erin, readWritePRs, writeStatus,
		rbacv1.PolicyRule{APIGroups: []string{"peering.dev"}, Resources: []string{"ixports"}, Verbs: []string{"approve"}, ResourceNames: []string{o.port.Name}})
	grant(t, frank, readWritePRs, writeStatus) // may write status, may not approve
	grant(t, mallory, readWritePRs, writeStatus)
	run := func(user string, args ...string) (string, error) {
		out, err := exec.Command(plugin, append([]string{"--kubeconfig", userKubeconfig(t, user), "-n", "default"}, args...)...).CombinedOutput()
		return string(out), err
	}
	g := NewWithT(t)

	// The lead's own identity cannot even read the request.
	out, err := run(lead, "approve", o.request.Name, "--reason", "CHG-7")
	g.Expect(err).To(HaveOccurred(), out)
	g.Expect(out).To(ContainSubstring(`User "noc-lead" cannot get resource "peeringrequests"`))

	// As frank: RBAC lets the status write through, the webhook refuses it
	// by frank's name.
	out, err = run(lead, "--as", frank, "approve", o.request.Name, "--reason", "CHG-7")
	g.Expect(err).To(HaveOccurred(), out)
	g.Expect(out).To(ContainSubstring(frank))
	g.Expect(out).To(ContainSubstring(`needs verb "approve" on ixports/` + o.port.Name))

	// Someone not allowed to impersonate gets nowhere with --as.
	out, err = run(mallory, "--as", erin, "approve", o.request.Name, "--reason", "CHG-7")
	g.Expect(err).To(HaveOccurred(), out)
	// The refusal reaches the client without a message (it comes during
	// discovery); the plugin says what to check.
	g.Expect(out).To(ContainSubstring("403 Forbidden"))
	g.Expect(out).To(ContainSubstring("allowed to impersonate"))
	g.Expect(meta.FindStatusCondition(getPR(g, o.request).Status.Conditions, "Approved")).To(BeNil())

	// As erin (--as before the verb): approved, and recorded as erin's act.
	out, err = run(lead, "--as", erin, "approve", o.request.Name, "--reason", "CHG-7")
	g.Expect(err).NotTo(HaveOccurred(), out)
	g.Expect(out).To(ContainSubstring("approved"))
	g.Eventually(func(g Gomega) {
		a := getPR(g, o.request).Status.Approval
		g.Expect(a.State).To(Equal("Approved"))
		g.Expect(a.User).To(Equal(erin))
		g.Expect(a.Reason).To(Equal("CHG-7"))
	}, timeout).Should(Succeed())
}
