package pdbtest_test

import (
	"io"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/peering-operator/peering-operator/internal/peeringdb/pdbtest"
)

// clock is a settable clock for the server; the mutex orders the test's
// writes with the handler's reads (a socket is no happens-before edge for
// the race detector).
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type reply struct {
	code   int
	header http.Header
	body   string
}

// send GETs srv.BaseURL+pathQuery with header name/value pairs.
func send(t *testing.T, srv *pdbtest.Server, pathQuery string, header ...string) reply {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, srv.BaseURL+pathQuery, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, resp.Header, string(b)}
}

const (
	bigQuery   = "/netixlan?ix_id=31" // DE-CIX's 70 ports
	smallQuery = "/ix?id=31"
	threshold  = 10_000
)

func throttledBody(wait string) string {
	return `{"message": "Request was throttled. Expected available in ` + wait + `.", "meta": {"error": "Too Many Requests"}}`
}

func wantThrottled(t *testing.T, what string, r reply, retryAfter, wait string) {
	t.Helper()
	if r.code != 429 || r.header.Get("Retry-After") != retryAfter || r.body != throttledBody(wait) ||
		r.header.Get("Content-Type") != "application/json; charset=utf-8" {
		t.Errorf("%s: HTTP %d, Retry-After %q, %.200s; want 429, Retry-After %q, %s", what, r.code, r.header.Get("Retry-After"), r.body, retryAfter, throttledBody(wait))
	}
}

func wantOK(t *testing.T, what string, r reply) {
	t.Helper()
	if r.code != 200 {
		t.Errorf("%s: HTTP %d %.200s, want 200", what, r.code, r.body)
	}
}

// rest_throttles.py, ResponseSizeThrottle: once the server knows a query's
// answer is large (from the first answer to it, whoever asked), each
// anonymous client may repeat it Requests times per Per; the next gets 429
// with the time until the oldest counted request leaves the window.
func TestResponseSizeThrottle(t *testing.T) {
	clk := newClock()
	srv := pdbtest.NewServer(pdbtest.Options{Clock: clk.Now,
		ResponseSizeThrottle: &pdbtest.ResponseSizeThrottle{Bytes: threshold, Requests: 1, Per: time.Hour}})
	defer srv.Close()

	wantOK(t, "first answer (size not known yet)", send(t, srv, bigQuery))
	if log := srv.RequestLog(); log[0].Bytes < threshold {
		t.Fatalf("%s answers %d bytes; the test needs it above %d", bigQuery, log[0].Bytes, threshold)
	}
	start := clk.Now()
	wantOK(t, "first counted repeat", send(t, srv, bigQuery))
	wantThrottled(t, "second repeat", send(t, srv, bigQuery), "3600", "1 hours")
	clk.Advance(20*time.Minute + 500*time.Millisecond)
	wantThrottled(t, "20 minutes later", send(t, srv, bigQuery), "2400", "40 minutes") // 2399.5s rounded up

	// Not throttled: another URL (the same query in another order is
	// another URL), a small answer, an authenticated request.
	for _, q := range []string{bigQuery + "&depth=0", "/netixlan?depth=0&ix_id=31"} {
		for i := range 2 {
			wantOK(t, q+" #"+strconv.Itoa(i+1), send(t, srv, q))
		}
	}
	for i := range 3 {
		wantOK(t, "small answer #"+strconv.Itoa(i+1), send(t, srv, smallQuery))
		wantOK(t, "with an API key #"+strconv.Itoa(i+1), send(t, srv, bigQuery, "Authorization", "Api-Key abc.def"))
	}
	// Per client: another address has its own count; the first
	// X-Forwarded-For entry is the address.
	wantOK(t, "another client", send(t, srv, bigQuery, "X-Forwarded-For", "192.0.2.7"))
	wantThrottled(t, "another client again", send(t, srv, bigQuery, "X-Forwarded-For", "192.0.2.7, 10.0.0.1"), "3600", "1 hours")

	clk.Advance(start.Add(time.Hour - 500*time.Millisecond).Sub(clk.Now()))
	wantThrottled(t, "half a second before the end", send(t, srv, bigQuery), "1", "1 seconds")
	clk.Advance(500 * time.Millisecond)
	wantOK(t, "after the window", send(t, srv, bigQuery))
	wantThrottled(t, "again in the next window", send(t, srv, bigQuery), "3600", "1 hours")
}

