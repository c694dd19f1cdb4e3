package pdbtest

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/peering-operator/peering-operator/internal/peeringdb"
)

// intFields are the integer fields a query may filter on (plus id).
var intFields = []string{"asn", "ix_id", "ixlan_id", "net_id", "org_id", "fac_id", "local_asn"}

// record is one stored object: its raw JSON as served, and the few fields
// the filters need, parsed once.
type record struct {
	raw     json.RawMessage
	id      int
	status  string
	updated time.Time
	ints    [7]int64 // by intFields index
	has     uint8    // bit i: ints[i] present and not null
}

func (r *record) intField(name string) (int64, bool) {
	if name == "id" {
		return int64(r.id), true
	}
	i := slices.Index(intFields, name)
	if i < 0 || r.has&(1<<i) == 0 {
		return 0, false
	}
	return r.ints[i], true
}

func parseRecord(raw json.RawMessage) (*record, error) {
	r, err := indexRecord(raw)
	if err != nil {
		return nil, err
	}
	r.raw = raw // keep the original bytes (and field order) as served
	return r, nil
}

func recordFromMap(m map[string]json.RawMessage) (*record, error) {
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	return parseRecord(raw)
}

// indexed is the part of a record the filters read; decoding into it is
// much cheaper than into a map (the synthetic data set has 120k records).
type indexed struct {
	ID       int       `json:"id"`
	Status   string    `json:"status"`
	Updated  time.Time `json:"updated"`
	ASN      *int64    `json:"asn"`
	IXID     *int64    `json:"ix_id"`
	IXLANID  *int64    `json:"ixlan_id"`
	NetID    *int64    `json:"net_id"`
	OrgID    *int64    `json:"org_id"`
	FacID    *int64    `json:"fac_id"`
	LocalASN *int64    `json:"local_asn"`
}

func indexRecord(raw json.RawMessage) (*record, error) {
	var x indexed
	if err := json.Unmarshal(raw, &x); err != nil {
		return nil, err
	}
	if x.ID <= 0 {
		return nil, fmt.Errorf("record without a positive id: %.80s", raw)
	}
	r := &record{id: x.ID, status: x.Status, updated: x.Updated}
	for i, v := range []*int64{x.ASN, x.IXID, x.IXLANID, x.NetID, x.OrgID, x.FacID, x.LocalASN} { // intFields order
		if v != nil {
			r.ints[i] = *v
			r.has |= 1 << i
		}
	}
	return r, nil
}

// table is one object type.
type table struct {
	byID   map[int]*record
	order  []int // ids, sorted when sorted is true
	sorted bool
	maxID  int
}

func newTable() *table { return &table{byID: map[int]*record{}, sorted: true} }

func (t *table) put(r *record) {
	if _, ok := t.byID[r.id]; !ok {
		if n := len(t.order); n > 0 && t.order[n-1] > r.id {
			t.sorted = false
		}
		t.order = append(t.order, r.id)
	}
	t.byID[r.id] = r
	t.maxID = max(t.maxID, r.id)
}

func (t *table) sortedIDs() []int {
	if !t.sorted {
		slices.Sort(t.order)
		t.sorted = true
	}
	return t.order
}

// filter is one parsed query condition on an integer field.
type filter struct {
	field string
	in    map[int64]bool
}

// query answers a list request like PeeringDB (rest.py, get_queryset):
// objects in id order (no ORDER BY there: the database's primary key
// order), or with since ordered by updated, deleted ones included; then
// skip and limit.
func (t *table) query(q map[string][]string) ([]*record, error) {
	var (
		filters     []filter
		since       time.Time
		withSince   bool
		limit, skip int
	)
	for _, k := range slices.Sorted(maps.Keys(q)) {
		v := q[k][len(q[k])-1]
		switch k {
		case "limit", "skip", "depth":
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("invalid %s %q", k, v)
			}
			switch k {
			case "limit":
				limit = n
			case "skip":
				skip = n
			}
		case "since":
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return nil, fmt.Errorf("invalid since %q: want a unix timestamp", v)
			}
			since, withSince = time.Unix(int64(f), 0), true
		default:
			field, in := strings.CutSuffix(k, "__in")
			if field != "id" && !slices.Contains(intFields, field) {
				return nil, fmt.Errorf("unsupported filter %q", k)
			}
			vals := []string{v}
			if in {
				vals = strings.Split(v, ",")
			}
			f := filter{field: field, in: make(map[int64]bool, len(vals))}
			for _, s := range vals {
				if s == "" {
					continue
				}
				n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
				if err != nil {
					return nil, fmt.Errorf("invalid value %q for %s", s, k)
				}
				f.in[n] = true
			}
			filters = append(filters, f)
		}
	}
	ids := t.sortedIDs()
	if withSince {
		// .order_by("updated"): a row updated after another comes after
		// it whatever its id. Ties have no defined order on the real
		// server; id keeps ours deterministic.
		ids = slices.Clone(ids)
		slices.SortStableFunc(ids, func(a, b int) int { return t.byID[a].updated.Compare(t.byID[b].updated) })
	}
	var out []*record
	matched := 0
	for _, id := range ids {
		r := t.byID[id]
		if withSince {
			// created > since OR updated > since, strictly, and only ok
			// or deleted rows (rest.py's since handling); updated is
			// never before created, so updated alone decides.
			if !r.updated.After(since) || r.status != peeringdb.StatusOK && r.status != peeringdb.StatusDeleted {
				continue
			}
		} else if r.status == peeringdb.StatusDeleted {
			continue
		}
		if !matches(r, filters) {
			continue
		}
		matched++
		if matched <= skip {
			continue
		}
		out = append(out, r)
		if limit > 0 && len(out) == limit {
			break
		}
	}
	return out, nil
}

func matches(r *record, filters []filter) bool {
	for _, f := range filters {
		v, ok := r.intField(f.field)
		if !ok || !f.in[v] {
			return false
		}
	}
	return true
}
