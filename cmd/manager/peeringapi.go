package main

import (
	"errors"
	"flag"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/peering-operator/peering-operator/internal/peeringapi"
)

// peeringAPIFlags are the Peering API server's settings (issue 16).
type peeringAPIFlags struct {
	addr, namespace, issuer, audience, certDir string
	perMinute                                  float64
}

func bindPeeringAPIFlags(fs *flag.FlagSet) *peeringAPIFlags {
	f := &peeringAPIFlags{}
	fs.StringVar(&f.addr, "peering-api-bind-address", "", "Address to serve the IETF Peering API on over HTTPS (e.g. :8444); empty: off.")
	fs.StringVar(&f.namespace, "peering-api-namespace", "", "Namespace the Peering API creates PeeringRequests in (required with --peering-api-bind-address).")
	fs.StringVar(&f.issuer, "peering-api-oidc-issuer", "", "OIDC issuer whose bearer tokens the Peering API accepts, e.g. PeeringDB's (https://auth.peeringdb.com/).")
	fs.StringVar(&f.audience, "peering-api-oidc-audience", "", "Audience (client id) the tokens must be issued for.")
	fs.StringVar(&f.certDir, "peering-api-cert-dir", "", "Directory with tls.crt and tls.key for the Peering API (reloaded when they change).")
	fs.Float64Var(&f.perMinute, "peering-api-requests-per-minute", peeringapi.DefaultCallerPerMinute, "Requests per minute one caller (token subject) may make.")
	return f
}

// add starts the server in mgr when it is turned on.
func (f *peeringAPIFlags) add(mgr ctrl.Manager) error {
	if f.addr == "" {
		return nil
	}
	if f.namespace == "" || f.issuer == "" || f.audience == "" || f.certDir == "" {
		return errors.New("--peering-api-bind-address needs --peering-api-namespace, --peering-api-oidc-issuer, --peering-api-oidc-audience and --peering-api-cert-dir")
	}
	srv, err := peeringapi.New(peeringapi.Options{Client: mgr.GetClient(), Namespace: f.namespace,
		Verifier: &peeringapi.OIDCVerifier{Issuer: f.issuer, Audience: f.audience},
		Addr:     f.addr, CertDir: f.certDir, CallerPerMinute: f.perMinute,
		Log: ctrl.Log.WithName("peering-api")})
	if err != nil {
		return err
	}
	return mgr.Add(srv)
}
