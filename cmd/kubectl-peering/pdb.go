package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/pflag"

	"github.com/peering-operator/peering-operator/internal/peeringdb"
	"github.com/peering-operator/peering-operator/internal/version"
)

// pdbFlags choose where PeeringDB data comes from: the API (default the
// real PeeringDB) through a local cache file, or the cache file alone.
type pdbFlags struct {
	url     string
	cache   string
	offline bool
	rpm     float64
	maxAge  time.Duration
}

// defaultCachePath is where the cache lives unless --cache says otherwise:
// under the user's cache directory, so every command (and every run) shares
// it and PeeringDB is asked as rarely as possible.
func defaultCachePath() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "peering-operator", "peeringdb.json.gz")
}

func (p *pdbFlags) add(f *pflag.FlagSet) {
	f.StringVar(&p.url, "peeringdb-url", peeringdb.DefaultBaseURL, "PeeringDB API root (a mirror or test server works too)")
	f.StringVar(&p.cache, "cache", defaultCachePath(), "PeeringDB cache file (.gz: compressed); \"\" keeps it in memory only")
	// Help shows where, not this user's home directory.
	f.Lookup("cache").DefValue = "<user cache dir>/peering-operator/peeringdb.json.gz"
	f.BoolVar(&p.offline, "offline", false, "use only the PeeringDB cache file, never the network")
	f.Float64Var(&p.rpm, "peeringdb-requests-per-minute", 0,
		"PeeringDB request rate (0: PeeringDB's limit, 20/min, or 40/min with $PEERINGDB_API_KEY; -1: unlimited, for a local mirror)")
	f.DurationVar(&p.maxAge, "cache-max-age", 24*time.Hour, "refresh cached PeeringDB data older than this (incremental, a few requests)")
}

// pdbSource is an open cache plus what it needs to fill it.
type pdbSource struct {
	cache     *peeringdb.Cache
	client    *peeringdb.Client // nil offline
	flags     *pdbFlags
	warn      io.Writer
	refreshed bool
}

// open loads the cache file. Offline it is read-only; online it syncs
// through a client and saves every successful sync back to the file.
func (p *pdbFlags) open(warn io.Writer) (*pdbSource, error) {
	if p.cache != "" && !p.offline {
		if err := os.MkdirAll(filepath.Dir(p.cache), 0o755); err != nil {
			return nil, fmt.Errorf("cannot create the directory of the PeeringDB cache file: %w", err)
		}
	}
	if p.offline && p.cache == "" {
		return nil, errors.New("--offline needs a PeeringDB cache file (--cache)")
	}
	if p.offline {
		if _, err := os.Stat(p.cache); errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("--offline: the PeeringDB cache file %s does not exist; run the command once without --offline to create it", p.cache)
		} else if err != nil {
			return nil, fmt.Errorf("--offline: %w", err)
		}
	}
	var c *peeringdb.Client
	if !p.offline {
		var err error
		c, err = peeringdb.New(peeringdb.Options{
			BaseURL:           p.url,
			APIKey:            os.Getenv("PEERINGDB_API_KEY"),
			UserAgent:         "kubectl-peering/" + version.Version,
			RequestsPerMinute: p.rpm,
			// A person is waiting: fail within a minute or two, not after
			// the controller's long retry budget.
			MaxRetries: 2,
			Timeout:    30 * time.Second,
		})
		if err != nil {
			return nil, err
		}
	}
	cache := peeringdb.NewCache(c, peeringdb.CacheOptions{Path: p.cache, Clock: now})
	if st := cache.Status(); st.PersistError != "" {
		if p.offline {
			return nil, fmt.Errorf("PeeringDB cache file unusable (--offline): %s", st.PersistError)
		}
		fmt.Fprintf(warn, "warning: %s\n", st.PersistError)
	}
	return &pdbSource{cache: cache, client: c, flags: p, warn: warn}, nil
}

// ensure makes the cache able to answer for the IX and the ASNs. Online it
// loads what is missing and refreshes data older than --cache-max-age; a
// failed refresh is a warning (the cached data still answers), a failed
// first load is an error. Offline the IX must be in the file.
func (s *pdbSource) ensure(ctx context.Context, ixID int, asns ...uint32) error {
	c := s.cache
	if s.flags.offline {
		if !c.HasIX(ixID) {
			return fmt.Errorf("PeeringDB data for IX %d is not in the cache file %s (--offline); run once without --offline to add it",
				ixID, s.flags.cache)
		}
		return nil
	}
	if st := c.Status(); c.HasIX(ixID) && !s.refreshed && !st.LastSync.IsZero() && now().Sub(st.LastSync) > s.flags.maxAge {
		s.refreshed = true
		if err := c.Refresh(ctx); err != nil {
			fmt.Fprintf(s.warn, "warning: using PeeringDB data cached at %s: %v\n", st.LastSync.UTC().Format(time.RFC3339), err)
		}
	}
	if !c.HasIX(ixID) {
		// At PeeringDB's anonymous rate this takes up to half a minute: say
		// why the command is quiet.
		fmt.Fprintf(s.warn, "loading IX %d from PeeringDB (first use; cached afterwards)\n", ixID)
	}
	err := c.EnsureLoaded(ctx, ixID, asns...)
	if err == nil {
		return nil
	}
	// The cache answers what it can: an IX PeeringDB does not have is an
	// answer (the checks report IXNotFound), an outage is not.
	if !c.HasIX(ixID) {
		return err
	}
	if peeringdb.IsRetryable(err) {
		for _, a := range asns {
			if _, ok := c.Network(a); !ok {
				return err
			}
		}
		fmt.Fprintf(s.warn, "warning: PeeringDB unavailable, using cached data: %v\n", err)
	}
	return nil
}
