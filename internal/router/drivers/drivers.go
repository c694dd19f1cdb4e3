// Package drivers opens the router.Driver for a Router's platform.
package drivers

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"time"

	"github.com/go-logr/logr"
	"google.golang.org/grpc"

	"github.com/peering-operator/peering-operator/internal/router"
	"github.com/peering-operator/peering-operator/internal/router/cli"
	"github.com/peering-operator/peering-operator/internal/router/eos"
	"github.com/peering-operator/peering-operator/internal/router/frr"
	"github.com/peering-operator/peering-operator/internal/router/gobgp"
	"github.com/peering-operator/peering-operator/internal/router/iosxr"
	"github.com/peering-operator/peering-operator/internal/router/junos"
)

// ErrUnsupported: the driver is not enabled in this operator.
var ErrUnsupported = errors.New("router driver not enabled")

// Proven are the drivers tested against a real daemon (FRR, gobgpd); the
// others are tested against recorded sessions only and must be enabled
// explicitly (Options.Enabled).
var Proven = []string{"frr", "gobgp"}

// All drivers this build has.
var All = []string{"eos", "frr", "gobgp", "iosxr", "junos"}

// Target is what a driver needs to know about a router.
type Target struct {
	Driver      string // frr, junos, iosxr, eos, gobgp
	Address     string
	Port        int32
	RouteServer bool
}

// Options tune drivers for labs and tests.
type Options struct {
	// Enabled drivers; nil means Proven.
	Enabled []string
	// GoBGPPassive configures GoBGP neighbors passive (peers dial in),
	// for labs where the peers are on loopback.
	GoBGPPassive bool
	// GoBGPConnectRetry replaces GoBGP's 120 s connect retry.
	GoBGPConnectRetry time.Duration
	// GoBGPInterceptors see every gRPC call to gobgpd (tests count writes).
	GoBGPInterceptors []grpc.UnaryClientInterceptor
	// Log receives the SSH drivers' messages (never secrets).
	Log logr.Logger
}

// Opener opens drivers with fixed options.
type Opener struct{ Options Options }

// Supported reports whether driver is enabled.
func (o Opener) Supported(driver string) bool {
	enabled := o.Options.Enabled
	if enabled == nil {
		enabled = Proven
	}
	return slices.Contains(enabled, driver) && slices.Contains(All, driver)
}

// Open connects to the router (the SSH drivers connect on first use).
func (o Opener) Open(ctx context.Context, t Target, creds *router.Credentials) (router.Driver, error) {
	if !o.Supported(t.Driver) {
		return nil, fmt.Errorf("%w: %s (enabled: %v)", ErrUnsupported, t.Driver, o.enabled())
	}
	if t.Driver == "gobgp" {
		return gobgp.New(ctx, gobgp.Options{
			Address: net.JoinHostPort(t.Address, strconv.Itoa(int(t.Port))), RouteServer: t.RouteServer,
			Passive: o.Options.GoBGPPassive, ConnectRetry: o.Options.GoBGPConnectRetry,
			Interceptors: o.Options.GoBGPInterceptors,
		})
	}
	cfg := cli.ConfigFor(t.Address, int(t.Port), creds)
	cfg.Log = o.Options.Log
	switch t.Driver {
	case "frr":
		return frr.New(cfg), nil
	case "junos":
		return junos.New(cfg), nil
	case "iosxr":
		return iosxr.New(cfg), nil
	default:
		return eos.New(cfg), nil
	}
}

func (o Opener) enabled() []string {
	if o.Options.Enabled == nil {
		return Proven
	}
	return o.Options.Enabled
}
