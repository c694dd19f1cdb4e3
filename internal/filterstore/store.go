package filterstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
	"github.com/peering-operator/peering-operator/internal/irr"
	"github.com/peering-operator/peering-operator/internal/metrics"
	"github.com/peering-operator/peering-operator/internal/policy"
)

// MaxPartBytes is the most encoded data one PrefixList holds. Data is
// base64 in JSON (4/3 larger), so a full part stays under 1 MiB: well below
// etcd's 1.5 MiB per object and the CRD's 1 MiB limit on the field.
const MaxPartBytes = 700 << 10

// AnnotationPart is "<part>/<parts>" on every PrefixList. It repeats the
// spec so Warm can tell a complete set from metadata alone.
const AnnotationPart = "peering.dev/part"

// Defaults for the memory cache.
const (
	DefaultIdleTTL         = time.Hour
	DefaultRefreshInterval = time.Minute
)

// maxRequestName keeps "<name>-ipv6-<10 hex>-p<N>" within the 253
// characters of an object name.
const maxRequestName = 200

// ErrNotFound is wrapped by Get when the cluster holds no PrefixList for
// the filter: it was never saved (or was pruned), so it must be rebuilt.
var ErrNotFound = errors.New("filter not stored")

// Filter is an import filter as stored: its entries in canonical order and
// what it was built from. Entries and Sources are shared with the store's
// memory: do not modify them.
type Filter struct {
	Digest  string // policy.Digest of Entries
	Family  int    // 4 or 6
	Entries []irr.Entry
	// PrefixCount is the number of distinct prefixes the filter was built
	// from; EntryCount is len(Entries).
	PrefixCount, EntryCount int64
	ASSet                   string
	Sources                 []string
	Built                   time.Time
}

// Store keeps filters in PrefixList objects and their decoded entries in
// memory, shared by requests with the same digest.
//
// PrefixLists are written once and never updated: a filter's parts are
// created last part first and part 0 last, and every read checks the parts
// count and the digest of the decoded entries, so a Save cut short by a
// crash is never returned as a (partial) filter; the next Save completes
// it, Prune removes it.
type Store struct {
	// Client writes (create, delete).
	Client client.Client
	// Reader reads without a cache: the manager's APIReader. PrefixLists
	// are large and read rarely, so no informer watches them.
	Reader client.Reader
	// IdleTTL drops a decoded filter from memory when it was neither used
	// nor seen in the cluster for this long; DefaultIdleTTL if zero.
	IdleTTL time.Duration
	// RefreshInterval is how often Start runs Warm and Sweep;
	// DefaultRefreshInterval if zero.
	RefreshInterval time.Duration

	// partSize is MaxPartBytes; tests make it smaller.
	partSize int
	now      func() time.Time

	mu sync.Mutex
	// filters are the decoded filters by digest.
	filters map[string]*cached
	// saved holds the sets known to be complete in the cluster, with when
	// that was learnt, so an unchanged filter costs no API call.
	saved map[setKey]time.Time
}

type cached struct {
	f *Filter
	// data is f encoded, so another request saving the same filter costs
	// no encoding.
	data []byte
	used time.Time
}

// setKey names the PrefixLists of one request's filter.
type setKey struct {
	namespace string
	uid       types.UID
	family    string
	digest    string // the label value: the hex cut to 63 characters
}

// New returns a Store writing with c and reading with r (the manager's
// GetClient and GetAPIReader).
func New(c client.Client, r client.Reader) *Store {
	return &Store{Client: c, Reader: r}
}

func (s *Store) clock() time.Time {
	if s.now != nil {
		return s.now()
	}
	return time.Now()
}

func (s *Store) maxPart() int {
	if s.partSize > 0 {
		return s.partSize
	}
	return MaxPartBytes
}

// lockedInit must be called with mu held.
func (s *Store) lockedInit() {
	if s.filters == nil {
		s.filters = map[string]*cached{}
		s.saved = map[setKey]time.Time{}
	}
}

