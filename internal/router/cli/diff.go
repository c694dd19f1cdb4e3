package cli

import (
	"slices"
	"sort"
)

// Objects is owned configuration as the recorded-CLI drivers compare it:
// object key (a neighbor, a filter) → its lines, in the canonical form the
// device prints them.
type Objects map[string][]string

// Change is the difference for one object.
type Change struct {
	Key string
	// New: the object does not exist; Gone: it must be removed whole.
	New, Gone bool
	// Add and Remove are lines of an object that exists on both sides.
	Add, Remove []string
}

// DiffObjects compares want with have, objects sorted by key and lines in
// want's order (Remove in have's).
func DiffObjects(want, have Objects) []Change {
	keys := map[string]bool{}
	for k := range want {
		keys[k] = true
	}
	for k := range have {
		keys[k] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	var out []Change
	for _, k := range sorted {
		w, inW := want[k]
		h, inH := have[k]
		switch {
		case !inH:
			out = append(out, Change{Key: k, New: true, Add: w})
		case !inW:
			out = append(out, Change{Key: k, Gone: true, Remove: h})
		default:
			c := Change{Key: k}
			for _, l := range w {
				if !slices.Contains(h, l) {
					c.Add = append(c.Add, l)
				}
			}
			for _, l := range h {
				if !slices.Contains(w, l) {
					c.Remove = append(c.Remove, l)
				}
			}
			if len(c.Add)+len(c.Remove) > 0 {
				out = append(out, c)
			}
		}
	}
	return out
}
