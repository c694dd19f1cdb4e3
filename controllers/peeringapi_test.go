package controllers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	. "github.com/onsi/gomega"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
	"github.com/peering-operator/peering-operator/internal/peeringapi"
	"github.com/peering-operator/peering-operator/internal/peeringapi/oidctest"
	"github.com/peering-operator/peering-operator/internal/testenv"
)

// peeringAPIUser is the identity the Peering API server acts as here: only
// what it needs, no approve, no status writes.
const peeringAPIUser = "peering-api-server"

// The Peering API round trip on the real API server and gobgpd: DENIC
// (AS8763) requests a session with a PeeringDB-style token, the request
// waits for the NOC, the NOC approves it with kubectl peering, it comes up
// Established on our gobgpd and DENIC reads Established through the API;
// other tokens and 1,000 hostile requests create nothing; DENIC withdraws
// the session and the neighbor leaves the router.
func TestPeeringAPIRoundTrip(t *testing.T) {
	ctx := context.Background()
	g := NewWithT(t)
	ours, o, _ := gobgpdLab(t, "-papi")
	create(t, o.router)
	create(t, o.port)

	iss, err := oidctest.Start("127.0.0.1:0")
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() { iss.Close() })
	grant(t, peeringAPIUser,
		rbacv1.PolicyRule{APIGroups: []string{"peering.dev"}, Resources: []string{"peeringrequests"}, Verbs: []string{"get", "list", "create", "delete"}},
		rbacv1.PolicyRule{APIGroups: []string{"peering.dev"}, Resources: []string{"ixports", "routers"}, Verbs: []string{"get", "list"}})
	u, err := testEnv.AddUser(envtest.User{Name: peeringAPIUser}, restCfg)
	g.Expect(err).NotTo(HaveOccurred())
	apiClient, err := client.New(u.Config(), client.Options{Scheme: testenv.Scheme})
	g.Expect(err).NotTo(HaveOccurred())
	srv, err := peeringapi.New(peeringapi.Options{Client: apiClient, Namespace: "default", Log: logr.Discard(),
		Verifier:        &peeringapi.OIDCVerifier{Issuer: iss.URL, Audience: "as64500-peering-api"},
		CallerPerMinute: -1, AddressPerMinute: -1, Self: peeringAPIUser})
	g.Expect(err).NotTo(HaveOccurred())
	web := httptest.NewTLSServer(srv.Handler())
	t.Cleanup(web.Close)

	token := func(asn int64, ttl time.Duration) string {
		tok, err := iss.Token("as64500-peering-api", "pdb-user-8763", []peeringapi.Network{{ID: 270, Name: "DENIC eG", ASN: asn, Perms: 15}}, ttl)
		g.Expect(err).NotTo(HaveOccurred())
		return tok
	}
	denic := &peeringapi.Client{BaseURL: web.URL + peeringapi.BasePath, Token: token(8763, time.Hour), HTTP: web.Client()}
	want := peeringapi.Session{LocalASN: 8763, LocalIP: "127.0.0.11", PeerASN: 64500, PeerIP: "127.0.0.1",
		Location: peeringapi.Location{ID: "pdb:ix:90001", Type: "public"}}

	// Refused tokens create nothing.
	for _, tc := range []struct {
		name, tok string
		code      int
	}{{"another ASN", token(3900000010, time.Hour), 403}, {"expired", token(8763, -time.Minute), 401}} {
		_, err := (&peeringapi.Client{BaseURL: denic.BaseURL, Token: tc.tok, HTTP: web.Client()}).CreateSessions(ctx, []peeringapi.Session{want})
		var re *peeringapi.RemoteError
		g.Expect(err).To(BeAssignableToTypeOf(re), tc.name)
		g.Expect(err.(*peeringapi.RemoteError).Status).To(Equal(tc.code), "%s: %v", tc.name, err)
	}
	g.Expect(apiRequests(g)).To(BeEmpty())

	locs, err := denic.Locations(ctx, 8763)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(locs).To(ContainElement(peeringapi.Location{ID: "pdb:ix:90001", Type: "public", PeerIPs: []string{"127.0.0.1"}}))

	arr, err := denic.CreateSessions(ctx, []peeringapi.Session{want})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(arr.Sessions).To(HaveLen(1))
	id := arr.Sessions[0].SessionID
	g.Expect(arr.Sessions[0].Status).To(Equal(peeringapi.StatusPending))
	prs := apiRequests(g)
	g.Expect(prs).To(HaveLen(1))
	pr := &prs[0]
	t.Cleanup(func() { deleteAndWait(t, pr) })
	g.Expect(pr.Spec.Requester.Username).To(Equal(peeringAPIUser), "the webhook stamps the server's identity")
	g.Expect(*pr.Spec.Requester.PeeringAPI).To(Equal(peeringv1.PeeringAPIRequester{ASN: 8763, Subject: "pdb-user-8763", Issuer: iss.URL, RequestID: arr.RequestID}))
	expectCondition(t, pr, "Ready", metav1.ConditionFalse, peeringv1.ReasonWaitingForApproval)
	s, err := denic.GetSession(ctx, id)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(s.Status).To(Equal(peeringapi.StatusPending))
	g.Expect(ours.SessionState(ctx, netip.MustParseAddr("127.0.0.11"))).Error().To(HaveOccurred(), "nothing reaches the router before approval")

	// 1,000 hostile requests, none of which creates anything.
	hostile(t, web, token(8763, time.Hour))
	g.Expect(apiRequests(g)).To(HaveLen(1))

	// The NOC approves with the plugin.
	const noc = "noc-papi"
	grant(t, noc, readWritePRs, writeStatus,
		rbacv1.PolicyRule{APIGroups: []string{"peering.dev"}, Resources: []string{"ixports"}, Verbs: []string{"approve"}, ResourceNames: []string{o.port.Name}})
	out, err := exec.Command(buildPlugin(t), "approve", pr.Name, "--reason", "CHG-API-1", "--kubeconfig", userKubeconfig(t, noc), "-n", "default").CombinedOutput()
	g.Expect(err).NotTo(HaveOccurred(), string(out))
	expectCondition(t, pr, "Ready", metav1.ConditionTrue, peeringv1.ReasonSessionsEstablished)
	g.Eventually(func(g Gomega) {
		s, err := denic.GetSession(ctx, id)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(s.Status).To(Equal(peeringapi.StatusEstablished))
		g.Expect(s.PeerIP).To(Equal("127.0.0.1"))
	}, timeout).Should(Succeed())
	list, err := denic.ListSessions(ctx, 8763, arr.RequestID)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(list).To(HaveLen(1))
	g.Expect(list[0].Status).To(Equal(peeringapi.StatusEstablished))
	g.Expect(getPR(g, pr).Status.Approval.User).To(Equal(noc))

	// DENIC withdraws: the request goes the finalizer's way and the
	// neighbor leaves the router.
	g.Expect(denic.DeleteSession(ctx, id)).To(Succeed())
	g.Eventually(func() error {
		_, err := ours.SessionState(ctx, netip.MustParseAddr("127.0.0.11"))
		return err
	}, timeout).Should(HaveOccurred())
	g.Eventually(func() []peeringv1.PeeringRequest { return apiRequests(g) }, timeout).Should(BeEmpty())
}

