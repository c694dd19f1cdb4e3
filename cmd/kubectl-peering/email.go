package main

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"maps"
	"net/mail"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
	"github.com/peering-operator/peering-operator/internal/irr"
	"github.com/peering-operator/peering-operator/internal/peeringdb"
	"github.com/peering-operator/peering-operator/internal/policy"
)

type emailOptions struct {
	kube *kubeFlags
	pdb  pdbFlags
	asn  string
}

func newEmailCmd(s genericiooptions.IOStreams, k *kubeFlags) *cobra.Command {
	o := emailOptions{kube: k}
	cmd := &cobra.Command{
		Use:   "email (NAME | --asn N)",
		Short: "Print a ready peering-request e-mail for a PeeringRequest or a candidate",
		Long: `Print the e-mail that asks a network to peer, ready to paste into a mail
client: To and Subject lines, then the body.

  - To: the network's PeeringDB contacts we can see (visible Public, or Users
    with an API key), those with role Policy, else Technical, else NOC;
  - us: our AS (the localASN of the IXPort's Router), our PeeringDB name and
    link, the AS-SET peers should filter on (the IXPort's or Router's
    spec.announce.asSet, else our PeeringDB irr_as_set), our prefix counts
    and policy from PeeringDB;
  - where we meet: each common IX with both sides' addresses (our IXPort's,
    theirs from PeeringDB), and with --asn the facilities we share;
  - the sessions as configured on our side: addresses, the max-prefix limit
    we set for their routes, whether an MD5 password is set (never the
    password), and their state.

NAME is a PeeringRequest (in -n's namespace): its sessions are the ones the
operator pinned or reports, else its spec.addresses, else PeeringDB's. When
the request is WaitingForPeer (our side configured, no session up) the
e-mail says how many days ago we configured ours.

--asn N writes to a candidate (kubectl peering candidates): every IXPort
whose IX it is at, with the limits the operator would set.

Contacts and facilities are read from PeeringDB online; with --offline the
To line says where to look instead.`,
		Example: `  kubectl peering email as13335-decix-fra -n peers
  kubectl peering email --asn 13335`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, a []string) error {
			switch {
			case len(a) == 1 && o.asn != "":
				return fmt.Errorf("give a PeeringRequest NAME or --asn, not both")
			case len(a) == 0 && o.asn == "":
				return fmt.Errorf("give a PeeringRequest NAME (kubectl get pr) or --asn N for a candidate")
			}
			name := ""
			if len(a) == 1 {
				name = a[0]
			}
			return o.run(cmd.Context(), s, name)
		},
		ValidArgsFunction: k.completeRequests,
	}
	cmd.Flags().StringVar(&o.asn, "asn", "", "AS number of a candidate without a PeeringRequest (13335 or AS13335)")
	o.pdb.add(cmd.Flags())
	return cmd
}

// meeting is one IX where both networks are, with both sides' addresses.
type meeting struct {
	ixID   int
	ixName string
	port   string
	ours   []netip.Addr
	theirs []netip.Addr
}

// emailSession is one session as configured (or to be configured).
type emailSession struct {
	ours, theirs netip.Addr
	limit        int64 // 0: none
	state        string
}

// emailData is everything the e-mail says.
type emailData struct {
	us, peer   peeringdb.Network
	usKnown    bool
	ourASN     uint32
	peerASN    uint32
	to         []string
	toNote     string
	asSet      string
	meetings   []meeting
	facilities []string
	sessions   []emailSession
	md5        bool
	shutdown   bool
	request    string // namespace/name, "" for a candidate
	// waitingDays >= 0: WaitingForPeer since our side was configured.
	waitingDays int
	configured  *time.Time
}

