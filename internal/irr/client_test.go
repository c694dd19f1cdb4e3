package irr_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/peering-operator/peering-operator/internal/irr"
	"github.com/peering-operator/peering-operator/internal/irr/irrtest"
)

const smallFixture = `
as-set: AS-TOP
members: AS65500, AS-MID
source: ONE

as-set: AS-MID
members: AS13335, AS-TOP
source: ONE

as-set: AS-TOP
members: AS15169
source: TWO

route: 198.51.100.0/24
origin: AS65500
source: ONE

route: 104.16.0.0/13
origin: AS13335
source: ONE

route: 104.24.0.0/14
origin: AS13335
source: TWO

route6: 2606:4700::/32
origin: AS13335
source: ONE

route: 8.8.8.0/24
origin: AS15169
source: TWO
`

func prefixes(ss ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ss {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

func TestExpandPaths(t *testing.T) {
	srv := startServer(t, smallFixture)
	cases := []struct {
		name    string
		withA   bool
		q       irr.Query
		want    []netip.Prefix
		queries []string
	}{
		{
			name:    "server-side !a",
			withA:   true,
			q:       irr.Query{Sets: []string{"AS-TOP"}, Family: 4, Sources: []string{"ONE", "TWO"}},
			want:    prefixes("104.16.0.0/13", "104.24.0.0/14", "198.51.100.0/24"),
			queries: []string{"!!", "!npeering-operator/dev", "!a", "!sONE,TWO", "!a4AS-TOP", "!q"},
		},
		{
			name: "!i then pipelined !g, private ASN skipped",
			q:    irr.Query{Sets: []string{"AS-TOP"}, Family: 4, Sources: []string{"ONE", "TWO"}},
			want: prefixes("104.16.0.0/13", "104.24.0.0/14"),
			queries: []string{"!!", "!npeering-operator/dev", "!a", "!sONE,TWO", "!iAS-TOP,1",
				"!gas13335", "!q"},
		},
		{
			name: "pinned set: client-side recursion, loop cut, members in the default sources",
			q:    irr.Query{Sets: []string{"TWO::AS-TOP", "AS-MID"}, Family: 4, Sources: []string{"ONE"}},
			want: prefixes("104.16.0.0/13"), // AS15169's route is in TWO only
			queries: []string{"!!", "!npeering-operator/dev", "!sONE", "!sTWO", "!iAS-TOP", "!sONE", "!iAS-MID",
				"!iAS-TOP", "!gas13335", "!gas15169", "!q"},
		},
		{
			name:    "pinned ASN",
			q:       irr.Query{Sets: []string{"TWO::AS13335", "AS13335"}, Family: 4, Sources: []string{"ONE"}},
			want:    prefixes("104.16.0.0/13", "104.24.0.0/14"),
			queries: []string{"!!", "!npeering-operator/dev", "!sONE", "!gas13335", "!sTWO", "!gas13335", "!q"},
		},
		{
			name:    "IPv6",
			withA:   true,
			q:       irr.Query{Sets: []string{"AS-TOP"}, Family: 6, Sources: []string{"ONE"}},
			want:    prefixes("2606:4700::/32"),
			queries: []string{"!!", "!npeering-operator/dev", "!a", "!sONE", "!a6AS-TOP", "!q"},
		},
		{
			name:    "no sources: the server's default",
			q:       irr.Query{Sets: []string{"AS13335"}, Family: 4},
			want:    prefixes("104.16.0.0/13", "104.24.0.0/14"),
			queries: []string{"!!", "!npeering-operator/dev", "!gas13335", "!q"},
		},
		{
			name:    "pinned without sources learns the default with !s-lc",
			q:       irr.Query{Sets: []string{"TWO::AS-TOP"}, Family: 4},
			want:    prefixes("8.8.8.0/24"),
			queries: []string{"!!", "!npeering-operator/dev", "!s-lc", "!sTWO", "!iAS-TOP", "!sONE,TWO", "!gas15169", "!q"},
		},
		{
			name:    "empty answer is not an error",
			q:       irr.Query{Sets: []string{"AS-NOPE"}, Family: 4, Sources: []string{"ONE"}},
			queries: []string{"!!", "!npeering-operator/dev", "!a", "!sONE", "!iAS-NOPE,1", "!q"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv.SetASupport(tc.withA)
			srv.LogQueries(true)
			c := newClient(t, irr.Config{Servers: []string{srv.Addr()}})
			got, st, err := c.Expand(context.Background(), tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("prefixes = %v, want %v", got, tc.want)
			}
			// The server may not have logged !q yet when Expand returns.
			deadline := time.Now().Add(2 * time.Second)
			for len(srv.Queries()) < len(tc.queries) && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			if q := srv.Queries(); !slices.Equal(q, tc.queries) {
				t.Errorf("queries sent:\n%q\nwant\n%q", q, tc.queries)
			}
			if st.Server != srv.Addr() || st.Attempts != 1 || st.Prefixes != len(tc.want) {
				t.Errorf("stats = %+v", st)
			}
		})
	}
}

func TestExpandStats(t *testing.T) {
	srv := startServer(t, smallFixture)
	srv.SetASupport(false)
	c := newClient(t, irr.Config{Servers: []string{srv.Addr()}})
	_, st, err := c.Expand(context.Background(), irr.Query{Sets: []string{"AS-TOP", "AS-GONE", "AS4200000001"}, Family: 6, Sources: []string{"ONE"}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(st.NotFound, []string{"AS-GONE"}) || !slices.Equal(st.SkippedASNs, []uint32{4200000001, 65500}) || st.ASNs != 1 || st.EmptyASNs != 0 {
		t.Errorf("stats = %+v", st)
	}
}

// A chain deeper than MaxDepth is cut, and says so.
func TestExpandDepthLimit(t *testing.T) {
	var rpsl strings.Builder
	for i := range 10 {
		fmt.Fprintf(&rpsl, "as-set: AS-L%d\nmembers: AS%d, AS-L%d\nsource: ONE\n\n", i, 13000+i, i+1)
		fmt.Fprintf(&rpsl, "route: 45.%d.0.0/16\norigin: AS%d\nsource: ONE\n\n", i, 13000+i)
	}
	srv := startServer(t, rpsl.String())
	c := newClient(t, irr.Config{Servers: []string{srv.Addr()}, MaxDepth: 3})
	got, st, err := c.Expand(context.Background(), irr.Query{Sets: []string{"ONE::AS-L0"}, Family: 4})
	if err != nil {
		t.Fatal(err)
	}
	if want := prefixes("45.0.0.0/16", "45.1.0.0/16", "45.2.0.0/16"); !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if !slices.Equal(st.DepthLimited, []string{"AS-L3"}) {
		t.Errorf("DepthLimited = %v", st.DepthLimited)
	}
}

// The first server cuts its answer in the middle: the client retries it, then
// moves to the second server, which answers.
func TestExpandFailoverAfterDisconnect(t *testing.T) {
	bad := startServer(t, irrtest.DefaultFixture())
	good := startServer(t, irrtest.DefaultFixture())
	for _, withA := range []bool{true, false} {
		bad.SetASupport(withA)
		good.SetASupport(withA)
		cutOn := "!g"
		if withA {
			cutOn = "!a4"
		}
		bad.SetFaults(irrtest.Faults{Cut: true, CutOn: cutOn})
		c := newClient(t, irr.Config{Servers: []string{bad.Addr(), good.Addr()}, Retries: 1, RetryBackoff: time.Millisecond})
		q := irr.Query{Sets: []string{"AS-CLOUDFLARE"}, Family: 4, Sources: []string{"RADB", "RIPE"}}
		got, st, err := c.Expand(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		if st.Server != good.Addr() || st.Attempts != 3 || len(st.Errors) != 2 {
			t.Errorf("a=%v: stats = %+v", withA, st)
		}
		for _, e := range st.Errors {
			if !strings.Contains(e, bad.Addr()) || !strings.Contains(e, "AS-CLOUDFLARE") || !strings.Contains(e, "unexpected EOF") {
				t.Errorf("attempt error %q does not name the server, the set and the cut", e)
			}
		}
		want, _, err := newClient(t, irr.Config{Servers: []string{good.Addr()}}).Expand(context.Background(), q)
		if err != nil || !slices.Equal(got, want) || len(got) == 0 {
			t.Errorf("a=%v: failover answer %v differs from a direct one %v (%v)", withA, got, want, err)
		}
	}
}

// A slow server: the error names the server and the set, and says timeout.
func TestExpandTimeout(t *testing.T) {
	srv := startServer(t, irrtest.DefaultFixture())
	srv.SetASupport(false)
	srv.SetFaults(irrtest.Faults{Delay: 2 * time.Second, DelayOn: "!g"})
	c := newClient(t, irr.Config{Servers: []string{srv.Addr()}, QueryTimeout: 100 * time.Millisecond, Retries: -1})
	start := time.Now()
	_, st, err := c.Expand(context.Background(), irr.Query{Sets: []string{"AS3320:AS-DTAG"}, Family: 4, Sources: []string{"RIPE"}})
	if err == nil {
		t.Fatal("no error from a server slower than the timeout")
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("took %s to time out after 100ms", d)
	}
	var qe *irr.QueryError
	if !errors.As(err, &qe) || !qe.TimedOut() {
		t.Fatalf("error %v is not a timed-out QueryError", err)
	}
	for _, want := range []string{srv.Addr(), "AS3320:AS-DTAG", "!gas", "no answer within 100ms"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if st.Attempts != 1 {
		t.Errorf("attempts = %d with Retries -1", st.Attempts)
	}
}

// An F answer to a data query fails that server (no same-server retry: it
// would refuse again) and the next one is used.
func TestExpandServerError(t *testing.T) {
	bad := startServer(t, irrtest.DefaultFixture())
	good := startServer(t, irrtest.DefaultFixture())
	for _, s := range []*irrtest.Server{bad, good} {
		s.SetASupport(false)
	}
	bad.SetFaults(irrtest.Faults{Error: true, ErrorOn: "!i", ErrorMessage: "database is being reloaded"})
	c := newClient(t, irr.Config{Servers: []string{bad.Addr(), good.Addr()}, Retries: 3, RetryBackoff: time.Millisecond})
	got, st, err := c.Expand(context.Background(), irr.Query{Sets: []string{"AS-GOOGLE"}, Family: 6, Sources: []string{"RADB"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) == 0 || st.Attempts != 2 || !strings.Contains(st.Errors[0], "database is being reloaded") {
		t.Errorf("got %d prefixes, stats %+v", len(got), st)
	}
	// Only bad servers: the error carries every server's failure.
	c = newClient(t, irr.Config{Servers: []string{bad.Addr(), "127.0.0.1:1"}, Retries: -1})
	_, _, err = c.Expand(context.Background(), irr.Query{Sets: []string{"AS-GOOGLE"}, Family: 6})
	if err == nil || !strings.Contains(err.Error(), "database is being reloaded") || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("error = %v", err)
	}
}

// The probe says !a works but the real query is refused: fall back to !i.
func TestExpandAFallback(t *testing.T) {
	srv := startServer(t, irrtest.DefaultFixture())
	srv.SetFaults(irrtest.Faults{Error: true, ErrorOn: "!a4", ErrorMessage: "query too expensive"})
	srv.LogQueries(true)
	c := newClient(t, irr.Config{Servers: []string{srv.Addr()}})
	got, st, err := c.Expand(context.Background(), irr.Query{Sets: []string{"AS-CLOUDFLARE"}, Family: 4, Sources: []string{"RADB"}})
	if err != nil || len(got) == 0 || st.ServerSideA {
		t.Fatalf("got %d prefixes, stats %+v, err %v", len(got), st, err)
	}
	if q := srv.Queries(); !slices.Contains(q, "!iAS-CLOUDFLARE,1") {
		t.Errorf("no fallback to !i: %q", q)
	}
}

func TestExpandRejectsBadInput(t *testing.T) {
	c := newClient(t, irr.Config{Servers: []string{"127.0.0.1:1"}})
	for _, q := range []irr.Query{
		{Sets: []string{"AS-FOO\n!q"}, Family: 4},
		{Sets: []string{"AS-FOO !sX"}, Family: 4},
		{Sets: []string{"RIPE,X::AS-FOO"}, Family: 4},
		{Sets: []string{"RS-FOO"}, Family: 4},
		{Sets: []string{"FOO"}, Family: 4},
		{Sets: []string{"AS-FOO"}, Family: 5},
		{Sets: []string{"AS-FOO"}, Family: 4, Sources: []string{"RIPE\n"}},
		{Family: 4},
	} {
		if _, _, err := c.Expand(context.Background(), q); err == nil || strings.Contains(err.Error(), "127.0.0.1:1") {
			t.Errorf("%q: want a validation error before connecting, got %v", q.Sets, err)
		}
	}
	if _, err := irr.New(irr.Config{}); err == nil {
		t.Error("New without servers")
	}
	if _, err := irr.New(irr.Config{Servers: []string{"no-port"}}); err == nil {
		t.Error("New with a server without port")
	}
}

func TestExpandContextCancel(t *testing.T) {
	srv := startServer(t, irrtest.DefaultFixture())
	srv.SetFaults(irrtest.Faults{Delay: 5 * time.Second})
	c := newClient(t, irr.Config{Servers: []string{srv.Addr()}})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, _, err := c.Expand(ctx, irr.Query{Sets: []string{"AS-GOOGLE"}, Family: 4})
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 2*time.Second {
		t.Errorf("err = %v after %s", err, time.Since(start))
	}
}

// A server that is down (connection refused) is skipped: tried once, not
// retried, and not tried again while its breaker is open.
func TestExpandDialFailure(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := ln.Addr().String()
	ln.Close()
	srv := startServer(t, irrtest.DefaultFixture())
	c := newClient(t, irr.Config{Servers: []string{dead, srv.Addr()}, RetryBackoff: time.Millisecond})
	got, st, err := c.Expand(context.Background(), irr.Query{Sets: []string{"AS13335"}, Family: 4})
	if err != nil || len(got) == 0 || st.Server != srv.Addr() || st.Attempts != 2 {
		t.Errorf("got %d prefixes, stats %+v, err %v", len(got), st, err)
	}
	_, st, err = c.Expand(context.Background(), irr.Query{Sets: []string{"AS13335"}, Family: 4})
	if err != nil || st.Attempts != 1 || st.Server != srv.Addr() {
		t.Errorf("with the dead server cooling down: stats %+v, err %v", st, err)
	}
}

// A server that accepts the connection and never answers costs one query
// timeout, once: the breaker opens, the next server answers, and later
// expansions do not go near it (no new connection) until it cools down.
// With every server cooling down an expansion fails at once, saying so.
func TestExpandSkipsAServerThatNeverAnswers(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var held []net.Conn
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, conn) // accepted, never answered
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range held {
			c.Close()
		}
		mu.Unlock()
	})
	accepted := func() int { mu.Lock(); defer mu.Unlock(); return len(held) }
	srv := startServer(t, irrtest.DefaultFixture())
	c := newClient(t, irr.Config{Servers: []string{ln.Addr().String(), srv.Addr()}, QueryTimeout: 200 * time.Millisecond,
		RetryBackoff: time.Millisecond, Cooldown: time.Hour})
	q := irr.Query{Sets: []string{"AS13335"}, Family: 4}
	for i := range 5 {
		_, st, err := c.Expand(context.Background(), q)
		if err != nil || st.Server != srv.Addr() {
			t.Fatalf("expansion %d: stats %+v, err %v", i, st, err)
		}
	}
	if n := accepted(); n != 1 {
		t.Errorf("the silent server got %d connections over 5 expansions, want 1", n)
	}
	only := newClient(t, irr.Config{Servers: []string{ln.Addr().String()}, QueryTimeout: 200 * time.Millisecond, Cooldown: time.Hour})
	if _, _, err := only.Expand(context.Background(), q); err == nil {
		t.Fatal("a silent server answered")
	}
	before := accepted()
	if _, _, err := only.Expand(context.Background(), q); err == nil || !strings.Contains(err.Error(), "cooling down") || accepted() != before {
		t.Errorf("every server cooling down: %v, %d new connections", err, accepted()-before)
	}
}

func TestParseSetList(t *testing.T) {
	for _, tc := range []struct {
		in        string
		sets, bad []string
	}{
		{"RIPE::AS-RETN RIPE::AS-RETN6", []string{"RIPE::AS-RETN", "RIPE::AS-RETN6"}, nil},
		{"AS3320:AS-DTAG AS3320:AS-DTAG-V6", []string{"AS3320:AS-DTAG", "AS3320:AS-DTAG-V6"}, nil},
		{"as-foo, AS-BAR@radb", []string{"AS-FOO", "RADB::AS-BAR"}, nil},
		{"AS13335", []string{"AS13335"}, nil},
		{"", nil, nil},
		{"AS-FOO see website", []string{"AS-FOO"}, []string{"see", "website"}},
		// PeeringDB's validator grammar: AS<n> only, no reserved ASN, a known
		// source, and the same answer as PeeringDB's own parser.
		{"1 AS0 AS23456 AS65535 AS4294967295 AS8763", []string{"AS8763"}, []string{"1", "AS0", "AS23456", "AS65535", "AS4294967295"}},
		{"::AS-FOO RIPE::AS-FOO FOO::AS-BAR RS-FOO", []string{"RIPE::AS-FOO"}, []string{"::AS-FOO", "FOO::AS-BAR", "RS-FOO"}},
		{"AS-FOO as-foo", []string{"AS-FOO"}, nil},
	} {
		sets, bad, err := irr.ParseSetList(tc.in)
		if err != nil || !slices.Equal(sets, tc.sets) || !slices.Equal(bad, tc.bad) {
			t.Errorf("ParseSetList(%q) = %q, %q, %v; want %q, %q", tc.in, sets, bad, err, tc.sets, tc.bad)
		}
	}
	// A control character anywhere: nothing is used.
	for _, in := range []string{"AS-FOO\nneighbor 1.2.3.4 remote-as 1", "AS-FOO\tAS-BAR", "AS-FOO\x00"} {
		if sets, bad, err := irr.ParseSetList(in); !errors.Is(err, irr.ErrCorruptField) || sets != nil || bad != nil {
			t.Errorf("ParseSetList(%q) = %q, %q, %v; want ErrCorruptField and nothing", in, sets, bad, err)
		}
	}
}
