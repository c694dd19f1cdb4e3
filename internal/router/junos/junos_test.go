package junos

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/scrapli/scrapligo/transport"

	"github.com/peering-operator/peering-operator/internal/router"
	"github.com/peering-operator/peering-operator/internal/router/cli"
)

var update = flag.Bool("update", false, "rewrite golden files")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
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

func addr(s string) netip.Addr  { return netip.MustParseAddr(s) }
func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }

func sample() router.Desired {
	return router.Desired{LocalASN: 65000, RouterID: addr("192.0.2.1"), Neighbors: []router.Neighbor{
		{Address: addr("2001:db8::3"), PeerASN: 4200000001, Owner: "peers/as4200000001", Shutdown: true,
			Import: []router.Entry{{Prefix: pfx("2001:db8:f000::/36"), GE: 36, LE: 48}}},
		{Address: addr("192.0.2.2"), PeerASN: 65001, Owner: "peers/as65001", Description: "Example Net", Password: "s3cret-md5", MaxPrefixes: 100,
			Import: []router.Entry{{Prefix: pfx("203.0.113.0/24"), Exact: true}, {Prefix: pfx("10.0.0.0/8"), GE: 8, LE: 24}, {Prefix: pfx("198.51.100.0/24"), GE: 25, LE: 32}}},
	}}
}

// fileDriver runs a driver against a recorded session (scrapligo's file
// transport): the file is what the device prints, our input included.
func fileDriver(t *testing.T, fixture string) (*Driver, *transport.File) {
	t.Helper()
	ft, _ := transport.NewFileTransport()
	ft.F = filepath.Join("testdata", fixture)
	d := New(cli.Config{Host: "r1", Username: "po", Password: "login-pw", Transport: ft, CommandTimeout: 10 * time.Second, ReadDelay: time.Nanosecond})
	t.Cleanup(func() { d.Close() })
	return d, ft
}

var promptLine = regexp.MustCompile(`^(?:[\w\-@()/:.]{1,63}[>#]) ?(.*)$`)

// commandsIn lists what a recorded session shows being typed after each
// prompt: exactly what the driver must send.
func commandsIn(t *testing.T, fixture string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", fixture))
	if err != nil {
		t.Fatal(err)
	}
	var cmds []string
	for _, l := range strings.Split(string(b), "\n") {
		if m := promptLine.FindStringSubmatch(l); m != nil && m[1] != "" {
			cmds = append(cmds, strings.TrimSpace(m[1]))
		}
	}
	return cmds
}

func written(ft *transport.File) []string {
	var out []string
	for _, l := range strings.Split(string(bytes.Join(ft.Writes, nil)), "\n") {
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}

func assertSent(t *testing.T, ft *transport.File, fixture string) []string {
	t.Helper()
	got, want := written(ft), commandsIn(t, fixture)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("sent:\n%s\n--- the recording expects:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	return got
}

func TestRender(t *testing.T) {
	d := New(cli.Config{})
	out, err := d.Render(sample())
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "render.golden", out)
	s := sample()
	s.Neighbors[0].RouteServerClient = true
	if _, err := d.Render(s); !errors.Is(err, router.ErrInvalid) {
		t.Errorf("route-server client: %v", err)
	}
}

func TestApplyCreate(t *testing.T) {
	d, ft := fileDriver(t, "create.txt")
	res, err := d.Apply(context.Background(), sample())
	if err != nil {
		t.Fatal(err)
	}
	if res.Added != 2 || res.Updated+res.Removed != 0 {
		t.Errorf("result %+v", res)
	}
	sent := assertSent(t, ft, "create.txt")
	i := func(s string) int {
		for k, l := range sent {
			if l == s {
				return k
			}
		}
		t.Fatalf("not sent: %q", s)
		return 0
	}
	if !(i("configure private") < i("commit check") && i("commit check") < i("commit confirmed 5 comment peering-operator") && i("commit confirmed 5 comment peering-operator") < i("commit")) {
		t.Error("commit sequence out of order")
	}
}

func TestApplyNoChangeWritesNothing(t *testing.T) {
	d, ft := fileDriver(t, "nochange.txt")
	res, err := d.Apply(context.Background(), sample())
	if err != nil || res.Changed() {
		t.Fatalf("%+v %v", res, err)
	}
	if d.Stats().Writes != 0 {
		t.Errorf("%d writes", d.Stats().Writes)
	}
	assertSent(t, ft, "nochange.txt")
}

// A refused line discards the candidate: nothing is committed.
func TestApplyRefusedLineRollsBack(t *testing.T) {
	d, ft := fileDriver(t, "refused.txt")
	_, err := d.Apply(context.Background(), sample())
	var ce *cli.CommandError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "rolled back") {
		t.Fatalf("got %v", err)
	}
	sent := assertSent(t, ft, "refused.txt")
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
	d, ft := fileDriver(t, "checkfail.txt")
	_, err := d.Apply(context.Background(), sample())
	if err == nil || !strings.Contains(err.Error(), "rolled back") || !strings.Contains(err.Error(), "commit check") {
		t.Fatalf("got %v", err)
	}
	sent := assertSent(t, ft, "checkfail.txt")
	if last := sent[len(sent)-2:]; last[0] != "rollback 0" || last[1] != "exit configuration-mode" {
		t.Errorf("ends with %q", last)
	}
}

