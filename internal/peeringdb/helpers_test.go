package peeringdb_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/peering-operator/peering-operator/internal/peeringdb"
	"github.com/peering-operator/peering-operator/internal/peeringdb/pdbtest"
)

// decodeSample decodes the embedded real records of obj into T with plain
// encoding/json: the same decoding the client does.
func decodeSample[T peeringdb.Object](t testing.TB) []T {
	t.Helper()
	obj := peeringdb.ObjectName[T]()
	var out []T
	for _, page := range []string{"1", "2"} {
		b, err := pdbtest.SampleFS.ReadFile("sample/" + obj + "-page-" + page + ".json")
		if err != nil {
			t.Fatal(err)
		}
		var p struct{ Data []T }
		if err := json.Unmarshal(b, &p); err != nil {
			t.Fatalf("decoding %s page %s: %v", obj, page, err)
		}
		out = append(out, p.Data...)
	}
	return out
}

func sampleNetworksByASN(t testing.TB) map[uint32]peeringdb.Network {
	m := map[uint32]peeringdb.Network{}
	for _, n := range decodeSample[peeringdb.Network](t) {
		m[n.ASN] = n
	}
	return m
}

// newSampleServer serves the real sample on loopback for one test.
func newSampleServer(t testing.TB, opts pdbtest.Options) *pdbtest.Server {
	t.Helper()
	srv := pdbtest.NewServer(opts)
	t.Cleanup(srv.Close)
	return srv
}

// fastClient talks to srv without rate limit and with millisecond backoff,
// so retry tests take milliseconds.
func fastClient(t testing.TB, srv *pdbtest.Server, mod func(*peeringdb.Options)) *peeringdb.Client {
	t.Helper()
	o := peeringdb.Options{
		BaseURL:           srv.BaseURL,
		RequestsPerMinute: peeringdb.Unlimited,
		Backoff:           time.Millisecond,
		MaxBackoff:        5 * time.Millisecond,
		Timeout:           10 * time.Second,
	}
	if mod != nil {
		mod(&o)
	}
	c, err := peeringdb.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// fakeClock is a settable clock shared by a test server and a cache, so
// since/updated comparisons are deterministic.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Sleep is the client's wait on this clock (peeringdb.SetClock): it moves
// the clock on by d at once.
func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.Advance(d)
	return nil
}

// clockedClient is fastClient on clock: Retry-After pauses and holds pass
// by moving the clock, not by sleeping.
func clockedClient(t testing.TB, srv *pdbtest.Server, clock *fakeClock, mod func(*peeringdb.Options)) *peeringdb.Client {
	t.Helper()
	c := fastClient(t, srv, mod)
	peeringdb.SetClock(c, clock.Now, clock.Sleep)
	return c
}
