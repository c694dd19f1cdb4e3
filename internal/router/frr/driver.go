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
	"net/netip"
	"strings"
	"time"

	"github.com/peering-operator/peering-operator/internal/router"
	"github.com/peering-operator/peering-operator/internal/router/cli"
)

// readDelay: every line waits for its echo and its prompt, and
// scrapligo's default 250µs poll added ~20% to a 500-neighbor apply.
var readDelay = 50 * time.Microsecond

// The markers "vtysh -f" wraps a file in. Between them FRR 8.4 queues
// northbound (YANG) lines, prefix-lists and route-maps, and commits them
// together before the next other line or at the end marker; line by line,
// each is a commit whose cost grows with the configuration (500 neighbors:
// most of the time). BGP lines take effect as they come either way.
// bgpd also holds every neighbor created inside the markers down until
// about the end marker's route-map timer (600s if the session dies
// first): Apply creates neighbors outside (see phase).
const (
	batchStart = "XFRR_start_configuration"
	batchEnd   = "XFRR_end_configuration"
)

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
		if err := pushPlan(ctx, s, w, p); err != nil {
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

// pushPlan sends p in four phases:
//  1. shutdowns and removals, line by line: a NOC's emergency reaches the
//     router whatever the rest of the plan does;
//  2. new neighbors, born shut down ("bgp default shutdown"), line by
//     line: see phase;
//  3. everything else but enabling, in one batch: new neighbors get their
//     whole configuration there;
//  4. after the running configuration shows phase 3 complete (every new
//     neighbor with its filters, export policy and limit), enabling, line
//     by line and outside the markers.
//
// A batch the router refuses is sent again line by line, from a fresh
// plan, so that the error names the line; nothing is enabled after a
// failure. A session cut inside the batch leaves a prefix of it: new
// neighbors are shut down until phase 4.
func pushPlan(ctx context.Context, s *cli.Session, w *config, p *plan) error {
	if err := push(ctx, s, p.part(phaseUrgent), false); err != nil {
		return err
	}
	if err := push(ctx, s, p.part(phaseCreate), false); err != nil {
		return err
	}
	enable := p.part(phaseEnable)
	batch := batchOf(p)
	if len(batch) == 0 && len(enable) == 0 {
		return nil
	}
	// With nothing to batch an empty one still closes the hold a cut
	// batch may have left on the neighbors it created.
	err := push(ctx, s, batch, true)
	var ce *cli.CommandError
	if errors.As(err, &ce) {
		have, err := running(ctx, s)
		if err != nil {
			return err
		}
		if p, err = makePlan(w, have); err != nil {
			return err
		}
		for _, l := range [][]string{p.part(phaseUrgent), p.part(phaseCreate), batchOf(p)} {
			if err := push(ctx, s, l, false); err != nil {
				return err
			}
		}
	} else if err != nil {
		return err
	}
	if len(enable) == 0 {
		return nil
	}
	have, err := running(ctx, s)
	if err != nil {
		return err
	}
	if p, err = makePlan(w, have); err != nil {
		return err
	}
	if !p.only(phaseEnable) {
		return fmt.Errorf("%w: nothing enabled, still to change: %s", cli.ErrVerify, s.Redact(strings.Join(first(p.lines, 5), "; ")))
	}
	return push(ctx, s, p.part(phaseEnable), false)
}

// editBatch, set by tests only, changes the batch (to make FRR refuse a
// line of it).
var editBatch func([]string) []string

func batchOf(p *plan) []string {
	l := p.part(phaseBatch)
	if editBatch != nil {
		l = editBatch(l)
	}
	return l
}

// push sends lines in one configuration session, inside the batch markers
// if batch, and stops at the first line FRR refuses, naming it and its
// neighbor.
func push(ctx context.Context, s *cli.Session, lines []string, batch bool) error {
	if len(lines) == 0 && !batch {
		return nil
	}
	all := []string{"configure terminal"}
	if batch {
		all = append(all, batchStart)
	}
	all = append(all, lines...)
	if batch {
		all = append(all, batchEnd)
	}
	for i, l := range append(all, "end") {
		if _, err := s.Exec(ctx, l); err != nil {
			var ce *cli.CommandError
			if errors.As(err, &ce) && i < len(all) {
				// The session is fine, the line was refused: close the
				// batch (FRR commits what it queued before that line, as
				// line by line it would have, or dropped it if the commit
				// failed) and leave configuration mode.
				if batch && l != batchEnd {
					_, _ = s.Exec(ctx, batchEnd)
				}
				_, _ = s.Exec(ctx, "end")
			}
			return fmt.Errorf("apply stopped at line %d of %d%s: %w", i+1, len(all)+1, neighborOf(l), err)
		}
	}
	return nil
}

// neighborOf names the neighbor a configuration line is about, if any.
func neighborOf(l string) string {
	f := strings.Fields(l)
	for i, w := range f {
		a := addrOfObject(w)
		if w == "neighbor" && i+1 < len(f) {
			a, _ = netip.ParseAddr(f[i+1])
		}
		if a.IsValid() {
			return " (neighbor " + a.String() + ")"
		}
	}
	return ""
}

// Close ends the session.
func (d *Driver) Close() error { return d.conn.Close() }
