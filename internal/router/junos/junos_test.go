package junos

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

	"github.com/peering-operator/peering-operator/internal/router"
	"github.com/peering-operator/peering-operator/internal/router/cli"
	"github.com/peering-operator/peering-operator/internal/router/cli/clitest"
)

var update = flag.Bool("update", false, "rewrite golden files")

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

func sample() router.Desired {
	s := clitest.WithExport(clitest.Sample())
	s.Neighbors[0].Import = []router.Entry{{Prefix: netip.MustParsePrefix("2001:db8:f000::/36"), GE: 36, LE: 48}}
	return s
}

func recorded(t *testing.T, fixture string) (*Driver, *clitest.Recording) {
	return clitest.Recorded(t, fixture, New)
}

// prompt matches a Junos prompt at the start of a recorded line.
var prompt = regexp.MustCompile(`^[\w\-@()/:.]{1,63}[>#]`)

func TestRender(t *testing.T) {
	d := New(cli.Config{})
	out, err := d.Render(sample())
	if err != nil {
		t.Fatal(err)
	}
	clitest.Golden(t, *update, "render.golden", out)
	s := sample()
	s.Neighbors[0].RouteServerClient = true
	if _, err := d.Render(s); !errors.Is(err, router.ErrInvalid) {
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
	i := func(l string) int { return clitest.Index(t, sent, l) }
	if !(i("configure private") < i("commit check") && i("commit check") < i("commit confirmed 5 comment peering-operator") && i("commit confirmed 5 comment peering-operator") < i("commit")) {
		t.Error("commit sequence out of order")
	}
}

func TestApplyNoChangeWritesNothing(t *testing.T) {
	d, rec := recorded(t, "nochange.txt")
	res, err := d.Apply(context.Background(), sample())
	if err != nil || res.Changed() {
		t.Fatalf("%+v %v", res, err)
	}
	if d.Stats().Writes != 0 {
		t.Errorf("%d writes", d.Stats().Writes)
	}
	rec.AssertSent(t, prompt)
}

// A refused line discards the candidate: nothing is committed.
func TestApplyRefusedLineRollsBack(t *testing.T) {
	d, rec := recorded(t, "refused.txt")
	_, err := d.Apply(context.Background(), sample())
	var ce *cli.CommandError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "rolled back") {
		t.Fatalf("got %v", err)
	}
	sent := rec.AssertSent(t, prompt)
	for _, l := range sent {
		if strings.HasPrefix(l, "commit") {
			t.Errorf("committed after a refusal: %q", l)
		}
	}
	if strings.Contains(err.Error(), "s3cret-md5") {
		t.Errorf("password in error: %v", err)
	}
}

// "commit check" failing stops before anything is committed.
func TestApplyCommitCheckFailsRollsBack(t *testing.T) {
	d, rec := recorded(t, "checkfail.txt")
	_, err := d.Apply(context.Background(), sample())
	if err == nil || !strings.Contains(err.Error(), "rolled back") || !strings.Contains(err.Error(), "commit check") {
		t.Fatalf("got %v", err)
	}
	sent := rec.AssertSent(t, prompt)
	if last := sent[len(sent)-2:]; last[0] != "rollback 0" || last[1] != "exit configuration-mode" {
		t.Errorf("ends with %q", last)
	}
}

func TestInjectionNeverSent(t *testing.T) {
	clitest.InjectionsNeverSent(t, func(t *testing.T) (router.Driver, *clitest.Recording) {
		return recorded(t, "nochange.txt")
	})
}

func ownedRunning(t *testing.T) cli.Objects {
	t.Helper()
	o, foreign := parse(string(clitest.Read(t, "nochange.txt")))
	if !foreign[addr("192.0.2.99")] || len(foreign) != 1 {
		t.Errorf("foreign neighbors %v", foreign)
	}
	return o
}

