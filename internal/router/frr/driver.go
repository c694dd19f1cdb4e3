// Package frr drives FRR over SSH into vtysh (scrapligo, with our own
// platform definition). It owns, per neighbor, the BGP neighbor (marked by
// its description), an inbound route-map and a prefix-list (named
// PO-IN-<address>) and, unless it is a route-server client, an outbound
// pair (PO-OUT-<address>), plus shared lists (PO-BOGON-ASNS, PO-LEARNED);
// everything else on the router is left alone.
package frr

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/peering-operator/peering-operator/internal/router"
	"github.com/peering-operator/peering-operator/internal/router/cli"
)

// readDelay: every line waits for its echo and its prompt, and
// scrapligo's default 250µs poll added ~20% to a 500-neighbor apply.
var readDelay = 50 * time.Microsecond

// Not used, on purpose: FRR's XFRR_start/end_configuration (what "vtysh
// -f" sends). Prefix-list and route-map lines are northbound (YANG)
// commands, each a transaction whose cost grows with the whole
// configuration (500 neighbors: 134s line by line, 44s batched), and the
// markers batch them. But in FRR 8.4 (1) with the whole plan wrapped, the
// filters are committed after the BGP lines, so a neighbor is enabled
// before its filter exists; and (2) even with only the filter lines
// wrapped, a session that comes up while bgpd considers its configuration
// "being read" (1s after the end marker; 600s if the connection dies
// before it) is not held to maximum-prefix: seen 3 received, limit 2
// (force), session up. Correctness first.

//go:embed platform.yaml
var platformYAML []byte

// Platform is the scrapligo platform definition of FRR's vtysh. FRR prints
// nothing when it accepts a configuration line, so any output is a
// failure.
func Platform() cli.Platform {
	return cli.Platform{Definition: platformYAML, StrictConfig: true, ReadDelay: readDelay}
}

// maxRestart is the largest "maximum-prefix N restart M" FRR takes, in
// minutes.
const maxRestart = 65535

// Driver configures one FRR router.
type Driver struct {
	conn *cli.Conn
}

var _ router.Driver = (*Driver)(nil)

// New returns a driver for the router cfg reaches; it connects on first
// use and reconnects after a lost session.
func New(cfg cli.Config) *Driver { return &Driver{conn: cli.NewConn(cfg, Platform())} }

// Render returns the FRR configuration for d: prefix-lists, as-path and
// large-community lists, route-maps and the neighbors in "router bgp". It is what Apply converges to and what
// "vtysh -f" would load.
func (d *Driver) Render(des router.Desired) ([]byte, error) {
	if err := cli.Check(des); err != nil {
		return nil, err
	}
	if err := cli.CheckRestart(des, maxRestart); err != nil {
		return nil, err
	}
	return desiredConfig(des).render(), nil
}

// Stats counts the lines sent to the router since New, over all sessions.
func (d *Driver) Stats() cli.Stats { return d.conn.Stats() }

// Apply makes the router's managed neighbors and filters equal to des,
// writing only the difference, nothing when nothing differs, and checks
// the result by reading the configuration back. Held neighbors stay as
// they run (see hold).
func (d *Driver) Apply(ctx context.Context, des router.Desired) (router.ApplyResult, error) {
	rendered, err := d.Render(des)
	if err != nil {
		return router.ApplyResult{}, err
	}
	res := router.ApplyResult{Digest: cli.Digest(rendered)}
	want := desiredConfig(des)
	err = d.conn.Do(ctx, func(s *cli.Session) error {
		for _, n := range des.Neighbors {
			s.AddSecret(n.Password)
		}
		have, err := running(ctx, s)
		if err != nil {
			return err
		}
		// Held neighbors as read now: the check below then also proves
		// the push left them (and their objects) as they were.
		w := hold(want, have)
		p, err := makePlan(w, have)
		if err != nil || len(p.lines) == 0 {
			return err
		}
		if err := push(ctx, s, p.lines); err != nil {
			return err
		}
		if have, err = running(ctx, s); err != nil {
			return err
		}
		left, err := makePlan(w, have)
		if err != nil {
			return err
		}
		if len(left.lines) > 0 {
			return fmt.Errorf("%w: still to change: %s", cli.ErrVerify, s.Redact(strings.Join(first(left.lines, 5), "; ")))
		}
		res.Added, res.Updated, res.Removed = p.added, p.updated, p.removed
		return nil
	})
	return res, err
}

func first(l []string, n int) []string { return l[:min(n, len(l))] }

// running reads and parses the running configuration. It holds every
// neighbor's password in clear text: they are registered as secrets so no
// error can carry one.
func running(ctx context.Context, s *cli.Session) (*config, error) {
	out, err := s.Show(ctx, "show running-config")
	if err != nil {
		return nil, err
	}
	c, err := parseRunning(out)
	if err != nil {
		return nil, err
	}
	for _, n := range c.nbrs {
		s.AddSecret(router.Secret(n.password))
	}
	return c, nil
}

// push sends the plan in one configuration session and stops at the first
// line FRR refuses. FRR applies each line as it comes (bgpd has no
// candidate configuration), which is why the plan's order keeps every
// prefix of it safe.
func push(ctx context.Context, s *cli.Session, lines []string) error {
	if _, err := s.Exec(ctx, "configure terminal"); err != nil {
		return err
	}
	for i, l := range lines {
		if _, err := s.Exec(ctx, l); err != nil {
			var ce *cli.CommandError
			if errors.As(err, &ce) {
				// The session is fine, the line was refused: leave
				// configuration mode and report.
				_, _ = s.Exec(ctx, "end")
			}
			return fmt.Errorf("apply stopped at line %d of %d: %w", i+1, len(lines), err)
		}
	}
	_, err := s.Exec(ctx, "end")
	return err
}

// Close ends the session.
func (d *Driver) Close() error { return d.conn.Close() }