func (o *emailOptions) run(ctx context.Context, s genericiooptions.IOStreams, name string) error {
	if ctx == nil {
		ctx = context.Background()
	}
	c, err := o.kube.client()
	if err != nil {
		return err
	}
	src, err := o.pdb.open(s.ErrOut)
	if err != nil {
		return err
	}
	var d *emailData
	if name != "" {
		d, err = o.forRequest(ctx, s, c, src, name)
	} else {
		d, err = o.forCandidate(ctx, s, c, src)
	}
	if err != nil {
		return err
	}
	if d.peer.ID != 0 {
		o.addContacts(ctx, s, src, d)
	} else {
		d.toNote = fmt.Sprintf("(AS%d has no network in PeeringDB: no contact to write to)", d.peerASN)
	}
	_, err = s.Out.Write(d.render())
	return err
}

// forRequest reads a PeeringRequest, its IXPort and Router.
func (o *emailOptions) forRequest(ctx context.Context, s genericiooptions.IOStreams, c client.Client, src *pdbSource, name string) (*emailData, error) {
	ns, err := o.kube.ns()
	if err != nil {
		return nil, err
	}
	pr := &peeringv1.PeeringRequest{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, pr); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("PeeringRequest %s not found in namespace %s (kubectl get pr -n %s; for a network without one, use --asn)", name, ns, ns)
		}
		return nil, fmt.Errorf("cannot read PeeringRequest %s/%s: %w", ns, name, kubeErr(err))
	}
	port, ours, asSet, err := readPortForEmail(ctx, c, pr.Spec.IXPortRef.Name)
	if err != nil {
		return nil, fmt.Errorf("PeeringRequest %s/%s: %w", ns, name, err)
	}
	d := &emailData{ourASN: port.localASN, peerASN: uint32(pr.Spec.PeerASN), request: ns + "/" + name,
		md5: pr.Spec.PasswordSecretRef != nil, shutdown: pr.Spec.Shutdown, waitingDays: -1}
	if err := o.loadNetworks(ctx, s, src, d, port.ixID); err != nil {
		return nil, err
	}
	d.asSet = ourASSet(asSet, d)
	ix, _ := src.cache.IX(port.ixID)
	m := meeting{ixID: port.ixID, ixName: ix.Name, port: port.name, ours: ours}
	for _, p := range src.cache.NetIXLANs(port.ixID, d.peerASN) {
		m.theirs = append(m.theirs, p.Addrs()...)
	}

	// The sessions: pinned, else reported, else asked for, else PeeringDB's.
	states := map[string]string{}
	reported := map[string]int64{}
	for _, ss := range pr.Status.Sessions {
		states[ss.Address] = ss.State
		if ss.Limit != nil {
			reported[ss.Address] = *ss.Limit
		}
	}
	var addrs []string
	limits := map[string]int64{}
	switch {
	case pr.Status.Config != nil && len(pr.Status.Config.Sessions) > 0:
		for _, ps := range pr.Status.Config.Sessions {
			addrs = append(addrs, ps.Address)
			limits[ps.Address] = ps.Limit
		}
	case len(pr.Status.Sessions) > 0:
		for _, ss := range pr.Status.Sessions {
			addrs = append(addrs, ss.Address)
		}
		limits = reported
	case len(pr.Spec.Addresses) > 0:
		addrs = pr.Spec.Addresses
	default:
		for _, a := range m.theirs {
			addrs = append(addrs, a.String())
		}
	}
	var mp peeringv1.MaxPrefixes
	if pr.Spec.MaxPrefixes != nil {
		mp = *pr.Spec.MaxPrefixes
	}
	for _, a := range addrs {
		theirs, err := netip.ParseAddr(a)
		if err != nil {
			return nil, fmt.Errorf("PeeringRequest %s/%s: session address %q is not an address", ns, name, a)
		}
		l, ok := limits[a]
		if !ok {
			l = d.limitFor(theirs, port.defaults, mp)
		}
		d.sessions = append(d.sessions, emailSession{ours: sameFamily(ours, theirs), theirs: theirs, limit: l, state: states[a]})
	}
	if len(m.theirs) == 0 {
		// PeeringDB lists nothing (any more): the request's addresses.
		for _, ss := range d.sessions {
			m.theirs = append(m.theirs, ss.theirs)
		}
	}
	d.meetings = []meeting{m}

	if pr.Status.Applied != nil && pr.Status.Applied.Result == peeringv1.AppliedResultApplied {
		t := pr.Status.Applied.Time.Time
		d.configured = &t
	}
	if cond := waitingForPeer(pr); cond != nil {
		since := cond.LastTransitionTime.Time
		if d.configured != nil {
			since = *d.configured
		}
		d.configured = &since
		d.waitingDays = int(now().Sub(since).Hours() / 24)
	}
	up := 0
	for _, ss := range d.sessions {
		if ss.state == "Established" {
			up++
		}
	}
	if up > 0 && up == len(d.sessions) {
		fmt.Fprintf(s.ErrOut, "warning: every session of %s is Established already\n", d.request)
	}
	return d, nil
}

