package cli

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/peering-operator/peering-operator/internal/router"
)

// Clear runs a driver's Clear in one session: managed reads which
// neighbors are the operator's, and only when every address is one of them
// are the lines of each sent (operational commands, with Exec: a refusal
// stops there). Nothing is dialed for an empty list.
func Clear(ctx context.Context, c *Conn, addrs []netip.Addr, managed func(ctx context.Context, s *Session) (map[netip.Addr]bool, error), lines func(a netip.Addr) []string) error {
	addrs, err := router.ClearAddrs(addrs)
	if err != nil || len(addrs) == 0 {
		return err
	}
	return c.Do(ctx, func(s *Session) error {
		m, err := managed(ctx, s)
		if err != nil {
			return err
		}
		for _, a := range addrs {
			if !m[a] {
				return router.NotManaged(a)
			}
		}
		for _, a := range addrs {
			for _, l := range lines(a) {
				if _, err := s.Exec(ctx, l); err != nil {
					return fmt.Errorf("clear %s: %w", a, err)
				}
			}
		}
		return nil
	})
}

// Conn is the connection of a Base, for Clear.
func (b *Base) Conn() *Conn { return b.conn }

// RestartMinutes is n's MaxPrefixRestart in whole minutes, rounded up so
// a session never comes back sooner than asked; 0 when unset or without a
// limit.
func RestartMinutes(n router.Neighbor) int {
	if n.MaxPrefixes == 0 || n.MaxPrefixRestart <= 0 {
		return 0
	}
	m := n.MaxPrefixRestart / time.Minute
	if n.MaxPrefixRestart%time.Minute != 0 {
		m++
	}
	return int(m)
}

// CheckRestart refuses a MaxPrefixRestart below zero, or longer than max
// minutes (the platform's range).
func CheckRestart(des router.Desired, max int) error {
	for _, n := range des.Neighbors {
		if n.MaxPrefixRestart < 0 {
			return fmt.Errorf("%w: neighbor %s: negative max-prefix restart %s", router.ErrInvalid, n.Address, n.MaxPrefixRestart)
		}
		if m := RestartMinutes(n); m > max {
			return fmt.Errorf("%w: neighbor %s: max-prefix restart %s is longer than the platform's %d minutes", router.ErrInvalid, n.Address, n.MaxPrefixRestart, max)
		}
	}
	return nil
}
