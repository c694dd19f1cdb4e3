package filterstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
	"github.com/peering-operator/peering-operator/internal/irr"
	"github.com/peering-operator/peering-operator/internal/policy"
	"github.com/peering-operator/peering-operator/internal/testenv"
)

// The API server starts with the first test that needs it, so codec tests,
// benchmarks and fuzz workers run without one.
var live struct {
	once sync.Once
	env  *envtest.Environment
	c    client.WithWatch
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if live.env != nil {
		if err := live.env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "failed to stop the API server:", err)
		}
	}
	os.Exit(code)
}

func apiClient(t *testing.T) client.WithWatch {
	t.Helper()
	live.once.Do(func() {
		env, cfg, err := testenv.Start()
		if err != nil {
			live.err = err
			return
		}
		live.env = env
		live.c, live.err = client.NewWithWatch(cfg, client.Options{Scheme: testenv.Scheme})
	})
	if live.err != nil {
		t.Fatal(live.err)
	}
	return live.c
}

// calls counts what a Store asks of the API server.
type calls struct {
	creates, deletes, gets, lists atomic.Int64
	// failCreate, when set, fails a create before it reaches the server.
	failCreate func(n int64) error
}

func (c *calls) writes() int64 { return c.creates.Load() + c.deletes.Load() }

// newStore is a Store with an empty memory on the test API server.
func newStore(t *testing.T) (*Store, *calls) {
	base := apiClient(t)
	n := &calls{}
	c := interceptor.NewClient(base, interceptor.Funcs{
		Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			k := n.creates.Add(1)
			if n.failCreate != nil {
				if err := n.failCreate(k); err != nil {
					return err
				}
			}
			return c.Create(ctx, obj, opts...)
		},
		Delete: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.DeleteOption) error {
			n.deletes.Add(1)
			return c.Delete(ctx, obj, opts...)
		},
		Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			n.gets.Add(1)
			return c.Get(ctx, key, obj, opts...)
		},
		List: func(ctx context.Context, c client.WithWatch, list client.ObjectList, opts ...client.ListOption) error {
			n.lists.Add(1)
			return c.List(ctx, list, opts...)
		},
	})
	return New(c, c), n
}

// offline is a Store whose API calls all fail: what it returns comes from
// memory.
func offline(t *testing.T, s *Store) *Store {
	fail := func() error { return errors.New("offline: the test expected no API call") }
	c := interceptor.NewClient(apiClient(t), interceptor.Funcs{
		Create: func(context.Context, client.WithWatch, client.Object, ...client.CreateOption) error { return fail() },
		Delete: func(context.Context, client.WithWatch, client.Object, ...client.DeleteOption) error { return fail() },
		Get: func(context.Context, client.WithWatch, client.ObjectKey, client.Object, ...client.GetOption) error {
			return fail()
		},
		List: func(context.Context, client.WithWatch, client.ObjectList, ...client.ListOption) error { return fail() },
	})
	s.Client, s.Reader = c, c
	return s
}

// namespace makes a fresh namespace for one test.
func namespace(t *testing.T) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "filterstore-"}}
	if err := apiClient(t).Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	return ns.Name
}

// request creates a PeeringRequest, for its UID.
func request(t *testing.T, ns, name string) *peeringv1.PeeringRequest {
	t.Helper()
	pr := &peeringv1.PeeringRequest{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec:       peeringv1.PeeringRequestSpec{PeerASN: 6939, IXPortRef: peeringv1.LocalObjectReference{Name: "de-cix-fra"}},
	}
	if err := apiClient(t).Create(context.Background(), pr); err != nil {
		t.Fatal(err)
	}
	return pr
}

var built = time.Date(2026, 11, 30, 12, 34, 56, 0, time.UTC)

func filterOf(tf testFilter, family int) Filter {
	return Filter{
		Digest: policy.Digest(tf.entries), Family: family, Entries: tf.entries,
		PrefixCount: int64(tf.prefixes), EntryCount: int64(len(tf.entries)),
		ASSet: "AS-HURRICANE", Sources: []string{"RADB", "ARIN"}, Built: built,
	}
}

