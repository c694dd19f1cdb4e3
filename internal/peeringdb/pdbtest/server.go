package pdbtest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/peering-operator/peering-operator/internal/peeringdb"
)

// Options configure a Server.
type Options struct {
	// Dataset to serve; nil serves Sample().
	Dataset *Dataset
	// Clock stamps created/updated of added, updated and deleted records
	// (what since compares against) and times ResponseSizeThrottle and
	// NegativeCache; default time.Now. Request accounting always uses the
	// real time.
	Clock func() time.Time
	// Logf, if set, gets one line per request (make dev).
	Logf func(format string, args ...any)
	// OnRequest, if set, runs before each request is answered, outside
	// the server's locks: it may change data (Add, Update, Delete,
	// Snapshot), so a test can change rows between two pages.
	OnRequest func(RequestRecord)
	// ResponseSizeThrottle, if set, throttles repeated identical large
	// anonymous queries per client as PeeringDB does (see the type).
	ResponseSizeThrottle *ResponseSizeThrottle
	// NegativeCache answers as PeeringDB's RedisNegativeCacheMiddleware
	// (middleware.py, on in production): a 401, 403 or 429 is answered
	// again, headers dropped, to the same request for 60s, 10s and 10s
	// (a throttle's 429 then comes without Retry-After), and a client
	// that got more than 10 401/403 within a minute of each other gets a
	// bare 429 until a minute after the last. Injected 401/403/429 count;
	// a request it answers uses up no injected fault.
	NegativeCache bool
}

// RequestRecord is one request as the server saw it.
type RequestRecord struct {
	Time          time.Time // arrival
	Path          string    // "/api/net"
	Query         url.Values
	Status        int
	Bytes         int64 // body bytes written
	Authorization string
	UserAgent     string
}

// Server is a PeeringDB API v2 server on a loopback port.
type Server struct {
	// URL is the server root, e.g. http://127.0.0.1:41234.
	URL string
	// BaseURL is URL + "/api": what peeringdb.Options.BaseURL wants.
	BaseURL string

	opts Options
	ln   net.Listener
	hs   *http.Server

	mu     sync.Mutex
	tables map[string]*table
	// snap is what unfiltered list queries answer while set (Snapshot),
	// generated at snapAt.
	snap   map[string]*table
	snapAt time.Time

	fmu        sync.Mutex // faults and accounting
	failN      int
	failStatus int
	failAfter  time.Duration
	malformedN int
	objFail    map[string]objFault // per object: FailObjectNext
	down       bool
	latency    time.Duration
	log        []RequestRecord
	bytes      int64

	thr throttles // ResponseSizeThrottle and NegativeCache state
}

// NewServer starts a server on 127.0.0.1 with a free port, like
// httptest.NewServer. It panics if it cannot listen.
func NewServer(opts Options) *Server {
	s, err := Start("127.0.0.1:0", opts)
	if err != nil {
		panic(fmt.Sprintf("pdbtest: %v", err))
	}
	return s
}

// Start serves on addr (e.g. "127.0.0.1:8089" for make dev). Only loopback
// addresses are accepted: this is test data, not a PeeringDB mirror.
func Start(addr string, opts Options) (*Server, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("listen address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("listen address %q: only loopback addresses (127.0.0.0/8, ::1, localhost) are allowed", addr)
	}
	s, err := newServer(opts)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s.ln = ln
	s.URL = "http://" + ln.Addr().String()
	s.BaseURL = s.URL + "/api"
	s.hs = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.hs.Serve(ln) }()
	return s, nil
}

// NewHandler builds the server without listening, for callers that mount
// it in their own http.Server.
func NewHandler(opts Options) (*Server, error) { return newServer(opts) }

func newServer(opts Options) (*Server, error) {
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if t := opts.ResponseSizeThrottle; t != nil {
		c := *t
		if c.Requests <= 0 {
			c.Requests = 1
		}
		if c.Per <= 0 {
			c.Per = time.Hour
		}
		opts.ResponseSizeThrottle = &c
	}
	d := opts.Dataset
	if d == nil {
		d = Sample()
	}
	s := &Server{opts: opts, tables: map[string]*table{}}
	for _, obj := range Objects {
		s.tables[obj] = newTable()
	}
	for obj, recs := range d.Objects {
		t, ok := s.tables[obj]
		if !ok {
			return nil, fmt.Errorf("dataset has unknown object type %q", obj)
		}
		for _, raw := range recs {
			r, err := parseRecord(raw)
			if err != nil {
				return nil, fmt.Errorf("%s record: %w", obj, err)
			}
			t.put(r)
		}
	}
	return s, nil
}

