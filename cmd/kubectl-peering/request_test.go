package main

import (
	"context"
	"encoding/pem"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/google/uuid"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
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

// The peer (DENIC, AS8763) runs our Peering API server on its own side: a
// fake API with its port at DE-CIX. kubectl peering request sends our side
// of a request to it, records the answer in status.remote, reads the state
// again on a second run without sending anything twice, and kubectl
// peering status shows it.
func TestRequestFromAPeer(t *testing.T) {
	ctx := context.Background()
	iss, err := oidctest.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer iss.Close()
	peerK8s := fake.NewClientBuilder().WithScheme(testenv.Scheme).WithObjects(
		&peeringv1.Router{ObjectMeta: metav1.ObjectMeta{Name: "denic-rs"}, Spec: peeringv1.RouterSpec{Driver: peeringv1.DriverGoBGP, Address: "127.0.0.1", LocalASN: 8763, RouterID: "192.0.2.9"}},
		&peeringv1.IXPort{ObjectMeta: metav1.ObjectMeta{Name: "decix"}, Spec: peeringv1.IXPortSpec{IX: peeringv1.IXReference{PeeringDBID: 31},
			RouterRef: peeringv1.LocalObjectReference{Name: "denic-rs"}, IPv4Address: "80.81.192.37/21", IPv6Address: "2001:7f8::223b:0:1/64"}},
	).WithStatusSubresource(&peeringv1.PeeringRequest{}).
		WithInterceptorFuncs(interceptor.Funcs{Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			obj.SetUID(types.UID(uuid.NewString()))
			return c.Create(ctx, obj, opts...)
		}}).Build()
	srv, err := peeringapi.New(peeringapi.Options{Client: peerK8s, Namespace: "peering", Log: logr.Discard(),
		Verifier: &peeringapi.OIDCVerifier{Issuer: iss.URL, Audience: "denic-peering-api"}})
	if err != nil {
		t.Fatal(err)
	}
	peer := httptest.NewTLSServer(srv.Handler())
	defer peer.Close()
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: peer.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	tokenFor := func(asn int64) string {
		tok, err := iss.Token("denic-peering-api", "pdb-user-7", []peeringapi.Network{{ID: 1, ASN: asn, Perms: 15}}, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		f := filepath.Join(dir, "token"+time.Now().Format("150405.000000000"))
		if err := os.WriteFile(f, []byte(tok+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return f
	}

	// Ours: edge1 is AS8804 at DE-CIX (the suite's seed).
	if err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "remote"}}); err != nil {
		t.Fatal(err)
	}
	pr := &peeringv1.PeeringRequest{ObjectMeta: metav1.ObjectMeta{Namespace: "remote", Name: "as8763-decix-fra"},
		Spec: peeringv1.PeeringRequestSpec{PeerASN: 8763, IXPortRef: peeringv1.LocalObjectReference{Name: "decix-fra"},
			Addresses: []string{"80.81.192.37", "2001:7f8::223b:0:1"}}}
	if err := k8s.Create(ctx, pr); err != nil {
		t.Fatal(err)
	}
	url := peer.URL + peeringapi.BasePath
	req := func(tokenFile string) (string, error) {
		out, _, err := run(t, args([]string{"request", "as8763-decix-fra", "-n", "remote", "--remote", url, "--remote-ca", ca, "--token-file", tokenFile}, kube())...)
		return out, err
	}

	// A token for another network is refused by the peer, in its words.
	_, err = req(tokenFor(3900000009))
	if err == nil || !strings.Contains(err.Error(), "403") || !strings.Contains(err.Error(), "does not authorise requests for AS8804") {
		t.Fatalf("token for another ASN: %v", err)
	}
	if _, _, err := run(t, args([]string{"request", "as8763-decix-fra", "-n", "remote", "--remote", url}, kube())...); err == nil || !strings.Contains(err.Error(), tokenEnv) {
		t.Fatalf("no token: %v", err)
	}

	tok := tokenFor(8804)
	out, err := req(tok)
	if err != nil {
		t.Fatal(err)
	}
	got := getRequest(t, "remote", "as8763-decix-fra").Status.Remote
	if got == nil || got.URL != url || got.RequestID == "" || len(got.Sessions) != 2 {
		t.Fatalf("status.remote: %+v\n%s", got, out)
	}
	for _, s := range got.Sessions {
		if s.State != peeringapi.StatusPending || s.ID == "" || !strings.Contains(out, s.Address+"  ") {
			t.Fatalf("session %+v\n%s", s, out)
		}
	}
	// On the peer's side: two requests from AS8804, our addresses.
	var theirs peeringv1.PeeringRequestList
	if err := peerK8s.List(ctx, &theirs); err != nil || len(theirs.Items) != 2 {
		t.Fatalf("peer has %d requests (%v)", len(theirs.Items), err)
	}
	for _, p := range theirs.Items {
		if p.Spec.PeerASN != 8804 || p.Spec.Requester.PeeringAPI.ASN != 8804 || (p.Spec.Addresses[0] != "80.81.192.10" && p.Spec.Addresses[0] != "2001:7f8::fbf4:0:1") {
			t.Fatalf("peer's request: %+v", p.Spec)
		}
	}

	// The peer approves and one session comes up; asking again reads it.
	p := theirs.Items[0]
	meta.SetStatusCondition(&p.Status.Conditions, metav1.Condition{Type: "Approved", Status: metav1.ConditionTrue, Reason: "NOCApproved"})
	p.Status.Sessions = []peeringv1.SessionStatus{{Address: p.Spec.Addresses[0], Family: "ipv4", State: "Established"}}
	if err := peerK8s.Status().Update(ctx, &p); err != nil {
		t.Fatal(err)
	}
	if out, err = req(tok); err != nil {
		t.Fatal(err)
	}
	if err := peerK8s.List(ctx, &theirs); err != nil || len(theirs.Items) != 2 {
		t.Fatalf("a second run created requests on the peer: %d", len(theirs.Items))
	}
	if !strings.Contains(out, "Established") || !strings.Contains(out, "Pending") {
		t.Fatalf("second run:\n%s", out)
	}
	st, _, err := run(t, args([]string{"status", "as8763-decix-fra", "-n", "remote"}, kube())...)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(st, "Requested from the peer") || !strings.Contains(st, "Established") || !strings.Contains(st, got.RequestID) {
		t.Fatalf("status:\n%s", st)
	}
}
