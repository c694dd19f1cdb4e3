package peeringapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
	"github.com/peering-operator/peering-operator/internal/peeringapi"
)

// A remote network lists our locations, requests a session, reads it
// Pending, then Established once the request is approved and up, and
// withdraws it; the request records who asked and carries no approval.
func TestSessionLifecycle(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	c := e.client(e.token(t, "pdb-user-42", time.Hour, denic))

	locs, err := c.Locations(ctx, denic)
	if err != nil {
		t.Fatal(err)
	}
	if len(locs) != 1 || locs[0].ID != "pdb:ix:90001" || locs[0].Type != "public" || strings.Join(locs[0].PeerIPs, ",") != "127.0.0.1,2001:db8::1" {
		t.Fatalf("locations: %+v", locs)
	}
	arr, err := c.CreateSessions(ctx, []peeringapi.Session{session()})
	if err != nil {
		t.Fatal(err)
	}
	if arr.RequestID == "" || len(arr.Sessions) != 1 || arr.Sessions[0].Status != peeringapi.StatusPending || arr.Sessions[0].SessionID == "" {
		t.Fatalf("create answered %+v", arr)
	}
	prs := e.requests(t)
	if len(prs) != 1 {
		t.Fatalf("%d PeeringRequests, want 1", len(prs))
	}
	pr := prs[0]
	if pr.Namespace != ns || pr.Spec.PeerASN != denic || pr.Spec.IXPortRef.Name != "lab" || strings.Join(pr.Spec.Addresses, ",") != "127.0.0.11" {
		t.Fatalf("request %s/%s: %+v", pr.Namespace, pr.Name, pr.Spec)
	}
	if r := pr.Spec.Requester; r == nil || r.Username != "" || r.PeeringAPI == nil || r.PeeringAPI.ASN != denic ||
		r.PeeringAPI.Subject != "pdb-user-42" || r.PeeringAPI.Issuer != e.issuer.URL || r.PeeringAPI.RequestID != arr.RequestID {
		t.Fatalf("requester: %+v", pr.Spec.Requester)
	}
	if len(pr.Status.Conditions) != 0 || pr.Status.Approval != nil {
		t.Fatalf("the API path wrote a status: %+v", pr.Status)
	}

	// The same session asked again is the same request.
	again, err := c.CreateSessions(ctx, []peeringapi.Session{session()})
	if err != nil || again.Sessions[0].SessionID != arr.Sessions[0].SessionID || len(e.requests(t)) != 1 {
		t.Fatalf("repeat: %+v %v", again, err)
	}

	id := arr.Sessions[0].SessionID
	// Approved and up, as the controllers would report it.
	meta.SetStatusCondition(&pr.Status.Conditions, metav1.Condition{Type: "Approved", Status: metav1.ConditionTrue, Reason: "NOCApproved"})
	pr.Status.Sessions = []peeringv1.SessionStatus{{Address: "127.0.0.11", Family: "ipv4", State: "Idle"}}
	if err := e.k8s.Status().Update(ctx, &pr); err != nil {
		t.Fatal(err)
	}
	if s, err := c.GetSession(ctx, id); err != nil || s.Status != peeringapi.StatusApproved {
		t.Fatalf("approved, not up: %+v %v", s, err)
	}
	pr.Status.Sessions[0].State = "Established"
	if err := e.k8s.Status().Update(ctx, &pr); err != nil {
		t.Fatal(err)
	}
	s, err := c.GetSession(ctx, id)
	if err != nil || s.Status != peeringapi.StatusEstablished || s.PeerIP != "127.0.0.1" || s.PeerASN != ourASN || s.LocalIP != "127.0.0.11" {
		t.Fatalf("established: %+v %v", s, err)
	}
	list, err := c.ListSessions(ctx, denic, arr.RequestID)
	if err != nil || len(list) != 1 || list[0].Status != peeringapi.StatusEstablished {
		t.Fatalf("list: %+v %v", list, err)
	}

	// Another network's token sees nothing of it and cannot delete it.
	other := e.client(e.token(t, "someone-else", time.Hour, 3900000001))
	var re *peeringapi.RemoteError
	if _, err := other.GetSession(ctx, id); !errors.As(err, &re) || re.Status != http.StatusNotFound {
		t.Fatalf("other ASN read: %v", err)
	}
	if err := other.DeleteSession(ctx, id); !errors.As(err, &re) || re.Status != http.StatusNotFound {
		t.Fatalf("other ASN delete: %v", err)
	}
	if err := c.DeleteSession(ctx, id); err != nil {
		t.Fatal(err)
	}
	if n := len(e.requests(t)); n != 0 {
		t.Fatalf("%d requests after the withdrawal", n)
	}
}

