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
		"ca":        {first.ca, second.ca},
		"apiserver": {first.apiserver, second.apiserver},
		"admin":     {first.admin, second.admin},
		"kcm":       {first.kcm, second.kcm},
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

	for _, f := range []string{"ca.key", "apiserver.key", "admin.key", "kube-controller-manager.key", "sa.key"} {
		fi, err := os.Stat(filepath.Join(dir, f))
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), f)
	}
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
	other, err := newCA(now)
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
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			signer := &pki{ca: tt.issuer}
			kp, err := signer.issue(tt.spec, now)
			require.NoError(t, err)
			assert.Equal(t, tt.want, p.reusable(kp.cert, spec, tt.at))
		})
	}
}
