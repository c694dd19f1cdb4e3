package controllers_test

import (
	"context"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
	"github.com/peering-operator/peering-operator/internal/crdschema"
)

// With the operator's webhooks in the path, what the CRD refuses is refused
// at apply with the schema's own field message: the mutating webhook lets
// the API server's schema speak (it used to answer a type error with Go's
// decoding error), and a description a router cannot take is refused at
// admission, not after approval. `kubectl peering validate` evaluates the
// same CRD (internal/crdschema): its message is the API server's.
func TestSchemaSpeaksAtAdmission(t *testing.T) {
	schemas, err := crdschema.Operator()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, doc string
		want      []string
	}{
		{"peerASN as a string", `apiVersion: peering.dev/v1alpha1
kind: PeeringRequest
metadata: {name: adm-asn-string, namespace: default}
spec: {peerASN: "13335", ixPortRef: {name: decix-fra}}
`, []string{"spec.peerASN", "must be of type integer"}},
		{"a hostile description", `apiVersion: peering.dev/v1alpha1
kind: PeeringRequest
metadata: {name: adm-desc, namespace: default}
spec: {peerASN: 13335, ixPortRef: {name: decix-fra}, description: "peer\"; exit; rm |!"}
`, []string{"spec.description", peeringv1.RouterSafeTextMessage}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			obj, err := crdschema.FromYAML([]byte(tc.doc))
			if err != nil {
				t.Fatal(err)
			}
			apiErr := k8s.Create(context.Background(), &unstructured.Unstructured{Object: obj}, client.FieldValidation("Strict"))
			if apiErr == nil {
				t.Fatal("the API server accepted it")
			}
			if strings.Contains(apiErr.Error(), "cannot decode") || strings.Contains(apiErr.Error(), "webhook") {
				t.Errorf("a webhook answered, not the schema: %v", apiErr)
			}
			ours := schemas.Validate(context.Background(), obj)
			if len(ours) == 0 {
				t.Fatalf("crdschema accepted it; the API server said %v", apiErr)
			}
			for _, e := range crdschema.NotSaidBy(apiErr, ours) {
				t.Errorf("crdschema says %q, the API server: %v", e, apiErr)
			}
			for _, w := range tc.want {
				if !strings.Contains(apiErr.Error(), w) {
					t.Errorf("the API server's answer does not mention %q: %v", w, apiErr)
				}
			}
		})
	}
}
