package irr

import (
	"cmp"
	"encoding/binary"
	"math/bits"
	"net/netip"
	"slices"
)

// Entry is one line of a prefix filter: a prefix matched exactly, or a prefix
// with a range of accepted lengths (GE..LE, both inclusive). For an exact entry
// GE and LE are both the prefix length.
type Entry struct {
	Prefix netip.Prefix
	Exact  bool
	GE, LE int
}

// Matches reports whether the route p is accepted by the entry.
func (e Entry) Matches(p netip.Prefix) bool {
	if p.Addr().Is4() != e.Prefix.Addr().Is4() {
		return false
	}
	if e.Exact {
		return p == e.Prefix
	}
	return p.Bits() >= e.GE && p.Bits() <= e.LE && p.Bits() >= e.Prefix.Bits() && e.Prefix.Contains(p.Addr())
}

// String renders the entry the way a Cisco-style prefix-list would
// ("10.0.0.0/8 ge 9 le 24"); used in logs and test failures.
func (e Entry) String() string {
	s := e.Prefix.String()
	if e.Exact {
		return s
	}
	if e.GE > e.Prefix.Bits() {
		s += " ge " + itoa(e.GE)
	}
	return s + " le " + itoa(e.LE)
}

// AggregateOptions are the bgpq4 switches that shape a prefix list.
type AggregateOptions struct {
	// MaxLength drops prefixes longer than this before aggregating
	// (bgpq4 -m). 0 means no limit.
	MaxLength int
	// MoreSpecifics also accepts more-specifics of every prefix up to this
	// length (bgpq4 -R). 0 means off.
	MoreSpecifics int
}

// Aggregate turns a set of prefixes into the entries `bgpq4 -A` prints for
// them, entry for entry and in the same order. It is lossless: the entries
// match exactly the input (prefix, length) pairs, or with MoreSpecifics those
// pairs plus their more-specifics up to that length.
//
// Like bgpq4 it is meant for one address family at a time (the options apply
// to every prefix); given both, IPv4 entries come first. Duplicates and host
// bits in the input are ignored.
//
// The result matches bgpq4 because the algorithm is the same in substance: a
// path-compressed binary trie (canonical for a given set, so it does not
// depend on input order) whose sibling pairs are folded bottom-up into
// "ge/le" ranges, with a second range hung on a node (a "son") when the node
// itself must stay exact. The trie is built from the sorted input with a
// stack instead of by insertion, and lives in one slice, which is what makes
// a million prefixes cheap.
func Aggregate(prefixes []netip.Prefix, opt AggregateOptions) []Entry {
	n4 := 0
	for _, p := range prefixes {
		if p.Addr().Is4() {
			n4++
		}
	}
	v4, v6 := make([]key, 0, n4), make([]key, 0, len(prefixes)-n4)
	for _, p := range prefixes {
		if !p.IsValid() || opt.MaxLength > 0 && p.Bits() > opt.MaxLength {
			continue
		}
		if k, is6 := keyOf(p); is6 {
			v6 = append(v6, k)
		} else {
			v4 = append(v4, k)
		}
	}
	t4 := aggregateFamily(v4, false, min(opt.MoreSpecifics, 32))
	t6 := aggregateFamily(v6, true, min(opt.MoreSpecifics, 128))
	out := make([]Entry, 0, t4.count()+t6.count())
	out = t4.emit(out, false)
	return t6.emit(out, true)
}

// key is a prefix as a left-aligned 128-bit number plus a length; IPv4
// addresses sit in the top 32 bits.
type key struct {
	hi, lo uint64
	bits   uint8
}

// keyOf converts a prefix, clearing host bits.
func keyOf(p netip.Prefix) (k key, v6 bool) {
	a := p.Addr()
	if a.Is4() {
		b := a.As4()
		k = key{hi: uint64(binary.BigEndian.Uint32(b[:])) << 32, bits: uint8(p.Bits())}
		return k.masked(p.Bits()), false
	}
	b := a.As16()
	k = key{hi: binary.BigEndian.Uint64(b[:8]), lo: binary.BigEndian.Uint64(b[8:]), bits: uint8(p.Bits())}
	return k.masked(p.Bits()), true
}

func (k key) compare(o key) int {
	if c := cmp.Compare(k.hi, o.hi); c != 0 {
		return c
	}
	if c := cmp.Compare(k.lo, o.lo); c != 0 {
		return c
	}
	return cmp.Compare(k.bits, o.bits)
}

