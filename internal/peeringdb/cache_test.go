package peeringdb_test

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/peering-operator/peering-operator/internal/peeringdb"
	"github.com/peering-operator/peering-operator/internal/peeringdb/pdbtest"
)

const decix = 31 // DE-CIX Frankfurt

type cacheEnv struct {
	srv   *pdbtest.Server
	cl    *peeringdb.Client
	clock *fakeClock
	cache *peeringdb.Cache
}

func newCacheEnv(t *testing.T, path string) *cacheEnv {
	t.Helper()
	clock := newFakeClock()
	srv := newSampleServer(t, pdbtest.Options{Clock: clock.Now})
	cl := fastClient(t, srv, func(o *peeringdb.Options) { o.MaxRetries = 1 })
	return &cacheEnv{srv: srv, cl: cl, clock: clock,
		cache: peeringdb.NewCache(cl, peeringdb.CacheOptions{Path: path, Clock: clock.Now})}
}

func TestSyncIXBulkLoadsDECIX(t *testing.T) {
	e := newCacheEnv(t, "")
	if e.cache.HasIX(decix) {
		t.Fatal("HasIX before sync")
	}
	if err := e.cache.SyncIX(context.Background(), decix); err != nil {
		t.Fatal(err)
	}
	c := e.cache
	ix, ok := c.IX(decix)
	if !ok || ix.Name != "DE-CIX Frankfurt" || !c.HasIX(decix) {
		t.Fatalf("IX(31) = %+v, %v", ix, ok)
	}
	wantLAN := []netip.Prefix{netip.MustParsePrefix("80.81.192.0/21"), netip.MustParsePrefix("2001:7f8::/64")}
	if got := c.LANPrefixes(decix); !slices.Equal(got, wantLAN) {
		t.Errorf("LANPrefixes = %v, want %v", got, wantLAN)
	}
	if n := len(c.NetIXLANsOfIX(decix)); n != 70 {
		t.Errorf("%d netixlan on DE-CIX, want 70", n)
	}
	withNet := 0
	for _, n := range c.NetIXLANsOfIX(decix) {
		if _, ok := c.Network(n.ASN); ok {
			withNet++
		}
	}
	if withNet != 46 { // the README's "46 networks whose net record is in the sample"
		t.Errorf("%d DE-CIX ports with a known network, want 46", withNet)
	}
	he := c.NetIXLANs(decix, 6939)
	if len(he) != 1 || he[0].IPAddr4 != netip.MustParseAddr("80.81.192.172") ||
		he[0].IPAddr6 != netip.MustParseAddr("2001:7f8::1b1b:0:1") {
		t.Errorf("AS6939 on DE-CIX: %+v", he)
	}
	if n, ok := c.Network(6939); !ok || n.Name != "Hurricane Electric" {
		t.Errorf("Network(6939) = %+v, %v", n, ok)
	}
	// AS3856 has a port on DE-CIX but its net record is outside the
	// sample: a reference to unknown data, not a crash.
	if _, ok := c.Network(3856); ok {
		t.Error("Network(3856) found; its record is not in the sample")
	}
	if len(c.NetIXLANs(decix, 3856)) != 1 {
		t.Error("AS3856's DE-CIX port missing")
	}

	// Bulk: ix, ixlan, ixpfx, all netixlan of the IX in one query, the
	// networks in one asn__in batch (62 ASNs).
	var paths []string
	for _, r := range e.srv.RequestLog() {
		paths = append(paths, r.Path)
		if r.Path == "/api/netixlan" && r.Query.Get("ix_id") != "31" {
			t.Errorf("netixlan query %v", r.Query)
		}
		if r.Path == "/api/net" && r.Query.Get("asn__in") == "" {
			t.Errorf("net query %v", r.Query)
		}
	}
	if want := []string{"/api/ix", "/api/ixlan", "/api/ixpfx", "/api/netixlan", "/api/net"}; !slices.Equal(paths, want) {
		t.Errorf("requests %v, want %v", paths, want)
	}
	st := c.Status()
	if st.Stale || st.LastSync.IsZero() || !slices.Equal(st.SyncedIXs, []int{decix}) || st.Counts.NetIXLANs != 70 || st.Counts.IXs != 1 {
		t.Errorf("Status = %+v", st)
	}
}

func TestSyncIXIPv4OnlyPorts(t *testing.T) {
	e := newCacheEnv(t, "")
	if err := e.cache.SyncIX(context.Background(), 64); err != nil {
		t.Fatal(err)
	}
	ports := e.cache.NetIXLANs(64, 31800)
	if len(ports) != 1 || ports[0].IPAddr6.IsValid() || !ports[0].IPAddr4.IsValid() {
		t.Fatalf("AS31800 on ix 64: %+v (ipaddr6 is null in PeeringDB)", ports)
	}
}

