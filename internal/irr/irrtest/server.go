// Package irrtest is an IRRd-protocol whois server fed from RPSL text, for
// tests, benchmarks and `make dev`. It answers what bgpq4 and our client
// send (!!, !n, !s, !s-lc, !i, !i…,1, !g, !6, !a/!a4/!a6, !v, !t, !q, -k),
// the way IRRd 4 does, and can be told to misbehave: slow answers, a
// connection cut in the middle of an answer, "F" errors.
//
// From another program:
//
//	srv, err := irrtest.Start("127.0.0.1:4343", irrtest.DefaultFixture())
//	...
//	defer srv.Close()
package irrtest

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Faults make the server misbehave. A zero Faults is a well-behaved server.
// Each field applies to queries whose command starts with the matching "On"
// string ("!g", "!a4AS-FOO", …); an empty "On" string means every query.
type Faults struct {
	// Delay holds each matching answer back this long.
	Delay   time.Duration
	DelayOn string
	// Cut writes half of a matching data answer, then drops the connection.
	Cut   bool
	CutOn string
	// Error answers matching queries with "F <ErrorMessage>".
	Error        bool
	ErrorOn      string
	ErrorMessage string
}

func matches(on, cmd string) bool { return on == "" || strings.HasPrefix(cmd, on) }

// Server is a running IRRd-protocol server.
type Server struct {
	ln    net.Listener
	db    atomic.Pointer[db]
	cache sync.Map // answer cache, dropped whenever Replace swaps the data

	mu       sync.Mutex
	faults   Faults
	noA      bool
	logOn    bool
	log      []string
	conns    map[net.Conn]bool
	closed   bool
	wg       sync.WaitGroup
	queries  atomic.Int64
	accepted atomic.Int64
	done     chan struct{} // closed by Close: cuts fault delays short
}

// Start loads the RPSL fixtures and listens on addr ("127.0.0.1:0" for any
// free port). Close stops it.
func Start(addr string, fixtures ...string) (*Server, error) {
	d := newDB()
	for i, f := range fixtures {
		if err := d.load(f); err != nil {
			return nil, fmt.Errorf("irrtest: fixture %d: %w", i, err)
		}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("irrtest: %w", err)
	}
	s := &Server{ln: ln, conns: map[net.Conn]bool{}, done: make(chan struct{})}
	s.db.Store(d)
	s.wg.Add(1)
	go s.acceptLoop()
	return s, nil
}

// Replace swaps the server's data for the given fixtures, as an IRR whose
// objects changed: later queries see the new data.
func (s *Server) Replace(fixtures ...string) error {
	d := newDB()
	for i, f := range fixtures {
		if err := d.load(f); err != nil {
			return fmt.Errorf("irrtest: fixture %d: %w", i, err)
		}
	}
	s.db.Store(d)
	s.cache.Clear()
	return nil
}

// Addr is the host:port the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Sources lists the fixture's sources in order of first appearance; that is
// also the default source selection.
func (s *Server) Sources() []string { return slices.Clone(s.db.Load().sources) }

// Close stops listening, drops open connections and waits for them.
func (s *Server) Close() error {
	s.mu.Lock()
	if !s.closed {
		close(s.done)
	}
	s.closed = true
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	err := s.ln.Close()
	s.wg.Wait()
	return err
}

// SetASupport switches the !a query (server-side AS-SET to prefix
// expansion) on or off; it is on by default. Off, the server answers !a the
// way servers without it do, and clients must fall back to !i and !g.
func (s *Server) SetASupport(on bool) {
	s.mu.Lock()
	s.noA = !on
	s.mu.Unlock()
}

// SetFaults replaces the fault configuration for the queries that follow.
func (s *Server) SetFaults(f Faults) {
	s.mu.Lock()
	s.faults = f
	s.mu.Unlock()
}

// LogQueries starts (and clears) or stops recording every command received.
func (s *Server) LogQueries(on bool) {
	s.mu.Lock()
	s.logOn, s.log = on, nil
	s.mu.Unlock()
}

// Queries returns the commands recorded since LogQueries(true).
func (s *Server) Queries() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.log)
}

