package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
	"github.com/peering-operator/peering-operator/internal/peeringdb/pdbtest"
	"github.com/peering-operator/peering-operator/internal/testenv"
)

// The package's tests share one real API server (with the CRDs) and one
// PeeringDB test server with the real sample, started by TestMain.
var (
	k8s        client.Client
	restCfg    *rest.Config
	kubeconfig string
	pdb        *pdbtest.Server
)

// testNow is the clock of every command in the tests, so ages and uptimes
// in golden files stay put.
var testNow = time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)

// mainEnv makes the test binary run main() instead of the tests: the
// exit-status test runs the plugin as a process this way.
const mainEnv = "KUBECTL_PEERING_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(mainEnv) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	env, cfg, err := testenv.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() {
		if err := env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "failed to stop the API server:", err)
		}
	}()
	restCfg = cfg
	if k8s, err = client.New(cfg, client.Options{Scheme: testenv.Scheme}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	dir, err := os.MkdirTemp("", "kubectl-peering-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	kubeconfig = filepath.Join(dir, "kubeconfig")
	if err := testenv.WriteKubeconfig(cfg, kubeconfig); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	pdb = pdbtest.NewServer(pdbtest.Options{})
	defer pdb.Close()
	now = func() time.Time { return testNow }
	if err := seed(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "seeding the API server:", err)
		return 1
	}
	return m.Run()
}

// kube are the connection flags for the test API server.
func kube() []string { return []string{"--kubeconfig", kubeconfig} }

// pdbFlagsFor points a command at the PeeringDB test server with a cache
// file of the test's own, unthrottled.
func pdbFlagsFor(t *testing.T) []string {
	return []string{"--peeringdb-url", pdb.BaseURL, "--cache", filepath.Join(t.TempDir(), "peeringdb.json.gz"),
		"--peeringdb-requests-per-minute", "-1"}
}

