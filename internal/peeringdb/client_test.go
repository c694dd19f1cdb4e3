package peeringdb_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/peering-operator/peering-operator/internal/peeringdb"
	"github.com/peering-operator/peering-operator/internal/peeringdb/pdbtest"
)

const testKey = "s3cr3t-api-key-DO-NOT-LEAK"

func TestClientListsSampleObjects(t *testing.T) {
	srv := newSampleServer(t, pdbtest.Options{})
	c := fastClient(t, srv, nil)
	ctx := context.Background()

	nets, err := c.Networks(ctx, url.Values{"asn": {"6939"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(nets) != 1 || nets[0].Name != "Hurricane Electric" || nets[0].PolicyGeneral != "Open" {
		t.Fatalf("asn=6939: %+v", nets)
	}
	nixs, err := c.NetIXLANs(ctx, url.Values{"ix_id": {"31"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(nixs) != 70 {
		t.Errorf("netixlan ix_id=31: %d, want 70", len(nixs))
	}
	ix, err := peeringdb.Get[peeringdb.IX](ctx, c, 31)
	if err != nil || ix.Name != "DE-CIX Frankfurt" || ix.City != "Frankfurt" {
		t.Errorf("Get ix 31 = %+v, %v", ix, err)
	}
	for _, r := range srv.RequestLog() {
		if r.Query.Get("depth") != "0" {
			t.Errorf("request %s?%v without depth=0", r.Path, r.Query)
		}
		if !strings.HasPrefix(r.UserAgent, "peering-operator/") {
			t.Errorf("User-Agent %q does not name the operator", r.UserAgent)
		}
	}
}

func TestClientPagesUntilShortPage(t *testing.T) {
	srv := newSampleServer(t, pdbtest.Options{})
	c := fastClient(t, srv, func(o *peeringdb.Options) { o.PageSize = 100 })
	nets, err := c.Networks(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(nets) != 500 {
		t.Fatalf("got %d networks, want 500", len(nets))
	}
	if !slices.IsSortedFunc(nets, func(a, b peeringdb.Network) int { return a.ID - b.ID }) {
		t.Error("pages not in id order")
	}
	// Each page re-reads the last 20 rows of the one before; the page at
	// 480 holds those 20 only and ends it.
	var skips []string
	for _, r := range srv.RequestLog() {
		skips = append(skips, r.Query.Get("skip"))
		if r.Query.Get("limit") != "100" {
			t.Errorf("limit = %q", r.Query.Get("limit"))
		}
	}
	if want := []string{"0", "80", "160", "240", "320", "400", "480"}; !slices.Equal(skips, want) {
		t.Errorf("skips = %v, want %v", skips, want)
	}
}

func TestNetworksByASNBatches(t *testing.T) {
	srv := newSampleServer(t, pdbtest.Options{})
	c := fastClient(t, srv, nil)
	var asns []uint32
	for asn := range sampleNetworksByASN(t) {
		asns = append(asns, asn)
	}
	slices.Sort(asns)
	asns = append(asns, 64496) // documentation ASN: not in PeeringDB
	nets, err := c.NetworksByASN(context.Background(), asns)
	if err != nil {
		t.Fatal(err)
	}
	if len(nets) != 500 {
		t.Errorf("got %d networks, want 500", len(nets))
	}
	log := srv.RequestLog()
	if len(log) != 4 { // 501 ASNs / 150 per query
		t.Errorf("%d requests, want 4", len(log))
	}
	for _, r := range log {
		if n := len(strings.Split(r.Query.Get("asn__in"), ",")); n > peeringdb.MaxASNsPerQuery {
			t.Errorf("asn__in with %d ASNs", n)
		}
	}
}

func TestAPIKeyHeaderAndNeverInErrors(t *testing.T) {
	srv := newSampleServer(t, pdbtest.Options{})
	ctx := context.Background()

	anon := fastClient(t, srv, nil)
	if _, err := anon.IXs(ctx, url.Values{"id": {"31"}}); err != nil {
		t.Fatal(err)
	}
	clock := newFakeClock() // a bare 429 holds the query for 11s: no sleeping
	keyed := clockedClient(t, srv, clock, func(o *peeringdb.Options) { o.APIKey = testKey; o.MaxRetries = 1 })
	if _, err := keyed.IXs(ctx, url.Values{"id": {"31"}}); err != nil {
		t.Fatal(err)
	}
	log := srv.RequestLog()
	if log[0].Authorization != "" {
		t.Errorf("anonymous client sent Authorization %q", log[0].Authorization)
	}
	if log[1].Authorization != "Api-Key "+testKey {
		t.Errorf("Authorization = %q, want Api-Key <key>", log[1].Authorization)
	}

	// Every kind of failure: the key must not appear in the message.
	for name, inject := range map[string]func(){
		"401":       func() { srv.FailNext(1, http.StatusUnauthorized, 0) },
		"500":       func() { srv.FailNext(5, http.StatusInternalServerError, 0) },
		"429":       func() { srv.FailNext(5, http.StatusTooManyRequests, 0) },
		"malformed": func() { srv.MalformedNext(5) },
	} {
		inject()
		_, err := keyed.IXs(ctx, url.Values{"id": {"31"}})
		srv.FailNext(0, 0, 0)
		srv.MalformedNext(0)
		clock.Advance(time.Minute) // past any hold of the query
		if err == nil {
			t.Fatalf("%s: no error", name)
		}
		if strings.Contains(err.Error(), testKey) {
			t.Errorf("%s: error contains the API key: %v", name, err)
		}
		if !strings.Contains(err.Error(), "ix?") || !strings.Contains(err.Error(), "id=31") {
			t.Errorf("%s: error does not name the query: %v", name, err)
		}
	}
	if s := fmt.Sprintf("%+v %#v", keyed, keyed); strings.Contains(s, testKey) {
		t.Error("printing the client shows the API key")
	}
	srv.FailNext(1, http.StatusUnauthorized, 0)
	_, err := keyed.IXs(ctx, nil)
	if !errors.Is(err, peeringdb.ErrUnauthorized) || peeringdb.IsRetryable(err) {
		t.Errorf("401: %v, want ErrUnauthorized, not retryable", err)
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	srv := newSampleServer(t, pdbtest.Options{})
	c := fastClient(t, srv, nil)
	srv.FailNext(1, http.StatusTooManyRequests, time.Second)
	start := time.Now()
	ixs, err := c.IXs(context.Background(), url.Values{"id": {"31"}})
	if err != nil || len(ixs) != 1 {
		t.Fatalf("after 429: %v, %v", ixs, err)
	}
	times := srv.RequestTimes()
	if len(times) != 2 {
		t.Fatalf("%d requests, want 2 (429, then success)", len(times))
	}
	// The client's own backoff is 1-5 ms here: only Retry-After explains a
	// one-second gap.
	if gap := times[1].Sub(times[0]); gap < time.Second {
		t.Errorf("retried after %v, want >= 1s (Retry-After: 1)", gap)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("took %v", el)
	}
}

func TestRetryAfterTooLongFailsFast(t *testing.T) {
	srv := newSampleServer(t, pdbtest.Options{})
	c := fastClient(t, srv, func(o *peeringdb.Options) { o.MaxRetryAfter = time.Minute })
	srv.FailNext(1, http.StatusTooManyRequests, time.Hour)
	_, err := c.IXs(context.Background(), nil)
	var pe *peeringdb.Error
	if !errors.As(err, &pe) || !errors.Is(err, peeringdb.ErrRateLimited) || !errors.Is(err, peeringdb.ErrUnavailable) {
		t.Fatalf("err = %v, want ErrRateLimited (and ErrUnavailable)", err)
	}
	if pe.RetryAfter != time.Hour || srv.Requests() != 1 {
		t.Errorf("RetryAfter %v after %d requests", pe.RetryAfter, srv.Requests())
	}
	// A long Retry-After answers that query (PeeringDB's per-URL
	// throttle): the same query fails without being sent, saying until
	// when; other queries go on.
	_, err = c.IXs(context.Background(), nil)
	if !errors.Is(err, peeringdb.ErrRateLimited) || srv.Requests() != 1 || !strings.Contains(err.Error(), "throttles this query until") {
		t.Errorf("the throttled query again: %v after %d requests", err, srv.Requests())
	}
	nets, err := c.Networks(context.Background(), url.Values{"asn": {"6939"}})
	if err != nil || len(nets) != 1 || srv.Requests() != 2 {
		t.Errorf("another query during the throttle: %v, %v after %d requests", nets, err, srv.Requests())
	}
}

// A short Retry-After (PeeringDB's general throttle) pauses every call of
// the client: the next, unrelated call waits for it.
func TestShortRetryAfterPausesTheClient(t *testing.T) {
	srv := newSampleServer(t, pdbtest.Options{})
	c := fastClient(t, srv, func(o *peeringdb.Options) { o.MaxRetries = -1 })
	srv.FailNext(1, http.StatusTooManyRequests, time.Second)
	if _, err := c.IXs(context.Background(), nil); !errors.Is(err, peeringdb.ErrRateLimited) {
		t.Fatalf("err = %v, want ErrRateLimited", err)
	}
	if _, err := c.Networks(context.Background(), url.Values{"asn": {"6939"}}); err != nil {
		t.Fatal(err)
	}
	times := srv.RequestTimes()
	if len(times) != 2 || times[1].Sub(times[0]) < time.Second {
		t.Errorf("requests at %v: the second must wait for Retry-After: 1", times)
	}
}

func TestServerErrorThenSuccess(t *testing.T) {
	srv := newSampleServer(t, pdbtest.Options{})
	c := fastClient(t, srv, nil)
	srv.FailNext(2, http.StatusInternalServerError, 0)
	nets, err := c.Networks(context.Background(), url.Values{"asn": {"15169"}})
	if err != nil || len(nets) != 1 || nets[0].Name != "Google LLC" {
		t.Fatalf("%v, %v", nets, err)
	}
	if n := srv.Requests(); n != 3 {
		t.Errorf("%d requests, want 3", n)
	}
}

func TestRetriesAreBounded(t *testing.T) {
	srv := newSampleServer(t, pdbtest.Options{})
	c := fastClient(t, srv, func(o *peeringdb.Options) { o.MaxRetries = 2 })
	srv.SetDown(true)
	_, err := c.IXs(context.Background(), nil)
	var pe *peeringdb.Error
	if !errors.As(err, &pe) || !errors.Is(err, peeringdb.ErrUnavailable) {
		t.Fatalf("err = %v", err)
	}
	if pe.Attempts != 3 || srv.Requests() != 3 || pe.StatusCode != 500 {
		t.Errorf("attempts %d, requests %d, status %d; want 3, 3, 500", pe.Attempts, srv.Requests(), pe.StatusCode)
	}
	if !strings.Contains(err.Error(), "cached data stays in use") {
		t.Errorf("message does not say what happens: %v", err)
	}
}

func TestMalformedJSONIsUnavailable(t *testing.T) {
	srv := newSampleServer(t, pdbtest.Options{})
	c := fastClient(t, srv, func(o *peeringdb.Options) { o.MaxRetries = 1 })
	srv.MalformedNext(2)
	_, err := c.Networks(context.Background(), url.Values{"asn": {"6939"}})
	if !errors.Is(err, peeringdb.ErrUnavailable) || errors.Is(err, peeringdb.ErrNotFound) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
	if !strings.Contains(err.Error(), "malformed") {
		t.Errorf("message: %v", err)
	}
	// A single truncated answer is retried away.
	srv.MalformedNext(1)
	if _, err := c.Networks(context.Background(), url.Values{"asn": {"6939"}}); err != nil {
		t.Errorf("after one malformed answer: %v", err)
	}
	// Never more than once, whatever MaxRetries allows: re-sending the
	// same large query is what PeeringDB's per-URL throttle punishes.
	c = fastClient(t, srv, func(o *peeringdb.Options) { o.MaxRetries = 4 })
	srv.ResetStats()
	srv.MalformedNext(5)
	if _, err := c.Networks(context.Background(), url.Values{"asn": {"6939"}}); !errors.Is(err, peeringdb.ErrUnavailable) || srv.Requests() != 2 {
		t.Errorf("malformed answers: %v after %d requests, want ErrUnavailable after 2", err, srv.Requests())
	}
	srv.MalformedNext(0)
}

func TestTimeoutIsUnavailable(t *testing.T) {
	srv := newSampleServer(t, pdbtest.Options{})
	c := fastClient(t, srv, func(o *peeringdb.Options) { o.Timeout = 50 * time.Millisecond; o.MaxRetries = -1 })
	srv.SetLatency(2 * time.Second)
	_, err := c.IXs(context.Background(), nil)
	if !errors.Is(err, peeringdb.ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
}

func TestNotFoundIsNotUnavailable(t *testing.T) {
	srv := newSampleServer(t, pdbtest.Options{})
	c := fastClient(t, srv, nil)
	_, err := peeringdb.Get[peeringdb.Network](context.Background(), c, 99999999)
	if !errors.Is(err, peeringdb.ErrNotFound) || peeringdb.IsRetryable(err) {
		t.Fatalf("err = %v, want ErrNotFound and not retryable", err)
	}
	_, err = c.NetworkByASN(context.Background(), 64496)
	if !errors.Is(err, peeringdb.ErrNotFound) || !strings.Contains(err.Error(), "asn=64496") {
		t.Fatalf("err = %v", err)
	}
	if srv.Requests() != 2 {
		t.Errorf("not-found was retried: %d requests", srv.Requests())
	}
}

func TestContextCancelStopsRetries(t *testing.T) {
	srv := newSampleServer(t, pdbtest.Options{})
	waiting := make(chan struct{}, 10)
	c := fastClient(t, srv, func(o *peeringdb.Options) {
		o.Backoff, o.MaxBackoff = time.Hour, time.Hour
		o.Logger = slog.New(signalHandler{waiting})
	})
	srv.SetDown(true)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := c.IXs(ctx, nil); done <- err }()
	<-waiting // the first attempt failed and the client is in its backoff
	cancel()
	err := <-done
	if !errors.Is(err, context.Canceled) || errors.Is(err, peeringdb.ErrUnavailable) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

// The limiter is shared by every call of a client and bounds the rate
// PeeringDB sees, counted at the server.
func TestRateLimitNeverExceeded(t *testing.T) {
	srv := newSampleServer(t, pdbtest.Options{})
	const perMinute, burst, calls = 600.0, 1, 25
	c := fastClient(t, srv, func(o *peeringdb.Options) { o.RequestsPerMinute = perMinute; o.Burst = burst })
	var wg sync.WaitGroup
	for g := range 5 { // concurrent callers share the one bucket
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range calls / 5 {
				if _, err := c.IXs(context.Background(), url.Values{"id": {"31"}}); err != nil {
					t.Errorf("caller %d: %v", g, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	times := srv.RequestTimes()
	if len(times) != calls {
		t.Fatalf("%d requests, want %d", len(times), calls)
	}
	slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	// Token bucket: any window of length w holds at most burst + rate*w
	// requests. Check one-second windows starting at every request, and
	// the whole run.
	const w = time.Second
	maxIn := burst + int(perMinute/60*w.Seconds())
	for i := range times {
		n := 0
		for j := i; j < len(times) && times[j].Sub(times[i]) < w; j++ {
			n++
		}
		if n > maxIn {
			t.Errorf("%d requests in the second after request %d, limit %d", n, i, maxIn)
		}
	}
	span := times[len(times)-1].Sub(times[0])
	if min := time.Duration(float64(calls-burst) / (perMinute / 60) * float64(time.Second)); span < min*95/100 {
		t.Errorf("%d requests in %v, a %v/min limit needs at least %v", calls, span, perMinute, min)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	for _, o := range []peeringdb.Options{
		{BaseURL: "ftp://x/api"},
		{BaseURL: "not a url"},
		{APIKey: "abc\r\nX-Evil: 1"},
	} {
		if _, err := peeringdb.New(o); err == nil {
			t.Errorf("New(%+v) accepted", o)
		} else if o.APIKey != "" && strings.Contains(err.Error(), o.APIKey) {
			t.Errorf("error echoes the key: %v", err)
		}
	}
}

// signalHandler is a slog.Handler that signals every log record: tests
// wait on it instead of sleeping.
type signalHandler struct{ ch chan<- struct{} }

func (h signalHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h signalHandler) Handle(context.Context, slog.Record) error {
	select {
	case h.ch <- struct{}{}:
	default:
	}
	return nil
}
func (h signalHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h signalHandler) WithGroup(string) slog.Handler      { return h }

// A 404 is "not in PeeringDB" only when PeeringDB says so: the real server
// answers an id lookup that finds nothing with 404 and its JSON; a 404 page
// from a proxy or a wrong base URL is an outage, never "no such IX".
func TestNotFoundOnlyFromPeeringDB(t *testing.T) {
	srv := newSampleServer(t, pdbtest.Options{})
	c := fastClient(t, srv, nil)
	if _, err := c.IXs(context.Background(), url.Values{"id": {"999999"}}); !errors.Is(err, peeringdb.ErrNotFound) {
		t.Errorf("unknown IX id: %v, want ErrNotFound", err)
	}
	html := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte("<html><body>404 Not Found</body></html>"))
	}))
	t.Cleanup(html.Close)
	c, err := peeringdb.New(peeringdb.Options{BaseURL: html.URL + "/api", RequestsPerMinute: peeringdb.Unlimited,
		Backoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, MaxRetries: -1, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.IXs(context.Background(), url.Values{"id": {"31"}})
	if errors.Is(err, peeringdb.ErrNotFound) || !errors.Is(err, peeringdb.ErrUnavailable) || !strings.Contains(err.Error(), "peeringdb-url") {
		t.Errorf("an HTML 404: %v, want ErrUnavailable naming --peeringdb-url", err)
	}
}