func TestSyncIXNotFound(t *testing.T) {
	e := newCacheEnv(t, "")
	err := e.cache.SyncIX(context.Background(), 999999)
	if !errors.Is(err, peeringdb.ErrNotFound) || peeringdb.IsRetryable(err) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
	if !strings.Contains(err.Error(), "IX 999999") {
		t.Errorf("error does not name the IX: %v", err)
	}
	if st := e.cache.Status(); st.Stale {
		t.Error("a wrong IX id made the cache stale")
	}
	// The answer (pdbtest's 404, like the real server's) is remembered:
	// the cache knows there is no such IX and does not ask again.
	if _, ok := e.cache.IX(999999); ok || !e.cache.HasIX(999999) {
		t.Error("HasIX/IX after a not-found answer")
	}
	e.srv.ResetStats()
	for range 3 {
		if err := e.cache.EnsureLoaded(context.Background(), 999999); err != nil {
			t.Fatal(err)
		}
	}
	if n := e.srv.Requests(); n != 0 {
		t.Errorf("%d requests for an IX known not to exist, want 0", n)
	}
}

// EnsureLoaded fetches only what the cache cannot answer yet, including
// the answer "no such network", and never twice.
func TestEnsureLoaded(t *testing.T) {
	e := newCacheEnv(t, "")
	ctx := context.Background()
	// Secura (not at DE-CIX) and a documentation ASN (not in PeeringDB).
	if err := e.cache.EnsureLoaded(ctx, decix, 6939, 29452, 64496); err != nil {
		t.Fatal(err)
	}
	if n := e.srv.Requests(); n != 6 { // SyncIX: 5, SyncNetworks(29452, 64496): 1
		t.Errorf("%d requests, want 6", n)
	}
	if _, ok := e.cache.Network(29452); !ok {
		t.Error("AS29452 not loaded")
	}
	e.srv.ResetStats()
	for range 3 {
		if err := e.cache.EnsureLoaded(ctx, decix, 6939, 29452, 64496, 3856); err != nil {
			t.Fatal(err)
		}
	}
	if n := e.srv.Requests(); n != 0 { // 3856: port at DE-CIX, net known missing
		t.Errorf("%d requests for data already answered", n)
	}
	// A network created later reaches the cache through Refresh.
	e.clock.Advance(10 * time.Minute)
	e.srv.AddNetwork(peeringdb.Network{ASN: 64496, Name: "Newcomer", PolicyGeneral: "Open"})
	e.clock.Advance(time.Minute)
	if err := e.cache.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if n, ok := e.cache.Network(64496); !ok || n.Name != "Newcomer" {
		t.Errorf("new network of a tracked ASN not picked up: %+v", n)
	}
}

func TestSyncNetworksNullAndZeroPrefixes(t *testing.T) {
	e := newCacheEnv(t, "")
	if err := e.cache.SyncNetworks(context.Background(), 1299, 7132, 64496); err != nil {
		t.Fatal(err)
	}
	arelion, ok := e.cache.Network(1299)
	if !ok || arelion.InfoPrefixes4 != nil {
		t.Errorf("AS1299 info_prefixes4 = %v, want nil (null)", arelion.InfoPrefixes4)
	}
	n7132, ok := e.cache.Network(7132)
	if !ok || n7132.InfoPrefixes4 == nil || *n7132.InfoPrefixes4 != 0 {
		t.Errorf("AS7132 info_prefixes4 = %v, want 0", n7132.InfoPrefixes4)
	}
	if _, ok := e.cache.Network(64496); ok {
		t.Error("AS64496 found")
	}
}

