package cli

import (
	"maps"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/peering-operator/peering-operator/internal/router"
)

func holdKey(a netip.Addr) string    { return "neighbor " + a.String() }
func holdShutdown(netip.Addr) string { return "shutdown" }

func deepClone(o Objects) Objects {
	out := Objects{}
	for k, v := range o {
		out[k] = slices.Clone(v)
	}
	return out
}

func TestHold(t *testing.T) {
	// The router: 192.0.2.2 with its policy, prefix set, first-AS list,
	// an unused list of its own and the shared bogon list and group;
	// 192.0.2.3 with its own policy; a stale object of 192.0.2.9.
	have := Objects{
		"neighbor 192.0.2.2":            {"description po:a see 192.0.2.3", "group PO-V4", "route-policy PO-IN-192.0.2.2 in"},
		"group PO-V4":                   {"type external"},
		"policy PO-IN-192.0.2.2":        {"match as-path PO-BOGON-ASNS", "permit 10|match as-path PO-FIRST-192.0.2.2", `match prefix-set "PO-IN-192.0.2.2"`},
		"prefix-set PO-IN-192.0.2.2":    {"10.0.0.0/8"},
		"aspath PO-FIRST-192.0.2.2":     {"^65001_"},
		"aspath PO-OLD-192_0_2_2":       {"^65001_"},
		"aspath PO-BOGON-ASNS":          {"old-regex"},
		"neighbor 192.0.2.3":            {"description po:b", "group PO-V4", "route-policy PO-IN-192.0.2.3 in"},
		"policy PO-IN-192.0.2.3":        {"match as-path PO-BOGON-ASNS"},
		"aspath PO-FIRST-192.0.2.9":     {"^65009_"},
		"aspath PO-FIRST-192.0.2.22":    {"^65022_"},
		"prefix-set PO-IN-10_192_0_2_2": {"10.0.0.0/8"},
	}
	// What is wanted: 192.0.2.3 gone, 192.0.2.4 new with a newer bogon
	// list, and no group (the held neighbor's must stay all the same).
	want := Objects{
		"neighbor 192.0.2.4":     {"description po:c", "group PO-V4", "route-policy PO-IN-192.0.2.4 in"},
		"policy PO-IN-192.0.2.4": {"match as-path PO-BOGON-ASNS"},
		"aspath PO-BOGON-ASNS":   {"new-regex"},
	}
	wantBefore, haveBefore := deepClone(want), deepClone(have)
	held := []router.Held{{Address: netipAddr("192.0.2.2")}, {Address: netipAddr("192.0.2.9")}, {Address: netipAddr("192.0.2.77")}}

	got := Hold(want, have, held, holdKey, holdShutdown)
	if !reflect.DeepEqual(want, wantBefore) || !reflect.DeepEqual(have, haveBefore) {
		t.Fatal("Hold modified its inputs")
	}
	var changed []string
	for _, c := range DiffObjects(got, have) {
		changed = append(changed, c.Key)
	}
	// Only 192.0.2.3 (not reached through the held description), its
	// policy, the unrelated objects and the new neighbor change; the
	// shared bogon list keeps the router's version.
	if w := []string{"aspath PO-FIRST-192.0.2.22", "neighbor 192.0.2.3", "neighbor 192.0.2.4", "policy PO-IN-192.0.2.3", "policy PO-IN-192.0.2.4", "prefix-set PO-IN-10_192_0_2_2"}; !slices.Equal(changed, w) {
		t.Errorf("changes %q, want %q", changed, w)
	}
	if _, ok := got["neighbor 192.0.2.77"]; ok {
		t.Error("an absent held neighbor was created")
	}

	// The admin state is the one change a held neighbor takes, and only
	// one that runs.
	down, up := true, false
	held = []router.Held{{Address: netipAddr("192.0.2.2"), Shutdown: &down}, {Address: netipAddr("192.0.2.77"), Shutdown: &down}}
	got = Hold(want, have, held, holdKey, holdShutdown)
	cs := DiffObjects(got, have)
	i := slices.IndexFunc(cs, func(c Change) bool { return c.Key == "neighbor 192.0.2.2" })
	if i < 0 || !slices.Equal(cs[i].Add, []string{"shutdown"}) || len(cs[i].Remove) != 0 {
		t.Errorf("shutdown: %+v", cs)
	}
	if _, ok := got["neighbor 192.0.2.77"]; ok {
		t.Error("an absent held neighbor was created to shut it down")
	}
	shut := deepClone(have)
	shut["neighbor 192.0.2.2"] = append(shut["neighbor 192.0.2.2"], "shutdown")
	if g := Hold(want, shut, held, holdKey, holdShutdown); !slices.Equal(g["neighbor 192.0.2.2"], shut["neighbor 192.0.2.2"]) {
		t.Errorf("already shut: %q", g["neighbor 192.0.2.2"])
	}
	held[0].Shutdown = &up
	if g := Hold(want, shut, held, holdKey, holdShutdown); !slices.Equal(g["neighbor 192.0.2.2"], have["neighbor 192.0.2.2"]) {
		t.Errorf("brought up: %q", g["neighbor 192.0.2.2"])
	}

	// Nothing held: want as is.
	if g := Hold(want, have, nil, holdKey, holdShutdown); !maps.EqualFunc(g, want, slices.Equal) {
		t.Error("no hold changed want")
	}
}

func TestHeldComments(t *testing.T) {
	down, up := true, false
	got := HeldComments("!", []router.Held{
		{Address: netipAddr("2001:db8::9"), Owner: "ns/b", Shutdown: &down},
		{Address: netipAddr("192.0.2.5"), Owner: "ns/a\nset x"},
		{Address: netipAddr("192.0.2.1"), Shutdown: &up},
	})
	want := []string{
		`! held neighbor 192.0.2.1 owner "" admin up`,
		`! held neighbor 192.0.2.5 owner "ns/a\nset x" admin as-running`,
		`! held neighbor 2001:db8::9 owner "ns/b" admin shutdown`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s", strings.Join(got, "\n"))
	}
}
