package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
	"github.com/peering-operator/peering-operator/internal/peeringapi"
)

// tokenEnv holds the Peering API bearer token when --token-file is not given.
const tokenEnv = "PEERING_API_TOKEN"

type requestOptions struct {
	kube      *kubeFlags
	remote    string
	tokenFile string
	caFile    string
}

func newRequestCmd(s genericiooptions.IOStreams, k *kubeFlags) *cobra.Command {
	o := requestOptions{kube: k}
	cmd := &cobra.Command{
		Use:   "request NAME --remote URL",
		Short: "Request a PeeringRequest's sessions from the peer's Peering API (IETF draft)",
		Long: `Send our side of a PeeringRequest to a peer that serves the IETF Peering API
(draft-ietf-grow-peering-api-01): one session per address of the request, from
our address on the IXPort, at the location pdb:ix:<the IXPort's PeeringDB ix>.
The peer's answer (its request id and each session's state) is recorded in the
request's status.remote and shown by kubectl peering status.

Run it again with the same --remote to read the sessions' state from the peer
(nothing is sent twice). The bearer token (e.g. from PeeringDB's OIDC, for our
ASN) is read from --token-file, else from $` + tokenEnv + `; it is never printed.

This asks the peer to configure its side; our side still needs our own
approval (kubectl peering approve). Recording the answer writes the request's
status: it needs patch on peeringrequests/status (the peering-approver role).`,
		Example: `  kubectl peering request as8763-decix-fra --remote https://peering.example.net/v0.1 --token-file ~/.peeringdb-token
  PEERING_API_TOKEN=... kubectl peering request as8763-decix-fra --remote https://peering.example.net/v0.1`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: k.completeRequests,
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.Context(), s, args[0])
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.remote, "remote", "", "the peer's Peering API URL, e.g. https://peering.example.net/v0.1 (required)")
	f.StringVar(&o.tokenFile, "token-file", "", "file with the bearer token (default: $"+tokenEnv+")")
	f.StringVar(&o.caFile, "remote-ca", "", "PEM file of CAs to trust for the peer's API (default: the system's)")
	_ = cmd.MarkFlagRequired("remote")
	return cmd
}

func (o *requestOptions) token() (string, error) {
	if o.tokenFile != "" {
		b, err := os.ReadFile(o.tokenFile)
		if err != nil {
			return "", fmt.Errorf("cannot read the token: %w", err)
		}
		if t := strings.TrimSpace(string(b)); t != "" {
			return t, nil
		}
		return "", fmt.Errorf("the token file %s is empty", o.tokenFile)
	}
	if t := strings.TrimSpace(os.Getenv(tokenEnv)); t != "" {
		return t, nil
	}
	return "", fmt.Errorf("no bearer token: give --token-file or set $%s", tokenEnv)
}

func (o *requestOptions) httpClient() (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	if o.caFile != "" {
		pem, err := os.ReadFile(o.caFile)
		if err != nil {
			return nil, fmt.Errorf("cannot read --remote-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--remote-ca %s holds no PEM certificate", o.caFile)
		}
		tr.TLSClientConfig.RootCAs = pool
	}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}, nil
}