// A request our NOC made is listed to the peer but not theirs to delete.
func TestNOCRequestNotDeletable(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	pr := &peeringv1.PeeringRequest{ObjectMeta: metav1.ObjectMeta{Name: "as8763-lab", Namespace: ns},
		Spec: peeringv1.PeeringRequestSpec{PeerASN: denic, IXPortRef: peeringv1.LocalObjectReference{Name: "lab"}, Addresses: []string{"127.0.0.11"},
			Requester: &peeringv1.UserInfo{Username: "noc-alice"}}}
	if err := e.k8s.Create(ctx, pr); err != nil {
		t.Fatal(err)
	}
	c := e.client(e.token(t, "u", time.Hour, denic))
	list, err := c.ListSessions(ctx, denic, "")
	if err != nil || len(list) != 1 {
		t.Fatalf("list: %+v %v", list, err)
	}
	var re *peeringapi.RemoteError
	if err := c.DeleteSession(ctx, list[0].SessionID); !errors.As(err, &re) || re.Status != http.StatusForbidden || !strings.Contains(err.Error(), "our NOC") {
		t.Fatalf("delete: %v", err)
	}
	if err := e.k8s.Get(ctx, client.ObjectKeyFromObject(pr), pr); err != nil {
		t.Fatal(err)
	}
}

// Tokens: none, another ASN's, expired, signed by someone else, for
// another audience, read-only: refused in the error shape, nothing created.
func TestTokenRefusals(t *testing.T) {
	e := newEnv(t, nil)
	body, _ := json.Marshal(peeringapi.SessionArray{Sessions: []peeringapi.Session{session()}})
	expired := e.token(t, "u", -time.Hour, denic)
	foreign, _ := e.issuer.ForeignToken(audience, "u", []peeringapi.Network{{ASN: denic, Perms: 15}})
	wrongAud, _ := e.issuer.Token("someone-else", "u", []peeringapi.Network{{ASN: denic, Perms: 15}}, time.Hour)
	readOnly, _ := e.issuer.Token(audience, "u", []peeringapi.Network{{ASN: denic, Perms: peeringapi.PermRead}}, time.Hour)
	for _, tc := range []struct {
		name, tok string
		code      int
		says      string
	}{
		{"no token", "", 401, "send a bearer token"},
		{"another ASN", e.token(t, "u", time.Hour, 3900000001), 403, "does not authorise requests for AS8763"},
		{"expired", expired, 401, "expired"},
		{"foreign key", foreign, 401, "refused"},
		{"wrong audience", wrongAud, 401, "audience"},
		{"read only", readOnly, 403, "does not authorise"},
		{"garbage", "not.a.jwt", 401, "refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out := e.raw(t, http.MethodPost, "/v0.1/sessions", tc.tok, string(body))
			var er peeringapi.ErrorResponse
			if code != tc.code || json.Unmarshal([]byte(out), &er) != nil || len(er.Errors) == 0 || !strings.Contains(out, tc.says) {
				t.Fatalf("%d %s", code, out)
			}
			if strings.Contains(out, tc.tok) && tc.tok != "" {
				t.Fatalf("the answer echoes the token")
			}
		})
	}
	if n := len(e.requests(t)); n != 0 {
		t.Fatalf("%d requests created", n)
	}
}