// Save makes sure the PrefixLists holding f exist for the request. It is
// idempotent: a filter saved before (by this store, or found by Get or Warm)
// costs no API call, and objects left by an earlier, interrupted Save are
// reused or replaced. The lists are owned by the request, so the garbage
// collector deletes them with it.
func (s *Store) Save(ctx context.Context, pr *peeringv1.PeeringRequest, f Filter) error {
	if pr.UID == "" || pr.Name == "" || pr.Namespace == "" {
		return fmt.Errorf("save filter: PeeringRequest %s/%s has no UID yet: save filters of requests read from the API server", pr.Namespace, pr.Name)
	}
	fam, err := familyName(f.Family)
	if err != nil {
		return fmt.Errorf("save filter %s of PeeringRequest %s/%s: %w", f.Digest, pr.Namespace, pr.Name, err)
	}
	hex, err := digestHex(f.Digest)
	if err != nil {
		return fmt.Errorf("save filter of PeeringRequest %s/%s: %w", pr.Namespace, pr.Name, err)
	}
	key := setKey{pr.Namespace, pr.UID, fam, labelValue(hex)}
	s.mu.Lock()
	s.lockedInit()
	_, done := s.saved[key]
	if done {
		if c := s.filters[f.Digest]; c != nil {
			c.used = s.clock()
		}
	}
	s.mu.Unlock()
	if done {
		return nil
	}

	what := fmt.Sprintf("IPv%d filter %s of PeeringRequest %s/%s", f.Family, f.Digest, pr.Namespace, pr.Name)
	for _, e := range f.Entries {
		if e.Prefix.Addr().Is6() != (f.Family == 6) {
			return fmt.Errorf("save %s: it holds entries of the other address family", what)
		}
	}
	var entries []irr.Entry
	var data []byte
	s.mu.Lock()
	c := s.filters[f.Digest]
	s.mu.Unlock()
	if c != nil && c.data != nil && c.f.Family == f.Family {
		// Verified when it was saved or loaded.
		entries, data = c.f.Entries, c.data
	} else {
		// Check what will be read back, before writing anything: the
		// digest is the filter's identity, and some entries cannot be
		// encoded.
		data = Encode(f.Entries)
		if entries, err = Decode(data); err != nil {
			return fmt.Errorf("save %s: the entries cannot be encoded: %w", what, err)
		}
		if got := policy.Digest(entries); got != f.Digest {
			return fmt.Errorf("save %s: its entries have digest %s: pass the digest of the entries being saved", what, got)
		}
	}
	stored := &Filter{
		Digest: f.Digest, Family: f.Family, Entries: entries,
		PrefixCount: f.PrefixCount, EntryCount: int64(len(entries)),
		ASSet: f.ASSet, Sources: slices.Clone(f.Sources), Built: f.Built.UTC().Truncate(time.Second),
	}
	lists := buildLists(pr, stored, data, s.maxPart())
	if err := s.create(ctx, key, lists, what); err != nil {
		return err
	}
	s.remember(key, stored, data)
	return nil
}

// create writes the lists, last part first, so that part 0 exists only
// when all others do.
func (s *Store) create(ctx context.Context, key setKey, lists []*peeringv1.PrefixList, what string) error {
	for retried := false; ; retried = true {
		stale := false
		for i := len(lists) - 1; i >= 0; i-- {
			pl := lists[i].DeepCopy()
			err := s.Client.Create(ctx, pl)
			if err == nil {
				continue
			}
			if !apierrors.IsAlreadyExists(err) {
				return fmt.Errorf("save %s: create PrefixList %s/%s: %w", what, pl.Namespace, pl.Name, err)
			}
			same, err := s.sameList(ctx, lists[i])
			if err != nil {
				return fmt.Errorf("save %s: %w", what, err)
			}
			if !same {
				// Ours, but written differently: by another encoder
				// version (DEFLATE output may change between Go
				// releases), or damaged.
				stale = true
				break
			}
		}
		if !stale {
			return nil
		}
		if _, _, err := s.loadByLabel(ctx, key); err == nil {
			return nil // complete and verified: keep it
		}
		// Incomplete or damaged: start over.
		if retried {
			return fmt.Errorf("save %s: PrefixLists of this filter keep differing from what was just written; is another operator instance writing them?", what)
		}
		if err := s.deleteSet(ctx, key); err != nil {
			return fmt.Errorf("save %s: replace the incomplete PrefixLists left by an earlier attempt: %w", what, err)
		}
	}
}

