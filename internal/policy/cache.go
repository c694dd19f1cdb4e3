package policy

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/peering-operator/peering-operator/internal/irr"
)

// FilterKey identifies a filter: what was expanded, for which family, from
// which sources. Build it with NewFilterKey so equal queries get equal keys.
type FilterKey struct {
	Sets    string // upper-cased, sorted, space-separated
	Family  int
	Sources string // upper-cased, comma-separated, in priority order
}

// NewFilterKey normalises a query into a key: the order of the sets does not
// matter, the order of the sources does (it is the IRR's priority order).
func NewFilterKey(sets []string, family int, sources []string) FilterKey {
	s := make([]string, 0, len(sets))
	for _, x := range sets {
		s = append(s, strings.ToUpper(strings.TrimSpace(x)))
	}
	slices.Sort(s)
	s = slices.Compact(s)
	src := make([]string, 0, len(sources))
	for _, x := range sources {
		src = append(src, strings.ToUpper(strings.TrimSpace(x)))
	}
	return FilterKey{Sets: strings.Join(s, " "), Family: family, Sources: strings.Join(src, ",")}
}

func (k FilterKey) String() string {
	return k.Sets + " IPv" + strconv.Itoa(k.Family) + " from " + k.Sources
}

// CachedFilter is a built filter. Its slices are shared: do not modify them.
type CachedFilter struct {
	Key      FilterKey
	Prefixes []netip.Prefix // after Filter
	Entries  []irr.Entry    // aggregated
	Summary  FilterSummary
	Built    time.Time
}

// FilterCache keeps built filters in memory, keyed by FilterKey, so peers
// sharing an AS-SET share one expansion and a refresh is needed only after
// the TTL. An expired filter stays available as the last good one (an IRR
// outage must not empty a live filter) until Prune drops it.
type FilterCache struct {
	ttl time.Duration
	now func() time.Time

	mu sync.Mutex
	m  map[FilterKey]*CachedFilter
}

// NewFilterCache makes a cache whose entries are fresh for ttl.
func NewFilterCache(ttl time.Duration) *FilterCache {
	return &FilterCache{ttl: ttl, now: time.Now, m: map[FilterKey]*CachedFilter{}}
}

// SetClock replaces time.Now, for tests.
func (c *FilterCache) SetClock(now func() time.Time) { c.now = now }

// Get returns the filter for k, if any, and whether it is younger than the
// TTL. A stale filter is still returned: it is the last good one.
func (c *FilterCache) Get(k FilterKey) (f *CachedFilter, fresh bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f = c.m[k]
	if f == nil {
		return nil, false
	}
	return f, c.now().Sub(f.Built) < c.ttl
}

// Put stores a filter, replacing the previous one for its key. A zero Built
// time is set to now.
func (c *FilterCache) Put(f *CachedFilter) {
	if f.Built.IsZero() {
		f.Built = c.now()
	}
	c.mu.Lock()
	c.m[f.Key] = f
	c.mu.Unlock()
}

// Delete forgets the filter for k.
func (c *FilterCache) Delete(k FilterKey) {
	c.mu.Lock()
	delete(c.m, k)
	c.mu.Unlock()
}

// Prune drops filters built more than maxAge ago (no longer used by any peer,
// or too old to trust) and returns how many it dropped.
func (c *FilterCache) Prune(maxAge time.Duration) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for k, f := range c.m {
		if c.now().Sub(f.Built) > maxAge {
			delete(c.m, k)
			n++
		}
	}
	return n
}

// Len is the number of cached filters.
func (c *FilterCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}
