package frr

import (
	"context"
	"errors"
	"net/netip"
	"testing"

	"github.com/scrapli/scrapligo/transport"

	"github.com/peering-operator/peering-operator/internal/router"
	"github.com/peering-operator/peering-operator/internal/router/cli"
)

func injections() []router.Neighbor { return cli.Injections() }

// noDial fails the test if anything tries to connect.
type noDial struct {
	t      *testing.T
	opened bool
}

func (n *noDial) Open(*transport.Args) error { n.opened = true; return errors.New("must not connect") }
func (n *noDial) Close() error               { return nil }
func (n *noDial) IsAlive() bool              { return false }
func (n *noDial) Read(int) ([]byte, error)   { return nil, errors.New("closed") }
func (n *noDial) Write([]byte) error         { n.t.Error("write"); return nil }

func TestInjectionRefusedBeforeAnyIO(t *testing.T) {
	if _, err := netip.ParseAddr("192.0.2.2\nshutdown"); err == nil {
		t.Fatal("netip accepted a newline")
	}
	for _, n := range injections() {
		nd := &noDial{t: t}
		d := New(cli.Config{Host: "192.0.2.1", Username: "u", Password: "p", Transport: nd})
		if _, err := d.Render(desired(n)); !errors.Is(err, router.ErrInvalid) {
			t.Errorf("render %q/%q/%q: %v", n.Description, n.Owner, n.Address, err)
		}
		if _, err := d.Apply(context.Background(), desired(n)); !errors.Is(err, router.ErrInvalid) {
			t.Errorf("apply %q/%q: %v", n.Description, n.Owner, err)
		}
		if nd.opened {
			t.Errorf("%q: connected", n.Description)
		}
	}
}
