// Package irr expands AS-SETs into prefix filters the way bgpq4 does: an
// IRRd whois client (one connection in multiple-command mode, !a when the
// server has it, else !i and pipelined !g/!6; SOURCE::SET objects;
// retries and failover across servers), an aggregator whose output equals
// `bgpq4 -A` entry for entry, and bgpq4's JSON rendering.
//
// Empty answers are not errors here; internal/policy decides what may be
// used.
package irr

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/peering-operator/peering-operator/internal/version"
)

// Config configures a Client. Zero values mean the defaults below.
type Config struct {
	// Servers are IRRd whois servers as host:port, tried in order: the next
	// one is used when the previous fails after its retries.
	Servers []string
	// ClientID is sent with !n so IRR operators can see who is asking.
	// Default: the operator's user agent.
	ClientID string
	// DialTimeout bounds connecting to one server. Default 10s.
	DialTimeout time.Duration
	// QueryTimeout bounds the wait for any one answer (and each stretch of
	// a long answer). Default 30s.
	QueryTimeout time.Duration
	// Retries is how many more times a server is tried after a failure
	// before moving to the next. Default 1; negative means none.
	Retries int
	// RetryBackoff is the pause before retrying the same server, doubled on
	// each retry. Default 500ms.
	RetryBackoff time.Duration
	// MaxDepth limits client-side AS-SET recursion (used when an object is
	// pinned to a source). Default 64 levels. Loops are cut regardless.
	MaxDepth int
	// DisableA never uses the server-side !a4/!a6 expansion.
	DisableA bool
	// ExpandSpecialASNs also queries documentation and private ASNs
	// (bgpq4 -p); by default they are skipped as bgpq4 does.
	ExpandSpecialASNs bool
	// Cooldown is how long a server that did not answer (a timeout, a
	// refused or dropped connection) is skipped by later expansions: its
	// circuit breaker is open. It doubles on each further failure, up to
	// 4 times. Default 30s. A server that answered with an error, or cut
	// an answer short, is not skipped: it is up.
	Cooldown time.Duration
}

// Query is one expansion: what, which address family and which IRR sources.
type Query struct {
	// Sets are AS-SETs ("AS-CLOUDFLARE", "AS3320:AS-DTAG") and ASNs
	// ("AS13335"), each optionally pinned to a source ("RIPE::AS-RETN"): the
	// pinned set itself is then looked up in that source only, as bgpq4 does.
	Sets []string
	// Family is 4 or 6.
	Family int
	// Sources is the ordered list of IRR databases to use (!s). Empty means
	// the server's default.
	Sources []string
}

// Stats describes how an expansion went.
type Stats struct {
	Server       string        // the server that answered
	Attempts     int           // connections tried, failed ones included
	Queries      int           // commands sent on the successful connection
	ServerSideA  bool          // prefixes came from !a4/!a6
	SetLookups   int           // AS-SET member queries (!i)
	ASNs         int           // origin ASNs whose routes were queried
	EmptyASNs    int           // of those, ASNs without routes
	SkippedASNs  []uint32      // special ASNs not expanded (see Config.ExpandSpecialASNs)
	Prefixes     int           // distinct prefixes returned
	NotFound     []string      // sets the server does not know
	DepthLimited []string      // sets left unexpanded at MaxDepth
	Errors       []string      // why earlier attempts failed
	Duration     time.Duration // wall time, retries included
}

// QueryError is a failed expansion on one server. It names the server, the
// objects being expanded and the command that failed.
type QueryError struct {
	Server  string
	Sets    []string
	Query   string // "" when the connection itself failed
	Timeout time.Duration
	Err     error
}

func (e *QueryError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "irr server %s: expanding %s", e.Server, strings.Join(e.Sets, " "))
	if e.Query != "" {
		fmt.Fprintf(&b, ": query %q", e.Query)
	}
	if e.TimedOut() {
		fmt.Fprintf(&b, ": no answer within %s", e.Timeout)
	} else {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	return b.String()
}

func (e *QueryError) Unwrap() error { return e.Err }

