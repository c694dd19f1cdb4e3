package peeringdb_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/peering-operator/peering-operator/internal/peeringdb"
	"github.com/peering-operator/peering-operator/internal/peeringdb/pdbtest"
)

// exchange is one request as the client saw it, on the fake clock (the
// server's own log keeps real times).
type exchange struct {
	at     time.Time
	status int
	header http.Header
}

// recorder is a transport that logs every exchange.
type recorder struct {
	clock *fakeClock
	mu    sync.Mutex
	log   []exchange
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	at := r.clock.Now()
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err == nil {
		r.mu.Lock()
		r.log = append(r.log, exchange{at, resp.StatusCode, resp.Header.Clone()})
		r.mu.Unlock()
	}
	return resp, err
}

func (r *recorder) exchanges() []exchange {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]exchange(nil), r.log...)
}

// negCacheEnv is a server with PeeringDB's negative cache and a client
// recording its exchanges, both on one fake clock.
func negCacheEnv(t *testing.T, mod func(*peeringdb.Options)) (*pdbtest.Server, *peeringdb.Client, *recorder, *fakeClock) {
	t.Helper()
	clock := newFakeClock()
	srv := newSampleServer(t, pdbtest.Options{Clock: clock.Now, NegativeCache: true})
	rec := &recorder{clock: clock}
	c := clockedClient(t, srv, clock, func(o *peeringdb.Options) {
		o.HTTPClient = &http.Client{Transport: rec}
		if mod != nil {
			mod(o)
		}
	})
	return srv, c, rec, clock
}

func describe(log []exchange) string {
	var b strings.Builder
	for i, e := range log {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Itoa(e.status))
		if e.header.Get("X-Cached-Response") != "" {
			b.WriteString(" replayed")
		}
		if e.header.Get("X-Throttled-Response") != "" {
			b.WriteString(" lockout")
		}
		if ra := e.header.Get("Retry-After"); ra != "" {
			b.WriteString(" Retry-After " + ra)
		}
		if i > 0 {
			b.WriteString(" +" + e.at.Sub(log[i-1].at).String())
		}
	}
	return b.String()
}

// Throttled with a short Retry-After, the client retries after it and
// meets PeeringDB's negative cache: the same 429 again, without
// Retry-After. That is rate limiting, not a refused key: the client waits
// out the replay window (restarted by the replay) before the next retry,
// which succeeds.
func TestReplayedThrottleIsRetriedAfterTheWindow(t *testing.T) {
	srv, c, rec, _ := negCacheEnv(t, nil) // default retries
	srv.FailNext(1, http.StatusTooManyRequests, 2*time.Second)
	ixs, err := c.IXs(context.Background(), url.Values{"id": {"31"}})
	if err != nil || len(ixs) != 1 {
		t.Fatalf("IXs: %v, %v; exchanges %s", ixs, err, describe(rec.exchanges()))
	}
	log := rec.exchanges()
	if len(log) != 3 || log[0].status != 429 || log[0].header.Get("Retry-After") != "2" ||
		log[1].status != 429 || log[1].header.Get("X-Cached-Response") != "True" || log[1].header.Get("Retry-After") != "" ||
		log[2].status != 200 {
		t.Fatalf("exchanges %s; want 429 Retry-After 2, its replay, 200", describe(log))
	}
	if gap := log[1].at.Sub(log[0].at); gap < 2*time.Second {
		t.Errorf("first retry %v after the 429, want Retry-After's 2s", gap)
	}
	// Each request within 10s of the replay would be replayed again.
	if gap := log[2].at.Sub(log[1].at); gap <= 10*time.Second {
		t.Errorf("second retry %v after the replay, want past its 10s", gap)
	}
}

