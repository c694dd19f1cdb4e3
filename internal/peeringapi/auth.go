package peeringapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/coreos/go-oidc/v3/oidc"
)

// PeeringDB network permissions in the "networks" claim: django-grainy's
// bits (PERM_READ 0x01, PERM_WRITE/UPDATE 0x02, PERM_CREATE 0x04,
// PERM_DELETE 0x08).
const (
	PermRead   = 0x01
	PermWrite  = 0x02
	PermCreate = 0x04
)

// Network is one entry of PeeringDB's "networks" claim (scope networks):
// peeringdb/peeringdb mainsite/oauth2/claims.py, class Networks, returns
// id, name, asn and the user's perms on the network.
type Network struct {
	ID    int64  `json:"id"`
	Name  string `json:"name"`
	ASN   int64  `json:"asn"`
	Perms int    `json:"perms"`
}

// Caller is an authenticated client.
type Caller struct {
	Issuer   string
	Subject  string
	Networks []Network
}

// Key identifies the caller for rate limiting.
func (c *Caller) Key() string { return c.Issuer + "\x00" + c.Subject }

// MayRead: the token lets the caller read the ASN's sessions.
func (c *Caller) MayRead(asn int64) bool { return c.may(asn, PermRead|PermWrite|PermCreate) }

// MayWrite: the token lets the caller request or withdraw sessions for asn.
func (c *Caller) MayWrite(asn int64) bool { return c.may(asn, PermWrite|PermCreate) }

func (c *Caller) may(asn int64, bits int) bool {
	return slices.ContainsFunc(c.Networks, func(n Network) bool { return n.ASN == asn && n.Perms&bits != 0 })
}

// ASNs the token names, for messages.
func (c *Caller) ASNs() []int64 {
	var out []int64
	for _, n := range c.Networks {
		out = append(out, n.ASN)
	}
	return out
}

// Verifier checks a bearer token.
type Verifier interface {
	Verify(ctx context.Context, raw string) (*Caller, error)
}

// OIDCVerifier verifies tokens signed by an OIDC issuer (PeeringDB's in
// production): signature against the issuer's JWKS, iss, aud, exp.
// Discovery happens on first use and is retried on the next request
// when the issuer is unreachable, so the manager starts without it.
type OIDCVerifier struct {
	Issuer   string
	Audience string
	// Client for discovery and the JWKS; nil is http.DefaultClient.
	Client *http.Client

	mu sync.Mutex
	v  *oidc.IDTokenVerifier
}

// errNotReady: the issuer has not been reached yet.
var errNotReady = errors.New("the token issuer could not be reached")

func (o *OIDCVerifier) verifier(ctx context.Context) (*oidc.IDTokenVerifier, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.v != nil {
		return o.v, nil
	}
	if o.Client != nil {
		ctx = oidc.ClientContext(ctx, o.Client)
	}
	// The provider keeps ctx's client for the JWKS; not ctx's deadline.
	p, err := oidc.NewProvider(context.WithoutCancel(ctx), o.Issuer)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errNotReady, err)
	}
	o.v = p.Verifier(&oidc.Config{ClientID: o.Audience})
	return o.v, nil
}

// Verify checks raw and returns who it names.
func (o *OIDCVerifier) Verify(ctx context.Context, raw string) (*Caller, error) {
	v, err := o.verifier(ctx)
	if err != nil {
		return nil, err
	}
	tok, err := v.Verify(ctx, raw)
	if err != nil {
		return nil, err
	}
	var claims struct {
		Networks []Network `json:"networks"`
	}
	if err := tok.Claims(&claims); err != nil {
		return nil, fmt.Errorf("the token's networks claim is malformed: %v", err)
	}
	return &Caller{Issuer: tok.Issuer, Subject: tok.Subject, Networks: claims.Networks}, nil
}

// bearer extracts the token of an Authorization header (RFC 6750 §2.1).
func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" || len(tok) > maxTokenBytes {
		return "", false
	}
	return strings.TrimSpace(tok), true
}

// maxTokenBytes bounds what is handed to the JWT parser.
const maxTokenBytes = 16 << 10
