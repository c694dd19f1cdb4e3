package peeringapi

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// limiter is a token bucket per key (caller or client address). Keys idle
// for a while are dropped so a flood of addresses cannot grow it forever.
type limiter struct {
	rate  rate.Limit
	burst int

	mu      sync.Mutex
	buckets map[string]*bucket
	swept   time.Time
}

type bucket struct {
	l    *rate.Limiter
	seen time.Time
}

// maxBuckets bounds the map between sweeps.
const maxBuckets = 100_000

func newLimiter(perMinute float64, burst int) *limiter {
	return &limiter{rate: rate.Limit(perMinute / 60), burst: burst, buckets: map[string]*bucket{}}
}

// allow takes one token for key.
func (l *limiter) allow(key string) bool {
	if l == nil || l.rate <= 0 {
		return true
	}
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) > time.Minute || len(l.buckets) >= maxBuckets {
		// A bucket idle long enough to have refilled is a new bucket.
		full := time.Duration(float64(l.burst)/float64(l.rate)*float64(time.Second)) + time.Second
		for k, b := range l.buckets {
			if now.Sub(b.seen) > full {
				delete(l.buckets, k)
			}
		}
		l.swept = now
		if len(l.buckets) >= maxBuckets {
			return false
		}
	}
	b, ok := l.buckets[key]
	if !ok {
		b = &bucket{l: rate.NewLimiter(l.rate, l.burst)}
		l.buckets[key] = b
	}
	b.seen = now
	return b.l.AllowN(now, 1)
}
