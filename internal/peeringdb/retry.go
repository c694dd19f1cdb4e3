package peeringdb

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
)

// parseRetryAfter reads a Retry-After header: delay-seconds or an HTTP
// date (RFC 9110 §10.2.3). It returns 0 when absent or unparsable, so the
// caller falls back to its own backoff.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		if secs > 24*3600 { // nonsense; don't overflow
			secs = 24 * 3600
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// retryBackoff is the delay before each retry: exponential from base,
// capped at max, with "equal jitter" (half fixed, half random: half the
// delay, jittered by up to 100 %) so that many operators restarting
// together do not retry in lockstep.
func retryBackoff(base, max time.Duration) *wait.Backoff {
	return &wait.Backoff{Duration: base / 2, Factor: 2, Jitter: 1, Cap: max / 2, Steps: math.MaxInt32}
}

// retryableStatus reports the HTTP statuses worth retrying: rate limit and
// server-side trouble. Other 4xx will fail the same way again.
func retryableStatus(code int) bool {
	return code == http.StatusTooManyRequests || code >= 500
}