func args(parts ...[]string) []string {
	var out []string
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func ptr[T any](v T) *T { return &v }

// seed creates the world most tests read: our Router edge1 (AS8804, which
// is at DE-CIX in PeeringDB, so candidates must leave it out), IXPort
// decix-fra on it, and in namespace "peers" four requests in different
// states with the sessions the operator would have written.
func seed(ctx context.Context) error {
	objs := []client.Object{
		&peeringv1.Router{ObjectMeta: metav1.ObjectMeta{Name: "edge1"}, Spec: peeringv1.RouterSpec{
			Driver: peeringv1.DriverGoBGP, Address: "127.0.0.1", LocalASN: 8804, RouterID: "192.0.2.1"}},
		&peeringv1.IXPort{ObjectMeta: metav1.ObjectMeta{Name: "decix-fra"}, Spec: peeringv1.IXPortSpec{
			IX: peeringv1.IXReference{PeeringDBID: 31}, RouterRef: peeringv1.LocalObjectReference{Name: "edge1"},
			IPv4Address: "80.81.192.10/21", IPv6Address: "2001:7f8::fbf4:0:1/64",
			PeerDefaults: peeringv1.PeerDefaults{MaxPrefixes: peeringv1.MaxPrefixDefaults{AbsoluteHeadroom: 50, RelativeHeadroomPercent: 10}}}},
	}
	for _, ns := range []string{"peers", "noc", "locked"} {
		objs = append(objs, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{"peering-test": ns}}})
	}
	for _, o := range objs {
		if err := k8s.Create(ctx, o); err != nil {
			return err
		}
	}
	ago := func(d time.Duration) *metav1.Time { return ptr(metav1.NewTime(testNow.Add(-d))) }
	cond := func(t, status, reason, msg string) metav1.Condition {
		return metav1.Condition{Type: t, Status: metav1.ConditionStatus(status), Reason: reason, Message: msg,
			LastTransitionTime: metav1.NewTime(testNow.Add(-time.Hour))}
	}
	approved := cond(peeringv1.PeeringRequestApproved, "True", "Approved", "CHG-100")
	for _, r := range []struct {
		name   string
		asn    int64
		status peeringv1.PeeringRequestStatus
	}{
		{"as8763-decix-fra", 8763, peeringv1.PeeringRequestStatus{
			Conditions: []metav1.Condition{approved, cond("Ready", "True", "Established", "every session is up")},
			Approval:   &peeringv1.ApprovalStatus{State: "Approved", User: "noc-alice", Time: ago(50 * time.Hour), Reason: "CHG-100"},
			Peer:       &peeringv1.PeerInfo{Name: "DENIC eG", Policy: "Open"},
			Sessions: []peeringv1.SessionStatus{
				{Address: "80.81.192.37", Family: "ipv4", State: "Established", EstablishedTime: ago(76 * time.Hour),
					Received: ptr[int64](80), Accepted: ptr[int64](78), Limit: ptr[int64](143)},
				{Address: "2001:7f8::223b:0:1", Family: "ipv6", State: "Established", EstablishedTime: ago(26*time.Hour + 5*time.Minute),
					Received: ptr[int64](12), Accepted: ptr[int64](12), Limit: ptr[int64](231)},
			},
			Drift: &peeringv1.DriftStatus{Token: "5f1c0a9e2b7d4c31", Since: metav1.NewTime(testNow.Add(-2 * time.Hour)),
				Changes: []string{"the limit of 80.81.192.37 would drop from 143 to 127 (PeeringDB's prefix count fell)"}}}},
		{"as6939-decix-fra", 6939, peeringv1.PeeringRequestStatus{
			Conditions: []metav1.Condition{approved, cond("Ready", "False", "SessionsNotEstablished", "1 of 2 sessions up")},
			Approval:   &peeringv1.ApprovalStatus{State: "Approved", User: "noc-bob", Time: ago(3 * time.Hour), Reason: "CHG-101"},
			Peer:       &peeringv1.PeerInfo{Name: "Hurricane Electric", Policy: "Open"},
			Sessions: []peeringv1.SessionStatus{
				{Address: "80.81.192.172", Family: "ipv4", State: "Established", EstablishedTime: ago(2*time.Hour + 30*time.Second),
					Received: ptr[int64](151234), Accepted: ptr[int64](150002), Limit: ptr[int64](231055)},
				{Address: "2001:7f8::1b1b:0:1", Family: "ipv6", State: "Active", Limit: ptr[int64](198055),
					LastError: "NOTIFICATION received: Cease/Administrative Shutdown (6/2)"},
			}}},
		{"as8560-decix-fra", 8560, peeringv1.PeeringRequestStatus{
			Conditions: []metav1.Condition{cond("Ready", "False", "WaitingForApproval", "waiting for a NOC approval")},
			Approval:   &peeringv1.ApprovalStatus{State: "Pending"},
			Peer:       &peeringv1.PeerInfo{Name: "IONOS SE", Policy: "Open"}}},
		{"as3320-decix-fra", 3320, peeringv1.PeeringRequestStatus{
			Conditions: []metav1.Condition{cond("Ready", "False", "NotAtIX", "not at the IX"), cond("Stalled", "True", "NotAtIX", "not at the IX")},
			Approval:   &peeringv1.ApprovalStatus{State: "Pending"},
			Peer:       &peeringv1.PeerInfo{Name: "Deutsche Telekom", Policy: "Selective"}}},
	} {
		pr := &peeringv1.PeeringRequest{ObjectMeta: metav1.ObjectMeta{Namespace: "peers", Name: r.name},
			Spec: peeringv1.PeeringRequestSpec{PeerASN: peeringv1.ASN(r.asn), IXPortRef: peeringv1.LocalObjectReference{Name: "decix-fra"}}}
		if err := k8s.Create(ctx, pr); err != nil {
			return err
		}
		pr.Status = r.status
		if err := k8s.Status().Update(ctx, pr); err != nil {
			return fmt.Errorf("status of %s: %w", r.name, err)
		}
	}
	return nil
}