func TestRefreshAppliesUpdatesAndDeletes(t *testing.T) {
	e := newCacheEnv(t, "")
	ctx := context.Background()
	if err := e.cache.SyncIX(ctx, decix); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(10 * time.Minute)
	srv := e.srv
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(srv.DeleteNetIXLAN(1240))                                                                    // HE's DE-CIX port
	must(srv.UpdateNetwork(15169, map[string]any{"name": "Google (renamed)", "info_prefixes4": nil})) // now unknown
	must(srv.DeleteNetwork(8560))                                                                     // IONOS net gone
	must(srv.Update("netixlan", 1581, map[string]any{"operational": false}))                          // Google port 1
	must(srv.Update("netixlan", 1572, map[string]any{"speed": 1}))                                    // Google at LINX: not our IX
	// Secura (AS29452, net record old and unchanged) joins DE-CIX.
	newPort := srv.AddNetIXLAN(peeringdb.NetIXLAN{NetID: 0, IXID: decix, IXLANID: decix, ASN: 29452,
		IPAddr4: netip.MustParseAddr("80.81.195.250"), Speed: 10000, Operational: true})
	must(srv.Update("netixlan", newPort, map[string]any{"net_id": 7500}))
	e.clock.Advance(5 * time.Minute)
	srv.ResetStats()

	if err := e.cache.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	c := e.cache
	if got := c.NetIXLANs(decix, 6939); len(got) != 0 {
		t.Errorf("deleted netixlan still cached: %+v", got)
	}
	if n := len(c.NetIXLANsOfIX(decix)); n != 70 { // -1 deleted, +1 added
		t.Errorf("%d ports on DE-CIX, want 70", n)
	}
	g, ok := c.Network(15169)
	if !ok || g.Name != "Google (renamed)" || g.InfoPrefixes4 != nil || g.InfoPrefixes6 == nil {
		t.Errorf("AS15169 after refresh: %q %v %v", g.Name, g.InfoPrefixes4, g.InfoPrefixes6)
	}
	if _, ok := c.Network(8560); ok {
		t.Error("deleted network still cached")
	}
	if ports := c.NetIXLANs(decix, 15169); len(ports) != 2 || ports[0].Operational {
		t.Errorf("Google DE-CIX ports: %+v", ports)
	}
	if ports := c.NetIXLANs(decix, 29452); len(ports) != 1 || ports[0].IPAddr6.IsValid() {
		t.Errorf("new port: %+v", ports)
	}
	if n, ok := c.Network(29452); !ok || n.PolicyGeneral != "No" {
		t.Errorf("network of the new port not fetched: %+v %v", n, ok)
	}
	if len(c.NetIXLANsOfIX(18)) != 0 {
		t.Error("refresh cached ports of an IX that was never synced")
	}

	// One since query per object type, plus the asn__in for the newcomer.
	var paths []string
	for _, r := range srv.RequestLog() {
		paths = append(paths, r.Path)
		if r.Query.Get("asn__in") == "" && r.Query.Get("since") == "" {
			t.Errorf("refresh request without since: %s?%v", r.Path, r.Query)
		}
	}
	want := []string{"/api/ix", "/api/ixlan", "/api/ixpfx", "/api/netixlan", "/api/net", "/api/net"}
	if !slices.Equal(paths, want) {
		t.Errorf("requests %v, want %v", paths, want)
	}

	// Nothing changed: the next refresh transfers almost nothing.
	e.clock.Advance(10 * time.Minute)
	srv.ResetStats()
	if err := c.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if n, b := srv.Requests(), srv.BytesServed(); n != 5 || b > 5*64 {
		t.Errorf("idle refresh: %d requests, %d bytes", n, b)
	}
}

func TestRefreshBeforeAnySyncIsNoop(t *testing.T) {
	e := newCacheEnv(t, "")
	if err := e.cache.Refresh(context.Background()); err != nil || e.srv.Requests() != 0 {
		t.Fatalf("err %v, %d requests", err, e.srv.Requests())
	}
}

func TestStaleOnOutageAndRecovery(t *testing.T) {
	e := newCacheEnv(t, "")
	ctx := context.Background()
	if err := e.cache.SyncIX(ctx, decix); err != nil {
		t.Fatal(err)
	}
	synced := e.cache.Status().LastSync

	e.clock.Advance(time.Minute)
	down := e.clock.Now()
	e.srv.SetDown(true)
	err := e.cache.Refresh(ctx)
	if !errors.Is(err, peeringdb.ErrUnavailable) {
		t.Fatalf("Refresh while down: %v, want ErrUnavailable", err)
	}
	st := e.cache.Status()
	if !st.Stale || !st.StaleSince.Equal(down) || !strings.Contains(st.LastError, "HTTP 500") || !st.LastSync.Equal(synced) {
		t.Errorf("Status while down = %+v", st)
	}
	// Reads keep serving the old data.
	if _, ok := e.cache.Network(6939); !ok || len(e.cache.NetIXLANs(decix, 6939)) != 1 || len(e.cache.LANPrefixes(decix)) != 2 {
		t.Error("reads failed during the outage")
	}
	// A second failure keeps the first StaleSince.
	e.clock.Advance(time.Minute)
	if err := e.cache.SyncIX(ctx, decix); !peeringdb.IsRetryable(err) {
		t.Fatalf("SyncIX while down: %v", err)
	}
	if st := e.cache.Status(); !st.StaleSince.Equal(down) {
		t.Errorf("StaleSince moved to %v", st.StaleSince)
	}

	e.srv.SetDown(false)
	e.clock.Advance(time.Minute)
	if err := e.cache.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	st = e.cache.Status()
	if st.Stale || !st.StaleSince.IsZero() || st.LastError != "" || !st.LastSync.Equal(e.clock.Now()) {
		t.Errorf("Status after recovery = %+v", st)
	}
}