// small is a filter of n random IPv4 prefixes, different for each seed.
func small(seed, n int) Filter {
	ps := synthetic4(rand.New(rand.NewPCG(uint64(seed), 7)), n)
	return filterOf(testFilter{prefixes: n, entries: irr.Aggregate(ps, irr.AggregateOptions{})}, 4)
}

func lists(t *testing.T, ns string, uid types.UID) []peeringv1.PrefixList {
	t.Helper()
	var l peeringv1.PrefixListList
	if err := apiClient(t).List(context.Background(), &l, client.InNamespace(ns), client.MatchingLabels{peeringv1.LabelRequestUID: string(uid)}); err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(l.Items, func(a, b peeringv1.PrefixList) int { return strings.Compare(a.Name, b.Name) })
	return l.Items
}

func checkSame(t *testing.T, got *Filter, want Filter) {
	t.Helper()
	if got.Digest != want.Digest || got.Family != want.Family || got.PrefixCount != want.PrefixCount ||
		got.EntryCount != int64(len(want.Entries)) || got.ASSet != want.ASSet || !slices.Equal(got.Sources, want.Sources) || !got.Built.Equal(want.Built) {
		t.Errorf("got filter %s IPv%d %d/%d %q %v %v, want %s IPv%d %d/%d %q %v %v",
			got.Digest, got.Family, got.PrefixCount, got.EntryCount, got.ASSet, got.Sources, got.Built,
			want.Digest, want.Family, want.PrefixCount, len(want.Entries), want.ASSet, want.Sources, want.Built)
	}
	if policy.Digest(got.Entries) != want.Digest {
		t.Errorf("entries have digest %s, want %s", policy.Digest(got.Entries), want.Digest)
	}
	if !slices.Equal(got.Entries, want.Entries) {
		t.Error("entries differ from the saved ones (or their order does)")
	}
}

// TestStoreRoundTripHE saves the AS-HURRICANE-sized filters (IPv4 in
// several parts, IPv6 in one) and reads them back through a Store with a
// cold memory, as a new leader would.
func TestStoreRoundTripHE(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t)
	pr := request(t, ns, longName)
	he := heFilter()
	v4, v6 := filterOf(he.v4, 4), filterOf(he.v6, 6)

	s, _ := newStore(t)
	s.partSize = 100 << 10 // 305 KB of IPv4 data: 3 parts
	start := time.Now()
	if err := s.Save(ctx, pr, v4); err != nil {
		t.Fatal(err)
	}
	t.Logf("Save IPv4 (%d entries, 3 parts): %v", len(v4.Entries), time.Since(start)) // for information only
	s.partSize = 0                                                                    // 336 KB of IPv6 data: 1 part
	start = time.Now()
	if err := s.Save(ctx, pr, v6); err != nil {
		t.Fatal(err)
	}
	t.Logf("Save IPv6 (%d entries, 1 part): %v", len(v6.Entries), time.Since(start))

	items := lists(t, ns, pr.UID)
	var names []string
	for _, pl := range items {
		names = append(names, pl.Name)
		if len(pl.Name) > 253 {
			t.Errorf("name %s is too long", pl.Name)
		}
		want := metav1.OwnerReference{APIVersion: "peering.dev/v1alpha1", Kind: "PeeringRequest", Name: pr.Name, UID: pr.UID, Controller: new(false), BlockOwnerDeletion: new(false)}
		if len(pl.OwnerReferences) != 1 || pl.OwnerReferences[0].String() != want.String() {
			t.Errorf("%s: owner references %v, want %v", pl.Name, pl.OwnerReferences, want)
		}
		hex := strings.TrimPrefix(pl.Spec.Digest, "sha256:")
		if pl.Labels[peeringv1.LabelRequestUID] != string(pr.UID) || pl.Labels[peeringv1.LabelFilterDigest] != hex[:63] || pl.Labels[peeringv1.LabelFamily] != pl.Spec.Family {
			t.Errorf("%s: labels %v", pl.Name, pl.Labels)
		}
		if pl.Spec.Request != pr.Name || pl.Spec.Encoding != Encoding || pl.Spec.ASSet != "AS-HURRICANE" {
			t.Errorf("%s: spec request %q encoding %q AS-SET %q", pl.Name, pl.Spec.Request, pl.Spec.Encoding, pl.Spec.ASSet)
		}
		if a := pl.Annotations[AnnotationPart]; a != fmt.Sprintf("%d/%d", pl.Spec.Part, pl.Spec.Parts) {
			t.Errorf("%s: annotation %s=%q for part %d of %d", pl.Name, AnnotationPart, a, pl.Spec.Part, pl.Spec.Parts)
		}
	}
	cut := strings.Repeat("a", 199) // the 200th character is a dot
	want := []string{
		cut + "-ipv4-" + v4.Digest[7:17], cut + "-ipv4-" + v4.Digest[7:17] + "-p1", cut + "-ipv4-" + v4.Digest[7:17] + "-p2",
		cut + "-ipv6-" + v6.Digest[7:17],
	}
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Errorf("PrefixLists %q, want %q", names, want)
	}

	cold, n := newStore(t)
	for _, f := range []Filter{v4, v6} {
		start := time.Now()
		got, err := cold.Get(ctx, ns, pr.UID, f.Digest)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("cold Get IPv%d: %v", f.Family, time.Since(start))
		checkSame(t, got, f)
	}
	if n.lists.Load() != 2 || n.gets.Load() != 0 {
		t.Errorf("cold Gets made %d lists and %d gets, want one list per filter", n.lists.Load(), n.gets.Load())
	}
	// Now in memory: no API call, also for another request with the same
	// filter.
	offline(t, cold)
	for _, uid := range []types.UID{pr.UID, "another-request"} {
		if _, err := cold.Get(ctx, ns, uid, v4.Digest); err != nil {
			t.Errorf("Get from memory: %v", err)
		}
	}
}

