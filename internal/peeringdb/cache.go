package peeringdb

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"
)

// CacheOptions configure a Cache.
type CacheOptions struct {
	// Path of a file the cache is saved to after each successful sync and
	// loaded from by NewCache, so a restart does not download everything
	// again. Empty: memory only. A name ending in ".gz" is gzip-compressed.
	Path string
	// Clock for sync times and the since watermark; default time.Now.
	Clock func() time.Time
	// SinceOverlap is subtracted from the sync start time to form the next
	// since watermark, so a small clock difference between us and PeeringDB
	// cannot lose an update (re-applying one is harmless). Default 1m.
	SinceOverlap time.Duration
	// Logger; default discards.
	Logger *slog.Logger
}

// ObjectCounts is how many objects of each type the cache holds.
type ObjectCounts struct {
	Networks   int `json:"networks"`
	IXs        int `json:"ixs"`
	IXLANs     int `json:"ixlans"`
	IXPrefixes int `json:"ixPrefixes"`
	NetIXLANs  int `json:"netixlans"`
}

// CacheStatus is the cache's health for status fields and metrics.
type CacheStatus struct {
	// LastSync is when the last successful sync started (the data is at
	// least this fresh for what that sync covered).
	LastSync time.Time
	// Stale: the last sync attempt failed because PeeringDB was
	// unavailable; reads serve the previous data. Cleared by the next
	// successful sync.
	Stale      bool
	StaleSince time.Time
	// LastError of the last failed sync, "" after a success.
	LastError string
	// Throttle the last failed sync met (which query PeeringDB holds
	// until when); nil after a success.
	Throttle *Throttle
	// PersistError is the last failure to save or load the cache file.
	PersistError string
	// Full: a FullSync loaded every object; otherwise only SyncedIXs and
	// the networks present there (or asked for with SyncNetworks).
	Full      bool
	SyncedIXs []int
	Counts    ObjectCounts
}

// Cache is a local, partial or full, mirror of PeeringDB. Reads never touch
// the network and are safe for concurrent use; syncs are serialized and
// apply their result atomically, so a failed sync leaves the previous data
// untouched.
type Cache struct {
	client *Client
	opts   CacheOptions
	log    *slog.Logger

	syncMu sync.Mutex // one sync at a time
	saveMu sync.Mutex // one writer of the file at a time

	mu         sync.RWMutex
	s          *store
	full       bool
	syncedIX   map[int]bool
	asns       map[uint32]bool  // asked for with SyncNetworks
	since      time.Time        // watermark of the next Refresh; zero = nothing synced
	partial    map[int]*ixSteps // IX syncs that failed part way (under syncMu)
	lastSync   time.Time
	stale      bool
	staleSince time.Time
	lastError  string
	throttle   *Throttle
	persistErr string
}

