package eos

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/peering-operator/peering-operator/internal/router"
	"github.com/peering-operator/peering-operator/internal/router/cli"
	"github.com/peering-operator/peering-operator/internal/router/cli/clitest"
)

var update = flag.Bool("update", false, "rewrite golden files")

var prompt = regexp.MustCompile(`^[\w.\-@/:]{1,63}(\([^()]*\))?[#>]`)

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

func sample() router.Desired { return clitest.WithExport(clitest.Sample()) }

// newTest is New with the configuration session name the recordings use.
func newTest(c cli.Config) *Driver {
	d := New(c)
	d.SessionName = func() string { return "po-test" }
	return d
}

func recorded(t *testing.T, fixture string) (*Driver, *clitest.Recording) {
	return clitest.Recorded(t, fixture, newTest)
}

func TestRender(t *testing.T) {
	out, err := New(cli.Config{}).Render(sample())
	if err != nil {
		t.Fatal(err)
	}
	clitest.Golden(t, *update, "render.golden", out)
	want, pw := wanted(sample())
	if lines, _, _, _ := plan(65000, want, parse(string(out)).objs, pw); len(lines) != 0 {
		t.Errorf("render does not read back: %q", lines)
	}
	s := sample()
	s.Neighbors[0].RouteServerClient = true
	if _, err := New(cli.Config{}).Render(s); !errors.Is(err, router.ErrInvalid) {
		t.Errorf("route-server client: %v", err)
	}
}

func TestApplyCreate(t *testing.T) {
	d, rec := recorded(t, "create.txt")
	res, err := d.Apply(context.Background(), sample())
	if err != nil {
		t.Fatal(err)
	}
	if res.Added != 2 || res.Updated+res.Removed != 0 {
		t.Errorf("result %+v", res)
	}
	sent := rec.AssertSent(t, prompt)
	if clitest.Index(t, sent, "configure session po-test") > clitest.Index(t, sent, "commit") {
		t.Error("commit before the session")
	}
}

func TestApplyNoChangeWritesNothing(t *testing.T) {
	d, rec := recorded(t, "nochange.txt")
	res, err := d.Apply(context.Background(), sample())
	if err != nil || res.Changed() || d.Stats().Writes != 0 {
		t.Fatalf("%+v %v %+v", res, err, d.Stats())
	}
	rec.AssertSent(t, prompt)
}

func TestApplyRefusedLineAborts(t *testing.T) {
	d, rec := recorded(t, "refused.txt")
	_, err := d.Apply(context.Background(), sample())
	var ce *cli.CommandError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "aborted") {
		t.Fatalf("got %v", err)
	}
	sent := rec.AssertSent(t, prompt)
	if sent[len(sent)-1] != "abort" || strings.Contains(strings.Join(sent, "\n"), "\ncommit") {
		t.Errorf("not aborted: %q", sent[len(sent)-3:])
	}
}

func TestApplyCommitFailureAborts(t *testing.T) {
	d, rec := recorded(t, "commitfail.txt")
	_, err := d.Apply(context.Background(), sample())
	if err == nil || !strings.Contains(err.Error(), "aborted") || !strings.Contains(err.Error(), "Cannot commit") {
		t.Fatalf("got %v", err)
	}
	if strings.Contains(err.Error(), "s3cret-md5") {
		t.Errorf("password in error: %v", err)
	}
	sent := rec.AssertSent(t, prompt)
	if sent[len(sent)-2] != "commit" || sent[len(sent)-1] != "abort" {
		t.Errorf("ends with %q", sent[len(sent)-2:])
	}
}

