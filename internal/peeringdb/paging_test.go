package peeringdb_test

import (
	"context"
	"net/url"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/peering-operator/peering-operator/internal/peeringdb"
	"github.com/peering-operator/peering-operator/internal/peeringdb/pdbtest"
)

// hookedServer serves the sample with a fake clock and runs change before
// the n-th request for net (1-based), so a test changes rows between two
// pages of one listing.
func hookedServer(t *testing.T, clock *fakeClock, change func(srv *pdbtest.Server, n int)) *pdbtest.Server {
	t.Helper()
	var srv *pdbtest.Server
	var n atomic.Int32
	srv = newSampleServer(t, pdbtest.Options{Clock: clock.Now, OnRequest: func(r pdbtest.RequestRecord) {
		if r.Path == "/api/net" {
			change(srv, int(n.Add(1)))
		}
	}})
	return srv
}

// naivePages lists by skip and limit alone, as the client did before: a
// control showing that the scenario does shift rows under skip.
func naivePages(ctx context.Context, c *peeringdb.Client, q url.Values, limit int) ([]peeringdb.Network, error) {
	var all []peeringdb.Network
	for skip := 0; ; {
		p := url.Values{"limit": {strconv.Itoa(limit)}, "skip": {strconv.Itoa(skip)}}
		for k, v := range q {
			p[k] = v
		}
		page, err := c.Networks(ctx, p)
		if err != nil {
			return all, err
		}
		all = append(all, page...)
		if len(page) < limit {
			return all, nil
		}
		skip += len(page)
	}
}

// missingIDs are the ids of want not in got.
func missingIDs(want []int, got []peeringdb.Network) []int {
	have := map[int]bool{}
	for _, n := range got {
		have[n.ID] = true
	}
	return slices.DeleteFunc(slices.Clone(want), func(id int) bool { return have[id] })
}

func sampleNetIDs(t *testing.T) []int {
	var ids []int
	for _, n := range decodeSample[peeringdb.Network](t) {
		ids = append(ids, n.ID)
	}
	slices.Sort(ids)
	return ids
}

// A since answer is ordered by updated (rest.py, get_queryset), so a row
// updated or deleted between two pages moves to the end and the rows after
// it shift left under skip: paging it loses them. The client asks for it
// in one request.
func TestSinceCannotShiftUnderTheClient(t *testing.T) {
	const changed, limit = 30, 10
	scenario := func(list func(context.Context, *peeringdb.Client, url.Values) ([]peeringdb.Network, error)) (missing []int, requests int) {
		clock := newFakeClock()
		ids := sampleNetIDs(t)[:changed]
		var order []int // by updated: highest id first
		srv := hookedServer(t, clock, func(srv *pdbtest.Server, n int) {
			if n != 2 {
				return
			}
			// Between page 1 and page 2: a page-1 row is updated,
			// another deleted (both move to the end), a new one added.
			clock.Advance(time.Second)
			if err := srv.Update("net", order[2], map[string]any{"notes": "updated while paging"}); err != nil {
				t.Error(err)
			}
			if err := srv.Delete("net", order[5]); err != nil {
				t.Error(err)
			}
			srv.AddNetwork(peeringdb.Network{ASN: 64511, Name: "added while paging"})
		})
		c := fastClient(t, srv, func(o *peeringdb.Options) { o.PageSize = limit })
		since := clock.Now().Unix()
		for _, id := range slices.Backward(ids) {
			clock.Advance(time.Second)
			if err := srv.Update("net", id, map[string]any{"notes": "changed"}); err != nil {
				t.Fatal(err)
			}
			order = append(order, id)
		}
		got, err := list(context.Background(), c, url.Values{"since": {strconv.FormatInt(since, 10)}})
		if err != nil {
			t.Fatal(err)
		}
		return missingIDs(order, got), srv.Requests()
	}

	naiveMissing, naiveReqs := scenario(func(ctx context.Context, c *peeringdb.Client, q url.Values) ([]peeringdb.Network, error) {
		return naivePages(ctx, c, q, limit)
	})
	if len(naiveMissing) == 0 {
		t.Fatal("paging since by skip and limit lost nothing: the scenario proves nothing")
	}
	missing, reqs := scenario(func(ctx context.Context, c *peeringdb.Client, q url.Values) ([]peeringdb.Network, error) {
		return c.Networks(ctx, q)
	})
	t.Logf("rows changed since the watermark: %d; skip/limit paging (%d requests) lost %v, the client (%d request) lost %v",
		changed, naiveReqs, naiveMissing, reqs, missing)
	if len(missing) > 0 || reqs != 1 {
		t.Errorf("the client lost %v in %d requests, want none in one request", missing, reqs)
	}
}

