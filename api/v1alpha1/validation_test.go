package v1alpha1_test

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
	"github.com/peering-operator/peering-operator/internal/testenv"
)

var k8s client.Client

func TestMain(m *testing.M) { os.Exit(testenv.RunWithClient(m, &k8s)) }

func validRouter(name string) *peeringv1.Router {
	return &peeringv1.Router{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: peeringv1.RouterSpec{
			Driver: peeringv1.DriverGoBGP, Address: "127.0.0.1", LocalASN: 64500, RouterID: "192.0.2.1",
		},
	}
}

func validIXPort(name string) *peeringv1.IXPort {
	return &peeringv1.IXPort{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: peeringv1.IXPortSpec{
			IX:          peeringv1.IXReference{PeeringDBID: 31},
			RouterRef:   peeringv1.LocalObjectReference{Name: "rs1"},
			IPv4Address: "80.81.192.10/21",
			IPv6Address: "2001:7f8::fbd4:0:1/64",
		},
	}
}

func validRequest(name string) *peeringv1.PeeringRequest {
	return &peeringv1.PeeringRequest{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: peeringv1.PeeringRequestSpec{
			PeerASN:     13335,
			IXPortRef:   peeringv1.LocalObjectReference{Name: "decix-fra"},
			Addresses:   []string{"80.81.192.100", "2001:7f8::3417:0:1"},
			IRRASSet:    "RIPE::AS-CLOUDFLARE AS13335:AS-CF",
			Description: "Cloudflare - DE-CIX FRA",
		},
	}
}