func TestPlanUpdates(t *testing.T) {
	have := parse(string(clitest.Read(t, "nochange.txt")))
	if !have.other[addr("192.0.2.99")] || have.asn != 65000 || len(have.other) != 1 {
		t.Errorf("hand-made neighbors: %v", have.other)
	}
	s := sample()
	s.Neighbors[1].Password = "n3w-secret"
	s.Neighbors[1].Import = s.Neighbors[1].Import[:1]
	s.Neighbors[0].Shutdown = false
	want, pw := wanted(s)
	lines, a, u, r := plan(65000, want, have.objs, pw)
	got := strings.Join(lines, "\n")
	for _, l := range []string{
		"no ip prefix-list PO-IN-192.0.2.2\nip prefix-list PO-IN-192.0.2.2\nseq 10 permit 203.0.113.0/24\nexit",
		"neighbor 192.0.2.2 description po:peers/as65001 md5=" + cli.Fingerprint(addr("192.0.2.2"), "n3w-secret") + " Example Net",
		"neighbor 192.0.2.2 password n3w-secret",
		"no neighbor 2001:db8::3 shutdown",
	} {
		if !strings.Contains(got, l) {
			t.Errorf("missing %q in\n%s", l, got)
		}
	}
	if a != 0 || u != 2 || r != 0 {
		t.Errorf("counts %d %d %d", a, u, r)
	}
	// Entries in another order with other sequence numbers are equal.
	reordered := strings.Replace(string(clitest.Read(t, "nochange.txt")), "   seq 10 permit 10.0.0.0/8 le 24\n   seq 20 permit 198.51.100.0/24 ge 25\n   seq 30 permit 203.0.113.0/24",
		"   seq 5 permit 203.0.113.0/24\n   seq 7 permit 198.51.100.0/24 ge 25 le 32\n   seq 9 permit 10.0.0.0/8 ge 8 le 24", 1)
	want, pw = wanted(sample())
	if lines, _, _, _ := plan(65000, want, parse(reordered).objs, pw); len(lines) != 0 {
		t.Errorf("reordered entries: %q", lines)
	}
	s = sample()
	s.Neighbors = s.Neighbors[1:]
	want, pw = wanted(s)
	lines, _, _, r = plan(65000, want, have.objs, pw)
	if strings.Join(lines, "\n") != "router bgp 65000\nno neighbor 2001:db8::3\nexit\nno ipv6 prefix-list PO-IN-2001:db8::3\nno ipv6 prefix-list PO-OUT-2001:db8::3\n"+
		"no route-map PO-IN-2001:db8::3\nno route-map PO-OUT-2001:db8::3" || r != 1 {
		t.Errorf("removal: %q", lines)
	}
}

