package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
	"github.com/peering-operator/peering-operator/internal/validation"
)

type validateOptions struct {
	kube    *kubeFlags
	pdb     pdbFlags
	files   []string
	ixPorts []string
	output  string
}

func newValidateCmd(s genericiooptions.IOStreams, k *kubeFlags) *cobra.Command {
	o := validateOptions{kube: k}
	cmd := &cobra.Command{
		Use:   "validate -f DIR|FILE...",
		Short: "Check PeeringRequest files before merge, with the operator's own checks",
		Long: `Check every PeeringRequest in YAML files (several documents per file are fine,
directories are read recursively) the way the API server and the operator
will:

  1. the file: valid YAML, and every rule of the operator's CRDs (built into
     the plugin) checked with the API server's own validation code: known
     fields, types, peerASN 1..4294967295 and not 23456, addresses that are
     IPs, a description a router can take, a well-formed irrASSet, ... with
     the API server's messages; object names; no two requests for the same
     peer on the same IXPort. IXPorts and Routers in the files get the
     schema check too;
  2. PeeringDB, with the operator's code: the IX exists, the AS is a
     network there, has a port on that IX, the addresses are its addresses
     and inside the IX LAN, its policy is not "No", its port is operational,
     it accepts route-server sessions when the IXPort is a route server.

Each request's IXPort (and its Router) is taken from the files checked or
the files given with --ix-ports, else from the cluster.

Prints one line per request (OK) or per problem (error, warning) with file
and line, and exits with status 1 when anything is an error, so a CI job
fails. -o github prints GitHub Actions annotations instead, which show
up on the pull request's lines.

--offline reads PeeringDB only from the cache file and never asks the
cluster: for CI runners without network, with a cache file committed to the
repository or restored from the CI cache.`,
		Example: `  kubectl peering validate -f peers/
  kubectl peering validate -f peers/decix-fra/13335.yaml --ix-ports ixports/
  kubectl peering validate -f peers/ -o github --offline --cache .peeringdb/cache.json.gz`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd.Context(), s)
		},
	}
	f := cmd.Flags()
	f.StringSliceVarP(&o.files, "filename", "f", nil, "files or directories with PeeringRequests (repeatable)")
	f.StringSliceVar(&o.ixPorts, "ix-ports", nil, "files or directories with the IXPorts (and Routers) the requests use")
	addOutputFlag(cmd, &o.output, "output format: text, or github for GitHub Actions annotations", "text", "github")
	_ = cmd.MarkFlagRequired("filename")
	o.pdb.add(f)
	return cmd
}

// request is one PeeringRequest document being validated.
type request struct {
	doc      doc
	name     string // display name: [namespace/]name
	pr       *peeringv1.PeeringRequest
	findings []finding
	result   *validation.Result
	port     *portRef
}

// portRef is an IXPort from a file or the cluster.
type portRef struct {
	info   portInfo
	router string // Router name, for ports read from files (looked up once)
}