func TestStoreSaveTwiceWritesOnce(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t)
	pr := request(t, ns, "as64500")
	f := small(1, 40)
	s, n := newStore(t)
	s.partSize = 64 // several parts even for a small filter
	if err := s.Save(ctx, pr, f); err != nil {
		t.Fatal(err)
	}
	parts := int64(len(lists(t, ns, pr.UID)))
	if parts < 2 || n.creates.Load() != parts {
		t.Fatalf("%d creates for %d parts", n.creates.Load(), parts)
	}
	before := lists(t, ns, pr.UID)
	n.creates.Store(0)
	if err := s.Save(ctx, pr, f); err != nil {
		t.Fatal(err)
	}
	if n.writes() != 0 || n.gets.Load() != 0 || n.lists.Load() != 0 {
		t.Errorf("the second Save made %d writes, %d gets, %d lists; want no API call", n.writes(), n.gets.Load(), n.lists.Load())
	}

	// A restarted operator (empty memory) finds the objects and changes
	// nothing.
	s2, n2 := newStore(t)
	s2.partSize = 64
	if err := s2.Save(ctx, pr, f); err != nil {
		t.Fatal(err)
	}
	if n2.deletes.Load() != 0 {
		t.Errorf("Save after a restart deleted %d objects", n2.deletes.Load())
	}
	after := lists(t, ns, pr.UID)
	for i := range after {
		if after[i].UID != before[i].UID || after[i].ResourceVersion != before[i].ResourceVersion {
			t.Errorf("%s was replaced or changed", after[i].Name)
		}
	}
	if err := s2.Save(ctx, pr, f); err != nil || n2.creates.Load() != parts {
		t.Errorf("third Save: %v, %d creates in all, want %d", err, n2.creates.Load(), parts)
	}
}

