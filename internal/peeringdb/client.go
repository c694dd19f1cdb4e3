package peeringdb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/peering-operator/peering-operator/internal/version"
)

// DefaultBaseURL is PeeringDB's API root.
const DefaultBaseURL = "https://www.peeringdb.com/api"

// PeeringDB's published limits, requests per minute.
const (
	AnonymousRequestsPerMinute = 20
	APIKeyRequestsPerMinute    = 40
)

// Unlimited as Options.RequestsPerMinute disables the rate limiter (local
// test servers and benchmarks only).
const Unlimited = -1

// DefaultHeadroom is the share of PeeringDB's published limit the client
// uses by default.
const DefaultHeadroom = 0.9

// newLimiter is the token bucket of o: at most RequestsPerMinute requests
// in any sliding minute, never two closer than MinInterval. N requests
// spaced evenly span N-1 intervals, so a minute holding N of them needs
// the spacing of N-1 per minute.
func newLimiter(o Options) *rate.Limiter {
	if o.RequestsPerMinute <= 0 {
		return rate.NewLimiter(rate.Inf, o.Burst)
	}
	perMinute := max(o.RequestsPerMinute-1, o.RequestsPerMinute/2)
	r := rate.Limit(perMinute / 60)
	if o.MinInterval > 0 {
		r = min(r, rate.Every(o.MinInterval))
	}
	return rate.NewLimiter(r, o.Burst)
}

// MaxASNsPerQuery bounds asn__in lists: PeeringDB rejects very long URLs and
// 150 ASNs keep the query well under 2 KiB.
const MaxASNsPerQuery = 150

// Options configure a Client. The zero value talks to PeeringDB
// anonymously at 20 requests/minute.
type Options struct {
	// BaseURL of the API, without the object name. Default DefaultBaseURL.
	BaseURL string
	// APIKey, from a Secret. Sent as "Authorization: Api-Key <key>" only
	// when set; never logged and never part of an error.
	APIKey string
	// UserAgent; default "peering-operator/<version>".
	UserAgent string
	// RequestsPerMinute shared by every call of this client, retries
	// included. 0 means 90 % of PeeringDB's limit (20, or 40 with an
	// APIKey): running exactly at the limit puts limit+1 requests into a
	// sliding minute (the first at its start, the last at its end), which
	// PeeringDB throttles. Unlimited (-1) disables limiting.
	RequestsPerMinute float64
	// MinInterval between two requests, capping the rate; with
	// RequestsPerMinute left 0 it defaults to 2s, PeeringDB's query-limit
	// guidance (a rate set explicitly, e.g. for a mirror, is taken as is).
	MinInterval time.Duration
	// Burst of the token bucket; default 1: requests are then spaced
	// evenly, so no sliding minute (which is how PeeringDB counts) holds
	// more than the rate allows.
	Burst int
	// Timeout of one HTTP attempt including reading the body; default 60s.
	Timeout time.Duration
	// MaxRetries after the first attempt for 429/5xx/timeouts/transport
	// errors/malformed bodies; default 4, negative disables retries.
	MaxRetries int
	// Backoff before the first retry (doubling, jittered); default 2s.
	Backoff time.Duration
	// MaxBackoff caps the exponential backoff; default 60s.
	MaxBackoff time.Duration
	// MaxRetryAfter is the longest Retry-After the client waits for inside
	// one call; a longer one fails the call with ErrRateLimited (and its
	// RetryAfter) so a controller can requeue instead of blocking.
	// Default 5 minutes.
	MaxRetryAfter time.Duration
	// MaxClientPause is the longest Retry-After that pauses every call of
	// the client; default 1 minute. PeeringDB's throttles include one keyed
	// on the exact URL (rest_throttles.py, ResponseSizeThrottle: repeated
	// identical large anonymous queries, about one an hour), so a longer
	// one holds that query only: other queries go on.
	MaxClientPause time.Duration
	// PageSize is the limit used when paging list calls; default 1000.
	// Above 250, PeeringDB answers unfiltered pages from its API cache
	// rather than its database (api_cache.py, qualifies).
	PageSize int
	// MaxResponseBytes bounds one response body; default 512 MiB.
	MaxResponseBytes int64
	// HTTPClient to use; default a client with its own transport. Its
	// Timeout should be 0: Options.Timeout applies per attempt.
	HTTPClient *http.Client
	// Logger for retries and waits; default discards.
	Logger *slog.Logger
}