func (o *validateOptions) run(ctx context.Context, s genericiooptions.IOStreams) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if err := checkOutput(o.output, "text", "github"); err != nil {
		return err
	}
	files, err := yamlFiles(o.files)
	if err != nil {
		return err
	}
	portFiles, err := yamlFiles(o.ixPorts)
	if err != nil {
		return err
	}
	portFiles = slices.DeleteFunc(portFiles, func(f string) bool { return slices.Contains(files, f) })

	var fileFindings []finding
	var reqs []*request
	ports := map[string]*portRef{}
	routers := map[string]*peeringv1.Router{}
	// The files checked come first: a request file may carry its IXPort.
	for i, file := range append(slices.Clone(files), portFiles...) {
		docs, fs := readDocs(file)
		fileFindings = append(fileFindings, fs...)
		for _, d := range docs {
			apiVersion, kind := str(d.node, "apiVersion"), str(d.node, "kind")
			if !strings.HasPrefix(apiVersion, peeringv1.GroupVersion.Group+"/") {
				continue // Kustomizations, Secrets, ...: not ours to check
			}
			if apiVersion != peeringv1.GroupVersion.String() {
				fileFindings = append(fileFindings, finding{file: d.file, line: lineOf(d.node, d.line, "apiVersion"),
					severity: "error", reason: "InvalidField",
					msg: fmt.Sprintf("apiVersion %q: this version of the plugin knows %s", apiVersion, peeringv1.GroupVersion)})
				continue
			}
			if kind != "PeeringRequest" && i < len(files) {
				// An IXPort or Router in a file checked gets the same
				// schema check as the API server will make.
				fileFindings = append(fileFindings, checkSchema(d, str(d.node, "metadata", "name"))...)
			}
			switch kind {
			case "PeeringRequest":
				if i < len(files) {
					reqs = append(reqs, newRequestDoc(d))
				}
			case "IXPort":
				p := &peeringv1.IXPort{}
				if err := decodeInto(d.node, p, false); err != nil || p.Name == "" {
					fileFindings = append(fileFindings, finding{file: d.file, line: d.line, severity: "error", reason: "InvalidIXPort",
						msg: fmt.Sprintf("IXPort not readable: %v", orMissingName(err))})
					continue
				}
				if _, dup := ports[p.Name]; !dup {
					ports[p.Name] = &portRef{router: p.Spec.RouterRef.Name,
						info: portInfo{name: p.Name, ixID: int(p.Spec.IX.PeeringDBID), fromPort: true,
							defaults: maxPrefixDefaults(p.Spec.PeerDefaults.MaxPrefixes)}}
				}
			case "Router":
				r := &peeringv1.Router{}
				if err := decodeInto(d.node, r, false); err == nil && r.Name != "" {
					routers[r.Name] = r
				}
			}
		}
	}
	if len(reqs) == 0 && len(fileFindings) == 0 {
		return fmt.Errorf("no PeeringRequest found in %s", strings.Join(o.files, ", "))
	}

	checkDuplicates(reqs)
	o.resolvePorts(ctx, reqs, ports, routers)
	if err := o.validatePeeringDB(ctx, s.ErrOut, reqs); err != nil {
		return err
	}
	return report(s.Out, o.output, fileFindings, reqs)
}

func orMissingName(err error) error {
	if err == nil {
		return errors.New("metadata.name is missing")
	}
	return err
}

func newRequestDoc(d doc) *request {
	name := str(d.node, "metadata", "name")
	r := &request{doc: d, name: displayName(d, name)}
	r.pr, r.findings = requestFrom(d, name)
	return r
}

func (r *request) fail(line int, reason, msg string) {
	r.findings = append(r.findings, finding{file: r.doc.file, line: line, request: r.name, severity: "error", reason: reason, msg: msg})
}

func (r *request) warn(line int, reason, msg string) {
	r.findings = append(r.findings, finding{file: r.doc.file, line: line, request: r.name, severity: "warning", reason: reason, msg: msg})
}

func (r *request) hasErrors() bool {
	return slices.ContainsFunc(r.findings, func(f finding) bool { return f.severity == "error" })
}

// checkDuplicates: two requests with one name overwrite each other at
// apply; two for one peer on one IXPort would configure its neighbors
// twice.
func checkDuplicates(reqs []*request) {
	byName := map[string]*request{}
	byPeer := map[string]*request{}
	for _, r := range reqs {
		if r.pr == nil {
			continue
		}
		if o, dup := byName[r.name]; dup {
			r.fail(lineOf(r.doc.node, r.doc.line, "metadata", "name"), "DuplicateRequest",
				fmt.Sprintf("another PeeringRequest has the name %s (%s:%d); the later one would replace it", r.name, o.doc.file, o.doc.line))
		}
		byName[r.name] = r
		key := fmt.Sprintf("%d/%s", r.pr.Spec.PeerASN, r.pr.Spec.IXPortRef.Name)
		if o, dup := byPeer[key]; dup {
			r.fail(lineOf(r.doc.node, r.doc.line, "spec", "peerASN"), "DuplicateRequest",
				fmt.Sprintf("AS%d on IXPort %s is already requested by %s (%s:%d); one request per peer and IXPort",
					r.pr.Spec.PeerASN, r.pr.Spec.IXPortRef.Name, o.name, o.doc.file, o.doc.line))
		}
		byPeer[key] = r
	}
}