// Stats returns the number of connections accepted and commands answered.
func (s *Server) Stats() (connections, queries int64) {
	return s.accepted.Load(), s.queries.Load()
}

func (s *Server) acceptLoop() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.conns[c] = true
		s.wg.Add(1)
		s.mu.Unlock()
		s.accepted.Add(1)
		go func() {
			defer s.wg.Done()
			s.serve(c)
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
		}()
	}
}

// session is one connection's state, as in IRRd: multiple-command mode and
// the selected sources persist across commands.
type session struct {
	multi bool
	srcs  []string
}

func (s *Server) serve(c net.Conn) {
	defer c.Close()
	r := bufio.NewReaderSize(c, 64<<10)
	w := bufio.NewWriterSize(c, 64<<10)
	sess := &session{srcs: s.db.Load().sources}
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			w.Flush()
			return
		}
		cmd := strings.TrimRight(line, "\r\n")
		if strings.TrimSpace(cmd) == "" {
			continue
		}
		s.queries.Add(1)
		s.mu.Lock()
		f, noA := s.faults, s.noA
		if s.logOn {
			s.log = append(s.log, cmd)
		}
		s.mu.Unlock()

		resp, quit := s.answer(sess, cmd, noA)
		if f.Error && matches(f.ErrorOn, cmd) && resp != nil {
			resp = []byte("F " + f.ErrorMessage + "\n")
		}
		if f.Delay > 0 && matches(f.DelayOn, cmd) {
			w.Flush()
			select {
			case <-time.After(f.Delay):
			case <-s.done:
				return
			}
		}
		if f.Cut && matches(f.CutOn, cmd) && len(resp) > 0 && resp[0] == 'A' {
			w.Write(resp[:len(resp)/2])
			w.Flush()
			return
		}
		w.Write(resp)
		if quit || (!sess.multi && resp != nil) {
			w.Flush()
			return
		}
		// Answers to pipelined queries go out together; flush once the
		// client has nothing more queued.
		if r.Buffered() == 0 {
			if err := w.Flush(); err != nil {
				return
			}
		}
	}
}

const version = "IRRd -- version 4.4.4 (irrtest)"

// answer computes the reply to one command; nil means no reply. quit closes
// the connection after the reply.
func (s *Server) answer(sess *session, cmd string, noA bool) (resp []byte, quit bool) {
	if strings.HasPrefix(cmd, "-") {
		// RIPE-style flags: only -k (keep the connection open) matters.
		for _, f := range strings.Fields(cmd) {
			if f == "-k" {
				sess.multi = true
			}
		}
		return nil, false
	}
	if !strings.HasPrefix(cmd, "!") || len(cmd) < 2 {
		return fail("Unrecognised command: " + cmd), false
	}
	op, arg := cmd[1], cmd[2:]
	switch op {
	case '!':
		sess.multi = true
		return nil, false
	case 'q':
		return nil, true
	case 'n', 't':
		return ok(), false
	case 'v':
		return data(version), false
	case 's':
		if arg == "-lc" {
			return data(strings.Join(sess.srcs, ",")), false
		}
		if arg == "" {
			return fail("Missing parameter for s query"), false
		}
		var srcs []string
		for _, x := range strings.Split(strings.ToUpper(arg), ",") {
			x = strings.TrimSpace(x)
			if !slices.Contains(s.db.Load().sources, x) {
				return fail("One or more selected sources are unavailable: " + x), false
			}
			if !slices.Contains(srcs, x) {
				srcs = append(srcs, x)
			}
		}
		sess.srcs = srcs
		return ok(), false
	case 'i':
		if arg == "" {
			return fail("Missing parameter for i query"), false
		}
		return s.setMembers(sess.srcs, arg), false
	case 'g', '6':
		asn, okASN := parseASNLoose(arg)
		if !okASN {
			return fail("Invalid AS number " + arg), false
		}
		return s.originRoutes(sess.srcs, asn, op == '6'), false
	case 'a':
		if noA {
			return fail("Unrecognised command: a"), false
		}
		fam := 0
		if strings.HasPrefix(arg, "4") {
			fam, arg = 4, arg[1:]
		} else if strings.HasPrefix(arg, "6") {
			fam, arg = 6, arg[1:]
		}
		if arg == "" {
			return fail("Missing required set name for A query"), false
		}
		return s.setRoutes(sess.srcs, strings.ToUpper(arg), fam), false
	}
	return fail("Unrecognised command: " + string(op)), false
}