// sameList reports whether the existing object named like want holds the
// same data. An object of another request or filter is an error: the names
// collide (request names equal in their first 200 characters).
func (s *Store) sameList(ctx context.Context, want *peeringv1.PrefixList) (bool, error) {
	var got peeringv1.PrefixList
	if err := s.Reader.Get(ctx, client.ObjectKeyFromObject(want), &got); err != nil {
		if apierrors.IsNotFound(err) {
			return false, nil // deleted meanwhile: the retry creates it
		}
		return false, fmt.Errorf("read existing PrefixList %s/%s: %w", want.Namespace, want.Name, err)
	}
	if got.Labels[peeringv1.LabelRequestUID] != want.Labels[peeringv1.LabelRequestUID] || got.Spec.Digest != want.Spec.Digest || got.Spec.Family != want.Spec.Family {
		return false, fmt.Errorf("PrefixList %s/%s already exists for another request or filter (request UID %q, %s filter %s): delete it, or rename the PeeringRequest so its first %d characters differ",
			got.Namespace, got.Name, got.Labels[peeringv1.LabelRequestUID], got.Spec.Family, got.Spec.Digest, maxRequestName)
	}
	return got.Spec.Part == want.Spec.Part && got.Spec.Parts == want.Spec.Parts &&
		got.Spec.Encoding == want.Spec.Encoding && bytes.Equal(got.Spec.Data, want.Spec.Data), nil
}

// deleteSet deletes the PrefixLists of one request's filter.
func (s *Store) deleteSet(ctx context.Context, key setKey) error {
	var l metav1.PartialObjectMetadataList
	l.SetGroupVersionKind(peeringv1.GroupVersion.WithKind("PrefixListList"))
	if err := s.Reader.List(ctx, &l, client.InNamespace(key.namespace), client.MatchingLabels{
		peeringv1.LabelRequestUID: string(key.uid), peeringv1.LabelFilterDigest: key.digest, peeringv1.LabelFamily: key.family,
	}); err != nil {
		return fmt.Errorf("list PrefixLists in %s: %w", key.namespace, err)
	}
	var errs []error
	for i := range l.Items {
		errs = append(errs, s.delete(ctx, &l.Items[i]))
	}
	s.mu.Lock()
	delete(s.saved, key)
	s.mu.Unlock()
	return errors.Join(errs...)
}

func (s *Store) delete(ctx context.Context, m *metav1.PartialObjectMetadata) error {
	pl := &peeringv1.PrefixList{ObjectMeta: metav1.ObjectMeta{Name: m.Name, Namespace: m.Namespace}}
	uid := m.UID
	err := s.Client.Delete(ctx, pl, client.Preconditions{UID: &uid})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("delete PrefixList %s/%s: %w", m.Namespace, m.Name, err)
	}
	return nil
}

func (s *Store) remember(key setKey, f *Filter, data []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lockedInit()
	now := s.clock()
	s.saved[key] = now
	if c := s.filters[f.Digest]; c != nil {
		c.used = now
	} else {
		s.filters[f.Digest] = &cached{f: f, data: data, used: now}
		metrics.StoredFilters.Set(float64(len(s.filters)))
	}
}