// sortKeys sorts by address, then length: for masked prefixes that is the
// pre-order of the trie (a prefix before everything it covers). Most lists
// fit a single uint64 per key, which sorts several times faster than structs.
func sortKeys(ks []key, v6 bool) []key {
	packable := true
	if v6 {
		for _, k := range ks {
			if k.bits > 56 {
				packable = false
				break
			}
		}
	}
	if packable {
		// IPv4: address in bits 8..39; IPv6 up to /56: the low 8 bits of hi
		// are zero after masking, so the length fits there.
		packed := make([]uint64, len(ks))
		for i, k := range ks {
			if v6 {
				packed[i] = k.hi | uint64(k.bits)
			} else {
				packed[i] = k.hi>>24 | uint64(k.bits)
			}
		}
		if !slices.IsSorted(packed) { // Expand's output already is
			radixSort(packed)
		}
		packed = slices.Compact(packed)
		ks = ks[:len(packed)]
		for i, p := range packed {
			if v6 {
				ks[i] = key{hi: p &^ 0xff, bits: uint8(p)}
			} else {
				ks[i] = key{hi: (p &^ 0xff) << 24, bits: uint8(p)}
			}
		}
		return ks
	}
	if !slices.IsSortedFunc(ks, key.compare) {
		slices.SortFunc(ks, key.compare)
	}
	return slices.Compact(ks)
}

// radixSort sorts in place, least significant byte first, skipping bytes
// that are the same in every key (most of them for IPv4: 40 bits of 64
// used). For a million keys that is several times faster than a comparison
// sort.
func radixSort(a []uint64) {
	if len(a) < 256 {
		slices.Sort(a)
		return
	}
	var diff uint64
	for _, x := range a {
		diff |= x ^ a[0]
	}
	tmp := make([]uint64, len(a))
	src, dst := a, tmp
	for shift := uint(0); shift < 64; shift += 8 {
		if diff>>shift&0xff == 0 {
			continue
		}
		var count [256]int
		for _, x := range src {
			count[x>>shift&0xff]++
		}
		pos := 0
		for i, c := range count {
			count[i] = pos
			pos += c
		}
		for _, x := range src {
			b := x >> shift & 0xff
			dst[count[b]] = x
			count[b]++
		}
		src, dst = dst, src
	}
	if &src[0] != &a[0] {
		copy(a, src)
	}
}

// commonBits is the number of leading bits two keys share, capped at the
// shorter length.
func commonBits(a, b key) int {
	var n int
	if x := a.hi ^ b.hi; x != 0 {
		n = bits.LeadingZeros64(x)
	} else {
		n = 64 + bits.LeadingZeros64(a.lo^b.lo)
	}
	return min(n, int(a.bits), int(b.bits))
}

// bitAt is bit i (0 = most significant) of the key.
func (k key) bitAt(i int) uint64 {
	if i < 64 {
		return k.hi >> (63 - i) & 1
	}
	return k.lo >> (127 - i) & 1
}

// masked returns k cut to n bits.
func (k key) masked(n int) key {
	switch {
	case n == 0:
		return key{}
	case n < 64:
		return key{hi: k.hi &^ (1<<(64-n) - 1), bits: uint8(n)}
	case n == 64:
		return key{hi: k.hi, bits: 64}
	case n < 128:
		return key{hi: k.hi, lo: k.lo &^ (1<<(128-n) - 1), bits: uint8(n)}
	}
	return key{hi: k.hi, lo: k.lo, bits: uint8(n)}
}

const none = -1

// node flags.
const (
	fGlue = 1 << iota // not a prefix of the list (a branch point, or folded into an aggregate)
	fAgg              // prints as a range low..high
)

// node is a trie node. Its prefix is keys[k] cut to bits: for a real node
// that is the key itself, for a branch point any key below it. 20 bytes per
// node keeps a million-prefix trie around 40 MB.
type node struct {
	k           int32
	bits        uint8
	flags       uint8
	low, high   uint8
	left, right int32
	son         int32 // index into trie.sons: a further range on the same prefix
}

// son is an extra aggregate on a node's prefix; it may itself carry another.
type son struct {
	flags     uint8
	low, high uint8
	next      int32
}

type trie struct {
	keys  []key
	nodes []node
	sons  []son
	root  int32
}

func (t *trie) glue(n int32) bool { return t.nodes[n].flags&fGlue != 0 }
func (t *trie) agg(n int32) bool  { return t.nodes[n].flags&fAgg != 0 }