func (s *Server) setMembers(srcs []string, arg string) []byte {
	name, recursive := strings.CutSuffix(arg, ",1")
	name = strings.ToUpper(name)
	if !recursive {
		ms, found := s.db.Load().members(srcs, name)
		if !found || len(ms) == 0 {
			return notFound()
		}
		var out []string
		for _, m := range ms {
			if !slices.Contains(out, m) {
				out = append(out, m)
			}
		}
		return data(strings.Join(out, " "))
	}
	key := "i\x00" + strings.Join(srcs, ",") + "\x00" + name
	if v, hit := s.cache.Load(key); hit {
		return v.([]byte)
	}
	asns, found := s.db.Load().expand(srcs, name)
	var resp []byte
	if !found || len(asns) == 0 {
		resp = notFound()
	} else {
		b := make([]byte, 0, len(asns)*9)
		for i, a := range asns {
			if i > 0 {
				b = append(b, ' ')
			}
			b = append(b, "AS"...)
			b = strconv.AppendUint(b, uint64(a), 10)
		}
		resp = data(string(b))
	}
	s.cache.Store(key, resp)
	return resp
}

func (s *Server) originRoutes(srcs []string, asn uint32, v6 bool) []byte {
	key := fmt.Sprintf("g\x00%s\x00%d\x00%t", strings.Join(srcs, ","), asn, v6)
	if v, hit := s.cache.Load(key); hit {
		return v.([]byte)
	}
	ps := s.db.Load().routesOf(srcs, asn, v6, map[netip.Prefix]bool{}, nil)
	resp := prefixAnswer(ps)
	s.cache.Store(key, resp)
	return resp
}

func (s *Server) setRoutes(srcs []string, name string, fam int) []byte {
	key := fmt.Sprintf("a\x00%s\x00%s\x00%d", strings.Join(srcs, ","), name, fam)
	if v, hit := s.cache.Load(key); hit {
		return v.([]byte)
	}
	asns, found := s.db.Load().expand(srcs, name)
	var resp []byte
	if !found {
		resp = notFound()
	} else {
		seen := map[netip.Prefix]bool{}
		var ps []netip.Prefix
		for _, a := range asns {
			if fam != 6 {
				ps = s.db.Load().routesOf(srcs, a, false, seen, ps)
			}
			if fam != 4 {
				ps = s.db.Load().routesOf(srcs, a, true, seen, ps)
			}
		}
		resp = prefixAnswer(ps)
	}
	s.cache.Store(key, resp)
	return resp
}

func prefixAnswer(ps []netip.Prefix) []byte {
	if len(ps) == 0 {
		return notFound()
	}
	b := make([]byte, 0, len(ps)*19)
	for i, p := range ps {
		if i > 0 {
			b = append(b, ' ')
		}
		b = p.AppendTo(b)
	}
	return data(string(b))
}

// parseASNLoose accepts "AS65000", "as65000" and "65000", as IRRd does.
func parseASNLoose(s string) (uint32, bool) {
	if a, ok := parseASN(s); ok {
		return a, true
	}
	n, err := strconv.ParseUint(s, 10, 32)
	return uint32(n), err == nil
}

// IRRd answer encodings. The length counts the data's final newline.
func data(d string) []byte {
	if d == "" {
		return ok()
	}
	b := make([]byte, 0, len(d)+16)
	b = append(b, 'A')
	b = strconv.AppendInt(b, int64(len(d)+1), 10)
	b = append(b, '\n')
	b = append(b, d...)
	return append(b, "\nC\n"...)
}

func ok() []byte             { return []byte("C\n") }
func notFound() []byte       { return []byte("D\n") }
func fail(msg string) []byte { return []byte("F " + msg + "\n") }