// TimedOut reports whether the server was too slow.
func (e *QueryError) TimedOut() bool {
	var ne net.Error
	return errors.Is(e.Err, os.ErrDeadlineExceeded) || errors.As(e.Err, &ne) && ne.Timeout()
}

// ServerError is an "F" answer: the server refused a command.
type ServerError struct{ Message string }

func (e *ServerError) Error() string { return "server error: " + e.Message }

// Client expands AS-SETs into prefixes over the IRRd whois protocol. It is
// safe for concurrent use; each Expand uses its own connection.
type Client struct {
	cfg Config

	mu     sync.Mutex
	broken map[string]breaker // by server
}

// breaker is a server's circuit breaker: skipped until until, after fails
// failures in a row.
type breaker struct {
	until time.Time
	fails int
}

// New checks cfg and fills in defaults.
func New(cfg Config) (*Client, error) {
	if len(cfg.Servers) == 0 {
		return nil, errors.New("irr: no servers configured")
	}
	for _, s := range cfg.Servers {
		if _, _, err := net.SplitHostPort(s); err != nil {
			return nil, fmt.Errorf("irr: server %q: want host:port: %w", s, err)
		}
	}
	if cfg.ClientID == "" {
		cfg.ClientID = version.UserAgent()
	}
	if strings.ContainsAny(cfg.ClientID, "\r\n") {
		return nil, errors.New("irr: client id must be one line")
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = 10 * time.Second
	}
	if cfg.QueryTimeout <= 0 {
		cfg.QueryTimeout = 30 * time.Second
	}
	if cfg.Retries == 0 {
		cfg.Retries = 1
	} else if cfg.Retries < 0 {
		cfg.Retries = 0
	}
	if cfg.RetryBackoff <= 0 {
		cfg.RetryBackoff = 500 * time.Millisecond
	}
	if cfg.MaxDepth <= 0 {
		cfg.MaxDepth = 64
	}
	if cfg.Cooldown <= 0 {
		cfg.Cooldown = 30 * time.Second
	}
	return &Client{cfg: cfg, broken: map[string]breaker{}}, nil
}

// Expand returns the distinct prefixes of the query's family registered for
// the origins the sets expand to, sorted. An empty answer is not an error:
// whether an empty or shrunken filter may be used is the policy guard's call.
// Servers are tried in order, each with retries; the error of the last
// attempt names the server and the sets.
func (c *Client) Expand(ctx context.Context, q Query) ([]netip.Prefix, Stats, error) {
	start := time.Now()
	var st Stats
	if q.Family != 4 && q.Family != 6 {
		return nil, st, fmt.Errorf("irr: address family %d: want 4 or 6", q.Family)
	}
	for _, s := range q.Sources {
		if !validSource(s) {
			return nil, st, fmt.Errorf("irr: invalid source %q", s)
		}
	}
	var objs []object
	seen := map[string]bool{}
	for _, s := range q.Sets {
		o, err := parseObject(s)
		if err != nil {
			return nil, st, fmt.Errorf("irr: %w", err)
		}
		if !seen[o.text] {
			seen[o.text] = true
			objs = append(objs, o)
		}
	}
	if len(objs) == 0 {
		return nil, st, errors.New("irr: nothing to expand")
	}
	var errs []error
	servers, cooling := c.order(time.Now())
	if len(servers) == 0 {
		st.Duration = time.Since(start)
		return nil, st, fmt.Errorf("irr: every server is cooling down after failing to answer (%s); the last good filters stay in use", strings.Join(cooling, ", "))
	}
	for _, server := range servers {
		backoff := c.cfg.RetryBackoff
		for attempt := 0; attempt <= c.cfg.Retries; attempt++ {
			if attempt > 0 {
				select {
				case <-time.After(backoff):
				case <-ctx.Done():
					return nil, st, ctx.Err()
				}
				backoff *= 2
			}
			st.Attempts++
			var run Stats
			out, err := c.expandOn(ctx, server, q, objs, &run)
			c.record(server, err, ctx.Err() != nil)
			if err == nil {
				run.Attempts, run.Errors = st.Attempts, st.Errors
				run.Server = server
				run.Prefixes = len(out)
				run.Duration = time.Since(start)
				return out, run, nil
			}
			if ctx.Err() != nil {
				return nil, st, fmt.Errorf("irr: %w (%v)", ctx.Err(), err)
			}
			errs = append(errs, err)
			st.Errors = append(st.Errors, err.Error())
			var se *ServerError
			if errors.As(err, &se) || c.cooling(server, time.Now()) {
				// The server answered, and refused: asking it again will not
				// change its mind. Or it did not answer at all: retrying
				// it only stalls the caller. Try the next server.
				break
			}
		}
	}
	st.Duration = time.Since(start)
	return nil, st, fmt.Errorf("irr: every server failed: %w", errors.Join(errs...))
}