// Every hostile body is refused with the draft's error shape, naming the
// field, and nothing is created.
func TestHostileBodies(t *testing.T) {
	e := newEnv(t, func(o *peeringapi.Options) { o.CallerPerMinute, o.AddressPerMinute = -1, -1 })
	tok := e.token(t, "u", time.Hour, denic, 3900000002)
	sess := func(mod func(m map[string]any)) map[string]any {
		m := map[string]any{"local_asn": denic, "local_ip": "127.0.0.11", "peer_asn": ourASN, "peer_ip": "127.0.0.1",
			"location": map[string]any{"id": "pdb:ix:90001", "type": "public"}}
		mod(m)
		return m
	}
	batch := func(ss ...map[string]any) string {
		b, _ := json.Marshal(map[string]any{"sessions": ss})
		return string(b)
	}
	good := func(mod func(m map[string]any)) string { return batch(sess(mod)) }
	var seventeen []map[string]any
	for i := range 17 {
		seventeen = append(seventeen, sess(func(m map[string]any) { m["local_ip"] = fmt.Sprintf("127.0.0.%d", 20+i) }))
	}
	for _, tc := range []struct {
		name, body, field string
		code              int
	}{
		{"oversized", `{"sessions":[` + strings.Repeat(`{"local_asn":8763},`, 10000) + `{}]}`, "request", 413},
		{"not json", `{"sessions":`, "request", 400},
		{"trailing", good(func(map[string]any) {}) + `{}`, "request", 400},
		{"trailing brace", good(func(map[string]any) {}) + `}`, "request", 400},
		{"trailing text", good(func(map[string]any) {}) + ` x`, "request", 400},
		{"unknown field", good(func(m map[string]any) { m["approved"] = true }), "request", 400},
		{"unknown top-level field", `{"sessions":[],"status":"Approved"}`, "request", 400},
		{"asn as text", good(func(m map[string]any) { m["local_asn"] = "8763" }), "request", 400},
		{"asn float", good(func(m map[string]any) { m["local_asn"] = 8763.5 }), "request", 400},
		{"no sessions", `{"sessions":[]}`, "sessions", 400},
		{"too many", batch(seventeen...), "sessions", 400},
		{"AS_TRANS", good(func(m map[string]any) { m["local_asn"] = 23456 }), "sessions[0].local_asn", 400},
		{"ASN not in token", good(func(m map[string]any) { m["local_asn"] = 3900000003 }), "sessions[0].local_asn", 403},
		{"outside the LAN", good(func(m map[string]any) { m["local_ip"] = "198.51.100.7" }), "sessions[0].local_ip", 400},
		{"our own address", good(func(m map[string]any) { m["local_ip"] = "127.0.0.1" }), "sessions[0].local_ip", 400},
		{"network address", good(func(m map[string]any) { m["local_ip"] = "127.0.0.0" }), "sessions[0].local_ip", 400},
		{"v6 local, v4 peer", good(func(m map[string]any) { m["local_ip"] = "2001:db8::7" }), "sessions[0].local_ip", 400},
		{"zone", good(func(m map[string]any) { m["local_ip"] = "fe80::1%eth0" }), "sessions[0].local_ip", 400},
		{"not an address", good(func(m map[string]any) { m["local_ip"] = "127.0.0.11/24" }), "sessions[0].local_ip", 400},
		{"not our address", good(func(m map[string]any) { m["peer_ip"] = "127.0.0.2" }), "sessions[0].peer_ip", 400},
		{"wrong IX", good(func(m map[string]any) { m["location"] = map[string]any{"id": "pdb:ix:31"} }), "sessions[0].peer_ip", 400},
		{"bad location", good(func(m map[string]any) { m["location"] = map[string]any{"id": "ix 90001"} }), "sessions[0].location.id", 400},
		{"private", good(func(m map[string]any) { m["location"] = map[string]any{"id": "pdb:ix:90001", "type": "private"} }), "sessions[0].location.type", 400},
		{"wrong peer ASN", good(func(m map[string]any) { m["peer_asn"] = 64501 }), "sessions[0].peer_asn", 400},
		{"status set", good(func(m map[string]any) { m["status"] = "Established" }), "sessions[0].status", 400},
		{"md5", good(func(m map[string]any) { m["md5"] = "secret" }), "sessions[0].session_secret", 400},
		{"role", good(func(m map[string]any) { m["local_bgp_role"] = 0 }), "sessions[0].local_bgp_role", 400},
		{"route server", good(func(m map[string]any) { m["local_insert_asn"] = false }), "sessions[0].local_insert_asn", 400},
		{"monitoring", good(func(m map[string]any) { m["peer_monitoring_session"] = true }), "sessions[0].peer_monitoring_session", 400},
		{"return url", `{"return_url":"javascript:alert(1)","sessions":[{}]}`, "return_url", 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out := e.raw(t, http.MethodPost, "/v0.1/sessions", tok, tc.body)
			var er peeringapi.ErrorResponse
			if err := json.Unmarshal([]byte(out), &er); err != nil || code != tc.code || len(er.Errors) == 0 || er.Errors[0].Name != tc.field || len(er.Errors[0].Errors) == 0 {
				t.Fatalf("%d %s", code, out)
			}
		})
	}
	// A batch with one bad session creates none of the good ones.
	b := batch(sess(func(map[string]any) {}), sess(func(m map[string]any) { m["local_ip"] = "203.0.113.9" }))
	if code, out := e.raw(t, http.MethodPost, "/v0.1/sessions", tok, b); code != 400 || !strings.Contains(out, "sessions[1].local_ip") {
		t.Fatalf("batch: %d %s", code, out)
	}
	if n := len(e.requests(t)); n != 0 {
		t.Fatalf("%d requests created", n)
	}
}

