package localcp

import (
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
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"
)

const (
	caValidity   = 10 * 365 * 24 * time.Hour
	leafValidity = 365 * 24 * time.Hour
	// renewBefore is how close to expiry a stored certificate may get before a
	// start replaces it, so that a control plane started now keeps working for a
	// while.
	renewBefore = 30 * 24 * time.Hour
)

// certSpec describes one leaf certificate: who it names and what it is for.
type certSpec struct {
	file   string // base name under pki/, without extension
	cn     string
	orgs   []string
	dns    []string
	ips    []net.IP
	server bool
}

// keyPair is a certificate with its private key, both also kept as PEM.
type keyPair struct {
	cert    *x509.Certificate
	key     crypto.Signer
	certPEM []byte
	keyPEM  []byte
}

// pki holds the credentials a control plane needs, loaded from or written to
// DataDir/pki.
type pki struct {
	dir        string
	ca         keyPair
	apiserver  keyPair
	admin      keyPair
	kcm        keyPair
	saKeyPath  string
	saPubPath  string
	caCertPath string
}

func (p *pki) path(name string) string { return filepath.Join(p.dir, name) }

// loadOrCreatePKI reuses what a previous run left in dir and creates what is
// missing or about to expire. Reuse is what keeps kubeconfig files that were
// handed out earlier valid across restarts.
func loadOrCreatePKI(dir string) (*pki, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create pki dir: %w", err)
	}
	p := &pki{
		dir:        dir,
		saKeyPath:  filepath.Join(dir, "sa.key"),
		saPubPath:  filepath.Join(dir, "sa.pub"),
		caCertPath: filepath.Join(dir, "ca.crt"),
	}
	now := time.Now()

	ca, err := p.loadPair("ca")
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if err != nil || !ca.cert.IsCA || expiring(ca.cert, now) {
		if ca, err = newCA(now); err != nil {
			return nil, err
		}
		if err := p.storePair("ca", ca); err != nil {
			return nil, err
		}
	}
	p.ca = ca

	leaves := []struct {
		spec certSpec
		dst  *keyPair
	}{
		{spec: apiserverSpec(), dst: &p.apiserver},
		{spec: certSpec{file: "admin", cn: "kargo-admin", orgs: []string{"system:masters"}}, dst: &p.admin},
		{spec: certSpec{file: "kube-controller-manager", cn: "system:kube-controller-manager"}, dst: &p.kcm},
	}
	for _, l := range leaves {
		kp, err := p.loadPair(l.spec.file)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		if err != nil || !p.reusable(kp.cert, l.spec, now) {
			if kp, err = p.issue(l.spec, now); err != nil {
				return nil, err
			}
			if err := p.storePair(l.spec.file, kp); err != nil {
				return nil, err
			}
		}
		*l.dst = kp
	}

	if err := p.ensureServiceAccountKey(); err != nil {
		return nil, err
	}
	return p, nil
}

// serviceCIDR is the Service IP range; its first address is the ClusterIP of
// the "kubernetes" Service, which the serving certificate must name.
const (
	serviceCIDR      = "10.0.0.0/24"
	kubernetesSvcIP  = "10.0.0.1"
	serviceAccountIs = "https://kubernetes.default.svc"
)

func apiserverSpec() certSpec {
	return certSpec{
		file:   "apiserver",
		cn:     "kube-apiserver",
		dns:    []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"},
		ips:    []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1"), net.ParseIP(kubernetesSvcIP)},
		server: true,
	}
}

func expiring(c *x509.Certificate, now time.Time) bool {
	return now.Add(renewBefore).After(c.NotAfter)
}

// reusable reports whether a stored leaf was signed by the current CA, still
// has time left and names exactly what spec asks for; a spec that changed
// between versions thus gets a fresh certificate.
func (p *pki) reusable(c *x509.Certificate, spec certSpec, now time.Time) bool {
	if expiring(c, now) || c.CheckSignatureFrom(p.ca.cert) != nil {
		return false
	}
	ips := make([]string, 0, len(c.IPAddresses))
	for _, ip := range c.IPAddresses {
		ips = append(ips, ip.String())
	}
	want := make([]string, 0, len(spec.ips))
	for _, ip := range spec.ips {
		want = append(want, ip.String())
	}
	return c.Subject.CommonName == spec.cn &&
		sameSet(c.Subject.Organization, spec.orgs) &&
		sameSet(c.DNSNames, spec.dns) &&
		sameSet(ips, want)
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func newKey() (*ecdsa.PrivateKey, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	return k, nil
}

func serialNumber() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("generate serial number: %w", err)
	}
	return n, nil
}