// build makes the path-compressed trie of sorted, distinct keys. The stack
// holds the path from the root to the last key added; each new key either
// hangs below the top of the stack or forks off the path at the first bit
// where it differs from the branch it leaves.
func build(keys []key) *trie {
	t := &trie{keys: keys, root: none, nodes: make([]node, 0, 2*len(keys))}
	newNode := func(k int32, b uint8, flags uint8) int32 {
		t.nodes = append(t.nodes, node{k: k, bits: b, flags: flags, left: none, right: none, son: none})
		return int32(len(t.nodes) - 1)
	}
	contains := func(n int32, k key) bool {
		nb := int(t.nodes[n].bits)
		return nb <= int(k.bits) && commonBits(t.keys[t.nodes[n].k], k) >= nb
	}
	stack := make([]int32, 0, 130)
	for i, k := range keys {
		n := newNode(int32(i), k.bits, 0)
		last := int32(none)
		for len(stack) > 0 && !contains(stack[len(stack)-1], k) {
			last = stack[len(stack)-1]
			stack = stack[:len(stack)-1]
		}
		parent := int32(none)
		if len(stack) > 0 {
			parent = stack[len(stack)-1]
		}
		switch {
		case last == none && parent == none:
			t.root = n
		case last == none:
			// Below the previous key, which has no children yet.
			if k.bitAt(int(t.nodes[parent].bits)) == 1 {
				t.nodes[parent].right = n
			} else {
				t.nodes[parent].left = n
			}
		default:
			d := commonBits(t.keys[t.nodes[last].k].masked(int(t.nodes[last].bits)), k)
			if parent != none && int(t.nodes[parent].bits) == d {
				// The fork is the parent itself: last went left, k goes right.
				t.nodes[parent].right = n
			} else {
				g := newNode(int32(i), uint8(d), fGlue)
				t.nodes[g].left, t.nodes[g].right = last, n
				switch {
				case parent == none:
					t.root = g
				case t.nodes[parent].left == last:
					t.nodes[parent].left = g
				default:
					t.nodes[parent].right = g
				}
				stack = append(stack, g)
			}
		}
		stack = append(stack, n)
	}
	return t
}

// refine implements -R: a listed prefix shorter than r accepts everything
// down to r, which swallows the listed prefixes under it up to length r;
// longer ones stay as they are.
func (t *trie) refine(n int32, r uint8) {
	nd := &t.nodes[n]
	switch {
	case nd.flags&fGlue == 0 && nd.bits < r:
		nd.flags |= fAgg
		nd.low, nd.high = nd.bits, r
		for _, c := range [2]int32{nd.left, nd.right} {
			if c != none {
				t.glueUpTo(c, r)
				t.refine(c, r)
			}
		}
	case nd.flags&fGlue == 0 && nd.bits == r:
		// Only longer prefixes below; they are left alone.
	case nd.flags&fGlue != 0:
		if nd.right != none {
			t.refine(nd.right, r)
		}
		if nd.left != none {
			t.refine(nd.left, r)
		}
	}
}

func (t *trie) glueUpTo(n int32, r uint8) {
	nd := &t.nodes[n]
	if nd.bits <= r {
		nd.flags |= fGlue
	}
	if nd.left != none {
		t.glueUpTo(nd.left, r)
	}
	if nd.right != none {
		t.glueUpTo(nd.right, r)
	}
}

func (t *trie) newSon(low, high uint8) int32 {
	t.sons = append(t.sons, son{flags: fAgg, low: low, high: high, next: none})
	return int32(len(t.sons) - 1)
}