// Close stops the server and closes its connections.
func (s *Server) Close() {
	if s.hs != nil {
		_ = s.hs.Close()
	}
}

// ---- fault injection ----

// FailNext makes the next n requests answer status, with a Retry-After of
// retryAfter (whole seconds, rounded up) when it is positive.
func (s *Server) FailNext(n, status int, retryAfter time.Duration) {
	s.fmu.Lock()
	s.failN, s.failStatus, s.failAfter = n, status, retryAfter
	s.fmu.Unlock()
}

// Snapshot freezes what unfiltered list queries answer, with the time of
// the call in meta.generated, as the real server's API cache does: it
// serves those queries from files regenerated about every 15 minutes
// (src/peeringdb_server/api_cache.py, rest.py). Which queries it serves is
// APICacheLoader.qualifies: no filter and no since, and not depth=0 with a
// limit of 1 to 250 (those go to the database). Other queries still see
// live data. ClearSnapshot ends it; another Snapshot replaces it.
func (s *Server) Snapshot() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.snapshotLocked(s.now())
}

// SnapshotAt is Snapshot holding only the ok rows updated at or before
// cutoff, while meta.generated still says the time of the call: the real
// cache run selects updated__lte=<its start>
// (management/commands/pdb_api_cache.py) and api_cache.py's load reports
// the file's mtime, written minutes later. A row updated in between is
// absent altogether, not served in its older version.
func (s *Server) SnapshotAt(cutoff time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.snapshotLocked(cutoff)
}

func (s *Server) snapshotLocked(cutoff time.Time) {
	s.snap = map[string]*table{}
	for k, t := range s.tables {
		c := newTable()
		for _, id := range t.sortedIDs() {
			// records are replaced, never changed: sharing them is a copy
			if r := t.byID[id]; !r.updated.After(cutoff) {
				c.put(r)
			}
		}
		s.snap[k] = c
	}
	s.snapAt = s.now()
}

// ClearSnapshot makes unfiltered list queries answer live data again.
func (s *Server) ClearSnapshot() {
	s.mu.Lock()
	s.snap = nil
	s.mu.Unlock()
}

// fromAPICache: the real server answers q from its API cache file
// (api_cache.py, APICacheLoader.qualifies): no condition, only depth,
// limit and skip, and not depth 0 with a limit of 1 to 250, which it finds
// quicker to answer from the database. load then applies skip and limit
// to the file's rows.
func fromAPICache(q url.Values) bool {
	for k := range q {
		if k != "depth" && k != "limit" && k != "skip" {
			return false
		}
	}
	depth, _ := strconv.Atoi(q.Get("depth"))
	limit, _ := strconv.Atoi(q.Get("limit"))
	return depth > 0 || limit <= 0 || limit > 250
}

// objFault is a fault injected for one object's requests.
type objFault struct {
	n, status int
}

// FailObjectNext makes the next n requests for obj ("netixlan", ...)
// answer status; other objects are served. It lets a test fail one step
// of a multi-request sync.
func (s *Server) FailObjectNext(obj string, n, status int) {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	if s.objFail == nil {
		s.objFail = map[string]objFault{}
	}
	s.objFail[obj] = objFault{n: n, status: status}
}

// MalformedNext makes the next n requests answer 200 with a truncated body.
func (s *Server) MalformedNext(n int) {
	s.fmu.Lock()
	s.malformedN = n
	s.fmu.Unlock()
}

// SetDown makes every request answer 500 until SetDown(false).
func (s *Server) SetDown(down bool) {
	s.fmu.Lock()
	s.down = down
	s.fmu.Unlock()
}

// SetLatency delays every answer by d.
func (s *Server) SetLatency(d time.Duration) {
	s.fmu.Lock()
	s.latency = d
	s.fmu.Unlock()
}

// ---- accounting ----

// Requests is the number of requests received.
func (s *Server) Requests() int {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	return len(s.log)
}

// RequestLog returns a copy of every request received.
func (s *Server) RequestLog() []RequestRecord {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	return slices.Clone(s.log)
}