// TestStoreSaveKeepsOtherEncoding: a complete set written differently
// (here: split into other parts, as an older operator whose DEFLATE output
// differed might) is verified and kept, not rewritten.
func TestStoreSaveKeepsOtherEncoding(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t)
	pr := request(t, ns, "as64509")
	f := small(18, 60)
	old, _ := newStore(t)
	old.partSize = len(Encode(f.Entries))/3 + 1
	if err := old.Save(ctx, pr, f); err != nil {
		t.Fatal(err)
	}
	before := lists(t, ns, pr.UID)
	s, n := newStore(t)
	if err := s.Save(ctx, pr, f); err != nil {
		t.Fatal(err)
	}
	after := lists(t, ns, pr.UID)
	if n.deletes.Load() != 0 || len(after) != len(before) {
		t.Fatalf("Save replaced a complete set: %d deletes, %d lists before, %d after", n.deletes.Load(), len(before), len(after))
	}
	for i := range after {
		if after[i].UID != before[i].UID {
			t.Errorf("%s was replaced", after[i].Name)
		}
	}
	got, err := offline(t, s).Get(ctx, ns, pr.UID, f.Digest)
	if err != nil {
		t.Fatal(err)
	}
	checkSame(t, got, f)
}

// TestStoreNeverPartial damages a saved filter in the ways a crash or a
// human could, and checks Get refuses it (naming the object) and a later
// Save repairs it.
func TestStoreNeverPartial(t *testing.T) {
	ctx := context.Background()
	damage := []struct {
		name  string
		do    func(t *testing.T, items []peeringv1.PrefixList)
		error string // in Get's error
	}{
		{"part 1 deleted", func(t *testing.T, items []peeringv1.PrefixList) {
			if err := apiClient(t).Delete(ctx, &items[1]); err != nil {
				t.Fatal(err)
			}
		}, "-p1 (part 1 of 3) is missing"},
		{"part 0 deleted", func(t *testing.T, items []peeringv1.PrefixList) {
			if err := apiClient(t).Delete(ctx, &items[0]); err != nil {
				t.Fatal(err)
			}
		}, "(part 0 of 3) is missing"},
		{"data changed", func(t *testing.T, items []peeringv1.PrefixList) {
			pl := items[1]
			pl.Spec.Data[len(pl.Spec.Data)/2] ^= 0x5a
			if err := apiClient(t).Update(ctx, &pl); err != nil {
				t.Fatal(err)
			}
		}, "from 3 PrefixLists"},
		{"data cut", func(t *testing.T, items []peeringv1.PrefixList) {
			pl := items[2]
			pl.Spec.Data = pl.Spec.Data[:len(pl.Spec.Data)-5]
			if err := apiClient(t).Update(ctx, &pl); err != nil {
				t.Fatal(err)
			}
		}, "truncated"},
		{"parts changed", func(t *testing.T, items []peeringv1.PrefixList) {
			pl := items[0]
			pl.Spec.Parts = 2
			if err := apiClient(t).Update(ctx, &pl); err != nil {
				t.Fatal(err)
			}
		}, "disagree"},
	}
	for i, d := range damage {
		t.Run(d.name, func(t *testing.T) {
			ns := namespace(t)
			pr := request(t, ns, "as64501")
			// A filter of its own, so Warm cannot know it from elsewhere.
			f := small(20+i, 60)
			s, _ := newStore(t)
			s.partSize = len(Encode(f.Entries))/3 + 1
			if err := s.Save(ctx, pr, f); err != nil {
				t.Fatal(err)
			}
			items := lists(t, ns, pr.UID)
			if len(items) != 3 {
				t.Fatalf("%d parts, want 3", len(items))
			}
			d.do(t, items)

			cold, _ := newStore(t)
			got, err := cold.Get(ctx, ns, pr.UID, f.Digest)
			if err == nil || got != nil {
				t.Fatalf("Get of a damaged filter = %v, %v; want an error and no filter", got, err)
			}
			if !strings.Contains(err.Error(), d.error) || errors.Is(err, ErrNotFound) {
				t.Errorf("error %q does not say %q", err, d.error)
			}
			t.Log(err)
			// A set missing a part shows in the metadata and is skipped;
			// damaged data is found when loading.
			if err := cold.Warm(ctx); err != nil && !strings.Contains(err.Error(), d.error) {
				t.Errorf("Warm: %v", err)
			}

			// Saving the filter again repairs it.
			cold.partSize = s.partSize
			if err := cold.Save(ctx, pr, f); err != nil {
				t.Fatal(err)
			}
			again, _ := newStore(t)
			got, err = again.Get(ctx, ns, pr.UID, f.Digest)
			if err != nil {
				t.Fatal(err)
			}
			checkSame(t, got, f)
		})
	}
}

