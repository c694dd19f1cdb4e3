package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/peering-operator/peering-operator/internal/peeringapi"
	"github.com/peering-operator/peering-operator/internal/peeringapi/oidctest"
)

// The Peering API in make dev: a dev OIDC issuer on loopback, a
// self-signed certificate for 127.0.0.1 and a token for AS15169 (at DE-CIX
// in the PeeringDB sample), so the printed curl commands work as they are.
const (
	peeringAPIAddr     = "127.0.0.1:8444"
	peeringAPIAudience = "peering-operator-dev"
	peeringAPIDevASN   = 15169
)

type devPeeringAPI struct {
	issuer           *oidctest.Issuer
	args             []string
	certFile, tokenF string
}

func startPeeringAPI(dir string) (*devPeeringAPI, error) {
	iss, err := oidctest.Start("127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	certDir := filepath.Join(dir, "peering-api")
	if err := os.MkdirAll(certDir, 0o700); err != nil {
		iss.Close()
		return nil, err
	}
	if err := selfSigned(certDir); err != nil {
		iss.Close()
		return nil, fmt.Errorf("failed to make the Peering API's certificate: %w", err)
	}
	tok, err := iss.Token(peeringAPIAudience, "dev-user", []peeringapi.Network{{ID: 1, Name: "Google LLC", ASN: peeringAPIDevASN, Perms: 15}}, 24*time.Hour)
	if err != nil {
		iss.Close()
		return nil, err
	}
	tokenF := filepath.Join(certDir, "token")
	if err := os.WriteFile(tokenF, []byte(tok), 0o600); err != nil {
		iss.Close()
		return nil, err
	}
	return &devPeeringAPI{issuer: iss, certFile: filepath.Join(certDir, "tls.crt"), tokenF: tokenF,
		args: []string{"--peering-api-bind-address=" + peeringAPIAddr, "--peering-api-namespace=default",
			"--peering-api-oidc-issuer=" + iss.URL, "--peering-api-oidc-audience=" + peeringAPIAudience,
			"--peering-api-cert-dir=" + certDir}}, nil
}

// usage is what make dev prints about the API.
func (d *devPeeringAPI) usage() string {
	curl := fmt.Sprintf(`curl -s --cacert %s -H "Authorization: Bearer $(cat %s)"`, d.certFile, d.tokenF)
	return fmt.Sprintf(`
Peering API (draft-ietf-grow-peering-api-01) on https://%[1]s/v0.1, tokens from the dev issuer %[2]s
(%[3]s holds one for AS%[4]d, valid 24h):

  %[5]s 'https://%[1]s/v0.1/locations?asn=%[4]d'
  %[5]s -H 'Content-Type: application/json' https://%[1]s/v0.1/sessions \
    -d '{"sessions":[{"local_asn":%[4]d,"local_ip":"80.81.192.108","peer_asn":64500,"peer_ip":"80.81.192.10","location":{"id":"pdb:ix:31","type":"public"}}]}'
  kubectl get pr as%[4]d-decix-fra-80-81-192-108     # waits for your approval like any other
  %[5]s 'https://%[1]s/v0.1/sessions?asn=%[4]d'
`, peeringAPIAddr, d.issuer.URL, d.tokenF, peeringAPIDevASN, curl)
}

// selfSigned writes tls.crt and tls.key for 127.0.0.1 into dir.
func selfSigned(dir string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "peering-operator make dev"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(30 * 24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "tls.crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "tls.key"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
}
