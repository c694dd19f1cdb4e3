// Package oidctest is an OIDC issuer on loopback for tests and make dev:
// discovery, a JWKS and RS256 tokens with PeeringDB's "networks" claim.
package oidctest

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/peering-operator/peering-operator/internal/peeringapi"
)

// Issuer serves discovery and keys over plain HTTP on loopback.
type Issuer struct {
	URL string
	key *rsa.PrivateKey
	srv *http.Server
	ln  net.Listener
}

const keyID = "oidctest"

// Start listens on addr (e.g. 127.0.0.1:0).
func Start(addr string) (*Issuer, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("the test issuer cannot listen on %s: %w", addr, err)
	}
	i := &Issuer{URL: "http://" + ln.Addr().String(), key: key, ln: ln}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, map[string]any{"issuer": i.URL, "jwks_uri": i.URL + "/jwks",
			"authorization_endpoint": i.URL + "/authorize", "token_endpoint": i.URL + "/token",
			"id_token_signing_alg_values_supported": []string{"RS256"},
			"scopes_supported":                      []string{"openid", "profile", "email", "networks"}})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: keyID, Algorithm: "RS256", Use: "sig"}}})
	})
	i.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = i.srv.Serve(ln) }()
	return i, nil
}

// Close stops the server.
func (i *Issuer) Close() error { return i.srv.Close() }

// Token signs a token for subject, valid for ttl from now (negative:
// already expired), with the networks claim.
func (i *Issuer) Token(audience, subject string, networks []peeringapi.Network, ttl time.Duration) (string, error) {
	return i.sign(i.key, audience, subject, networks, ttl)
}

// ForeignToken is signed by a key the issuer does not publish.
func (i *Issuer) ForeignToken(audience, subject string, networks []peeringapi.Network) (string, error) {
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", err
	}
	return i.sign(other, audience, subject, networks, time.Hour)
}

func (i *Issuer) sign(key *rsa.PrivateKey, audience, subject string, networks []peeringapi.Network, ttl time.Duration) (string, error) {
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", keyID))
	if err != nil {
		return "", err
	}
	now := time.Now()
	iat := now
	if ttl < 0 {
		iat = now.Add(2 * ttl)
	}
	claims := jwt.Claims{Issuer: i.URL, Subject: subject, Audience: jwt.Audience{audience},
		IssuedAt: jwt.NewNumericDate(iat), Expiry: jwt.NewNumericDate(now.Add(ttl))}
	if networks == nil {
		networks = []peeringapi.Network{}
	}
	return jwt.Signed(sig).Claims(claims).Claims(map[string]any{"networks": networks}).Serialize()
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