// resolvePorts finds each request's IXPort and Router: files first, then
// the cluster (unless --offline).
func (o *validateOptions) resolvePorts(ctx context.Context, reqs []*request, ports map[string]*portRef, routers map[string]*peeringv1.Router) {
	var kc client.Client
	var kerr error
	cluster := func() (client.Client, error) {
		if kc == nil && kerr == nil {
			kc, kerr = o.kube.client()
		}
		return kc, kerr
	}
	for _, r := range reqs {
		if r.pr == nil || r.hasErrors() {
			continue
		}
		name := r.pr.Spec.IXPortRef.Name
		line := lineOf(r.doc.node, r.doc.line, "spec", "ixPortRef", "name")
		p := ports[name]
		var why error
		if p == nil && !o.pdb.offline {
			if c, err := cluster(); err != nil {
				why = err
			} else if info, err := readPort(ctx, c, name); err != nil {
				why = err
			} else {
				p = &portRef{info: info}
				ports[name] = p
			}
		}
		if p == nil {
			msg := fmt.Sprintf("IXPort %q is not in the files", name)
			switch {
			case o.pdb.offline:
				msg += " (--offline does not ask the cluster); pass its file with --ix-ports"
			case why != nil:
				msg += fmt.Sprintf(", and the cluster did not help: %v; pass its file with --ix-ports", why)
			}
			r.fail(line, "IXPortNotFound", msg)
			continue
		}
		if p.router != "" {
			// An IXPort from a file: its Router from the files, else the cluster.
			if rt, ok := routers[p.router]; ok {
				p.info.routerKnown, p.info.routeServer, p.info.localASN = true, rt.Spec.RouteServer, uint32(rt.Spec.LocalASN)
			} else if !o.pdb.offline {
				if c, err := cluster(); err == nil {
					rt := &peeringv1.Router{}
					if c.Get(ctx, client.ObjectKey{Name: p.router}, rt) == nil {
						routers[p.router] = rt
						p.info.routerKnown, p.info.routeServer, p.info.localASN = true, rt.Spec.RouteServer, uint32(rt.Spec.LocalASN)
					}
				}
			}
			p.router = "" // looked up once
		}
		r.port = p
		if !p.info.routerKnown {
			r.warn(line, "RouterNotFound", fmt.Sprintf("the Router of IXPort %q is not in the files or the cluster; the route-server check was skipped", name))
		}
		if p.info.localASN != 0 && uint32(r.pr.Spec.PeerASN) == p.info.localASN {
			r.fail(lineOf(r.doc.node, r.doc.line, "spec", "peerASN"), "OwnASN",
				fmt.Sprintf("AS%d is our own AS (localASN of the Router of IXPort %q)", p.info.localASN, name))
		}
	}
}

// validatePeeringDB loads each IX once and runs the operator's checks.
func (o *validateOptions) validatePeeringDB(ctx context.Context, warn io.Writer, reqs []*request) error {
	byIX := map[int][]*request{}
	var ixs []int
	for _, r := range reqs {
		if r.port == nil || r.hasErrors() {
			continue
		}
		id := r.port.info.ixID
		if _, ok := byIX[id]; !ok {
			ixs = append(ixs, id)
		}
		byIX[id] = append(byIX[id], r)
	}
	if len(ixs) == 0 {
		return nil
	}
	src, err := o.pdb.open(warn)
	if err != nil {
		return err
	}
	for _, id := range ixs {
		var asns []uint32
		for _, r := range byIX[id] {
			asns = append(asns, uint32(r.pr.Spec.PeerASN))
		}
		if err := src.ensure(ctx, id, asns...); err != nil {
			for _, r := range byIX[id] {
				r.fail(lineOf(r.doc.node, r.doc.line, "spec", "ixPortRef"), peeringv1.ReasonPeeringDBUnavailable,
					fmt.Sprintf("cannot check against PeeringDB: %v", err))
			}
			continue
		}
		for _, r := range byIX[id] {
			in := validation.Request{IXID: id, PeerASN: uint32(r.pr.Spec.PeerASN), RouteServer: r.port.info.routeServer}
			for _, a := range r.pr.Spec.Addresses {
				if addr, err := netip.ParseAddr(a); err == nil {
					in.Addresses = append(in.Addresses, addr)
				}
			}
			// The controller's call, with the controller's input.
			res := validation.ValidateRequest(src.cache, in)
			r.result = &res
			for _, f := range res.Failures {
				msg := f.Message
				if o.pdb.offline && f.Reason == peeringv1.ReasonNetworkNotFound {
					// A snapshot knows the networks at its IXs, not every network.
					msg += " (--offline: the cache file knows only networks at its IXs and those looked up online before)"
				}
				r.fail(failureLine(r, f), f.Reason, msg)
			}
			for _, w := range res.Warnings {
				r.warn(r.doc.line, "PeeringDBWarning", w)
			}
		}
	}
	return nil
}