// Rows deleted between two pages of a list in id order shift the rows not
// yet read below skip; rows added land at the end. The client reads each
// page from a row it already has, and steps back when the shift is larger
// than that overlap.
func TestPagingSurvivesRowsGoingBetweenPages(t *testing.T) {
	const limit = 100
	scenario := func(list func(context.Context, *peeringdb.Client) ([]peeringdb.Network, error)) (missing []int, got []peeringdb.Network, requests int) {
		clock := newFakeClock()
		ids := sampleNetIDs(t)
		gone := map[int]bool{}
		srv := hookedServer(t, clock, func(srv *pdbtest.Server, n int) {
			var del []int
			switch n {
			case 3: // a few, within the overlap
				del = ids[:5]
				srv.AddNetwork(peeringdb.Network{ASN: 64511, Name: "added while paging 1"})
				srv.AddNetwork(peeringdb.Network{ASN: 64512, Name: "added while paging 2"})
			case 5: // more than the overlap
				del = ids[10:70]
			}
			for _, id := range del {
				gone[id] = true
				if err := srv.Delete("net", id); err != nil {
					t.Error(err)
				}
			}
		})
		c := fastClient(t, srv, func(o *peeringdb.Options) { o.PageSize = limit })
		got, err := list(context.Background(), c)
		if err != nil {
			t.Fatal(err)
		}
		want := slices.DeleteFunc(slices.Clone(ids), func(id int) bool { return gone[id] })
		return missingIDs(want, got), got, srv.Requests()
	}

	naiveMissing, _, naiveReqs := scenario(func(ctx context.Context, c *peeringdb.Client) ([]peeringdb.Network, error) {
		return naivePages(ctx, c, nil, limit)
	})
	if len(naiveMissing) == 0 {
		t.Fatal("paging by skip and limit lost nothing: the scenario proves nothing")
	}
	missing, got, reqs := scenario(func(ctx context.Context, c *peeringdb.Client) ([]peeringdb.Network, error) {
		return c.Networks(ctx, nil)
	})
	t.Logf("500 rows, 65 deleted and 2 added while paging by %d: skip/limit paging (%d requests) lost %d, the client (%d requests) lost %d",
		limit, naiveReqs, len(naiveMissing), reqs, len(missing))
	if len(missing) > 0 {
		t.Errorf("the client lost %d rows that never changed: %v", len(missing), missing)
	}
	seen := map[int]bool{}
	for _, n := range got {
		if seen[n.ID] {
			t.Errorf("net %d listed twice", n.ID)
		}
		seen[n.ID] = true
	}
}

// PeeringDB regenerates its API cache while a full sync pages through it:
// the next page comes from a newer file without the rows deleted
// meanwhile. Rows the sync has not read yet must not be lost; those would
// never come back, since a since refresh only returns rows that changed.
func TestFullSyncAcrossAPICacheRegeneration(t *testing.T) {
	const limit = 300 // above 250: served from the API cache
	scenario := func(pager bool) (missing int, requests int) {
		clock := newFakeClock()
		ids := sampleNetIDs(t)
		srv := hookedServer(t, clock, func(srv *pdbtest.Server, n int) {
			if n != 2 {
				return
			}
			clock.Advance(time.Minute)
			for _, id := range ids[:30] {
				if err := srv.Delete("net", id); err != nil {
					t.Error(err)
				}
			}
			srv.Snapshot() // the new file
		})
		srv.Snapshot()
		cl := fastClient(t, srv, func(o *peeringdb.Options) { o.PageSize = limit })
		var got []peeringdb.Network
		if pager {
			var err error
			if got, err = naivePages(context.Background(), cl, nil, limit); err != nil {
				t.Fatal(err)
			}
		} else {
			cache := peeringdb.NewCache(cl, peeringdb.CacheOptions{Clock: clock.Now})
			if err := cache.FullSync(context.Background()); err != nil {
				t.Fatal(err)
			}
			srv.ClearSnapshot()
			clock.Advance(time.Hour)
			if err := cache.Refresh(context.Background()); err != nil {
				t.Fatal(err)
			}
			for _, id := range ids {
				if n, ok := cache.NetworkByID(id); ok {
					got = append(got, n)
				}
			}
			if c := cache.Status().Counts.Networks; c != 470 {
				t.Errorf("after the refresh the cache has %d networks, want 470", c)
			}
		}
		var nets int
		for _, r := range srv.RequestLog() {
			if r.Path == "/api/net" && !r.Query.Has("since") {
				nets++
			}
		}
		return len(missingIDs(ids[30:], got)), nets
	}
	naiveMissing, naiveReqs := scenario(true)
	if naiveMissing == 0 {
		t.Fatal("paging by skip and limit lost nothing: the scenario proves nothing")
	}
	missing, reqs := scenario(false)
	t.Logf("net pages across a regeneration that drops 30 rows: skip/limit paging (%d requests) lost %d, the full sync (%d requests) lost %d",
		naiveReqs, naiveMissing, reqs, missing)
	if missing > 0 {
		t.Errorf("the full sync and the refresh after it lost %d networks", missing)
	}
}

// PeeringDB's API cache run selects rows updated at or before its start
// (pdb_api_cache.py) but meta.generated is when the file was written
// (api_cache.py, the file's mtime), minutes later: a row updated in
// between is in neither the file nor a since answer from meta.generated.
func TestFullSyncWatermarkCoversTheCacheRun(t *testing.T) {
	e := newCacheEnv(t, "")
	ctx := context.Background()
	cutoff := e.clock.Now()
	e.clock.Advance(5 * time.Minute)
	if err := e.srv.UpdateNetwork(15169, map[string]any{"name": "Google (renamed during the cache run)"}); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(5 * time.Minute)
	e.srv.SnapshotAt(cutoff)
	e.clock.Advance(2 * time.Minute)
	if err := e.cache.FullSync(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.cache.Network(15169); ok {
		t.Fatal("AS15169 is in the full sync: the test proves nothing")
	}
	e.srv.ClearSnapshot()
	e.clock.Advance(time.Hour)
	if err := e.cache.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if n, ok := e.cache.Network(15169); !ok || n.Name != "Google (renamed during the cache run)" {
		t.Errorf("after the refresh AS15169 is %q (%v): a row updated during the cache run was lost", n.Name, ok)
	}
}
