// Package clitest runs the CLI drivers against recorded device sessions
// (scrapligo's file transport) and checks what they typed.
package clitest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scrapli/scrapligo/transport"

	"github.com/peering-operator/peering-operator/internal/router"
	"github.com/peering-operator/peering-operator/internal/router/cli"
)

// Recording is one recorded session: the file holds what the device
// prints, our echoed input included.
type Recording struct {
	Path string
	File *transport.File
}

// Open returns a driver configuration that "connects" to
// testdata/<fixture>.
func Open(t testing.TB, fixture string) (cli.Config, *Recording) {
	t.Helper()
	ft, _ := transport.NewFileTransport()
	ft.F = filepath.Join("testdata", fixture)
	// The file transport returns one byte per read: poll fast. A command
	// the recording does not expect waits for its echo until the
	// timeout.
	cfg := cli.Config{Host: "recorded", Username: "po", Password: "login-pw", Transport: ft,
		CommandTimeout: 10 * time.Second, ReadDelay: time.Nanosecond}
	return cfg, &Recording{Path: ft.F, File: ft}
}

// Sent lists the lines written to the device.
func (r *Recording) Sent() []string {
	var out []string
	for _, l := range strings.Split(string(bytes.Join(r.File.Writes, nil)), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// Expected lists what the recording shows typed after each prompt
// (matched by prompt), i.e. exactly what the driver must send.
func (r *Recording) Expected(t testing.TB, prompt *regexp.Regexp) []string {
	t.Helper()
	b, err := os.ReadFile(r.Path)
	if err != nil {
		t.Fatal(err)
	}
	var cmds []string
	for _, l := range strings.Split(string(b), "\n") {
		if loc := prompt.FindStringIndex(l); loc != nil && loc[0] == 0 {
			if c := strings.TrimSpace(l[loc[1]:]); c != "" {
				cmds = append(cmds, c)
			}
		}
	}
	return cmds
}

// AssertSent checks that the driver typed exactly what the recording
// shows, and returns it.
func (r *Recording) AssertSent(t testing.TB, prompt *regexp.Regexp) []string {
	t.Helper()
	got, want := r.Sent(), r.Expected(t, prompt)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("sent:\n%s\n--- the recording expects:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	return got
}

// Index returns the position of line in sent, failing the test if absent.
func Index(t testing.TB, sent []string, line string) int {
	t.Helper()
	for i, l := range sent {
		if l == line {
			return i
		}
	}
	t.Fatalf("not sent: %q", line)
	return -1
}

// Golden compares got with testdata/name, rewriting it when update is set.
func Golden(t testing.TB, update bool, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if update {
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if !bytes.Equal(want, got) {
		t.Errorf("%s differs (-update to accept):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

// Read returns testdata/name.
func Read(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Recorded returns a driver made by newDriver that runs against the
// recorded session testdata/fixture, closed when the test ends.
func Recorded[D io.Closer](t testing.TB, fixture string, newDriver func(cli.Config) D) (D, *Recording) {
	t.Helper()
	cfg, rec := Open(t, fixture)
	d := newDriver(cfg)
	t.Cleanup(func() { d.Close() })
	return d, rec
}

// Sample is the desired state the driver tests apply: an IPv6 neighbor
// shut down and an IPv4 one with a password, a prefix limit and imports.
func Sample() router.Desired {
	addr, pfx := netip.MustParseAddr, netip.MustParsePrefix
	return router.Desired{LocalASN: 65000, RouterID: addr("192.0.2.1"), Neighbors: []router.Neighbor{
		{Address: addr("2001:db8::3"), PeerASN: 4200000001, Owner: "peers/as4200000001", Shutdown: true},
		{Address: addr("192.0.2.2"), PeerASN: 65001, Owner: "peers/as65001", Description: "Example Net", Password: "s3cret-md5", MaxPrefixes: 100,
			Import: []router.Entry{{Prefix: pfx("203.0.113.0/24"), Exact: true}, {Prefix: pfx("10.0.0.0/8"), GE: 8, LE: 24}, {Prefix: pfx("198.51.100.0/24"), GE: 25, LE: 32}}},
	}}
}

// WithExport gives d's neighbors what they announce and where their
// routes come from: 192.0.2.2 is a peer at IX 1234 announcing two
// prefixes, 2001:db8::3 a route server there announcing nothing.
func WithExport(d router.Desired) router.Desired {
	pfx := netip.MustParsePrefix
	d.Neighbors = slices.Clone(d.Neighbors)
	for i := range d.Neighbors {
		n := &d.Neighbors[i]
		n.IXID = 1234
		if n.Address.Is4() {
			n.Learned = router.LearnedPeer
			n.Export = []router.Entry{{Prefix: pfx("198.18.0.0/15"), Exact: true}, {Prefix: pfx("100.64.0.0/10"), GE: 16, LE: 24}}
		} else {
			n.Learned = router.LearnedRouteServer
		}
	}
	return d
}

// InjectionsNeverSent applies each of cli.Injections through a driver
// from open: each must be refused as invalid before anything is written.
func InjectionsNeverSent(t *testing.T, open func(t *testing.T) (router.Driver, *Recording)) {
	t.Helper()
	for _, n := range cli.Injections() {
		d, rec := open(t)
		_, err := d.Apply(context.Background(), router.Desired{LocalASN: 65000, RouterID: netip.MustParseAddr("192.0.2.1"), Neighbors: []router.Neighbor{n}})
		if !errors.Is(err, router.ErrInvalid) || len(rec.File.Writes) != 0 {
			t.Errorf("%q/%q: %v, %d lines sent", n.Description, n.Owner, err, len(rec.Sent()))
		}
	}
}

// ClearCase names the neighbors of a platform's Clear recordings: two
// managed ones (V4, V6) and one configured by hand (Foreign).
type ClearCase struct {
	V4, V6, Foreign netip.Addr
}

// Driver is a CLI driver under test.
type Driver interface {
	router.Driver
	Stats() cli.Stats
}

// Clear runs a driver's Clear against testdata/clear.txt (hard: V6, V4
// and V4 again, so once each in address order), clearsoft.txt (soft) and
// clearunmanaged.txt (V4 and Foreign: refused after the read, nothing
// cleared, not even V4); the commands sent must be the recordings' and,
// for the first two, clear.golden and clearsoft.golden.
func Clear[D Driver](t *testing.T, update bool, prompt *regexp.Regexp, newDriver func(cli.Config) D, c ClearCase) {
	t.Helper()
	ctx := context.Background()
	for _, soft := range []bool{false, true} {
		fixture, gold := "clear.txt", "clear.golden"
		if soft {
			fixture, gold = "clearsoft.txt", "clearsoft.golden"
		}
		d, rec := Recorded(t, fixture, newDriver)
		if err := d.Clear(ctx, []netip.Addr{c.V6, c.V4, c.V4}, soft); err != nil {
			t.Fatalf("%s: %v", fixture, err)
		}
		var cmds []byte
		for _, l := range rec.AssertSent(t, prompt) {
			if strings.HasPrefix(l, "clear ") {
				cmds = append(cmds, l+"\n"...)
			}
		}
		Golden(t, update, gold, cmds)
	}

	d, rec := Recorded(t, "clearunmanaged.txt", newDriver)
	err := d.Clear(ctx, []netip.Addr{c.V4, c.Foreign}, false)
	if !errors.Is(err, router.ErrInvalid) || !strings.Contains(err.Error(), c.Foreign.String()) {
		t.Errorf("clear of a neighbor configured by hand: %v", err)
	}
	rec.AssertSent(t, prompt)
	if w := d.Stats().Writes; w != 0 {
		t.Errorf("a refused clear sent %d commands", w)
	}

	// Nothing to clear, or an address no router has: no session at all.
	d, rec = Recorded(t, "clearunmanaged.txt", newDriver)
	if err := d.Clear(ctx, nil, false); err != nil || len(rec.File.Writes) != 0 {
		t.Errorf("empty clear: %v, %d writes", err, len(rec.File.Writes))
	}
	d, rec = Recorded(t, "clearunmanaged.txt", newDriver)
	if err := d.Clear(ctx, []netip.Addr{{}}, true); !errors.Is(err, router.ErrInvalid) || len(rec.File.Writes) != 0 {
		t.Errorf("clear of the zero address: %v, %d writes", err, len(rec.File.Writes))
	}
}

// HeldShutdown applies des (its first neighbor only) with 192.0.2.2 held
// and shut down by the NOC, against holdshutdown.txt: a NOC shutdown
// reaches a held neighbor, and nothing else of it does. The configuration
// sent (configured extracts it) must be want exactly, and holdshutdown.golden.
func HeldShutdown[D Driver](t *testing.T, update bool, prompt *regexp.Regexp, newDriver func(cli.Config) D, des router.Desired,
	configured func(*testing.T, []string) []byte, want string) {
	t.Helper()
	d, rec := Recorded(t, "holdshutdown.txt", newDriver)
	des.Neighbors = des.Neighbors[:1]
	down := true
	des.Held = []router.Held{{Address: netip.MustParseAddr("192.0.2.2"), Owner: "peers/as65001", Shutdown: &down}}
	res, err := d.Apply(context.Background(), des)
	if err != nil {
		t.Fatal(err)
	}
	if res.Updated != 1 || res.Added+res.Removed != 0 {
		t.Errorf("result %+v", res)
	}
	got := configured(t, rec.AssertSent(t, prompt))
	Golden(t, update, "holdshutdown.golden", got)
	if string(got) != want {
		t.Errorf("sent more than the admin state:\n%s", got)
	}
}

// HeldAbsent applies des with two held addresses the router does not run
// (nochange.txt): a held address is never created, shut down or not.
func HeldAbsent[D Driver](t *testing.T, prompt *regexp.Regexp, newDriver func(cli.Config) D, des router.Desired) {
	t.Helper()
	d, rec := Recorded(t, "nochange.txt", newDriver)
	down := true
	des.Held = []router.Held{{Address: netip.MustParseAddr("192.0.2.5"), Shutdown: &down}, {Address: netip.MustParseAddr("2001:db8::9")}}
	res, err := d.Apply(context.Background(), des)
	if err != nil || res.Changed() || d.Stats().Writes != 0 {
		t.Fatalf("%+v %v %+v", res, err, d.Stats())
	}
	rec.AssertSent(t, prompt)
}

// RouteServerSample is a bilateral peer (192.0.2.2, first AS enforced)
// beside the IX's route server (192.0.2.20, AS6695): bogon ASNs refused,
// no first-AS check, routes marked learned from a route server, the start
// of the non-bogon import filter and the route server's PeeringDB limit.
func RouteServerSample() router.Desired {
	addr, pfx := netip.MustParseAddr, netip.MustParsePrefix
	return router.Desired{LocalASN: 65000, RouterID: addr("192.0.2.1"), Neighbors: []router.Neighbor{
		{Address: addr("192.0.2.2"), PeerASN: 65001, Owner: "peers/as65001", MaxPrefixes: 100, IXID: 1234,
			RejectBogonASNs: true, EnforceFirstAS: true, Learned: router.LearnedPeer,
			Import: []router.Entry{{Prefix: pfx("203.0.113.0/24"), Exact: true}}, Export: []router.Entry{{Prefix: pfx("198.18.0.0/15"), Exact: true}}},
		{Address: addr("192.0.2.20"), PeerASN: 6695, Owner: "peers/as6695-route-servers", Description: "DE-CIX Route Servers", MaxPrefixes: 460115, IXID: 1234,
			RejectBogonASNs: true, EnforceFirstAS: false, Learned: router.LearnedRouteServer,
			Import: []router.Entry{{Prefix: pfx("1.0.0.0/8"), GE: 8, LE: 24}, {Prefix: pfx("2.0.0.0/7"), GE: 8, LE: 24}, {Prefix: pfx("4.0.0.0/7"), GE: 8, LE: 24}},
			Export: []router.Entry{{Prefix: pfx("198.18.0.0/15"), Exact: true}}},
	}}
}

// RouteServerGolden renders RouteServerSample into render-routeserver.golden
// and checks that the platform's first-AS check (firstAS, a string its
// rendering has once per checked neighbor) is there for the peer only.
func RouteServerGolden(t *testing.T, update bool, render func(router.Desired) ([]byte, error), firstAS func(peerASN uint32) string) {
	t.Helper()
	out, err := render(RouteServerSample())
	if err != nil {
		t.Fatal(err)
	}
	Golden(t, update, "render-routeserver.golden", out)
	if !bytes.Contains(out, []byte(firstAS(65001))) || bytes.Contains(out, []byte(firstAS(6695))) {
		t.Errorf("the first AS must be checked for the peer (%q) and not for the route server (%q):\n%s", firstAS(65001), firstAS(6695), out)
	}
}

// DrainGolden renders WithExport(Sample()) with 192.0.2.2 drained into
// render-drain.golden: its import sets local preference 0 and its export
// adds GRACEFUL_SHUTDOWN (RFC 8326), and nothing else changes.
func DrainGolden(t *testing.T, update bool, render func(router.Desired) ([]byte, error)) {
	t.Helper()
	des := WithExport(Sample())
	plain, err := render(des)
	if err != nil {
		t.Fatal(err)
	}
	for i := range des.Neighbors {
		des.Neighbors[i].Drain = des.Neighbors[i].Address.Is4()
	}
	out, err := render(des)
	if err != nil {
		t.Fatal(err)
	}
	Golden(t, update, "render-drain.golden", out)
	if !bytes.Contains(out, []byte("local-preference 0")) || !bytes.Contains(out, []byte("65535:0")) && !bytes.Contains(out, []byte("graceful-shutdown")) {
		t.Errorf("a drained neighbor needs local preference 0 and GRACEFUL_SHUTDOWN:\n%s", out)
	}
	for _, l := range strings.Split(string(plain), "\n") {
		if !bytes.Contains(out, []byte(l)) {
			t.Errorf("draining removed %q", l)
		}
	}
}

// ImportSample has the import attributes: 192.0.2.2 at local preference
// 200 with two informational communities, honouring GRACEFUL_SHUTDOWN;
// 192.0.2.3 ignoring it; 192.0.2.4 drained; 2001:db8::3 a route server's
// session. (A route-server client takes none of them, and the CLI drivers
// refuse route-server clients anyway.)
func ImportSample() router.Desired {
	pfx, addr := netip.MustParsePrefix, netip.MustParseAddr
	v4 := []router.Entry{{Prefix: pfx("203.0.113.0/24"), Exact: true}}
	return router.Desired{LocalASN: 65000, RouterID: addr("192.0.2.1"), Neighbors: []router.Neighbor{
		{Address: addr("192.0.2.2"), PeerASN: 65001, Owner: "peers/as65001", Import: v4, Learned: router.LearnedPeer, IXID: 1234,
			LocalPref: 200, Communities: []string{"64500:1:31", "64500:100"}},
		{Address: addr("192.0.2.3"), PeerASN: 65003, Owner: "peers/as65003", Import: v4, Learned: router.LearnedPeer, IXID: 1234,
			LocalPref: 150, IgnoreGracefulShutdown: true},
		{Address: addr("192.0.2.4"), PeerASN: 65004, Owner: "peers/as65004", Import: v4, Learned: router.LearnedPeer, IXID: 1234,
			LocalPref: 300, Communities: []string{"64500:100"}, Drain: true},
		{Address: addr("2001:db8::3"), PeerASN: 6695, Owner: "peers/as6695", Learned: router.LearnedRouteServer, IXID: 1234,
			Import: []router.Entry{{Prefix: pfx("2001:db8:f000::/36"), GE: 36, LE: 48}}, LocalPref: 100},
	}}
}