// TestStoreCrashDuringSave: a Save cut short leaves no readable filter;
// the next Save completes it.
func TestStoreCrashDuringSave(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t)
	pr := request(t, ns, "as64502")
	f := small(3, 60)
	s, n := newStore(t)
	s.partSize = len(Encode(f.Entries))/3 + 1
	n.failCreate = func(k int64) error {
		if k == 3 { // parts 2 and 1 are written, part 0 is not
			return errors.New("connection reset (simulated crash)")
		}
		return nil
	}
	if err := s.Save(ctx, pr, f); err == nil || !strings.Contains(err.Error(), "simulated crash") {
		t.Fatalf("Save = %v, want the create error", err)
	}
	if got := len(lists(t, ns, pr.UID)); got != 2 {
		t.Fatalf("%d PrefixLists after the crash, want 2", got)
	}
	cold, _ := newStore(t)
	if got, err := cold.Get(ctx, ns, pr.UID, f.Digest); err == nil || got != nil || !strings.Contains(err.Error(), "(part 0 of 3) is missing") {
		t.Fatalf("Get after a crash = %v, %v", got, err)
	}
	if err := cold.Warm(ctx); err != nil {
		t.Errorf("Warm must skip a set still being written: %v", err)
	}
	n.failCreate = nil
	if err := s.Save(ctx, pr, f); err != nil {
		t.Fatal(err)
	}
	got, err := cold.Get(ctx, ns, pr.UID, f.Digest)
	if err != nil {
		t.Fatal(err)
	}
	checkSame(t, got, f)
}

func TestStoreGetNotFound(t *testing.T) {
	s, _ := newStore(t)
	ns := namespace(t)
	_, err := s.Get(context.Background(), ns, "no-such-uid", small(4, 3).Digest)
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get = %v, want ErrNotFound", err)
	}
	if _, err := s.Get(context.Background(), ns, "uid", "sha256:abc"); err == nil {
		t.Error("Get accepted a malformed digest")
	}
}

func TestStorePrune(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t)
	pr, other := request(t, ns, "as64503"), request(t, ns, "as64504")
	s, _ := newStore(t)
	s.partSize = 100
	fs := []Filter{small(5, 60), small(6, 10), small(7, 20)}
	v6 := filterOf(heFilter().v6, 6)
	v6.Entries = v6.Entries[:50]
	v6.Digest, v6.EntryCount = policy.Digest(v6.Entries), 50
	fs = append(fs, v6)
	for _, f := range fs {
		if err := s.Save(ctx, pr, f); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Save(ctx, other, fs[0]); err != nil {
		t.Fatal(err)
	}
	digests := func(uid types.UID) []string {
		var ds []string
		for _, pl := range lists(t, ns, uid) {
			ds = append(ds, pl.Spec.Digest)
		}
		slices.Sort(ds)
		return slices.Compact(ds)
	}

	if err := s.Prune(ctx, pr, "sha256:"+strings.Repeat("x", 64)); err == nil {
		t.Error("Prune accepted a malformed digest to keep")
	}
	if err := s.Prune(ctx, pr, fs[1].Digest, v6.Digest); err != nil {
		t.Fatal(err)
	}
	want := []string{fs[1].Digest, v6.Digest}
	slices.Sort(want)
	if got := digests(pr.UID); !slices.Equal(got, want) {
		t.Errorf("after Prune: %v, want %v", got, want)
	}
	if got := digests(other.UID); !slices.Equal(got, []string{fs[0].Digest}) {
		t.Errorf("Prune touched another request's lists: %v", got)
	}
	// Saving a pruned filter again writes it again.
	if err := s.Save(ctx, pr, fs[0]); err != nil {
		t.Fatal(err)
	}
	if len(digests(pr.UID)) != 3 {
		t.Error("a pruned filter was not saved again")
	}
	// The request is deleted.
	if err := s.Prune(ctx, pr); err != nil {
		t.Fatal(err)
	}
	if got := lists(t, ns, pr.UID); len(got) != 0 {
		t.Errorf("%d PrefixLists left after Prune with nothing to keep", len(got))
	}
	if len(digests(other.UID)) != 1 {
		t.Error("Prune touched another request's lists")
	}
}