// Out of retries at the replay, the call fails rate limited and retryable,
// holding that query only; the query goes again once the window is over.
func TestReplayedThrottleFailsRateLimited(t *testing.T) {
	srv, c, rec, clock := negCacheEnv(t, func(o *peeringdb.Options) { o.MaxRetries = 1 })
	ctx := context.Background()
	q := url.Values{"id": {"31"}}
	srv.FailNext(1, http.StatusTooManyRequests, 2*time.Second)
	_, err := c.IXs(ctx, q)
	var pe *peeringdb.Error
	if !errors.As(err, &pe) || !errors.Is(err, peeringdb.ErrRateLimited) || errors.Is(err, peeringdb.ErrUnauthorized) ||
		!peeringdb.IsRetryable(err) || pe.StatusCode != 429 || pe.Attempts != 2 || !strings.Contains(err.Error(), "negative cache") {
		t.Fatalf("err = %v; want a retryable rate limit after the replay (exchanges %s)", err, describe(rec.exchanges()))
	}
	replayed := rec.exchanges()[1]
	th, ok := peeringdb.ThrottleOf(err)
	if !ok || !th.QueryOnly || th.Object != "ix" || th.Until.Sub(replayed.at) <= 10*time.Second {
		t.Fatalf("ThrottleOf = %+v, %v; want the query held past the replay's 10s", th, ok)
	}

	// Within the window the query is not sent; others are.
	sent := len(rec.exchanges())
	if _, err := c.IXs(ctx, q); !errors.Is(err, peeringdb.ErrRateLimited) || len(rec.exchanges()) != sent {
		t.Errorf("the held query again: %v after %d more requests, want ErrRateLimited and none", err, len(rec.exchanges())-sent)
	}
	if ixs, err := c.IXs(ctx, url.Values{"id": {"26"}}); err != nil || len(ixs) != 1 {
		t.Errorf("another query: %v, %v", ixs, err)
	}
	clock.Advance(th.Until.Sub(clock.Now()))
	if ixs, err := c.IXs(ctx, q); err != nil || len(ixs) != 1 {
		t.Errorf("the query after its hold: %v, %v; exchanges %s", ixs, err, describe(rec.exchanges()))
	}
}

// More than 10 401s lock the client out: PeeringDB's bare 429 with
// X-Throttled-Response, then its replay (X-Cached-Response, the same
// body). Both are the refused key, with the server's message, and not
// retried.
func TestLockoutAfterRepeatedAuthFailures(t *testing.T) {
	srv, c, rec, clock := negCacheEnv(t, func(o *peeringdb.Options) { o.APIKey = "wrong.key" })
	ctx := context.Background()
	srv.FailNext(11, http.StatusUnauthorized, 0)
	for i := range 11 {
		if _, err := c.IXs(ctx, url.Values{"id": {strconv.Itoa(i + 1)}}); !errors.Is(err, peeringdb.ErrUnauthorized) {
			t.Fatalf("request %d with the bad key: %v, want ErrUnauthorized", i+1, err)
		}
	}
	const lockout = "Too many requests that resulted in 401 or 403 responses"
	for _, step := range []struct {
		name    string
		advance time.Duration
		header  string
	}{
		{"locked out", 0, "X-Throttled-Response"},
		{"still locked out", 55 * time.Second, "X-Throttled-Response"},
		{"the lockout replayed", 5 * time.Second, "X-Cached-Response"}, // a minute after the last 401
	} {
		clock.Advance(step.advance)
		sent := len(rec.exchanges())
		_, err := c.Networks(ctx, url.Values{"asn": {"6939"}})
		log := rec.exchanges()[sent:]
		if len(log) != 1 || log[0].status != 429 || log[0].header.Get(step.header) != "True" {
			t.Fatalf("%s: exchanges %s; want one 429 with %s", step.name, describe(log), step.header)
		}
		if !errors.Is(err, peeringdb.ErrUnauthorized) || peeringdb.IsRetryable(err) || !strings.Contains(err.Error(), lockout) ||
			!strings.Contains(err.Error(), "401/403") || !strings.Contains(err.Error(), "API key") {
			t.Errorf("%s: %v; want ErrUnauthorized with PeeringDB's message", step.name, err)
		}
		if _, ok := peeringdb.ThrottleOf(err); ok {
			t.Errorf("%s: the lockout is reported as a throttle", step.name)
		}
	}
	clock.Advance(11 * time.Second)
	if nets, err := c.Networks(ctx, url.Values{"asn": {"6939"}}); err != nil || len(nets) != 1 {
		t.Errorf("after the lockout: %v, %v", nets, err)
	}
}