// apiRequests lists the PeeringRequests the Peering API made in default.
func apiRequests(g Gomega) []peeringv1.PeeringRequest {
	var l peeringv1.PeeringRequestList
	g.Expect(k8s.List(context.Background(), &l, client.InNamespace("default"))).To(Succeed())
	var out []peeringv1.PeeringRequest
	for _, pr := range l.Items {
		if r := pr.Spec.Requester; r != nil && r.PeeringAPI != nil {
			out = append(out, pr)
		}
	}
	return out
}

// hostile sends 1,000 bad requests (a valid token; bodies oversized,
// malformed, of the wrong types, with unknown fields, addresses outside the
// LAN, ASNs the token does not cover, server-set fields) and checks each is
// refused in the draft's error shape.
func hostile(t *testing.T, web *httptest.Server, tok string) {
	t.Helper()
	base := func() map[string]any {
		return map[string]any{"local_asn": 8763, "local_ip": "127.0.0.11", "peer_asn": 64500, "peer_ip": "127.0.0.1",
			"location": map[string]any{"id": "pdb:ix:90001", "type": "public"}}
	}
	muts := []func(m map[string]any, r *rand.Rand){
		func(m map[string]any, r *rand.Rand) { m["local_asn"] = 3900000000 + r.Int64N(1000) },
		func(m map[string]any, r *rand.Rand) { m["local_asn"] = fmt.Sprint(8763) },
		func(m map[string]any, r *rand.Rand) { m["local_asn"] = -r.Int64N(100000) },
		func(m map[string]any, r *rand.Rand) { m["local_ip"] = fmt.Sprintf("198.51.100.%d", r.IntN(256)) },
		func(m map[string]any, r *rand.Rand) { m["local_ip"] = fmt.Sprintf("2001:db8::%x", r.IntN(65536)) },
		func(m map[string]any, r *rand.Rand) { m["local_ip"] = "127.0.0.1" },
		func(m map[string]any, r *rand.Rand) { m["local_ip"] = strings.Repeat("1", r.IntN(300)) },
		func(m map[string]any, r *rand.Rand) { m["peer_ip"] = fmt.Sprintf("127.0.0.%d", 2+r.IntN(250)) },
		func(m map[string]any, r *rand.Rand) { m["peer_asn"] = r.Int64N(64499) + 1 },
		func(m map[string]any, r *rand.Rand) {
			m["location"] = map[string]any{"id": fmt.Sprintf("pdb:ix:%d", r.IntN(90000))}
		},
		func(m map[string]any, r *rand.Rand) { m["location"] = "pdb:ix:90001" },
		func(m map[string]any, r *rand.Rand) { m["status"] = "Established" },
		func(m map[string]any, r *rand.Rand) { m["session_id"] = "00000000-0000-0000-0000-000000000000" },
		func(m map[string]any, r *rand.Rand) { m["approved"] = true },
		func(m map[string]any, r *rand.Rand) { m["md5"] = "s3cret" },
		func(m map[string]any, r *rand.Rand) { m["local_bgp_role"] = r.IntN(4) },
		func(m map[string]any, r *rand.Rand) { m["description"] = "x; rm -rf /" },
		func(m map[string]any, r *rand.Rand) { m["local_monitoring_session"] = true },
	}
	raws := []func(r *rand.Rand) string{
		func(r *rand.Rand) string {
			return `{"sessions":[` + strings.Repeat(`{"local_asn":8763},`, 5000) + `{}]}`
		},
		func(r *rand.Rand) string { return `{"sessions":` },
		func(r *rand.Rand) string { return `[]` },
		func(r *rand.Rand) string { return `{"sessions":[{}]} {"sessions":[{}]}` },
		func(r *rand.Rand) string { return `{"sessions":[],"request_id":"` + strings.Repeat("a", 100) + `"}` },
		func(r *rand.Rand) string {
			b := make([]byte, r.IntN(2000))
			for i := range b {
				b[i] = byte(r.UintN(256))
			}
			return string(b)
		},
		func(r *rand.Rand) string { return "null" },
	}
	r := rand.New(rand.NewPCG(16, 1000))
	bodies := make([]string, 1000)
	for i := range bodies {
		if i%5 == 0 {
			bodies[i] = raws[r.IntN(len(raws))](r)
			continue
		}
		good := base()
		bad := base()
		for range 1 + r.IntN(3) {
			muts[r.IntN(len(muts))](bad, r)
		}
		// Sometimes the bad session rides along with a good one.
		ss := []any{bad}
		if r.IntN(2) == 0 {
			ss = []any{good, bad}
		}
		b, _ := json.Marshal(map[string]any{"sessions": ss})
		bodies[i] = string(b)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []string
	codes := map[int]int{}
	start := time.Now()
	work := make(chan string)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for body := range work {
				req, _ := http.NewRequest(http.MethodPost, web.URL+"/v0.1/sessions", bytes.NewBufferString(body))
				req.Header.Set("Authorization", "Bearer "+tok)
				req.Header.Set("Content-Type", "application/json")
				resp, err := web.Client().Do(req)
				if err != nil {
					mu.Lock()
					failures = append(failures, err.Error())
					mu.Unlock()
					continue
				}
				out, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				mu.Lock()
				codes[resp.StatusCode]++
				mu.Unlock()
				var er peeringapi.ErrorResponse
				if resp.StatusCode < 400 || resp.StatusCode >= 500 || json.Unmarshal(out, &er) != nil || len(er.Errors) == 0 {
					mu.Lock()
					failures = append(failures, fmt.Sprintf("%d %.200s for %.200s", resp.StatusCode, out, body))
					mu.Unlock()
				}
			}
		}()
	}
	for _, b := range bodies {
		work <- b
	}
	close(work)
	wg.Wait()
	t.Logf("1000 hostile requests in %v, answers by status: %v", time.Since(start).Round(time.Millisecond), codes)
	if len(failures) > 0 {
		t.Fatalf("%d of 1000 hostile requests were not refused in the error shape, e.g. %s", len(failures), failures[0])
	}
}
