package controllers_test

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/peering-operator/peering-operator/controllers"
	"github.com/peering-operator/peering-operator/internal/testenv"
)

// `kubectl peering approve` against the real webhook: a NOC user without the
// approve permission gets the webhook's refusal verbatim, one with it
// approves, and the approval records who.
func TestPluginApproveThroughTheWebhook(t *testing.T) {
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	plugin := filepath.Join(t.TempDir(), "kubectl-peering")
	if out, err := exec.Command("go", "build", "-o", plugin, filepath.Join(root, "cmd", "kubectl-peering")).CombinedOutput(); err != nil {
		t.Fatalf("build kubectl-peering: %v\n%s", err, out)
	}
	addr, port := listener(t)
	o := newObjects(t, addr, port)
	create(t, o.router)
	create(t, o.port)
	create(t, o.request)
	expectCondition(t, o.request, "Ready", metav1.ConditionFalse, controllers.ReasonWaitingForApproval)

	const carol, dave = "noc-carol", "noc-dave"
	grant(t, carol, readWritePRs, writeStatus)
	grant(t, dave, readWritePRs, writeStatus,
		rbacv1.PolicyRule{APIGroups: []string{"peering.dev"}, Resources: []string{"ixports"}, Verbs: []string{"approve"}, ResourceNames: []string{o.port.Name}})
	run := func(user string, args ...string) (string, error) {
		u, err := testEnv.AddUser(envtest.User{Name: user}, restCfg)
		if err != nil {
			t.Fatal(err)
		}
		kc := filepath.Join(t.TempDir(), "kubeconfig")
		if err := testenv.WriteKubeconfig(u.Config(), kc); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(plugin, append(args, "--kubeconfig", kc, "-n", "default")...).CombinedOutput()
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