// Client is a PeeringDB API v2 client. It is safe for concurrent use; all
// calls share one rate limiter.
type Client struct {
	apiKey  func() string
	base    string
	opts    Options
	hc      *http.Client
	limiter *rate.Limiter
	log     *slog.Logger
	// now and sleep time Retry-After pauses and holds; tests swap them
	// for a fake clock (export_test.go).
	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error

	mu         sync.Mutex
	pauseUntil time.Time            // set by a short Retry-After: every call waits for it
	urlPause   map[string]time.Time // set by a long one: that URL only

	requests atomic.Int64
}

// New returns a Client. It does not contact PeeringDB.
func New(o Options) (*Client, error) {
	if o.BaseURL == "" {
		o.BaseURL = DefaultBaseURL
	}
	u, err := url.Parse(o.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("peeringdb: invalid BaseURL %q: want http(s)://host/api", o.BaseURL)
	}
	if strings.ContainsAny(o.APIKey, "\r\n") {
		return nil, errors.New("peeringdb: the API key contains a line break; check the Secret")
	}
	if o.UserAgent == "" {
		o.UserAgent = version.UserAgent()
	}
	if o.RequestsPerMinute == 0 {
		o.RequestsPerMinute = AnonymousRequestsPerMinute * DefaultHeadroom
		if o.APIKey != "" {
			o.RequestsPerMinute = APIKeyRequestsPerMinute * DefaultHeadroom
		}
		if o.MinInterval == 0 {
			o.MinInterval = 2 * time.Second
		}
	}
	if o.Burst <= 0 {
		o.Burst = 1
	}
	if o.Timeout <= 0 {
		o.Timeout = 60 * time.Second
	}
	switch {
	case o.MaxRetries == 0:
		o.MaxRetries = 4
	case o.MaxRetries < 0:
		o.MaxRetries = 0
	}
	if o.Backoff <= 0 {
		o.Backoff = 2 * time.Second
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 60 * time.Second
	}
	if o.MaxBackoff < o.Backoff {
		o.MaxBackoff = o.Backoff
	}
	if o.MaxRetryAfter <= 0 {
		o.MaxRetryAfter = 5 * time.Minute
	}
	if o.MaxClientPause <= 0 {
		o.MaxClientPause = time.Minute
	}
	if o.PageSize <= 0 {
		o.PageSize = 1000
	}
	if o.MaxResponseBytes <= 0 {
		o.MaxResponseBytes = 512 << 20
	}
	hc := o.HTTPClient
	if hc == nil {
		hc = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	lim := newLimiter(o)
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// The key lives in a closure, not a string field: printing the Client
	// with %+v (which shows unexported fields) must not reveal it.
	key := o.APIKey
	o.APIKey = ""
	return &Client{
		apiKey:  func() string { return key },
		base:    strings.TrimRight(o.BaseURL, "/"),
		opts:    o,
		hc:      hc,
		limiter: lim,
		log:     log,
		now:     time.Now,
		sleep:   sleepCtx,
	}, nil
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Requests is the number of HTTP requests this client has sent, retries
// included.
func (c *Client) Requests() int64 { return c.requests.Load() }

// PageSize is the page size used by list calls.
func (c *Client) PageSize() int { return c.opts.PageSize }

// List returns every object of type T matching q, following pages. q takes
// PeeringDB's filters: id, id__in, asn, asn__in, ix_id, ixlan_id, net_id,
// since, depth... If q sets limit or since, exactly one request is made.
func List[T Object](ctx context.Context, c *Client, q url.Values) ([]T, error) {
	var all []T
	err := ListPages(ctx, c, q, func(p []T) error {
		all = append(all, p...)
		return nil
	})
	return all, err
}

// ListPages calls fn with each page of the answer to q, so large syncs need
// not hold every page at once. An error from fn stops the listing.
func ListPages[T Object](ctx context.Context, c *Client, q url.Values, fn func([]T) error) error {
	_, err := ListPagesGenerated(ctx, c, q, fn)
	return err
}

// ListPagesGenerated is ListPages that also returns when the oldest page
// was generated, when PeeringDB served it from its API cache (meta.generated,
// for unfiltered lists with no limit or one above 250); zero when every
// page was live. That time is when the cache file was written; its rows
// stop at the start of the run that wrote it, minutes earlier, so rows
// changed somewhat before it may be missing from the answer.
//
// Each object reaches fn once. A since query is one request without a
// limit (see below); other lists are paged with skip and limit, each page
// re-reading the last rows of the previous one: a page that does not start
// at a row already read means rows before it went meanwhile (deleted, or
// left out of a newer API cache file), so the rows not yet read moved
// below its skip and the listing steps back until it finds them.
func ListPagesGenerated[T Object](ctx context.Context, c *Client, q url.Values, fn func([]T) error) (time.Time, error) {
	obj := ObjectName[T]()
	q = cloneQuery(q)
	if !q.Has("depth") {
		q.Set("depth", "0") // flat objects; nested sets cost PeeringDB and us
	}
	var oldest time.Time
	page := func() ([]T, error) {
		items, gen, err := fetchPage[T](ctx, c, obj, "/"+obj, q)
		if !gen.IsZero() && (oldest.IsZero() || gen.Before(oldest)) {
			oldest = gen
		}
		return items, err
	}
	// since answers are ordered by updated (rest.py, get_queryset:
	// .order_by("updated")), so a row updated while we page moves to the
	// end and shifts the rest left under skip, and rows of equal updated
	// have no fixed order from one query to the next. Unpaged, the answer
	// is one SELECT: nothing can shift. The server never serves since from
	// its API cache (api_cache.py, qualifies) and caps rows only at
	// depth > 0, so one request gets every change.
	if q.Has("limit") || q.Has("since") {
		items, err := page()
		if err != nil {
			return oldest, err
		}
		return oldest, fn(items)
	}
	start := 0
	if s := q.Get("skip"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return oldest, fmt.Errorf("peeringdb: %s: invalid skip %q", obj, s)
		}
		start = n
	}
	limit := max(c.opts.PageSize, 2)
	overlap := min(pageOverlap, limit/2)
	seen := map[int]struct{}{}
	skip, back, stepsBack := start, limit, 0
	for {
		q.Set("limit", strconv.Itoa(limit))
		q.Set("skip", strconv.Itoa(skip))
		items, err := page()
		if err != nil {
			return oldest, err
		}
		if skip > start && (len(items) == 0 || !has(seen, objectID(items[0]))) {
			// Rows before skip went since the last page: what we have not
			// read is now below skip. Go back (further each time) until a
			// page starts at a row we have; start always does.
			if stepsBack++; stepsBack > maxStepsBack {
				return oldest, &Error{Object: obj, Query: describeQuery(q), Kind: ErrUnavailable, Attempts: 1,
					Err: fmt.Errorf("the list kept shifting while paging (%d steps back)", maxStepsBack)}
			}
			skip = max(start, skip-back)
			back *= 2
			continue
		}
		back = limit
		fresh := make([]T, 0, len(items))
		for _, it := range items {
			id := objectID(it)
			if !has(seen, id) {
				seen[id] = struct{}{}
				fresh = append(fresh, it)
			}
		}
		if len(fresh) > 0 {
			if err := fn(fresh); err != nil {
				return oldest, err
			}
		}
		// A short page is the last one.
		if len(items) < limit {
			return oldest, nil
		}
		skip += len(items) - overlap
	}
}

// pageOverlap is how many rows of the previous page each page reads again:
// that many rows may go between two pages without a step back.
const pageOverlap = 20

// maxStepsBack bounds the steps back of one listing, against a list that
// never stops shifting.
const maxStepsBack = 50

func has(set map[int]struct{}, id int) bool {
	_, ok := set[id]
	return ok
}

// objectID is the PeeringDB id of v.
func objectID[T Object](v T) int {
	switch x := any(v).(type) {
	case Network:
		return x.ID
	case IX:
		return x.ID
	case IXLAN:
		return x.ID
	case IXPrefix:
		return x.ID
	case NetIXLAN:
		return x.ID
	case Org:
		return x.ID
	case Facility:
		return x.ID
	case NetFac:
		return x.ID
	case IXFac:
		return x.ID
	case POC:
		return x.ID
	}
	panic("unreachable: type outside Object")
}

// Get fetches one object by id (/api/<obj>/<id>). A missing object is an
// error matching ErrNotFound.
func Get[T Object](ctx context.Context, c *Client, id int) (T, error) {
	obj := ObjectName[T]()
	var zero T
	items, _, err := fetchPage[T](ctx, c, obj, "/"+obj+"/"+strconv.Itoa(id), url.Values{"depth": {"0"}})
	if err != nil {
		return zero, err
	}
	if len(items) == 0 {
		return zero, &Error{Object: obj, Query: "id=" + strconv.Itoa(id), Kind: ErrNotFound, Attempts: 1}
	}
	return items[0], nil
}

// Networks lists net objects matching q.
func (c *Client) Networks(ctx context.Context, q url.Values) ([]Network, error) {
	return List[Network](ctx, c, q)
}

// IXs lists ix objects matching q.
func (c *Client) IXs(ctx context.Context, q url.Values) ([]IX, error) { return List[IX](ctx, c, q) }

// IXLANs lists ixlan objects matching q.
func (c *Client) IXLANs(ctx context.Context, q url.Values) ([]IXLAN, error) {
	return List[IXLAN](ctx, c, q)
}

// IXPrefixes lists ixpfx objects matching q.
func (c *Client) IXPrefixes(ctx context.Context, q url.Values) ([]IXPrefix, error) {
	return List[IXPrefix](ctx, c, q)
}

// NetIXLANs lists netixlan objects matching q.
func (c *Client) NetIXLANs(ctx context.Context, q url.Values) ([]NetIXLAN, error) {
	return List[NetIXLAN](ctx, c, q)
}

// Orgs lists org objects matching q.
func (c *Client) Orgs(ctx context.Context, q url.Values) ([]Org, error) { return List[Org](ctx, c, q) }

// Facilities lists fac objects matching q.
func (c *Client) Facilities(ctx context.Context, q url.Values) ([]Facility, error) {
	return List[Facility](ctx, c, q)
}

// NetFacs lists netfac objects matching q.
func (c *Client) NetFacs(ctx context.Context, q url.Values) ([]NetFac, error) {
	return List[NetFac](ctx, c, q)
}

// IXFacs lists ixfac objects matching q.
func (c *Client) IXFacs(ctx context.Context, q url.Values) ([]IXFac, error) {
	return List[IXFac](ctx, c, q)
}

// POCs lists poc objects matching q.
func (c *Client) POCs(ctx context.Context, q url.Values) ([]POC, error) { return List[POC](ctx, c, q) }

// NetworkByASN returns the network with that ASN, or an error matching
// ErrNotFound.
func (c *Client) NetworkByASN(ctx context.Context, asn uint32) (Network, error) {
	nets, err := c.Networks(ctx, url.Values{"asn": {strconv.FormatUint(uint64(asn), 10)}})
	if err != nil {
		return Network{}, err
	}
	if len(nets) == 0 {
		return Network{}, &Error{Object: ObjNetwork, Query: fmt.Sprintf("asn=%d", asn), Kind: ErrNotFound, Attempts: 1}
	}
	return nets[0], nil
}

// NetworksByASN fetches the networks of asns with asn__in, at most
// MaxASNsPerQuery per request. ASNs unknown to PeeringDB are simply absent
// from the result.
func (c *Client) NetworksByASN(ctx context.Context, asns []uint32) ([]Network, error) {
	var out []Network
	for batch := range slices.Chunk(asns, MaxASNsPerQuery) {
		nets, err := c.Networks(ctx, url.Values{"asn__in": {JoinInts(batch)}})
		if err != nil {
			return out, err
		}
		out = append(out, nets...)
	}
	return out, nil
}

// JoinInts formats ids for id__in / asn__in filters.
func JoinInts[T ~int | ~int64 | ~uint32](xs []T) string {
	var b strings.Builder
	for i, x := range xs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatInt(int64(x), 10))
	}
	return b.String()
}