func TestPersistenceRoundTrip(t *testing.T) {
	for _, name := range []string{"cache.json", "cache.json.gz"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), name)
			e := newCacheEnv(t, path)
			ctx := context.Background()
			if err := e.cache.SyncIX(ctx, decix); err != nil {
				t.Fatal(err)
			}
			if err := e.cache.SyncNetworks(ctx, 1299, 7132); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(path); err != nil {
				t.Fatalf("not saved after sync: %v", err)
			}
			before := e.srv.Requests()

			// "Restart": a new cache on the same file, no download.
			re := peeringdb.NewCache(e.cl, peeringdb.CacheOptions{Path: path, Clock: e.clock.Now})
			if e.srv.Requests() != before {
				t.Fatal("loading the cache file made requests")
			}
			if st := re.Status(); st.PersistError != "" || !re.HasIX(decix) || st.Counts != e.cache.Status().Counts {
				t.Fatalf("restored status %+v", st)
			}
			if !reflect.DeepEqual(re.NetIXLANsOfIX(decix), e.cache.NetIXLANsOfIX(decix)) {
				t.Error("netixlans differ after reload")
			}
			if !slices.Equal(re.LANPrefixes(decix), e.cache.LANPrefixes(decix)) {
				t.Error("LAN prefixes differ after reload")
			}
			for _, asn := range []uint32{6939, 1299, 7132, 15169} {
				a, _ := e.cache.Network(asn)
				b, ok := re.Network(asn)
				if !ok || !reflect.DeepEqual(a, b) {
					t.Errorf("AS%d differs after reload:\n%+v\n%+v", asn, a, b)
				}
			}
			if n, _ := re.Network(1299); n.InfoPrefixes4 != nil {
				t.Error("null prefix count became a number")
			}
			if n, _ := re.Network(7132); n.InfoPrefixes4 == nil {
				t.Error("zero prefix count became null")
			}
			// The reloaded cache continues incrementally.
			e.clock.Advance(10 * time.Minute)
			e.srv.ResetStats()
			if err := re.Refresh(ctx); err != nil {
				t.Fatal(err)
			}
			for _, r := range e.srv.RequestLog() {
				if r.Query.Get("since") == "" {
					t.Errorf("refresh after reload without since: %s", r.Path)
				}
			}
		})
	}
}

func TestCorruptCacheFileStartsEmpty(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cache.json")
	if err := os.WriteFile(path, []byte(`{"version":1,"net":[{"id":`), 0o600); err != nil {
		t.Fatal(err)
	}
	c := peeringdb.NewCache(nil, peeringdb.CacheOptions{Path: path})
	st := c.Status()
	if st.PersistError == "" || st.Counts.Networks != 0 {
		t.Errorf("status %+v", st)
	}
	if err := c.Refresh(context.Background()); err == nil {
		t.Error("read-only cache refreshed")
	}
}

func TestFullSyncSample(t *testing.T) {
	e := newCacheEnv(t, "")
	if err := e.cache.FullSync(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := e.cache.Status()
	want := peeringdb.ObjectCounts{Networks: 500, IXs: 500, IXLANs: 500, IXPrefixes: 500, NetIXLANs: 500}
	if !st.Full || st.Counts != want {
		t.Errorf("Status %+v", st)
	}
	// A full cache answers for every IX: absent means not in PeeringDB.
	if _, ok := e.cache.IX(99999); !e.cache.HasIX(18) || !e.cache.HasIX(99999) || ok {
		t.Error("HasIX/IX after full sync")
	}
}

// Reads run concurrently with syncs (run with -race).
func TestConcurrentReadsDuringSync(t *testing.T) {
	e := newCacheEnv(t, "")
	ctx := context.Background()
	if err := e.cache.SyncIX(ctx, decix); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				_ = e.cache.NetIXLANsOfIX(decix)
				_, _ = e.cache.Network(6939)
				_ = e.cache.LANPrefixes(decix)
				_ = e.cache.Status()
			}
		}()
	}
	for range 5 {
		e.clock.Advance(time.Minute)
		if err := e.srv.Update("netixlan", 1240, map[string]any{"speed": 1000}); err != nil {
			t.Fatal(err)
		}
		if err := e.cache.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		if err := e.cache.SyncIX(ctx, 18); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
}