// waitingForPeer is the condition saying the peer has not configured its
// side: Established, or Ready, which repeats its reason.
func waitingForPeer(pr *peeringv1.PeeringRequest) *metav1.Condition {
	for _, t := range []string{peeringv1.PeeringRequestEstablished, peeringv1.ConditionReady} {
		if c := meta.FindStatusCondition(pr.Status.Conditions, t); c != nil && c.Status == metav1.ConditionFalse && c.Reason == peeringv1.ReasonWaitingForPeer {
			return c
		}
	}
	return nil
}

// forCandidate finds every IXPort whose IX the network is at, and the
// facilities we share with it.
func (o *emailOptions) forCandidate(ctx context.Context, s genericiooptions.IOStreams, c client.Client, src *pdbSource) (*emailData, error) {
	asn, err := parseASN(o.asn)
	if err != nil {
		return nil, fmt.Errorf("--asn: %w", err)
	}
	var ports peeringv1.IXPortList
	if err := c.List(ctx, &ports); err != nil {
		return nil, fmt.Errorf("cannot list IXPorts: %w", kubeErr(err))
	}
	if len(ports.Items) == 0 {
		return nil, fmt.Errorf("no IXPort in the cluster: nowhere to peer with AS%d (kubectl get ixports)", asn)
	}
	// Of two ports at one IX, the one with both families writes the e-mail.
	families := func(p peeringv1.IXPort) int {
		return len(slices.DeleteFunc([]string{p.Spec.IPv4Address, p.Spec.IPv6Address}, func(s string) bool { return s == "" }))
	}
	slices.SortFunc(ports.Items, func(a, b peeringv1.IXPort) int {
		return cmp.Or(cmp.Compare(families(b), families(a)), strings.Compare(a.Name, b.Name))
	})
	d := &emailData{peerASN: asn, waitingDays: -1}
	for i, p := range ports.Items {
		port, ours, asSet, err := readPortForEmail(ctx, c, p.Name)
		if err != nil {
			return nil, err
		}
		if i == 0 {
			d.ourASN = port.localASN
			if err := o.loadNetworks(ctx, s, src, d, port.ixID); err != nil {
				return nil, err
			}
			d.asSet = ourASSet(asSet, d)
		}
		if d.ourASN == asn {
			return nil, fmt.Errorf("AS%d is our own AS (localASN of IXPort %s's Router)", asn, p.Name)
		}
		if slices.ContainsFunc(d.meetings, func(m meeting) bool { return m.ixID == port.ixID }) {
			continue // a second port at the same IX
		}
		if err := src.ensure(ctx, port.ixID); err != nil {
			return nil, fmt.Errorf("cannot read IX %d of IXPort %s from PeeringDB: %w", port.ixID, p.Name, err)
		}
		nix := src.cache.NetIXLANs(port.ixID, asn)
		if len(nix) == 0 {
			continue
		}
		ix, _ := src.cache.IX(port.ixID)
		m := meeting{ixID: port.ixID, ixName: ix.Name, port: p.Name, ours: ours}
		for _, n := range nix {
			for _, a := range n.Addrs() {
				m.theirs = append(m.theirs, a)
				// No session in a family our port has no address in.
				if our := sameFamily(ours, a); our.IsValid() {
					d.sessions = append(d.sessions, emailSession{ours: our, theirs: a, limit: d.limitFor(a, port.defaults, peeringv1.MaxPrefixes{})})
				}
			}
		}
		d.meetings = append(d.meetings, m)
	}
	facs, err := o.sharedFacilityNames(ctx, src, d.ourASN, asn)
	if err != nil {
		fmt.Fprintf(s.ErrOut, "warning: shared facilities left out: %v\n", err)
	}
	d.facilities = facs
	if len(d.meetings) == 0 && len(d.facilities) == 0 {
		return nil, fmt.Errorf("PeeringDB shows AS%d at none of our IXs or facilities (kubectl peering candidates lists the networks that are)", asn)
	}
	reqs, err := requestsByASN(ctx, c)
	if err == nil && len(reqs[asn]) > 0 {
		fmt.Fprintf(s.ErrOut, "warning: the cluster has a PeeringRequest for AS%d already (on %s): kubectl peering email NAME writes about it\n",
			asn, reqs[asn][0].port)
	}
	return d, nil
}