func cloneQuery(q url.Values) url.Values {
	out := make(url.Values, len(q)+3)
	for k, v := range q {
		out[k] = slices.Clone(v)
	}
	return out
}

// describeQuery is the query as shown in errors and logs: bounded length.
func describeQuery(q url.Values) string {
	s, _ := url.QueryUnescape(q.Encode())
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// fetchPage runs one logical request (with retries) and decodes its data.
func fetchPage[T Object](ctx context.Context, c *Client, obj, path string, q url.Values) ([]T, time.Time, error) {
	var items []T
	var generated time.Time
	err := c.do(ctx, obj, path, q, func(r io.Reader) error {
		var p struct {
			Data *[]T `json:"data"`
			Meta struct {
				// Generated is when PeeringDB's API cache made the answer
				// (Unix seconds with a fraction); absent when it is live.
				Generated float64 `json:"generated"`
			} `json:"meta"`
		}
		dec := json.NewDecoder(r)
		if err := dec.Decode(&p); err != nil {
			return err
		}
		if p.Data == nil {
			return errors.New(`answer has no "data" list`)
		}
		items = *p.Data
		if p.Meta.Generated > 0 {
			generated = time.Unix(int64(p.Meta.Generated), 0)
		}
		return nil
	})
	return items, generated, err
}

// attemptError is the outcome of one failed HTTP attempt.
type attemptError struct {
	status     int
	retryAfter time.Duration
	// hold: do not send this URL again for that long, though PeeringDB
	// said nothing (a 429 replayed by its negative cache).
	hold      time.Duration
	kind      error
	retry     bool
	err       error
	malformed bool // a 200 whose body did not decode
}

// PeeringDB's RedisNegativeCacheMiddleware (middleware.py) answers a
// request that got 401, 403 or 429 with that answer again, headers dropped
// (so without Retry-After), for NEGATIVE_CACHE_EXPIRY_<status>: 10s for a
// 429, restarted by every replay. A URL must rest longer than that, or
// each retry keeps the replay going.
const (
	negativeCache429 = 10 * time.Second
	replayHold       = negativeCache429 + time.Second
)

// lockoutMessage is meta.error of the middleware's own 429: the client
// got more than 10 answers of 401/403 within a minute of each other.
const lockoutMessage = "Too many requests that resulted in 401 or 403 responses"

// do sends GET base+path?q, retrying as configured, and hands the body of
// a 200 answer to decode.
func (c *Client) do(ctx context.Context, obj, path string, q url.Values, decode func(io.Reader) error) error {
	u := c.base + path + "?" + q.Encode()
	qdesc := describeQuery(q)
	malformed := 0
	bo := retryBackoff(c.opts.Backoff, c.opts.MaxBackoff)
	for attempt := 1; ; attempt++ {
		// PeeringDB asked for a pause longer than we wait inside a call:
		// fail without sending anything until it is over.
		if until := c.pausedUntil(); until.Sub(c.now()) > c.opts.MaxRetryAfter {
			return &Error{Object: obj, Query: qdesc, Attempts: attempt - 1, Kind: ErrRateLimited,
				RetryAfter: until.Sub(c.now()).Round(time.Second), Until: until,
				Err: fmt.Errorf("PeeringDB asked for a pause until %s", until.UTC().Format(time.RFC3339))}
		}
		if until := c.urlPausedUntil(u); until.Sub(c.now()) > 0 {
			return &Error{Object: obj, Query: qdesc, Attempts: attempt - 1, Kind: ErrRateLimited,
				RetryAfter: until.Sub(c.now()).Round(time.Second), Until: until, QueryOnly: true,
				Err: fmt.Errorf("PeeringDB throttles this query until %s; other queries go on", until.UTC().Format(time.RFC3339))}
		}
		if err := c.wait(ctx); err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("peeringdb: %s?%s: %w", obj, qdesc, ctx.Err())
			}
			// The limiter says the next slot is past the context deadline.
			return &Error{Object: obj, Query: qdesc, Attempts: attempt - 1, Kind: ErrRateLimited,
				Err: errors.New("the client's own rate limit leaves no request slot before the deadline")}
		}
		ae := c.once(ctx, u, decode)
		if ae == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("peeringdb: %s?%s: %w", obj, qdesc, ctx.Err())
		}
		fail := &Error{Object: obj, Query: qdesc, StatusCode: ae.status, Attempts: attempt,
			RetryAfter: ae.retryAfter, Kind: ae.kind, Err: c.redact(ae.err)}
		now := c.now()
		until := now.Add(ae.retryAfter)
		if ae.kind == ErrRateLimited && ae.retryAfter > 0 {
			// Callers show which query is held until when.
			fail.Until, fail.QueryOnly = until, ae.retryAfter > c.opts.MaxClientPause
		}
		switch {
		case ae.retryAfter > c.opts.MaxClientPause:
			// A long one answers this query (PeeringDB's per-URL
			// throttle): remember it for this URL only.
			c.pauseURL(u, until)
		case ae.retryAfter > 0:
			// Every call of this client waits for a short one.
			c.pause(until)
		case ae.hold > 0:
			// The replay is keyed on the URL: other queries go on. A
			// longer hold already set for the URL stays.
			c.pauseURL(u, now.Add(ae.hold))
			fail.Until, fail.QueryOnly = c.urlPausedUntil(u), true
		}
		if ae.malformed {
			malformed++
		}
		// A body cut short is retried once: sending the same large query
		// again and again is what PeeringDB's per-URL throttle punishes.
		if !ae.retry || attempt > c.opts.MaxRetries || max(ae.retryAfter, ae.hold) > c.opts.MaxRetryAfter || malformed > 1 {
			return fail
		}
		delay := bo.Step()
		switch {
		case ae.retryAfter > 0:
			// Honour it exactly, plus a little jitter so that concurrent
			// callers do not all fire at the same instant.
			delay = wait.Jitter(ae.retryAfter, 0.1)
		case ae.hold > 0:
			// Never before the hold ends: a retry inside the replay
			// window would restart it.
			hold := fail.Until.Sub(now)
			delay = max(delay, wait.Jitter(hold, 0.1))
		}
		// Deadlines run on the real clock, whatever c.now says.
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < delay {
			return fail
		}
		c.log.Info("PeeringDB request failed, retrying", "object", obj, "query", qdesc,
			"status", ae.status, "attempt", attempt, "wait", delay, "error", fail.Err)
		if err := c.sleep(ctx, delay); err != nil {
			return fmt.Errorf("peeringdb: %s?%s: %w", obj, qdesc, err)
		}
	}
}

