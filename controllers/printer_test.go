package controllers_test

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/peering-operator/peering-operator/internal/testenv"
)

// kubectl runs bin/kubectl against the test API server.
func kubectl(t *testing.T, args ...string) string {
	t.Helper()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	if err := testenv.WriteKubeconfig(restCfg, kc); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(filepath.Join(root, "bin", "kubectl"), append([]string{"--kubeconfig", kc}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// `kubectl get pr` shows what a NOC reads at a glance, and the `peering`
// category lists all three kinds.
func TestPrinterColumnsAndCategory(t *testing.T) {
	addr, port := listener(t)
	o := newObjects(t, addr, port)
	create(t, o.router)
	create(t, o.port)
	create(t, o.request)
	expectCondition(t, o.request, "Ready", metav1.ConditionFalse, peeringv1.ReasonWaitingForApproval)

	out := kubectl(t, "get", "pr", o.request.Name, "-n", "default")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	g := NewWithT(t)
	g.Expect(lines).To(HaveLen(2), out)
	g.Expect(strings.Fields(lines[0])).To(Equal([]string{"NAME", "ASN", "PEER", "IX", "APPROVED", "SESSIONS", "STATE", "AGE"}))
	g.Expect(lines[1]).To(MatchRegexp(`^`+o.request.Name+` +8763 +DENIC eG +`+o.port.Name+` +Pending +0/2 +WaitingForApproval +\d+s$`), out)

	all := kubectl(t, "get", "peering", "-A")
	for _, want := range []string{"router.peering.dev/" + o.router.Name, "ixport.peering.dev/" + o.port.Name, "peeringrequest.peering.dev/" + o.request.Name} {
		g.Expect(all).To(ContainSubstring(want), "kubectl get peering should list %s", want)
	}
	g.Expect(kubectl(t, "get", "ixp", o.port.Name)).To(MatchRegexp(`(?m)^NAME +IX-ID +IX +ROUTER .*\n` + o.port.Name + ` +31 +DE-CIX Frankfurt +` + o.router.Name + ` +80.81.192.10/21 +2001:7f8::fbf4:0:1/64 +1 +True +PortValidated`))
	// kubectl wait works on the Ready condition.
	kubectl(t, "wait", "--for=condition=Ready", "--timeout=20s", "ixport/"+o.port.Name)
}