// The size is the first answer's, for every client, for 31 days
// (cache_response_size writes only a missing entry): a query whose answer
// grows stays unthrottled until that entry expires.
func TestResponseSizeThrottleKeepsTheFirstSize(t *testing.T) {
	clk := newClock()
	srv := pdbtest.NewServer(pdbtest.Options{Clock: clk.Now,
		ResponseSizeThrottle: &pdbtest.ResponseSizeThrottle{Bytes: threshold}}) // default 1 per hour
	defer srv.Close()
	const q = "/netixlan?ix_id=777"
	wantOK(t, "empty answer", send(t, srv, q))
	for i := range 100 {
		if _, err := srv.Add("netixlan", map[string]any{"ix_id": 777, "ixlan_id": 777, "net_id": 1, "asn": 64496 + i,
			"ipaddr4": "192.0.2." + strconv.Itoa(i), "speed": 10000}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		wantOK(t, "grown answer #"+strconv.Itoa(i+1), send(t, srv, q))
	}
	clk.Advance(31 * 24 * time.Hour)
	wantOK(t, "after 31 days: sized again", send(t, srv, q))
	if log := srv.RequestLog(); log[len(log)-1].Bytes < threshold {
		t.Fatalf("grown answer is %d bytes, want at least %d", log[len(log)-1].Bytes, threshold)
	}
	wantOK(t, "first counted repeat", send(t, srv, q))
	wantThrottled(t, "second repeat", send(t, srv, q), "3600", "1 hours")
}

// middleware.py, RedisNegativeCacheMiddleware: a 429 is answered again to
// the same request for 10s, renewed by each answer, without Retry-After;
// after that the throttle answers with it again.
func TestNegativeCacheRepeatsThrottleWithoutRetryAfter(t *testing.T) {
	clk := newClock()
	srv := pdbtest.NewServer(pdbtest.Options{Clock: clk.Now, NegativeCache: true,
		ResponseSizeThrottle: &pdbtest.ResponseSizeThrottle{Bytes: threshold}})
	defer srv.Close()
	send(t, srv, bigQuery)
	send(t, srv, bigQuery)
	first := send(t, srv, bigQuery)
	wantThrottled(t, "throttled", first, "3600", "1 hours")
	for _, d := range []time.Duration{5 * time.Second, 9 * time.Second} {
		clk.Advance(d)
		r := send(t, srv, bigQuery)
		if r.code != 429 || r.header.Get("Retry-After") != "" || r.header.Get("X-Cached-Response") != "True" || r.body != first.body {
			t.Errorf("%v later: HTTP %d, Retry-After %q, X-Cached-Response %q, %.200s; want the same 429 without Retry-After",
				d, r.code, r.header.Get("Retry-After"), r.header.Get("X-Cached-Response"), r.body)
		}
	}
	wantOK(t, "another query", send(t, srv, bigQuery+"&depth=0"))
	clk.Advance(10 * time.Second)
	wantThrottled(t, "10s after the last cached answer", send(t, srv, bigQuery), "3576", "59 minutes")
}

// More than 10 401/403 answers to a client within a minute of each other
// (cached ones count) lock it out: a bare 429 for every request until a
// minute after the last, then for 10s more the cached lockout answer.
func TestNegativeCacheLocksOutAfterRepeatedAuthFailures(t *testing.T) {
	clk := newClock()
	srv := pdbtest.NewServer(pdbtest.Options{Clock: clk.Now, NegativeCache: true})
	defer srv.Close()
	const bad, other = "/net?asn=6939", "/ix?id=31"
	key := []string{"Authorization", "Api-Key wrong.key"}
	srv.FailNext(1, http.StatusUnauthorized, 0)
	if r := send(t, srv, bad, key...); r.code != 401 || r.header.Get("X-Cached-Response") != "" {
		t.Fatalf("injected 401: %d %v", r.code, r.header)
	}
	for i := range 9 {
		r := send(t, srv, bad, key...)
		if r.code != 401 || r.header.Get("X-Cached-Response") != "True" || r.body != `{"meta": {"error": "Unauthorized (pdbtest: injected)"}}` {
			t.Fatalf("repeat %d: HTTP %d %v %.200s, want the cached 401", i+1, r.code, r.header, r.body)
		}
	}
	wantOK(t, "after 10 failures", send(t, srv, other))
	send(t, srv, bad, key...) // the 11th
	const lockout = `{"meta": {"error": "Too many requests that resulted in 401 or 403 responses"}}`
	r := send(t, srv, other)
	if r.code != 429 || r.header.Get("Retry-After") != "" || r.header.Get("X-Throttled-Response") != "True" || r.body != lockout {
		t.Errorf("locked out: HTTP %d %v %.200s", r.code, r.header, r.body)
	}
	wantOK(t, "another client", send(t, srv, other, "X-Forwarded-For", "192.0.2.7"))
	clk.Advance(55 * time.Second)
	send(t, srv, other) // still locked out; cached for 10s
	clk.Advance(5 * time.Second)
	r = send(t, srv, other)
	if r.code != 429 || r.header.Get("X-Cached-Response") != "True" || r.body != lockout {
		t.Errorf("a minute after the last 401: HTTP %d %v %.200s, want the cached lockout", r.code, r.header, r.body)
	}
	clk.Advance(10 * time.Second)
	wantOK(t, "lockout over", send(t, srv, other))
}