// loadNetworks reads both networks from PeeringDB.
func (o *emailOptions) loadNetworks(ctx context.Context, s genericiooptions.IOStreams, src *pdbSource, d *emailData, ixID int) error {
	if err := src.ensure(ctx, ixID, d.ourASN, d.peerASN); err != nil {
		return fmt.Errorf("cannot read AS%d and AS%d from PeeringDB: %w", d.ourASN, d.peerASN, err)
	}
	d.us, d.usKnown = src.cache.Network(d.ourASN)
	if !d.usKnown {
		fmt.Fprintf(s.ErrOut, "warning: our AS%d has no network in PeeringDB: peers look us up there; add it\n", d.ourASN)
	}
	d.peer, _ = src.cache.Network(d.peerASN)
	return nil
}

// limitFor is the max-prefix limit the operator sets for a session to the
// peer: the request's override, else from the peer's PeeringDB count.
func (d *emailData) limitFor(a netip.Addr, def policy.Defaults, mp peeringv1.MaxPrefixes) int64 {
	if a.Is4() {
		return policy.MaxPrefix(d.peer.InfoPrefixes4, 4, def, mp.IPv4)
	}
	return policy.MaxPrefix(d.peer.InfoPrefixes6, 6, def, mp.IPv6)
}

// readPortForEmail is readPort plus our addresses on the port and the
// AS-SET we announce there (IXPort's, else the Router's).
func readPortForEmail(ctx context.Context, c client.Client, name string) (portInfo, []netip.Addr, string, error) {
	port, err := readPort(ctx, c, name)
	if err != nil {
		return port, nil, "", err
	}
	p := &peeringv1.IXPort{}
	if err := c.Get(ctx, client.ObjectKey{Name: name}, p); err != nil {
		return port, nil, "", fmt.Errorf("cannot read IXPort %q: %w", name, kubeErr(err))
	}
	if !port.routerKnown {
		return port, nil, "", fmt.Errorf("the Router %q of IXPort %s does not exist: our AS is unknown", p.Spec.RouterRef.Name, name)
	}
	var ours []netip.Addr
	for _, s := range []string{p.Spec.IPv4Address, p.Spec.IPv6Address} {
		if pfx, err := netip.ParsePrefix(s); err == nil {
			ours = append(ours, pfx.Addr())
		}
	}
	asSet := ""
	if p.Spec.Announce != nil {
		asSet = p.Spec.Announce.ASSet
	}
	if asSet == "" {
		r := &peeringv1.Router{}
		if err := c.Get(ctx, client.ObjectKey{Name: p.Spec.RouterRef.Name}, r); err == nil && r.Spec.Announce != nil {
			asSet = r.Spec.Announce.ASSet
		}
	}
	return port, ours, asSet, nil
}

// ourASSet: what we announce (spec), else our PeeringDB irr_as_set.
func ourASSet(announce string, d *emailData) string {
	if announce != "" {
		return announce
	}
	sets, _, _ := irr.ParseSetList(d.us.IRRASSet)
	return strings.Join(sets, " ")
}

