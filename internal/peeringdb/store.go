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
	nets   map[int]Network
	ixs    map[int]IX
	ixlans map[int]IXLAN
	ixpfxs map[int]IXPrefix
	nixs   map[int]NetIXLAN

	netByASN map[uint32]int
	lansByIX map[int]map[int]struct{} // ix id → ixlan ids
	pfxByLAN map[int]map[int]struct{} // ixlan id → ixpfx ids
	nixByIX  map[int]map[int]struct{} // ix id → netixlan ids
}

func newStore() *store {
	return &store{
		nets:     map[int]Network{},
		ixs:      map[int]IX{},
		ixlans:   map[int]IXLAN{},
		ixpfxs:   map[int]IXPrefix{},
		nixs:     map[int]NetIXLAN{},
		netByASN: map[uint32]int{},
		lansByIX: map[int]map[int]struct{}{},
		pfxByLAN: map[int]map[int]struct{}{},
		nixByIX:  map[int]map[int]struct{}{},
	}
}

func addIdx[K comparable](idx map[K]map[int]struct{}, k K, id int) {
	s := idx[k]
	if s == nil {
		s = map[int]struct{}{}
		idx[k] = s
	}
	s[id] = struct{}{}
}

func delIdx[K comparable](idx map[K]map[int]struct{}, k K, id int) {
	if s := idx[k]; s != nil {
		delete(s, id)
		if len(s) == 0 {
			delete(idx, k)
		}
	}
}

func sortedIDs(s map[int]struct{}) []int {
	return slices.Sorted(maps.Keys(s))
}

// fresher reports whether incoming may replace current: never go back in
// time when an older copy arrives after a newer one (overlapping syncs).
func fresher[T record](incoming, current T) bool {
	return !incoming.modified().Before(current.modified())
}

func (s *store) putNet(n Network) {
	if old, ok := s.nets[n.ID]; ok {
		if !fresher(n, old) {
			return
		}
		s.dropNetIdx(old)
	}
	if n.deleted() {
		delete(s.nets, n.ID)
		return
	}
	s.nets[n.ID] = n
	s.netByASN[n.ASN] = n.ID
}

func (s *store) dropNetIdx(old Network) {
	if s.netByASN[old.ASN] == old.ID {
		delete(s.netByASN, old.ASN)
	}
}

func (s *store) delNet(id int) {
	if old, ok := s.nets[id]; ok {
		s.dropNetIdx(old)
		delete(s.nets, id)
	}
}

func (s *store) putIX(x IX) {
	if old, ok := s.ixs[x.ID]; ok && !fresher(x, old) {
		return
	}
	if x.deleted() {
		delete(s.ixs, x.ID)
		return
	}
	s.ixs[x.ID] = x
}

func (s *store) putIXLAN(l IXLAN) {
	if old, ok := s.ixlans[l.ID]; ok {
		if !fresher(l, old) {
			return
		}
		delIdx(s.lansByIX, old.IXID, old.ID)
	}
	if l.deleted() {
		delete(s.ixlans, l.ID)
		return
	}
	s.ixlans[l.ID] = l
	addIdx(s.lansByIX, l.IXID, l.ID)
}

func (s *store) delIXLAN(id int) {
	if old, ok := s.ixlans[id]; ok {
		delIdx(s.lansByIX, old.IXID, id)
		delete(s.ixlans, id)
	}
}

func (s *store) putIXPrefix(p IXPrefix) {
	if old, ok := s.ixpfxs[p.ID]; ok {
		if !fresher(p, old) {
			return
		}
		delIdx(s.pfxByLAN, old.IXLANID, old.ID)
	}
	if p.deleted() {
		delete(s.ixpfxs, p.ID)
		return
	}
	s.ixpfxs[p.ID] = p
	addIdx(s.pfxByLAN, p.IXLANID, p.ID)
}

func (s *store) delIXPrefix(id int) {
	if old, ok := s.ixpfxs[id]; ok {
		delIdx(s.pfxByLAN, old.IXLANID, id)
		delete(s.ixpfxs, id)
	}
}

func (s *store) putNetIXLAN(n NetIXLAN) {
	if old, ok := s.nixs[n.ID]; ok {
		if !fresher(n, old) {
			return
		}
		delIdx(s.nixByIX, old.IXID, old.ID)
	}
	if n.deleted() {
		delete(s.nixs, n.ID)
		return
	}
	s.nixs[n.ID] = n
	addIdx(s.nixByIX, n.IXID, n.ID)
}

func (s *store) delNetIXLAN(id int) {
	if old, ok := s.nixs[id]; ok {
		delIdx(s.nixByIX, old.IXID, id)
		delete(s.nixs, id)
	}
}

// netixlanASNs is every ASN with a port in the store.
func (s *store) netixlanASNs() map[uint32]bool {
	out := make(map[uint32]bool, len(s.nixs)/2)
	for _, n := range s.nixs {
		out[n.ASN] = true
	}
	return out
}

// The snapshot helpers return objects sorted by id: deterministic output
// for status fields, golden files and the persisted file.

func sortedValues[T record](m map[int]T) []T {
	out := slices.Collect(maps.Values(m))
	slices.SortFunc(out, func(a, b T) int { return cmp.Compare(a.key(), b.key()) })
	return out
}
