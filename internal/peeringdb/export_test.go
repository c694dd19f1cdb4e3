package peeringdb

import (
	"context"
	"time"
)

// SetClock makes c read the time from now and wait with sleep, so tests
// run Retry-After pauses and holds on a fake clock instead of sleeping.
// Call it before c is used.
func SetClock(c *Client, now func() time.Time, sleep func(context.Context, time.Duration) error) {
	c.now, c.sleep = now, sleep
}
