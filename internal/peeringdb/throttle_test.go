package peeringdb_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/peering-operator/peering-operator/internal/peeringdb"
	"github.com/peering-operator/peering-operator/internal/peeringdb/pdbtest"
)

// A long Retry-After holds one query: the error says which, and until
// when, however deeply callers wrap it; the cache's status keeps it until a
// sync succeeds.
func TestThrottleNamesTheQueryAndItsEnd(t *testing.T) {
	srv := newSampleServer(t, pdbtest.Options{})
	c := fastClient(t, srv, nil)
	ctx := context.Background()
	srv.FailNext(1, http.StatusTooManyRequests, time.Hour)
	before := time.Now()
	_, err := c.NetIXLANs(ctx, url.Values{"ix_id": {"31"}})
	after := time.Now()
	th, ok := peeringdb.ThrottleOf(err)
	if !ok || th.Object != "netixlan" || !strings.Contains(th.Query, "ix_id=31") || !th.QueryOnly {
		t.Fatalf("ThrottleOf(%v) = %+v, %v", err, th, ok)
	}
	if th.Until.Before(before.Add(time.Hour)) || th.Until.After(after.Add(time.Hour)) {
		t.Errorf("until %v, want an hour after the answer", th.Until)
	}
	// Sent again, the query fails without a request and says the same.
	_, err = c.NetIXLANs(ctx, url.Values{"ix_id": {"31"}})
	again, ok := peeringdb.ThrottleOf(fmt.Errorf("wrapped: %w", &peeringdb.Error{Kind: peeringdb.ErrUnavailable, Err: fmt.Errorf("last attempt: %w", err)}))
	if !ok || again.Until.Sub(th.Until).Abs() > time.Second || srv.Requests() != 1 {
		t.Errorf("the held query again: %+v, %v after %d requests", again, ok, srv.Requests())
	}
	if s := th.String(); !strings.Contains(s, "netixlan?") || !strings.Contains(s, th.Until.UTC().Format(time.RFC3339)) {
		t.Errorf("String() = %q", s)
	}
}

// Only a 429 is a throttle: a 503 with Retry-After is not. A 429 without
// Retry-After holds its query past PeeringDB's negative cache replays.
func TestThrottleOnlyFromRateLimits(t *testing.T) {
	for _, tc := range []struct {
		name      string
		status    int
		after     time.Duration
		throttle  bool
		queryOnly bool
	}{
		{"long Retry-After holds the query", http.StatusTooManyRequests, time.Hour, true, true},
		{"short Retry-After holds the client", http.StatusTooManyRequests, time.Second, true, false},
		{"429 without Retry-After holds the query", http.StatusTooManyRequests, 0, true, true},
		{"503 with Retry-After is an outage", http.StatusServiceUnavailable, time.Second, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newSampleServer(t, pdbtest.Options{})
			c := fastClient(t, srv, func(o *peeringdb.Options) { o.MaxRetries = -1 })
			srv.FailNext(1, tc.status, tc.after)
			_, err := c.IXs(context.Background(), url.Values{"id": {"31"}})
			if err == nil {
				t.Fatal("no error")
			}
			th, ok := peeringdb.ThrottleOf(err)
			if ok != tc.throttle || th.QueryOnly != tc.queryOnly {
				t.Errorf("ThrottleOf(%v) = %+v, %v", err, th, ok)
			}
		})
	}
	if _, ok := peeringdb.ThrottleOf(nil); ok {
		t.Error("nil is a throttle")
	}
	if _, ok := peeringdb.ThrottleOf(errors.Join(errors.New("x"), &peeringdb.Error{Kind: peeringdb.ErrRateLimited, Until: time.Unix(1, 0)})); !ok {
		t.Error("a throttle inside errors.Join not found")
	}
}

func TestCacheStatusNamesTheThrottle(t *testing.T) {
	e := newCacheEnv(t, "")
	ctx := context.Background()
	e.srv.FailNext(1, http.StatusTooManyRequests, time.Hour)
	if err := e.cache.SyncIX(ctx, decix); !errors.Is(err, peeringdb.ErrRateLimited) {
		t.Fatalf("err = %v, want ErrRateLimited", err)
	}
	st := e.cache.Status()
	if st.Throttle == nil || st.Throttle.Object != "ix" || !st.Throttle.QueryOnly || !st.Stale {
		t.Fatalf("status %+v, want the ix query throttled", st)
	}
	if err := e.cache.SyncIX(ctx, 26); err != nil { // another IX: other queries go on
		t.Fatal(err)
	}
	if st := e.cache.Status(); st.Throttle != nil || st.Stale {
		t.Errorf("after a sync that worked: throttle %+v, stale %v", st.Throttle, st.Stale)
	}
}

// xff makes a client look like another address to the server
// (X-Forwarded-For, which PeeringDB's throttles key on).
type xff string

