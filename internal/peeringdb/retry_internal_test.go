package peeringdb

import (
	"net/http"
	"testing"
	"time"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"7", 7 * time.Second},
		{" 120 ", 2 * time.Minute},
		{"0", 0},
		{"-3", 0},
		{"soon", 0},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0}, // in the past
		{"999999999", 24 * time.Hour},                      // capped
	} {
		if got := parseRetryAfter(tc.in, now); got != tc.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestBackoffBoundsAndGrowth(t *testing.T) {
	base, max := 100*time.Millisecond, 1*time.Second
	for range 50 {
		bo := retryBackoff(base, max)
		for attempt := 1; attempt <= 8; attempt++ {
			full := min(base<<(attempt-1), max)
			if d := bo.Step(); d < full/2 || d > full {
				t.Fatalf("retry %d waits %v, want in [%v, %v]", attempt, d, full/2, full)
			}
		}
	}
}

// The limiter leaves headroom, proven over a sliding window as PeeringDB
// counts: 500 requests scheduled back to back by the client's own limiter
// (its reservations, on a virtual clock) never put more than 90 % of the
// published limit into any 60 s window, and never two requests closer
// than 2 s.
func TestLimiterSlidingWindow(t *testing.T) {
	for _, c := range []struct {
		name      string
		key       string
		published int
	}{{"anonymous", "", AnonymousRequestsPerMinute}, {"API key", "k", APIKeyRequestsPerMinute}} {
		o := Options{APIKey: c.key}
		if _, err := New(o); err != nil {
			t.Fatal(err)
		}
		// New's defaults, as the client applies them.
		o.RequestsPerMinute = float64(c.published) * DefaultHeadroom
		o.MinInterval, o.Burst = 2*time.Second, 1
		lim := newLimiter(o)
		now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		var at []time.Time
		for range 500 {
			r := lim.ReserveN(now, 1)
			now = now.Add(r.DelayFrom(now))
			at = append(at, now)
		}
		most := 0
		for i := range at {
			n := 0
			for j := i; j < len(at) && at[j].Sub(at[i]) <= time.Minute; j++ {
				n++
			}
			most = max(most, n)
			if i > 0 && at[i].Sub(at[i-1]) < 2*time.Second {
				t.Errorf("%s: requests %s apart", c.name, at[i].Sub(at[i-1]))
				break
			}
		}
		if limit := int(float64(c.published) * DefaultHeadroom); most > limit {
			t.Errorf("%s: %d requests in one sliding minute, want at most %d (published %d)", c.name, most, limit, c.published)
		}
		t.Logf("%s: at most %d requests in any 60 s window (published limit %d)", c.name, most, c.published)
	}
}
