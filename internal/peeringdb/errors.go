package peeringdb

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Error classes. Test with errors.Is; an *Error matches one or more of them.
var (
	// ErrUnavailable: PeeringDB is down, slow, overloaded (5xx, 429 that
	// outlasted the retries, timeout, transport error) or sent a body that is
	// not the JSON it should be. Retryable: callers keep using cached data and
	// try again later.
	ErrUnavailable = errors.New("PeeringDB unavailable")
	// ErrRateLimited: PeeringDB answered 429 and the retries (or the
	// Retry-After it asked for) ran out. Also matches ErrUnavailable.
	ErrRateLimited = errors.New("PeeringDB rate limit reached")
	// ErrNotFound: the object does not exist in PeeringDB (HTTP 404, or an
	// empty answer to a lookup by id/asn). Not retryable.
	ErrNotFound = errors.New("not found in PeeringDB")
	// ErrUnauthorized: PeeringDB refused the API key (HTTP 401/403), or
	// locked the client out after repeated 401/403 (its bare 429).
	ErrUnauthorized = errors.New("PeeringDB refused the credentials")
	// ErrBadRequest: PeeringDB refused the query (other 4xx); a bug in the
	// caller, retrying does not help.
	ErrBadRequest = errors.New("PeeringDB refused the query")
)

// Error is what the client returns for a failed call. It names the object
// and query, and never contains the API key.
type Error struct {
	Object     string        // "net", "netixlan", ...
	Query      string        // encoded query (truncated), or "id=N"
	StatusCode int           // HTTP status, 0 for transport/decode errors
	Attempts   int           // requests made, including retries
	RetryAfter time.Duration // what PeeringDB asked for on the last 429/503, if any
	Kind       error         // one of the Err* classes above
	Err        error         // underlying cause, may be nil
	// Until is when the throttle PeeringDB answered with (429 and
	// Retry-After, or the client's own hold after a 429 without it) ends;
	// zero when there is none.
	Until time.Time
	// QueryOnly: the throttle holds this query only (PeeringDB's per-URL
	// throttle); the client's other queries go on.
	QueryOnly bool
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "peeringdb: %s", e.Object)
	if e.Query != "" {
		fmt.Fprintf(&b, "?%s", e.Query)
	}
	b.WriteString(": ")
	switch {
	case e.StatusCode != 0 && e.Err != nil:
		fmt.Fprintf(&b, "HTTP %d (%v)", e.StatusCode, e.Err)
	case e.StatusCode != 0:
		fmt.Fprintf(&b, "HTTP %d", e.StatusCode)
	case e.Err != nil:
		b.WriteString(e.Err.Error())
	default:
		b.WriteString(e.Kind.Error())
	}
	if e.Attempts > 1 {
		fmt.Fprintf(&b, " (%d attempts)", e.Attempts)
	}
	b.WriteString("; ")
	b.WriteString(e.advice())
	return b.String()
}

// advice is the "what to do" part of the message.
func (e *Error) advice() string {
	switch e.Kind {
	case ErrRateLimited:
		s := "PeeringDB is rate-limiting this client; cached data stays in use, lower RequestsPerMinute or configure an API key"
		if e.RetryAfter > 0 {
			s += fmt.Sprintf(" (PeeringDB asked to wait %s)", e.RetryAfter.Round(time.Second))
		}
		return s
	case ErrUnavailable:
		return "PeeringDB is unavailable or answered garbage; cached data stays in use and the sync is retried later"
	case ErrNotFound:
		return "no such object in PeeringDB; check the id or ASN"
	case ErrUnauthorized:
		return "PeeringDB refused the API key; check the key in the Secret or remove it to use anonymous access"
	case ErrBadRequest:
		return "PeeringDB refused the query; this is a bug in the operator, please report it"
	}
	return "PeeringDB call failed"
}

// Unwrap makes errors.Is work for the class and the cause. A rate limit is
// also an outage from the caller's point of view: retry later.
func (e *Error) Unwrap() []error {
	errs := []error{e.Kind}
	if e.Kind == ErrRateLimited {
		errs = append(errs, ErrUnavailable)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// IsRetryable reports whether err is a PeeringDB outage or rate limit, i.e.
// something that goes away by itself (Ready=False and requeue, not Stalled).
func IsRetryable(err error) bool { return errors.Is(err, ErrUnavailable) }

// Throttle is a query PeeringDB will not answer before a time.
type Throttle struct {
	Object string // "netixlan", ...
	Query  string // as in Error
	Until  time.Time
	// QueryOnly: only this query is held; otherwise every query of the
	// client waits.
	QueryOnly bool
}

// String says which query is held until when, for conditions and logs.
func (t Throttle) String() string {
	until := t.Until.UTC().Format(time.RFC3339)
	if !t.QueryOnly {
		return fmt.Sprintf("PeeringDB holds every query of this client until %s (429 on %s?%s)", until, t.Object, t.Query)
	}
	return fmt.Sprintf("PeeringDB throttles the query %s?%s until %s; other queries go on", t.Object, t.Query, until)
}

// ThrottleOf finds a throttle anywhere in err's chain: an *Error of kind
// ErrRateLimited that knows when it ends. errors.As is not enough: callers
// wrap the client's Error in Errors of their own.
func ThrottleOf(err error) (Throttle, bool) {
	stack := []error{err}
	for len(stack) > 0 {
		e := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if e == nil {
			continue
		}
		if pe, ok := e.(*Error); ok && pe.Kind == ErrRateLimited && !pe.Until.IsZero() {
			return Throttle{Object: pe.Object, Query: pe.Query, Until: pe.Until, QueryOnly: pe.QueryOnly}, true
		}
		switch u := e.(type) {
		case interface{ Unwrap() error }:
			stack = append(stack, u.Unwrap())
		case interface{ Unwrap() []error }:
			for _, x := range slices.Backward(u.Unwrap()) {
				stack = append(stack, x)
			}
		}
	}
	return Throttle{}, false
}
