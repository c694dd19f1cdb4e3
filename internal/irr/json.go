package irr

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"unicode/utf8"
)

// WriteJSON writes entries as `bgpq4 -A -j -l name` prints them, byte for
// byte, so our output can be diffed against bgpq4's:
//
//	{ "name": [
//	    { "prefix": "192.0.2.0\/24", "exact": true },
//	    { "prefix": "198.51.100.0\/24", "exact": false,
//	      "greater-equal": 25, "less-equal": 25 },
//	    { "prefix": "203.0.113.0\/24", "exact": false, "less-equal": 26 }
//	] }
//
// bgpq4 leaves out "greater-equal" when the range starts at the prefix's own
// length, and escapes the slash in prefixes. The name is escaped as a JSON
// string (bgpq4 prints it raw, which is the same for ordinary names).
func WriteJSON(w io.Writer, name string, entries []Entry) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.WriteString("{ ")
	bw.WriteString(quoteName(name))
	bw.WriteString(": [")
	var buf []byte
	for i, e := range entries {
		buf = buf[:0]
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, "\n    { \"prefix\": \""...)
		buf = e.Prefix.Addr().AppendTo(buf)
		buf = append(buf, `\/`...)
		buf = strconv.AppendInt(buf, int64(e.Prefix.Bits()), 10)
		switch {
		case e.Exact:
			buf = append(buf, `", "exact": true }`...)
		case e.GE > e.Prefix.Bits():
			buf = append(buf, "\", \"exact\": false,\n      \"greater-equal\": "...)
			buf = strconv.AppendInt(buf, int64(e.GE), 10)
			buf = append(buf, `, "less-equal": `...)
			buf = strconv.AppendInt(buf, int64(e.LE), 10)
			buf = append(buf, " }"...)
		default:
			buf = append(buf, `", "exact": false, "less-equal": `...)
			buf = strconv.AppendInt(buf, int64(e.LE), 10)
			buf = append(buf, " }"...)
		}
		bw.Write(buf)
	}
	bw.WriteString("\n] }\n")
	return bw.Flush()
}

func quoteName(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == utf8.RuneError:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// jsonEntry is one element of bgpq4's JSON prefix list.
type jsonEntry struct {
	Prefix       string `json:"prefix"`
	Exact        bool   `json:"exact"`
	GreaterEqual *int   `json:"greater-equal,omitempty"`
	LessEqual    *int   `json:"less-equal,omitempty"`
}

// ParseJSON reads a prefix list in bgpq4's -j shape (ours or bgpq4's own),
// keyed by list name.
func ParseJSON(data []byte) (map[string][]Entry, error) {
	var raw map[string][]jsonEntry
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("parsing bgpq4 JSON: %w", err)
	}
	out := make(map[string][]Entry, len(raw))
	for name, list := range raw {
		entries := make([]Entry, 0, len(list))
		for _, j := range list {
			p, err := netip.ParsePrefix(j.Prefix)
			if err != nil {
				return nil, fmt.Errorf("list %q: %w", name, err)
			}
			e := Entry{Prefix: p, Exact: j.Exact, GE: p.Bits(), LE: p.Bits()}
			if !j.Exact {
				if j.LessEqual == nil {
					return nil, fmt.Errorf("list %q: %s: inexact entry without less-equal", name, j.Prefix)
				}
				e.LE = *j.LessEqual
				if j.GreaterEqual != nil {
					e.GE = *j.GreaterEqual
				}
			}
			entries = append(entries, e)
		}
		out[name] = entries
	}
	return out, nil
}