// Get returns the filter with this digest that the request (by UID) saved:
// from memory if any request loaded or saved it (then ASSet, Sources and
// Built are those of the first), else from the request's PrefixLists. A missing or damaged part is an error naming the object; a
// filter that was never stored is an error wrapping ErrNotFound.
func (s *Store) Get(ctx context.Context, namespace string, requestUID types.UID, digest string) (*Filter, error) {
	if _, err := digestHex(digest); err != nil {
		return nil, fmt.Errorf("get filter of request UID %s in %s: %w", requestUID, namespace, err)
	}
	s.mu.Lock()
	s.lockedInit()
	c := s.filters[digest]
	if c != nil {
		c.used = s.clock()
	}
	s.mu.Unlock()
	if c != nil {
		f := *c.f
		return &f, nil
	}
	f, data, key, err := s.load(ctx, namespace, requestUID, digest)
	if err != nil {
		// Whatever Warm concluded from the metadata, the set is not
		// usable: let the next Save write it again.
		hex, _ := digestHex(digest)
		s.mu.Lock()
		for _, fam := range []string{"ipv4", "ipv6"} {
			delete(s.saved, setKey{namespace, requestUID, fam, labelValue(hex)})
		}
		s.mu.Unlock()
		return nil, err
	}
	s.remember(key, f, data)
	g := *f
	return &g, nil
}

// load reads, checks and decodes one request's filter from the cluster.
func (s *Store) load(ctx context.Context, namespace string, uid types.UID, digest string) (*Filter, []byte, setKey, error) {
	hex, _ := digestHex(digest)
	var l peeringv1.PrefixListList
	if err := s.Reader.List(ctx, &l, client.InNamespace(namespace), client.MatchingLabels{
		peeringv1.LabelRequestUID: string(uid), peeringv1.LabelFilterDigest: labelValue(hex),
	}); err != nil {
		return nil, nil, setKey{}, fmt.Errorf("read filter %s of request UID %s: list PrefixLists in %s: %w", digest, uid, namespace, err)
	}
	byFamily := map[string][]*peeringv1.PrefixList{}
	for i := range l.Items {
		if pl := &l.Items[i]; pl.Spec.Digest == digest {
			byFamily[pl.Spec.Family] = append(byFamily[pl.Spec.Family], pl)
		}
	}
	if len(byFamily) == 0 {
		return nil, nil, setKey{}, fmt.Errorf("read filter %s of request UID %s in %s: %w: no PrefixList has it", digest, uid, namespace, ErrNotFound)
	}
	// Both families share a digest only when both are empty; either does.
	var errs []error
	for _, fam := range []string{"ipv4", "ipv6"} {
		if lists := byFamily[fam]; lists != nil {
			f, data, err := assemble(lists)
			if err == nil {
				return f, data, setKey{namespace, uid, fam, labelValue(hex)}, nil
			}
			errs = append(errs, err)
		}
	}
	if len(errs) == 0 {
		return nil, nil, setKey{}, fmt.Errorf("read filter %s of request UID %s in %s: its PrefixLists have an unknown family", digest, uid, namespace)
	}
	return nil, nil, setKey{}, errors.Join(errs...)
}