func (o *requestOptions) run(ctx context.Context, s genericiooptions.IOStreams, name string) error {
	if ctx == nil {
		ctx = context.Background()
	}
	tok, err := o.token()
	if err != nil {
		return err
	}
	hc, err := o.httpClient()
	if err != nil {
		return err
	}
	ns, c, err := o.kube.nsClient()
	if err != nil {
		return err
	}
	pr := &peeringv1.PeeringRequest{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, pr); err != nil {
		if apierrors.IsNotFound(err) {
			return fmt.Errorf("peeringrequest %q not found in namespace %q", name, ns)
		}
		return kubeErr(err)
	}
	port := &peeringv1.IXPort{}
	if err := c.Get(ctx, client.ObjectKey{Name: pr.Spec.IXPortRef.Name}, port); err != nil {
		return fmt.Errorf("IXPort %s of %s: %w", pr.Spec.IXPortRef.Name, name, kubeErr(err))
	}
	rt := &peeringv1.Router{}
	if err := c.Get(ctx, client.ObjectKey{Name: port.Spec.RouterRef.Name}, rt); err != nil {
		return fmt.Errorf("Router %s of IXPort %s: %w", port.Spec.RouterRef.Name, port.Name, kubeErr(err))
	}
	api := &peeringapi.Client{BaseURL: o.remote, Token: tok, HTTP: hc}
	ourASN := int64(rt.Spec.LocalASN)

	var sessions []peeringapi.Session
	var reqID string
	if r := pr.Status.Remote; r != nil && r.URL == o.remote && r.RequestID != "" {
		// Asked before: read the state, send nothing.
		reqID = r.RequestID
		sessions, err = api.ListSessions(ctx, ourASN, reqID)
	} else {
		var want []peeringapi.Session
		want, err = ourSessions(pr, port, ourASN)
		if err != nil {
			return err
		}
		var arr *peeringapi.SessionArray
		if arr, err = api.CreateSessions(ctx, want); err == nil {
			reqID, sessions = arr.RequestID, arr.Sessions
		}
	}
	if err != nil {
		var re *peeringapi.RemoteError
		if errors.As(err, &re) {
			return fmt.Errorf("%s: %w", name, err)
		}
		return err
	}
	before := pr.DeepCopy()
	pr.Status.Remote = &peeringv1.RemoteStatus{URL: o.remote, RequestID: truncate(reqID, 128), Time: metav1.NewTime(now().UTC().Truncate(time.Second))}
	for _, ss := range sessions {
		if len(pr.Status.Remote.Sessions) == 16 {
			break
		}
		pr.Status.Remote.Sessions = append(pr.Status.Remote.Sessions, peeringv1.RemoteSession{
			ID: truncate(ss.SessionID, 128), Address: truncate(ss.PeerIP, 39), State: truncate(ss.Status, 64)})
	}
	if err := c.Status().Patch(ctx, pr, client.MergeFrom(before)); err != nil {
		return fmt.Errorf("the peer answered (request %s) but status.remote of %s could not be written (it needs patch on peeringrequests/status, the peering-approver role): %w", reqID, name, kubeErr(err))
	}
	fmt.Fprintf(s.Out, "%s: request %s at %s\n", name, printable(reqID), o.remote)
	t := newTable(s.Out, "ADDRESS", "STATE", "SESSION ID")
	for _, r := range pr.Status.Remote.Sessions {
		t.row(printable(r.Address), printable(r.State), printable(r.ID))
	}
	return t.flush()
}

// ourSessions are the sessions of pr as the requester (local) sees them:
// our address and ASN, the peer's address and ASN, at the IXPort's IX.
func ourSessions(pr *peeringv1.PeeringRequest, port *peeringv1.IXPort, ourASN int64) ([]peeringapi.Session, error) {
	addrs := slices.Clone(pr.Spec.Addresses)
	if len(addrs) == 0 {
		for _, ss := range pr.Status.Sessions {
			addrs = append(addrs, ss.Address)
		}
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("%s names no addresses and the operator has not listed PeeringDB's yet (status.sessions): wait for it, or set spec.addresses", pr.Name)
	}
	var out []peeringapi.Session
	for _, a := range addrs {
		peer, err := netip.ParseAddr(a)
		if err != nil {
			return nil, fmt.Errorf("%s: address %q: %w", pr.Name, a, err)
		}
		ours := port.Spec.IPv4Address
		if peer.Is6() {
			ours = port.Spec.IPv6Address
		}
		pf, err := netip.ParsePrefix(ours)
		if err != nil {
			return nil, fmt.Errorf("IXPort %s has no %s address for the session with %s", port.Name, map[bool]string{true: "IPv6", false: "IPv4"}[peer.Is6()], peer)
		}
		out = append(out, peeringapi.Session{LocalASN: ourASN, LocalIP: pf.Addr().String(), PeerASN: int64(pr.Spec.PeerASN), PeerIP: peer.String(),
			PeerType: peeringapi.LocationPublic,
			Location: peeringapi.Location{ID: fmt.Sprintf("pdb:ix:%d", port.Spec.IX.PeeringDBID), Type: peeringapi.LocationPublic}})
	}
	return out, nil
}
