package peeringapi

import (
	"context"
	"fmt"
	"net/netip"
	"sort"

	"sigs.k8s.io/controller-runtime/pkg/client"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
)

// port is one of our IXPorts as the API shows it.
type port struct {
	name     string
	ixID     int64
	localASN int64          // our ASN there (the Router's)
	prefixes []netip.Prefix // our address with the LAN's length, per family
}

func (p port) location() string { return fmt.Sprintf("pdb:ix:%d", p.ixID) }

// ours is our address of addr's family, if any.
func (p port) ours(addr netip.Addr) (netip.Prefix, bool) {
	for _, pf := range p.prefixes {
		if pf.Addr().Is4() == addr.Is4() {
			return pf, true
		}
	}
	return netip.Prefix{}, false
}

// ports lists our IXPorts with an address and a Router, by name.
func (s *Server) ports(ctx context.Context) ([]port, error) {
	var list peeringv1.IXPortList
	if err := s.opts.Client.List(ctx, &list); err != nil {
		return nil, fmt.Errorf("failed to list IXPorts: %w", err)
	}
	var out []port
	for _, ixp := range list.Items {
		rt := &peeringv1.Router{}
		if err := s.opts.Client.Get(ctx, client.ObjectKey{Name: ixp.Spec.RouterRef.Name}, rt); err != nil {
			continue // not servable until its Router exists
		}
		p := port{name: ixp.Name, ixID: ixp.Spec.IX.PeeringDBID, localASN: int64(rt.Spec.LocalASN)}
		for _, a := range []string{ixp.Spec.IPv4Address, ixp.Spec.IPv6Address} {
			if pf, err := netip.ParsePrefix(a); err == nil {
				p.prefixes = append(p.prefixes, pf)
			}
		}
		if len(p.prefixes) > 0 && ixp.DeletionTimestamp.IsZero() {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out, nil
}

// portNamed finds a port by name.
func portNamed(ports []port, name string) (port, bool) {
	for _, p := range ports {
		if p.name == name {
			return p, true
		}
	}
	return port{}, false
}
