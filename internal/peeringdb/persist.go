package peeringdb

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// cacheFileVersion changes when the file layout does; an old file is then
// ignored (the cache re-downloads) instead of misread.
const cacheFileVersion = 1

// cacheFile is the persisted cache. JSON rather than gob on purpose: gob
// drops zero values, so a *int64 pointing at 0 would come back as nil and
// "zero prefixes" would turn into "unknown".
type cacheFile struct {
	Version    int        `json:"version"`
	SavedAt    time.Time  `json:"savedAt"`
	Full       bool       `json:"full"`
	SyncedIXs  []int      `json:"syncedIXs"`
	ASNs       []uint32   `json:"asns"`
	Since      time.Time  `json:"since"`
	LastSync   time.Time  `json:"lastSync"`
	IXs        []IX       `json:"ix"`
	IXLANs     []IXLAN    `json:"ixlan"`
	IXPrefixes []IXPrefix `json:"ixpfx"`
	NetIXLANs  []NetIXLAN `json:"netixlan"`
	Networks   []Network  `json:"net"`
}

// Save writes the cache to CacheOptions.Path atomically (temporary file and
// rename), so a crash mid-write leaves the previous file. Syncs call it
// themselves when a Path is set.
func (c *Cache) Save() error {
	if c.opts.Path == "" {
		return errors.New("peeringdb: cache has no Path to save to")
	}
	c.saveMu.Lock()
	defer c.saveMu.Unlock()

	c.mu.RLock()
	f := cacheFile{
		Version:    cacheFileVersion,
		SavedAt:    c.opts.Clock(),
		Full:       c.full,
		SyncedIXs:  slices.Sorted(maps.Keys(c.syncedIX)),
		ASNs:       slices.Sorted(maps.Keys(c.asns)),
		Since:      c.since,
		LastSync:   c.lastSync,
		IXs:        c.s.ixs.sorted(),
		IXLANs:     c.s.ixlans.sorted(),
		IXPrefixes: c.s.ixpfxs.sorted(),
		NetIXLANs:  c.s.nixs.sorted(),
		Networks:   c.s.nets.sorted(),
	}
	c.mu.RUnlock()

	err := writeFileAtomic(c.opts.Path, func(w io.Writer) error {
		if strings.HasSuffix(c.opts.Path, ".gz") {
			zw := gzip.NewWriter(w)
			if err := json.NewEncoder(zw).Encode(&f); err != nil {
				return err
			}
			return zw.Close()
		}
		return json.NewEncoder(w).Encode(&f)
	})
	c.mu.Lock()
	if err != nil {
		err = fmt.Errorf("peeringdb: saving cache to %s: %w (the cache keeps working in memory; check the volume)", c.opts.Path, err)
		c.persistErr = err.Error()
	} else {
		c.persistErr = ""
	}
	c.mu.Unlock()
	return err
}

func writeFileAtomic(path string, write func(io.Writer) error) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	bw := bufio.NewWriterSize(tmp, 1<<20)
	if err = write(bw); err != nil {
		return err
	}
	if err = bw.Flush(); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// load reads CacheOptions.Path; a missing file is not an error.
func (c *Cache) load() error {
	fh, err := os.Open(c.opts.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("peeringdb: loading cache: %w", err)
	}
	defer fh.Close()
	var r io.Reader = bufio.NewReaderSize(fh, 1<<20)
	if strings.HasSuffix(c.opts.Path, ".gz") {
		zr, err := gzip.NewReader(r)
		if err != nil {
			return fmt.Errorf("peeringdb: loading cache %s: %w; it will be re-downloaded", c.opts.Path, err)
		}
		defer zr.Close()
		r = zr
	}
	var f cacheFile
	if err := json.NewDecoder(r).Decode(&f); err != nil {
		return fmt.Errorf("peeringdb: loading cache %s: %w; it will be re-downloaded", c.opts.Path, err)
	}
	if f.Version != cacheFileVersion {
		return fmt.Errorf("peeringdb: cache %s has format version %d, want %d; it will be re-downloaded",
			c.opts.Path, f.Version, cacheFileVersion)
	}
	s := newStore()
	s.ixs.putAll(f.IXs)
	s.ixlans.putAll(f.IXLANs)
	s.ixpfxs.putAll(f.IXPrefixes)
	s.nixs.putAll(f.NetIXLANs)
	s.nets.putAll(f.Networks)
	c.s = s
	c.full = f.Full
	for _, id := range f.SyncedIXs {
		c.syncedIX[id] = true
	}
	for _, a := range f.ASNs {
		c.asns[a] = true
	}
	c.since = f.Since
	c.lastSync = f.LastSync
	return nil
}