// assemble checks that the lists are all the parts of one filter, joins and
// decodes them and verifies the digest. It never returns part of a filter.
func assemble(lists []*peeringv1.PrefixList) (*Filter, []byte, error) {
	first := lists[0]
	sp := first.Spec
	what := fmt.Sprintf("%s filter %s of PeeringRequest %s/%s", sp.Family, sp.Digest, first.Namespace, sp.Request)
	fix := fmt.Sprintf("the filter cannot be restored from the cluster; saving it again replaces these objects (or delete the PrefixLists labelled %s=%s in %s)",
		peeringv1.LabelFilterDigest, first.Labels[peeringv1.LabelFilterDigest], first.Namespace)
	if sp.Parts < 1 {
		return nil, nil, fmt.Errorf("read %s: PrefixList %s/%s has parts=%d; %s", what, first.Namespace, first.Name, sp.Parts, fix)
	}
	// A map, not a slice of Parts: a damaged Parts must not size anything.
	parts := make(map[int32]*peeringv1.PrefixList, len(lists))
	size := 0
	for _, pl := range lists {
		switch {
		case pl.Spec.Parts != sp.Parts || pl.Spec.Request != sp.Request || pl.Spec.Entries != sp.Entries:
			return nil, nil, fmt.Errorf("read %s: PrefixLists %s and %s disagree on the filter (parts, request or entry count); %s", what, first.Name, pl.Name, fix)
		case pl.Spec.Encoding != Encoding:
			return nil, nil, fmt.Errorf("read %s: PrefixList %s/%s has encoding %q, this operator reads %q; %s", what, pl.Namespace, pl.Name, pl.Spec.Encoding, Encoding, fix)
		case pl.Spec.Part < 0 || pl.Spec.Part >= sp.Parts:
			return nil, nil, fmt.Errorf("read %s: PrefixList %s/%s is part %d of %d; %s", what, pl.Namespace, pl.Name, pl.Spec.Part, sp.Parts, fix)
		case parts[pl.Spec.Part] != nil:
			return nil, nil, fmt.Errorf("read %s: PrefixLists %s and %s are both part %d; %s", what, parts[pl.Spec.Part].Name, pl.Name, pl.Spec.Part, fix)
		}
		parts[pl.Spec.Part] = pl
		size += len(pl.Spec.Data)
	}
	// With no duplicates, a missing part shows among the first len+1.
	for i := int32(0); i < sp.Parts; i++ {
		if parts[i] == nil {
			return nil, nil, fmt.Errorf("read %s: PrefixList %s/%s (part %d of %d) is missing; %s",
				what, first.Namespace, listName(sp.Request, sp.Family, sp.Digest, int(i)), i, sp.Parts, fix)
		}
	}
	data := make([]byte, 0, size)
	for i := int32(0); i < sp.Parts; i++ {
		data = append(data, parts[i].Spec.Data...)
	}
	entries, err := Decode(data)
	if err != nil {
		return nil, nil, fmt.Errorf("read %s from %d PrefixLists (%s...): %w; %s", what, len(parts), parts[0].Name, err, fix)
	}
	if got := policy.Digest(entries); got != sp.Digest {
		return nil, nil, fmt.Errorf("read %s from %d PrefixLists (%s...): the data decodes to a filter with digest %s; %s", what, len(parts), parts[0].Name, got, fix)
	}
	fam := 4
	if sp.Family == "ipv6" {
		fam = 6
	}
	f := &Filter{
		Digest: sp.Digest, Family: fam, Entries: entries,
		PrefixCount: sp.Prefixes, EntryCount: int64(len(entries)),
		ASSet: sp.ASSet, Sources: sp.Sources,
	}
	if sp.Built != nil {
		f.Built = sp.Built.UTC()
	}
	return f, data, nil
}

// Prune deletes the request's PrefixLists whose digest is not in keep:
// after a newer filter was pushed (keep the new one, and the old one while
// it may still be live), and with no keep when the request is deleted
// (the garbage collector would do it too, but not every cluster has one
// running, e.g. envtest).
func (s *Store) Prune(ctx context.Context, pr *peeringv1.PeeringRequest, keep ...string) error {
	if pr.UID == "" {
		return fmt.Errorf("prune filters of PeeringRequest %s/%s: it has no UID", pr.Namespace, pr.Name)
	}
	keepLabels := map[string]bool{}
	for _, d := range keep {
		hex, err := digestHex(d)
		if err != nil {
			// A typo here would delete the live filter: refuse instead.
			return fmt.Errorf("prune filters of PeeringRequest %s/%s: keep: %w; nothing deleted", pr.Namespace, pr.Name, err)
		}
		keepLabels[labelValue(hex)] = true
	}
	var l metav1.PartialObjectMetadataList
	l.SetGroupVersionKind(peeringv1.GroupVersion.WithKind("PrefixListList"))
	if err := s.Reader.List(ctx, &l, client.InNamespace(pr.Namespace), client.MatchingLabels{peeringv1.LabelRequestUID: string(pr.UID)}); err != nil {
		return fmt.Errorf("prune filters of PeeringRequest %s/%s: list PrefixLists: %w", pr.Namespace, pr.Name, err)
	}
	var errs []error
	for i := range l.Items {
		m := &l.Items[i]
		d := m.Labels[peeringv1.LabelFilterDigest]
		if keepLabels[d] {
			continue
		}
		// Forget first: if the delete fails half-way, Save must not
		// believe the set is still complete.
		s.mu.Lock()
		delete(s.saved, setKey{pr.Namespace, pr.UID, m.Labels[peeringv1.LabelFamily], d})
		s.mu.Unlock()
		if err := s.delete(ctx, m); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("prune filters of PeeringRequest %s/%s: %w", pr.Namespace, pr.Name, err)
	}
	return nil
}

