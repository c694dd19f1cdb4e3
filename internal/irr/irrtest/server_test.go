package irrtest_test

import (
	"bufio"
	"io"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/peering-operator/peering-operator/internal/irr/irrtest"
)

const fixture = `
% a comment line, as whois servers print them
as-set:   AS-ONE
members:  AS13335, AS-TWO # trailing comment
+         AS15169
source:   RIPE

as-set:   AS-TWO
members:  AS-ONE, AS6939
source:   RIPE

as-set:   AS-ONE
members:  AS3320
source:   RADB

route:    104.16.0.0/13
origin:   AS13335
source:   RIPE

route:    104.16.0.0/13
origin:   AS13335
source:   RADB

route6:   2606:4700::/32
origin:   AS13335
source:   RIPE

route:    8.8.8.0/24
origin:   as15169
source:   RIPE

route:    216.218.128.0/17
origin:   AS6939
source:   RADB
`

func start(t *testing.T, rpsl ...string) *irrtest.Server {
	t.Helper()
	srv, err := irrtest.Start("127.0.0.1:0", rpsl...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

// exchange sends the commands at once (pipelined) and returns everything the
// server writes until it closes the connection.
func exchange(t *testing.T, addr string, cmds ...string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, strings.Join(cmds, "\n")+"\n"); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestProtocol(t *testing.T) {
	srv := start(t, fixture)
	if got := srv.Sources(); !slices.Equal(got, []string{"RIPE", "RADB"}) {
		t.Errorf("sources = %v", got)
	}
	got := exchange(t, srv.Addr(),
		"!!", "!nclient 1.0", "!s-lc", "!iAS-ONE", "!iAS-ONE,1", "!gAS13335", "!6as13335", "!gAS64500",
		"!iAS-NONE,1", "!a", "!a4AS-ONE", "!a6AS-ONE", "!aAS-ONE", "!sRADB", "!iAS-ONE,1", "!gas13335",
		"!sRADB,NOPE", "!x", "!v", "!q", "!v")
	want := strings.Join([]string{
		"C",                     // !n
		"A10", "RIPE,RADB", "C", // !s-lc: the fixture's sources, in order
		"A23", "AS13335 AS-TWO AS15169", "C", // !i: members as written, continuation joined
		"A23", "AS6939 AS13335 AS15169", "C", // !i,1: loop through AS-TWO cut; RIPE's AS-ONE wins over RADB's
		"A14", "104.16.0.0/13", "C", // !g: deduplicated across sources
		"A15", "2606:4700::/32", "C",
		"D", // !g of an origin without routes
		"D", // unknown set
		"F Missing required set name for A query", // the !a probe, as IRRd 4 answers it
		"A42", "216.218.128.0/17 104.16.0.0/13 8.8.8.0/24", "C",
		"A15", "2606:4700::/32", "C",
		"A57", "216.218.128.0/17 104.16.0.0/13 2606:4700::/32 8.8.8.0/24", "C",
		"C",                 // !sRADB
		"A7", "AS3320", "C", // RADB's AS-ONE
		"A14", "104.16.0.0/13", "C",
		"F One or more selected sources are unavailable: NOPE",
		"F Unrecognised command: x",
		"A32", "IRRd -- version 4.4.4 (irrtest)", "C",
		// !q closes: the last !v is not answered
	}, "\n") + "\n"
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

// Without !! (or -k) the server answers one query and closes, as IRRd does.
func TestSingleCommandMode(t *testing.T) {
	srv := start(t, fixture)
	if got := exchange(t, srv.Addr(), "!v", "!v"); got != "A32\nIRRd -- version 4.4.4 (irrtest)\nC\n" {
		t.Errorf("got %q", got)
	}
	if got := exchange(t, srv.Addr(), "-k", "!v", "!q"); strings.Count(got, "IRRd") != 1 {
		t.Errorf("-k: got %q", got)
	}
}

func TestASupportSwitch(t *testing.T) {
	srv := start(t, fixture)
	srv.SetASupport(false)
	if got := exchange(t, srv.Addr(), "!!", "!a", "!a4AS-ONE", "!q"); got != "F Unrecognised command: a\nF Unrecognised command: a\n" {
		t.Errorf("got %q", got)
	}
}

func TestFaults(t *testing.T) {
	srv := start(t, fixture)

	srv.SetFaults(irrtest.Faults{Error: true, ErrorOn: "!g", ErrorMessage: "boom"})
	if got := exchange(t, srv.Addr(), "!!", "!iAS-TWO", "!gAS13335", "!q"); got != "A14\nAS-ONE AS6939\nC\nF boom\n" {
		t.Errorf("error fault: %q", got)
	}

	srv.SetFaults(irrtest.Faults{Cut: true, CutOn: "!a4"})
	got := exchange(t, srv.Addr(), "!!", "!v", "!a4AS-ONE", "!v")
	if !strings.HasPrefix(got, "A32\nIRRd") || !strings.HasSuffix(got, "A42\n216.218.128.0/17 104") {
		t.Errorf("cut fault: %q", got)
	}

	srv.SetFaults(irrtest.Faults{Delay: 300 * time.Millisecond, DelayOn: "!v"})
	start := time.Now()
	exchange(t, srv.Addr(), "!!", "!n", "!v", "!q")
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Errorf("delay fault: answered after %s", d)
	}

	srv.SetFaults(irrtest.Faults{})
	srv.LogQueries(true)
	exchange(t, srv.Addr(), "!!", "!v", "!q")
	if q := srv.Queries(); !slices.Equal(q, []string{"!!", "!v", "!q"}) {
		t.Errorf("log = %q", q)
	}
}

func TestBadFixture(t *testing.T) {
	for _, bad := range []string{
		"route: 10.0.0.0/8\norigin: AS1\n",             // no source
		"route: 10.0.0.0/33\norigin: AS1\nsource: X\n", // bad prefix
		"route6: 10.0.0.0/8\norigin: AS1\nsource: X\n", // wrong family
		"route: 10.0.0.0/8\norigin: ASX\nsource: X\n",  // bad origin
		" continuation\n",                              // outside an object
		"no colon here\n",                              // not an attribute
		"aut-num: 65000\nsource: X\n",                  // not AS65000
	} {
		if _, err := irrtest.Start("127.0.0.1:0", bad); err == nil {
			t.Errorf("fixture %q loaded", bad)
		}
	}
}

// The embedded fixture loads and holds the sets PeeringDB names.
func TestDefaultFixture(t *testing.T) {
	srv := start(t, irrtest.DefaultFixture())
	got := exchange(t, srv.Addr(), "!!", "!sRIPE", "!iAS3320:AS-DTAG,1", "!iAS-RETN", "!sRADB", "!iAS-CLOUDFLARE", "!iAS-RETN", "!q")
	for _, want := range []string{"AS3320 ", "AS9002 AS-RETN-CUSTOMERS", "AS13335 AS209242", "AS9002 AS33333"} {
		if !strings.Contains(got, want) {
			t.Errorf("answer lacks %q:\n%s", want, got)
		}
	}
}

func TestLargeFixture(t *testing.T) {
	rpsl := irrtest.LargeFixture(100_000)
	if n := strings.Count(rpsl, "\nroute: "); n < 100_000 {
		t.Errorf("%d route objects, want at least 100000", n)
	}
	if rpsl != irrtest.LargeFixture(100_000) {
		t.Error("LargeFixture is not deterministic")
	}
	srv := start(t, rpsl)
	got := exchange(t, srv.Addr(), "!!", "!i"+irrtest.LargeSet+",1", "!q")
	if n := strings.Count(got, "AS"); n != 2000 {
		t.Errorf("%s expands to %d ASNs, want 2000", irrtest.LargeSet, n)
	}
}

// TestWhatBGPQ4Sends records bgpq4's queries, which is what the server must
// understand and what our client imitates. Observed with Debian's bgpq4 1.9:
// "!!", "!n<version>", a bare "!a" probe when there are AS-SETs (answered
// "F Missing required set name for A query" by servers that have !a), the
// -S sources, then "!a4SET" or "!iSET,1", the default sources again, one
// "!gasN" per origin ASN, "!q". A SOURCE::SET object switches bgpq4 to
// client-side recursion with non-recursive "!iSET" queries.
func TestWhatBGPQ4Sends(t *testing.T) {
	bin, err := exec.LookPath("bgpq4")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("bgpq4 is not installed, and CI=true")
		}
		t.Skip("bgpq4 is not installed")
	}
	srv := start(t, fixture)
	for _, tc := range []struct {
		withA bool
		args  []string
		want  []string
	}{
		{true, []string{"-S", "RIPE", "AS-ONE"}, []string{"!!", "!nbgpq4 *", "!a", "!sRIPE", "!a4AS-ONE", "!sRIPE", "!q"}},
		{false, []string{"-S", "RIPE", "AS-ONE"}, []string{"!!", "!nbgpq4 *", "!a", "!sRIPE", "!iAS-ONE,1", "!sRIPE",
			"!gas6939", "!gas13335", "!gas15169", "!q"}},
		{true, []string{"-S", "RIPE", "-6", "RADB::AS-ONE"}, []string{"!!", "!nbgpq4 *", "!a", "!sRIPE", "!sRADB", "!iAS-ONE",
			"!sRIPE", "!6as3320", "!q"}},
	} {
		srv.SetASupport(tc.withA)
		srv.LogQueries(true)
		args := append([]string{"-h", srv.Addr(), "-A", "-j"}, tc.args...)
		if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
			t.Fatalf("bgpq4 %v: %v\n%s", args, err, out)
		}
		got := srv.Queries()
		if len(got) != len(tc.want) {
			t.Errorf("bgpq4 %v sent %q, want %q", tc.args, got, tc.want)
			continue
		}
		for i := range got {
			if w, ok := strings.CutSuffix(tc.want[i], "*"); ok && strings.HasPrefix(got[i], w) || got[i] == tc.want[i] {
				continue
			}
			t.Errorf("bgpq4 %v sent %q, want %q", tc.args, got, tc.want)
			break
		}
	}
}

// The server answers pipelined queries in order and in one go.
func TestPipelining(t *testing.T) {
	srv := start(t, irrtest.LargeFixture(2000))
	c, err := net.Dial("tcp", srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var req strings.Builder
	req.WriteString("!!\n")
	for a := 200000; a < 200040; a++ {
		req.WriteString("!gas" + strconv.Itoa(a) + "\n")
	}
	req.WriteString("!q\n")
	io.WriteString(c, req.String())
	r := bufio.NewReader(c)
	answers := 0
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			break
		}
		if line == "C\n" || line == "D\n" {
			answers++
		}
	}
	if answers != 40 {
		t.Errorf("%d answers to 40 pipelined queries", answers)
	}
}