// order is the servers to try now, in the configured order, without those
// whose breaker is open (named in cooling, with until when).
func (c *Client) order(now time.Time) (servers, cooling []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.cfg.Servers {
		if b := c.broken[s]; now.Before(b.until) {
			cooling = append(cooling, fmt.Sprintf("%s until %s", s, b.until.UTC().Format(time.RFC3339)))
			continue
		}
		servers = append(servers, s)
	}
	return servers, cooling
}

func (c *Client) cooling(server string, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return now.Before(c.broken[server].until)
}

// record updates a server's breaker after an attempt: an answer closes it;
// no answer at all (no connection, or a timeout) opens it for Cooldown,
// doubled for each failure in a row. Other failures (an error answer, a
// connection cut mid-answer) leave it as it is, and so does the caller
// giving up (canceled), which says nothing about the server.
func (c *Client) record(server string, err error, canceled bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err == nil {
		delete(c.broken, server)
		return
	}
	if canceled || !silent(err) {
		return
	}
	b := c.broken[server]
	b.fails++
	b.until = time.Now().Add(c.cfg.Cooldown << min(b.fails-1, 2))
	c.broken[server] = b
}

// silent: the server did not answer at all: refused or unreachable, or
// no answer within the query timeout.
func silent(err error) bool {
	var qe *QueryError
	var oe *net.OpError
	return errors.As(err, &qe) && qe.TimedOut() || errors.As(err, &oe) && oe.Op == "dial"
}

// expansion is the state of one Expand on one connection.
type expansion struct {
	cl       *Client
	server   string
	names    []string
	c        *conn
	v6       bool
	defaults string                     // comma-joined default sources; "" = server default
	current  string                     // sources currently selected on the connection
	keys     []key                      // prefixes found so far (pointer-free: cheap to grow and for the GC)
	asns     map[string]map[uint32]bool // source ("" = defaults) → origin ASNs
	st       *Stats
}

func (c *Client) expandOn(ctx context.Context, server string, q Query, objs []object, st *Stats) ([]netip.Prefix, error) {
	e := &expansion{cl: c, server: server, v6: q.Family == 6, st: st, asns: map[string]map[uint32]bool{}}
	for _, o := range objs {
		e.names = append(e.names, o.text)
	}
	d := net.Dialer{Timeout: c.cfg.DialTimeout}
	nc, err := d.DialContext(ctx, "tcp", server)
	if err != nil {
		return nil, &QueryError{Server: server, Sets: e.names, Timeout: c.cfg.DialTimeout, Err: fmt.Errorf("connecting: %w", err)}
	}
	defer nc.Close()
	// Cancelling the context unblocks any read or write at once.
	defer context.AfterFunc(ctx, func() { nc.SetDeadline(time.Unix(1, 0)) })()
	e.c = newConn(nc, c.cfg.QueryTimeout)
	if err := e.expand(objs, q.Sources); err != nil {
		return nil, err
	}
	e.c.send("!q")
	e.c.flush()
	st.Queries = e.c.sent
	keys := sortKeys(e.keys, e.v6)
	out := make([]netip.Prefix, len(keys))
	for i, k := range keys {
		out[i] = k.prefix(e.v6)
	}
	return out, nil
}

