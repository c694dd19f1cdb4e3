package controllers_test

import (
	"context"
	"net/netip"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
	"github.com/peering-operator/peering-operator/internal/bgptest"
	"github.com/peering-operator/peering-operator/internal/testenv"
	"github.com/peering-operator/peering-operator/internal/webhook"
)

// userClient returns a client authenticated as name (real RBAC applies).
func userClient(t *testing.T, name string, groups ...string) client.Client {
	t.Helper()
	u, err := testEnv.AddUser(envtest.User{Name: name, Groups: groups}, restCfg)
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(u.Config(), client.Options{Scheme: testenv.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// grant binds a new ClusterRole with rules to a user for the test.
func grant(t *testing.T, user string, rules ...rbacv1.PolicyRule) {
	t.Helper()
	name := "test-" + user
	create(t, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: rules})
	create(t, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: name},
		Subjects: []rbacv1.Subject{{Kind: "User", Name: user, APIGroup: "rbac.authorization.k8s.io"}}})
}

var (
	readWritePRs = rbacv1.PolicyRule{APIGroups: []string{"peering.dev"}, Resources: []string{"peeringrequests"}, Verbs: []string{"get", "list", "watch", "create", "update", "patch"}}
	writeStatus  = rbacv1.PolicyRule{APIGroups: []string{"peering.dev"}, Resources: []string{"peeringrequests/status"}, Verbs: []string{"get", "update", "patch"}}
)

// onFresh runs write on a fresh copy of pr, again while it loses to a
// concurrent writer (a conflict), and returns its last error.
func onFresh(pr *peeringv1.PeeringRequest, write func(*peeringv1.PeeringRequest) error) error {
	return retry.OnError(wait.Backoff{Steps: 20, Duration: 50 * time.Millisecond, Factor: 1.2, Jitter: 0.1}, apierrors.IsConflict, func() error {
		cur := &peeringv1.PeeringRequest{}
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(pr), cur); err != nil {
			return err
		}
		return write(cur)
	})
}

// decide writes a decision as user c would. The operator writes the status
// too, so a write that lost the race to it is retried on a fresh read: the
// test asserts what the webhook says, never a conflict.
func decide(c client.Client, pr *peeringv1.PeeringRequest, typ string) error {
	return onFresh(pr, func(cur *peeringv1.PeeringRequest) error {
		meta.SetStatusCondition(&cur.Status.Conditions, metav1.Condition{Type: typ, Status: metav1.ConditionTrue, Reason: "NOC" + typ, Message: "decided by test"})
		return c.Status().Update(context.Background(), cur)
	})
}