// TestAdmission checks that the API server itself rejects bad objects, with a
// message that names the field.
func TestAdmission(t *testing.T) {
	tests := []struct {
		name    string
		obj     client.Object
		wantErr []string // substrings of the error; empty means accepted
	}{
		{"valid router", validRouter("ok-router"), nil},
		{"valid ixport", validIXPort("ok-port"), nil},
		{"valid request", validRequest("ok-request"), nil},
		{"request without addresses", mutate(validRequest("no-addr"), func(p *peeringv1.PeeringRequest) { p.Spec.Addresses = nil }), nil},
		{"ASN 4294967295 is the top of the range", mutate(validRequest("asn-max"), func(p *peeringv1.PeeringRequest) { p.Spec.PeerASN = 4294967295 }), nil},

		{"ASN 0", mutate(validRequest("asn0"), func(p *peeringv1.PeeringRequest) { p.Spec.PeerASN = 0 }),
			[]string{"spec.peerASN", "greater than or equal to 1"}},
		{"ASN 23456 (AS_TRANS)", mutate(validRequest("asn23456"), func(p *peeringv1.PeeringRequest) { p.Spec.PeerASN = 23456 }),
			[]string{"spec.peerASN", "AS_TRANS"}},
		{"ASN 4294967296", mutate(validRequest("asnbig"), func(p *peeringv1.PeeringRequest) { p.Spec.PeerASN = 4294967296 }),
			[]string{"spec.peerASN", "less than or equal to 4294967295"}},
		{"router local ASN 23456", mutateRouter(validRouter("r-asn"), func(r *peeringv1.Router) { r.Spec.LocalASN = 23456 }),
			[]string{"spec.localASN", "AS_TRANS"}},
		{"malformed peer address", mutate(validRequest("bad-addr"), func(p *peeringv1.PeeringRequest) { p.Spec.Addresses = []string{"80.81.192.300"} }),
			[]string{"spec.addresses[0]", "IPv4 or IPv6 address"}},
		{"peer address with prefix length", mutate(validRequest("addr-cidr"), func(p *peeringv1.PeeringRequest) { p.Spec.Addresses = []string{"80.81.192.100/21"} }),
			[]string{"spec.addresses[0]"}},
		{"duplicate peer address", mutate(validRequest("addr-dup"), func(p *peeringv1.PeeringRequest) {
			p.Spec.Addresses = []string{"80.81.192.100", "80.81.192.100"}
		}), []string{"spec.addresses[1]", "Duplicate value"}},
		{"description with a newline", mutate(validRequest("desc-nl"), func(p *peeringv1.PeeringRequest) { p.Spec.Description = "peer\nshutdown" }),
			[]string{"spec.description", peeringv1.RouterSafeTextMessage}},
		{"a description a router can take", mutate(validRequest("desc-ok"), func(p *peeringv1.PeeringRequest) {
			p.Spec.Description = "AS13335 Cloudflare, Inc. [DE-CIX FRA] (v4+v6) 100% ~ok @noc ^_^ a=b:c/d?"
		}), nil},
		{"description with a semicolon", mutate(validRequest("desc-hostile-0"), func(p *peeringv1.PeeringRequest) { p.Spec.Description = "peer; no neighbor 192.0.2.1" }),
			[]string{"spec.description", peeringv1.RouterSafeTextMessage}},
		{"description with a pipe", mutate(validRequest("desc-hostile-1"), func(p *peeringv1.PeeringRequest) { p.Spec.Description = "peer | include" }),
			[]string{"spec.description", peeringv1.RouterSafeTextMessage}},
		{"description with an exclamation mark", mutate(validRequest("desc-hostile-2"), func(p *peeringv1.PeeringRequest) { p.Spec.Description = "peer!" }),
			[]string{"spec.description", peeringv1.RouterSafeTextMessage}},
		{"description with a double quote", mutate(validRequest("desc-hostile-3"), func(p *peeringv1.PeeringRequest) { p.Spec.Description = "peer \"x\"" }),
			[]string{"spec.description", peeringv1.RouterSafeTextMessage}},
		{"description with a bidi override", mutate(validRequest("desc-hostile-4"), func(p *peeringv1.PeeringRequest) { p.Spec.Description = "peer \u202e1.2.3.4" }),
			[]string{"spec.description", peeringv1.RouterSafeTextMessage}},
		{"description with a dollar", mutate(validRequest("desc-hostile-5"), func(p *peeringv1.PeeringRequest) { p.Spec.Description = "peer $HOME" }),
			[]string{"spec.description", peeringv1.RouterSafeTextMessage}},
		{"description with a non-ASCII letter", mutate(validRequest("desc-hostile-6"), func(p *peeringv1.PeeringRequest) { p.Spec.Description = "Zürich IX" }),
			[]string{"spec.description", peeringv1.RouterSafeTextMessage}},
		{"description too long", mutate(validRequest("desc-long"), func(p *peeringv1.PeeringRequest) { p.Spec.Description = strings.Repeat("x", 201) }),
			[]string{"spec.description", "200"}},
		{"AS-SET with a semicolon", mutate(validRequest("asset"), func(p *peeringv1.PeeringRequest) { p.Spec.IRRASSet = "AS-FOO;reload" }),
			[]string{"spec.irrASSet"}},
		{"request without an IXPort reference", mutate(validRequest("no-port"), func(p *peeringv1.PeeringRequest) { p.Spec.IXPortRef = peeringv1.LocalObjectReference{} }),
			[]string{"spec.ixPortRef.name"}},
		{"unknown driver", mutateRouter(validRouter("r-driver"), func(r *peeringv1.Router) { r.Spec.Driver = "cisco-ios" }),
			[]string{"spec.driver", "Unsupported value", `"frr"`}},
		{"SSH driver without credentials", mutateRouter(validRouter("r-creds"), func(r *peeringv1.Router) { r.Spec.Driver = peeringv1.DriverFRR }),
			[]string{"spec", "credentialsSecretRef is required"}},
		{"router ID that is IPv6", mutateRouter(validRouter("r-id"), func(r *peeringv1.Router) { r.Spec.RouterID = "2001:db8::1" }),
			[]string{"spec.routerID", "IPv4"}},
		{"router address with a space", mutateRouter(validRouter("r-addr"), func(r *peeringv1.Router) { r.Spec.Address = "router 1" }),
			[]string{"spec.address", "IP address or a lower-case DNS name"}},
		{"IXPort address without prefix length", mutatePort(validIXPort("p-nolen"), func(p *peeringv1.IXPort) { p.Spec.IPv4Address = "80.81.192.10" }),
			[]string{"spec.ipv4Address", "prefix length"}},
		{"IXPort IPv6 in the IPv4 field", mutatePort(validIXPort("p-fam"), func(p *peeringv1.IXPort) { p.Spec.IPv4Address = "2001:7f8::1/64" }),
			[]string{"spec.ipv4Address"}},
		{"IXPort without any address", mutatePort(validIXPort("p-none"), func(p *peeringv1.IXPort) { p.Spec.IPv4Address, p.Spec.IPv6Address = "", "" }),
			[]string{"spec", "ipv4Address, ipv6Address or both"}},
		{"IXPort without IX id", mutatePort(validIXPort("p-ix"), func(p *peeringv1.IXPort) { p.Spec.IX.PeeringDBID = 0 }),
			[]string{"spec.ix.peeringdbID"}},
		{"IXPort with a lower-case IRR source", mutatePort(validIXPort("p-src"), func(p *peeringv1.IXPort) { p.Spec.PeerDefaults.IRRSources = []string{"ripe"} }),
			[]string{"spec.peerDefaults.irrSources[0]"}},
		{"a route server's drain", mutateRouter(validRouter("r-rsdrain"), func(r *peeringv1.Router) { r.Spec.RouteServer, r.Spec.Drain = true, &peeringv1.Drain{} }),
			[]string{"a route server is not drained"}},
		{"an RTR server with a space", mutateRouter(validRouter("r-rtr"), func(r *peeringv1.Router) {
			r.Spec.RPKI = &peeringv1.RPKI{Servers: []peeringv1.RTRServer{{Address: "rtr 1", Port: 323}}}
		}), []string{"spec.rpki.servers[0].address", "IP address or a lower-case DNS name"}},
		{"an RTR server without a port", mutateRouter(validRouter("r-rtrport"), func(r *peeringv1.Router) {
			r.Spec.RPKI = &peeringv1.RPKI{Servers: []peeringv1.RTRServer{{Address: "192.0.2.53"}}}
		}), []string{"spec.rpki.servers[0].port"}},
		{"a request announcing an AS-SET", mutate(validRequest("ann-asset"), func(p *peeringv1.PeeringRequest) {
			p.Spec.Announce = &peeringv1.Announce{ASSet: "AS-FOO"}
		}), []string{"spec.announce", "on the IXPort or the Router"}},
		{"a well-formed import policy", mutatePort(validIXPort("p-import"), func(p *peeringv1.IXPort) {
			lp := int64(200)
			p.Spec.Import = &peeringv1.ImportPolicy{LocalPreference: &lp, Communities: []string{"64500:100", "64500:1:31"}}
		}), nil},
		{"an import community that is not one", mutatePort(validIXPort("p-comm"), func(p *peeringv1.IXPort) {
			p.Spec.Import = &peeringv1.ImportPolicy{Communities: []string{"no-export"}}
		}), []string{"spec.import.communities[0]"}},
		{"a local preference of 0", mutatePort(validIXPort("p-lp0"), func(p *peeringv1.IXPort) {
			lp := int64(0)
			p.Spec.Import = &peeringv1.ImportPolicy{LocalPreference: &lp}
		}), []string{"spec.import.localPreference"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := k8s.Create(context.Background(), tc.obj)
			if len(tc.wantErr) == 0 {
				if err != nil {
					t.Fatalf("want the object accepted, got: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("want the object rejected with %q, it was accepted", tc.wantErr)
			}
			for _, want := range tc.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error does not mention %q:\n%v", want, err)
				}
			}
		})
	}
}