// Paths, methods and parameters.
func TestRoutes(t *testing.T) {
	e := newEnv(t, func(o *peeringapi.Options) { o.CallerPerMinute, o.AddressPerMinute = -1, -1 })
	tok := e.token(t, "u", time.Hour, denic)
	for _, tc := range []struct {
		method, path string
		code         int
	}{
		{"GET", "/sessions", 404},
		{"GET", "/v0.1/nothing", 404},
		{"PUT", "/v0.1/sessions", 405},
		{"GET", "/v0.1/sessions", 400},
		{"GET", "/v0.1/sessions?asn=3900000001", 403},
		{"GET", "/v0.1/sessions?asn=8763&max_results=101", 400},
		{"GET", "/v0.1/sessions?asn=8763&next_token=x", 400},
		{"GET", "/v0.1/sessions?asn=8763", 200},
		{"GET", "/v0.1/sessions/not-a-uuid", 400},
		{"GET", "/v0.1/sessions/00000000-0000-0000-0000-000000000000", 404},
		{"DELETE", "/v0.1/sessions/00000000-0000-0000-0000-000000000000", 404},
		{"GET", "/v0.1/locations?location_type=pni", 400},
		{"GET", "/v0.1/locations?location_type=private", 200},
	} {
		if code, out := e.raw(t, tc.method, tc.path, tok, ""); code != tc.code || (code != 200 && !strings.Contains(out, `"errors"`)) {
			t.Errorf("%s %s: %d %s", tc.method, tc.path, code, out)
		}
	}
}

// One caller is held to its rate; the answer says so.
func TestRateLimit(t *testing.T) {
	e := newEnv(t, func(o *peeringapi.Options) { o.CallerPerMinute, o.AddressPerMinute = 1, -1 })
	tok := e.token(t, "u", time.Hour, denic)
	limited := 0
	for range 20 {
		code, out := e.raw(t, "GET", "/v0.1/locations", tok, "")
		if code == http.StatusTooManyRequests {
			limited++
			if !strings.Contains(out, "too many requests") {
				t.Fatal(out)
			}
		}
	}
	if limited < 5 {
		t.Fatalf("%d of 20 requests limited", limited)
	}
	// Another caller is not held by the first one's rate.
	if code, _ := e.raw(t, "GET", "/v0.1/locations", e.token(t, "v", time.Hour, denic), ""); code != 200 {
		t.Fatalf("other caller: %d", code)
	}
}

// One ASN cannot fill the NOC's queue: past MaxPendingPerASN undecided
// requests, a POST is refused whole; a repeat of a pending one still
// answers.
func TestPendingCap(t *testing.T) {
	e := newEnv(t, func(o *peeringapi.Options) { o.MaxPendingPerASN, o.CallerPerMinute, o.AddressPerMinute = 3, -1, -1 })
	ctx := context.Background()
	c := e.client(e.token(t, "u", time.Hour, denic))
	at := func(ips ...string) []peeringapi.Session {
		var out []peeringapi.Session
		for _, ip := range ips {
			s := session()
			s.LocalIP = ip
			out = append(out, s)
		}
		return out
	}
	if _, err := c.CreateSessions(ctx, at("127.0.0.11", "127.0.0.12", "127.0.0.13")); err != nil {
		t.Fatal(err)
	}
	var re *peeringapi.RemoteError
	if _, err := c.CreateSessions(ctx, at("127.0.0.14")); !errors.As(err, &re) || re.Status != http.StatusTooManyRequests || !strings.Contains(err.Error(), "waiting for our decision") {
		t.Fatalf("fourth: %v", err)
	}
	if _, err := c.CreateSessions(ctx, at("127.0.0.12")); err != nil {
		t.Fatalf("repeat: %v", err)
	}
	if n := len(e.requests(t)); n != 3 {
		t.Fatalf("%d requests", n)
	}
}

