// Package pdbtest is a PeeringDB API v2 compatible HTTP server for tests,
// benchmarks and `make dev`. It serves real PeeringDB records (the embedded
// sample, see sample/README.md) or a synthetic data set of real-world size,
// plus whatever a test adds, updates or deletes; it answers the filters the
// operator's client uses and can inject the faults PeeringDB shows in
// practice (429 with Retry-After, 5xx, slow and malformed answers), or
// emulate its per-URL throttle and negative cache (Options).
//
// Records are kept as the raw JSON PeeringDB sent, so its quirks (null
// prefix counts, null addresses, odd irr_as_set values) reach the client
// unchanged.
package pdbtest

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
)

// SampleFS holds the real PeeringDB records (first two pages of each object
// type, captured in 2026) and their README with the attribution.
//
//go:embed sample/*.json sample/README.md
var SampleFS embed.FS

// Objects is every object type the server answers, in API path names.
var Objects = []string{"net", "ix", "ixlan", "ixpfx", "netixlan", "org", "fac", "netfac", "ixfac", "poc"}

// Dataset is raw PeeringDB records by object type ("net", "netixlan", ...).
type Dataset struct {
	Objects map[string][]json.RawMessage
}

// Sample returns the embedded real records. The sample is compiled in and
// checked by tests, so a failure to read it is a build problem: it panics.
func Sample() *Dataset {
	d, err := LoadDataset(SampleFS, "sample")
	if err != nil {
		panic(fmt.Sprintf("pdbtest: embedded sample unreadable: %v", err))
	}
	return d
}

// LoadDataset reads API answers ({"data":[...],"meta":{}}) from dir in
// fsys, named <object>-page-N.json (as PeeringDB's own dumps and the sample
// are), or <object>.json.
func LoadDataset(fsys fs.FS, dir string) (*Dataset, error) {
	d := &Dataset{Objects: map[string][]json.RawMessage{}}
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".json") {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	for _, name := range names {
		obj, _, _ := strings.Cut(strings.TrimSuffix(name, ".json"), "-page-")
		if !slices.Contains(Objects, obj) {
			continue
		}
		b, err := fs.ReadFile(fsys, path.Join(dir, name))
		if err != nil {
			return nil, err
		}
		var page struct {
			Data []json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(b, &page); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		d.Objects[obj] = append(d.Objects[obj], page.Data...)
	}
	return d, nil
}

// Count is the number of records of obj.
func (d *Dataset) Count(obj string) int { return len(d.Objects[obj]) }