func TestPlanUpdates(t *testing.T) {
	have := ownedRunning(t)
	s := sample()
	s.Neighbors[1].Password = "n3w-secret"
	s.Neighbors[1].MaxPrefixes = 200
	s.Neighbors[0].Shutdown = false
	s.Neighbors[0].Import = nil
	want, pw := wanted(s)
	lines, a, u, r := plan(want, have, pw)
	got := strings.Join(lines, "\n") + "\n"
	for _, l := range []string{
		`delete protocols bgp group PO-V4 neighbor 192.0.2.2 description "po:peers/as65001 md5=5d37a93da644 Example Net"`,
		`set protocols bgp group PO-V4 neighbor 192.0.2.2 description "po:peers/as65001 md5=` + cli.Fingerprint(addr("192.0.2.2"), "n3w-secret") + ` Example Net"`,
		`set protocols bgp group PO-V4 neighbor 192.0.2.2 authentication-key "n3w-secret"`,
		"set protocols bgp group PO-V4 neighbor 192.0.2.2 family inet unicast prefix-limit maximum 200",
		"activate protocols bgp group PO-V6 neighbor 2001:db8::3",
		"delete policy-options policy-statement PO-IN-2001:db8::3 term PREFIXES\n",
	} {
		if !strings.Contains(got, l) {
			t.Errorf("missing %q in\n%s", l, got)
		}
	}
	if a != 0 || u != 2 || r != 0 {
		t.Errorf("counts %d %d %d", a, u, r)
	}
	// Same password: nothing to do, although the key reads back encrypted.
	want, pw = wanted(sample())
	if lines, _, _, _ := plan(want, have, pw); len(lines) != 0 {
		t.Errorf("converged plan: %q", lines)
	}
	// Every IPv6 neighbor goes: the group goes, with its policies and
	// the tag only it added.
	s = sample()
	s.Neighbors = s.Neighbors[1:]
	want, pw = wanted(s)
	lines, a, u, r = plan(want, have, pw)
	if strings.Join(lines, "\n") != "delete policy-options community PO-LEARNED-2-1234\ndelete protocols bgp group PO-V6\n"+
		"delete policy-options policy-statement PO-IN-2001:db8::3\ndelete policy-options policy-statement PO-OUT-2001:db8::3" || r != 1 || a+u != 0 {
		t.Errorf("removal: %q %d %d %d", lines, a, u, r)
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
		t.Fatalf("want the 2 owned neighbors, got %+v", sts)
	}
	up, tripped := sts[0], sts[1]
	if up.Address != addr("192.0.2.2") || up.State != "Established" || up.Received != 2 || up.Accepted != 1 || up.Limit != 100 ||
		up.EstablishedSince.IsZero() || up.LastError != "" {
		t.Errorf("established: %+v", up)
	}
	if tripped.Address != addr("192.0.2.5") || tripped.State != "Idle" || tripped.Limit != 2 ||
		tripped.LastError != "maximum prefix limit 2 exceeded; session held down (NOTIFICATION: Cease)" {
		t.Errorf("tripped: %+v", tripped)
	}
}

func withASPathChecks(s router.Desired) router.Desired {
	for i := range s.Neighbors {
		s.Neighbors[i].RejectBogonASNs, s.Neighbors[i].EnforceFirstAS = true, true
	}
	return s
}