// Warm loads every filter stored in the cluster that is not in memory yet,
// so a standby replica taking over does not start cold, and records which
// sets exist so Save does not write them again. It reads only metadata,
// then the data of filters it does not have. It loads what it can and
// returns the errors of the rest.
func (s *Store) Warm(ctx context.Context) error {
	start := s.clock()
	var l metav1.PartialObjectMetadataList
	l.SetGroupVersionKind(peeringv1.GroupVersion.WithKind("PrefixListList"))
	if err := s.Reader.List(ctx, &l); err != nil {
		return fmt.Errorf("warm the filter store: list PrefixLists: %w", err)
	}
	type set struct {
		parts map[int]bool
		total int // -1 when the annotations disagree
	}
	sets := map[setKey]*set{}
	var order []setKey
	for i := range l.Items {
		m := &l.Items[i]
		k := setKey{m.Namespace, types.UID(m.Labels[peeringv1.LabelRequestUID]), m.Labels[peeringv1.LabelFamily], m.Labels[peeringv1.LabelFilterDigest]}
		if k.uid == "" || k.digest == "" {
			continue // not written by a Store
		}
		st := sets[k]
		if st == nil {
			st = &set{parts: map[int]bool{}, total: 0}
			sets[k] = st
			order = append(order, k)
		}
		part, total, ok := parsePart(m.Annotations[AnnotationPart])
		switch {
		case !ok || st.total != 0 && st.total != total:
			st.total = -1
		case st.total != -1:
			st.total = total
			st.parts[part] = true
		}
	}
	// Digests by label value, for the filters in memory.
	s.mu.Lock()
	s.lockedInit()
	known := map[string]string{}
	for d := range s.filters {
		if hex, err := digestHex(d); err == nil {
			known[labelValue(hex)] = d
		}
	}
	s.mu.Unlock()

	var errs []error
	seen := map[setKey]bool{}
	var missing []setKey
	for _, k := range order {
		st := sets[k]
		complete := st.total > 0 && len(st.parts) == st.total
		if _, ok := known[k.digest]; !ok && complete {
			missing = append(missing, k)
		}
	}
	if len(missing) > bulkAbove {
		// A cold replica: read everything in pages rather than one list
		// per filter (2,000 filters: seconds instead of tens of seconds).
		if err := s.loadAll(ctx, missing, known, seen); err != nil {
			errs = append(errs, err)
		}
	}
	for _, k := range order {
		st := sets[k]
		complete := st.total > 0 && len(st.parts) == st.total
		if d, ok := known[k.digest]; ok {
			s.mu.Lock()
			if c := s.filters[d]; c != nil {
				c.used = start
			}
			if complete {
				seen[k] = true
				if _, ok := s.saved[k]; !ok {
					s.saved[k] = start
				}
			}
			s.mu.Unlock()
			continue
		}
		if !complete {
			// Being saved right now, or damaged: Get reports which part
			// is missing if the filter is ever asked for.
			continue
		}
		f, data, err := s.loadByLabel(ctx, k)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		known[k.digest] = f.Digest
		seen[k] = true
		s.remember(k, f, data)
	}
	// Forget sets that are gone, unless saved while we listed.
	s.mu.Lock()
	for k, t := range s.saved {
		if !seen[k] && t.Before(start) {
			delete(s.saved, k)
		}
	}
	s.mu.Unlock()
	s.mu.Lock()
	metrics.StoredFilters.Set(float64(len(s.filters)))
	s.mu.Unlock()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("warm the filter store: %w", err)
	}
	return nil
}

