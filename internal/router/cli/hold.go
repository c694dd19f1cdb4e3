package cli

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"unicode"

	"github.com/peering-operator/peering-operator/internal/router"
)

// Hold returns want with each held neighbor kept as have runs it, so that
// a diff against have leaves it alone. The neighbor is the object key(addr)
// of have; with it go its own objects (named by ObjectName for its
// address, even unused or left without the neighbor) and the owned objects it names, directly or
// through another such object (its policy, prefix and as-path sets, its
// group), because changing those changes the neighbor. An object shared
// with other neighbors keeps the router's version while a held neighbor
// uses it, even when want has another: the hold wins until it ends.
// Neighbors (keys starting "neighbor ") are never reached by name.
//
// A held address absent from have is not added. When Shutdown is set, the
// neighbor's admin-down line shutdown(addr) is added or removed: the one
// change a held neighbor takes. Neither want nor have is modified (Plan
// runs twice with the same want).
func Hold(want, have Objects, held []router.Held, key, shutdown func(netip.Addr) string) Objects {
	if len(held) == 0 {
		return want
	}
	out := maps.Clone(want)
	if out == nil {
		out = Objects{}
	}
	byName := map[string][]string{} // object name → have keys with that name
	for k := range have {
		if !strings.HasPrefix(k, "neighbor ") {
			n := k[strings.LastIndexByte(k, ' ')+1:]
			byName[n] = append(byName[n], k)
		}
	}
	for _, h := range held {
		k := key(h.Address)
		_, running := have[k]
		var roots []string
		if running {
			roots = append(roots, k)
		}
		for n, ks := range byName {
			if ownName(n, h.Address) {
				roots = append(roots, ks...)
			}
		}
		for _, u := range uses(have, roots, byName) {
			out[u] = slices.Clone(have[u])
		}
		if running && h.Shutdown != nil {
			out[k] = withLine(out[k], shutdown(h.Address), *h.Shutdown)
		}
	}
	return out
}

// ownName reports whether an object name is ObjectName(kind, addr, safe)
// for some kind: the address ends it after a '-', which no address holds.
func ownName(name string, addr netip.Addr) bool {
	v := strings.TrimPrefix(ObjectName("", addr, false), ObjectPrefix)
	s := strings.TrimPrefix(ObjectName("", addr, true), ObjectPrefix)
	return strings.HasPrefix(name, ObjectPrefix) && (strings.HasSuffix(name, v) || strings.HasSuffix(name, s))
}

// uses returns roots and every object of have they name, transitively.
func uses(have Objects, roots []string, byName map[string][]string) []string {
	seen := map[string]bool{}
	var queue []string
	for _, r := range roots {
		if !seen[r] {
			seen[r] = true
			queue = append(queue, r)
		}
	}
	for i := 0; i < len(queue); i++ {
		for _, l := range have[queue[i]] {
			for _, tok := range strings.FieldsFunc(l, func(r rune) bool { return unicode.IsSpace(r) || strings.ContainsRune(`|"',`, r) }) {
				for _, u := range byName[tok] {
					if !seen[u] {
						seen[u] = true
						queue = append(queue, u)
					}
				}
			}
		}
	}
	return queue
}

// withLine returns lines with line present or absent.
func withLine(lines []string, line string, present bool) []string {
	out := slices.DeleteFunc(slices.Clone(lines), func(l string) bool { return l == line })
	if present {
		out = append(out, line)
	}
	return out
}

// HeldComments are comment lines (after marker, the platform's comment
// syntax) naming each held neighbor and its forced admin state, sorted by
// address: Render cannot show a held neighbor's configuration, but its
// output and digest must change when the held set does.
func HeldComments(marker string, held []router.Held) []string {
	hs := slices.Clone(held)
	slices.SortFunc(hs, func(a, b router.Held) int { return a.Address.Compare(b.Address) })
	var out []string
	for _, h := range hs {
		state := "as-running"
		if h.Shutdown != nil {
			state = "up"
			if *h.Shutdown {
				state = "shutdown"
			}
		}
		// %q: the owner is not validated and must not break the line.
		out = append(out, fmt.Sprintf("%s held neighbor %s owner %q admin %s", marker, h.Address, h.Owner, state))
	}
	return out
}
