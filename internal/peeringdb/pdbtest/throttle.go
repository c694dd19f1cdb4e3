package pdbtest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// ResponseSizeThrottle configures the emulation of PeeringDB's throttle on
// repeated identical large anonymous queries: src/peeringdb_server/
// rest_throttles.py, class ResponseSizeThrottle, at its IP scope (the
// API_THROTTLE_REPEATED_REQUEST_*_IP settings; docs.peeringdb.com's "Work
// Within PeeringDB's Query Limits" announces above 100 kB, 1/hour). Its
// CIDR scope (/24, /64) is not emulated: on loopback every client shares
// 127.0.0.1 anyway; nor are the per-minute limits of the same list
// (APIAnonUserThrottle, APIUserThrottle). Authenticated requests are
// exempt, as the _USER and _ORG scopes are off in PeeringDB's settings.
type ResponseSizeThrottle struct {
	// Bytes from which an answer counts as large (compared with >=). The
	// size is the one of the first answer the server gave to that exact
	// path and query, from any client, remembered for 31 days.
	Bytes int
	// Requests each client may make of one large query per Per; default
	// 1 per hour.
	Requests int
	Per      time.Duration
}

// Expiries of the real server's caches (mainsite/settings/__init__.py).
const (
	repeatedRequestCacheExpiry = 31 * 24 * time.Hour // API_THROTTLE_REPEATED_REQUEST_CACHE_EXPIRY
	negativeFailWindow         = time.Minute         // middleware.py: the 401/403 count's timeout
	negativeRepeatedLimit      = 10                  // NEGATIVE_CACHE_REPEATED_RATE_LIMIT
)

// negativeExpiry is NEGATIVE_CACHE_EXPIRY_<status>.
var negativeExpiry = map[int]time.Duration{
	http.StatusUnauthorized:    time.Minute,
	http.StatusForbidden:       10 * time.Second,
	http.StatusTooManyRequests: 10 * time.Second,
}

// throttles holds the state of the emulated throttles and negative cache.
type throttles struct {
	mu sync.Mutex
	// sizes is ResponseSizeThrottle's "request-size:<full path>" cache.
	sizes map[string]expiring[int]
	// history is SimpleRateThrottle's per-key list of allowed requests,
	// newest first, keyed "<full path>:<ip>" (ident_prefix + ident).
	history map[string][]time.Time
	// answers and fails are RedisNegativeCacheMiddleware's caches.
	answers map[string]expiring[cachedAnswer]
	fails   map[string]expiring[int]
}

type expiring[T any] struct {
	v     T
	until time.Time
}

type cachedAnswer struct {
	status      int
	contentType string
	body        []byte
}

// fullPath is Django's request.get_full_path(): path and raw query.
func fullPath(r *http.Request) string { return r.URL.RequestURI() }

// remoteAddr is REMOTE_ADDR: the peer's address without its port.
func remoteAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// clientIdent is middleware.py's get_client_ident, also DRF's
// SimpleRateThrottle.get_ident without NUM_PROXIES: the whole
// X-Forwarded-For without whitespace, else REMOTE_ADDR.
func clientIdent(r *http.Request) string {
	if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
		return strings.Join(strings.Fields(xff), "")
	}
	return remoteAddr(r)
}

// throttleIP is the address TargetedRateThrottle._allow_request_anon keys
// on: the first X-Forwarded-For entry.
func throttleIP(r *http.Request) string {
	ip, _, _ := strings.Cut(clientIdent(r), ",")
	return strings.TrimSpace(ip)
}

// authIdentity is middleware.py's get_auth_identity, part of the negative
// cache's key.
func authIdentity(r *http.Request) string {
	if c, err := r.Cookie("sessionid"); err == nil && c.Value != "" {
		return "session__" + c.Value[:min(10, len(c.Value))]
	}
	method, value, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok {
		return "anonymous__guest" // split(" ", 1) fails: the except branch
	}
	switch strings.ToLower(method) {
	case "basic":
		b, err := base64.StdEncoding.DecodeString(value)
		if err != nil {
			return "anonymous__guest"
		}
		user, _, _ := strings.Cut(string(b), ":")
		return "user__" + user
	case "api-key":
		prefix, _, _ := strings.Cut(value, ".")
		return "key__" + prefix
	}
	return "None__" + value // auth_type stays None
}

// anonymous: TargetedRateThrottle.is_authenticated finds no user and no
// key. pdbtest checks no credentials, so any Authorization counts.
func anonymous(r *http.Request) bool { return r.Header.Get("Authorization") == "" }

// checkResponseSize is ResponseSizeThrottle.allow_request for an anonymous
// GET (_allow_request_anon, IP scope): a query whose remembered size is at
// least Bytes may be repeated Requests times per Per by one client; the
// first answer to a path, whose size is not known yet, always passes and
// is not counted. It returns the wait (SimpleRateThrottle.wait, rounded up
// by DRF's Throttled) when the request is refused, else 0.
func (t *throttles) checkResponseSize(cfg ResponseSizeThrottle, r *http.Request, now time.Time) int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	path := fullPath(r)
	size, ok := t.sizes[path]
	if !ok || !now.Before(size.until) || size.v < cfg.Bytes {
		return 0
	}
	key := path + ":" + throttleIP(r)
	h := t.history[key]
	// Drop what left the window (history[-1] <= now - duration).
	for len(h) > 0 && !h[len(h)-1].After(now.Add(-cfg.Per)) {
		h = h[:len(h)-1]
	}
	if len(h) < cfg.Requests {
		if t.history == nil {
			t.history = map[string][]time.Time{}
		}
		t.history[key] = append([]time.Time{now}, h...)
		return 0
	}
	// TargetedRateThrottle.wait: remaining / (num - len(history) + 1),
	// and the history is exactly full here.
	wait := cfg.Per - now.Sub(h[len(h)-1])
	return int64((wait + time.Second - 1) / time.Second)
}

