package irr

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// object is one thing to expand: an AS-SET or an ASN, optionally pinned to
// one IRR source ("RIPE::AS-RETN").
type object struct {
	text   string // as given, upper-cased; loop detection key for top-level sets
	source string // "" = the query's sources
	name   string // AS-SET name, upper-cased ("AS3320:AS-DTAG")
	asn    uint32
	isASN  bool
}

// maxNameLen bounds names sent to a server; RPSL names are far shorter.
const maxNameLen = 255

// parseObject checks and classifies one query object. Everything that reaches
// the wire goes through here: only RPSL name characters are allowed, so a
// name cannot smuggle a newline and a second command to the server.
func parseObject(s string) (object, error) {
	s = strings.TrimSpace(s)
	o := object{text: strings.ToUpper(s)}
	name := s
	if src, rest, ok := strings.Cut(s, "::"); ok {
		if !validSource(src) {
			return o, fmt.Errorf("invalid IRR source %q in %q", src, s)
		}
		o.source = strings.ToUpper(src)
		name = rest
	}
	if name == "" || len(name) > maxNameLen {
		return o, fmt.Errorf("invalid IRR object %q", s)
	}
	for i := 0; i < len(name); i++ {
		if !nameChar(name[i]) {
			return o, fmt.Errorf("invalid character %q in IRR object %q", name[i], s)
		}
	}
	up := strings.ToUpper(name)
	if asn, ok := parseASN(up); ok {
		o.asn, o.isASN = asn, true
		o.name = "AS" + strconv.FormatUint(uint64(asn), 10)
		return o, nil
	}
	if isSetName(up) {
		o.name = up
		return o, nil
	}
	if strings.HasPrefix(up, "RS-") || strings.Contains(up, ":RS-") {
		return o, fmt.Errorf("IRR object %q is a route-set; only AS-SETs and ASNs are supported", s)
	}
	return o, fmt.Errorf("IRR object %q is neither an AS-SET nor an ASN", s)
}

// isSetName follows RPSL (RFC 2622 §5.1): a set name, or a hierarchical name
// of ASNs and set names ("AS3320:AS-DTAG") with at least one set component.
func isSetName(up string) bool {
	hasSet := false
	for _, part := range strings.Split(up, ":") {
		switch {
		case strings.HasPrefix(part, "AS-") && len(part) > 3:
			hasSet = true
		case part == "":
			return false
		default:
			if _, ok := parseASN(part); !ok {
				return false
			}
		}
	}
	return hasSet
}

// parseASN accepts "AS65000" (any case) and a bare "65000".
func parseASN(s string) (uint32, bool) {
	if len(s) > 2 && (s[0] == 'A' || s[0] == 'a') && (s[1] == 'S' || s[1] == 's') {
		s = s[2:]
	}
	if s == "" || s[0] < '0' || s[0] > '9' {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, false
	}
	return uint32(n), true
}

func nameChar(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == ':' || c == '.'
}

func validSource(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// KnownSources are the IRR databases an AS-SET field may name with
// SOURCE::NAME or NAME@SOURCE: the list PeeringDB's validator accepts
// (peeringdb_server/validators.py, IRR_SOURCE), and the non-authoritative
// and national databases IRRd instances serve besides. A source outside it
// is a typo or an injection, never a database to ask.
var KnownSources = []string{
	"AFRINIC", "ALTDB", "AOLTW", "APNIC", "ARIN", "ARIN-NONAUTH", "BBOI", "BELL", "CANARIE", "EASYNET", "EPOCH", "HOST",
	"IDNIC", "JPIRR", "LACNIC", "LEVEL3", "NESTEGG", "NTTCOM", "OPENFACE", "OTTIX", "PANIX", "RADB", "REACH", "RGNET",
	"RIPE", "RIPE-NONAUTH", "RISQ", "ROGERS", "TC",
}

// reservedASN: an AS number no AS-SET field may name: AS0 (RFC 7607),
// AS_TRANS (RFC 6793) and the last ASNs of each range (RFC 7300).
func reservedASN(asn uint32) bool {
	return asn == 0 || asn == 23456 || asn == 65535 || asn == 4294967295
}

// ErrCorruptField is the error of an AS-SET field that holds a control
// character: PeeringDB's validator never lets one in, so the record was
// written around it, and no part of it can be trusted
// ("AS-FOO\nneighbor 1.2.3.4 remote-as 1" must not become AS-FOO and AS1).
var ErrCorruptField = errors.New("the AS-SET field holds a control character, so it is ignored entirely")

// ParseSetList splits an AS-SET field (PeeringDB's irr_as_set, a request's
// spec.irrASSet) into objects for Query.Sets, with the grammar of PeeringDB's
// validator: tokens separated by spaces, commas or semicolons, each an
// aut-num written AS<n> or an AS-SET name (RFC 2622), optionally with a
// known source as SOURCE::NAME or NAME@SOURCE (rewritten SOURCE::NAME).
// Tokens that are not (a bare number, AS0 and other reserved ASNs, an
// unknown or empty source, a route-set, free text) are returned in bad, so
// a message can name them; the rest are used. A field with a control
// character is corrupt: nothing of it is used (ErrCorruptField).
// Duplicates are dropped, case-insensitively, order is kept.
func ParseSetList(field string) (sets, bad []string, err error) {
	if i := strings.IndexFunc(field, unicode.IsControl); i >= 0 {
		return nil, nil, fmt.Errorf("%w (at byte %d)", ErrCorruptField, i)
	}
	seen := map[string]bool{}
	for _, tok := range strings.FieldsFunc(field, func(r rune) bool { return r == ' ' || r == ',' || r == ';' }) {
		s, ok := parseSetToken(tok)
		if !ok {
			bad = append(bad, tok)
			continue
		}
		if !seen[s] {
			seen[s] = true
			sets = append(sets, s)
		}
	}
	return sets, bad, nil
}

// parseSetToken is one token of ParseSetList: "SOURCE::NAME" or "NAME".
func parseSetToken(tok string) (string, bool) {
	if name, src, ok := strings.Cut(tok, "@"); ok && !strings.Contains(tok, "::") {
		tok = src + "::" + name
	}
	src, name, hasSource := strings.Cut(tok, "::")
	if !hasSource {
		src, name = "", tok
	}
	src = strings.ToUpper(src)
	if hasSource && !slices.Contains(KnownSources, src) {
		return "", false
	}
	up := strings.ToUpper(name)
	if !strings.HasPrefix(up, "AS") {
		return "", false // a bare number is not AS<number>
	}
	o, err := parseObject(name)
	if err != nil || o.isASN && reservedASN(o.asn) {
		return "", false
	}
	if hasSource {
		return src + "::" + o.name, true
	}
	return o.name, true
}

// specialASN reports the ASNs bgpq4 refuses to expand unless run with -p:
// documentation and private 16-bit ASNs (64496–65551, which also covers
// 65535 and the 65536–65551 documentation block) and the 32-bit private
// range and above (4200000000+). Skipping them keeps our output equal to
// bgpq4's; policy has the complete bogon-ASN list.
func specialASN(asn uint32) bool {
	return asn >= 4200000000 || asn >= 64496 && asn <= 65551
}
