package main

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
)

// A request of the seed: Hurricane Electric shows no Policy contact in
// PeeringDB, so the e-mail goes to its Technical one.
func TestEmailForARequest(t *testing.T) {
	cache := pdbFlagsFor(t)
	out, errOut, err := run(t, args([]string{"email", "as6939-decix-fra", "-n", "peers"}, kube(), cache)...)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "email-as6939", out)
	if !strings.HasPrefix(out, "To: \"Peering\" <peering@he.net>\n") {
		t.Errorf("To is not HE's Technical contact:\n%s", out)
	}
	if strings.Contains(errOut, "warning") && !strings.Contains(errOut, "loading IX") {
		t.Errorf("stderr: %s", errOut)
	}
	// Offline there are no contacts: the To line says where to look.
	out, errOut, err = run(t, args([]string{"email", "as6939-decix-fra", "-n", "peers", "--offline"}, kube(), cache)...)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, "To: (contacts not read from PeeringDB: see https://www.peeringdb.com/asn/6939)\n") ||
		!strings.Contains(errOut, "--offline") {
		t.Errorf("offline:\n%s\n--- stderr\n%s", out, errOut)
	}
}

// A request the operator configured 12 days ago whose sessions never came
// up (WaitingForPeer): the e-mail says so, names the MD5 password without
// it, and gives the pinned limits. Quickline has Policy and Technical
// contacts: only Policy is written to.
func TestEmailWaitingForPeer(t *testing.T) {
	ctx := context.Background()
	pr := &peeringv1.PeeringRequest{ObjectMeta: metav1.ObjectMeta{Namespace: "noc", Name: "as15600-decix-fra"},
		Spec: peeringv1.PeeringRequestSpec{PeerASN: 15600, IXPortRef: peeringv1.LocalObjectReference{Name: "decix-fra"},
			PasswordSecretRef: &peeringv1.SecretKeySelector{Name: "md5-as15600", Key: "password"},
			MaxPrefixes:       &peeringv1.MaxPrefixes{IPv4: ptr[int64](500)}}}
	if err := k8s.Create(ctx, pr); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := k8s.Delete(ctx, pr); err != nil {
			t.Errorf("deleting %s: %v", pr.Name, err)
		}
	})
	configured := metav1.NewTime(testNow.Add(-12*24*time.Hour - 3*time.Hour))
	pr.Status = peeringv1.PeeringRequestStatus{
		Conditions: []metav1.Condition{
			{Type: peeringv1.PeeringRequestApproved, Status: "True", Reason: "Approved", Message: "CHG-200", LastTransitionTime: configured},
			{Type: peeringv1.PeeringRequestEstablished, Status: "False", Reason: peeringv1.ReasonWaitingForPeer,
				Message: "configured 12 days ago; no session has come up", LastTransitionTime: metav1.NewTime(testNow.Add(-5 * 24 * time.Hour))},
		},
		Config: &peeringv1.PinnedConfig{Sessions: []peeringv1.PinnedSession{
			{Address: "80.81.192.138", Family: "ipv4", Limit: 500}, {Address: "2001:7f8::3cf0:0:1", Family: "ipv6", Limit: 165}},
			Digest: "9d2c", Time: configured, Reason: peeringv1.ReasonPinApproved},
		Applied: &peeringv1.AppliedStatus{Router: "edge1", Result: peeringv1.AppliedResultApplied, ConfigDigest: "9d2c", Time: configured},
		Sessions: []peeringv1.SessionStatus{
			{Address: "80.81.192.138", Family: "ipv4", State: "Active", Limit: ptr[int64](500)},
			{Address: "2001:7f8::3cf0:0:1", Family: "ipv6", State: "Connect", Limit: ptr[int64](165)}},
	}
	if err := k8s.Status().Update(ctx, pr); err != nil {
		t.Fatal(err)
	}
	out, _, err := run(t, args([]string{"email", "as15600-decix-fra", "-n", "noc"}, kube(), pdbFlagsFor(t))...)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "email-waiting-for-peer", out)
	for _, want := range []string{"To: \"Engineering\" <peering@quickline.net>\n", "We configured our side 12 days ago (2026-02-18)",
		"MD5 password: yes"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
	if strings.Contains(out, "md5-as15600") || strings.Contains(out, "engineering@quickline.net") {
		t.Errorf("the Secret's name or a Technical contact is in the e-mail:\n%s", out)
	}
}

// A candidate at both our IXs (with LINX LON1 added): every common IX with
// both sides' addresses and the limits the operator would set.
func TestEmailForACandidate(t *testing.T) {
	withLINX(t)
	out, _, err := run(t, args([]string{"email", "--asn", "AS4788"}, kube(), pdbFlagsFor(t))...)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "email-candidate-as4788", out)
	if !strings.Contains(out, "at DE-CIX Frankfurt and LINX LON1.") {
		t.Errorf("not both IXs:\n%s", out)
	}
}

func TestEmailRefuses(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"email"}, "give a PeeringRequest NAME (kubectl get pr) or --asn N"},
		{[]string{"email", "x", "--asn", "1"}, "not both"},
		{[]string{"email", "as1-nowhere", "-n", "peers"}, "PeeringRequest as1-nowhere not found in namespace peers"},
		{[]string{"email", "--asn", "2914"}, "PeeringDB shows AS2914 at none of our IXs or facilities"},
		{[]string{"email", "--asn", "8804"}, "AS8804 is our own AS"},
	} {
		_, _, err := run(t, args(tc.args, kube(), pdbFlagsFor(t))...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want %q", tc.args, err, tc.want)
		}
	}
}

func TestEmailHelp(t *testing.T) {
	out, _, err := run(t, "email", "--help")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "help-email", out)
}

// The controller puts WaitingForPeer on Established and repeats it on Ready.
func TestWaitingForPeerCondition(t *testing.T) {
	for _, tc := range []struct {
		conds []metav1.Condition
		want  bool
	}{
		{[]metav1.Condition{{Type: "Established", Status: "False", Reason: "WaitingForPeer"}}, true},
		{[]metav1.Condition{{Type: "Ready", Status: "False", Reason: "WaitingForPeer"}}, true},
		{[]metav1.Condition{{Type: "Established", Status: "False", Reason: "SessionsNotEstablished"}}, false},
		{nil, false},
	} {
		pr := &peeringv1.PeeringRequest{Status: peeringv1.PeeringRequestStatus{Conditions: tc.conds}}
		if got := waitingForPeer(pr) != nil; got != tc.want {
			t.Errorf("%+v: %v, want %v", tc.conds, got, tc.want)
		}
	}
}

// AS8741 shares our facility in Nuremberg but has no network record in
// PeeringDB: the e-mail names the facility and says there is no contact.
func TestEmailForAFacilityCandidate(t *testing.T) {
	out, _, err := run(t, args([]string{"email", "--asn", "8741"}, kube(), pdbFlagsFor(t))...)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"To: (AS8741 has no network in PeeringDB: no contact to write to)\n",
		"at a private interconnect\n", "We are both in these facilities (a private interconnect is possible too):\n" +
			"  Deutschherrnkarree, Nuremberg DE (https://www.peeringdb.com/fac/203)\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
}