func TestInjectionNeverSent(t *testing.T) {
	for _, n := range cli.Injections() {
		d, ft := fileDriver(t, "nochange.txt")
		_, err := d.Apply(context.Background(), router.Desired{LocalASN: 65000, RouterID: addr("192.0.2.1"), Neighbors: []router.Neighbor{n}})
		if !errors.Is(err, router.ErrInvalid) {
			t.Errorf("%q/%q: %v", n.Description, n.Owner, err)
		}
		if len(ft.Writes) != 0 {
			t.Errorf("%q: %d writes", n.Description, len(ft.Writes))
		}
	}
}

func ownedRunning(t *testing.T) cli.Objects {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "nochange.txt"))
	if err != nil {
		t.Fatal(err)
	}
	o, foreign := parse(string(b))
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
	got := strings.Join(lines, "\n")
	for _, l := range []string{
		`delete protocols bgp group PO-V4 neighbor 192.0.2.2 description "po:peers/as65001 md5=5d37a93da644 Example Net"`,
		`set protocols bgp group PO-V4 neighbor 192.0.2.2 description "po:peers/as65001 md5=` + cli.Fingerprint(addr("192.0.2.2"), "n3w-secret") + ` Example Net"`,
		`set protocols bgp group PO-V4 neighbor 192.0.2.2 authentication-key "n3w-secret"`,
		"set protocols bgp group PO-V4 neighbor 192.0.2.2 family inet unicast prefix-limit maximum 200",
		"activate protocols bgp group PO-V6 neighbor 2001:db8::3",
		"delete policy-options policy-statement PO-IN-2001:db8::3 term PREFIXES then accept",
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
	// Every IPv6 neighbor goes: the group goes, with its policy.
	s = sample()
	s.Neighbors = s.Neighbors[1:]
	want, pw = wanted(s)
	lines, a, u, r = plan(want, have, pw)
	if strings.Join(lines, "\n") != "delete protocols bgp group PO-V6\ndelete policy-options policy-statement PO-IN-2001:db8::3" || r != 1 || a+u != 0 {
		t.Errorf("removal: %q %d %d %d", lines, a, u, r)
	}
}

func TestState(t *testing.T) {
	d, ft := fileDriver(t, "state.txt")
	sts, err := d.State(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	assertSent(t, ft, "state.txt")
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
	golden(t, "render-aspath.golden", out)
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
		"insert policy-options policy-statement PO-IN-192.0.2.2 term BOGON-ASNS before term PREFIXES",
	} {
		if !strings.Contains(got, l) {
			t.Errorf("missing %q in\n%s", l, got)
		}
	}
	if u != 2 {
		t.Errorf("updated %d", u)
	}
}
