package irrtest

import (
	"bufio"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// db is the RPSL data the server answers from, per source.
type db struct {
	sources []string                             // in order of first appearance: the default !s
	sets    map[string]map[string][]string       // source → set name (upper) → members as written
	autnums map[string]map[uint32]bool           // source → aut-num objects
	routes  map[string]map[uint32][]netip.Prefix // source → origin → route/route6 prefixes
}

func newDB() *db {
	return &db{
		sets:    map[string]map[string][]string{},
		autnums: map[string]map[uint32]bool{},
		routes:  map[string]map[uint32][]netip.Prefix{},
	}
}

// attr is one RPSL attribute with continuation lines joined.
type attr struct{ name, value string }

// load parses RPSL text (RFC 2622 §2): objects separated by blank lines,
// "name: value" attributes, continuation lines starting with space, tab or
// '+', '#' comments, and '%' comment lines as whois servers print them.
// Classes other than aut-num, as-set, route and route6 are skipped.
func (d *db) load(text string) error {
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var obj []attr
	lineNo, objLine := 0, 0
	flush := func() error {
		if len(obj) > 0 {
			if err := d.add(obj); err != nil {
				return fmt.Errorf("rpsl object at line %d: %w", objLine, err)
			}
		}
		obj = obj[:0]
		return nil
	}
	for sc.Scan() {
		lineNo++
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.HasPrefix(line, "%") {
			continue
		}
		if strings.TrimSpace(line) == "" {
			if err := flush(); err != nil {
				return err
			}
			continue
		}
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
			if strings.TrimSpace(line) == "" {
				continue
			}
		}
		switch line[0] {
		case ' ', '\t', '+':
			if len(obj) == 0 {
				return fmt.Errorf("rpsl line %d: continuation outside an object", lineNo)
			}
			obj[len(obj)-1].value += " " + strings.TrimSpace(line[1:])
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			return fmt.Errorf("rpsl line %d: want \"attribute: value\", got %q", lineNo, line)
		}
		if len(obj) == 0 {
			objLine = lineNo
		}
		obj = append(obj, attr{strings.ToLower(strings.TrimSpace(name)), strings.TrimSpace(value)})
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return flush()
}

func (d *db) add(obj []attr) error {
	class, key := obj[0].name, obj[0].value
	var source, origin string
	var members []string
	for _, a := range obj[1:] {
		switch a.name {
		case "source":
			source = strings.ToUpper(a.value)
		case "origin":
			origin = a.value
		case "members":
			for _, m := range strings.FieldsFunc(a.value, func(r rune) bool { return r == ',' || r == ' ' }) {
				members = append(members, m)
			}
		}
	}
	if source == "" {
		return fmt.Errorf("%s %s: no source attribute", class, key)
	}
	if !slices.Contains(d.sources, source) {
		d.sources = append(d.sources, source)
	}
	switch class {
	case "as-set":
		m := d.sets[source]
		if m == nil {
			m = map[string][]string{}
			d.sets[source] = m
		}
		m[strings.ToUpper(key)] = append(m[strings.ToUpper(key)], members...)
	case "aut-num":
		asn, ok := parseASN(key)
		if !ok {
			return fmt.Errorf("aut-num %q: not an AS number", key)
		}
		m := d.autnums[source]
		if m == nil {
			m = map[uint32]bool{}
			d.autnums[source] = m
		}
		m[asn] = true
	case "route", "route6":
		p, err := netip.ParsePrefix(key)
		if err != nil {
			return fmt.Errorf("%s %q: %w", class, key, err)
		}
		if p.Addr().Is4() != (class == "route") {
			return fmt.Errorf("%s %q: wrong address family for the class", class, key)
		}
		asn, ok := parseASN(origin)
		if !ok {
			return fmt.Errorf("%s %s: bad origin %q", class, key, origin)
		}
		m := d.routes[source]
		if m == nil {
			m = map[uint32][]netip.Prefix{}
			d.routes[source] = m
		}
		m[asn] = append(m[asn], p)
	}
	return nil
}

func parseASN(s string) (uint32, bool) {
	s = strings.TrimSpace(s)
	if len(s) < 3 || !strings.EqualFold(s[:2], "AS") {
		return 0, false
	}
	n, err := strconv.ParseUint(s[2:], 10, 32)
	return uint32(n), err == nil
}

// members returns the members of the first source in srcs that has the set.
func (d *db) members(srcs []string, name string) ([]string, bool) {
	for _, s := range srcs {
		if m, ok := d.sets[s][name]; ok {
			return m, true
		}
	}
	return nil, false
}

// expand resolves a set recursively to origin ASNs in srcs, each set once.
func (d *db) expand(srcs []string, name string) ([]uint32, bool) {
	if _, ok := d.members(srcs, name); !ok {
		return nil, false
	}
	seen := map[string]bool{name: true}
	asns := map[uint32]bool{}
	queue := []string{name}
	for len(queue) > 0 {
		set := queue[0]
		queue = queue[1:]
		ms, _ := d.members(srcs, set)
		for _, m := range ms {
			up := strings.ToUpper(m)
			if asn, ok := parseASN(up); ok && !strings.Contains(up, ":") {
				asns[asn] = true
				continue
			}
			if !seen[up] {
				seen[up] = true
				queue = append(queue, up)
			}
		}
	}
	out := make([]uint32, 0, len(asns))
	for a := range asns {
		out = append(out, a)
	}
	slices.Sort(out)
	return out, true
}

// routes returns the distinct prefixes of one family originated by asn in
// srcs.
func (d *db) routesOf(srcs []string, asn uint32, v6 bool, into map[netip.Prefix]bool, out []netip.Prefix) []netip.Prefix {
	for _, s := range srcs {
		for _, p := range d.routes[s][asn] {
			if p.Addr().Is6() == v6 && !into[p] {
				into[p] = true
				out = append(out, p)
			}
		}
	}
	return out
}
