package controllers

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
	"github.com/peering-operator/peering-operator/internal/irr"
	"github.com/peering-operator/peering-operator/internal/policy"
)

// AnnotationAcceptFilter lets a human accept a filter the guard held: its
// value lists the digests (comma-separated) of the filters to accept, as
// the FiltersReady message shows them.
const AnnotationAcceptFilter = "peering.dev/accept-filter"

// Reasons of FiltersReady besides the guard's (policy.ReasonFilter*).
const (
	ReasonFiltersBuilt   = "FiltersBuilt"
	ReasonIRRUnavailable = "IRRUnavailable"
	ReasonFilterAccepted = "FilterAcceptedByHuman"
)

// FilterSource builds import filters from the IRR. Prefix lists live only
// here, in memory: objects carry their count and digest (etcd objects are
// limited to 1.5 MiB, and a large peer's list is bigger).
type FilterSource struct {
	IRR *irr.Client
	// Cache shares expansions between requests with the same AS-SETs;
	// a filter older than its TTL is rebuilt.
	Cache *policy.FilterCache
	// Limits drop too-specific prefixes (IPv4 /24, IPv6 /48 by default).
	Limits policy.Limits
	// MaxShrink is the largest drop in prefixes accepted without a human
	// (default half).
	MaxShrink float64

	mu   sync.Mutex
	live map[liveKey]*policy.CachedFilter
}

type liveKey struct {
	uid    types.UID
	family int
}

// familyFilter is the outcome for one address family of one request.
type familyFilter struct {
	Family int
	Sets   []string
	// InUse is the filter the request uses now: the new one, or the last
	// good one when the new one is held or the IRR failed. Nil when there
	// is none in memory.
	InUse *policy.CachedFilter
	// OK: the filter is current. Otherwise Reason and Message say why not.
	OK              bool
	Reason, Message string
	// Retry: the IRR failed; try again soon.
	Retry bool
}

// Live returns the filter a request uses for a family, if any.
func (s *FilterSource) Live(uid types.UID, family int) *policy.CachedFilter {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.live[liveKey{uid, family}]
}

// Forget drops a deleted request's filters.
func (s *FilterSource) Forget(uid types.UID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.live, liveKey{uid, 4})
	delete(s.live, liveKey{uid, 6})
}

// Build brings the request's filter for one family up to date. old is what
// the request's status says is live (it survives an operator restart, the
// in-memory list does not), accepted the digests a human accepted.
func (s *FilterSource) Build(ctx context.Context, uid types.UID, family int, sets, sources []string, old *peeringv1.FilterStatus, accepted string) familyFilter {
	out := familyFilter{Family: family, Sets: sets}
	key := policy.NewFilterKey(sets, family, sources)
	candidate, fresh := s.Cache.Get(key)
	var irrErr error
	if !fresh {
		built, err := s.expand(ctx, key, sets, family, sources)
		if err != nil {
			irrErr = err
		} else {
			candidate = built
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.live == nil {
		s.live = map[liveKey]*policy.CachedFilter{}
	}
	lk := liveKey{uid, family}
	out.InUse = s.live[lk]
	if candidate == nil {
		out.Reason, out.Retry = ReasonIRRUnavailable, true
		out.Message = fmt.Sprintf("IPv%d filter for %s: %v; retrying by itself", family, strings.Join(sets, " "), irrErr)
		return out
	}

	var prev policy.FilterSummary
	switch {
	case out.InUse != nil:
		prev = out.InUse.Summary
	case old != nil:
		prev = policy.FilterSummary{Prefixes: int(old.Prefixes), Entries: int(old.Entries), Digest: old.Digest}
	}
	ok, reason, msg := policy.Guard(prev, candidate.Summary, s.MaxShrink)
	if !ok && acceptedDigest(accepted, candidate.Summary.Digest) {
		ok, reason = true, ReasonFilterAccepted
		msg = fmt.Sprintf("a human accepted this filter (%s): %d prefixes in %d entries", AnnotationAcceptFilter, candidate.Summary.Prefixes, candidate.Summary.Entries)
	}
	out.Reason, out.Message = reason, fmt.Sprintf("IPv%d: %s", family, msg)
	if !ok {
		out.Message += fmt.Sprintf("; to accept it: kubectl annotate pr NAME %s=%s --overwrite", AnnotationAcceptFilter, candidate.Summary.Digest)
		return out
	}
	s.live[lk] = candidate
	out.InUse, out.OK = candidate, true
	if irrErr != nil {
		// The last good expansion stays in use while the IRR is down.
		out.Message += fmt.Sprintf(" (built %s; the IRR failed since: %v)", candidate.Built.UTC().Format(time.RFC3339), irrErr)
	}
	return out
}

// expand queries the IRR and builds the filter: bogons and too-specific
// prefixes out, then lossless aggregation (as bgpq4 -A).
func (s *FilterSource) expand(ctx context.Context, key policy.FilterKey, sets []string, family int, sources []string) (*policy.CachedFilter, error) {
	prefixes, _, err := s.IRR.Expand(ctx, irr.Query{Sets: sets, Family: family, Sources: sources})
	if err != nil {
		return nil, err
	}
	prefixes = policy.Filter(prefixes, s.Limits)
	entries := irr.Aggregate(prefixes, irr.AggregateOptions{})
	f := &policy.CachedFilter{Key: key, Prefixes: prefixes, Entries: entries, Summary: policy.Summarize(prefixes, entries)}
	s.Cache.Put(f)
	return f, nil
}

func acceptedDigest(annotation, digest string) bool {
	for _, d := range strings.Split(annotation, ",") {
		if strings.TrimSpace(d) == digest {
			return true
		}
	}
	return false
}

// filterStatus renders the in-use filter into the request's status.
func filterStatus(f *policy.CachedFilter, sources []string) *peeringv1.FilterStatus {
	if f == nil {
		return nil
	}
	t := metav1.NewTime(f.Built.Truncate(time.Second))
	return &peeringv1.FilterStatus{
		Prefixes: int64(f.Summary.Prefixes), Entries: int64(f.Summary.Entries),
		ASSet: f.Key.Sets, Sources: sources, Digest: f.Summary.Digest, Updated: &t,
	}
}

// Start prunes filters nobody has rebuilt for a day.
func (s *FilterSource) Start(ctx context.Context) error {
	every(ctx, time.Hour, func() { s.Cache.Prune(24 * time.Hour) })
	return nil
}
