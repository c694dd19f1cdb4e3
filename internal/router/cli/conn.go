package cli

import (
	"context"
	"errors"
	"sync"
)

// Conn keeps one session to a router for a driver: it opens it on first
// use, reuses it, and replaces it after the connection is lost. Calls are
// serialised: a router is configured by one apply at a time.
type Conn struct {
	cfg  Config
	plat Platform
	mu   sync.Mutex
	s    *Session
	done Stats // of closed sessions
}

// NewConn returns a Conn; nothing is dialed yet.
func NewConn(cfg Config, plat Platform) *Conn { return &Conn{cfg: cfg, plat: plat} }

// Do runs f with a live session. A session that lost its connection
// (ErrClosed) is dropped, so the next Do reconnects.
func (c *Conn) Do(ctx context.Context, f func(s *Session) error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.s == nil || !c.s.Alive() {
		c.drop()
		s, err := Open(ctx, c.cfg, c.plat)
		if err != nil {
			return err
		}
		c.s = s
	}
	err := f(c.s)
	if errors.Is(err, ErrClosed) || !c.s.Alive() {
		c.drop()
	}
	return err
}

func (c *Conn) drop() {
	if c.s == nil {
		return
	}
	st := c.s.Stats()
	c.done.Shows += st.Shows
	c.done.Writes += st.Writes
	_ = c.s.Close()
	c.s = nil
}

// Stats counts the lines sent over all sessions so far.
func (c *Conn) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.done
	if c.s != nil {
		s := c.s.Stats()
		st.Shows += s.Shows
		st.Writes += s.Writes
	}
	return st
}

// Close ends the session.
func (c *Conn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.drop()
	return nil
}
