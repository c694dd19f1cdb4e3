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

// Only a 429 with a known end is a throttle: a refused key (429 without
// Retry-After) and a 503 with Retry-After are not.
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
		{"429 without Retry-After is a refused key", http.StatusTooManyRequests, 0, false, false},
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