// NewCache returns a cache that syncs through client (which may be nil for
// a read-only cache loaded from opts.Path). If opts.Path names an existing
// file it is loaded; a file that cannot be read is reported in
// Status().PersistError and the cache starts empty (it will re-download).
func NewCache(client *Client, opts CacheOptions) *Cache {
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.SinceOverlap <= 0 {
		opts.SinceOverlap = time.Minute
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Cache{
		client:   client,
		opts:     opts,
		log:      log,
		s:        newStore(),
		syncedIX: map[int]bool{},
		asns:     map[uint32]bool{},
	}
	if opts.Path != "" {
		if err := c.load(); err != nil {
			c.persistErr = err.Error()
			c.log.Error("PeeringDB cache file unusable, starting empty", "path", opts.Path, "error", err)
		}
	}
	return c
}

var errNoClient = errors.New("peeringdb: cache has no client (read-only)")

// SyncIX loads one IX completely: the ix, its ixlans and ixpfx, every
// netixlan of the IX in one (paged) query, and the networks of those ASNs in
// asn__in batches. The IX is then tracked by Refresh. An IX that does not
// exist gives an error matching ErrNotFound; the cache remembers that answer
// (HasIX true, IX false), so validation can say "no such IX" rather than
// "not loaded yet".
func (c *Cache) SyncIX(ctx context.Context, ixID int) error {
	if c.client == nil {
		return errNoClient
	}
	c.syncMu.Lock()
	defer c.syncMu.Unlock()
	start := c.opts.Clock()
	err := c.syncIX(ctx, ixID, start)
	if err != nil {
		err = fmt.Errorf("sync of IX %d from PeeringDB: %w", ixID, err)
	}
	c.finish(start, err)
	return err
}

// ixSteps are the answers of an IX sync that failed part way: the next
// attempt within partialTTL starts where it stopped, so it does not send
// the same (possibly large) queries again, which PeeringDB's per-URL
// throttle punishes. Syncs are serialized (syncMu), so it needs no lock.
type ixSteps struct {
	at                       time.Time
	ixs                      []IX
	lans                     []IXLAN
	pfxs                     []IXPrefix
	nixs                     []NetIXLAN
	haveIX, havePfx, haveNix bool
}

// partialTTL bounds how old a kept step may be.
const partialTTL = 10 * time.Minute

func (c *Cache) syncIX(ctx context.Context, ixID int, start time.Time) error {
	id := strconv.Itoa(ixID)
	p := c.partial[ixID]
	if p == nil || start.Sub(p.at) > partialTTL {
		p = &ixSteps{at: start}
		if c.partial == nil {
			c.partial = map[int]*ixSteps{}
		}
		c.partial[ixID] = p
	}
	var err error
	if !p.haveIX {
		if p.ixs, err = emptyIfNotFound(c.client.IXs(ctx, url.Values{"id": {id}})); err != nil {
			return err
		}
		p.haveIX = true
	}
	if len(p.ixs) == 0 {
		delete(c.partial, ixID)
		c.mu.Lock()
		c.dropIXLocked(ixID)
		c.s.ixs.del(ixID)
		c.syncedIX[ixID] = true
		c.mu.Unlock()
		return &Error{Object: ObjIX, Query: "id=" + id, Kind: ErrNotFound, Attempts: 1}
	}
	if !p.havePfx {
		if p.lans, err = emptyIfNotFound(c.client.IXLANs(ctx, url.Values{"ix_id": {id}})); err != nil {
			return err
		}
		if len(p.lans) > 0 {
			ids := make([]int, len(p.lans))
			for i, l := range p.lans {
				ids[i] = l.ID
			}
			if p.pfxs, err = c.client.IXPrefixes(ctx, url.Values{"ixlan_id__in": {JoinInts(ids)}}); err != nil {
				return err
			}
		}
		p.havePfx = true
	}
	if !p.haveNix {
		if p.nixs, err = emptyIfNotFound(c.client.NetIXLANs(ctx, url.Values{"ix_id": {id}})); err != nil {
			return err
		}
		p.haveNix = true
	}
	asns := uniqueASNs(p.nixs)
	nets, err := emptyIfNotFound(c.client.NetworksByASN(ctx, asns))
	if err != nil {
		return err
	}
	delete(c.partial, ixID)

	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.s
	// This answer is the whole truth about the IX: drop what it no longer
	// lists (deleted while we were not looking).
	c.dropIXLocked(ixID)
	s.ixs.put(p.ixs[0])
	s.ixlans.putAll(p.lans)
	s.ixpfxs.putAll(p.pfxs)
	s.nixs.putAll(p.nixs)
	c.applyNetworkAnswer(asns, nets)
	c.syncedIX[ixID] = true
	// The oldest answer used sets the watermark, so nothing changed since
	// it is missed by the next refresh.
	if since := p.at.Add(-c.opts.SinceOverlap); c.since.IsZero() || since.Before(c.since) {
		c.since = since
	}
	return nil
}

// dropIXLocked removes the LANs, prefixes and ports of an IX.
func (c *Cache) dropIXLocked(ixID int) {
	s := c.s
	for lid := range s.lansByIX.ids[ixID] {
		for pid := range s.pfxByLAN.ids[lid] {
			s.ixpfxs.del(pid)
		}
		s.ixlans.del(lid)
	}
	for nid := range s.nixByIX.ids[ixID] {
		s.nixs.del(nid)
	}
}

// EnsureLoaded makes the cache able to answer for ixID and asns, fetching
// only what it cannot answer yet: SyncIX unless HasIX, then SyncNetworks for
// the ASNs whose network lookup is not yet authoritative. An ASN the cache
// answers for (it has a port on a loaded IX, or was asked for before) is not
// fetched again even when PeeringDB has no network for it: Refresh keeps
// those current, including a network created later. Validation calls this
// first, so "not in the cache" means "not in PeeringDB".
func (c *Cache) EnsureLoaded(ctx context.Context, ixID int, asns ...uint32) error {
	if !c.HasIX(ixID) {
		if err := c.SyncIX(ctx, ixID); err != nil {
			return err
		}
	}
	missing := c.missingNetworks(asns)
	if len(missing) == 0 {
		return nil
	}
	return c.SyncNetworks(ctx, missing...)
}

// EnsureNetworks loads the networks of asns the cache cannot answer for
// yet, wherever they are (EnsureLoaded without an IX): for networks met
// outside our IXs, e.g. in a shared facility.
func (c *Cache) EnsureNetworks(ctx context.Context, asns ...uint32) error {
	missing := c.missingNetworks(asns)
	if len(missing) == 0 {
		return nil
	}
	return c.SyncNetworks(ctx, missing...)
}

// Loaded reports whether the cache can answer for the IX and the ASNs
// without asking PeeringDB (what EnsureLoaded would fetch is there).
func (c *Cache) Loaded(ixID int, asns ...uint32) bool {
	return c.HasIX(ixID) && len(c.missingNetworks(asns)) == 0
}

// missingNetworks are the ASNs the cache knows nothing about.
func (c *Cache) missingNetworks(asns []uint32) []uint32 {
	var missing []uint32
	c.mu.RLock()
	if !c.full {
		var ported map[uint32]bool
		for _, a := range asns {
			if _, ok := c.s.netByASN[a]; ok || c.asns[a] {
				continue
			}
			if ported == nil {
				ported = c.s.netixlanASNs()
			}
			if !ported[a] {
				missing = append(missing, a)
			}
		}
	}
	c.mu.RUnlock()
	return missing
}

// applyNetworkAnswer stores nets, the complete answer for asns: an ASN
// asked for and not returned has no network in PeeringDB (any more).
func (c *Cache) applyNetworkAnswer(asns []uint32, nets []Network) {
	got := make(map[uint32]bool, len(nets))
	for _, n := range nets {
		got[n.ASN] = true
		c.s.nets.put(n)
	}
	for _, a := range asns {
		if !got[a] {
			if id, ok := c.s.netByASN[a]; ok {
				c.s.nets.del(id)
			}
		}
	}
}

// SyncNetworks loads the networks of asns (asn__in, in batches) and keeps
// them up to date in later Refreshes, whether or not they are at a synced
// IX.
func (c *Cache) SyncNetworks(ctx context.Context, asns ...uint32) error {
	if c.client == nil {
		return errNoClient
	}
	c.syncMu.Lock()
	defer c.syncMu.Unlock()
	start := c.opts.Clock()
	asns = slices.Compact(slices.Sorted(slices.Values(asns)))
	nets, err := emptyIfNotFound(c.client.NetworksByASN(ctx, asns))
	if err == nil {
		c.mu.Lock()
		c.applyNetworkAnswer(asns, nets)
		for _, a := range asns {
			c.asns[a] = true
		}
		if c.since.IsZero() {
			c.since = start.Add(-c.opts.SinceOverlap)
		}
		c.mu.Unlock()
	} else {
		err = fmt.Errorf("sync of %d networks from PeeringDB: %w", len(asns), err)
	}
	c.finish(start, err)
	return err
}

// FullSync replaces the cache with every live net, ix, ixlan, ixpfx and
// netixlan in PeeringDB, paged. Later Refreshes keep all of it current.
func (c *Cache) FullSync(ctx context.Context) error {
	if c.client == nil {
		return errNoClient
	}
	c.syncMu.Lock()
	defer c.syncMu.Unlock()
	start := c.opts.Clock()
	s := newStore()
	generated, err := c.fullSync(ctx, s)
	if err == nil {
		// The watermark is the server's: an answer from PeeringDB's API
		// cache lacks what changed after its rows were selected, which
		// the local clock would skip for good. meta.generated is when the
		// file was written (api_cache.py, load: the file's mtime), after
		// a run that selected updated__lte=<its start>
		// (pdb_api_cache.py): go back further by apiCacheLag.
		mark := start
		if cut := generated.Add(-apiCacheLag); !generated.IsZero() && cut.Before(mark) {
			mark = cut
		}
		c.mu.Lock()
		c.s = s
		c.full = true
		c.since = mark.Add(-c.opts.SinceOverlap)
		c.mu.Unlock()
	} else {
		err = fmt.Errorf("full sync from PeeringDB: %w", err)
	}
	c.finish(start, err)
	return err
}

// apiCacheLag bounds how long before meta.generated PeeringDB's API cache
// run selected its rows. The run writes every object type at four depths,
// minutes; an hour only makes the first refresh re-read an hour of changes.
const apiCacheLag = time.Hour

// fullSync loads every table into s and returns when the oldest answer
// was generated by PeeringDB's API cache (zero: every answer was live).
func (c *Cache) fullSync(ctx context.Context, s *store) (time.Time, error) {
	var oldest time.Time
	for _, load := range []func() (time.Time, error){
		func() (time.Time, error) { return loadAll(ctx, c.client, &s.ixs) },
		func() (time.Time, error) { return loadAll(ctx, c.client, &s.ixlans) },
		func() (time.Time, error) { return loadAll(ctx, c.client, &s.ixpfxs) },
		func() (time.Time, error) { return loadAll(ctx, c.client, &s.nixs) },
		func() (time.Time, error) { return loadAll(ctx, c.client, &s.nets) },
	} {
		gen, err := load()
		if err != nil {
			return oldest, err
		}
		if !gen.IsZero() && (oldest.IsZero() || gen.Before(oldest)) {
			oldest = gen
		}
	}
	return oldest, nil
}

// loadAll puts every live object of type T into t a page at a time, so a
// full sync never holds the whole answer at once.
func loadAll[T interface {
	Object
	record
}](ctx context.Context, cl *Client, t *table[T]) (time.Time, error) {
	return ListPagesGenerated(ctx, cl, url.Values{}, func(page []T) error {
		t.putAll(page)
		return nil
	})
}

// Refresh fetches, for each object type, what changed since the last sync
// (since=<unix time>, deleted objects included) and applies it: updates
// replace, status "deleted" removes. In a partial cache only objects of
// synced IXs and their networks are kept; networks that newly appear at a
// synced IX are fetched with asn__in. Nothing synced yet: no-op.
func (c *Cache) Refresh(ctx context.Context) error {
	if c.client == nil {
		return errNoClient
	}
	c.syncMu.Lock()
	defer c.syncMu.Unlock()
	c.mu.RLock()
	since := c.since
	c.mu.RUnlock()
	if since.IsZero() {
		return nil
	}
	start := c.opts.Clock()
	err := c.refresh(ctx, since, start)
	if err != nil {
		err = fmt.Errorf("incremental refresh from PeeringDB (changes since %s): %w",
			since.UTC().Format(time.RFC3339), err)
	}
	c.finish(start, err)
	return err
}

func (c *Cache) refresh(ctx context.Context, since, start time.Time) error {
	q := url.Values{"since": {strconv.FormatInt(since.Unix(), 10)}}
	ixs, err := c.client.IXs(ctx, q)
	if err != nil {
		return err
	}
	lans, err := c.client.IXLANs(ctx, q)
	if err != nil {
		return err
	}
	pfxs, err := c.client.IXPrefixes(ctx, q)
	if err != nil {
		return err
	}
	nixs, err := c.client.NetIXLANs(ctx, q)
	if err != nil {
		return err
	}
	nets, err := c.client.Networks(ctx, q)
	if err != nil {
		return err
	}

	// Decide what a partial cache keeps, reading the store under the read
	// lock (syncMu keeps other writers out meanwhile).
	var newASNs []uint32
	c.mu.RLock()
	full, s := c.full, c.s
	if !full {
		ixs = slices.DeleteFunc(ixs, func(x IX) bool { return !c.syncedIX[x.ID] })
		lans = slices.DeleteFunc(lans, func(l IXLAN) bool {
			_, have := s.ixlans.byID[l.ID]
			return !have && !c.syncedIX[l.IXID]
		})
		lanIDs := map[int]bool{}
		for _, l := range lans {
			lanIDs[l.ID] = !l.deleted()
		}
		pfxs = slices.DeleteFunc(pfxs, func(p IXPrefix) bool {
			_, have := s.ixpfxs.byID[p.ID]
			_, lanKnown := s.ixlans.byID[p.IXLANID]
			return !have && !lanKnown && !lanIDs[p.IXLANID]
		})
		nixs = slices.DeleteFunc(nixs, func(n NetIXLAN) bool {
			_, have := s.nixs.byID[n.ID]
			return !have && !c.syncedIX[n.IXID]
		})
		tracked := s.netixlanASNs()
		for a := range c.asns {
			tracked[a] = true
		}
		inAnswer := map[uint32]bool{}
		for _, n := range nixs {
			tracked[n.ASN] = true
		}
		nets = slices.DeleteFunc(nets, func(n Network) bool {
			_, have := s.nets.byID[n.ID]
			keep := have || tracked[n.ASN]
			if keep {
				inAnswer[n.ASN] = true
			}
			return !keep
		})
		// A network that just arrived at a synced IX: its net object may be
		// old, so since does not return it. Fetch those by ASN.
		for _, n := range nixs {
			if n.deleted() || inAnswer[n.ASN] {
				continue
			}
			if _, have := s.netByASN[n.ASN]; !have {
				newASNs = append(newASNs, n.ASN)
				inAnswer[n.ASN] = true
			}
		}
	}
	c.mu.RUnlock()
	if len(newASNs) > 0 {
		more, err := emptyIfNotFound(c.client.NetworksByASN(ctx, newASNs))
		if err != nil {
			return err
		}
		nets = append(nets, more...)
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	s.ixs.putAll(ixs)
	s.ixlans.putAll(lans)
	s.ixpfxs.putAll(pfxs)
	s.nixs.putAll(nixs)
	s.nets.putAll(nets)
	c.since = start.Add(-c.opts.SinceOverlap)
	c.log.Debug("PeeringDB refresh applied", "ix", len(ixs), "ixlan", len(lans), "ixpfx", len(pfxs),
		"netixlan", len(nixs), "net", len(nets))
	return nil
}

// finish records the outcome of a sync. Only outages make the cache stale:
// a wrong IX id is the caller's problem, not old data.
func (c *Cache) finish(start time.Time, err error) {
	c.mu.Lock()
	c.throttle = nil
	if t, ok := ThrottleOf(err); ok {
		c.throttle = &t
	}
	switch {
	case err == nil:
		c.lastSync = start
		c.stale = false
		c.staleSince = time.Time{}
		c.lastError = ""
	case IsRetryable(err):
		if !c.stale {
			c.stale = true
			c.staleSince = c.opts.Clock()
		}
		c.lastError = err.Error()
	default:
		c.lastError = err.Error()
	}
	c.mu.Unlock()
	if err != nil {
		c.log.Info("PeeringDB sync failed", "error", err)
		return
	}
	if c.opts.Path != "" {
		if serr := c.Save(); serr != nil {
			c.log.Error("saving PeeringDB cache failed", "path", c.opts.Path, "error", serr)
		}
	}
}

// --- read API: no network, concurrency-safe ---

// IX returns the IX with that id.
func (c *Cache) IX(id int) (IX, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	x, ok := c.s.ixs.byID[id]
	return x, ok
}

// HasIX reports whether the cache can answer for the IX: it was synced
// (SyncIX, possibly with a "no such IX" answer, or the cache file), or a
// FullSync loaded everything. Then IX(id) == false means PeeringDB has no
// such IX; before, it only means "not loaded".
func (c *Cache) HasIX(id int) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.full || c.syncedIX[id]
}

// IXLANs returns the LANs of an IX, by id.
func (c *Cache) IXLANs(ixID int) []IXLAN {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var out []IXLAN
	for _, id := range sortedIDs(c.s.lansByIX.ids[ixID]) {
		out = append(out, c.s.ixlans.byID[id])
	}
	return out
}

// LANPrefixes returns the peering LAN prefixes of an IX (all its ixlans),
// IPv4 first, sorted, without duplicates.
func (c *Cache) LANPrefixes(ixID int) []netip.Prefix {
	c.mu.RLock()
	var out []netip.Prefix
	for lid := range c.s.lansByIX.ids[ixID] {
		for pid := range c.s.pfxByLAN.ids[lid] {
			if p := c.s.ixpfxs.byID[pid].Prefix; p.IsValid() {
				out = append(out, p.Masked())
			}
		}
	}
	c.mu.RUnlock()
	slices.SortFunc(out, func(a, b netip.Prefix) int {
		if c := a.Addr().Compare(b.Addr()); c != 0 {
			return c
		}
		return cmp.Compare(a.Bits(), b.Bits())
	})
	return slices.Compact(out)
}

// NetIXLANs returns the ports of asn on the IX, by id.
func (c *Cache) NetIXLANs(ixID int, asn uint32) []NetIXLAN {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var out []NetIXLAN
	for _, id := range sortedIDs(c.s.nixByIX.ids[ixID]) {
		if n := c.s.nixs.byID[id]; n.ASN == asn {
			out = append(out, n)
		}
	}
	return out
}

// NetIXLANsOfIX returns every port on the IX, by id.
func (c *Cache) NetIXLANsOfIX(ixID int) []NetIXLAN {
	c.mu.RLock()
	defer c.mu.RUnlock()
	ids := sortedIDs(c.s.nixByIX.ids[ixID])
	out := make([]NetIXLAN, 0, len(ids))
	for _, id := range ids {
		out = append(out, c.s.nixs.byID[id])
	}
	return out
}

// Network returns the network with that ASN. A netixlan may name an ASN
// whose network is not cached (a reference outside the data): that is
// simply not found.
func (c *Cache) Network(asn uint32) (Network, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	id, ok := c.s.netByASN[asn]
	if !ok {
		return Network{}, false
	}
	n, ok := c.s.nets.byID[id]
	return n, ok
}

// NetworkByID returns the network with that PeeringDB id.
func (c *Cache) NetworkByID(id int) (Network, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	n, ok := c.s.nets.byID[id]
	return n, ok
}

// Status reports freshness, errors and sizes.
func (c *Cache) Status() CacheStatus {
	c.mu.RLock()
	defer c.mu.RUnlock()
	st := CacheStatus{
		LastSync:     c.lastSync,
		Stale:        c.stale,
		StaleSince:   c.staleSince,
		LastError:    c.lastError,
		PersistError: c.persistErr,
		Full:         c.full,
		Counts: ObjectCounts{
			Networks:   len(c.s.nets.byID),
			IXs:        len(c.s.ixs.byID),
			IXLANs:     len(c.s.ixlans.byID),
			IXPrefixes: len(c.s.ixpfxs.byID),
			NetIXLANs:  len(c.s.nixs.byID),
		},
	}
	if c.throttle != nil {
		t := *c.throttle
		st.Throttle = &t
	}
	for id := range c.syncedIX {
		st.SyncedIXs = append(st.SyncedIXs, id)
	}
	slices.Sort(st.SyncedIXs)
	return st
}

func uniqueASNs(nixs []NetIXLAN) []uint32 {
	out := make([]uint32, 0, len(nixs))
	for _, n := range nixs {
		out = append(out, n.ASN)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// emptyIfNotFound reads a 404 to a filtered query as what it means: no
// such object. The real server answers an empty "?id=" query with 404
// {"meta":{"error":"Entity not found"},"data":[]} (pdbtest does the same),
// and "not in PeeringDB" is an answer to remember, not an outage.
func emptyIfNotFound[T any](v []T, err error) ([]T, error) {
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	return v, err
}