// failureLine points a failure at the field a person has to change.
func failureLine(r *request, f validation.Failure) int {
	n, def := r.doc.node, r.doc.line
	if f.Address.IsValid() {
		if _, v := get(n, "spec", "addresses"); v != nil {
			for _, it := range v.Content {
				if a, err := netip.ParseAddr(it.Value); err == nil && a.Unmap() == f.Address.Unmap() {
					return it.Line
				}
			}
		}
	}
	switch f.Reason {
	case peeringv1.ReasonIXNotFound, peeringv1.ReasonNeverViaRouteServers, peeringv1.ReasonPeeringDBUnavailable:
		return lineOf(n, def, "spec", "ixPortRef", "name")
	case peeringv1.ReasonAddressMismatch, peeringv1.ReasonAddressOutsideLAN:
		return lineOf(n, def, "spec", "addresses")
	}
	return lineOf(n, def, "spec", "peerASN")
}

// report prints the findings and returns an error (exit status 1) when
// any is an error.
func report(w io.Writer, format string, fileFindings []finding, reqs []*request) error {
	var all []finding
	all = append(all, fileFindings...)
	files := map[string]bool{}
	okCount, errReqs := 0, 0
	for _, r := range reqs {
		files[r.doc.file] = true
		all = append(all, r.findings...)
		if r.hasErrors() {
			errReqs++
		} else {
			okCount++
		}
	}
	for _, f := range fileFindings {
		files[f.file] = true
	}
	// In file order, then line order; a request's OK line sits where the
	// request starts.
	type line struct {
		file string
		line int
		text string
	}
	var out []line
	for _, r := range reqs {
		if !r.hasErrors() && r.result != nil {
			out = append(out, line{r.doc.file, r.doc.line, okLine(r)})
		}
	}
	nErr, nWarn := 0, 0
	for _, f := range all {
		if f.severity == "error" {
			nErr++
		} else {
			nWarn++
		}
		out = append(out, line{f.file, f.line, formatFinding(format, f)})
	}
	order := map[string]int{}
	for _, r := range reqs {
		if _, ok := order[r.doc.file]; !ok {
			order[r.doc.file] = len(order)
		}
	}
	for _, f := range fileFindings {
		if _, ok := order[f.file]; !ok {
			order[f.file] = len(order)
		}
	}
	slices.SortStableFunc(out, func(a, b line) int {
		if a.file != b.file {
			return order[a.file] - order[b.file]
		}
		return a.line - b.line
	})
	for _, l := range out {
		fmt.Fprintln(w, l.text)
	}
	fmt.Fprintf(w, "\n%d PeeringRequest(s) in %d file(s): %d OK, %d with errors; %d error(s), %d warning(s)\n",
		len(reqs), len(files), okCount, errReqs, nErr, nWarn)
	if nErr > 0 {
		return fmt.Errorf("validation failed: %d error(s)", nErr)
	}
	return nil
}

func okLine(r *request) string {
	res := r.result
	p := res.Peer
	var addrs []string
	for _, s := range res.Sessions {
		addrs = append(addrs, s.Address.String())
	}
	pol := p.PolicyGeneral
	if pol == "" {
		pol = "not stated"
	}
	return fmt.Sprintf("%s:%d: %s: OK: AS%d %s (policy %s) on %s, %s (ix %d): %d session(s) %s",
		r.doc.file, r.doc.line, r.name, p.ASN, printable(p.Name), printable(pol),
		r.port.info.name, printable(res.IXName), res.IXID, len(addrs), strings.Join(addrs, ", "))
}

func formatFinding(format string, f finding) string {
	who := f.request
	if format == "github" {
		title := f.reason
		if who != "" {
			title = who + ": " + f.reason
		}
		return fmt.Sprintf("::%s file=%s,line=%d,title=%s::%s", f.severity,
			ghProperty(f.file), f.line, ghProperty(title), ghData(f.msg))
	}
	if who != "" {
		who += ": "
	}
	return fmt.Sprintf("%s:%d: %s%s: %s: %s", f.file, f.line, who, f.severity, f.reason, f.msg)
}

// GitHub's workflow-command escaping: data loses %, CR and LF; properties
// also : and , which separate them.
func ghData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

func ghProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}