func (e *expansion) fail(query string, err error) error {
	var qe *QueryError
	if errors.As(err, &qe) {
		return err
	}
	return &QueryError{Server: e.server, Sets: e.names, Query: query, Timeout: e.cl.cfg.QueryTimeout, Err: err}
}

// request is a command and what to do with its answer.
type request struct {
	cmd    string
	handle func(answer) error
}

// run pipelines the requests: a goroutine writes them all while answers are
// read in order. That is where the speed comes from: one round trip for the
// whole batch instead of one per query. Writing and reading at the same time
// keeps both sides' buffers from filling up and deadlocking.
func (e *expansion) run(reqs []request) error {
	if len(reqs) == 0 {
		return nil
	}
	werr := make(chan error, 1)
	go func() {
		for i, r := range reqs {
			if i%1024 == 0 && e.cl.cfg.QueryTimeout > 0 {
				e.c.nc.SetWriteDeadline(time.Now().Add(e.cl.cfg.QueryTimeout))
			}
			if err := e.c.send(r.cmd); err != nil {
				werr <- err
				return
			}
		}
		werr <- e.c.flush()
	}()
	for _, r := range reqs {
		a, err := e.c.read()
		if err == nil {
			err = r.handle(a)
		}
		if err != nil {
			e.c.nc.Close() // unblocks the writer
			<-werr
			return e.fail(r.cmd, err)
		}
	}
	if err := <-werr; err != nil {
		return e.fail("", err)
	}
	return nil
}

func (e *expansion) expand(objs []object, sources []string) error {
	// Multiple-command mode, then say who we are. bgpq4 reads the !n answer
	// before anything else, so some servers expect that order.
	e.c.send("!!")
	if err := e.run([]request{{cmd: "!n" + e.cl.cfg.ClientID, handle: func(answer) error { return nil }}}); err != nil {
		return err
	}
	pinned, hasSet := false, false
	for _, o := range objs {
		pinned = pinned || o.source != ""
		hasSet = hasSet || !o.isASN
	}
	// Server-side expansion (!a) is only usable when no object is pinned to
	// a source: the pinned set must be resolved alone in its source.
	useA := false
	if hasSet && !pinned && !e.cl.cfg.DisableA {
		err := e.run([]request{{cmd: "!a", handle: func(a answer) error {
			// IRRd 4 answers a bare !a with this error; servers without !a
			// say something else. bgpq4 probes the same way.
			useA = a.code == 'F' && strings.HasPrefix(a.msg, "Missing required set name")
			return nil
		}}})
		if err != nil {
			return err
		}
	}
	var reqs []request
	if len(sources) > 0 {
		e.defaults = strings.ToUpper(strings.Join(sources, ","))
		reqs = append(reqs, e.selectSources(e.defaults)...)
	} else if pinned {
		// We will switch sources and must be able to switch back.
		reqs = append(reqs, request{cmd: "!s-lc", handle: func(a answer) error {
			if a.code != 'A' {
				return fmt.Errorf("cannot learn the server's default sources: answer %s", describe(a))
			}
			e.defaults = strings.TrimSpace(string(a.data))
			e.current = e.defaults
			return nil
		}})
	}
	if err := e.run(reqs); err != nil {
		return err
	}

	var retryWithI []object
	reqs = reqs[:0]
	var frontier []setRef
	already := map[string]bool{}
	for _, o := range objs {
		switch {
		case o.isASN:
			e.addASN(o.source, o.asn)
		case pinned:
			// Client-side recursion, bgpq4-style: a top-level set is
			// remembered by its full text, nested sets by name.
			if !already[o.text] {
				already[o.text] = true
				frontier = append(frontier, setRef{source: o.source, name: o.name})
			}
		case useA:
			reqs = append(reqs, e.queryA(o, &retryWithI))
		default:
			reqs = append(reqs, e.queryRecursive(o))
		}
	}
	if err := e.run(reqs); err != nil {
		return err
	}
	if len(retryWithI) > 0 {
		reqs = reqs[:0]
		for _, o := range retryWithI {
			reqs = append(reqs, e.queryRecursive(o))
		}
		if err := e.run(reqs); err != nil {
			return err
		}
	}
	if err := e.recurse(frontier, already); err != nil {
		return err
	}
	return e.queryRoutes()
}