// wait blocks for a Retry-After pause and then for a limiter token.
func (c *Client) wait(ctx context.Context) error {
	if d := c.pausedUntil().Sub(c.now()); d > 0 {
		if err := c.sleep(ctx, d); err != nil {
			return err
		}
	}
	return c.limiter.Wait(ctx)
}

func (c *Client) pausedUntil() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pauseUntil
}

func (c *Client) urlPausedUntil(u string) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.urlPause[u]
}

// pauseURL holds one URL until then; expired entries go.
func (c *Client) pauseURL(u string, until time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	for k, t := range c.urlPause {
		if t.Before(now) {
			delete(c.urlPause, k)
		}
	}
	if c.urlPause == nil {
		c.urlPause = map[string]time.Time{}
	}
	if until.After(c.urlPause[u]) {
		c.urlPause[u] = until
	}
}

func (c *Client) pause(until time.Time) {
	c.mu.Lock()
	if until.After(c.pauseUntil) {
		c.pauseUntil = until
	}
	c.mu.Unlock()
}

// once makes one HTTP attempt.
func (c *Client) once(ctx context.Context, u string, decode func(io.Reader) error) *attemptError {
	actx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodGet, u, nil)
	if err != nil {
		return &attemptError{kind: ErrBadRequest, err: err}
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.opts.UserAgent)
	if key := c.apiKey(); key != "" {
		req.Header.Set("Authorization", "Api-Key "+key)
	}
	c.requests.Add(1)
	resp, err := c.hc.Do(req)
	if err != nil {
		if actx.Err() != nil && ctx.Err() == nil {
			return &attemptError{kind: ErrUnavailable, retry: true,
				err: fmt.Errorf("no answer within %s", c.opts.Timeout)}
		}
		return &attemptError{kind: ErrUnavailable, retry: true, err: stripURL(err)}
	}
	defer func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // let the connection be reused
		_ = resp.Body.Close()
	}()
	if resp.StatusCode != http.StatusOK {
		msg, fromPeeringDB := apiErrorMessage(resp.Body)
		ae := &attemptError{status: resp.StatusCode, retry: retryableStatus(resp.StatusCode),
			retryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), c.now()),
			err:        errors.New(msg)}
		switch {
		case resp.StatusCode == http.StatusTooManyRequests && isLockout(resp.Header, msg):
			// The key (or the requests) keep being refused: retrying does
			// not help until that is fixed.
			ae.kind, ae.retry = ErrUnauthorized, false
			ae.err = fmt.Errorf("429, PeeringDB's lockout after more than 10 answers of 401/403 within a minute "+
				"(a wrong or refused API key, or repeated forbidden requests): %s", msg)
		case resp.StatusCode == http.StatusTooManyRequests && ae.retryAfter == 0:
			// Not every 429 says how long to wait: PeeringDB's negative
			// cache replays a throttle's 429 without its Retry-After
			// (X-Cached-Response), and proxies may send none.
			ae.kind, ae.hold = ErrRateLimited, replayHold
			what := "429 without Retry-After"
			if strings.EqualFold(resp.Header.Get("X-Cached-Response"), "true") {
				what = "429 replayed by PeeringDB's negative cache"
			}
			ae.err = fmt.Errorf("%s, rate limited; the query is held for %s: %s", what, replayHold, msg)
		case resp.StatusCode == http.StatusTooManyRequests:
			ae.kind = ErrRateLimited
		case resp.StatusCode >= 500:
			ae.kind = ErrUnavailable
		case resp.StatusCode == http.StatusNotFound && !fromPeeringDB:
			// A 404 page from a proxy or a wrong base URL is not
			// PeeringDB saying an object does not exist.
			ae.kind, ae.err = ErrUnavailable, fmt.Errorf("HTTP 404 without PeeringDB's answer (is --peeringdb-url right?): %s", msg)
		case resp.StatusCode == http.StatusNotFound:
			ae.kind = ErrNotFound
		case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
			ae.kind = ErrUnauthorized
		default:
			ae.kind = ErrBadRequest
		}
		return ae
	}
	body := io.LimitReader(resp.Body, c.opts.MaxResponseBytes)
	if err := decode(body); err != nil {
		if actx.Err() != nil && ctx.Err() == nil {
			return &attemptError{status: resp.StatusCode, kind: ErrUnavailable, retry: true,
				err: fmt.Errorf("answer not complete within %s", c.opts.Timeout)}
		}
		// Truncated or non-JSON answers (an HTML error page from a proxy)
		// are an outage, and usually a transient one.
		return &attemptError{status: resp.StatusCode, kind: ErrUnavailable, retry: true, malformed: true,
			err: fmt.Errorf("malformed answer: %v", err)}
	}
	return nil
}