// aggregate folds sibling pairs bottom-up. Two siblings one bit below their
// parent that cover the same lengths become one range on the parent. When the
// parent is itself a listed prefix (not glue) that must stay exact, the range
// goes on a son instead. The case analysis below is bgpq4's, so that the
// output is the same list and not merely an equivalent one.
func (t *trie) aggregate(n int32) {
	nd := t.nodes[n]
	if nd.left != none {
		t.aggregate(nd.left)
	}
	if nd.right != none {
		t.aggregate(nd.right)
	}
	l, r := nd.left, nd.right
	if l == none || r == none {
		return
	}
	N, L, R := &t.nodes[n], &t.nodes[l], &t.nodes[r]
	oneBelow := L.bits == N.bits+1 && R.bits == N.bits+1
	switch {
	case L.flags&(fAgg|fGlue) == 0 && R.flags&(fAgg|fGlue) == 0 && L.bits == R.bits:
		// Two plain prefixes of the same length.
		if R.bits == N.bits+1 {
			N.flags |= fAgg
			L.flags |= fGlue
			R.flags |= fGlue
			N.high = R.bits
			if N.flags&fGlue != 0 {
				N.flags &^= fGlue
				N.low = R.bits
			} else {
				N.low = N.bits
			}
		}
		if L.son != none && R.son != none && oneBelow {
			ls, rs := &t.sons[L.son], &t.sons[R.son]
			if ls.flags&fAgg != 0 && rs.flags&fAgg != 0 && ls.low == rs.low && ls.high == rs.high {
				low, high := rs.low, rs.high
				ls.flags |= fGlue
				rs.flags |= fGlue
				s := t.newSon(low, high)
				t.nodes[n].son = s
			}
		}
	case L.flags&fAgg != 0 && R.flags&fAgg != 0 && L.low == R.low && L.high == R.high:
		// Two ranges covering the same lengths.
		if !oneBelow {
			return
		}
		switch {
		case N.flags&fGlue != 0:
			L.flags |= fGlue
			R.flags |= fGlue
			N.flags = N.flags&^fGlue | fAgg
			N.low, N.high = R.low, R.high
		case R.bits == R.low:
			L.flags |= fGlue
			R.flags |= fGlue
			N.flags |= fAgg
			N.low, N.high = N.bits, R.high
		default:
			L.flags |= fGlue
			R.flags |= fGlue
			low, high := R.low, R.high
			ls, rs := L.son, R.son
			s := t.newSon(low, high)
			t.nodes[n].son = s
			if ls != none && rs != none && t.sons[ls].low == t.sons[rs].low && t.sons[ls].high == t.sons[rs].high {
				t.sons[ls].flags |= fGlue
				t.sons[rs].flags |= fGlue
				ss := t.newSon(t.sons[rs].low, t.sons[rs].high)
				t.sons[s].next = ss
			}
		}
	case L.son != none && R.flags&fAgg != 0 && t.sons[L.son].flags&fAgg != 0 &&
		R.low == t.sons[L.son].low && R.high == t.sons[L.son].high:
		// The right range matches the left's extra range.
		t.foldWithSon(n, r, L.son, oneBelow)
	case R.son != none && L.flags&fAgg != 0 && t.sons[R.son].flags&fAgg != 0 &&
		L.low == t.sons[R.son].low && L.high == t.sons[R.son].high:
		t.foldWithSon(n, l, R.son, oneBelow)
	}
}

// foldWithSon merges child c's range with the other child's son s.
func (t *trie) foldWithSon(n, c, s int32, oneBelow bool) {
	if !oneBelow {
		return
	}
	N, C := &t.nodes[n], &t.nodes[c]
	C.flags |= fGlue
	t.sons[s].flags |= fGlue
	low, high := C.low, C.high
	if N.flags&fGlue != 0 {
		N.flags = N.flags&^fGlue | fAgg
		N.low, N.high = low, high
		return
	}
	ns := t.newSon(low, high)
	t.nodes[n].son = ns
}

// emit lists the trie in pre-order (node, its sons, left, right), skipping
// glue: the order bgpq4 prints.
func (t *trie) emit(out []Entry, v6 bool) []Entry {
	if t.root == none {
		return out
	}
	stack := []int32{t.root}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		nd := &t.nodes[n]
		if nd.flags&fGlue == 0 || nd.son != none {
			p := t.keys[nd.k].masked(int(nd.bits)).prefix(v6)
			if nd.flags&fGlue == 0 {
				out = append(out, entryOf(p, nd.flags&fAgg != 0, nd.low, nd.high))
			}
			for s := nd.son; s != none; s = t.sons[s].next {
				if t.sons[s].flags&fGlue == 0 {
					out = append(out, entryOf(p, true, t.sons[s].low, t.sons[s].high))
				}
			}
		}
		if nd.right != none {
			stack = append(stack, nd.right)
		}
		if nd.left != none {
			stack = append(stack, nd.left)
		}
	}
	return out
}

func entryOf(p netip.Prefix, agg bool, low, high uint8) Entry {
	if !agg {
		return Entry{Prefix: p, Exact: true, GE: p.Bits(), LE: p.Bits()}
	}
	return Entry{Prefix: p, GE: max(int(low), p.Bits()), LE: int(high)}
}

func (k key) prefix(v6 bool) netip.Prefix {
	if !v6 {
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], uint32(k.hi>>32))
		return netip.PrefixFrom(netip.AddrFrom4(b), int(k.bits))
	}
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], k.hi)
	binary.BigEndian.PutUint64(b[8:], k.lo)
	return netip.PrefixFrom(netip.AddrFrom16(b), int(k.bits))
}

func aggregateFamily(ks []key, v6 bool, refine int) *trie {
	if len(ks) == 0 {
		return &trie{root: none}
	}
	ks = sortKeys(ks, v6)
	t := build(ks)
	if refine > 0 {
		t.refine(t.root, uint8(refine))
	}
	t.aggregate(t.root)
	return t
}

// count is the number of entries emit will produce.
func (t *trie) count() int {
	n := 0
	for _, nd := range t.nodes {
		if nd.flags&fGlue == 0 {
			n++
		}
	}
	for _, s := range t.sons {
		if s.flags&fGlue == 0 {
			n++
		}
	}
	return n
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	neg := n < 0
	if neg {
		n = -n
	}
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			break
		}
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}