type setRef struct{ source, name string }

// selectSources switches the connection's sources if needed.
func (e *expansion) selectSources(s string) []request {
	if s == e.current || s == "" {
		return nil
	}
	e.current = s
	return []request{{cmd: "!s" + s, handle: func(a answer) error {
		if a.code != 'C' {
			if a.code == 'F' {
				return &ServerError{Message: fmt.Sprintf("sources %s refused: %s", s, a.msg)}
			}
			return fmt.Errorf("sources %s: unexpected answer %s", s, describe(a))
		}
		return nil
	}}}
}

func (e *expansion) queryA(o object, retry *[]object) request {
	fam := "4"
	if e.v6 {
		fam = "6"
	}
	return request{cmd: "!a" + fam + o.name, handle: func(a answer) error {
		switch a.code {
		case 'A':
			e.st.ServerSideA = true
			e.addPrefixes(a.data)
		case 'D':
			e.st.NotFound = append(e.st.NotFound, o.name)
		case 'C':
		case 'F':
			// The probe said yes but the server will not do it after all:
			// fall back to member expansion.
			*retry = append(*retry, o)
		default:
			return fmt.Errorf("unexpected answer %s", describe(a))
		}
		return nil
	}}
}

func (e *expansion) queryRecursive(o object) request {
	return request{cmd: "!i" + o.name + ",1", handle: func(a answer) error {
		e.st.SetLookups++
		switch a.code {
		case 'A':
			fields(a.data, func(tok []byte) {
				if asn, ok := parseASN(string(tok)); ok && hasASPrefix(tok) {
					e.addASN("", asn)
				}
			})
		case 'D':
			e.st.NotFound = append(e.st.NotFound, o.name)
		case 'C':
		default:
			return answerError(a)
		}
		return nil
	}}
}

// recurse expands pinned sets level by level: all of one level's !i queries
// go out in one pipeline. A set is expanded once however often it appears,
// which is what makes loops harmless.
func (e *expansion) recurse(frontier []setRef, already map[string]bool) error {
	for depth := 0; len(frontier) > 0; depth++ {
		if depth >= e.cl.cfg.MaxDepth {
			for _, s := range frontier {
				e.st.DepthLimited = append(e.st.DepthLimited, s.name)
			}
			return nil
		}
		var next []setRef
		var reqs []request
		for _, s := range frontier {
			src := s.source
			if src == "" {
				src = e.defaults
			}
			reqs = append(reqs, e.selectSources(src)...)
			name := s.name
			reqs = append(reqs, request{cmd: "!i" + name, handle: func(a answer) error {
				e.st.SetLookups++
				switch a.code {
				case 'A':
					fields(a.data, func(tok []byte) {
						m := strings.ToUpper(string(tok))
						switch {
						case strings.HasPrefix(m, "AS-") || strings.ContainsAny(m, "-:"):
							// Members are resolved in the default sources,
							// as bgpq4 does: the pin applies to the set named
							// in the query only.
							if !already[m] && isSetName(m) && safeName(m) {
								already[m] = true
								next = append(next, setRef{name: m})
							}
						case strings.HasPrefix(m, "AS"):
							if asn, ok := parseASN(m); ok {
								e.addASN("", asn)
							}
						}
						// Anything else ("ANY", route-set members) is not an
						// origin and is ignored.
					})
				case 'D':
					e.st.NotFound = append(e.st.NotFound, name)
				case 'C':
				default:
					return answerError(a)
				}
				return nil
			}})
		}
		if err := e.run(reqs); err != nil {
			return err
		}
		frontier = next
	}
	return nil
}