func newCA(now time.Time) (keyPair, error) {
	key, err := newKey()
	if err != nil {
		return keyPair{}, err
	}
	serial, err := serialNumber()
	if err != nil {
		return keyPair{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "kargo-local-ca"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(caValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	return sign(tmpl, tmpl, key, key)
}

// issue creates a key and a certificate for spec signed by the CA.
func (p *pki) issue(spec certSpec, now time.Time) (keyPair, error) {
	key, err := newKey()
	if err != nil {
		return keyPair{}, err
	}
	serial, err := serialNumber()
	if err != nil {
		return keyPair{}, err
	}
	usage := x509.ExtKeyUsageClientAuth
	if spec.server {
		usage = x509.ExtKeyUsageServerAuth
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: spec.cn, Organization: spec.orgs},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(leafValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		DNSNames:     spec.dns,
		IPAddresses:  spec.ips,
	}
	return sign(tmpl, p.ca.cert, key, p.ca.key)
}

func sign(tmpl, parent *x509.Certificate, key *ecdsa.PrivateKey, parentKey crypto.Signer) (keyPair, error) {
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		return keyPair{}, fmt.Errorf("sign certificate for %s: %w", tmpl.Subject.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return keyPair{}, fmt.Errorf("parse certificate for %s: %w", tmpl.Subject.CommonName, err)
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return keyPair{}, err
	}
	return keyPair{
		cert:    cert,
		key:     key,
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyPEM:  keyPEM,
	}, nil
}

func encodeKey(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// loadPair reads name.crt and name.key. It returns an error wrapping
// fs.ErrNotExist when either file is missing, so the caller creates the pair;
// any other problem is reported, because silently replacing a damaged CA would
// invalidate every kubeconfig issued from it.
func (p *pki) loadPair(name string) (keyPair, error) {
	certPEM, err := os.ReadFile(p.path(name + ".crt"))
	if err != nil {
		return keyPair{}, fmt.Errorf("read %s certificate: %w", name, err)
	}
	keyPEM, err := os.ReadFile(p.path(name + ".key"))
	if err != nil {
		return keyPair{}, fmt.Errorf("read %s key: %w", name, err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return keyPair{}, fmt.Errorf("load %s from %s (delete the pki directory to start over with new credentials): %w", name, p.dir, err)
	}
	signer, ok := pair.PrivateKey.(crypto.Signer)
	if !ok {
		return keyPair{}, fmt.Errorf("load %s from %s: key of type %T cannot sign", name, p.dir, pair.PrivateKey)
	}
	return keyPair{cert: pair.Leaf, key: signer, certPEM: certPEM, keyPEM: keyPEM}, nil
}

func (p *pki) storePair(name string, kp keyPair) error {
	if err := writeFileAtomic(p.path(name+".key"), kp.keyPEM); err != nil {
		return fmt.Errorf("write %s key: %w", name, err)
	}
	if err := writeFileAtomic(p.path(name+".crt"), kp.certPEM); err != nil {
		return fmt.Errorf("write %s certificate: %w", name, err)
	}
	return nil
}

// ensureServiceAccountKey creates the key pair that signs service account
// tokens unless it exists; replacing it would invalidate issued tokens.
func (p *pki) ensureServiceAccountKey() error {
	_, errKey := os.Stat(p.saKeyPath)
	_, errPub := os.Stat(p.saPubPath)
	if errKey == nil && errPub == nil {
		return nil
	}
	key, err := newKey()
	if err != nil {
		return err
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return err
	}
	pubDER, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return fmt.Errorf("encode service account public key: %w", err)
	}
	if err := writeFileAtomic(p.saKeyPath, keyPEM); err != nil {
		return fmt.Errorf("write service account key: %w", err)
	}
	if err := writeFileAtomic(p.saPubPath, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})); err != nil {
		return fmt.Errorf("write service account public key: %w", err)
	}
	return nil
}

// writeFileAtomic writes data to path with mode 0600 through a temporary file
// and a rename, so readers never see a partial file and an existing file with
// looser permissions is replaced rather than kept.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
