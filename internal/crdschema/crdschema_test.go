package crdschema_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
	"github.com/peering-operator/peering-operator/internal/crdschema"
	"github.com/peering-operator/peering-operator/internal/testenv"
)

var k8s client.Client

func TestMain(m *testing.M) { os.Exit(testenv.RunWithClient(m, &k8s)) }

const request = `apiVersion: peering.dev/v1alpha1
kind: PeeringRequest
metadata:
  name: %s
  namespace: default
spec:
  peerASN: 13335
  ixPortRef:
    name: decix-fra
  addresses: ["80.81.192.100", "2001:7f8::3417:0:1"]
`

// cases are documents with what both the API server and Validate must say
// (substrings of every error; none for an accepted document).
var cases = []struct {
	name string
	doc  string
	want []string
}{
	{"a valid request", fmt.Sprintf(request, "ok") + "  description: AS13335 Cloudflare (v4+v6) [FRA]\n", nil},
	{"a valid IXPort", `apiVersion: peering.dev/v1alpha1
kind: IXPort
metadata: {name: decix-fra}
spec: {ix: {peeringdbID: 31}, routerRef: {name: rs1}, ipv4Address: 80.81.192.10/21}
`, nil},
	{"peerASN as a string", strings.Replace(fmt.Sprintf(request, "asn-string"), "13335", `"13335"`, 1),
		[]string{"spec.peerASN", "must be of type integer"}},
	{"AS_TRANS", strings.Replace(fmt.Sprintf(request, "asn-trans"), "13335", "23456", 1),
		[]string{"spec.peerASN", "AS_TRANS"}},
	{"a description with a semicolon", fmt.Sprintf(request, "desc-semi") + "  description: \"peer; shutdown\"\n",
		[]string{"spec.description", peeringv1.RouterSafeTextMessage}},
	{"a description with a bidi override", fmt.Sprintf(request, "desc-bidi") + "  description: \"peer \\u202e1.2\"\n",
		[]string{"spec.description", peeringv1.RouterSafeTextMessage}},
	{"a description with a pipe and a bang", fmt.Sprintf(request, "desc-pipe") + "  description: \"a | b !\"\n",
		[]string{"spec.description", peeringv1.RouterSafeTextMessage}},
	{"a duplicate address", strings.Replace(fmt.Sprintf(request, "dup"), "2001:7f8::3417:0:1", "80.81.192.100", 1),
		[]string{"spec.addresses[1]", "Duplicate value"}},
	{"an AS-SET to announce on a request", fmt.Sprintf(request, "ann") + "  announce: {asSet: AS-FOO}\n",
		[]string{"spec.announce", "on the IXPort or the Router"}},
	{"an IXPort without addresses", `apiVersion: peering.dev/v1alpha1
kind: IXPort
metadata: {name: noaddr}
spec: {ix: {peeringdbID: 31}, routerRef: {name: rs1}}
`, []string{"spec", "ipv4Address, ipv6Address or both"}},
	{"a route server drained", `apiVersion: peering.dev/v1alpha1
kind: Router
metadata: {name: rsdrain}
spec: {driver: gobgp, address: 127.0.0.1, localASN: 64500, routerID: 192.0.2.1, routeServer: true, drain: {}}
`, []string{"a route server is not drained"}},
}

// TestSameAsTheAPIServer sends every case to the real API server (strict
// field validation, as kubectl apply) and checks Validate: both accept, or
// each error Validate gives is in the API server's answer word for word.
func TestSameAsTheAPIServer(t *testing.T) {
	schemas, err := crdschema.Operator()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			obj, err := crdschema.FromYAML([]byte(tc.doc))
			if err != nil {
				t.Fatal(err)
			}
			u := &unstructured.Unstructured{Object: obj}
			apiErr := k8s.Create(context.Background(), u.DeepCopy(), client.FieldValidation("Strict"))
			ours := schemas.Validate(context.Background(), obj)
			if len(tc.want) == 0 {
				if apiErr != nil || len(ours) > 0 {
					t.Fatalf("want accepted; API server: %v; Validate: %v", apiErr, ours.ToAggregate())
				}
				return
			}
			if apiErr == nil {
				t.Fatalf("the API server accepted it; want refused with %q", tc.want)
			}
			if len(ours) == 0 {
				t.Fatalf("Validate accepted it; the API server said: %v", apiErr)
			}
			for _, e := range crdschema.NotSaidBy(apiErr, ours) {
				t.Errorf("Validate says %q; the API server says something else:\n%v", e, apiErr)
			}
			for _, w := range tc.want {
				if !strings.Contains(ours.ToAggregate().Error(), w) {
					t.Errorf("Validate's errors do not mention %q: %v", w, ours.ToAggregate())
				}
			}
		})
	}
}

// TestUnknownFields: strict field validation names an unknown field by its
// path; Validate names the same path.
func TestUnknownFields(t *testing.T) {
	schemas, err := crdschema.Operator()
	if err != nil {
		t.Fatal(err)
	}
	doc := fmt.Sprintf(request, "unknown") + "  peerAsn: 13335\n  maxPrefixes: {ipv4: 10, ipv7: 1}\n"
	obj, err := crdschema.FromYAML([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	apiErr := k8s.Create(context.Background(), &unstructured.Unstructured{Object: obj}, client.FieldValidation("Strict"))
	ours := schemas.Validate(context.Background(), obj)
	for _, p := range []string{"spec.maxPrefixes.ipv7", "spec.peerAsn"} {
		if apiErr == nil || !strings.Contains(apiErr.Error(), `unknown field "`+p+`"`) {
			t.Errorf("the API server does not name %s: %v", p, apiErr)
		}
		if !strings.Contains(ours.ToAggregate().Error(), p+": Forbidden: unknown field") {
			t.Errorf("Validate does not name %s: %v", p, ours.ToAggregate())
		}
	}
	if len(ours) != 2 {
		t.Errorf("want 2 errors, got %v", ours)
	}
}

// TestUnknownKind: a misspelt kind is named with the kinds there are.
func TestUnknownKind(t *testing.T) {
	schemas, err := crdschema.Operator()
	if err != nil {
		t.Fatal(err)
	}
	errs := schemas.Validate(context.Background(), map[string]any{"apiVersion": "peering.dev/v1alpha1", "kind": "PeeringRequst"})
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), `"peering.dev/v1alpha1 PeeringRequest"`) {
		t.Errorf("want the known kinds listed, got %v", errs)
	}
}
