package peeringdb

import (
	"cmp"
	"maps"
	"slices"
	"time"
)

// record is what the store needs from every cached object type.
type record interface {
	key() int
	modified() time.Time
	deleted() bool
}

func (n Network) key() int             { return n.ID }
func (n Network) modified() time.Time  { return n.Updated }
func (n Network) deleted() bool        { return n.Status == StatusDeleted }
func (x IX) key() int                  { return x.ID }
func (x IX) modified() time.Time       { return x.Updated }
func (x IX) deleted() bool             { return x.Status == StatusDeleted }
func (l IXLAN) key() int               { return l.ID }
func (l IXLAN) modified() time.Time    { return l.Updated }
func (l IXLAN) deleted() bool          { return l.Status == StatusDeleted }
func (p IXPrefix) key() int            { return p.ID }
func (p IXPrefix) modified() time.Time { return p.Updated }
func (p IXPrefix) deleted() bool       { return p.Status == StatusDeleted }
func (n NetIXLAN) key() int            { return n.ID }
func (n NetIXLAN) modified() time.Time { return n.Updated }
func (n NetIXLAN) deleted() bool       { return n.Status == StatusDeleted }

// store holds the cached objects by id, plus the indexes the read API
// needs. It is not locked itself; Cache guards it.
type store struct {
	nets   table[Network]
	ixs    table[IX]
	ixlans table[IXLAN]
	ixpfxs table[IXPrefix]
	nixs   table[NetIXLAN]

	// The tables keep these up to date (they share the maps).
	netByASN asnIndex
	lansByIX children[IXLAN]    // ix id → ixlan ids
	pfxByLAN children[IXPrefix] // ixlan id → ixpfx ids
	nixByIX  children[NetIXLAN] // ix id → netixlan ids
}

func newStore() *store {
	s := &store{
		netByASN: asnIndex{},
		lansByIX: newChildren(func(l IXLAN) int { return l.IXID }),
		pfxByLAN: newChildren(func(p IXPrefix) int { return p.IXLANID }),
		nixByIX:  newChildren(func(n NetIXLAN) int { return n.IXID }),
	}
	s.nets = newTable[Network](s.netByASN)
	s.ixs = newTable[IX](nil)
	s.ixlans = newTable[IXLAN](s.lansByIX)
	s.ixpfxs = newTable[IXPrefix](s.pfxByLAN)
	s.nixs = newTable[NetIXLAN](s.nixByIX)
	return s
}

// index is a secondary index a table keeps in step with its objects.
type index[T any] interface {
	add(T)
	remove(T)
}

// table is the objects of one type by id.
type table[T record] struct {
	byID map[int]T
	idx  index[T] // nil: none
}

func newTable[T record](idx index[T]) table[T] {
	return table[T]{byID: map[int]T{}, idx: idx}
}

// put applies x as PeeringDB sent it: it replaces the copy held unless
// that one is newer, and status "deleted" removes the object.
func (t *table[T]) put(x T) {
	id := x.key()
	if old, ok := t.byID[id]; ok {
		if !fresher(x, old) {
			return
		}
		if t.idx != nil {
			t.idx.remove(old)
		}
	}
	if x.deleted() {
		delete(t.byID, id)
		return
	}
	t.byID[id] = x
	if t.idx != nil {
		t.idx.add(x)
	}
}

func (t *table[T]) putAll(xs []T) {
	for _, x := range xs {
		t.put(x)
	}
}

// del removes the object whatever its time: for answers that no longer
// list it, which carry no newer copy.
func (t *table[T]) del(id int) {
	if old, ok := t.byID[id]; ok {
		if t.idx != nil {
			t.idx.remove(old)
		}
		delete(t.byID, id)
	}
}

// sorted returns the objects by id: deterministic output for status
// fields, golden files and the persisted file.
func (t *table[T]) sorted() []T {
	out := slices.Collect(maps.Values(t.byID))
	slices.SortFunc(out, func(a, b T) int { return cmp.Compare(a.key(), b.key()) })
	return out
}

// fresher reports whether incoming may replace current: never go back in
// time when an older copy arrives after a newer one (overlapping syncs).
func fresher[T record](incoming, current T) bool {
	return !incoming.modified().Before(current.modified())
}

// children indexes objects by their parent's id.
type children[T record] struct {
	parent func(T) int
	ids    map[int]map[int]struct{}
}

func newChildren[T record](parent func(T) int) children[T] {
	return children[T]{parent: parent, ids: map[int]map[int]struct{}{}}
}

func (c children[T]) add(x T) {
	p := c.parent(x)
	s := c.ids[p]
	if s == nil {
		s = map[int]struct{}{}
		c.ids[p] = s
	}
	s[x.key()] = struct{}{}
}

func (c children[T]) remove(x T) {
	p := c.parent(x)
	if s := c.ids[p]; s != nil {
		delete(s, x.key())
		if len(s) == 0 {
			delete(c.ids, p)
		}
	}
}

// asnIndex maps an ASN to its network. A deleted and a re-created network
// may claim one ASN at once: removing one must not drop the other's entry.
type asnIndex map[uint32]int

func (a asnIndex) add(n Network) { a[n.ASN] = n.ID }

func (a asnIndex) remove(n Network) {
	if a[n.ASN] == n.ID {
		delete(a, n.ASN)
	}
}

func sortedIDs(s map[int]struct{}) []int {
	return slices.Sorted(maps.Keys(s))
}

// netixlanASNs is every ASN with a port in the store.
func (s *store) netixlanASNs() map[uint32]bool {
	out := make(map[uint32]bool, len(s.nixs.byID)/2)
	for _, n := range s.nixs.byID {
		out[n.ASN] = true
	}
	return out
}
