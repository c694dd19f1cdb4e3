package peeringdb

import (
	"strings"

	"github.com/peering-operator/peering-operator/internal/irr"
)

// ASSet is one entry of a network's irr_as_set: an AS-SET (or an aut-num,
// some networks put "AS65001" there) and the IRR source it names, if any.
type ASSet struct {
	Source string // "RIPE", "RADB", ... upper case; "" when not given
	Name   string // "AS-RETN", "AS3320:AS-DTAG", "AS6939"
}

// String is the PeeringDB notation: SOURCE::NAME, or NAME.
func (a ASSet) String() string {
	if a.Source == "" {
		return a.Name
	}
	return a.Source + "::" + a.Name
}

// ParseASSets splits a PeeringDB irr_as_set field into its sets with the
// one grammar the filters use (irr.ParseSetList: PeeringDB's validator's):
// "RIPE::AS-RETN RIPE::AS-RETN6", "AS3320:AS-DTAG", "AS-A, AS-B",
// "AS-FOO@RIPE". Tokens that are not names are dropped; a field with a
// control character is corrupt and gives nothing.
func ParseASSets(s string) []ASSet {
	sets, _, err := irr.ParseSetList(s)
	if err != nil {
		return nil
	}
	out := make([]ASSet, 0, len(sets))
	for _, x := range sets {
		if src, name, ok := strings.Cut(x, "::"); ok {
			out = append(out, ASSet{Source: src, Name: name})
		} else {
			out = append(out, ASSet{Name: x})
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
