package controllers_test

import (
	"path/filepath"
	"strings"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/peering-operator/peering-operator/internal/testenv"
)

// The samples apply cleanly to a real API server, and the deployment
// manifests build and pass server-side validation.
func TestConfigApplies(t *testing.T) {
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	g := NewWithT(t)
	out := kubectl(t, "apply", "--dry-run=server", "-k", filepath.Join(root, "config", "samples"))
	for _, want := range []string{"router.peering.dev/rs1", "ixport.peering.dev/decix-fra", "peeringrequest.peering.dev/as6939-decix-fra"} {
		g.Expect(out).To(ContainSubstring(want))
	}
	out = kubectl(t, "apply", "--dry-run=server", "-k", filepath.Join(root, "config", "samples", "lab"))
	g.Expect(out).To(ContainSubstring("ixport.peering.dev/lab-ix"))
	out = kubectl(t, "kustomize", filepath.Join(root, "config", "default"))
	g.Expect(out).To(ContainSubstring("kind: Deployment"))
	// Every generated CRD is deployed (PrefixList was not, until this test
	// counted the files).
	bases, err := filepath.Glob(filepath.Join(root, "config", "crd", "bases", "*.yaml"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(strings.Count(out, "kind: CustomResourceDefinition")).To(Equal(len(bases)), "config/crd/kustomization.yaml must list every file of config/crd/bases")
	g.Expect(out).To(ContainSubstring("kind: ValidatingWebhookConfiguration"))
	g.Expect(out).To(ContainSubstring("cert-manager.io/inject-ca-from: peering-operator-system/peering-operator-serving-cert"))
	g.Expect(out).To(ContainSubstring("name: peering-operator-peering-approver"))
}