func (a xff) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Forwarded-For", string(a))
	return http.DefaultTransport.RoundTrip(r)
}

// Against pdbtest's emulation of PeeringDB's per-URL throttle
// (ResponseSizeThrottle, 1 per hour) and negative cache: the client's
// second identical large query gets 429 with a long Retry-After, which
// holds that query only. Other queries are still sent and answered, and
// IX syncs do not send the held query again before its time.
func TestPerURLThrottleHoldsOnlyThatQuery(t *testing.T) {
	const large = 10_000
	clock := newFakeClock()
	srv := newSampleServer(t, pdbtest.Options{Clock: clock.Now, NegativeCache: true,
		ResponseSizeThrottle: &pdbtest.ResponseSizeThrottle{Bytes: large, Requests: 1, Per: time.Hour}})
	ctx := context.Background()
	isHeld := func(r pdbtest.RequestRecord) bool { return r.Path == "/api/netixlan" && r.Query.Get("ix_id") == "31" }
	held := func() (n, throttled int) {
		for _, r := range srv.RequestLog() {
			if isHeld(r) {
				n++
				if r.Status == http.StatusTooManyRequests {
					throttled++
				}
			}
		}
		return n, throttled
	}

	// Someone else asked first: PeeringDB knows the answer is large.
	other := fastClient(t, srv, func(o *peeringdb.Options) { o.HTTPClient = &http.Client{Transport: xff("192.0.2.1")} })
	if _, err := other.NetIXLANs(ctx, url.Values{"ix_id": {"31"}}); err != nil {
		t.Fatal(err)
	}
	if log := srv.RequestLog(); log[0].Bytes < large {
		t.Fatalf("DE-CIX's netixlan answer is %d bytes; the test needs it above %d", log[0].Bytes, large)
	}

	c := fastClient(t, srv, nil) // default retries, MaxClientPause and MaxRetryAfter
	cache := peeringdb.NewCache(c, peeringdb.CacheOptions{Clock: clock.Now})
	if err := cache.SyncIX(ctx, decix); err != nil {
		t.Fatal(err)
	}
	clock.Advance(10 * time.Minute)
	before := time.Now()
	err := cache.SyncIX(ctx, decix)
	after := time.Now()
	var pe *peeringdb.Error
	if !errors.As(err, &pe) || pe.StatusCode != http.StatusTooManyRequests || pe.RetryAfter != 50*time.Minute {
		t.Fatalf("second sync: %v; want HTTP 429 asking for 50m (an hour after the first)", err)
	}
	th, ok := peeringdb.ThrottleOf(err)
	if !ok || th.Object != "netixlan" || !strings.Contains(th.Query, "ix_id=31") || !th.QueryOnly ||
		th.Until.Before(before.Add(50*time.Minute)) || th.Until.After(after.Add(50*time.Minute)) {
		t.Fatalf("ThrottleOf(%v) = %+v, %v; want the netixlan query held for 50m", err, th, ok)
	}
	if st := cache.Status(); st.Throttle == nil || st.Throttle.Object != "netixlan" || !st.Throttle.QueryOnly {
		t.Errorf("cache status throttle %+v", st.Throttle)
	}
	if n, throttled := held(); n != 3 || throttled != 1 {
		t.Fatalf("held query sent %d times, %d throttled; want 3 (other client, first sync, second sync), 1 (no retry)", n, throttled)
	}

	// The client is not paused: another query is sent and answered at
	// once (a paused client fails it, its pause being past MaxRetryAfter,
	// or waits 50 minutes, past this deadline).
	sent := srv.Requests()
	qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if ixs, err := c.IXs(qctx, url.Values{"id": {"26"}}); err != nil || len(ixs) != 1 {
		t.Fatalf("another query while one is held: %v, %v", ixs, err)
	}
	if err := cache.SyncIX(qctx, 26); err != nil {
		t.Fatalf("another IX's sync while one query is held: %v", err)
	}
	log := srv.RequestLog()
	if len(log) <= sent || log[sent].Path != "/api/ix" || log[sent].Query.Get("id") != "26" || log[sent].Status != http.StatusOK {
		t.Errorf("the other query did not reach the server: %+v", log[sent:])
	}

	// Syncing the IX again does not send the held query: it fails at once
	// naming it, and nothing already answered is sent again either.
	sent = srv.Requests()
	clock.Advance(time.Minute)
	err = cache.SyncIX(ctx, decix)
	again, ok := peeringdb.ThrottleOf(err)
	if !ok || again.Object != "netixlan" || again.Until.Sub(th.Until).Abs() > time.Second || !strings.Contains(err.Error(), "throttles this query until") {
		t.Errorf("the held query again: %v (%+v, %v)", err, again, ok)
	}
	if n, _ := held(); n != 3 || srv.Requests() != sent {
		t.Errorf("re-sync sent %d requests, the held query now %d times; want none", srv.Requests()-sent, n)
	}
}