func (e *expansion) addASN(source string, asn uint32) {
	if specialASN(asn) && !e.cl.cfg.ExpandSpecialASNs {
		if !slices.Contains(e.st.SkippedASNs, asn) {
			e.st.SkippedASNs = append(e.st.SkippedASNs, asn)
		}
		return
	}
	m := e.asns[source]
	if m == nil {
		m = map[uint32]bool{}
		e.asns[source] = m
	}
	m[asn] = true
}

// queryRoutes pipelines one !g (or !6) per origin ASN, ASNs pinned to a
// source after a switch to that source.
func (e *expansion) queryRoutes() error {
	cmd := "!gas"
	if e.v6 {
		cmd = "!6as"
	}
	var reqs []request
	srcs := make([]string, 0, len(e.asns))
	for s := range e.asns {
		srcs = append(srcs, s)
	}
	slices.Sort(srcs) // "" (the defaults) first
	for _, src := range srcs {
		sel := src
		if sel == "" {
			sel = e.defaults
		}
		reqs = append(reqs, e.selectSources(sel)...)
		asns := make([]uint32, 0, len(e.asns[src]))
		for a := range e.asns[src] {
			asns = append(asns, a)
		}
		slices.Sort(asns)
		e.st.ASNs += len(asns)
		for _, a := range asns {
			reqs = append(reqs, request{cmd: cmd + strconv.FormatUint(uint64(a), 10), handle: func(a answer) error {
				switch a.code {
				case 'A':
					e.addPrefixes(a.data)
				case 'C', 'D':
					e.st.EmptyASNs++
				default:
					return answerError(a)
				}
				return nil
			}})
		}
	}
	return e.run(reqs)
}

// addPrefixes collects the prefixes of the query's family from an answer;
// others, and tokens that are not prefixes, are ignored as bgpq4 does.
func (e *expansion) addPrefixes(data []byte) {
	fields(data, func(tok []byte) {
		if k, ok := parseKey4(tok); ok {
			if !e.v6 {
				e.keys = append(e.keys, k)
			}
			return
		}
		p, err := netip.ParsePrefix(string(tok))
		if err != nil {
			return
		}
		if k, is6 := keyOf(p); is6 == e.v6 {
			e.keys = append(e.keys, k)
		}
	})
}

// safeName reports whether a name from a server's answer may be sent back
// in a query: RPSL name characters only, nothing that could end the line.
func safeName(s string) bool {
	if s == "" || len(s) > maxNameLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !nameChar(s[i]) {
			return false
		}
	}
	return true
}

func hasASPrefix(tok []byte) bool {
	return len(tok) > 2 && (tok[0] == 'A' || tok[0] == 'a') && (tok[1] == 'S' || tok[1] == 's')
}

func answerError(a answer) error {
	if a.code == 'F' {
		return &ServerError{Message: a.msg}
	}
	return fmt.Errorf("unexpected answer %s", describe(a))
}

func describe(a answer) string {
	switch a.code {
	case 'A':
		return fmt.Sprintf("A (%d bytes)", len(a.data))
	case 'F':
		return "F " + a.msg
	}
	return string(a.code)
}

// parseKey4 is a fast path for IPv4 prefixes, most of a big answer. Host
// bits are cleared, as bgpq4 does.
func parseKey4(b []byte) (key, bool) {
	var a [4]byte
	i := 0
	for part := 0; part < 4; part++ {
		n, digits := 0, 0
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			n = n*10 + int(b[i]-'0')
			digits++
			i++
		}
		if digits == 0 || digits > 3 || n > 255 {
			return key{}, false
		}
		a[part] = byte(n)
		want := byte('.')
		if part == 3 {
			want = '/'
		}
		if i >= len(b) || b[i] != want {
			return key{}, false
		}
		i++
	}
	n, digits := 0, 0
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		n = n*10 + int(b[i]-'0')
		digits++
		i++
	}
	if i != len(b) || digits == 0 || digits > 2 || n > 32 {
		return key{}, false
	}
	k := key{hi: uint64(a[0])<<56 | uint64(a[1])<<48 | uint64(a[2])<<40 | uint64(a[3])<<32, bits: uint8(n)}
	return k.masked(n), true
}
