package controllers_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	api "github.com/osrg/gobgp/v3/api"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
)

// An MD5 password from a Secret reaches the router's configuration and
// nothing else: not the request's or the router's status, not events, not
// the operator's log. (The kernel here refuses TCP MD5, so the session
// itself is not expected to come up with it.)
func TestPasswordOnlyReachesTheRouter(t *testing.T) {
	const password = "Md5-s3cret-9f2c"
	l := newLab(t)
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "as8763-md5", Namespace: "default"},
		Data: map[string][]byte{"password": []byte(password)}}
	create(t, secret)
	l.request.Spec.PasswordSecretRef = &peeringv1.SecretKeySelector{Name: secret.Name}
	create(t, l.router)
	create(t, l.port)
	create(t, l.request)
	approve(t, l.request)
	expectCondition(t, l.request, "Configured", metav1.ConditionTrue, peeringv1.ReasonConfigured)

	ctx := context.Background()
	g := NewWithT(t)
	// On the route server: the neighbor carries the password.
	g.Eventually(func(g Gomega) {
		stream, err := l.rs.API.ListPeer(ctx, &api.ListPeerRequest{Address: "127.0.0.11"})
		g.Expect(err).NotTo(HaveOccurred())
		r, err := stream.Recv()
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(r.Peer.Conf.AuthPassword).To(Equal(password))
	}, timeout).Should(Succeed())

	// Nowhere else.
	pr := getPR(g, l.request)
	rt := &peeringv1.Router{}
	g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(l.router), rt)).To(Succeed())
	var evs eventsv1.EventList
	g.Expect(k8s.List(ctx, &evs)).To(Succeed())
	for what, v := range map[string]any{"request status": pr.Status, "router status": rt.Status, "events": evs.Items} {
		b, err := json.Marshal(v)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(string(b)).NotTo(ContainSubstring(password), "the password leaked into the %s", what)
	}
	g.Expect(strings.Contains(logs.String(), password)).To(BeFalse(), "the password leaked into the operator's log")

	// A missing Secret is reported without guessing at its content.
	l2 := l.request.DeepCopy()
	l2.ObjectMeta = metav1.ObjectMeta{Name: "as6939-md5", Namespace: "default"}
	l2.Spec.PeerASN, l2.Spec.PasswordSecretRef = 6939, &peeringv1.SecretKeySelector{Name: "no-such-secret"}
	create(t, l2)
	approve(t, l2)
	c := expectCondition(t, l2, "Configured", metav1.ConditionFalse, peeringv1.ReasonPasswordSecretError)
	g.Expect(c.Message).To(ContainSubstring("no-such-secret"))
	expectCondition(t, l2, "Stalled", metav1.ConditionTrue, peeringv1.ReasonPasswordSecretError)
}