// RequestTimes returns the arrival time of every request.
func (s *Server) RequestTimes() []time.Time {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	out := make([]time.Time, len(s.log))
	for i, r := range s.log {
		out[i] = r.Time
	}
	return out
}

// BytesServed is the total response body bytes written.
func (s *Server) BytesServed() int64 {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	return s.bytes
}

// ResetStats forgets the request log and byte count.
func (s *Server) ResetStats() {
	s.fmu.Lock()
	s.log, s.bytes = nil, 0
	s.fmu.Unlock()
}

// ---- data changes ----

// Add stores a new record of obj (any JSON-marshalable value with PeeringDB
// field names). A zero or missing id gets the next free one; missing
// created/updated get the clock's time and a missing status "ok". It
// returns the id.
func (s *Server) Add(obj string, rec any) (int, error) {
	raw, err := json.Marshal(rec)
	if err != nil {
		return 0, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return 0, fmt.Errorf("record must be a JSON object: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tables[obj]
	if !ok {
		return 0, fmt.Errorf("unknown object type %q", obj)
	}
	var id int
	_ = json.Unmarshal(m["id"], &id)
	if id == 0 {
		id = t.maxID + 1
		m["id"] = jsonValue(id)
	}
	if _, dup := t.byID[id]; dup {
		return 0, fmt.Errorf("%s %d already exists", obj, id)
	}
	now := jsonValue(s.now())
	for _, f := range []string{"created", "updated"} {
		if isZeroTime(m[f]) {
			m[f] = now
		}
	}
	if st, ok := m["status"]; !ok || string(st) == `""` {
		m["status"] = jsonValue(peeringdb.StatusOK)
	}
	r, err := recordFromMap(m)
	if err != nil {
		return 0, err
	}
	t.put(r)
	return id, nil
}

// AddNetwork adds a net record and returns its id; it panics on a duplicate
// id (a bug in the test).
func (s *Server) AddNetwork(n peeringdb.Network) int { return s.mustAdd(peeringdb.ObjNetwork, n) }

// AddIX adds an ix record.
func (s *Server) AddIX(x peeringdb.IX) int { return s.mustAdd(peeringdb.ObjIX, x) }

// AddIXLAN adds an ixlan record.
func (s *Server) AddIXLAN(l peeringdb.IXLAN) int { return s.mustAdd(peeringdb.ObjIXLAN, l) }

// AddIXPrefix adds an ixpfx record.
func (s *Server) AddIXPrefix(p peeringdb.IXPrefix) int { return s.mustAdd(peeringdb.ObjIXPrefix, p) }

// AddNetIXLAN adds a netixlan record; a zero IPAddr4/IPAddr6 is served as
// null, as PeeringDB does.
func (s *Server) AddNetIXLAN(n peeringdb.NetIXLAN) int {
	return s.mustAdd(peeringdb.ObjNetIXLAN, netIXLANRecord(n))
}

// netIXLANRecord serves a zero address as null, as PeeringDB does.
func netIXLANRecord(n peeringdb.NetIXLAN) map[string]any {
	m := map[string]any{}
	b, _ := json.Marshal(n)
	_ = json.Unmarshal(b, &m)
	for _, f := range []string{"ipaddr4", "ipaddr6"} {
		if m[f] == "" {
			m[f] = nil
		}
	}
	return m
}

func (s *Server) mustAdd(obj string, rec any) int {
	id, err := s.Add(obj, rec)
	if err != nil {
		panic(fmt.Sprintf("pdbtest: add %s: %v", obj, err))
	}
	return id
}

// Update sets fields (PeeringDB names) of record id and bumps its updated
// time, so a since query returns it.
func (s *Server) Update(obj string, id int, fields map[string]any) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.updateLocked(obj, id, fields)
}

// UpdateNetwork updates the net record with that ASN.
func (s *Server) UpdateNetwork(asn uint32, fields map[string]any) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, err := s.netIDLocked(asn)
	if err != nil {
		return err
	}
	return s.updateLocked(peeringdb.ObjNetwork, id, fields)
}

// Delete marks record id deleted (status "deleted", updated bumped):
// ordinary queries stop returning it, since queries return it, as in
// PeeringDB.
func (s *Server) Delete(obj string, id int) error {
	return s.Update(obj, id, map[string]any{"status": peeringdb.StatusDeleted})
}

