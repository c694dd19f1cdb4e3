package iosxr

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

var prompt = regexp.MustCompile(`^[\w.\-@/:]{1,63}(\(config[\w.\-@/:+]*\))?#`)

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

func sample() router.Desired { return clitest.WithExport(clitest.Sample()) }

func recorded(t *testing.T, fixture string) (*Driver, *clitest.Recording) {
	return clitest.Recorded(t, fixture, New)
}

func TestRender(t *testing.T) {
	out, err := New(cli.Config{}).Render(sample())
	if err != nil {
		t.Fatal(err)
	}
	clitest.Golden(t, *update, "render.golden", out)
	s := sample()
	s.Neighbors[0].RouteServerClient = true
	if _, err := New(cli.Config{}).Render(s); !errors.Is(err, router.ErrInvalid) {
		t.Errorf("route-server client: %v", err)
	}
	// The render reads back as converged.
	want, pw := wanted(sample())
	if lines, _, _, _ := plan(65000, want, parse(string(out)).objs, pw); len(lines) != 0 {
		t.Errorf("render does not read back: %q", lines)
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
	if clitest.Index(t, sent, "configure") > clitest.Index(t, sent, "commit") || clitest.Index(t, sent, "commit") > clitest.Index(t, sent, "end") {
		t.Error("commit sequence out of order")
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
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "aborted") || !strings.Contains(err.Error(), "Invalid input") {
		t.Fatalf("got %v", err)
	}
	sent := rec.AssertSent(t, prompt)
	if sent[len(sent)-1] != "abort" || strings.Contains(strings.Join(sent, "\n"), "\ncommit") {
		t.Errorf("not aborted: %q", sent)
	}
}

func TestApplyCommitFailureAborts(t *testing.T) {
	d, rec := recorded(t, "commitfail.txt")
	_, err := d.Apply(context.Background(), sample())
	if err == nil || !strings.Contains(err.Error(), "aborted") || !strings.Contains(err.Error(), "4-byte AS numbers are not enabled") {
		t.Fatalf("got %v", err)
	}
	if strings.Contains(err.Error(), "s3cret-md5") {
		t.Errorf("password in error: %v", err)
	}
	sent := rec.AssertSent(t, prompt)
	if sent[len(sent)-2] != "show configuration failed" || sent[len(sent)-1] != "abort" {
		t.Errorf("ends with %q", sent[len(sent)-2:])
	}
}

func TestPlanUpdates(t *testing.T) {
	have := parse(string(clitest.Read(t, "nochange.txt")))
	if !have.other[addr("192.0.2.99")] || have.asn != 65000 {
		t.Errorf("hand-made neighbor not seen: %+v", have.other)
	}
	s := sample()
	s.Neighbors[1].Password = "n3w-secret"
	s.Neighbors[1].MaxPrefixes = 0
	s.Neighbors[1].Import = s.Neighbors[1].Import[:1]
	s.Neighbors[0].Shutdown = false
	want, pw := wanted(s)
	lines, a, u, r := plan(65000, want, have.objs, pw)
	got := strings.Join(lines, "\n")
	for _, l := range []string{
		"prefix-set PO-IN-192_0_2_2\n203.0.113.0/24\nend-set",
		"router bgp 65000 neighbor 192.0.2.2 description po:peers/as65001 md5=" + cli.Fingerprint(addr("192.0.2.2"), "n3w-secret") + " Example Net",
		"router bgp 65000 neighbor 192.0.2.2 password clear n3w-secret",
		"no router bgp 65000 neighbor 192.0.2.2 address-family ipv4 unicast maximum-prefix",
		"no router bgp 65000 neighbor 2001:db8::3 shutdown",
	} {
		if !strings.Contains(got, l) {
			t.Errorf("missing %q in\n%s", l, got)
		}
	}
	if strings.Contains(got, "no router bgp 65000 neighbor 192.0.2.2 description") {
		t.Errorf("a replaced value is removed first:\n%s", got)
	}
	if a != 0 || u != 2 || r != 0 {
		t.Errorf("counts %d %d %d", a, u, r)
	}
	s = sample()
	s.Neighbors = s.Neighbors[1:]
	want, pw = wanted(s)
	lines, _, _, r = plan(65000, want, have.objs, pw)
	if strings.Join(lines, "\n") != "no router bgp 65000 neighbor 2001:db8::3\nno route-policy PO-IN-2001_db8__3\nno route-policy PO-OUT-2001_db8__3" || r != 1 {
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
	up, tripped := sts[0], sts[1]
	if up.State != "Established" || up.Accepted != 1 || up.Received != 2 || up.Limit != 100 || up.LastError != "" ||
		time.Since(up.EstablishedSince) < time.Hour || time.Since(up.EstablishedSince) > 2*time.Hour {
		t.Errorf("established: %+v", up)
	}
	if tripped.State != "Idle" || tripped.Limit != 2 || !strings.HasPrefix(tripped.LastError, "maximum prefix limit 2 exceeded") {
		t.Errorf("tripped: %+v", tripped)
	}
	for in, want := range map[string]time.Duration{"01:02:03": time.Hour + 2*time.Minute + 3*time.Second, "1d02h": 26 * time.Hour, "3w2d": 23 * 24 * time.Hour} {
		if got, ok := uptime(in); !ok || got != want {
			t.Errorf("uptime(%q) = %v", in, got)
		}
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
		"as-path-set PO-BOGON-ASNS\nios-regex '" + cli.BogonASNRegex() + "'\nend-set",
		"route-policy PO-IN-192_0_2_2\nif as-path in PO-BOGON-ASNS then\ndrop\nendif\nif not as-path neighbor-is '65001' then\ndrop\nendif\nif destination in PO-IN-192_0_2_2 then",
	} {
		if !strings.Contains(got, l) {
			t.Errorf("missing %q in\n%s", l, got)
		}
	}
	if u != 1 { // 2001:db8::3 has no prefixes: its policy drops everything anyway
		t.Errorf("updated %d", u)
	}
	// The same lines in another order are another policy.
	h := parse(string(out)).objs
	k := "route-policy PO-IN-192_0_2_2"
	h[k] = append(h[k][3:6], append(h[k][:3], h[k][6:]...)...)
	if lines, _, _, _ := plan(65000, want, h, pw); len(lines) == 0 {
		t.Error("reordered route-policy not replaced")
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

// configured is what was sent inside the target configuration.
func configured(t *testing.T, sent []string) []byte {
	t.Helper()
	var b strings.Builder
	for _, l := range sent[clitest.Index(t, sent, "configure")+1 : clitest.Index(t, sent, "commit")] {
		b.WriteString(l + "\n")
	}
	return []byte(b.String())
}

// A held neighbor keeps its lines, route-policy and prefix-set, though
// nothing else wants them, while another neighbor goes and a third comes.
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
	for _, s := range []string{"192.0.2.2", "192_0_2_2", "PO-LEARNED"} {
		if strings.Contains(string(got), s) {
			t.Errorf("held configuration %s touched:\n%s", s, got)
		}
	}
}

// A NOC shutdown reaches a held neighbor, and nothing else of it does.
func TestApplyHeldShutdown(t *testing.T) {
	clitest.HeldShutdown(t, *update, prompt, New, sample(), configured, "router bgp 65000 neighbor 192.0.2.2 shutdown\n")
}

// A held address the router does not run is not created, shutdown or not.
func TestApplyHeldAbsentCreatesNothing(t *testing.T) {
	clitest.HeldAbsent(t, prompt, New, sample())
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
	if strings.Join(lines, "\n") != "no router bgp 65000 neighbor 2001:db8::3 shutdown" || u != 1 || a+r != 0 {
		t.Errorf("no shutdown: %q %d %d %d", lines, a, u, r)
	}
	// The shared as-path-set stays while a held neighbor's policy uses it.
	s = sample()
	for i := range s.Neighbors {
		s.Neighbors[i].RejectBogonASNs = true
	}
	out, _ := New(cli.Config{}).Render(s)
	have = parse(string(out)).objs
	s.Neighbors = nil
	s.Held = []router.Held{{Address: addr("192.0.2.2")}}
	want, pw = wanted(s)
	lines, _, _, r = plan(65000, cli.Hold(want, have, s.Held, neighborKey, shutdown), have, pw)
	if strings.Join(lines, "\n") != "no router bgp 65000 neighbor 2001:db8::3\nno route-policy PO-IN-2001_db8__3\nno route-policy PO-OUT-2001_db8__3" || r != 1 {
		t.Errorf("removal: %q", lines)
	}
}

// A held neighbor keeps its out policy, prefix-set and the shared
// large-community-set they name while every other neighbor goes; without
// the hold the set goes after the policies naming it.
func TestPlanHeldKeepsExportObjects(t *testing.T) {
	have := parse(string(clitest.Read(t, "nochange.txt"))).objs
	s := sample()
	s.Neighbors = nil
	s.Held = []router.Held{{Address: addr("192.0.2.2")}}
	want, pw := wanted(s)
	lines, _, _, r := plan(65000, cli.Hold(want, have, s.Held, neighborKey, shutdown), have, pw)
	if strings.Join(lines, "\n") != "no router bgp 65000 neighbor 2001:db8::3\nno route-policy PO-IN-2001_db8__3\nno route-policy PO-OUT-2001_db8__3" || r != 1 {
		t.Errorf("held: %q", lines)
	}
	s.Held = nil
	lines, _, _, _ = plan(65000, want, have, pw)
	if w := []string{"no router bgp 65000 neighbor 192.0.2.2", "no router bgp 65000 neighbor 2001:db8::3",
		"no route-policy PO-IN-192_0_2_2", "no route-policy PO-IN-2001_db8__3", "no route-policy PO-OUT-192_0_2_2", "no route-policy PO-OUT-2001_db8__3",
		"no large-community-set PO-LEARNED", "no prefix-set PO-IN-192_0_2_2", "no prefix-set PO-OUT-192_0_2_2"}; !slices.Equal(lines, w) {
		t.Errorf("removal order: %q", lines)
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

// The out policy of a neighbor with two prefixes: learned routes dropped
// first, then the prefix-set passed, the rest dropped; the neighbor's
// address family names it.
func TestExportRendered(t *testing.T) {
	want, _ := wanted(sample())
	for k, w := range map[string][]string{
		"large-community-set PO-LEARNED": {"65000:1:*", "65000:2:*"},
		"prefix-set PO-OUT-192_0_2_2":    {"100.64.0.0/10 ge 16 le 24", "198.18.0.0/15"},
		"route-policy PO-OUT-192_0_2_2": {"if large-community matches-any PO-LEARNED then", "drop", "endif",
			"if destination in PO-OUT-192_0_2_2 then", "pass", "else", "drop", "endif"},
	} {
		if !slices.Equal(want[k], w) {
			t.Errorf("%s: %q", k, want[k])
		}
	}
	if !slices.Contains(want["neighbor 192.0.2.2"], "address-family ipv4 unicast|route-policy PO-OUT-192_0_2_2 out") {
		t.Errorf("no out policy: %q", want["neighbor 192.0.2.2"])
	}
}

// No Export: a policy that drops everything, still attached (IOS-XR would
// send nothing without one, but say it).
func TestExportEmptyDeniesAll(t *testing.T) {
	s := sample()
	s.Neighbors[1].Export = nil
	want, _ := wanted(s)
	for _, a := range []string{"192_0_2_2", "2001_db8__3"} {
		if got := want["route-policy PO-OUT-"+a]; !slices.Equal(got, []string{"drop"}) {
			t.Errorf("%s: %q", a, got)
		}
	}
	if !slices.Contains(want["neighbor 2001:db8::3"], "address-family ipv6 unicast|route-policy PO-OUT-2001_db8__3 out") {
		t.Error("no out policy attached")
	}
	if _, ok := want["large-community-set PO-LEARNED"]; ok {
		t.Error("learned set without a policy naming it")
	}
}

// What the import policy accepts gets LocalASN:kind:IXID added; nothing
// is tagged without a kind or without imports.
func TestLearnedTagOnImport(t *testing.T) {
	s := sample()
	s.Neighbors[0].Import = []router.Entry{{Prefix: netip.MustParsePrefix("2001:db8:3000::/36"), Exact: true}}
	want, _ := wanted(s)
	for a, tag := range map[string]string{"192_0_2_2": "65000:1:1234", "2001_db8__3": "65000:2:1234"} {
		p := want["route-policy PO-IN-"+a]
		i := slices.Index(p, "set large-community ("+tag+") additive")
		if i < 1 || p[i-1] != "if destination in PO-IN-"+a+" then" || i > slices.Index(p, "pass") {
			t.Errorf("%s: %q", a, p)
		}
	}
	s = sample()
	s.Neighbors[1].Learned = router.LearnedNone
	want, _ = wanted(s)
	for k, p := range want {
		if slices.ContainsFunc(p, func(l string) bool { return strings.HasPrefix(l, "set large-community") }) {
			t.Errorf("tag left in %s: %q", k, p)
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
	clitest.RouteServerGolden(t, *update, New(cli.Config{}).Render, func(asn uint32) string { return fmt.Sprintf("neighbor-is '%d'", asn) })
}

// A drained neighbor (RFC 8326): local preference 0 in, GRACEFUL_SHUTDOWN out.
func TestRenderDrain(t *testing.T) {
	clitest.DrainGolden(t, *update, New(cli.Config{}).Render)
}

// The import attributes are set in the accepting branch: communities,
// then the local preference (a drain's 0 instead of LocalPref), then 0
// for a route carrying GRACEFUL_SHUTDOWN (the last assignment wins).
func TestRenderImport(t *testing.T) {
	s := clitest.ImportSample()
	out, err := New(cli.Config{}).Render(s)
	if err != nil {
		t.Fatal(err)
	}
	clitest.Golden(t, *update, "render-import.golden", out)
	want, pw := wanted(s)
	if lines, _, _, _ := plan(65000, want, parse(string(out)).objs, pw); len(lines) != 0 {
		t.Errorf("render does not read back: %q", lines)
	}
	gshut := []string{"if community matches-any (graceful-shutdown) then", "set local-preference 0", "endif"}
	for a, marks := range map[string][]string{
		"192_0_2_2":   append([]string{"set large-community (64500:1:31, 65000:1:1234) additive", "set community (64500:100) additive", "set local-preference 200"}, gshut...),
		"192_0_2_3":   {"set large-community (65000:1:1234) additive", "set local-preference 150"},
		"192_0_2_4":   append([]string{"set large-community (65000:1:1234) additive", "set community (64500:100) additive", "set local-preference 0"}, gshut...),
		"2001_db8__3": append([]string{"set large-community (65000:2:1234) additive", "set local-preference 100"}, gshut...),
	} {
		w := append(append([]string{"if destination in PO-IN-" + a + " then"}, marks...), "pass", "else", "drop", "endif")
		if got := want["route-policy PO-IN-"+a]; !slices.Equal(got, w) {
			t.Errorf("%s:\n%s", a, strings.Join(got, "\n"))
		}
	}
}

// A new local preference rewrites the route-policy (RPL is replaced
// whole) and nothing of the neighbor.
func TestImportLocalPrefInPlace(t *testing.T) {
	out, _ := New(cli.Config{}).Render(clitest.ImportSample())
	have := parse(string(out)).objs
	s := clitest.ImportSample()
	s.Neighbors[0].LocalPref = 250
	want, pw := wanted(s)
	lines, a, u, r := plan(65000, want, have, pw)
	if strings.Join(lines, "\n") != "route-policy PO-IN-192_0_2_2\nif destination in PO-IN-192_0_2_2 then\nset large-community (64500:1:31, 65000:1:1234) additive\n"+
		"set community (64500:100) additive\nset local-preference 250\nif community matches-any (graceful-shutdown) then\nset local-preference 0\nendif\n"+
		"pass\nelse\ndrop\nendif\nend-policy" || u != 1 || a+r != 0 {
		t.Errorf("%q %d %d %d", lines, a, u, r)
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

// handServers is a router's "router bgp" with the caches of rpkiSample,
// the second by hand on another port, a cache of the router's own and
// origin-AS validation on in both address families.
const handServers = `router bgp 65000
 bgp router-id 192.0.2.1
 rpki server 192.0.2.10
  transport tcp port 3323
  preference 1
 !
 rpki server 2001:db8::10
  transport tcp port 8282
 !
 rpki server rtr.example.net
  transport tcp port 3323
  refresh-time 600
 !
 address-family ipv4 unicast
  bgp origin-as validation enable
 !
 address-family ipv6 unicast
  bgp origin-as validation enable
 !
!
`

// The caches, origin-AS validation and the invalid drop first in every
// filtering import policy; the render reads back with nothing to do.
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
	if p := want["route-policy PO-IN-192_0_2_2"]; !slices.Equal(p[:3], []string{"if validation-state is invalid then", "drop", "endif"}) {
		t.Errorf("policy: %q", p)
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

// Caches configured already, on any port, are left as they are, and so
// is one the router has for itself; a new one is added without touching
// them.
func TestRPKICachesPresent(t *testing.T) {
	s := rpkiSample()
	out, _ := New(cli.Config{}).Render(s)
	have := parse(string(out))
	h := parse(handServers)
	have.servers, have.validated = h.servers, h.validated
	want, pw := wanted(s)
	if lines, _, _, _ := plan(65000, want, have.objs, pw); len(lines) != 0 {
		t.Errorf("policies: %q", lines)
	}
	if lines := rpkiLines(s, have); len(lines) != 0 {
		t.Errorf("caches present: %q", lines)
	}
	s.RPKI = append(s.RPKI, router.RTRServer{Host: "rtr2.example.net", Port: 3323})
	if lines := rpkiLines(s, have); !slices.Equal(lines, []string{
		"router bgp 65000 rpki server rtr2.example.net transport tcp port 3323",
		"router bgp 65000 rpki server rtr2.example.net preference 3",
	}) {
		t.Errorf("new cache: %q", lines)
	}
}

// Without caches the invalid drop goes; the caches and origin-AS
// validation stay.
func TestRPKIRemoved(t *testing.T) {
	out, _ := New(cli.Config{}).Render(rpkiSample())
	have := parse(string(out))
	s := rpkiSample()
	s.RPKI = nil
	want, pw := wanted(s)
	lines, a, u, r := plan(65000, want, have.objs, pw)
	got := strings.Join(lines, "\n")
	if !strings.HasPrefix(got, "route-policy PO-IN-192_0_2_2\nif destination in PO-IN-192_0_2_2 then\n") ||
		!strings.Contains(got, "\nroute-policy PO-IN-2001_db8__3\nif destination in PO-IN-2001_db8__3 then\n") ||
		strings.Contains(got, "validation") || strings.Contains(got, "rpki") || u != 2 || a+r != 0 {
		t.Errorf("%s\n%d %d %d", got, a, u, r)
	}
	if lines := rpkiLines(s, have); len(lines) != 0 {
		t.Errorf("caches: %q", lines)
	}
}

// A router with one cache of two configured by hand and origin-AS
// validation on for IPv6 only: the other cache is added, validation
// turned on for IPv4, the invalid drop put first; the hand-made servers
// are left alone.
func TestApplyRPKI(t *testing.T) {
	d, rec := recorded(t, "rpki.txt")
	s := sample()
	s.RPKI = rpkiSample().RPKI
	res, err := d.Apply(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	if res.Updated != 1 || res.Added+res.Removed != 0 {
		t.Errorf("result %+v", res)
	}
	got := string(configured(t, rec.AssertSent(t, prompt)))
	for _, l := range []string{
		"router bgp 65000 rpki server 192.0.2.10 transport tcp port 3323\nrouter bgp 65000 rpki server 192.0.2.10 preference 1\n",
		"router bgp 65000 address-family ipv4 unicast bgp origin-as validation enable\n",
		"route-policy PO-IN-192_0_2_2\nif validation-state is invalid then\ndrop\nendif\n",
	} {
		if !strings.Contains(got, l) {
			t.Errorf("missing %q in\n%s", l, got)
		}
	}
	if strings.Contains(got, "2001:db8::10") || strings.Contains(got, "rtr.example.net") || strings.Contains(got, "ipv6 unicast bgp") {
		t.Errorf("hand-made configuration touched:\n%s", got)
	}
}
