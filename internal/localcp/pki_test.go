package localcp

import (
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLoadOrCreatePKIReusesCredentials(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	first, err := loadOrCreatePKI(dir)
	require.NoError(t, err)
	second, err := loadOrCreatePKI(dir)
	require.NoError(t, err)

	for name, pair := range map[string][2]keyPair{
		"ca":          {first.ca, second.ca},
		"apiserver":   {first.apiserver, second.apiserver},
		"admin":       {first.admin, second.admin},
		"kcm":         {first.kcm, second.kcm},
		"etcd ca":     {first.etcdCA, second.etcdCA},
		"etcd":        {first.etcdServer, second.etcdServer},
		"etcd peer":   {first.etcdPeer, second.etcdPeer},
		"etcd client": {first.etcdClient, second.etcdClient},
	} {
		assert.Equal(t, pair[0].certPEM, pair[1].certPEM, name)
	}

	// The serving certificate must be valid for every name a client may use.
	roots := x509.NewCertPool()
	roots.AddCert(first.ca.cert)
	for _, name := range []string{"127.0.0.1", "::1", "localhost", "kubernetes.default.svc", "10.0.0.1"} {
		_, err := first.apiserver.cert.Verify(x509.VerifyOptions{DNSName: name, Roots: roots})
		assert.NoError(t, err, name)
	}
	admin := first.admin.cert.Subject
	assert.Equal(t, "kargo-admin", admin.CommonName)
	assert.Equal(t, []string{"system:masters"}, admin.Organization)
	assert.Equal(t, "system:kube-controller-manager", first.kcm.cert.Subject.CommonName)

	assertPrivate(t, dir)
}

// assertPrivate checks that the pki dir and its subdirectories are 0700 and
// every key in them 0600.
func assertPrivate(t *testing.T, dir string) {
	t.Helper()
	for _, d := range []string{dir, filepath.Join(dir, "etcd")} {
		fi, err := os.Stat(d)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o700), fi.Mode().Perm(), d)
	}
	for _, f := range []string{"ca.key", "apiserver.key", "admin.key", "kube-controller-manager.key", "sa.key",
		"apiserver-etcd-client.key", "etcd/ca.key", "etcd/server.key", "etcd/peer.key"} {
		fi, err := os.Stat(filepath.Join(dir, f))
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), f)
	}
}