// isLockout tells the middleware's lockout 429 (X-Throttled-Response)
// and its replays (X-Cached-Response, the same body) from rate limiting.
func isLockout(h http.Header, msg string) bool {
	return strings.EqualFold(h.Get("X-Throttled-Response"), "true") || msg == lockoutMessage
}

// apiErrorMessage extracts PeeringDB's {"meta":{"error":"..."}}, and says
// whether the body was PeeringDB's.
func apiErrorMessage(r io.Reader) (string, bool) {
	b, _ := io.ReadAll(io.LimitReader(r, 4<<10))
	var e struct {
		Meta struct {
			Error string `json:"error"`
		} `json:"meta"`
	}
	if json.Unmarshal(b, &e) == nil && e.Meta.Error != "" {
		msg := e.Meta.Error
		if len(msg) > 300 {
			msg = msg[:300] + "…"
		}
		return msg, true
	}
	return "unexpected answer", false
}

// stripURL drops the URL from *url.Error: the Error already names the
// object and query, and the URL would repeat the whole asn__in list.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// redact makes sure the API key never leaves in an error, whatever a
// server or proxy echoed back.
func (c *Client) redact(err error) error {
	key := c.apiKey()
	if err == nil || key == "" || !strings.Contains(err.Error(), key) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), key, "[redacted]"))
}
