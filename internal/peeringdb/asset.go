package peeringdb

import (
	"strings"
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

// ParseASSets splits a PeeringDB irr_as_set field into its sets. The field
// is free text; the real data has, e.g.:
//
//	"RIPE::AS-RETN RIPE::AS-RETN6"         several sets, SOURCE:: prefixes
//	"AS3320:AS-DTAG AS3320:AS-DTAG-V6"     hierarchical names (one colon is part of the name)
//	"AS-VIAWEST-TRANSIT, AS-FLEXENTIAL"    comma separated
//	"RADB::AS297:AS-CONE"                  both
//
// NAME@SOURCE (not in the sample, but a common way of writing a set with
// its source) is accepted as well. Separators are
// whitespace, commas and semicolons. Tokens that cannot be an RPSL set or
// aut-num name (characters outside letters, digits, '-', '_', ':', '.') are
// dropped rather than passed on to IRR queries; duplicates are dropped too
// (case-insensitively), order is kept.
func ParseASSets(s string) []ASSet {
	fields := strings.FieldsFunc(s, func(r rune) bool {
		return r == ',' || r == ';' || r == ' ' || r == '\t' || r == '\n' || r == '\r'
	})
	var out []ASSet
	seen := make(map[string]bool, len(fields))
	for _, f := range fields {
		var a ASSet
		if src, name, ok := strings.Cut(f, "::"); ok {
			a = ASSet{Source: src, Name: name}
		} else if name, src, ok := strings.Cut(f, "@"); ok {
			a = ASSet{Source: src, Name: name}
		} else {
			a = ASSet{Name: f}
		}
		a.Source = strings.ToUpper(a.Source)
		a.Name = strings.Trim(a.Name, ":")
		if !validSource(a.Source) || !validSetName(a.Name) {
			continue
		}
		key := strings.ToUpper(a.String())
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, a)
	}
	return out
}

func validSource(s string) bool {
	for _, r := range s {
		if !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

func validSetName(s string) bool {
	if s == "" || len(s) > 255 {
		return false
	}
	for _, r := range s {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' ||
			r == '-' || r == '_' || r == ':' || r == '.') {
			return false
		}
	}
	return true
}
