package controllers

import (
	"context"
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
	"github.com/peering-operator/peering-operator/internal/irr"
	"github.com/peering-operator/peering-operator/internal/policy"
)

// AnnotationAcceptFilter lets a human accept a filter the guard held: its
// value lists the digests (comma-separated) of the filters to accept, as
// the FiltersReady message shows them.
const AnnotationAcceptFilter = peeringv1.AnnotationAcceptFilter

// FilterSource builds import filters from the IRR. It keeps no per-request
// state: the filter a request uses is the one its status names (pinned once
// approved, its entries persisted in PrefixLists), so a restart or a new
// leader starts from what was pushed, not from memory.
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
}

// familyFilter is the outcome for one address family of one request.
type familyFilter struct {
	Family int
	Sets   []string
	// Candidate is the filter built from the IRR now (fresh or the last
	// good expansion); nil when the IRR never answered since the start.
	Candidate *policy.CachedFilter
	// OK: Candidate may replace the baseline (the guard passed, or a human
	// accepted it). Otherwise Reason and Message say why not.
	OK              bool
	Reason, Message string
	// Retry: the IRR failed; try again soon.
	Retry bool
}

// Build brings the request's filter for one family up to date against
// baseline, the filter the request uses now (its status), and accepted,
// the digests a human accepted.
func (s *FilterSource) Build(ctx context.Context, family int, sets, sources []string, baseline *peeringv1.FilterStatus, accepted string) familyFilter {
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
	if candidate == nil {
		out.Reason, out.Retry = peeringv1.ReasonIRRUnavailable, true
		out.Message = fmt.Sprintf("IPv%d filter for %s: %v; retrying by itself", family, strings.Join(sets, " "), irrErr)
		return out
	}
	return s.judge(out, candidate, irrErr, baseline, accepted)
}

// BuildRouteServer is Build for a route-server session without an AS-SET:
// the non-bogon filter, made from the policy alone (no IRR query, so no
// IRR outage can touch it).
func (s *FilterSource) BuildRouteServer(family int, baseline *peeringv1.FilterStatus, accepted string) familyFilter {
	f := policy.NonBogonFilter(family, s.Limits)
	if c, _ := s.Cache.Get(f.Key); c != nil && c.Summary.Digest == f.Summary.Digest {
		f = c // keep its build time: the status does not change on every pass
	} else {
		s.Cache.Put(f)
	}
	return s.judge(familyFilter{Family: family, Sets: []string{policy.RouteServerSet}}, f, nil, baseline, accepted)
}

// judge runs the guard on a candidate filter against the baseline.
func (s *FilterSource) judge(out familyFilter, candidate *policy.CachedFilter, irrErr error, baseline *peeringv1.FilterStatus, accepted string) familyFilter {
	family := out.Family
	out.Candidate = candidate
	var prev policy.FilterSummary
	if baseline != nil {
		prev = policy.FilterSummary{Prefixes: int(baseline.Prefixes), Entries: int(baseline.Entries), Digest: baseline.Digest}
	}
	ok, reason, msg := policy.Guard(prev, candidate.Summary, s.MaxShrink)
	if !ok && acceptedDigest(accepted, candidate.Summary.Digest) {
		ok, reason = true, peeringv1.ReasonFilterAccepted
		msg = fmt.Sprintf("a human accepted this filter (%s): %d prefixes in %d entries", AnnotationAcceptFilter, candidate.Summary.Prefixes, candidate.Summary.Entries)
	}
	out.Reason, out.Message, out.OK = reason, fmt.Sprintf("IPv%d: %s", family, msg), ok
	if !ok {
		out.Message += fmt.Sprintf("; to accept it: kubectl peering accept NAME (or kubectl annotate pr NAME %s=%s --overwrite)", AnnotationAcceptFilter, candidate.Summary.Digest)
		return out
	}
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
