package gobgp

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"

	api "github.com/osrg/gobgp/v3/api"
	"google.golang.org/grpc"

	"github.com/peering-operator/peering-operator/internal/router"
)

// filterCheck looks on gobgpd, at every AddPeer, for what must exist
// before the neighbor does: its limit in the request, and its import
// policy (with the sets it names) assigned, in the request for a
// route-server client, in the global import policy for an ordinary
// neighbor, whose export policy must be in the global export policy.
type filterCheck struct {
	api     api.GobgpApiClient
	mu      sync.Mutex
	checked map[string]bool
	errs    []string
}

func (c *filterCheck) intercept(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	if r, ok := req.(*api.AddPeerRequest); ok {
		err := c.check(ctx, r.GetPeer())
		c.mu.Lock()
		c.checked[r.GetPeer().GetConf().GetNeighborAddress()] = true
		if err != nil {
			c.errs = append(c.errs, err.Error())
		}
		c.mu.Unlock()
	}
	return invoker(ctx, method, req, reply, cc, opts...)
}

func (c *filterCheck) check(ctx context.Context, p *api.Peer) error {
	addr := p.GetConf().GetNeighborAddress()
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return err
	}
	id := neighborID(a)
	if len(p.GetAfiSafis()) != 1 || p.AfiSafis[0].GetPrefixLimits().GetMaxPrefixes() == 0 {
		return fmt.Errorf("%s added without its limit: %v", addr, p.GetAfiSafis())
	}
	pols := []string{policyName(id)}
	if p.GetRouteServer().GetRouteServerClient() {
		imp := p.GetApplyPolicy().GetImportPolicy()
		if imp.GetDefaultAction() != api.RouteAction_REJECT || !slices.Equal(assigned(imp), pols) {
			return fmt.Errorf("%s added with import policy %v", addr, imp)
		}
	} else {
		pols = append(pols, exportPolicyName(id))
		as, err := recvAll(c.api.ListPolicyAssignment(ctx, &api.ListPolicyAssignmentRequest{Name: globalRIB}))
		if err != nil {
			return err
		}
		var in []string
		for _, x := range as {
			in = append(in, assigned(x.Assignment)...)
		}
		for _, pn := range pols {
			if !slices.Contains(in, pn) {
				return fmt.Errorf("%s added before %s is in the global policies (%v)", addr, pn, in)
			}
		}
	}
	for _, pn := range pols {
		ps, err := recvAll(c.api.ListPolicy(ctx, &api.ListPolicyRequest{Name: pn}))
		if err != nil || len(ps) != 1 || len(ps[0].Policy.GetStatements()) == 0 {
			return fmt.Errorf("%s added before its policy %s: %v %v", addr, pn, ps, err)
		}
		for _, st := range ps[0].Policy.Statements {
			if s := st.GetConditions().GetPrefixSet().GetName(); s != "" {
				ds, err := recvAll(c.api.ListDefinedSet(ctx, &api.ListDefinedSetRequest{DefinedType: api.DefinedType_PREFIX, Name: s}))
				if err != nil || len(ds) != 1 {
					return fmt.Errorf("%s added before its set %s: %v", addr, s, err)
				}
			}
		}
	}
	return nil
}

// TestParallelAddRollsBack adds twelve neighbors with up to four writes
// in flight (sets, then policies, then neighbors) and fails each write in
// turn, before and after it reaches gobgpd: every AddPeer finds the
// neighbor's filter and limit in place (filterCheck), a failed Apply
// leaves nothing of the driver's behind, even with writes in flight when
// it failed, and the Apply without failures converges (a resync writes
// nothing).
func TestParallelAddRollsBack(t *testing.T) {
	for _, mode := range bothModes {
		t.Run(mode.name, func(t *testing.T) {
			rs := startRS(t)
			f := &faults{}
			c := &filterCheck{api: rs.API, checked: map[string]bool{}}
			mode.o.Interceptors = []grpc.UnaryClientInterceptor{c.intercept, f.intercept}
			mode.o.MaxInFlight = 4
			d := newDriver(t, rs, mode.o)
			var ns []router.Neighbor
			for i := range 12 {
				ns = append(ns, router.Neighbor{
					Address: netip.AddrFrom4([4]byte{127, 0, 3, byte(1 + i)}), PeerASN: uint32(64600 + i),
					Owner: fmt.Sprintf("peering/p%d", i), MaxPrefixes: uint32(10 + i),
					Import:          []router.Entry{exact(fmt.Sprintf("10.%d.0.0/24", i)), upto(fmt.Sprintf("100.%d.0.0/16", i), 16, 24)},
					Export:          []router.Entry{exact("198.51.100.0/24")},
					RejectBogonASNs: i%3 == 0, EnforceFirstAS: i%2 == 0,
				})
			}
			des := desired(ns...)
			ctx := testCtx(t)
			for n := 1; ; n++ {
				for _, applied := range []bool{false, true} {
					f.arm(n, applied)
					_, err := d.Apply(ctx, des)
					f.arm(0, false)
					if err == nil {
						if applied {
							t.Fatalf("write %d: Apply succeeded with the failure armed", n)
						}
						t.Logf("the Apply takes %d writes; each one failed in turn was rolled back", n-1)
						applyNoWrites(t, d, des)
						c.mu.Lock()
						defer c.mu.Unlock()
						if len(c.errs) > 0 {
							t.Fatalf("neighbors added before their filter:\n%s", strings.Join(c.errs, "\n"))
						}
						for _, nb := range ns {
							if !c.checked[nb.Address.String()] {
								t.Errorf("AddPeer of %s was not checked", nb.Address)
							}
						}
						return
					}
					if !strings.Contains(err.Error(), "injected failure") || !strings.Contains(err.Error(), "rolled back") {
						t.Fatalf("write %d: %v", n, err)
					}
					r, err := d.readRunning(ctx)
					if err != nil {
						t.Fatal(err)
					}
					var left []string
					for _, m := range []map[string]*api.DefinedSet{r.prefixSets, r.nbSets, r.asPathSets, r.commSets, r.lcSets} {
						for name := range m {
							left = append(left, name)
						}
					}
					for name := range r.policies {
						left = append(left, name)
					}
					for name := range r.statements {
						left = append(left, name)
					}
					for _, g := range []*api.PolicyAssignment{r.globalImport, r.globalExport} {
						for _, p := range g.GetPolicies() {
							left = append(left, "global "+p.Name)
						}
					}
					if len(r.peers) != 0 || len(left) != 0 {
						t.Fatalf("write %d (applied=%t) failed and left %d neighbors and %v\n(err: %v)", n, applied, len(r.peers), left, err)
					}
				}
			}
		})
	}
}