// TestImmutableFields checks that peerASN and ixPortRef cannot be edited.
func TestImmutableFields(t *testing.T) {
	ctx := context.Background()
	pr := validRequest("immutable")
	if err := k8s.Create(ctx, pr); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		field string
		edit  func(*peeringv1.PeeringRequest)
	}{
		{"spec.peerASN", func(p *peeringv1.PeeringRequest) { p.Spec.PeerASN = 64501 }},
		{"spec.ixPortRef", func(p *peeringv1.PeeringRequest) { p.Spec.IXPortRef.Name = "other" }},
	} {
		edited := pr.DeepCopy()
		tc.edit(edited)
		err := k8s.Update(ctx, edited)
		if err == nil || !strings.Contains(err.Error(), tc.field) || !strings.Contains(err.Error(), "immutable") {
			t.Errorf("editing %s: want an 'immutable' error naming the field, got %v", tc.field, err)
		}
	}
	edited := pr.DeepCopy()
	edited.Spec.Description = "edited description"
	if err := k8s.Update(ctx, edited); err != nil {
		t.Errorf("editing the description must be allowed: %v", err)
	}
}

func mutate(p *peeringv1.PeeringRequest, f func(*peeringv1.PeeringRequest)) client.Object {
	f(p)
	return p
}

func mutateRouter(r *peeringv1.Router, f func(*peeringv1.Router)) client.Object {
	f(r)
	return r
}

func mutatePort(p *peeringv1.IXPort, f func(*peeringv1.IXPort)) client.Object {
	f(p)
	return p
}

// TestRouterSafeTextInCRD: the generated CRD carries RouterSafeTextPattern
// and its message on spec.description, so the API server, the drivers and
// `kubectl peering validate` apply one rule (a marker edited alone fails).
func TestRouterSafeTextInCRD(t *testing.T) {
	raw, err := os.ReadFile("../../config/crd/bases/peering.dev_peeringrequests.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var crd apiextensionsv1.CustomResourceDefinition
	if err := yaml.Unmarshal(raw, &crd); err != nil {
		t.Fatal(err)
	}
	desc := crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"].Properties["description"]
	want := apiextensionsv1.ValidationRule{
		Rule:    "self.matches('" + peeringv1.RouterSafeTextPattern + "')",
		Message: "description " + peeringv1.RouterSafeTextMessage,
	}
	if !slices.Contains(desc.XValidations, want) {
		t.Errorf("spec.description's rules in the CRD are %+v, want %+v among them: edit the marker to match api/v1alpha1/text.go and run make manifests", desc.XValidations, want)
	}
}
