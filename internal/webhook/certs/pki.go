package certs

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"slices"
	"time"
)

const (
	// clockSkew backdates NotBefore so that a replica or client whose clock
	// runs slightly behind the issuer's still accepts a fresh certificate.
	clockSkew = time.Minute

	// defaultCommonName names the serving certificate when no DNS name is
	// configured and is the stem of the CA's name.
	defaultCommonName = "kargo-webhooks"

	pemCertificate = "CERTIFICATE"
	pemPrivateKey  = "PRIVATE KEY"
)

// keyPair is a certificate with its private key, both parsed and in the PEM
// form they are stored in.
type keyPair struct {
	cert    *x509.Certificate
	key     crypto.Signer
	certPEM []byte
	keyPEM  []byte
}

// parseKeyPair reads a PEM certificate and the PEM private key that belongs
// to it. The stored bytes are kept as they are so that an unchanged pair is
// written back byte for byte and causes no update.
func parseKeyPair(certPEM, keyPEM []byte) (*keyPair, error) {
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("parse certificate: %w", err)
	}
	signer, ok := pair.PrivateKey.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("private key of type %T cannot sign", pair.PrivateKey)
	}
	return &keyPair{cert: cert, key: signer, certPEM: certPEM, keyPEM: keyPEM}, nil
}

// parseCertificate returns the first certificate in data, or nil when there
// is none that parses.
func parseCertificate(data []byte) *x509.Certificate {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != pemCertificate {
		return nil
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil
	}
	return cert
}

// issue generates a P-256 key and a certificate for it made from template,
// signed by parent or, when parent is nil, self-signed.
func issue(template *x509.Certificate, parent *keyPair) (*keyPair, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	signerCert, signerKey := template, crypto.Signer(key)
	if parent != nil {
		signerCert, signerKey = parent.cert, parent.key
	}
	// template.SerialNumber is left nil: CreateCertificate then picks a
	// random serial as RFC 5280 asks, so replicas never collide.
	der, err := x509.CreateCertificate(rand.Reader, template, signerCert, &key.PublicKey, signerKey)
	if err != nil {
		return nil, fmt.Errorf("create certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse created certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode key: %w", err)
	}
	return &keyPair{
		cert:    cert,
		key:     key,
		certPEM: pem.EncodeToMemory(&pem.Block{Type: pemCertificate, Bytes: der}),
		keyPEM:  pem.EncodeToMemory(&pem.Block{Type: pemPrivateKey, Bytes: keyDER}),
	}, nil
}

// newCA creates a self-signed CA valid for lifetime from now. Its name
// carries the issue time so that an old and a new CA side by side in the
// trust bundle can be told apart.
func newCA(now time.Time, lifetime time.Duration) (*keyPair, error) {
	return issue(&x509.Certificate{
		Subject:               pkix.Name{CommonName: fmt.Sprintf("%s-ca@%d", defaultCommonName, now.Unix())},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              now.Add(lifetime),
		IsCA:                  true,
		BasicConstraintsValid: true,
		// The CA signs serving certificates only, never another CA.
		MaxPathLenZero: true,
		KeyUsage:       x509.KeyUsageCertSign,
	}, nil)
}

// newServing creates a serving certificate for dnsNames and ips, signed by
// ca and valid for lifetime from now.
func newServing(now time.Time, lifetime time.Duration, ca *keyPair, dnsNames []string, ips []net.IP) (*keyPair, error) {
	notAfter := now.Add(lifetime)
	// Clients reject a certificate once its issuer has expired, so claiming a
	// longer validity would only delay the renewal past the point it is needed.
	if notAfter.After(ca.cert.NotAfter) {
		notAfter = ca.cert.NotAfter
	}
	commonName := defaultCommonName
	if len(dnsNames) > 0 {
		commonName = dnsNames[0]
	}
	return issue(&x509.Certificate{
		Subject:               pkix.Name{CommonName: commonName},
		DNSNames:              dnsNames,
		IPAddresses:           ips,
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              notAfter,
		BasicConstraintsValid: true,
		// An ECDSA key signs the TLS handshake, hence DigitalSignature.
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, ca)
}

// due reports whether cert has less than a third of its lifetime left at
// now. Renewing that early leaves time for a failing renewal to be noticed
// and fixed before anything expires.
func due(now time.Time, cert *x509.Certificate) bool {
	lifetime := cert.NotAfter.Sub(cert.NotBefore)
	return cert.NotAfter.Sub(now) < lifetime/3
}

// servingProblem says why serving must be re-issued, or returns "" when it
// may stay: it must be signed by ca, name exactly dnsNames and ips, and not
// be due.
func servingProblem(now time.Time, serving, ca *x509.Certificate, dnsNames []string, ips []net.IP) string {
	switch {
	case !bytes.Equal(serving.RawIssuer, ca.RawSubject) || serving.CheckSignatureFrom(ca) != nil:
		return "not signed by the current CA"
	case !sameSet(serving.DNSNames, dnsNames) || !sameSet(ipStrings(serving.IPAddresses), ipStrings(ips)):
		return "subject alternative names differ from the configured ones"
	case due(now, serving):
		return "less than a third of its lifetime left, expires at " + serving.NotAfter.UTC().Format(time.RFC3339)
	}
	return ""
}

// sameSet reports whether a and b hold the same strings, ignoring order and
// repetition.
func sameSet(a, b []string) bool {
	return slices.Equal(sortedUnique(a), sortedUnique(b))
}

func sortedUnique(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return slices.Compact(s)
}

// ipStrings renders IPs in their canonical text form, so that the 4-byte and
// 16-byte forms of one IPv4 address compare equal.
func ipStrings(ips []net.IP) []string {
	out := make([]string, len(ips))
	for i, ip := range ips {
		out[i] = ip.String()
	}
	return out
}

// errBundleUnreadable reports stored bundle content that is not a list of
// PEM certificates.
var errBundleUnreadable = errors.New("not a list of PEM certificates")

// trustBundle returns the PEM bundle clients should trust: current first,
// then every other CA from the stored bundle and retired (the CA current
// replaced, if any) that has not expired at now, latest expiry first. The
// order is deterministic so that an unchanged set yields identical bytes
// and causes neither a write nor an OnCABundle call. The error reports
// unreadable parts of stored, which are dropped.
func trustBundle(now time.Time, current, retired *x509.Certificate, stored []byte) ([]byte, error) {
	var candidates []*x509.Certificate
	var unreadable error
	rest := stored
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != pemCertificate {
			unreadable = errBundleUnreadable
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			unreadable = errBundleUnreadable
			continue
		}
		candidates = append(candidates, cert)
	}
	if len(bytes.TrimSpace(rest)) > 0 {
		unreadable = errBundleUnreadable
	}
	if retired != nil {
		candidates = append(candidates, retired)
	}

	keep := []*x509.Certificate{current}
	for _, cert := range candidates {
		if !cert.IsCA || !now.Before(cert.NotAfter) || slices.ContainsFunc(keep, cert.Equal) {
			continue
		}
		keep = append(keep, cert)
	}
	slices.SortStableFunc(keep[1:], func(a, b *x509.Certificate) int {
		return b.NotAfter.Compare(a.NotAfter)
	})

	var out []byte
	for _, cert := range keep {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: pemCertificate, Bytes: cert.Raw})...)
	}
	return out, unreadable
}