// DeleteNetwork deletes the net record with that ASN.
func (s *Server) DeleteNetwork(asn uint32) error {
	return s.UpdateNetwork(asn, map[string]any{"status": peeringdb.StatusDeleted})
}

// DeleteNetIXLAN deletes a netixlan record.
func (s *Server) DeleteNetIXLAN(id int) error { return s.Delete(peeringdb.ObjNetIXLAN, id) }

func (s *Server) netIDLocked(asn uint32) (int, error) {
	t := s.tables[peeringdb.ObjNetwork]
	for _, id := range t.sortedIDs() {
		if r := t.byID[id]; r.status != peeringdb.StatusDeleted {
			if v, ok := r.intField("asn"); ok && v == int64(asn) {
				return id, nil
			}
		}
	}
	return 0, fmt.Errorf("no net with asn %d", asn)
}

func (s *Server) updateLocked(obj string, id int, fields map[string]any) error {
	t, ok := s.tables[obj]
	if !ok {
		return fmt.Errorf("unknown object type %q", obj)
	}
	old, ok := t.byID[id]
	if !ok {
		return fmt.Errorf("%s %d does not exist", obj, id)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(old.raw, &m); err != nil {
		return err
	}
	for k, v := range fields {
		if k == "id" {
			return errors.New("the id cannot change")
		}
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("field %s: %w", k, err)
		}
		m[k] = b
	}
	if _, set := fields["updated"]; !set {
		m["updated"] = jsonValue(s.now())
	}
	r, err := recordFromMap(m)
	if err != nil {
		return err
	}
	t.put(r)
	return nil
}

func (s *Server) now() time.Time { return s.opts.Clock().UTC().Truncate(time.Second) }

