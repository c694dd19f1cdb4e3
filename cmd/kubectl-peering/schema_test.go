package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/peering-operator/peering-operator/internal/crdschema"
)

// A file the API server refuses fails validate with the API server's own
// message: the same documents go to `kubectl peering validate` and, with
// strict field validation as kubectl apply, to the real API server.
func TestValidateSaysWhatTheAPIServerSays(t *testing.T) {
	for _, tc := range []struct{ name, doc, field string }{
		{"hostile description", `apiVersion: peering.dev/v1alpha1
kind: PeeringRequest
metadata: {name: hostile, namespace: default}
spec:
  peerASN: 8763
  ixPortRef: {name: decix-fra}
  description: "DENIC | exit; reload! \"x\""
`, "spec.description"},
		{"peerASN as text", `apiVersion: peering.dev/v1alpha1
kind: PeeringRequest
metadata: {name: asn-text, namespace: default}
spec: {peerASN: "8763", ixPortRef: {name: decix-fra}}
`, "spec.peerASN"},
		{"a misspelt field", `apiVersion: peering.dev/v1alpha1
kind: PeeringRequest
metadata: {name: misspelt, namespace: default}
spec: {peerASN: 8763, ixPortRef: {name: decix-fra}, localPref: 200}
`, "spec.localPref"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "pr.yaml")
			if err := os.WriteFile(file, []byte(tc.doc), 0o644); err != nil {
				t.Fatal(err)
			}
			out, _, err := run(t, args([]string{"validate", "-f", file, "--ix-ports", "testdata/validate/ixports.yaml"}, pdbFlagsFor(t))...)
			if err == nil {
				t.Fatalf("validate passed it:\n%s", out)
			}
			obj, err := crdschema.FromYAML([]byte(tc.doc))
			if err != nil {
				t.Fatal(err)
			}
			apiErr := k8s.Create(context.Background(), &unstructured.Unstructured{Object: obj}, client.FieldValidation("Strict"))
			if apiErr == nil {
				t.Fatal("the API server accepted it")
			}
			var said []string
			for line := range strings.SplitSeq(out, "\n") {
				if _, msg, ok := strings.Cut(line, ": error: "); ok && strings.Contains(msg, tc.field) {
					_, msg, _ = strings.Cut(msg, ": ") // the reason
					said = append(said, msg)
				}
			}
			if len(said) == 0 {
				t.Fatalf("validate says nothing of %s:\n%s", tc.field, out)
			}
			for _, msg := range said {
				// Strict decoding words unknown fields its own way; the
				// field's path is what both name.
				if strings.Contains(msg, "unknown field") {
					if !strings.Contains(apiErr.Error(), `unknown field "`+tc.field+`"`) {
						t.Errorf("validate: %s\nthe API server: %v", msg, apiErr)
					}
					continue
				}
				if !strings.Contains(apiErr.Error(), msg) {
					t.Errorf("validate says %q, the API server something else:\n%v", msg, apiErr)
				}
			}
		})
	}
}