// etcd trusts its own CA only: kube-apiserver's etcd client certificate
// verifies against it, and none of the certificates kube-apiserver accepts
// does, so a Kubernetes user's certificate opens nothing in etcd.
func TestEtcdCredentials(t *testing.T) {
	p, err := loadOrCreatePKI(filepath.Join(t.TempDir(), "pki"))
	require.NoError(t, err)
	etcdRoots, clusterRoots := x509.NewCertPool(), x509.NewCertPool()
	etcdRoots.AddCert(p.etcdCA.cert)
	clusterRoots.AddCert(p.ca.cert)
	clientAuth := []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	serverAuth := []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}

	require.NotEqual(t, p.ca.certPEM, p.etcdCA.certPEM)
	for _, name := range []string{"127.0.0.1", "::1", "localhost"} {
		for _, kp := range []keyPair{p.etcdServer, p.etcdPeer} {
			_, err := kp.cert.Verify(x509.VerifyOptions{DNSName: name, Roots: etcdRoots, KeyUsages: serverAuth})
			assert.NoError(t, err, "%s for %s", kp.cert.Subject.CommonName, name)
		}
	}
	// A member dials its peers, and etcd's gRPC gateway dials etcd, with
	// these certificates as clients.
	for _, kp := range []keyPair{p.etcdServer, p.etcdPeer, p.etcdClient} {
		_, err := kp.cert.Verify(x509.VerifyOptions{Roots: etcdRoots, KeyUsages: clientAuth})
		assert.NoError(t, err, kp.cert.Subject.CommonName)
	}
	assert.Equal(t, etcdPeerCN, p.etcdPeer.cert.Subject.CommonName)
	assert.NotEqual(t, etcdPeerCN, p.etcdClient.cert.Subject.CommonName, "kube-apiserver's certificate would open the peer listener")
	_, err = p.etcdClient.cert.Verify(x509.VerifyOptions{Roots: clusterRoots, KeyUsages: clientAuth})
	assert.Error(t, err, "kube-apiserver would accept its etcd client certificate")

	for _, kp := range []keyPair{p.admin, p.kcm, p.apiserver} {
		_, err := kp.cert.Verify(x509.VerifyOptions{Roots: etcdRoots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
		assert.Error(t, err, "etcd would accept %s", kp.cert.Subject.CommonName)
	}
	user, err := issue(p.ca, certSpec{cn: "alice"}, time.Now())
	require.NoError(t, err)
	_, err = user.cert.Verify(x509.VerifyOptions{Roots: etcdRoots, KeyUsages: clientAuth})
	assert.Error(t, err, "etcd would accept a user's certificate")
}

// A data dir written before etcd had credentials gets them on its next
// start, and keeps the cluster credentials that kubeconfig files embed.
func TestLoadOrCreatePKIUpgradesDataDirWithoutEtcdCredentials(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	first, err := loadOrCreatePKI(dir)
	require.NoError(t, err)
	require.NoError(t, os.RemoveAll(filepath.Join(dir, "etcd")))
	for _, f := range []string{"apiserver-etcd-client.crt", "apiserver-etcd-client.key"} {
		require.NoError(t, os.Remove(filepath.Join(dir, f)))
	}
	require.NoError(t, os.Chmod(dir, 0o755))

	second, err := loadOrCreatePKI(dir)
	require.NoError(t, err)
	assert.Equal(t, first.ca.certPEM, second.ca.certPEM)
	assert.Equal(t, first.admin.certPEM, second.admin.certPEM)
	assert.NotEqual(t, first.etcdCA.certPEM, second.etcdCA.certPEM)
	roots := x509.NewCertPool()
	roots.AddCert(second.etcdCA.cert)
	_, err = second.etcdClient.cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	assert.NoError(t, err)
	assertPrivate(t, dir)
}

// Replacing etcd's CA reissues everything it signed, and nothing the cluster
// CA signed.
func TestLoadOrCreatePKIReissuesLeavesOfANewEtcdCA(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	first, err := loadOrCreatePKI(dir)
	require.NoError(t, err)
	require.NoError(t, os.Remove(filepath.Join(dir, "etcd", "ca.key")))

	second, err := loadOrCreatePKI(dir)
	require.NoError(t, err)
	require.NotEqual(t, first.etcdCA.certPEM, second.etcdCA.certPEM)
	for _, kp := range []keyPair{second.etcdServer, second.etcdPeer, second.etcdClient} {
		assert.NoError(t, kp.cert.CheckSignatureFrom(second.etcdCA.cert), kp.cert.Subject.CommonName)
	}
	assert.Equal(t, first.apiserver.certPEM, second.apiserver.certPEM)
	assert.Equal(t, first.kcm.certPEM, second.kcm.certPEM)
}

func TestLoadOrCreatePKIRefusesDamagedCA(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	_, err := loadOrCreatePKI(dir)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "ca.key"), []byte("garbage"), 0o600))

	_, err = loadOrCreatePKI(dir)
	require.ErrorContains(t, err, "delete the pki directory")
}

func TestReusable(t *testing.T) {
	now := time.Now()
	p, err := loadOrCreatePKI(filepath.Join(t.TempDir(), "pki"))
	require.NoError(t, err)
	other, err := newCA("another-ca", now)
	require.NoError(t, err)
	spec := certSpec{cn: "alice", orgs: []string{"devs"}, dns: []string{"localhost"}, ips: []net.IP{net.ParseIP("127.0.0.1")}}

	tests := []struct {
		name   string
		issuer keyPair
		spec   certSpec
		at     time.Time
		want   bool
	}{
		{name: "fresh and matching", issuer: p.ca, spec: spec, at: now, want: true},
		{name: "close to expiry", issuer: p.ca, spec: spec, at: now.Add(leafValidity - renewBefore/2), want: false},
		{name: "signed by another CA", issuer: other, spec: spec, at: now, want: false},
		{name: "another common name", issuer: p.ca, spec: certSpec{cn: "bob", orgs: spec.orgs, dns: spec.dns, ips: spec.ips}, at: now, want: false},
		{name: "a missing address", issuer: p.ca, spec: certSpec{cn: spec.cn, orgs: spec.orgs, dns: spec.dns}, at: now, want: false},
		{name: "another use", issuer: p.ca, spec: certSpec{cn: spec.cn, orgs: spec.orgs, dns: spec.dns, ips: spec.ips, usages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}, at: now, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kp, err := issue(tt.issuer, tt.spec, now)
			require.NoError(t, err)
			assert.Equal(t, tt.want, reusable(kp.cert, p.ca, spec, tt.at))
		})
	}
}