// An IX sync that fails part way keeps the answers it got: the next attempt
// sends only the steps still missing, not the same queries again (PeeringDB
// throttles repeated identical large queries per URL).
func TestSyncIXKeepsStepsThatSucceeded(t *testing.T) {
	e := newCacheEnv(t, "")
	ctx := context.Background()
	e.srv.FailObjectNext("netixlan", 2, http.StatusInternalServerError) // both attempts (MaxRetries 1)
	if err := e.cache.SyncIX(ctx, decix); err == nil {
		t.Fatal("the sync succeeded without its netixlan step")
	}
	first := e.srv.RequestLog()
	e.srv.ResetStats()
	if err := e.cache.SyncIX(ctx, decix); err != nil {
		t.Fatal(err)
	}
	var sent []string
	for _, r := range e.srv.RequestLog() {
		sent = append(sent, r.Path)
	}
	if len(first) != 5 || !slices.Equal(sent, []string{"/api/netixlan", "/api/net"}) {
		t.Errorf("first attempt sent %d requests (want 5: ix, ixlan, ixpfx, netixlan twice); the second %v, want netixlan and net only", len(first), sent)
	}
	if _, ok := e.cache.IX(decix); !ok || len(e.cache.NetIXLANsOfIX(decix)) == 0 {
		t.Error("the completed sync did not load the IX")
	}
	// Kept answers expire: a retry much later starts over.
	e.srv.FailObjectNext("netixlan", 2, http.StatusInternalServerError)
	e.clock.Advance(time.Hour)
	_ = e.cache.SyncIX(ctx, decix)
	e.clock.Advance(time.Hour)
	e.srv.ResetStats()
	if err := e.cache.SyncIX(ctx, decix); err != nil || e.srv.Requests() != 5 {
		t.Errorf("a retry after kept answers expired: %v after %d requests, want 5", err, e.srv.Requests())
	}
}

// A full sync served from PeeringDB's API cache (a snapshot older than the
// local clock, meta.generated) takes its watermark from the snapshot: a
// change made after the snapshot but before the sync is picked up by the
// next refresh instead of being lost for good (with the local clock as
// watermark it would be older than since).
func TestFullSyncWatermarkFromSnapshot(t *testing.T) {
	e := newCacheEnv(t, "")
	ctx := context.Background()
	e.srv.Snapshot()
	e.clock.Advance(5 * time.Minute)
	if err := e.srv.UpdateNetwork(15169, map[string]any{"name": "Google (renamed after the snapshot)"}); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(10 * time.Minute)
	if err := e.cache.FullSync(ctx); err != nil {
		t.Fatal(err)
	}
	if n, _ := e.cache.Network(15169); n.Name == "Google (renamed after the snapshot)" {
		t.Fatal("the full sync did not come from the snapshot; the test proves nothing")
	}
	e.srv.ClearSnapshot()
	e.clock.Advance(time.Hour)
	if err := e.cache.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if n, _ := e.cache.Network(15169); n.Name != "Google (renamed after the snapshot)" {
		t.Errorf("after the refresh AS15169 is %q: a change between the snapshot and the sync was lost", n.Name)
	}
}

// since answers as the real server's: strictly after the timestamp, and
// only ok and deleted rows (a pending one is not served).
func TestSinceIsStrict(t *testing.T) {
	e := newCacheEnv(t, "")
	ctx := context.Background()
	e.clock.Advance(time.Minute)
	if err := e.srv.UpdateNetwork(15169, map[string]any{"name": "at the second"}); err != nil {
		t.Fatal(err)
	}
	at := e.clock.Now().Unix()
	if err := e.srv.UpdateNetwork(8560, map[string]any{"status": "pending"}); err != nil {
		t.Fatal(err)
	}
	nets, err := e.cl.Networks(ctx, url.Values{"since": {strconv.FormatInt(at-1, 10)}})
	if err != nil {
		t.Fatal(err)
	}
	if len(nets) != 1 || nets[0].ASN != 15169 {
		t.Errorf("since %d: %d rows, want AS15169 only (the pending one is not served)", at-1, len(nets))
	}
	if nets, err = e.cl.Networks(ctx, url.Values{"since": {strconv.FormatInt(at, 10)}}); err != nil || len(nets) != 0 {
		t.Errorf("since the very second: %d rows (%v), want none (strictly after)", len(nets), err)
	}
}