// The draft's states from a request's live status.
func TestSessionStates(t *testing.T) {
	e := newEnv(t, func(o *peeringapi.Options) { o.CallerPerMinute, o.AddressPerMinute = -1, -1 })
	ctx := context.Background()
	c := e.client(e.token(t, "u", time.Hour, denic))
	arr, err := c.CreateSessions(ctx, []peeringapi.Session{session()})
	if err != nil {
		t.Fatal(err)
	}
	cond := func(typ string) metav1.Condition {
		return metav1.Condition{Type: typ, Status: metav1.ConditionTrue, Reason: "Test"}
	}
	up := metav1.Now()
	for _, tc := range []struct {
		name     string
		conds    []metav1.Condition
		sessions []peeringv1.SessionStatus
		shutdown bool
		want     string
	}{
		{"new", nil, nil, false, peeringapi.StatusPending},
		{"denied", []metav1.Condition{cond("Denied")}, nil, false, peeringapi.StatusRejected},
		{"refused by our checks", []metav1.Condition{cond("Stalled")}, nil, false, peeringapi.StatusRejected},
		{"approved, not pushed", []metav1.Condition{cond("Approved")}, nil, false, peeringapi.StatusApproved},
		{"approved, connecting", []metav1.Condition{cond("Approved")}, []peeringv1.SessionStatus{{Address: "127.0.0.11", Family: "ipv4", State: "Active"}}, false, peeringapi.StatusApproved},
		{"up", []metav1.Condition{cond("Approved")}, []peeringv1.SessionStatus{{Address: "127.0.0.11", Family: "ipv4", State: "Established", EstablishedTime: &up}}, false, peeringapi.StatusEstablished},
		{"was up", []metav1.Condition{cond("Approved")}, []peeringv1.SessionStatus{{Address: "127.0.0.11", Family: "ipv4", State: "Idle", EstablishedTime: &up}}, false, peeringapi.StatusDown},
		{"shut down", []metav1.Condition{cond("Approved")}, []peeringv1.SessionStatus{{Address: "127.0.0.11", Family: "ipv4", State: "Idle"}}, true, peeringapi.StatusDown},
	} {
		pr := &e.requests(t)[0]
		pr.Spec.Shutdown = tc.shutdown
		if err := e.k8s.Update(ctx, pr); err != nil {
			t.Fatal(err)
		}
		pr.Status.Conditions, pr.Status.Sessions = tc.conds, tc.sessions
		if err := e.k8s.Status().Update(ctx, pr); err != nil {
			t.Fatal(err)
		}
		s, err := c.GetSession(ctx, arr.Sessions[0].SessionID)
		if err != nil || s.Status != tc.want {
			t.Errorf("%s: %+v %v, want %s", tc.name, s, err, tc.want)
		}
	}
}

// A requester.peeringAPI written by someone other than the server's own
// user does not make a request the remote's to withdraw.
func TestForgedRequesterNotDeletable(t *testing.T) {
	e := newEnv(t, func(o *peeringapi.Options) {
		o.Self = "system:serviceaccount:peering-operator-system:controller-manager"
	})
	ctx := context.Background()
	pr := &peeringv1.PeeringRequest{ObjectMeta: metav1.ObjectMeta{Name: "as8763-forged", Namespace: ns},
		Spec: peeringv1.PeeringRequestSpec{PeerASN: denic, IXPortRef: peeringv1.LocalObjectReference{Name: "lab"}, Addresses: []string{"127.0.0.11"},
			Requester: &peeringv1.UserInfo{Username: "noc-mallory", PeeringAPI: &peeringv1.PeeringAPIRequester{ASN: denic, Subject: "x"}}}}
	if err := e.k8s.Create(ctx, pr); err != nil {
		t.Fatal(err)
	}
	var re *peeringapi.RemoteError
	if err := e.client(e.token(t, "u", time.Hour, denic)).DeleteSession(ctx, string(pr.UID)); !errors.As(err, &re) || re.Status != http.StatusForbidden {
		t.Fatalf("delete: %v", err)
	}
	if err := e.k8s.Get(ctx, client.ObjectKeyFromObject(pr), pr); err != nil {
		t.Fatal(err)
	}
}
