// Package drivers opens the router.Driver for a Router's platform.
package drivers

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"google.golang.org/grpc"

	"github.com/peering-operator/peering-operator/internal/router"
	"github.com/peering-operator/peering-operator/internal/router/gobgp"
)

// ErrUnsupported: no driver for this platform in this build.
var ErrUnsupported = errors.New("no driver for this router platform")

// Target is what a driver needs to know about a router.
type Target struct {
	Driver      string // frr, junos, iosxr, eos, gobgp
	Address     string
	Port        int32
	RouteServer bool
}

// Options tune drivers for labs and tests.
type Options struct {
	// GoBGPPassive configures GoBGP neighbors passive (peers dial in),
	// for labs where the peers are on loopback.
	GoBGPPassive bool
	// GoBGPConnectRetry replaces GoBGP's 120 s connect retry.
	GoBGPConnectRetry time.Duration
	// GoBGPInterceptors see every gRPC call to gobgpd (tests count writes).
	GoBGPInterceptors []grpc.UnaryClientInterceptor
}

// Opener opens drivers with fixed options.
type Opener struct{ Options Options }

// Supported reports whether this build can configure routers of driver.
func Supported(driver string) bool { return driver == "gobgp" }

// Open connects to the router.
func (o Opener) Open(ctx context.Context, t Target, creds *router.Credentials) (router.Driver, error) {
	addr := net.JoinHostPort(t.Address, strconv.Itoa(int(t.Port)))
	switch t.Driver {
	case "gobgp":
		return gobgp.New(ctx, gobgp.Options{
			Address: addr, RouteServer: t.RouteServer,
			Passive: o.Options.GoBGPPassive, ConnectRetry: o.Options.GoBGPConnectRetry,
			Interceptors: o.Options.GoBGPInterceptors,
		})
	default:
		return nil, fmt.Errorf("%w: %s", ErrUnsupported, t.Driver)
	}
}
