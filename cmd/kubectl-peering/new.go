package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	k8svalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
	"github.com/peering-operator/peering-operator/internal/irr"
	"github.com/peering-operator/peering-operator/internal/peeringdb"
	"github.com/peering-operator/peering-operator/internal/policy"
	"github.com/peering-operator/peering-operator/internal/validation"
)

type newOptions struct {
	kube      *kubeFlags
	pdb       pdbFlags
	asn       string
	ixPort    string
	ixID      int
	output    string // -o: only yaml; a path there gets an error naming --output-file
	file      string
	overwrite bool
	// routeServers: write the requests for the IX's route servers.
	routeServers bool
}

func newNewCmd(s genericiooptions.IOStreams, k *kubeFlags) *cobra.Command {
	o := newOptions{kube: k}
	cmd := &cobra.Command{
		Use:   "new (--asn N | --route-servers) --ix-port NAME",
		Short: "Write a ready PeeringRequest for a network, pre-filled from PeeringDB",
		Long: `Look the network up in PeeringDB and write a PeeringRequest for it on one of
our IXPorts, ready to commit to the GitOps repository:

  - name as<ASN>-<ixport>, peerASN, ixPortRef;
  - addresses: every address PeeringDB lists for the network on that IX;
  - description: the network's PeeringDB name, reduced to plain ASCII without
    quotes or shell characters;
  - comments with its peering policy, AS-SET, announced prefix counts and the
    max-prefix limits the operator will configure (from the IXPort's
    peerDefaults).

The AS-SET is only a comment: the operator reads it from PeeringDB, so the
filter follows the peer's changes. Uncomment spec.irrASSet only to override it.

With --route-servers instead of --asn it writes one request per route server
of the IX (PeeringDB: the IX LAN's rs_asn, and every network at the IX whose
type is "Route Server"), each with spec.routeServer: true: no first-AS check,
and an import filter of any non-bogon prefix rather than the route server's
AS-SET. The documents are separated by "---".

-n NAMESPACE writes metadata.namespace; without it the request has none (the
GitOps tool decides). The IXPort is read from the cluster. Without a cluster,
give its PeeringDB IX id with --ix-id (the limits then use the operator's
default headroom).

Nothing is written when the network has no port on that IX in PeeringDB, when
PeeringDB does not know the AS, or when the request could never work (the peer
refuses route servers and the port is a route server).`,
		Example: `  kubectl peering new --asn 8763 --ix-port decix-fra
  kubectl peering new --asn 13335 --ix-port decix-fra --output-file peers/decix-fra/13335.yaml
  kubectl peering new --asn 13335 --ix-port decix-fra --ix-id 31 --offline
  kubectl peering new --route-servers --ix-port decix-fra --output-file peers/decix-fra/route-servers.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd.Context(), s)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.asn, "asn", "", "AS number of the network to peer with (13335 or AS13335)")
	f.StringVar(&o.ixPort, "ix-port", "", "name of our IXPort to peer on (kubectl get ixports)")
	f.IntVar(&o.ixID, "ix-id", 0, "PeeringDB id of the IXPort's IX; skips reading the IXPort from the cluster")
	f.StringVar(&o.file, "output-file", "", "write the YAML to this file instead of standard output")
	addOutputFlag(cmd, &o.output, "output format: yaml, the request with its comments (to write a file: --output-file)", "yaml")
	_ = cmd.RegisterFlagCompletionFunc("ix-port", k.completeIXPorts)
	f.BoolVar(&o.overwrite, "overwrite", false, "replace the --output-file if it exists")
	f.BoolVar(&o.routeServers, "route-servers", false, "write the requests for the IX's route servers (from PeeringDB) instead of one --asn")
	cmd.MarkFlagsMutuallyExclusive("asn", "route-servers")
	cmd.MarkFlagsOneRequired("asn", "route-servers")
	_ = cmd.MarkFlagRequired("ix-port")
	o.pdb.add(f)
	return cmd
}

// portInfo is what a request inherits from its IXPort and Router.
type portInfo struct {
	name        string
	ixID        int
	defaults    policy.Defaults
	fromPort    bool // defaults read from the IXPort, not assumed
	routeServer bool
	routerKnown bool
	localASN    uint32
}

func (o *newOptions) run(ctx context.Context, s genericiooptions.IOStreams) error {
	if ctx == nil {
		ctx = context.Background()
	}
	var asn uint32
	if !o.routeServers {
		a, err := parseASN(o.asn)
		if err != nil {
			return fmt.Errorf("--asn: %w", err)
		}
		asn = a
	}
	if errs := k8svalidation.IsDNS1123Subdomain(o.ixPort); len(errs) > 0 {
		return fmt.Errorf("--ix-port %q is not an object name: %s", o.ixPort, strings.Join(errs, "; "))
	}
	if err := checkOutput(o.output, "yaml"); err != nil {
		return err
	}
	if o.file != "" && !o.overwrite {
		if _, err := os.Stat(o.file); err == nil {
			return fmt.Errorf("%s exists; pass --overwrite to replace it", o.file)
		}
	}

	port := portInfo{name: o.ixPort, ixID: o.ixID, defaults: policy.DefaultMaxPrefix}
	var kc client.Client
	var err error
	if o.ixID <= 0 {
		if kc, err = o.kube.client(); err != nil {
			return fmt.Errorf("%w (without a cluster, give the IX with --ix-id)", err)
		}
		if port, err = readPort(ctx, kc, o.ixPort); err != nil {
			return err
		}
	}
	src, err := o.pdb.open(s.ErrOut)
	if err != nil {
		return err
	}
	var out []byte
	if o.routeServers {
		if out, err = o.routeServerRequests(ctx, s, src, port, kc); err != nil {
			return err
		}
	} else if out, err = o.request(ctx, s, src, port, kc, asn, false); err != nil {
		return err
	}
	if o.file == "" {
		_, err := s.Out.Write(out)
		return err
	}
	if err := os.MkdirAll(filepath.Dir(o.file), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(o.file, out, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(s.ErrOut, "wrote %s\n", o.file)
	return nil
}

// request checks one network against PeeringDB and renders its request;
// rs marks it as the IX's route server.
func (o *newOptions) request(ctx context.Context, s genericiooptions.IOStreams, src *pdbSource, port portInfo, kc client.Client, asn uint32, rs bool) ([]byte, error) {
	if port.localASN == asn {
		return nil, fmt.Errorf("AS%d is our own AS (localASN of the IXPort's Router); no request written", asn)
	}

	if err := src.ensure(ctx, port.ixID, asn); err != nil {
		return nil, fmt.Errorf("cannot look AS%d up in PeeringDB: %w", asn, err)
	}
	v := validation.ValidateRequest(src.cache, validation.Request{IXID: port.ixID, PeerASN: asn, RouteServer: port.routeServer})
	if v.Final() || !v.PeerFound {
		hint := ""
		if v.Reason() == peeringv1.ReasonNotAtIX && kc != nil {
			hint = fmt.Sprintf(" (kubectl peering candidates --ix-port %s lists the networks that are)", o.ixPort)
		}
		return nil, fmt.Errorf("no request written: %s%s", v.Message(), hint)
	}
	for _, f := range v.Failures {
		// Held, not final: the request is valid but waits (policy No, port
		// down, no address yet). Say so; the file is still useful.
		fmt.Fprintf(s.ErrOut, "warning: %s: %s\n", f.Reason, f.Message)
	}
	if port.fromPort && !port.routerKnown {
		fmt.Fprintf(s.ErrOut, "warning: the IXPort's Router does not exist; the route-server checks were not run\n")
	}
	if kc != nil {
		warnExisting(ctx, kc, s.ErrOut, asn, o.ixPort)
	}

	return renderNew(newRequest{Name: requestName(asn, o.ixPort), Namespace: o.kube.namespace(), Port: port, ASN: asn, V: v, RouteServer: rs}), nil
}

// routeServerRequests renders a request for each route server of the IX:
// the IX LAN's rs_asn and every network at the IX whose PeeringDB type is
// "Route Server" (an IX with several route-server ASNs lists them so).
func (o *newOptions) routeServerRequests(ctx context.Context, s genericiooptions.IOStreams, src *pdbSource, port portInfo, kc client.Client) ([]byte, error) {
	if port.routeServer {
		return nil, fmt.Errorf("IXPort %s is on our route server: it does not peer with the IX's route servers", port.name)
	}
	if err := src.ensure(ctx, port.ixID); err != nil {
		return nil, fmt.Errorf("cannot read IX %d from PeeringDB: %w", port.ixID, err)
	}
	rs := map[uint32]bool{}
	for _, l := range src.cache.IXLANs(port.ixID) {
		if l.RSASN != 0 {
			rs[l.RSASN] = true
		}
	}
	for _, n := range src.cache.NetIXLANsOfIX(port.ixID) {
		if net, ok := src.cache.Network(n.ASN); ok && isRouteServerType(net) {
			rs[n.ASN] = true
		}
	}
	if len(rs) == 0 {
		return nil, fmt.Errorf("PeeringDB names no route server for IX %d (no rs_asn on its LANs, no network of type Route Server at it); write the request with --asn", port.ixID)
	}
	var out [][]byte
	for _, asn := range slices.Sorted(maps.Keys(rs)) {
		doc, err := o.request(ctx, s, src, port, kc, asn, true)
		if err != nil {
			fmt.Fprintf(s.ErrOut, "warning: route server AS%d: %v\n", asn, err)
			continue
		}
		out = append(out, doc)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no request written for the route servers of IX %d", port.ixID)
	}
	return bytes.Join(out, []byte("---\n")), nil
}

// isRouteServerType: PeeringDB types the network as a route server.
func isRouteServerType(n peeringdb.Network) bool {
	return n.InfoType == "Route Server" || slices.Contains(n.InfoTypes, "Route Server")
}

// requestName is the name `kubectl peering approve` expects: as<ASN>-<port>.
func requestName(asn uint32, port string) string {
	return "as" + strconv.FormatUint(uint64(asn), 10) + "-" + port
}

// readPort reads an IXPort and its Router: the IX, the limit defaults, and
// whether sessions go to a route server.
func readPort(ctx context.Context, c client.Client, name string) (portInfo, error) {
	p := &peeringv1.IXPort{}
	if err := c.Get(ctx, client.ObjectKey{Name: name}, p); err != nil {
		if apierrors.IsNotFound(err) {
			return portInfo{}, fmt.Errorf("IXPort %q not found in the cluster (kubectl get ixports lists them)", name)
		}
		return portInfo{}, fmt.Errorf("cannot read IXPort %q: %w", name, kubeErr(err))
	}
	info := portInfo{name: name, ixID: int(p.Spec.IX.PeeringDBID), defaults: maxPrefixDefaults(p.Spec.PeerDefaults.MaxPrefixes), fromPort: true}
	r := &peeringv1.Router{}
	switch err := c.Get(ctx, client.ObjectKey{Name: p.Spec.RouterRef.Name}, r); {
	case err == nil:
		info.routerKnown, info.routeServer, info.localASN = true, r.Spec.RouteServer, uint32(r.Spec.LocalASN)
	case !apierrors.IsNotFound(err):
		return portInfo{}, fmt.Errorf("cannot read Router %q of IXPort %q: %w", p.Spec.RouterRef.Name, name, kubeErr(err))
	}
	return info, nil
}

// maxPrefixDefaults is the IXPort's max-prefix settings, unset ones
// defaulted as the CRD does.
func maxPrefixDefaults(m peeringv1.MaxPrefixDefaults) policy.Defaults {
	return policy.Defaults{Absolute: m.AbsoluteHeadroom, RelativePercent: m.RelativeHeadroomPercent,
		Unknown4: m.IPv4Unknown, Unknown6: m.IPv6Unknown}.OrDefault()
}

// warnExisting says when the cluster already has a request for the peer on
// that port: a second one would be a duplicate.
func warnExisting(ctx context.Context, c client.Client, w io.Writer, asn uint32, port string) {
	var l peeringv1.PeeringRequestList
	if err := c.List(ctx, &l); err != nil {
		return // a hint only; the user may not be allowed to list
	}
	for _, pr := range l.Items {
		if uint32(pr.Spec.PeerASN) == asn && pr.Spec.IXPortRef.Name == port {
			fmt.Fprintf(w, "warning: the cluster already has a PeeringRequest for AS%d on %s: %s/%s\n", asn, port, pr.Namespace, pr.Name)
		}
	}
}

type newRequest struct {
	Name, Namespace string
	Port            portInfo
	ASN             uint32
	V               validation.Result
	// RouteServer: the network is the IX's route server.
	RouteServer bool
}

// renderNew writes the request by hand rather than through a YAML encoder:
// field order and comments matter to the people reviewing the pull request.
// Every string from PeeringDB is passed through printable or
// safeDescription, so none can break out of a comment or a scalar.
func renderNew(r newRequest) []byte {
	var b bytes.Buffer
	p := r.V.Peer
	name := printable(p.Name)
	ix := fmt.Sprintf("%s (PeeringDB ix %d)", printable(r.V.IXName), r.V.IXID)
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }

	w("# AS%d %s at %s, from PeeringDB (kubectl peering new).\n", r.ASN, name, ix)
	policyText := p.PolicyGeneral
	if policyText == "" {
		policyText = "not stated"
	}
	w("# Peering policy: %s\n", printable(policyText))
	sets, bad, corrupt := irr.ParseSetList(p.IRRASSet)
	switch {
	case r.RouteServer:
		w("# AS%d is a route server of this IX (PeeringDB): it relays its members' routes\n", r.ASN)
		w("#   without its own AS first, so the session has no first-AS check, and the\n")
		w("#   filter accepts any non-bogon prefix (/8-/24, /16-/48), not its AS-SET.\n")
		if len(sets) > 0 {
			w("#   Its AS-SET in PeeringDB: %s; set spec.irrASSet to filter on an AS-SET instead.\n", strings.Join(sets, " "))
		}
		sets = nil
	case len(sets) > 0:
		w("# AS-SET in PeeringDB: %s\n", strings.Join(sets, " "))
		w("#   The operator builds the prefix filter from it; spec.irrASSet only overrides it.\n")
	default:
		w("# AS-SET in PeeringDB: none; the filter will hold what AS%d originates.\n", r.ASN)
	}
	if len(bad) > 0 {
		w("#   Ignored in PeeringDB's irr_as_set (not AS-SET or ASN names): %s\n", printable(strings.Join(bad, " ")))
	}
	if corrupt != nil {
		w("#   PeeringDB's irr_as_set is ignored: %s.\n", printable(corrupt.Error()))
	}
	w("# Prefixes announced (PeeringDB): IPv4 %s, IPv6 %s\n", countText(p.InfoPrefixes4), countText(p.InfoPrefixes6))
	d := r.Port.defaults
	l4 := policy.MaxPrefix(p.InfoPrefixes4, 4, d, nil)
	l6 := policy.MaxPrefix(p.InfoPrefixes6, 6, d, nil)
	w("# Max-prefix limits the operator will set per session: IPv4 %d, IPv6 %d\n", l4, l6)
	w("#   = ceil((PeeringDB count + %d) * %s), or %d (IPv4) / %d (IPv6) without a count,\n",
		d.Absolute, factor(d.RelativePercent), d.Unknown4, d.Unknown6)
	if r.Port.fromPort {
		w("#   from IXPort %s's peerDefaults; set spec.maxPrefixes to override.\n", r.Port.name)
	} else {
		w("#   the operator's defaults (--ix-id: the IXPort was not read); set spec.maxPrefixes to override.\n")
	}
	if p.NeverViaRouteServers {
		w("# The network does not peer via route servers (PeeringDB).\n")
	}
	w("apiVersion: %s\n", peeringv1.GroupVersion.String())
	w("kind: PeeringRequest\n")
	w("metadata:\n")
	w("  name: %s\n", r.Name)
	if r.Namespace != "" {
		w("  namespace: %s\n", r.Namespace)
	}
	w("spec:\n")
	w("  peerASN: %d\n", r.ASN)
	w("  ixPortRef:\n")
	w("    name: %s\n", r.Port.name)
	if len(r.V.Sessions) > 0 {
		w("  # Every address PeeringDB lists for AS%d on this IX.\n", r.ASN)
		w("  addresses:\n")
		for _, s := range r.V.Sessions {
			w("  - %s # %s\n", s.Address, sessionNote(s))
		}
	} else {
		w("  # PeeringDB lists no address for AS%d on this IX yet: add them here,\n", r.ASN)
		w("  # or leave this out to follow PeeringDB.\n")
		w("  # addresses: []\n")
	}
	desc := safeDescription(p.Name)
	if desc == "" {
		desc = fmt.Sprintf("AS%d", r.ASN)
	}
	w("  description: %q\n", desc)
	if r.RouteServer {
		w("  routeServer: true\n")
	}
	if len(sets) > 0 {
		w("  # irrASSet: %s\n", strings.Join(sets, " "))
	}
	return b.Bytes()
}

func countText(p *int64) string {
	if p == nil {
		return "unknown"
	}
	return strconv.FormatInt(*p, 10)
}

// factor prints 1 + pct/100 exactly: 15 → 1.15.
func factor(pct int64) string {
	return strconv.FormatFloat(1+float64(pct)/100, 'f', -1, 64)
}

func sessionNote(s validation.Session) string {
	parts := []string{"IPv4"}
	if s.Address.Is6() {
		parts[0] = "IPv6"
	}
	parts = append(parts, speed(s.Speed))
	if s.IsRSPeer {
		parts = append(parts, "route-server peer")
	}
	if !s.Operational {
		parts = append(parts, "NOT operational in PeeringDB")
	}
	return strings.Join(parts, ", ")
}