func sameFamily(ours []netip.Addr, theirs netip.Addr) netip.Addr {
	for _, a := range ours {
		if a.Is4() == theirs.Is4() {
			return a
		}
	}
	return netip.Addr{}
}

// sharedFacilityNames are the facilities where both networks are.
func (o *emailOptions) sharedFacilityNames(ctx context.Context, src *pdbSource, ours, theirs uint32) ([]string, error) {
	nfs, err := src.netFacsOf(ctx, []uint32{ours, theirs})
	if err != nil {
		return nil, err
	}
	at := map[int]map[uint32]bool{}
	for _, nf := range nfs {
		if at[nf.FacID] == nil {
			at[nf.FacID] = map[uint32]bool{}
		}
		at[nf.FacID][nf.LocalASN] = true
	}
	var out []string
	for _, id := range slices.Sorted(maps.Keys(at)) {
		if !at[id][ours] || !at[id][theirs] {
			continue
		}
		i := slices.IndexFunc(nfs, func(nf peeringdb.NetFac) bool { return nf.FacID == id })
		nf := nfs[i]
		out = append(out, fmt.Sprintf("%s, %s %s (https://www.peeringdb.com/fac/%d)", printable(nf.Name), printable(nf.City), printable(nf.Country), id))
	}
	return out, nil
}

// contactRoles are the PeeringDB roles written to, in order of preference.
var contactRoles = []string{"Policy", "Technical", "NOC"}

// addContacts fills To: the visible contacts of the first role that has any.
func (o *emailOptions) addContacts(ctx context.Context, s genericiooptions.IOStreams, src *pdbSource, d *emailData) {
	pocs, err := src.contacts(ctx, d.peer.ID)
	if err != nil {
		fmt.Fprintf(s.ErrOut, "warning: %v\n", err)
		d.toNote = fmt.Sprintf("(contacts not read from PeeringDB: see https://www.peeringdb.com/asn/%d)", d.peerASN)
		return
	}
	slices.SortFunc(pocs, func(a, b peeringdb.POC) int { return a.ID - b.ID })
	for _, role := range contactRoles {
		for _, p := range pocs {
			if p.Role != role || (p.Visible != "Public" && p.Visible != "Users") || p.Status != peeringdb.StatusOK {
				continue
			}
			a, err := mail.ParseAddress(strings.TrimSpace(p.Email))
			if err != nil {
				fmt.Fprintf(s.ErrOut, "warning: PeeringDB contact %d of AS%d (%s): e-mail %q unusable: %v\n", p.ID, d.peerASN, role, printable(p.Email), err)
				continue
			}
			a.Name = strings.TrimSpace(printable(p.Name))
			d.to = append(d.to, a.String())
		}
		if len(d.to) > 0 {
			return
		}
	}
	d.toNote = fmt.Sprintf("(PeeringDB shows us no Policy, Technical or NOC contact of AS%d: see https://www.peeringdb.com/asn/%d)", d.peerASN, d.peerASN)
}