// bulkAbove is how many missing filters make Warm read all lists in pages.
const bulkAbove = 20

// pageSize bounds one page of the bulk read (a page of large filters is a
// few MB).
const pageSize = 50

// loadAll reads every PrefixList in pages and loads the wanted sets, each
// once all its parts have been read; known and seen learn what was loaded.
func (s *Store) loadAll(ctx context.Context, want []setKey, known map[string]string, seen map[setKey]bool) error {
	wanted := map[setKey]bool{}
	for _, k := range want {
		wanted[k] = true
	}
	pending := map[setKey][]*peeringv1.PrefixList{}
	var errs []error
	cont := ""
	for {
		var l peeringv1.PrefixListList
		if err := s.Reader.List(ctx, &l, client.Limit(pageSize), client.Continue(cont)); err != nil {
			return fmt.Errorf("list PrefixLists: %w", err)
		}
		for i := range l.Items {
			pl := &l.Items[i]
			k := setKey{pl.Namespace, types.UID(pl.Labels[peeringv1.LabelRequestUID]), pl.Labels[peeringv1.LabelFamily], pl.Labels[peeringv1.LabelFilterDigest]}
			if !wanted[k] {
				continue
			}
			pending[k] = append(pending[k], pl)
			if len(pending[k]) < int(pl.Spec.Parts) {
				continue
			}
			f, data, err := assemble(pending[k])
			delete(pending, k)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			known[k.digest] = f.Digest
			seen[k] = true
			s.remember(k, f, data)
		}
		if cont = l.Continue; cont == "" {
			break
		}
	}
	return errors.Join(errs...)
}

// loadByLabel loads a set known only by its labels (Warm's metadata has
// the digest cut to 63 hex digits).
func (s *Store) loadByLabel(ctx context.Context, k setKey) (*Filter, []byte, error) {
	var l peeringv1.PrefixListList
	if err := s.Reader.List(ctx, &l, client.InNamespace(k.namespace), client.MatchingLabels{
		peeringv1.LabelRequestUID: string(k.uid), peeringv1.LabelFilterDigest: k.digest, peeringv1.LabelFamily: k.family,
	}); err != nil {
		return nil, nil, fmt.Errorf("list PrefixLists of request UID %s in %s: %w", k.uid, k.namespace, err)
	}
	if len(l.Items) == 0 {
		return nil, nil, fmt.Errorf("the PrefixLists of request UID %s, filter %s... in %s were deleted meanwhile", k.uid, k.digest, k.namespace)
	}
	lists := make([]*peeringv1.PrefixList, len(l.Items))
	for i := range l.Items {
		lists[i] = &l.Items[i]
	}
	return assemble(lists)
}

