package cli

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/peering-operator/peering-operator/internal/router"
)

// Base is the plumbing a CLI driver embeds: its connection to the router,
// and the Stats and Close methods of router drivers.
type Base struct{ conn *Conn }

// NewBase returns a Base for the router at cfg; nothing is dialed yet.
func NewBase(cfg Config, p Platform) Base { return Base{conn: NewConn(cfg, p)} }

// Stats counts the lines sent to the router.
func (b *Base) Stats() Stats { return b.conn.Stats() }

// Close ends the session.
func (b *Base) Close() error { return b.conn.Close() }

// Steps are a platform's parts of Apply; R is what it reads from the
// router.
type Steps[R any] struct {
	// Read fetches the owned configuration.
	Read func(ctx context.Context, s *Session) (R, error)
	// Conflict refuses the apply when the router's configuration is not
	// ours to change (checked on the first read only).
	Conflict func(have R) error
	// Plan lists the lines that make have what is wanted, with the
	// neighbors added, updated and removed.
	Plan func(have R) (lines []string, added, updated, removed int)
	// Commit sends lines and commits them, or leaves nothing of them.
	Commit func(ctx context.Context, s *Session, lines []string) error
}

// Apply is the common shape of a driver's Apply: read, refuse conflicts,
// plan, commit, read again and verify that nothing is left to change.
// rendered is des as the driver renders it (for the digest).
func Apply[R any](ctx context.Context, b *Base, des router.Desired, rendered []byte, st Steps[R]) (router.ApplyResult, error) {
	res := router.ApplyResult{Digest: Digest(rendered)}
	err := b.conn.Do(ctx, func(s *Session) error {
		for _, n := range des.Neighbors {
			s.AddSecret(n.Password)
		}
		have, err := st.Read(ctx, s)
		if err != nil {
			return err
		}
		if err := st.Conflict(have); err != nil {
			return err
		}
		lines, a, u, r := st.Plan(have)
		if len(lines) == 0 {
			return nil
		}
		if err := st.Commit(ctx, s, lines); err != nil {
			return err
		}
		have, err = st.Read(ctx, s)
		if err != nil {
			return err
		}
		if left, _, _, _ := st.Plan(have); len(left) > 0 {
			return fmt.Errorf("%w: still to change: %s", ErrVerify, s.Redact(strings.Join(left[:min(5, len(left))], "; ")))
		}
		res.Added, res.Updated, res.Removed = a, u, r
		return nil
	})
	return res, err
}

// CheckUnmarked refuses des when the router runs another "router bgp" AS
// (asn 0: none configured) or configures one of des' neighbors without our
// description marker (other).
func CheckUnmarked(des router.Desired, asn uint32, other map[netip.Addr]bool) error {
	if asn != 0 && asn != des.LocalASN {
		return fmt.Errorf("%w: the router runs router bgp %d, not %d", ErrConflict, asn, des.LocalASN)
	}
	for _, n := range des.Neighbors {
		if other[n.Address] {
			return fmt.Errorf("%w: neighbor %s exists without the %q description marker", ErrConflict, n.Address, Marker)
		}
	}
	return nil
}

// Discard undoes a configuration the router refused (cause) by running
// cmds, e.g. "abort"; the error says so ("aborted: ...") under verb, and
// names what failed (noun) if undoing failed too. A lost connection (cause
// not a CommandError) is returned as is: the configuration dies with it.
func Discard(ctx context.Context, s *Session, cause error, verb, noun string, cmds ...string) error {
	var ce *CommandError
	if !errors.As(cause, &ce) {
		return cause
	}
	var errs []error
	for _, c := range cmds {
		if _, err := s.Exec(ctx, c); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w (and %s failed: %v)", cause, noun, err)
	}
	return fmt.Errorf("%s: %w", verb, cause)
}

// Query runs f with a live session and returns what it read.
func Query[T any](ctx context.Context, b *Base, f func(s *Session) (T, error)) (T, error) {
	var out T
	err := b.conn.Do(ctx, func(s *Session) error {
		var err error
		out, err = f(s)
		return err
	})
	return out, err
}

// CheckNoRouteServer is Check for a driver (named driver in the error)
// that cannot configure route-server clients.
func CheckNoRouteServer(des router.Desired, driver string) error {
	if err := Check(des); err != nil {
		return err
	}
	for _, n := range des.Neighbors {
		if n.RouteServerClient {
			return fmt.Errorf("%w: neighbor %s: route-server clients are not supported by the %s driver (use frr or gobgp)", router.ErrInvalid, n.Address, driver)
		}
	}
	return nil
}