// render writes the e-mail. Every string from PeeringDB goes through
// printable: a control character could end a header line.
func (d *emailData) render() []byte {
	var b bytes.Buffer
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	usName, peerName := networkName(d.us, d.ourASN), networkName(d.peer, d.peerASN)
	var where []string
	for _, m := range d.meetings {
		where = append(where, printable(m.ixName))
	}
	if len(where) == 0 {
		where = append(where, "a private interconnect")
	}
	if len(d.to) > 0 {
		w("To: %s\n", strings.Join(d.to, ", "))
	} else {
		w("To: %s\n", d.toNote)
	}
	w("Subject: Peering request: AS%d %s and AS%d %s at %s\n\n", d.ourASN, usName, d.peerASN, peerName, strings.Join(where, ", "))

	w("Hello %s peering team,\n\n", peerName)
	w("We are %s, AS%d (https://www.peeringdb.com/asn/%d), and would like to peer\n", usName, d.ourASN, d.ourASN)
	w("with you, AS%d, at %s.\n\n", d.peerASN, joinAnd(where))
	switch {
	case d.waitingDays >= 0:
		w("We configured our side %s ago (%s) and the sessions have not come up\n", days(d.waitingDays), d.configured.UTC().Format(time.DateOnly))
		w("yet. Could you configure yours?\n\n")
	case d.configured != nil:
		w("Our side is configured (since %s) and waits for yours.\n\n", d.configured.UTC().Format(time.DateOnly))
	case d.request != "" && !slices.ContainsFunc(d.sessions, func(ss emailSession) bool { return ss.state != "" }):
		w("Once you agree, we configure the sessions below.\n\n")
	}

	if len(d.meetings) > 0 {
		w("Where we meet:\n")
		for _, m := range d.meetings {
			w("  %s (https://www.peeringdb.com/ix/%d)\n", printable(m.ixName), m.ixID)
			t := newTable(&b, "    AS"+strconv.FormatUint(uint64(d.ourASN), 10)+" (us):", addrList(m.ours))
			t.row("    AS"+strconv.FormatUint(uint64(d.peerASN), 10)+" (you):", addrList(m.theirs))
			_ = t.flush()
		}
		w("\n")
	}
	if len(d.facilities) > 0 {
		w("We are both in these facilities (a private interconnect is possible too):\n")
		for _, f := range d.facilities {
			w("  %s\n", f)
		}
		w("\n")
	}

	w("About us:\n")
	t := newTable(&b, "  AS-SET:", orText(printable(d.asSet), fmt.Sprintf("none; filter on AS%d", d.ourASN)))
	t.row("  Prefixes:", fmt.Sprintf("%s IPv4, %s IPv6 (PeeringDB)", countText(d.us.InfoPrefixes4), countText(d.us.InfoPrefixes6)))
	pol := orText(printable(d.us.PolicyGeneral), "not stated")
	if d.us.PolicyURL != "" {
		pol += " (" + printable(d.us.PolicyURL) + ")"
	}
	t.row("  Peering policy:", pol)
	_ = t.flush()
	w("\n")

	if len(d.sessions) > 0 {
		if d.request != "" {
			w("Sessions on our side (our request %s):\n", d.request)
		} else {
			w("Sessions we would configure:\n")
		}
		t := newTable(&b, "  OUR ADDRESS", "YOUR ADDRESS", "OUR MAX-PREFIX FOR YOUR ROUTES", "STATE")
		for _, ss := range d.sessions {
			limit := "none"
			if ss.limit > 0 {
				limit = strconv.FormatInt(ss.limit, 10)
			}
			ours := "-"
			if ss.ours.IsValid() {
				ours = ss.ours.String()
			}
			t.row("  "+ours, ss.theirs.String(), limit, orText(ss.state, "not configured yet"))
		}
		_ = t.flush()
		if d.md5 {
			w("  MD5 password: yes; we send it by another channel, never by e-mail.\n")
		} else {
			w("  MD5 password: none.\n")
		}
		if d.shutdown {
			w("  Our sessions are administratively shut down for now; we enable them when you are ready.\n")
		}
		w("\n")
	}
	w("Best regards,\n")
	w("the peering team of %s (AS%d)\n", usName, d.ourASN)
	return b.Bytes()
}

func networkName(n peeringdb.Network, asn uint32) string {
	if n.Name == "" {
		return fmt.Sprintf("AS%d", asn)
	}
	return printable(n.Name)
}

func addrList(l []netip.Addr) string {
	if len(l) == 0 {
		return "-"
	}
	s := make([]string, len(l))
	for i, a := range l {
		s[i] = a.String()
	}
	return strings.Join(s, ", ")
}

func joinAnd(l []string) string {
	if len(l) <= 1 {
		return strings.Join(l, "")
	}
	return strings.Join(l[:len(l)-1], ", ") + " and " + l[len(l)-1]
}

func days(n int) string {
	if n == 1 {
		return "1 day"
	}
	return fmt.Sprintf("%d days", n)
}

func orText(s, alt string) string {
	if s == "" {
		return alt
	}
	return s
}