// TestStoreWarm: a standby warms up from the cluster and then serves every
// filter and every Save from memory.
func TestStoreWarm(t *testing.T) {
	ctx := context.Background()
	ns1, ns2 := namespace(t), namespace(t)
	prs := []*peeringv1.PeeringRequest{request(t, ns1, "as64505"), request(t, ns1, "as64506"), request(t, ns2, "as64505")}
	shared := small(8, 30) // used by two requests
	saves := []struct {
		pr *peeringv1.PeeringRequest
		f  Filter
	}{{prs[0], shared}, {prs[1], shared}, {prs[0], small(9, 5)}, {prs[2], small(10, 70)}}
	leader, _ := newStore(t)
	leader.partSize = 100
	for _, sv := range saves {
		if err := leader.Save(ctx, sv.pr, sv.f); err != nil {
			t.Fatal(err)
		}
	}

	standby, n := newStore(t)
	if err := standby.Warm(ctx); err != nil {
		t.Fatal(err)
	}
	// Other tests' filters are in the cluster too: at most one data list
	// per filter, and shared filters are loaded once.
	t.Logf("Warm: %d lists", n.lists.Load())
	offline(t, standby)
	for _, sv := range saves {
		got, err := standby.Get(ctx, sv.pr.Namespace, sv.pr.UID, sv.f.Digest)
		if err != nil {
			t.Fatalf("Get after Warm: %v", err)
		}
		checkSame(t, got, sv.f)
		if err := standby.Save(ctx, sv.pr, sv.f); err != nil {
			t.Errorf("Save after Warm: %v", err)
		}
	}
	// A second Warm finds nothing new to load.
	standby2, n2 := newStore(t)
	if err := standby2.Warm(ctx); err != nil {
		t.Fatal(err)
	}
	first := n2.lists.Load()
	if err := standby2.Warm(ctx); err != nil {
		t.Fatal(err)
	}
	if again := n2.lists.Load() - first; again != 1 {
		t.Errorf("a second Warm made %d lists, want only the metadata one", again)
	}
}

// TestStoreSaveShared: a second request saving a filter the store already
// holds reuses its encoding (the entries passed are not even looked at).
func TestStoreSaveShared(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t)
	a, b := request(t, ns, "as64508-fra"), request(t, ns, "as64508-ams")
	f := small(17, 50)
	s, _ := newStore(t)
	if err := s.Save(ctx, a, f); err != nil {
		t.Fatal(err)
	}
	again := f
	again.Entries = nil
	if err := s.Save(ctx, b, again); err != nil {
		t.Fatal(err)
	}
	la, lb := lists(t, ns, a.UID), lists(t, ns, b.UID)
	if len(la) != 1 || len(lb) != 1 || string(la[0].Spec.Data) != string(lb[0].Spec.Data) {
		t.Fatalf("the two requests' lists differ")
	}
	got, err := offline(t, s).Get(ctx, ns, b.UID, f.Digest)
	if err != nil {
		t.Fatal(err)
	}
	checkSame(t, got, f)
}

func TestStoreNameCollision(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t)
	// Equal in their first 200 characters.
	a := request(t, ns, strings.Repeat("b", 200)+"-one")
	b := request(t, ns, strings.Repeat("b", 200)+"-two")
	f := small(11, 4)
	s, _ := newStore(t)
	if err := s.Save(ctx, a, f); err != nil {
		t.Fatal(err)
	}
	err := s.Save(ctx, b, f)
	if err == nil || !strings.Contains(err.Error(), "already exists for another request") || !strings.Contains(err.Error(), strings.Repeat("b", 200)+"-ipv4-") {
		t.Fatalf("Save = %v, want an error naming the object", err)
	}
	t.Log(err)
}

