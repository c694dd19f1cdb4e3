package peeringapi_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/google/uuid"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
	"github.com/peering-operator/peering-operator/internal/peeringapi"
	"github.com/peering-operator/peering-operator/internal/peeringapi/oidctest"
	"github.com/peering-operator/peering-operator/internal/testenv"
)

const (
	audience = "peering-api-test"
	ourASN   = 64500
	denic    = 8763 // DENIC eG, in the PeeringDB sample
	labIX    = 90001
	ns       = "peering"
)

// env is a server on a fake API with one IXPort on a lab IX
// (127.0.0.1/24, ours 127.0.0.1) and a test issuer.
type env struct {
	k8s    client.Client
	issuer *oidctest.Issuer
	srv    *httptest.Server
	api    *peeringapi.Server
}

func newEnv(t *testing.T, mod func(*peeringapi.Options)) *env {
	t.Helper()
	iss, err := oidctest.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { iss.Close() })
	k := fake.NewClientBuilder().WithScheme(testenv.Scheme).
		WithObjects(
			&peeringv1.Router{ObjectMeta: metav1.ObjectMeta{Name: "rs1"}, Spec: peeringv1.RouterSpec{Driver: peeringv1.DriverGoBGP, Address: "127.0.0.1", LocalASN: ourASN, RouterID: "192.0.2.1"}},
			&peeringv1.IXPort{ObjectMeta: metav1.ObjectMeta{Name: "lab"}, Spec: peeringv1.IXPortSpec{IX: peeringv1.IXReference{PeeringDBID: labIX},
				RouterRef: peeringv1.LocalObjectReference{Name: "rs1"}, IPv4Address: "127.0.0.1/24", IPv6Address: "2001:db8::1/64"}},
		).
		WithStatusSubresource(&peeringv1.PeeringRequest{}).
		// The API server gives every object a UID; the fake does not.
		WithInterceptorFuncs(interceptor.Funcs{Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			obj.SetUID(types.UID(uuid.NewString()))
			return c.Create(ctx, obj, opts...)
		}}).Build()
	opts := peeringapi.Options{Client: k, Namespace: ns, Log: logr.Discard(),
		Verifier: &peeringapi.OIDCVerifier{Issuer: iss.URL, Audience: audience}}
	if mod != nil {
		mod(&opts)
	}
	api, err := peeringapi.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(api.Handler())
	t.Cleanup(srv.Close)
	return &env{k8s: k, issuer: iss, srv: srv, api: api}
}

// token for subject with the given networks (perms 15: read, write,
// create, delete).
func (e *env) token(t *testing.T, subject string, ttl time.Duration, asns ...int64) string {
	t.Helper()
	var nets []peeringapi.Network
	for _, a := range asns {
		nets = append(nets, peeringapi.Network{ID: a, Name: "net", ASN: a, Perms: 15})
	}
	tok, err := e.issuer.Token(audience, subject, nets, ttl)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func (e *env) client(tok string) *peeringapi.Client {
	return &peeringapi.Client{BaseURL: e.srv.URL + peeringapi.BasePath, Token: tok, HTTP: e.srv.Client()}
}

// raw sends body as-is and returns the status and body.
func (e *env) raw(t *testing.T, method, path, tok, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (e *env) requests(t *testing.T) []peeringv1.PeeringRequest {
	t.Helper()
	var l peeringv1.PeeringRequestList
	if err := e.k8s.List(context.Background(), &l); err != nil {
		t.Fatal(err)
	}
	return l.Items
}

// session is a valid request for DENIC's 127.0.0.11 with us.
func session() peeringapi.Session {
	return peeringapi.Session{LocalASN: denic, LocalIP: "127.0.0.11", PeerASN: ourASN, PeerIP: "127.0.0.1",
		Location: peeringapi.Location{ID: "pdb:ix:90001", Type: "public"}}
}