func TestState(t *testing.T) {
	d, rec := recorded(t, "state.txt")
	sts, err := d.State(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	rec.AssertSent(t, prompt)
	if len(sts) != 2 {
		t.Fatalf("%+v", sts)
	}
	up, down := sts[0], sts[1]
	if up.State != "Established" || up.Received != 2 || up.Accepted != 1 || up.Limit != 100 ||
		!up.EstablishedSince.Equal(time.Unix(1767225600, 0)) || up.LastError != "" {
		t.Errorf("established: %+v", up)
	}
	if down.Address != addr("2001:db8::3") || down.State != "Idle" || down.LastError != "" {
		t.Errorf("shut down: %+v", down)
	}
	tripped, err := states([]string{`{"vrfs":{"default":{"peers":{"192.0.2.5":{"peerState":"Idle","peerStateIdleReason":"MaxRoutesExceeded"}}}}}`},
		map[netip.Addr]int64{addr("192.0.2.5"): 2})
	if err != nil || len(tripped) != 1 || !strings.HasPrefix(tripped[0].LastError, "maximum prefix limit 2 exceeded") {
		t.Errorf("tripped: %+v %v", tripped, err)
	}
}

func TestInjectionNeverSent(t *testing.T) {
	clitest.InjectionsNeverSent(t, func(t *testing.T) (router.Driver, *clitest.Recording) {
		return recorded(t, "nochange.txt")
	})
}

func TestASPathChecks(t *testing.T) {
	s := sample()
	for i := range s.Neighbors {
		s.Neighbors[i].RejectBogonASNs, s.Neighbors[i].EnforceFirstAS = true, true
	}
	out, err := New(cli.Config{}).Render(s)
	if err != nil {
		t.Fatal(err)
	}
	clitest.Golden(t, *update, "render-aspath.golden", out)
	want, pw := wanted(s)
	if lines, _, _, _ := plan(65000, want, parse(string(out)).objs, pw); len(lines) != 0 {
		t.Errorf("render does not read back: %q", lines)
	}
	lines, _, u, _ := plan(65000, want, parse(string(clitest.Read(t, "nochange.txt"))).objs, pw)
	got := strings.Join(lines, "\n")
	for _, l := range []string{
		"ip as-path access-list PO-BOGON-ASNS permit " + cli.BogonASNRegex() + " any",
		"ip as-path access-list PO-FIRST-192.0.2.2 permit ^65001_ any",
		"no route-map PO-IN-192.0.2.2\nroute-map PO-IN-192.0.2.2 deny 5\nmatch as-path PO-BOGON-ASNS\nexit\nroute-map PO-IN-192.0.2.2 permit 8\nmatch ip address prefix-list PO-IN-192.0.2.2\nmatch as-path PO-FIRST-192.0.2.2\n" +
			"match community PO-GSHUT\nset large-community 65000:1:1234 additive\nset local-preference 0\nexit\nroute-map PO-IN-192.0.2.2 permit 10\nmatch ip address prefix-list PO-IN-192.0.2.2\nmatch as-path PO-FIRST-192.0.2.2\n" +
			"set large-community 65000:1:1234 additive\nexit",
	} {
		if !strings.Contains(got, l) {
			t.Errorf("missing %q in\n%s", l, got)
		}
	}
	if u != 2 {
		t.Errorf("updated %d", u)
	}
}

// held is the desired state of the hold tests: 192.0.2.2 held (its
// config cannot be built), 2001:db8::3 gone, 2001:db8::7 new, a peer at
// another IX announcing nothing (so only the hold keeps the shared
// learned-community objects of 192.0.2.2's export policy).
func held() router.Desired {
	s := sample()
	s.Neighbors = []router.Neighbor{{Address: addr("2001:db8::7"), PeerASN: 65007, Owner: "peers/as65007",
		Import:  []router.Entry{{Prefix: netip.MustParsePrefix("2001:db8:7000::/36"), Exact: true}},
		Learned: router.LearnedPeer, IXID: 5678}}
	s.Held = []router.Held{{Address: addr("192.0.2.2"), Owner: "peers/as65001"}}
	return s
}

// configured is what was sent inside the configuration session.
func configured(t *testing.T, sent []string) []byte {
	t.Helper()
	var b strings.Builder
	for _, l := range sent[clitest.Index(t, sent, "configure session po-test")+1 : clitest.Index(t, sent, "commit")] {
		b.WriteString(l + "\n")
	}
	return []byte(b.String())
}

// A held neighbor keeps its lines, route-map, prefix-list and as-path
// lists (the shared bogon one included), though nothing else wants them,
// while another neighbor goes and a third comes.
func TestApplyHeldUntouched(t *testing.T) {
	d, rec := recorded(t, "hold.txt")
	res, err := d.Apply(context.Background(), held())
	if err != nil {
		t.Fatal(err)
	}
	if res.Added != 1 || res.Removed != 1 || res.Updated != 0 {
		t.Errorf("result %+v", res)
	}
	got := configured(t, rec.AssertSent(t, prompt))
	clitest.Golden(t, *update, "hold.golden", got)
	for _, s := range []string{"192.0.2.2", "BOGON", "FIRST", "large-community-list"} {
		if strings.Contains(string(got), s) {
			t.Errorf("held configuration %s touched:\n%s", s, got)
		}
	}
}

// A NOC shutdown reaches a held neighbor, and nothing else of it does.
func TestApplyHeldShutdown(t *testing.T) {
	clitest.HeldShutdown(t, *update, prompt, newTest, sample(), configured, "router bgp 65000\nneighbor 192.0.2.2 shutdown\nexit\n")
}

// A held address the router does not run is not created, shutdown or not.
func TestApplyHeldAbsentCreatesNothing(t *testing.T) {
	clitest.HeldAbsent(t, prompt, newTest, sample())
}

func TestPlanHeld(t *testing.T) {
	have := parse(string(clitest.Read(t, "nochange.txt"))).objs
	up := false
	// Bringing a held neighbor up is its one change too.
	s := sample()
	s.Neighbors = s.Neighbors[1:]
	s.Held = []router.Held{{Address: addr("2001:db8::3"), Shutdown: &up}}
	want, pw := wanted(s)
	lines, a, u, r := plan(65000, cli.Hold(want, have, s.Held, neighborKey, shutdown), have, pw)
	if strings.Join(lines, "\n") != "router bgp 65000\nno neighbor 2001:db8::3 shutdown\nexit" || u != 1 || a+r != 0 {
		t.Errorf("no shutdown: %q %d %d %d", lines, a, u, r)
	}
}

// A held neighbor keeps its out route-map, prefix-list and the shared
// large-community list while every other neighbor goes; without the hold
// the list goes too.
func TestPlanHeldKeepsExportObjects(t *testing.T) {
	have := parse(string(clitest.Read(t, "nochange.txt"))).objs
	s := sample()
	s.Neighbors = nil
	s.Held = []router.Held{{Address: addr("192.0.2.2")}}
	want, pw := wanted(s)
	lines, _, _, r := plan(65000, cli.Hold(want, have, s.Held, neighborKey, shutdown), have, pw)
	if strings.Join(lines, "\n") != "router bgp 65000\nno neighbor 2001:db8::3\nexit\nno ipv6 prefix-list PO-IN-2001:db8::3\nno ipv6 prefix-list PO-OUT-2001:db8::3\n"+
		"no route-map PO-IN-2001:db8::3\nno route-map PO-OUT-2001:db8::3" || r != 1 {
		t.Errorf("held: %q", lines)
	}
	lines, _, _, _ = plan(65000, want, have, pw)
	if !slices.Contains(lines, "no ip large-community-list regexp PO-LEARNED") {
		t.Errorf("list left without neighbors: %q", lines)
	}
}

// Held neighbors are comments of the render: the digest follows them.
func TestRenderHeld(t *testing.T) {
	d := New(cli.Config{})
	plain, _ := d.Render(sample())
	s := sample()
	down := true
	s.Held = []router.Held{{Address: addr("2001:db8::9"), Owner: "peers/b", Shutdown: &down}, {Address: addr("192.0.2.5"), Owner: "peers/a"}}
	out, err := d.Render(s)
	if err != nil {
		t.Fatal(err)
	}
	clitest.Golden(t, *update, "render-held.golden", out)
	if cli.Digest(out) == cli.Digest(plain) {
		t.Error("digest ignores the held neighbors")
	}
	s.Held[0].Shutdown = nil
	if again, _ := d.Render(s); cli.Digest(again) == cli.Digest(out) {
		t.Error("digest ignores a held neighbor's shutdown")
	}
	want, pw := wanted(s)
	have := parse(string(out)).objs
	if lines, _, _, _ := plan(65000, cli.Hold(want, have, s.Held, neighborKey, shutdown), have, pw); len(lines) != 0 {
		t.Errorf("render does not read back: %q", lines)
	}
}

// The out route-map of a neighbor with two prefixes: learned routes
// denied first, then the prefix-list permitted, the rest denied by the
// route-map's end; the neighbor names it.
func TestExportRendered(t *testing.T) {
	want, _ := wanted(sample())
	for k, w := range map[string][]string{
		"ip large-community-list regexp PO-LEARNED": {"permit " + cli.LearnedRegex(65000)},
		"ip prefix-list PO-OUT-192.0.2.2":           {"permit 100.64.0.0/10 ge 16 le 24", "permit 198.18.0.0/15"},
		"route-map PO-OUT-192.0.2.2": {"deny 10", "deny 10|match large-community PO-LEARNED",
			"permit 20", "permit 20|match ip address prefix-list PO-OUT-192.0.2.2"},
	} {
		if !slices.Equal(want[k], w) {
			t.Errorf("%s: %q", k, want[k])
		}
	}
	if !slices.Contains(want["neighbor 192.0.2.2"], "route-map PO-OUT-192.0.2.2 out") {
		t.Errorf("no out route-map: %q", want["neighbor 192.0.2.2"])
	}
}

// No Export: the out prefix-list denies everything, and the route-map
// stays attached (EOS would otherwise export every eBGP route).
func TestExportEmptyDeniesAll(t *testing.T) {
	s := sample()
	s.Neighbors[1].Export = nil
	want, _ := wanted(s)
	for k, w := range map[string]string{"ip prefix-list PO-OUT-192.0.2.2": "deny 0.0.0.0/0 le 32", "ipv6 prefix-list PO-OUT-2001:db8::3": "deny ::/0 le 128"} {
		if !slices.Equal(want[k], []string{w}) {
			t.Errorf("%s: %q", k, want[k])
		}
	}
	for _, rm := range want["route-map PO-OUT-192.0.2.2"] {
		if strings.HasPrefix(rm, "permit 20|set ") {
			t.Errorf("out route-map sets something: %q", rm)
		}
	}
	if !slices.Contains(want["neighbor 2001:db8::3"], "route-map PO-OUT-2001:db8::3 out") {
		t.Error("no out route-map attached")
	}
}

// What the import route-map permits gets LocalASN:kind:IXID added;
// nothing is tagged without a kind or without imports.
func TestLearnedTagOnImport(t *testing.T) {
	s := sample()
	s.Neighbors[0].Import = []router.Entry{{Prefix: netip.MustParsePrefix("2001:db8:3000::/36"), Exact: true}}
	want, _ := wanted(s)
	for a, tag := range map[string]string{"192.0.2.2": "65000:1:1234", "2001:db8::3": "65000:2:1234"} {
		if !slices.Contains(want["route-map PO-IN-"+a], "permit 10|set large-community "+tag+" additive") {
			t.Errorf("%s: %q", a, want["route-map PO-IN-"+a])
		}
	}
	s = sample() // 2001:db8::3 imports nothing
	s.Neighbors[1].Learned = router.LearnedNone
	want, _ = wanted(s)
	for k, rm := range want {
		if slices.ContainsFunc(rm, func(l string) bool { return strings.Contains(l, "set large-community") }) {
			t.Errorf("tag left in %s: %q", k, rm)
		}
	}
}

// Clear sends the platform's operational clear for managed neighbors only,
// once each, and refuses a neighbor configured by hand before clearing any.
func TestClear(t *testing.T) {
	clitest.Clear(t, *update, prompt, New, clitest.ClearCase{
		V4: netip.MustParseAddr("192.0.2.2"), V6: netip.MustParseAddr("2001:db8::3"), Foreign: netip.MustParseAddr("192.0.2.99"),
	})
}

// A route server's session has no first-AS check; a peer's beside it has.
func TestRenderRouteServer(t *testing.T) {
	clitest.RouteServerGolden(t, *update, New(cli.Config{}).Render, func(asn uint32) string { return fmt.Sprintf("permit ^%d_ any", asn) })
}

// A drained neighbor (RFC 8326): local preference 0 in, GRACEFUL_SHUTDOWN out.
func TestRenderDrain(t *testing.T) {
	clitest.DrainGolden(t, *update, New(cli.Config{}).Render)
}

// importSample is clitest.ImportSample with the bogon ASN check on the
// first neighbor (its route-map entry order is part of what is checked).
func importSample() router.Desired {
	s := clitest.ImportSample()
	s.Neighbors[0].RejectBogonASNs = true
	return s
}

// GRACEFUL_SHUTDOWN gets its own permit entry before the ordinary one,
// after the bogon deny, with the same filter and communities and local
// preference 0; the ordinary entry sets LocalPref, or a drain's 0.
func TestRenderImport(t *testing.T) {
	s := importSample()
	out, err := New(cli.Config{}).Render(s)
	if err != nil {
		t.Fatal(err)
	}
	clitest.Golden(t, *update, "render-import.golden", out)
	want, pw := wanted(s)
	if lines, _, _, _ := plan(65000, want, parse(string(out)).objs, pw); len(lines) != 0 {
		t.Errorf("render does not read back: %q", lines)
	}
	pl := "permit 8|match ip address prefix-list PO-IN-192.0.2.2"
	sets := []string{"set community 64500:100 additive", "set large-community 64500:1:31 65000:1:1234 additive"}
	if got, w := want["route-map PO-IN-192.0.2.2"], []string{
		"deny 5", "deny 5|match as-path PO-BOGON-ASNS",
		"permit 8", pl, "permit 8|match community PO-GSHUT", "permit 8|" + sets[0], "permit 8|" + sets[1], "permit 8|set local-preference 0",
		"permit 10", "permit 10|match ip address prefix-list PO-IN-192.0.2.2", "permit 10|" + sets[0], "permit 10|" + sets[1], "permit 10|set local-preference 200",
	}; !slices.Equal(got, w) {
		t.Errorf("route-map:\n%s", strings.Join(got, "\n"))
	}
	if got := want["route-map PO-IN-192.0.2.3"]; slices.Contains(got, "permit 8") || !slices.Contains(got, "permit 10|set local-preference 150") {
		t.Errorf("ignoring GRACEFUL_SHUTDOWN: %q", got)
	}
	if got := want["route-map PO-IN-192.0.2.4"]; !slices.Contains(got, "permit 10|set local-preference 0") || slices.ContainsFunc(got, func(l string) bool { return strings.HasSuffix(l, "local-preference 300") }) {
		t.Errorf("drained: %q", got)
	}
	if got := want[gshutList]; !slices.Equal(got, []string{"permit 65535:0"}) {
		t.Errorf("community list %q", got)
	}
}

// A new local preference rewrites the route-map (filters are replaced
// whole in the session) and nothing of the neighbor.
func TestImportLocalPrefInPlace(t *testing.T) {
	out, _ := New(cli.Config{}).Render(importSample())
	have := parse(string(out)).objs
	s := importSample()
	s.Neighbors[2].LocalPref = 350 // drained: nothing to change
	s.Neighbors[1].LocalPref = 250
	want, pw := wanted(s)
	lines, a, u, r := plan(65000, want, have, pw)
	if strings.Join(lines, "\n") != "no route-map PO-IN-192.0.2.3\nroute-map PO-IN-192.0.2.3 permit 10\nmatch ip address prefix-list PO-IN-192.0.2.3\n"+
		"set large-community 65000:1:1234 additive\nset local-preference 250\nexit" || u != 1 || a+r != 0 {
		t.Errorf("%q %d %d %d", lines, a, u, r)
	}
}

// EOS may print GRACEFUL_SHUTDOWN as its keyword, and older releases a
// named list with "standard": both read back as rendered. The list goes
// when no route-map matches it any more.
func TestImportGracefulShutdownList(t *testing.T) {
	out, _ := New(cli.Config{}).Render(importSample())
	printed := strings.Replace(string(out), "ip community-list PO-GSHUT permit 65535:0", "ip community-list standard PO-GSHUT permit GSHUT", 1)
	s := importSample()
	s.Neighbors[0].Drain = true
	want, pw := wanted(s)
	drained, _ := New(cli.Config{}).Render(s)
	printed2 := strings.Replace(string(drained), "set community 65535:0 additive", "set community GSHUT additive", -1)
	if lines, _, _, _ := plan(65000, want, parse(printed2).objs, pw); len(lines) != 0 || !strings.Contains(string(drained), "set community 65535:0 additive") {
		t.Errorf("GSHUT keyword in a route-map: %q", lines)
	}
	want, pw = wanted(importSample())
	if lines, _, _, _ := plan(65000, want, parse(printed).objs, pw); len(lines) != 0 {
		t.Errorf("GSHUT keyword in the list: %q", lines)
	}
	s = importSample()
	for i := range s.Neighbors {
		s.Neighbors[i].IgnoreGracefulShutdown = true
	}
	want, pw = wanted(s)
	if lines, _, _, _ := plan(65000, want, parse(printed).objs, pw); !slices.Contains(lines, "no ip community-list PO-GSHUT") {
		t.Errorf("list left unused: %q", lines)
	}
}

// rpkiSample validates against two caches, an IPv4 one first; 192.0.2.2
// is drained.
func rpkiSample() router.Desired {
	s := sample()
	s.RPKI = []router.RTRServer{{Host: "192.0.2.10", Port: 3323}, {Host: "2001:db8::10", Port: 323}}
	s.Neighbors[0].Import = []router.Entry{{Prefix: netip.MustParsePrefix("2001:db8:f000::/36"), GE: 36, LE: 48}}
	s.Neighbors[1].Drain = true
	return s
}

// handCaches is a router's "router bgp" with the caches of rpkiSample,
// the second by hand under its own name (on the default port, which EOS
// does not print), a cache of the router's own and eBGP validation on.
const handCaches = `router bgp 65000
   router-id 192.0.2.1
   rpki cache PO-RPKI-1
      host 192.0.2.10 port 3323
      preference 1
   !
   rpki cache RTR-A
      host 2001:db8::10
   !
   rpki cache RTR-B
      host 192.0.2.77 port 3323
      preference 7
   !
   rpki origin-validation
      ebgp local
   !
!
`

// The caches, eBGP origin validation and the invalid deny first in every
// import route-map; the render reads back with nothing to do.
func TestRenderRPKI(t *testing.T) {
	s := rpkiSample()
	out, err := New(cli.Config{}).Render(s)
	if err != nil {
		t.Fatal(err)
	}
	clitest.Golden(t, *update, "render-rpki.golden", out)
	want, pw := wanted(s)
	have := parse(string(out))
	if lines, _, _, _ := plan(65000, want, have.objs, pw); len(lines) != 0 {
		t.Errorf("render does not read back: %q", lines)
	}
	if lines := rpkiLines(s, have); len(lines) != 0 {
		t.Errorf("rendered caches do not read back: %q", lines)
	}
	for _, a := range []string{"192.0.2.2", "2001:db8::3"} {
		if rm := want["route-map PO-IN-"+a]; !slices.Equal(rm[:2], []string{"deny 4", "deny 4|match origin-as validity invalid"}) {
			t.Errorf("%s: %q", a, rm)
		}
	}
	s.RPKI[1].Host = "fe80::1%eth0"
	if _, err := New(cli.Config{}).Render(s); !errors.Is(err, router.ErrInvalid) {
		t.Errorf("zoned cache address: %v", err)
	}
	s.RPKI = make([]router.RTRServer, 11)
	for i := range s.RPKI {
		s.RPKI[i] = router.RTRServer{Host: fmt.Sprintf("rtr%d.example.net", i), Port: 323}
	}
	if _, err := New(cli.Config{}).Render(s); !errors.Is(err, router.ErrInvalid) {
		t.Errorf("11 caches: %v", err)
	}
}

// Caches configured already, under any name, are left as they are, and so
// is one the router has for itself; a new one is added under a name no
// cache has, without touching them.
func TestRPKICachesPresent(t *testing.T) {
	s := rpkiSample()
	out, _ := New(cli.Config{}).Render(s)
	have := parse(string(out))
	h := parse(handCaches)
	have.caches, have.ebgpValidated = h.caches, h.ebgpValidated
	want, pw := wanted(s)
	if lines, _, _, _ := plan(65000, want, have.objs, pw); len(lines) != 0 {
		t.Errorf("route-maps: %q", lines)
	}
	if lines := rpkiLines(s, have); len(lines) != 0 {
		t.Errorf("caches present: %q", lines)
	}
	// A new most preferred cache: PO-RPKI-1 names another already.
	s.RPKI = append([]router.RTRServer{{Host: "192.0.2.11", Port: 3323}}, s.RPKI...)
	if lines := rpkiLines(s, have); !slices.Equal(lines, []string{
		"router bgp 65000", "rpki cache PO-RPKI-2", "host 192.0.2.11 port 3323", "preference 1", "exit", "exit",
	}) {
		t.Errorf("new cache: %q", lines)
	}
}

// Without caches the invalid deny goes; the caches and origin validation
// stay.
func TestRPKIRemoved(t *testing.T) {
	out, _ := New(cli.Config{}).Render(rpkiSample())
	have := parse(string(out))
	s := rpkiSample()
	s.RPKI = nil
	want, pw := wanted(s)
	lines, a, u, r := plan(65000, want, have.objs, pw)
	got := strings.Join(lines, "\n")
	for _, l := range []string{"no route-map PO-IN-192.0.2.2\nroute-map PO-IN-192.0.2.2 permit 8\n", "no route-map PO-IN-2001:db8::3\nroute-map PO-IN-2001:db8::3 permit 8\n"} {
		if !strings.Contains(got, l) {
			t.Errorf("missing %q in\n%s", l, got)
		}
	}
	if strings.Contains(got, "origin") || strings.Contains(got, "rpki") || u != 2 || a+r != 0 {
		t.Errorf("%s\n%d %d %d", got, a, u, r)
	}
	if lines := rpkiLines(s, have); len(lines) != 0 {
		t.Errorf("caches: %q", lines)
	}
}

// A router with one cache of two configured by hand and no origin
// validation: the other cache is added, eBGP paths validated, the invalid
// deny put first; the hand-made caches are left alone.
func TestApplyRPKI(t *testing.T) {
	d, rec := recorded(t, "rpki.txt")
	s := sample()
	s.RPKI = rpkiSample().RPKI
	res, err := d.Apply(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	if res.Updated != 2 || res.Added+res.Removed != 0 {
		t.Errorf("result %+v", res)
	}
	got := string(configured(t, rec.AssertSent(t, prompt)))
	for _, l := range []string{
		"router bgp 65000\nrpki cache PO-RPKI-1\nhost 192.0.2.10 port 3323\npreference 1\nexit\nrpki origin-validation\nebgp local\nexit\nexit\n",
		"route-map PO-IN-192.0.2.2 deny 4\nmatch origin-as validity invalid\nexit\n",
	} {
		if !strings.Contains(got, l) {
			t.Errorf("missing %q in\n%s", l, got)
		}
	}
	if strings.Contains(got, "2001:db8::10") || strings.Contains(got, "RTR-") {
		t.Errorf("hand-made cache touched:\n%s", got)
	}
}