func TestStoreSaveRefuses(t *testing.T) {
	ctx := context.Background()
	s, n := newStore(t)
	pr := &peeringv1.PeeringRequest{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "default", UID: "u"}}
	f := small(12, 5)
	wrongDigest := f
	wrongDigest.Digest = small(13, 5).Digest
	wrongFamily := f
	wrongFamily.Family = 6
	noUID := pr.DeepCopy()
	noUID.UID = ""
	unencodable := f
	unencodable.Entries = append(slices.Clone(f.Entries), f.Entries[0]) // a duplicate
	unencodable.Digest = policy.Digest(unencodable.Entries)
	for name, tc := range map[string]struct {
		pr *peeringv1.PeeringRequest
		f  Filter
	}{
		"digest of other entries":     {pr, wrongDigest},
		"entries of the other family": {pr, wrongFamily},
		"family 5":                    {pr, Filter{Digest: f.Digest, Family: 5}},
		"malformed digest":            {pr, Filter{Digest: "sha256:ABC", Family: 4}},
		"request without UID":         {noUID, f},
		"entries cannot be encoded":   {pr, unencodable},
	} {
		if err := s.Save(ctx, tc.pr, tc.f); err == nil {
			t.Errorf("%s: Save succeeded", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
	if n.writes() != 0 {
		t.Errorf("refused Saves made %d writes", n.writes())
	}
}

// TestStoreSweep drops filters unused for IdleTTL; a clock stands in for
// the hour.
func TestStoreSweep(t *testing.T) {
	now := built
	s := &Store{now: func() time.Time { return now }}
	a, b := small(14, 3), small(15, 3)
	s.remember(setKey{namespace: "ns", uid: "u", family: "ipv4", digest: "a"}, &Filter{Digest: a.Digest, Entries: a.Entries}, nil)
	s.remember(setKey{namespace: "ns", uid: "u", family: "ipv4", digest: "b"}, &Filter{Digest: b.Digest, Entries: b.Entries}, nil)
	now = now.Add(50 * time.Minute)
	if _, err := s.Get(context.Background(), "ns", "u", a.Digest); err != nil { // a is used
		t.Fatal(err)
	}
	now = now.Add(20 * time.Minute)
	if got := s.Sweep(); got != 1 {
		t.Errorf("Sweep dropped %d, want 1", got)
	}
	if _, ok := s.filters[a.Digest]; !ok {
		t.Error("Sweep dropped a filter used 20 minutes ago")
	}
	now = now.Add(2 * time.Hour)
	if got := s.Sweep(); got != 1 || len(s.filters) != 0 {
		t.Errorf("Sweep dropped %d, %d left", got, len(s.filters))
	}
}

// TestStoreStart: Start warms the store, and returns when its context
// ends.
func TestStoreStart(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t)
	pr := request(t, ns, "as64507")
	f := small(16, 5)
	leader, _ := newStore(t)
	if err := leader.Save(ctx, pr, f); err != nil {
		t.Fatal(err)
	}
	s, _ := newStore(t)
	// Stop Start once it has read this test's filter: its first Warm then
	// fails on the rest (other tests' filters), and Start returns.
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	reader := s.Reader.(client.WithWatch)
	s.Reader = interceptor.NewClient(reader, interceptor.Funcs{
		List: func(ctx context.Context, c client.WithWatch, list client.ObjectList, opts ...client.ListOption) error {
			err := c.List(ctx, list, opts...)
			var lo client.ListOptions
			lo.ApplyOptions(opts)
			if _, data := list.(*peeringv1.PrefixListList); data && lo.Namespace == ns {
				cancel()
			}
			return err
		},
	})
	if err := s.Start(cctx); err != nil {
		t.Fatal(err)
	}
	if s.NeedLeaderElection() {
		t.Error("a standby must warm up too")
	}
	got, err := offline(t, s).Get(ctx, ns, pr.UID, f.Digest)
	if err != nil {
		t.Fatalf("Get after Start: %v", err)
	}
	checkSame(t, got, f)
}