// recordSize is ResponseSizeThrottle.cache_response_size, which the
// renderer (renderers.py, MetaJSONRenderer.render) calls for every answer
// it renders: only the first size of a path is kept, until it expires.
func (t *throttles) recordSize(r *http.Request, n int64, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	path := fullPath(r)
	if e, ok := t.sizes[path]; ok && now.Before(e.until) {
		return
	}
	if t.sizes == nil {
		t.sizes = map[string]expiring[int]{}
	}
	t.sizes[path] = expiring[int]{v: int(n), until: now.Add(repeatedRequestCacheExpiry)}
}

// writeThrottled answers like DRF's Throttled exception as PeeringDB
// renders it: Retry-After from views.py's exception_handler,
// {"message": ...} from exceptions.py's rest_exception_handler with
// API_THROTTLE_RATE_ANON_MSG, meta.error the reason phrase from
// renderers.py, serialized by json.dumps (", " and ": " separators).
func writeThrottled(w http.ResponseWriter, wait int64) {
	w.Header().Set("Retry-After", fmt.Sprint(wait))
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusTooManyRequests)
	fmt.Fprintf(w, `{"message": "Request was throttled. Expected available in %s.", "meta": {"error": "Too Many Requests"}}`, waitText(wait))
}

// waitText is exceptions.py's format_wait_time, quirks included: exactly
// 60 seconds reads "0 hours", and units are always plural.
func waitText(secs int64) string {
	switch {
	case secs < 60:
		return fmt.Sprintf("%d seconds", secs)
	case secs > 60 && secs < 3600:
		return fmt.Sprintf("%d minutes", secs/60)
	}
	return fmt.Sprintf("%d hours", secs/3600)
}

// negativeKey is RedisNegativeCacheMiddleware.generate_cache_key.
func negativeKey(r *http.Request) string {
	return fmt.Sprintf("negcache_%s__%s__%s__%s__%s", clientIdent(r), authIdentity(r), r.Method, r.URL.Path, r.URL.RawQuery)
}

// negativeLookup is RedisNegativeCacheMiddleware._process_request_cached:
// more than NEGATIVE_CACHE_REPEATED_RATE_LIMIT 401/403 answers to this
// client within a minute of each other lock it out with a bare 429 (no
// Retry-After); otherwise a 401, 403 or 429 answered to the same client,
// credentials, method, path and query within its expiry is answered again,
// without its headers (so a throttle's 429 loses its Retry-After). nil:
// the request goes on to the view.
func (t *throttles) negativeLookup(r *http.Request, now time.Time) *negativeAnswer {
	t.mu.Lock()
	defer t.mu.Unlock()
	if n := t.fails[clientIdent(r)]; now.Before(n.until) && n.v > negativeRepeatedLimit {
		return &negativeAnswer{header: "X-Throttled-Response", cachedAnswer: cachedAnswer{
			status: http.StatusTooManyRequests, contentType: "application/json",
			body: []byte(`{"meta": {"error": "Too many requests that resulted in 401 or 403 responses"}}`)}}
	}
	a, ok := t.answers[negativeKey(r)]
	if !ok || !now.Before(a.until) {
		return nil
	}
	ans := &negativeAnswer{header: "X-Cached-Response", cachedAnswer: a.v}
	if a.v.contentType == "application/json" {
		// JsonResponse(json.loads(content)) serializes it again.
		ans.body = pythonJSON(a.v.body)
	}
	return ans
}

// negativeAnswer is an answer of the middleware: a JsonResponse or
// HttpResponse with one marker header set to "True".
type negativeAnswer struct {
	cachedAnswer
	header string
}

func (a *negativeAnswer) write(w http.ResponseWriter) {
	w.Header().Set("Content-Type", a.contentType)
	w.Header().Set(a.header, "True")
	w.WriteHeader(a.status)
	_, _ = w.Write(a.body)
}

// negativeStore is RedisNegativeCacheMiddleware._process_response_cached,
// run for every answer, the middleware's own included: 401, 403 and 429
// are kept for NEGATIVE_CACHE_EXPIRY_<status>, and each 401/403 counts
// against the client for a minute from the last one.
func (t *throttles) negativeStore(r *http.Request, status int, contentType string, body []byte, now time.Time) {
	exp, ok := negativeExpiry[status]
	if !ok {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.answers == nil {
		t.answers = map[string]expiring[cachedAnswer]{}
		t.fails = map[string]expiring[int]{}
	}
	t.answers[negativeKey(r)] = expiring[cachedAnswer]{v: cachedAnswer{status, contentType, body}, until: now.Add(exp)}
	if status == http.StatusTooManyRequests {
		return
	}
	ident := clientIdent(r)
	n := t.fails[ident]
	if !now.Before(n.until) {
		n.v = 0
	}
	t.fails[ident] = expiring[int]{v: n.v + 1, until: now.Add(negativeFailWindow)}
}

// pythonJSON spaces JSON as Python's json.dumps writes it: ", " and ": "
// between items (pdbtest's bodies are ASCII, so ensure_ascii
// changes nothing).
func pythonJSON(b []byte) []byte {
	var compact bytes.Buffer
	if json.Compact(&compact, b) != nil {
		return b
	}
	b = compact.Bytes()
	out := make([]byte, 0, len(b)+len(b)/8)
	inString, escaped := false, false
	for _, c := range b {
		out = append(out, c)
		switch {
		case inString && escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case c == '"':
			inString = !inString
		case !inString && (c == ',' || c == ':'):
			out = append(out, ' ')
		}
	}
	return out
}
