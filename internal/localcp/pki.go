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
	"net/http"
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
	file string // path under pki/, without extension
	cn   string
	orgs []string
	dns  []string
	ips  []net.IP
	// usages are the extended key usages; none means client authentication.
	usages []x509.ExtKeyUsage
}

func (s certSpec) extKeyUsages() []x509.ExtKeyUsage {
	if len(s.usages) == 0 {
		return []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	return s.usages
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
//
// There are two CAs. The cluster CA (ca.crt) signs kube-apiserver's serving
// certificate and the client certificates it accepts (the admin's, the
// controller manager's). etcd has a CA of its own (etcd/ca.crt), which signs
// etcd's serving and peer certificates and exactly one client certificate,
// kube-apiserver's (apiserver-etcd-client.crt): etcd trusts only that CA, so
// no certificate kube-apiserver accepts opens etcd, and etcd's peer listener
// further accepts only etcd's own peer certificate.
type pki struct {
	dir        string
	ca         keyPair
	apiserver  keyPair
	admin      keyPair
	kcm        keyPair
	saKeyPath  string
	saPubPath  string
	caCertPath string

	etcdCA     keyPair
	etcdServer keyPair
	etcdPeer   keyPair
	// etcdClient is kube-apiserver's client certificate for etcd; Start's
	// readiness check also uses it.
	etcdClient keyPair
}

// Files of etcd's credentials, as paths relative to the pki dir without
// extension.
const (
	etcdDir        = "etcd"
	etcdCAFile     = etcdDir + "/ca"
	etcdServerFile = etcdDir + "/server"
	etcdPeerFile   = etcdDir + "/peer"
	etcdClientFile = "apiserver-etcd-client"
)

// etcdPeerCN is the common name of etcd's peer certificate, the only one its
// peer listener accepts.
const etcdPeerCN = "kargo-local-etcd-peer"

func (p *pki) path(name string) string { return filepath.Join(p.dir, name) }

// loadOrCreatePKI reuses what a previous run left in dir and creates what is
// missing or about to expire. Reuse is what keeps kubeconfig files that were
// handed out earlier valid across restarts. A data dir from a version without
// etcd's credentials gets them here, on its next start.
func loadOrCreatePKI(dir string) (*pki, error) {
	// Private keys are 0600 in a 0700 directory; an existing directory is
	// tightened too, in case something loosened it.
	for _, d := range []string{dir, filepath.Join(dir, etcdDir)} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("create pki dir: %w", err)
		}
		if err := os.Chmod(d, 0o700); err != nil {
			return nil, fmt.Errorf("restrict pki dir: %w", err)
		}
	}
	p := &pki{
		dir:        dir,
		saKeyPath:  filepath.Join(dir, "sa.key"),
		saPubPath:  filepath.Join(dir, "sa.pub"),
		caCertPath: filepath.Join(dir, "ca.crt"),
	}
	now := time.Now()

	var err error
	if p.ca, err = p.loadOrCreateCA("ca", "kargo-local-ca", now); err != nil {
		return nil, err
	}
	if p.etcdCA, err = p.loadOrCreateCA(etcdCAFile, "kargo-local-etcd-ca", now); err != nil {
		return nil, err
	}
	leaves := []struct {
		spec certSpec
		ca   keyPair
		dst  *keyPair
	}{
		{spec: apiserverSpec(), ca: p.ca, dst: &p.apiserver},
		{spec: certSpec{file: "admin", cn: "kargo-admin", orgs: []string{"system:masters"}}, ca: p.ca, dst: &p.admin},
		{spec: certSpec{file: "kube-controller-manager", cn: "system:kube-controller-manager"}, ca: p.ca, dst: &p.kcm},
		{spec: etcdServerSpec(), ca: p.etcdCA, dst: &p.etcdServer},
		{spec: etcdPeerSpec(), ca: p.etcdCA, dst: &p.etcdPeer},
		{spec: certSpec{file: etcdClientFile, cn: "kube-apiserver-etcd-client"}, ca: p.etcdCA, dst: &p.etcdClient},
	}
	for _, l := range leaves {
		kp, err := p.loadPair(l.spec.file)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		if err != nil || !reusable(kp.cert, l.ca, l.spec, now) {
			if kp, err = issue(l.ca, l.spec, now); err != nil {
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

// loadOrCreateCA returns the CA stored as name, replacing it when it is
// missing or about to expire; the leaves it signed are then reissued,
// because they no longer verify against it.
func (p *pki) loadOrCreateCA(name, cn string, now time.Time) (keyPair, error) {
	ca, err := p.loadPair(name)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return keyPair{}, err
	}
	if err == nil && ca.cert.IsCA && !expiring(ca.cert, now) {
		return ca, nil
	}
	if ca, err = newCA(cn, now); err != nil {
		return keyPair{}, err
	}
	if err := p.storePair(name, ca); err != nil {
		return keyPair{}, err
	}
	return ca, nil
}

// etcdAddresses are the names etcd's serving certificates are valid for: it
// listens on 127.0.0.1 only.
var etcdAddresses = struct {
	dns []string
	ips []net.IP
}{dns: []string{"localhost"}, ips: []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")}}

// etcdServerSpec is etcd's certificate for its client listener. It is also a
// client certificate because etcd's gRPC gateway dials etcd's own gRPC
// server with it.
func etcdServerSpec() certSpec {
	return certSpec{
		file:   etcdServerFile,
		cn:     "kargo-local-etcd",
		dns:    etcdAddresses.dns,
		ips:    etcdAddresses.ips,
		usages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
}

// etcdPeerSpec is etcd's certificate for its peer listener, where a member
// is both server and client.
func etcdPeerSpec() certSpec {
	return certSpec{
		file:   etcdPeerFile,
		cn:     etcdPeerCN,
		dns:    etcdAddresses.dns,
		ips:    etcdAddresses.ips,
		usages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
}

// etcdHTTPClient is an HTTP client that trusts etcd's CA and presents
// kube-apiserver's etcd client certificate.
func (p *pki) etcdHTTPClient() (*http.Client, error) {
	cert, err := tls.X509KeyPair(p.etcdClient.certPEM, p.etcdClient.keyPEM)
	if err != nil {
		return nil, fmt.Errorf("load etcd client certificate: %w", err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(p.etcdCA.cert)
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.TLSClientConfig = &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	return &http.Client{Transport: transport}, nil
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
		usages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
}

func expiring(c *x509.Certificate, now time.Time) bool {
	return now.Add(renewBefore).After(c.NotAfter)
}

// reusable reports whether a stored leaf was signed by ca, still has time
// left and names exactly what spec asks for, for the same uses; a spec that
// changed between versions thus gets a fresh certificate.
func reusable(c *x509.Certificate, ca keyPair, spec certSpec, now time.Time) bool {
	if expiring(c, now) || c.CheckSignatureFrom(ca.cert) != nil {
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
		sameSet(ips, want) &&
		sameUsages(c.ExtKeyUsage, spec.extKeyUsages())
}

func sameUsages(a, b []x509.ExtKeyUsage) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
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

func newCA(cn string, now time.Time) (keyPair, error) {
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
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(caValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	return sign(tmpl, tmpl, key, key)
}

// issue creates a key and a certificate for spec signed by ca.
func issue(ca keyPair, spec certSpec, now time.Time) (keyPair, error) {
	key, err := newKey()
	if err != nil {
		return keyPair{}, err
	}
	serial, err := serialNumber()
	if err != nil {
		return keyPair{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: spec.cn, Organization: spec.orgs},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(leafValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  spec.extKeyUsages(),
		DNSNames:     spec.dns,
		IPAddresses:  spec.ips,
	}
	return sign(tmpl, ca.cert, key, ca.key)
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