// Approval is an authorised act: the GitOps service account creates the
// request but cannot approve it, a NOC user without the approve permission
// is refused, the NOC user with it approves and the session comes up; the
// requester is stamped and cannot be forged; what was approved cannot change.
func TestApprovalIsAnAuthorisedAct(t *testing.T) {
	l := newLab(t)
	const gitops, bob, alice = "system:serviceaccount:gitops:argocd", "noc-bob", "noc-alice"
	grant(t, gitops, readWritePRs)
	grant(t, bob, readWritePRs, writeStatus)
	grant(t, alice, readWritePRs, writeStatus,
		rbacv1.PolicyRule{APIGroups: []string{"peering.dev"}, Resources: []string{"ixports"}, Verbs: []string{"approve"}, ResourceNames: []string{l.port.Name}})
	gitopsC, bobC, aliceC := userClient(t, gitops), userClient(t, bob), userClient(t, alice)
	ctx := context.Background()
	g := NewWithT(t)

	bgptest.StartPeer(t, bgptest.PeerConfig{Name: "denic", Addr: netip.MustParseAddr("127.0.0.11"), ASN: 8763, RouteServer: l.rs.Endpoint(),
		Routes: []bgptest.Route{{Prefix: netip.MustParsePrefix("4.44.128.0/18")}}})
	create(t, l.router)
	create(t, l.port)

	// A forged requester is refused.
	forged := l.request.DeepCopy()
	forged.Spec.Requester = &peeringv1.UserInfo{Username: alice}
	g.Expect(gitopsC.Create(ctx, forged)).To(MatchError(ContainSubstring("the requester cannot be chosen")))

	// The GitOps service account creates the request; it is stamped.
	g.Expect(gitopsC.Create(ctx, l.request)).To(Succeed())
	t.Cleanup(func() { _ = k8s.Delete(ctx, l.request) })
	g.Expect(getPR(g, l.request).Spec.Requester.Username).To(Equal(gitops))
	expectCondition(t, l.request, "Ready", metav1.ConditionFalse, peeringv1.ReasonWaitingForApproval)

	// Neither the GitOps account nor a NOC user without the permission can approve.
	g.Expect(apierrors.IsForbidden(decide(gitopsC, l.request, "Approved"))).To(BeTrue(), "the GitOps account may not write the status")
	err := decide(bobC, l.request, "Approved")
	g.Expect(err).To(MatchError(ContainSubstring(`needs verb "approve" on ixports/` + l.port.Name)))

	// The NOC user with approve on this IXPort approves; the session comes up.
	g.Expect(decide(aliceC, l.request, "Approved")).To(Succeed())
	pr := getPR(g, l.request)
	g.Expect(pr.Status.Approval.User).To(Equal(alice))
	expectCondition(t, l.request, "Ready", metav1.ConditionTrue, peeringv1.ReasonSessionsEstablished)

	// The decision is final, and cannot be rewritten by anyone. (The
	// operator writes the status too: a write that lost the race to it is
	// retried on a fresh read.)
	g.Expect(onFresh(l.request, func(pr *peeringv1.PeeringRequest) error {
		meta.RemoveStatusCondition(&pr.Status.Conditions, "Approved")
		return aliceC.Status().Update(ctx, pr)
	})).To(MatchError(ContainSubstring("cannot be changed or removed")))
	g.Expect(onFresh(l.request, func(pr *peeringv1.PeeringRequest) error {
		pr.Status.Approval.User = bob
		return bobC.Status().Update(ctx, pr)
	})).To(MatchError(ContainSubstring("cannot change")))

	// What was approved cannot change; the description can.
	g.Expect(onFresh(l.request, func(pr *peeringv1.PeeringRequest) error {
		pr.Spec.Addresses = []string{"127.0.0.12"}
		return gitopsC.Update(ctx, pr)
	})).To(MatchError(ContainSubstring("is approved")))
	g.Expect(onFresh(l.request, func(pr *peeringv1.PeeringRequest) error {
		pr.Spec.Description = "DENIC eG, renamed"
		return gitopsC.Update(ctx, pr)
	})).To(Succeed())
	g.Expect(getPR(g, l.request).Spec.Requester.Username).To(Equal(gitops), "an update keeps the requester")

	// Accepting a held change may remove a session: like an approval, only
	// for those who may approve, and recorded.
	acceptAs := func(c client.Client, token string) error {
		return onFresh(l.request, func(pr *peeringv1.PeeringRequest) error {
			pr.Annotations = map[string]string{peeringv1.AnnotationAcceptDrift: token}
			return c.Update(ctx, pr)
		})
	}
	g.Expect(acceptAs(gitopsC, "0123456789abcdef")).To(MatchError(ContainSubstring("may not accept a held change")))
	g.Expect(acceptAs(bobC, "0123456789abcdef")).To(MatchError(ContainSubstring(`needs verb "approve"`)))
	g.Expect(acceptAs(aliceC, "0123456789abcdef")).To(Succeed())
	g.Expect(getPR(g, l.request).Annotations[webhook.AnnotationAcceptedBy]).To(Equal(alice))
}

// With the IXPort's AutoOpen policy the operator approves a clean request
// for an Open peer by itself, and nothing else.
func TestAutoApproval(t *testing.T) {
	addr, port := listener(t)
	o := newObjects(t, addr, port)
	o.port.Spec.PeerDefaults.Approval = peeringv1.ApprovalAutoOpen
	create(t, o.router)
	create(t, o.port)
	create(t, o.request) // DENIC: policy Open
	c := expectCondition(t, o.request, "Approved", metav1.ConditionTrue, peeringv1.ReasonAutoApproved)
	g := NewWithT(t)
	g.Expect(c.Message).To(ContainSubstring("AutoOpen"))
	g.Eventually(func(g Gomega) { g.Expect(getPR(g, o.request).Status.Approval.User).NotTo(BeEmpty()) }, timeout).Should(Succeed())

	selective := o.request.DeepCopy()
	selective.ObjectMeta = metav1.ObjectMeta{Name: o.request.Name + "-google", Namespace: "default"}
	selective.Spec.PeerASN, selective.Spec.Addresses = 15169, nil // Google: Selective
	create(t, selective)
	expectCondition(t, selective, "Ready", metav1.ConditionFalse, peeringv1.ReasonWaitingForApproval)
	// Several rounds of the request controller do not approve it.
	afterReconciles(t, "peeringrequest", 4)
	g.Expect(conditionOf(g, selective, "Approved")).To(BeNil())
}