func jsonValue(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func isZeroTime(raw json.RawMessage) bool {
	if len(raw) == 0 || string(raw) == "null" || string(raw) == `""` {
		return true
	}
	var t time.Time
	return json.Unmarshal(raw, &t) == nil && t.IsZero()
}

// ---- HTTP ----

// ServeHTTP answers /api/<obj> and /api/<obj>/<id>.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := RequestRecord{
		Time:          time.Now(),
		Path:          r.URL.Path,
		Query:         r.URL.Query(),
		Authorization: r.Header.Get("Authorization"),
		UserAgent:     r.Header.Get("User-Agent"),
	}
	cw := &countingWriter{ResponseWriter: w, status: http.StatusOK, keep: s.opts.NegativeCache}
	rendered := false // answered by the API view, whose renderer sizes it
	defer func() {
		now := s.opts.Clock()
		if rendered && s.opts.ResponseSizeThrottle != nil {
			s.thr.recordSize(r, cw.n, now)
		}
		if s.opts.NegativeCache {
			s.thr.negativeStore(r, cw.status, cw.Header().Get("Content-Type"), cw.kept, now)
		}
		s.fmu.Lock()
		rec.Status, rec.Bytes = cw.status, cw.n
		s.log = append(s.log, rec)
		s.bytes += cw.n
		s.fmu.Unlock()
		if s.opts.Logf != nil {
			s.opts.Logf("pdbtest: %s %s?%s -> %d (%d bytes)", r.Method, r.URL.Path, r.URL.RawQuery, cw.status, cw.n)
		}
	}()

	if s.opts.OnRequest != nil {
		s.opts.OnRequest(rec)
	}
	s.fmu.Lock()
	latency, down := s.latency, s.down
	s.fmu.Unlock()
	// The negative cache is middleware: it answers before the view and
	// the faults injected there.
	var negative *negativeAnswer
	if !down && s.opts.NegativeCache {
		negative = s.thr.negativeLookup(r, s.opts.Clock())
	}
	inject := !down && negative == nil // else nothing injected is used up
	s.fmu.Lock()
	var failStatus int
	var retryAfter time.Duration
	if inject && s.failN > 0 {
		s.failN--
		failStatus, retryAfter = s.failStatus, s.failAfter
	}
	if obj, _, _ := strings.Cut(strings.Trim(strings.TrimPrefix(r.URL.Path, "/api/"), "/"), "/"); inject && failStatus == 0 && s.objFail[obj].n > 0 {
		f := s.objFail[obj]
		f.n--
		s.objFail[obj] = f
		failStatus = f.status
	}
	malformed := false
	if inject && failStatus == 0 && s.malformedN > 0 {
		s.malformedN--
		malformed = true
	}
	s.fmu.Unlock()

	if latency > 0 && !sleepCtx(r.Context(), latency) {
		cw.status = 499 // client went away
		return
	}
	switch {
	case down:
		writeError(cw, http.StatusInternalServerError, "Internal Server Error (pdbtest: down)")
		return
	case negative != nil:
		negative.write(cw)
		return
	case failStatus != 0:
		if retryAfter > 0 {
			secs := (retryAfter + time.Second - 1) / time.Second
			cw.Header().Set("Retry-After", strconv.FormatInt(int64(secs), 10))
		}
		writeError(cw, failStatus, http.StatusText(failStatus)+" (pdbtest: injected)")
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		writeError(cw, http.StatusMethodNotAllowed, "read-only API")
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/api/")
	if !ok {
		writeError(cw, http.StatusNotFound, "Not found.")
		return
	}
	obj, idStr, single := strings.Cut(strings.Trim(rest, "/"), "/")
	s.mu.Lock()
	t, ok := s.tables[obj]
	s.mu.Unlock()
	if !ok {
		writeError(cw, http.StatusNotFound, "Not found.")
		return
	}
	rendered = true
	// DRF checks throttles (APIView.initial) before the view reads data.
	if th := s.opts.ResponseSizeThrottle; th != nil && anonymous(r) {
		if wait := s.thr.checkResponseSize(*th, r, s.opts.Clock()); wait > 0 {
			writeThrottled(cw, wait)
			return
		}
	}
	s.mu.Lock()
	var recs []*record
	var qerr error
	var generated time.Time
	if single {
		id, err := strconv.Atoi(idStr)
		r, found := t.byID[id]
		if err != nil || !found || r.status == peeringdb.StatusDeleted {
			s.mu.Unlock()
			writeError(cw, http.StatusNotFound, "Not found.")
			return
		}
		recs = []*record{r}
	} else if snap := s.snap[obj]; snap != nil && fromAPICache(r.URL.Query()) {
		recs, qerr = snap.query(r.URL.Query())
		generated = s.snapAt
	} else {
		recs, qerr = t.query(r.URL.Query())
	}
	s.mu.Unlock()
	if qerr != nil {
		writeError(cw, http.StatusBadRequest, qerr.Error())
		return
	}
	if q := r.URL.Query(); len(recs) == 0 && (q.Has("id") || obj == peeringdb.ObjNetwork && q.Has("asn")) {
		// The real server answers a list query by id (for net also by
		// asn) that finds nothing with 404 and an empty data list, not
		// 200 [] (by id measured against www.peeringdb.com; rest.py,
		// list: 404 when serializer.is_unique_query, true in
		// serializers.py for "id", and in NetworkSerializer for "asn").
		cw.Header().Set("Content-Type", "application/json")
		cw.WriteHeader(http.StatusNotFound)
		_, _ = cw.Write([]byte(`{"meta":{"error":"Entity not found"},"data":[]}`))
		return
	}
	cw.Header().Set("Content-Type", "application/json")
	bw := bufio.NewWriterSize(cw, 64<<10)
	_, _ = bw.WriteString(`{"data":[`)
	for i, rc := range recs {
		if i > 0 {
			_ = bw.WriteByte(',')
		}
		_, _ = bw.Write(rc.raw)
	}
	if malformed {
		// Cut mid-answer, like a proxy dropping the connection.
		rendered = false
		_ = bw.Flush()
		return
	}
	if generated.IsZero() {
		_, _ = bw.WriteString(`],"meta":{}}`)
	} else {
		_, _ = fmt.Fprintf(bw, `],"meta":{"generated":%d.0}}`, generated.Unix())
	}
	_ = bw.Flush()
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	b, _ := json.Marshal(map[string]any{"meta": map[string]string{"error": msg}})
	_, _ = w.Write(b)
}

type countingWriter struct {
	http.ResponseWriter
	status int
	n      int64
	keep   bool   // keep the body of answers the negative cache stores
	kept   []byte // ... here
}

func (c *countingWriter) WriteHeader(code int) {
	c.status = code
	c.ResponseWriter.WriteHeader(code)
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.ResponseWriter.Write(b)
	c.n += int64(n)
	if _, cached := negativeExpiry[c.status]; c.keep && cached {
		c.kept = append(c.kept, b[:n]...)
	}
	return n, err
}

var _ io.Writer = (*countingWriter)(nil)