// Sweep drops from memory the filters neither used nor seen by Warm for
// IdleTTL, and returns how many it dropped.
func (s *Store) Sweep() int {
	ttl := s.IdleTTL
	if ttl <= 0 {
		ttl = DefaultIdleTTL
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock()
	n := 0
	for d, c := range s.filters {
		if now.Sub(c.used) > ttl {
			delete(s.filters, d)
			n++
		}
	}
	metrics.StoredFilters.Set(float64(len(s.filters)))
	return n
}

// Start warms the store and then, every RefreshInterval, warms it again
// (a standby loads what the leader saved) and sweeps it. It runs on every
// replica, leader or not.
func (s *Store) Start(ctx context.Context) error {
	every := s.RefreshInterval
	if every <= 0 {
		every = DefaultRefreshInterval
	}
	logger := log.FromContext(ctx).WithName("filterstore")
	wait.UntilWithContext(ctx, func(ctx context.Context) {
		if err := s.Warm(ctx); err != nil && ctx.Err() == nil {
			logger.Error(err, "Some stored filters could not be loaded; the next refresh retries")
		}
		if n := s.Sweep(); n > 0 {
			logger.V(1).Info("Dropped unused filters from memory", "count", n)
		}
	}, every)
	return nil
}

// NeedLeaderElection is false: a standby keeps its memory warm too.
func (s *Store) NeedLeaderElection() bool { return false }

// buildLists splits the encoded filter into PrefixLists.
func buildLists(pr *peeringv1.PeeringRequest, f *Filter, data []byte, partSize int) []*peeringv1.PrefixList {
	fam, _ := familyName(f.Family)
	hex, _ := digestHex(f.Digest)
	n := max(1, (len(data)+partSize-1)/partSize)
	var built *metav1.Time
	if !f.Built.IsZero() {
		built = &metav1.Time{Time: f.Built}
	}
	lists := make([]*peeringv1.PrefixList, n)
	for i := range n {
		chunk := data[min(i*partSize, len(data)):min((i+1)*partSize, len(data))]
		lists[i] = &peeringv1.PrefixList{
			ObjectMeta: metav1.ObjectMeta{
				Name:      listName(pr.Name, fam, f.Digest, i),
				Namespace: pr.Namespace,
				Labels: map[string]string{
					peeringv1.LabelRequestUID:   string(pr.UID),
					peeringv1.LabelFilterDigest: labelValue(hex),
					peeringv1.LabelFamily:       fam,
				},
				Annotations: map[string]string{AnnotationPart: strconv.Itoa(i) + "/" + strconv.Itoa(n)},
				OwnerReferences: []metav1.OwnerReference{{
					APIVersion:         peeringv1.GroupVersion.String(),
					Kind:               "PeeringRequest",
					Name:               pr.Name,
					UID:                pr.UID,
					Controller:         new(false),
					BlockOwnerDeletion: new(false),
				}},
			},
			Spec: peeringv1.PrefixListSpec{
				Request: pr.Name, Family: fam, Digest: f.Digest,
				Prefixes: f.PrefixCount, Entries: f.EntryCount,
				ASSet: f.ASSet, Sources: f.Sources, Built: built,
				Part: int32(i), Parts: int32(n), Encoding: Encoding,
				Data: chunk,
			},
		}
	}
	return lists
}

// listName is "<request>-<family>-<10 hex of the digest>", with "-p<N>"
// for parts after the first. The request name is cut so the result is a
// valid object name.
func listName(request, family, digest string, part int) string {
	if len(request) > maxRequestName {
		request = strings.TrimRight(request[:maxRequestName], "-.")
	}
	hex := strings.TrimPrefix(digest, "sha256:")
	name := request + "-" + family + "-" + hex[:min(10, len(hex))]
	if part > 0 {
		name += "-p" + strconv.Itoa(part)
	}
	return name
}

func familyName(f int) (string, error) {
	switch f {
	case 4:
		return "ipv4", nil
	case 6:
		return "ipv6", nil
	}
	return "", fmt.Errorf("address family %d: want 4 or 6", f)
}

// digestHex checks a policy.Digest value and returns its hex.
func digestHex(d string) (string, error) {
	hex, ok := strings.CutPrefix(d, "sha256:")
	if !ok || len(hex) != 64 || strings.Trim(hex, "0123456789abcdef") != "" {
		return "", fmt.Errorf("%q is not a filter digest (sha256:<64 lowercase hex digits>)", d)
	}
	return hex, nil
}

// labelValue cuts the hex to a label value's 63 characters.
func labelValue(hex string) string { return hex[:min(63, len(hex))] }

func parsePart(a string) (part, total int, ok bool) {
	p, t, found := strings.Cut(a, "/")
	if !found {
		return 0, 0, false
	}
	part, err1 := strconv.Atoi(p)
	total, err2 := strconv.Atoi(t)
	if err1 != nil || err2 != nil || total < 1 || part < 0 || part >= total {
		return 0, 0, false
	}
	return part, total, true
}