// Bogon ASNs and the first AS are checked in the import policy; turning
// them on for an existing policy puts the bogon term first.
func TestASPathChecks(t *testing.T) {
	s := withASPathChecks(sample())
	out, err := New(cli.Config{}).Render(s)
	if err != nil {
		t.Fatal(err)
	}
	clitest.Golden(t, *update, "render-aspath.golden", out)
	want, pw := wanted(s)
	have, _ := parse(string(out))
	if lines, _, _, _ := plan(want, have, pw); len(lines) != 0 {
		t.Errorf("render does not read back: %q", lines)
	}
	lines, _, u, _ := plan(want, ownedRunning(t), pw)
	got := strings.Join(lines, "\n")
	for _, l := range []string{
		`set policy-options as-path PO-BOGON-ASNS ".* (0|23456|64496-131071|4200000000-4294967295) .*"`,
		`set policy-options as-path PO-FIRST-192.0.2.2 "65001 .*"`,
		"set policy-options policy-statement PO-IN-192.0.2.2 term PREFIXES from as-path PO-FIRST-192.0.2.2",
		"insert policy-options policy-statement PO-IN-192.0.2.2 term BOGON-ASNS before term GSHUT",
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

// configured is what was sent between entering and checking the
// candidate.
func configured(t *testing.T, sent []string) []byte {
	t.Helper()
	var b strings.Builder
	for _, l := range sent[clitest.Index(t, sent, "configure private")+1 : clitest.Index(t, sent, "commit check")] {
		b.WriteString(l + "\n")
	}
	return []byte(b.String())
}

// A held neighbor keeps its neighbor lines, policy, as-paths (the shared
// bogon one included) and group, though nothing else wants them, while
// another neighbor goes and a third comes.
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
	// The learned communities of its policies stay too; only the tag of
	// the neighbor that went goes.
	for _, s := range []string{"192.0.2.2", "PO-V4", "BOGON", "FIRST", "community PO-LEARNED-1 ", "community PO-LEARNED-2 ", "PO-LEARNED-1-1234"} {
		if strings.Contains(string(got), s) {
			t.Errorf("held configuration %s touched:\n%s", s, got)
		}
	}
	if !strings.Contains(string(got), "delete policy-options community PO-LEARNED-2-1234\n") {
		t.Errorf("the gone neighbor's tag stays:\n%s", got)
	}
}

// A NOC shutdown reaches a held neighbor, and nothing else of it does.
func TestApplyHeldShutdown(t *testing.T) {
	clitest.HeldShutdown(t, *update, prompt, New, sample(), configured, "deactivate protocols bgp group PO-V4 neighbor 192.0.2.2\n")
}

// A held address the router does not run is not created, shutdown or not.
func TestApplyHeldAbsentCreatesNothing(t *testing.T) {
	clitest.HeldAbsent(t, prompt, New, sample())
}

func TestPlanHeld(t *testing.T) {
	have := ownedRunning(t)
	up := false
	// Bringing a held neighbor up is its one change too.
	s := sample()
	s.Neighbors = s.Neighbors[1:]
	s.Held = []router.Held{{Address: addr("2001:db8::3"), Shutdown: &up}}
	want, pw := wanted(s)
	lines, a, u, r := plan(cli.Hold(want, have, s.Held, neighborKey, deactivated), have, pw)
	if strings.Join(lines, "\n") != "activate protocols bgp group PO-V6 neighbor 2001:db8::3" || u != 1 || a+r != 0 {
		t.Errorf("activate: %q %d %d %d", lines, a, u, r)
	}
	// The last neighbor of a group goes, the held one's group stays.
	s.Neighbors = nil
	s.Held[0].Shutdown = nil
	want, pw = wanted(s)
	lines, _, _, r = plan(cli.Hold(want, have, s.Held, neighborKey, deactivated), have, pw)
	if strings.Join(lines, "\n") != "delete policy-options community PO-LEARNED-1\ndelete policy-options community PO-LEARNED-1-1234\n"+
		"delete policy-options community PO-LEARNED-2\ndelete protocols bgp group PO-V4\n"+
		"delete policy-options policy-statement PO-IN-192.0.2.2\ndelete policy-options policy-statement PO-OUT-192.0.2.2" || r != 1 {
		t.Errorf("removal: %q", lines)
	}
}

// A held neighbor keeps its export policy and the shared communities it
// names while every other neighbor goes.
func TestPlanHeldKeepsExportObjects(t *testing.T) {
	have := ownedRunning(t)
	s := sample()
	s.Neighbors = nil
	s.Held = []router.Held{{Address: addr("192.0.2.2")}}
	want, pw := wanted(s)
	lines, _, _, r := plan(cli.Hold(want, have, s.Held, neighborKey, deactivated), have, pw)
	if strings.Join(lines, "\n") != "delete policy-options community PO-LEARNED-2-1234\ndelete protocols bgp group PO-V6\n"+
		"delete policy-options policy-statement PO-IN-2001:db8::3\ndelete policy-options policy-statement PO-OUT-2001:db8::3" || r != 1 {
		t.Errorf("removal: %q", lines)
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
	have, _ := parse(string(out))
	if lines, _, _, _ := plan(cli.Hold(want, have, s.Held, neighborKey, deactivated), have, pw); len(lines) != 0 {
		t.Errorf("render does not read back: %q", lines)
	}
}

// The export policy of a neighbor with two prefixes: learned routes
// rejected first, then the two prefixes accepted, then everything
// rejected; the neighbor names it.
func TestExportRendered(t *testing.T) {
	want, pw := wanted(sample())
	q := "set policy-options policy-statement PO-OUT-192.0.2.2 "
	if got, w := want["policy PO-OUT-192.0.2.2"], []string{
		q + "term LEARNED from community PO-LEARNED-1",
		q + "term LEARNED from community PO-LEARNED-2",
		q + "term LEARNED then reject",
		q + "term EXPORT from route-filter 100.64.0.0/10 prefix-length-range /16-/24",
		q + "term EXPORT from route-filter 198.18.0.0/15 exact",
		q + "term EXPORT then accept",
		q + "then reject",
	}; !slices.Equal(got, w) {
		t.Errorf("policy:\n%s", strings.Join(got, "\n"))
	}
	for k, w := range map[string]string{
		"community PO-LEARNED-1": "set policy-options community PO-LEARNED-1 members large:65000:1:*",
		"community PO-LEARNED-2": "set policy-options community PO-LEARNED-2 members large:65000:2:*",
	} {
		if !slices.Equal(want[k], []string{w}) {
			t.Errorf("%s: %q", k, want[k])
		}
	}
	if !slices.Contains(want["neighbor PO-V4 192.0.2.2"], "set protocols bgp group PO-V4 neighbor 192.0.2.2 export PO-OUT-192.0.2.2") {
		t.Errorf("neighbor without export: %q", want["neighbor PO-V4 192.0.2.2"])
	}
	// The render reads back as converged.
	out, err := New(cli.Config{}).Render(sample())
	if err != nil {
		t.Fatal(err)
	}
	have, _ := parse(string(out))
	if lines, _, _, _ := plan(want, have, pw); len(lines) != 0 {
		t.Errorf("render does not read back: %q", lines)
	}
}

// No Export: a policy that rejects everything, still attached.
func TestExportEmptyDeniesAll(t *testing.T) {
	s := sample()
	s.Neighbors[1].Export = nil
	want, _ := wanted(s)
	for _, a := range []string{"192.0.2.2", "2001:db8::3"} {
		if got := want["policy PO-OUT-"+a]; !slices.Equal(got, []string{"set policy-options policy-statement PO-OUT-" + a + " then reject"}) {
			t.Errorf("%s: %q", a, got)
		}
	}
	if !slices.Contains(want["neighbor PO-V6 2001:db8::3"], "set protocols bgp group PO-V6 neighbor 2001:db8::3 export PO-OUT-2001:db8::3") {
		t.Error("no export policy attached")
	}
	if _, ok := want["community PO-LEARNED-1"]; ok {
		t.Error("learned communities without a policy naming them")
	}
}

// Routes accepted from a peer get LocalASN:1:IXID, from a route server
// LocalASN:2:IXID, and nothing else gets a tag.
func TestLearnedTagOnImport(t *testing.T) {
	want, _ := wanted(sample())
	for a, tag := range map[string]string{"192.0.2.2": "PO-LEARNED-1-1234", "2001:db8::3": "PO-LEARNED-2-1234"} {
		q := "set policy-options policy-statement PO-IN-" + a + " term PREFIXES then "
		p := want["policy PO-IN-"+a]
		if i := slices.Index(p, q+"community add "+tag); i < 0 || i > slices.Index(p, q+"accept") {
			t.Errorf("%s: no tag before the accept: %q", a, p)
		}
	}
	if got := want["community PO-LEARNED-1-1234"]; !slices.Equal(got, []string{"set policy-options community PO-LEARNED-1-1234 members large:65000:1:1234"}) {
		t.Errorf("tag community %q", got)
	}
	s := sample()
	s.Neighbors[1].Learned = router.LearnedNone
	s.Neighbors[0].Import = nil // accepts nothing: nothing to tag
	want, _ = wanted(s)
	for k, lines := range want {
		if tagKey.MatchString(k) || slices.ContainsFunc(lines, func(l string) bool { return strings.Contains(l, "community add") }) {
			t.Errorf("tag left in %s: %q", k, lines)
		}
	}
}

var tagKey = regexp.MustCompile(`^community PO-LEARNED-\d+-\d+$`)

// A term new to an existing policy is moved before the later terms the
// router has: the learned rejection must come before the accepting term.
func TestExportTermOrder(t *testing.T) {
	want, pw := wanted(sample())
	have, _ := wanted(sample())
	k := "policy PO-OUT-192.0.2.2"
	have[k] = slices.DeleteFunc(slices.Clone(have[k]), func(l string) bool { return strings.Contains(l, " term LEARNED ") })
	lines, _, u, _ := plan(want, have, pw)
	if n := len(lines); n == 0 || lines[n-1] != "insert policy-options policy-statement PO-OUT-192.0.2.2 term LEARNED before term EXPORT" || u != 1 {
		t.Errorf("%q (updated %d)", lines, u)
	}
}

// Export going empty drops its terms whole (no empty term left behind to
// match everything), leaving the final reject.
func TestExportGoesEmpty(t *testing.T) {
	have, _ := wanted(sample())
	s := sample()
	s.Neighbors[1].Export = nil
	want, pw := wanted(s)
	lines, _, u, _ := plan(want, have, pw)
	q := "delete policy-options policy-statement PO-OUT-192.0.2.2 term "
	if w := []string{"delete policy-options community PO-LEARNED-1", "delete policy-options community PO-LEARNED-2", q + "LEARNED", q + "EXPORT"}; !slices.Equal(lines, w) || u != 1 {
		t.Errorf("%q (updated %d)", lines, u)
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
	clitest.RouteServerGolden(t, *update, New(cli.Config{}).Render, func(asn uint32) string { return fmt.Sprintf(`"%d .*"`, asn) })
}

// A drained neighbor (RFC 8326): local preference 0 in, GRACEFUL_SHUTDOWN out.
func TestRenderDrain(t *testing.T) {
	clitest.DrainGolden(t, *update, New(cli.Config{}).Render)
}

// The import attributes: local preference and GRACEFUL_SHUTDOWN in terms
// that only modify, before the accepting term, whose drain 0 comes last;
// informational communities added there.
func TestRenderImport(t *testing.T) {
	s := clitest.ImportSample()
	out, err := New(cli.Config{}).Render(s)
	if err != nil {
		t.Fatal(err)
	}
	clitest.Golden(t, *update, "render-import.golden", out)
	want, pw := wanted(s)
	have, _ := parse(string(out))
	if lines, _, _, _ := plan(want, have, pw); len(lines) != 0 {
		t.Errorf("render does not read back: %q", lines)
	}
	for a, terms := range map[string][]string{
		"192.0.2.2":   {"LOCAL-PREF", "GSHUT", "PREFIXES"},
		"192.0.2.3":   {"LOCAL-PREF", "PREFIXES"},
		"192.0.2.4":   {"LOCAL-PREF", "GSHUT", "PREFIXES"},
		"2001:db8::3": {"LOCAL-PREF", "GSHUT", "PREFIXES"},
	} {
		p := want["policy PO-IN-"+a]
		if got := termNames(p); !slices.Equal(got, terms) {
			t.Errorf("%s: terms %q", a, got)
		}
		// Only PREFIXES accepts: the other terms never bypass the filter.
		for _, l := range p {
			if (strings.HasSuffix(l, " then accept") || strings.HasSuffix(l, " then reject")) && !strings.Contains(l, " term PREFIXES ") && strings.Contains(l, " term ") {
				t.Errorf("%s: %q ends the policy outside PREFIXES", a, l)
			}
		}
	}
	q := "set policy-options policy-statement PO-IN-192.0.2.4 term PREFIXES then "
	if p := want["policy PO-IN-192.0.2.4"]; slices.Index(p, q+"local-preference 0") < 0 || slices.Index(p, q+"local-preference 0") > slices.Index(p, q+"accept") {
		t.Errorf("drain's 0 is not in the accepting term: %q", p)
	}
	for k, w := range map[string]string{
		"community PO-COMMUNITY-64500-100":  "set policy-options community PO-COMMUNITY-64500-100 members 64500:100",
		"community PO-COMMUNITY-64500-1-31": "set policy-options community PO-COMMUNITY-64500-1-31 members large:64500:1:31",
	} {
		if !slices.Equal(want[k], []string{w}) {
			t.Errorf("%s: %q", k, want[k])
		}
	}
}

// A new local preference is set over the old value, in place: deleting it
// first would empty the term, and Junos would put it back last.
func TestImportLocalPrefInPlace(t *testing.T) {
	out, _ := New(cli.Config{}).Render(clitest.ImportSample())
	have, _ := parse(string(out))
	s := clitest.ImportSample()
	s.Neighbors[0].LocalPref = 250
	want, pw := wanted(s)
	lines, a, u, r := plan(want, have, pw)
	if !slices.Equal(lines, []string{"set policy-options policy-statement PO-IN-192.0.2.2 term LOCAL-PREF then local-preference 250"}) || u != 1 || a+r != 0 {
		t.Errorf("%q %d %d %d", lines, a, u, r)
	}
}

// The attributes reach a router running the policies without them: the
// new terms are moved before PREFIXES.
func TestImportUpgrade(t *testing.T) {
	have := ownedRunning(t)
	s := sample()
	for i := range s.Neighbors {
		s.Neighbors[i].LocalPref = 100
	}
	s.Neighbors[1].Communities = []string{"64500:100"}
	want, pw := wanted(s)
	lines, _, u, _ := plan(want, have, pw)
	got := strings.Join(lines, "\n")
	for _, l := range []string{
		"set policy-options community PO-COMMUNITY-64500-100 members 64500:100",
		"set policy-options policy-statement PO-IN-192.0.2.2 term LOCAL-PREF then local-preference 100",
		"set policy-options policy-statement PO-IN-192.0.2.2 term PREFIXES then community add PO-COMMUNITY-64500-100",
		"insert policy-options policy-statement PO-IN-192.0.2.2 term LOCAL-PREF before term GSHUT",
		"insert policy-options policy-statement PO-IN-2001:db8::3 term LOCAL-PREF before term GSHUT",
	} {
		if !strings.Contains(got, l) {
			t.Errorf("missing %q in\n%s", l, got)
		}
	}
	if u != 2 {
		t.Errorf("updated %d", u)
	}
}

// Attributes going away: the GSHUT term goes whole, and so do the
// communities no policy adds or matches any more.
func TestImportRemoved(t *testing.T) {
	out, _ := New(cli.Config{}).Render(clitest.ImportSample())
	have, _ := parse(string(out))
	s := clitest.ImportSample()
	s.Neighbors[0].Communities = nil
	s.Neighbors[0].IgnoreGracefulShutdown = true
	want, pw := wanted(s)
	lines, _, u, _ := plan(want, have, pw)
	if w := []string{
		"delete policy-options community PO-COMMUNITY-64500-1-31",
		"delete policy-options policy-statement PO-IN-192.0.2.2 term GSHUT",
		"delete policy-options policy-statement PO-IN-192.0.2.2 term PREFIXES then community add PO-COMMUNITY-64500-100",
		"delete policy-options policy-statement PO-IN-192.0.2.2 term PREFIXES then community add PO-COMMUNITY-64500-1-31",
	}; !slices.Equal(lines, w) || u != 1 {
		t.Errorf("%q (updated %d)", lines, u)
	}
	for i := range s.Neighbors {
		s.Neighbors[i].IgnoreGracefulShutdown = true
	}
	want, pw = wanted(s)
	if lines, _, _, _ := plan(want, have, pw); !slices.Contains(lines, "delete policy-options community PO-GSHUT") {
		t.Errorf("GRACEFUL_SHUTDOWN community left unused: %q", lines)
	}
}

// rpkiSample validates against two caches, an IPv4 one first; 192.0.2.2
// is drained.
func rpkiSample() router.Desired {
	s := sample()
	s.RPKI = []router.RTRServer{{Host: "192.0.2.10", Port: 3323}, {Host: "2001:db8::10", Port: 323}}
	s.Neighbors[1].Drain = true
	return s
}

// handSessions is a router's validation configuration: the first cache
// of rpkiSample in our group, the second by hand in another group (on
// another port), and a cache of the router's own.
const handSessions = `
set routing-options validation group PO-RPKI session 192.0.2.10 port 3323
set routing-options validation group PO-RPKI session 192.0.2.10 preference 255
set routing-options validation group RTR session 2001:db8::10 port 8282
set routing-options validation group RTR session 192.0.2.77 port 3323
`

// The caches and the reject-invalid term first in every import policy;
// the render reads back with nothing to do.
func TestRenderRPKI(t *testing.T) {
	s := rpkiSample()
	out, err := New(cli.Config{}).Render(s)
	if err != nil {
		t.Fatal(err)
	}
	clitest.Golden(t, *update, "render-rpki.golden", out)
	want, pw := wanted(s)
	have, _ := parse(string(out))
	if lines, _, _, _ := plan(want, have, pw); len(lines) != 0 {
		t.Errorf("render does not read back: %q", lines)
	}
	if lines := newSessions(s, parseSessions(string(out))); len(lines) != 0 {
		t.Errorf("rendered caches do not read back: %q", lines)
	}
	for _, a := range []string{"192.0.2.2", "2001:db8::3"} {
		if got := termNames(want["policy PO-IN-"+a]); len(got) == 0 || got[0] != "RPKI-INVALID" {
			t.Errorf("%s: terms %q", a, got)
		}
	}
	for _, h := range []string{"rtr.example.net", "fe80::1%eth0"} {
		s := rpkiSample()
		s.RPKI[1].Host = h
		if _, err := New(cli.Config{}).Render(s); !errors.Is(err, router.ErrInvalid) || !strings.Contains(err.Error(), "IP address") {
			t.Errorf("%s: %v", h, err)
		}
	}
}

// Caches configured already, in any group and on any port, are left as
// they are, and so is one the router has for itself; a new one is added
// without touching them.
func TestRPKICachesPresent(t *testing.T) {
	s := rpkiSample()
	out, _ := New(cli.Config{}).Render(s)
	objs, _ := parse(string(out))
	have := parseSessions(handSessions)
	want, pw := wanted(s)
	if lines, _, _, _ := plan(want, objs, pw); len(lines) != 0 {
		t.Errorf("policies: %q", lines)
	}
	if lines := newSessions(s, have); len(lines) != 0 {
		t.Errorf("caches present: %q", lines)
	}
	s.RPKI = append(s.RPKI, router.RTRServer{Host: "192.0.2.11", Port: 3323})
	if lines := newSessions(s, have); !slices.Equal(lines, []string{
		"set routing-options validation group PO-RPKI session 192.0.2.11 port 3323",
		"set routing-options validation group PO-RPKI session 192.0.2.11 preference 253",
	}) {
		t.Errorf("new cache: %q", lines)
	}
}

// Without caches the reject-invalid terms go whole; the caches stay.
func TestRPKIRemoved(t *testing.T) {
	out, _ := New(cli.Config{}).Render(rpkiSample())
	objs, _ := parse(string(out))
	s := rpkiSample()
	s.RPKI = nil
	want, pw := wanted(s)
	lines, a, u, r := plan(want, objs, pw)
	if !slices.Equal(lines, []string{
		"delete policy-options policy-statement PO-IN-192.0.2.2 term RPKI-INVALID",
		"delete policy-options policy-statement PO-IN-2001:db8::3 term RPKI-INVALID",
	}) || u != 2 || a+r != 0 {
		t.Errorf("%q %d %d %d", lines, a, u, r)
	}
	if lines := newSessions(s, parseSessions(string(out)+handSessions)); len(lines) != 0 {
		t.Errorf("caches: %q", lines)
	}
}

// A router without the reject-invalid terms and with one cache of two
// configured by hand: the other cache is added, the terms go first, and
// the hand-made sessions are left alone.
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
		"set routing-options validation group PO-RPKI session 192.0.2.10 port 3323\n",
		"insert policy-options policy-statement PO-IN-192.0.2.2 term RPKI-INVALID before term GSHUT\n",
	} {
		if !strings.Contains(got, l) {
			t.Errorf("missing %q in\n%s", l, got)
		}
	}
	if strings.Contains(got, "2001:db8::10") || strings.Contains(got, "delete routing-options") {
		t.Errorf("hand-made cache touched:\n%s", got)
	}
}
