package certs

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
)

const (
	testNamespace  = "kargo"
	testSecretName = "kargo-webhooks-cert"
)

var (
	start          = time.Date(2026, time.March, 1, 12, 0, 0, 0, time.UTC)
	inClusterNames = []string{"kargo-webhooks.kargo.svc", "kargo-webhooks.kargo.svc.cluster.local"}
	loopback       = net.ParseIP("127.0.0.1")
	secretsGR      = schema.GroupResource{Resource: "secrets"}
)

// clock is the injected time source; tests move it instead of sleeping.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// cluster is a fake API server that counts the writes made through it and
// lets a test step in before a Create or an Update reaches it.
type cluster struct {
	client  client.Client
	inner   client.WithWatch
	creates atomic.Int32
	updates atomic.Int32
	gets    atomic.Int32

	// Hooks replace the call to the fake API server; they receive it as
	// inner. They are set before Ensure runs.
	onGet    func(ctx context.Context, inner client.WithWatch, key client.ObjectKey, obj client.Object) error
	onCreate func(ctx context.Context, inner client.WithWatch, obj client.Object) error
	onUpdate func(ctx context.Context, inner client.WithWatch, obj client.Object) error
}

func newCluster(t *testing.T) *cluster {
	t.Helper()
	cl := &cluster{inner: fake.NewClientBuilder().Build()}
	cl.client = interceptor.NewClient(cl.inner, interceptor.Funcs{
		Get: func(ctx context.Context, inner client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			cl.gets.Add(1)
			if cl.onGet != nil {
				return cl.onGet(ctx, inner, key, obj)
			}
			return inner.Get(ctx, key, obj, opts...)
		},
		Create: func(ctx context.Context, inner client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			cl.creates.Add(1)
			if cl.onCreate != nil {
				return cl.onCreate(ctx, inner, obj)
			}
			return inner.Create(ctx, obj, opts...)
		},
		Update: func(ctx context.Context, inner client.WithWatch, obj client.Object, opts ...client.UpdateOption) error {
			cl.updates.Add(1)
			if cl.onUpdate != nil {
				return cl.onUpdate(ctx, inner, obj)
			}
			return inner.Update(ctx, obj, opts...)
		},
	})
	return cl
}

func (cl *cluster) writes() int32 {
	return cl.creates.Load() + cl.updates.Load()
}

func (cl *cluster) secret(t *testing.T) *corev1.Secret {
	t.Helper()
	var s corev1.Secret
	require.NoError(t, cl.inner.Get(context.Background(), client.ObjectKey{Namespace: testNamespace, Name: testSecretName}, &s))
	return &s
}

// replica is one controller replica: a Manager and the bundles it
// published.
type replica struct {
	m *Manager

	mu        sync.Mutex
	published [][]byte
	// publishErr, when set, is returned by OnCABundle instead of accepting.
	publishErr error
}

func (r *replica) bundles() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.published
}

func newReplica(c client.Client, clk *clock, mutate ...func(*Options)) *replica {
	r := &replica{}
	opts := Options{
		Client:     c,
		Namespace:  testNamespace,
		SecretName: testSecretName,
		DNSNames:   inClusterNames,
		OnCABundle: func(_ context.Context, bundle []byte) error {
			r.mu.Lock()
			defer r.mu.Unlock()
			if r.publishErr != nil {
				return r.publishErr
			}
			r.published = append(r.published, bundle)
			return nil
		},
		Now: clk.Now,
	}
	for _, f := range mutate {
		f(&opts)
	}
	r.m = New(opts)
	return r
}

func (r *replica) leaf(t *testing.T) *x509.Certificate {
	t.Helper()
	cert, err := r.m.GetCertificate(&tls.ClientHelloInfo{})
	require.NoError(t, err)
	require.NotNil(t, cert.Leaf)
	return cert.Leaf
}

// handshake makes an HTTPS request to a server whose certificate comes from
// m, from a client that trusts only bundle, checks serverName (the IP
// 127.0.0.1 when empty) and believes the time is at.
func handshake(t *testing.T, m *Manager, bundle []byte, serverName string, at time.Time) error {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
	// httptest adds its own certificate to TLS.Certificates, which the server
	// prefers to GetCertificate when the client sends no server name; a
	// per-connection config leaves GetCertificate the only source.
	srv.TLS = &tls.Config{GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
		return &tls.Config{GetCertificate: m.GetCertificate}, nil
	}}
	// Refused handshakes are expected in some tests; they need no log.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	defer srv.Close()

	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(bundle), "bundle holds no certificate")
	transport := &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: pool, ServerName: serverName, Time: func() time.Time { return at }},
		DisableKeepAlives: true,
	}
	defer transport.CloseIdleConnections()
	resp, err := (&http.Client{Transport: transport, Timeout: 10 * time.Second}).Get(srv.URL)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, "ok", string(body))
	return nil
}

func parseCert(t *testing.T, data []byte) *x509.Certificate {
	t.Helper()
	block, _ := pem.Decode(data)
	require.NotNil(t, block, "no PEM data")
	cert, err := x509.ParseCertificate(block.Bytes)
	require.NoError(t, err)
	return cert
}

func parseBundle(t *testing.T, data []byte) []*x509.Certificate {
	t.Helper()
	var out []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		require.NoError(t, err)
		out = append(out, cert)
	}
	require.Empty(t, strings.TrimSpace(string(data)), "bundle has trailing data")
	return out
}

// dueAt returns the moment cert has a third of its lifetime left.
func dueAt(cert *x509.Certificate) time.Time {
	return cert.NotAfter.Add(-cert.NotAfter.Sub(cert.NotBefore) / 3)
}

// logLines captures log output so tests can check what an operator reads.
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) context() context.Context {
	logger := funcr.New(func(prefix, args string) {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.lines = append(l.lines, args)
	}, funcr.Options{Verbosity: 1})
	return ctrl.LoggerInto(context.Background(), logger)
}

func (l *logLines) count(substr string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, line := range l.lines {
		if strings.Contains(line, substr) {
			n++
		}
	}
	return n
}

func TestEnsureCreatesSecretAndServesTLS(t *testing.T) {
	tests := []struct {
		name       string
		dnsNames   []string
		ips        []net.IP
		serverName string
		wrongName  string
		wantCN     string
	}{
		{
			name:       "in cluster",
			dnsNames:   inClusterNames,
			serverName: "kargo-webhooks.kargo.svc.cluster.local",
			wrongName:  "kargo-api.kargo.svc",
			wantCN:     "kargo-webhooks.kargo.svc",
		},
		{
			name:       "local mode by IP",
			dnsNames:   []string{"localhost"},
			ips:        []net.IP{loopback},
			serverName: "",
			wrongName:  "kargo-webhooks.kargo.svc",
			wantCN:     "localhost",
		},
		{
			name:       "IP only",
			ips:        []net.IP{loopback},
			serverName: "",
			wrongName:  "localhost",
			wantCN:     defaultCommonName,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			clk := &clock{t: start}
			cl := newCluster(t)
			r := newReplica(cl.client, clk, func(o *Options) { o.DNSNames, o.IPs = tt.dnsNames, tt.ips })

			_, err := r.m.GetCertificate(&tls.ClientHelloInfo{})
			require.Error(t, err, "no certificate before Ensure")
			require.Nil(t, r.m.CABundle())

			require.NoError(t, r.m.Ensure(ctx))

			s := cl.secret(t)
			require.Equal(t, corev1.SecretTypeTLS, s.Type)
			require.Equal(t, "kargo", s.Labels["app.kubernetes.io/part-of"])
			for _, k := range []string{"ca.crt", "ca.key", "tls.crt", "tls.key", "ca-bundle.crt"} {
				require.NotEmpty(t, s.Data[k], k)
			}
			require.Equal(t, s.Data["ca-bundle.crt"], r.m.CABundle())
			require.Equal(t, [][]byte{r.m.CABundle()}, r.bundles(), "OnCABundle called once with the bundle")

			ca := parseCert(t, s.Data["ca.crt"])
			require.True(t, ca.IsCA)
			require.NotZero(t, ca.KeyUsage&x509.KeyUsageCertSign)
			require.Equal(t, start.Add(-time.Minute), ca.NotBefore)
			require.Equal(t, start.Add(defaultCALifetime), ca.NotAfter)
			require.Len(t, parseBundle(t, r.m.CABundle()), 1)

			leaf := r.leaf(t)
			require.Equal(t, parseCert(t, s.Data["tls.crt"]).Raw, leaf.Raw)
			require.False(t, leaf.IsCA)
			require.Equal(t, tt.wantCN, leaf.Subject.CommonName)
			require.Equal(t, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, leaf.ExtKeyUsage)
			require.Equal(t, start.Add(-time.Minute), leaf.NotBefore)
			require.Equal(t, start.Add(defaultServingLifetime), leaf.NotAfter)
			key, ok := leaf.PublicKey.(*ecdsa.PublicKey)
			require.True(t, ok, "serving key is %T", leaf.PublicKey)
			require.Equal(t, elliptic.P256(), key.Curve)
			require.NoError(t, leaf.CheckSignatureFrom(ca))

			require.NoError(t, handshake(t, r.m, r.m.CABundle(), tt.serverName, clk.Now()))
			require.Error(t, handshake(t, r.m, r.m.CABundle(), tt.wrongName, clk.Now()), "a name not in the certificate is refused")

			// An idle system makes no writes and publishes nothing new.
			writes := cl.writes()
			require.NoError(t, r.m.Ensure(ctx))
			require.Equal(t, writes, cl.writes())
			require.Len(t, r.bundles(), 1)
		})
	}
}

func TestEnsureFillsPrecreatedSecret(t *testing.T) {
	// A chart may create the Secret empty so that it is deleted with the
	// release; Ensure fills it rather than failing on AlreadyExists.
	ctx := context.Background()
	clk := &clock{t: start}
	cl := newCluster(t)
	require.NoError(t, cl.inner.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: testNamespace, Name: testSecretName},
		Type:       corev1.SecretTypeTLS,
		Data:       map[string][]byte{"tls.crt": nil, "tls.key": nil, "note": []byte("keep me")},
	}))
	logs := &logLines{}
	r := newReplica(cl.client, clk)

	require.NoError(t, r.m.Ensure(logs.context()))

	s := cl.secret(t)
	require.Equal(t, "kargo", s.Labels["app.kubernetes.io/part-of"])
	require.Equal(t, "keep me", string(s.Data["note"]), "keys this package does not own are kept")
	require.Equal(t, r.leaf(t).Raw, parseCert(t, s.Data["tls.crt"]).Raw)
	require.Zero(t, logs.count("Repaired"), "empty keys are missing, not corrupt")
	require.Equal(t, int32(0), cl.creates.Load())
	require.Equal(t, int32(1), cl.updates.Load())
	require.NoError(t, handshake(t, r.m, r.m.CABundle(), inClusterNames[0], clk.Now()))
}

func TestSecondReplicaAdoptsSecret(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: start}
	cl := newCluster(t)
	first := newReplica(cl.client, clk)
	require.NoError(t, first.m.Ensure(ctx))
	writes := cl.writes()

	second := newReplica(cl.client, clk)
	require.NoError(t, second.m.Ensure(ctx))

	require.Equal(t, writes, cl.writes(), "the second replica writes nothing")
	require.Zero(t, first.leaf(t).SerialNumber.Cmp(second.leaf(t).SerialNumber))
	require.Equal(t, first.m.CABundle(), second.m.CABundle())
	require.Equal(t, [][]byte{first.m.CABundle()}, second.bundles(), "each replica publishes the bundle it loaded")
	require.NoError(t, handshake(t, second.m, first.m.CABundle(), inClusterNames[0], clk.Now()))
}

func TestServingCertificateRenewal(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: start}
	cl := newCluster(t)
	r := newReplica(cl.client, clk)
	other := newReplica(cl.client, clk)
	require.NoError(t, r.m.Ensure(ctx))
	require.NoError(t, other.m.Ensure(ctx))
	old := r.leaf(t)
	oldSecret := cl.secret(t)

	clk.Set(dueAt(old).Add(-time.Second))
	writes := cl.writes()
	require.NoError(t, r.m.Ensure(ctx))
	require.Equal(t, writes, cl.writes(), "not renewed while a third of the lifetime is left")
	require.Zero(t, old.SerialNumber.Cmp(r.leaf(t).SerialNumber))

	clk.Set(dueAt(old).Add(time.Second))
	require.NoError(t, r.m.Ensure(ctx))
	renewed := r.leaf(t)
	require.NotZero(t, old.SerialNumber.Cmp(renewed.SerialNumber), "serving certificate renewed")
	require.Equal(t, clk.Now().Add(-time.Minute), renewed.NotBefore)
	s := cl.secret(t)
	require.Equal(t, oldSecret.Data["ca.crt"], s.Data["ca.crt"], "same CA")
	require.Equal(t, oldSecret.Data["ca.key"], s.Data["ca.key"], "same CA")
	require.Equal(t, oldSecret.Data["ca-bundle.crt"], s.Data["ca-bundle.crt"])
	require.Len(t, r.bundles(), 1, "OnCABundle not called again: the bundle did not change")
	require.NoError(t, handshake(t, r.m, r.m.CABundle(), inClusterNames[1], clk.Now()))

	// The other replica picks the renewed certificate up at its next check.
	writes = cl.writes()
	require.NoError(t, other.m.Ensure(ctx))
	require.Equal(t, writes, cl.writes())
	require.Zero(t, renewed.SerialNumber.Cmp(other.leaf(t).SerialNumber))
	require.Len(t, other.bundles(), 1)
}

func TestCARenewal(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: start}
	cl := newCluster(t)
	a := newReplica(cl.client, clk)
	b := newReplica(cl.client, clk)
	require.NoError(t, a.m.Ensure(ctx))
	oldCA := parseCert(t, cl.secret(t).Data["ca.crt"])
	oldBundle := a.m.CABundle()

	// Shortly before the CA is due both replicas hold a fresh serving
	// certificate from the old CA.
	clk.Set(dueAt(oldCA).Add(-time.Hour))
	require.NoError(t, a.m.Ensure(ctx))
	require.NoError(t, b.m.Ensure(ctx))
	require.Equal(t, oldCA.Raw, parseCert(t, cl.secret(t).Data["ca.crt"]).Raw, "CA not renewed before it is due")
	bLeaf := b.leaf(t)
	require.NoError(t, bLeaf.CheckSignatureFrom(oldCA))

	clk.Set(dueAt(oldCA).Add(time.Hour))
	require.NoError(t, a.m.Ensure(ctx))

	newCA := parseCert(t, cl.secret(t).Data["ca.crt"])
	require.NotEqual(t, oldCA.Raw, newCA.Raw, "CA renewed")
	require.True(t, newCA.IsCA)
	bundle := parseBundle(t, a.m.CABundle())
	require.Len(t, bundle, 2)
	require.Equal(t, newCA.Raw, bundle[0].Raw, "current CA first")
	require.Equal(t, oldCA.Raw, bundle[1].Raw, "old CA kept until it expires")
	require.NoError(t, a.leaf(t).CheckSignatureFrom(newCA), "serving certificate re-issued from the new CA")
	require.Equal(t, [][]byte{oldBundle, a.m.CABundle()}, a.bundles(), "changed bundle published")

	require.NoError(t, handshake(t, a.m, a.m.CABundle(), inClusterNames[0], clk.Now()))
	require.Error(t, handshake(t, a.m, oldBundle, inClusterNames[0], clk.Now()),
		"clients need the published bundle to trust the new CA")
	// Until it next checks, b serves its certificate from the old CA, which
	// the new bundle still trusts.
	require.Zero(t, bLeaf.SerialNumber.Cmp(b.leaf(t).SerialNumber))
	require.NoError(t, handshake(t, b.m, a.m.CABundle(), inClusterNames[0], clk.Now()))

	writes := cl.writes()
	require.NoError(t, b.m.Ensure(ctx))
	require.Equal(t, writes, cl.writes())
	require.Zero(t, a.leaf(t).SerialNumber.Cmp(b.leaf(t).SerialNumber))
	require.Equal(t, a.m.CABundle(), b.bundles()[len(b.bundles())-1])

	clk.Set(oldCA.NotAfter.Add(-time.Minute))
	require.NoError(t, a.m.Ensure(ctx))
	require.Len(t, parseBundle(t, a.m.CABundle()), 2, "old CA still trusted until it expires")

	clk.Set(oldCA.NotAfter.Add(time.Minute))
	require.NoError(t, a.m.Ensure(ctx))
	bundle = parseBundle(t, a.m.CABundle())
	require.Len(t, bundle, 1, "expired CA dropped")
	require.Equal(t, newCA.Raw, bundle[0].Raw)
	require.Equal(t, newCA.Raw, parseCert(t, cl.secret(t).Data["ca.crt"]).Raw, "new CA not due yet")
	require.Len(t, a.bundles(), 3)
	require.NoError(t, handshake(t, a.m, a.m.CABundle(), inClusterNames[0], clk.Now()))
}

func TestSANChangeReissues(t *testing.T) {
	tests := []struct {
		name         string
		dnsNames     []string
		ips          []net.IP
		newDNSNames  []string
		newIPs       []net.IP
		wantReissued bool
	}{
		{
			name:         "DNS name added",
			dnsNames:     inClusterNames,
			newDNSNames:  append([]string{"kargo-webhooks"}, inClusterNames...),
			wantReissued: true,
		},
		{
			name:         "DNS name removed",
			dnsNames:     inClusterNames,
			newDNSNames:  inClusterNames[:1],
			wantReissued: true,
		},
		{
			name:         "IP added",
			dnsNames:     []string{"localhost"},
			ips:          []net.IP{loopback},
			newDNSNames:  []string{"localhost"},
			newIPs:       []net.IP{loopback, net.ParseIP("::1")},
			wantReissued: true,
		},
		{
			name:         "same names in another order",
			dnsNames:     inClusterNames,
			newDNSNames:  []string{inClusterNames[1], inClusterNames[0]},
			wantReissued: false,
		},
		{
			name:         "same IP in 16-byte form",
			dnsNames:     []string{"localhost"},
			ips:          []net.IP{loopback.To4()},
			newDNSNames:  []string{"localhost"},
			newIPs:       []net.IP{loopback.To16()},
			wantReissued: false,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			clk := &clock{t: start}
			cl := newCluster(t)
			before := newReplica(cl.client, clk, func(o *Options) { o.DNSNames, o.IPs = tt.dnsNames, tt.ips })
			require.NoError(t, before.m.Ensure(ctx))
			caPEM := cl.secret(t).Data["ca.crt"]

			after := newReplica(cl.client, clk, func(o *Options) { o.DNSNames, o.IPs = tt.newDNSNames, tt.newIPs })
			require.NoError(t, after.m.Ensure(ctx))

			leaf := after.leaf(t)
			require.Equal(t, tt.wantReissued, before.leaf(t).SerialNumber.Cmp(leaf.SerialNumber) != 0)
			require.Equal(t, caPEM, cl.secret(t).Data["ca.crt"], "names do not concern the CA")
			require.True(t, sameSet(tt.newDNSNames, leaf.DNSNames))
			require.True(t, sameSet(ipStrings(tt.newIPs), ipStrings(leaf.IPAddresses)))
			serverName := ""
			if len(tt.newDNSNames) > 0 {
				serverName = tt.newDNSNames[0]
			}
			require.NoError(t, handshake(t, after.m, after.m.CABundle(), serverName, clk.Now()))
		})
	}
}

func TestCorruptSecretRepaired(t *testing.T) {
	garbage := []byte("not a certificate")
	tests := []struct {
		name           string
		corrupt        func(data map[string][]byte)
		wantNewCA      bool
		wantNewServing bool
		// wantOldCATrusted says whether the old CA certificate, intact
		// although unusable, stays in the bundle.
		wantOldCATrusted bool
	}{
		{
			name: "every key garbage",
			corrupt: func(d map[string][]byte) {
				for k := range d {
					d[k] = garbage
				}
			},
			wantNewCA:      true,
			wantNewServing: true,
		},
		{
			name:             "CA key garbage",
			corrupt:          func(d map[string][]byte) { d["ca.key"] = garbage },
			wantNewCA:        true,
			wantNewServing:   true,
			wantOldCATrusted: true,
		},
		{
			name:             "CA key and bundle garbage",
			corrupt:          func(d map[string][]byte) { d["ca.key"], d["ca-bundle.crt"] = garbage, garbage },
			wantNewCA:        true,
			wantNewServing:   true,
			wantOldCATrusted: true,
		},
		{
			name:           "CA certificate is not a CA",
			corrupt:        func(d map[string][]byte) { d["ca.crt"], d["ca.key"] = d["tls.crt"], d["tls.key"] },
			wantNewCA:      true,
			wantNewServing: true,
			// The intact bundle still holds it.
			wantOldCATrusted: true,
		},
		{
			name:           "serving certificate garbage",
			corrupt:        func(d map[string][]byte) { d["tls.crt"] = garbage },
			wantNewServing: true,
		},
		{
			name:           "serving key does not match",
			corrupt:        func(d map[string][]byte) { d["tls.key"] = d["ca.key"] },
			wantNewServing: true,
		},
		{
			name:    "bundle garbage",
			corrupt: func(d map[string][]byte) { d["ca-bundle.crt"] = garbage },
		},
		{
			name:    "bundle with trailing junk",
			corrupt: func(d map[string][]byte) { d["ca-bundle.crt"] = append(d["ca-bundle.crt"], garbage...) },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := &clock{t: start}
			cl := newCluster(t)
			first := newReplica(cl.client, clk)
			require.NoError(t, first.m.Ensure(context.Background()))
			s := cl.secret(t)
			good := s.DeepCopy().Data
			tt.corrupt(s.Data)
			require.NoError(t, cl.inner.Update(context.Background(), s))

			// A replica starting against the corrupt Secret.
			logs := &logLines{}
			r := newReplica(cl.client, clk)
			require.NoError(t, r.m.Ensure(logs.context()))

			require.Equal(t, 1, logs.count("Repaired webhook certificate Secret"))
			repaired := cl.secret(t)
			require.Equal(t, tt.wantNewCA, string(good["ca.crt"]) != string(repaired.Data["ca.crt"]))
			require.Equal(t, tt.wantNewServing, string(good["tls.crt"]) != string(repaired.Data["tls.crt"]))
			require.Equal(t, r.leaf(t).Raw, parseCert(t, repaired.Data["tls.crt"]).Raw)
			require.Equal(t, repaired.Data["ca-bundle.crt"], r.m.CABundle())
			bundle := parseBundle(t, r.m.CABundle())
			require.Equal(t, parseCert(t, repaired.Data["ca.crt"]).Raw, bundle[0].Raw)
			if tt.wantOldCATrusted {
				require.Len(t, bundle, 2)
				require.Equal(t, parseCert(t, good["ca.crt"]).Raw, bundle[1].Raw)
			} else {
				require.Len(t, bundle, 1)
			}
			require.NoError(t, handshake(t, r.m, r.m.CABundle(), inClusterNames[0], clk.Now()))

			// Repaired means stable: the next check changes nothing.
			writes := cl.writes()
			require.NoError(t, r.m.Ensure(logs.context()))
			require.Equal(t, writes, cl.writes())
			require.Equal(t, 1, logs.count("Repaired webhook certificate Secret"))
		})
	}
}

func TestConcurrentReplicas(t *testing.T) {
	conflict := apierrors.NewConflict(secretsGR, testSecretName, errors.New("object was modified"))

	tests := []struct {
		name string
		// setup installs hooks on cl; other is another replica with the
		// unintercepted client that the hooks may run.
		setup func(cl *cluster, other *replica)
		// exists says whether the Secret exists (and the serving certificate
		// is due) before Ensure.
		exists bool
		// wantOther says whether Ensure ends with the other replica's
		// certificate, which must then be what the Secret holds.
		wantOther   bool
		wantErr     bool
		wantUpdates int32
		wantCreates int32
	}{
		{
			name: "update conflicts once without a competing write",
			setup: func(cl *cluster, _ *replica) {
				var calls atomic.Int32
				cl.onUpdate = func(ctx context.Context, inner client.WithWatch, obj client.Object) error {
					if calls.Add(1) == 1 {
						return conflict
					}
					return inner.Update(ctx, obj)
				}
			},
			exists:      true,
			wantUpdates: 2,
		},
		{
			name: "another replica renews first",
			setup: func(cl *cluster, other *replica) {
				var calls atomic.Int32
				cl.onUpdate = func(ctx context.Context, inner client.WithWatch, obj client.Object) error {
					if calls.Add(1) == 1 {
						if err := other.m.Ensure(ctx); err != nil {
							return err
						}
					}
					// obj carries the resourceVersion read before the other
					// replica wrote, so the fake API server refuses it.
					return inner.Update(ctx, obj)
				}
			},
			exists:      true,
			wantOther:   true,
			wantUpdates: 1,
		},
		{
			name: "update conflicts twice",
			setup: func(cl *cluster, _ *replica) {
				cl.onUpdate = func(context.Context, client.WithWatch, client.Object) error { return conflict }
			},
			exists:      true,
			wantErr:     true,
			wantUpdates: 2,
		},
		{
			name: "another replica creates first",
			setup: func(cl *cluster, other *replica) {
				cl.onCreate = func(ctx context.Context, inner client.WithWatch, obj client.Object) error {
					if err := other.m.Ensure(ctx); err != nil {
						return err
					}
					return inner.Create(ctx, obj)
				}
			},
			wantOther:   true,
			wantCreates: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			clk := &clock{t: start}
			cl := newCluster(t)
			r := newReplica(cl.client, clk)
			var before *x509.Certificate
			if tt.exists {
				require.NoError(t, r.m.Ensure(ctx))
				before = r.leaf(t)
				clk.Set(dueAt(before).Add(time.Hour))
				cl.creates.Store(0)
				cl.updates.Store(0)
			}
			other := newReplica(cl.inner, clk)
			tt.setup(cl, other)

			err := r.m.Ensure(ctx)

			require.Equal(t, tt.wantUpdates, cl.updates.Load(), "updates")
			require.Equal(t, tt.wantCreates, cl.creates.Load(), "creates")
			if tt.wantErr {
				require.True(t, apierrors.IsConflict(err), "got %v", err)
				require.Zero(t, before.SerialNumber.Cmp(r.leaf(t).SerialNumber), "keeps serving what it holds")
				return
			}
			require.NoError(t, err)
			leaf := r.leaf(t)
			stored := parseCert(t, cl.secret(t).Data["tls.crt"])
			require.Equal(t, stored.Raw, leaf.Raw, "serves what the Secret holds")
			if before != nil {
				require.NotZero(t, before.SerialNumber.Cmp(leaf.SerialNumber), "renewed")
			}
			if tt.wantOther {
				require.Equal(t, other.leaf(t).Raw, leaf.Raw, "the other replica's certificate is adopted, not overwritten")
			}
			require.NoError(t, handshake(t, r.m, r.m.CABundle(), inClusterNames[0], clk.Now()))
		})
	}
}

func TestOnCABundleFailureIsRetried(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: start}
	cl := newCluster(t)
	r := newReplica(cl.client, clk)
	r.publishErr = errors.New("webhook configuration not found")

	err := r.m.Ensure(ctx)
	require.ErrorIs(t, err, r.publishErr)
	// With nothing served yet, serving a certificate beats serving none.
	first := r.leaf(t)
	require.NotNil(t, r.m.CABundle())

	r.publishErr = nil
	writes := cl.writes()
	require.NoError(t, r.m.Ensure(ctx))
	require.Equal(t, writes, cl.writes())
	require.Equal(t, [][]byte{r.m.CABundle()}, r.bundles(), "published at the next Ensure")

	// A new CA is not served until clients have been given the bundle that
	// trusts it.
	// Shortly before the CA is due, r renews its serving certificate as a
	// replica that keeps checking would.
	ca := parseCert(t, cl.secret(t).Data["ca.crt"])
	clk.Set(dueAt(ca).Add(-time.Hour))
	require.NoError(t, r.m.Ensure(ctx))
	held := r.leaf(t)
	require.NotZero(t, first.SerialNumber.Cmp(held.SerialNumber))

	clk.Set(dueAt(ca).Add(time.Hour))
	r.publishErr = errors.New("apiserver unavailable")
	require.ErrorIs(t, r.m.Ensure(ctx), r.publishErr)
	newCA := parseCert(t, cl.secret(t).Data["ca.crt"])
	require.NotEqual(t, ca.Raw, newCA.Raw, "CA renewed in the Secret")
	require.Zero(t, held.SerialNumber.Cmp(r.leaf(t).SerialNumber), "old certificate still served")
	require.Len(t, parseBundle(t, r.m.CABundle()), 2)

	r.publishErr = nil
	require.NoError(t, r.m.Ensure(ctx))
	require.NoError(t, r.leaf(t).CheckSignatureFrom(newCA), "new certificate served once the bundle is published")
	require.Equal(t, r.m.CABundle(), r.bundles()[len(r.bundles())-1])
}

func TestStart(t *testing.T) {
	t.Run("retries errors until it succeeds and stops with the context", func(t *testing.T) {
		clk := &clock{t: start}
		cl := newCluster(t)
		var failures atomic.Int32
		cl.onGet = func(ctx context.Context, inner client.WithWatch, key client.ObjectKey, obj client.Object) error {
			if failures.Add(1) <= 2 {
				return apierrors.NewServiceUnavailable("etcd is down")
			}
			return inner.Get(ctx, key, obj)
		}
		r := newReplica(cl.client, clk, func(o *Options) { o.CheckInterval = time.Millisecond })
		require.False(t, r.m.NeedLeaderElection())

		logs := &logLines{}
		ctx, cancel := context.WithCancel(logs.context())
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- r.m.Start(ctx) }()

		require.Eventually(t, func() bool {
			_, err := r.m.GetCertificate(&tls.ClientHelloInfo{})
			return err == nil
		}, 10*time.Second, time.Millisecond)
		require.Equal(t, 2, logs.count("etcd is down"), "each failure is logged")

		cancel()
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(10 * time.Second):
			t.Fatal("Start did not return after the context ended")
		}
	})

	t.Run("invalid options are returned", func(t *testing.T) {
		r := newReplica(nil, &clock{t: start})
		require.Error(t, r.m.Start(context.Background()))
	})
}

func TestWithDefaults(t *testing.T) {
	tests := []struct {
		name         string
		in           Options
		wantCA       time.Duration
		wantServing  time.Duration
		wantInterval time.Duration
	}{
		{
			name:         "zero values",
			wantCA:       10 * 365 * 24 * time.Hour,
			wantServing:  365 * 24 * time.Hour,
			wantInterval: time.Hour,
		},
		{
			name:         "interval capped at a tenth of the serving lifetime",
			in:           Options{ServingLifetime: 5 * time.Hour, CheckInterval: 2 * time.Hour},
			wantCA:       10 * 365 * 24 * time.Hour,
			wantServing:  5 * time.Hour,
			wantInterval: 30 * time.Minute,
		},
		{
			name:         "default interval capped too",
			in:           Options{CALifetime: 24 * time.Hour, ServingLifetime: 2 * time.Hour},
			wantCA:       24 * time.Hour,
			wantServing:  2 * time.Hour,
			wantInterval: 12 * time.Minute,
		},
		{
			name:         "shorter interval kept",
			in:           Options{CheckInterval: time.Minute},
			wantCA:       10 * 365 * 24 * time.Hour,
			wantServing:  365 * 24 * time.Hour,
			wantInterval: time.Minute,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := withDefaults(tt.in)
			require.Equal(t, tt.wantCA, got.CALifetime)
			require.Equal(t, tt.wantServing, got.ServingLifetime)
			require.Equal(t, tt.wantInterval, got.CheckInterval)
			require.NotNil(t, got.Now)
		})
	}
}

func TestValidate(t *testing.T) {
	valid := Options{
		Client:     fake.NewClientBuilder().Build(),
		Namespace:  testNamespace,
		SecretName: testSecretName,
		DNSNames:   inClusterNames,
	}
	tests := []struct {
		name    string
		mutate  func(*Options)
		wantErr string
	}{
		{name: "valid", mutate: func(*Options) {}},
		{name: "IPs only", mutate: func(o *Options) { o.DNSNames, o.IPs = nil, []net.IP{loopback} }},
		{name: "no client", mutate: func(o *Options) { o.Client = nil }, wantErr: "client is required"},
		{name: "no secret name", mutate: func(o *Options) { o.SecretName = "" }, wantErr: "secret name"},
		{name: "no names", mutate: func(o *Options) { o.DNSNames = nil }, wantErr: "DNS name or IP"},
		{name: "lifetime too short", mutate: func(o *Options) { o.ServingLifetime = time.Second }, wantErr: "at least 1m0s"},
		{name: "negative lifetime", mutate: func(o *Options) { o.CALifetime = -time.Hour }, wantErr: "at least 1m0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := valid
			tt.mutate(&o)
			err := New(o).Ensure(context.Background())
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}

func TestDue(t *testing.T) {
	cert := &x509.Certificate{NotBefore: start, NotAfter: start.Add(300 * time.Hour)}
	tests := []struct {
		name string
		now  time.Time
		want bool
	}{
		{name: "just issued", now: start, want: false},
		{name: "exactly a third left", now: start.Add(200 * time.Hour), want: false},
		{name: "just under a third left", now: start.Add(200*time.Hour + time.Nanosecond), want: true},
		{name: "expired", now: start.Add(400 * time.Hour), want: true},
		{name: "not yet valid", now: start.Add(-time.Hour), want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, due(tt.now, cert))
		})
	}
}

func TestServingProblem(t *testing.T) {
	ca, err := newCA(start, defaultCALifetime)
	require.NoError(t, err)
	otherCA, err := newCA(start, defaultCALifetime)
	require.NoError(t, err)
	serving, err := newServing(start, 30*24*time.Hour, ca, inClusterNames, []net.IP{loopback})
	require.NoError(t, err)

	tests := []struct {
		name     string
		now      time.Time
		ca       *keyPair
		dnsNames []string
		ips      []net.IP
		want     string
	}{
		{name: "fine", now: start, ca: ca, dnsNames: inClusterNames, ips: []net.IP{loopback}},
		{name: "other CA", now: start, ca: otherCA, dnsNames: inClusterNames, ips: []net.IP{loopback}, want: "not signed by the current CA"},
		{name: "DNS names differ", now: start, ca: ca, dnsNames: inClusterNames[:1], ips: []net.IP{loopback}, want: "subject alternative names"},
		{name: "IPs differ", now: start, ca: ca, dnsNames: inClusterNames, want: "subject alternative names"},
		{name: "due", now: start.Add(25 * 24 * time.Hour), ca: ca, dnsNames: inClusterNames, ips: []net.IP{loopback}, want: "a third of its lifetime"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := servingProblem(tt.now, serving.cert, tt.ca.cert, tt.dnsNames, tt.ips)
			if tt.want == "" {
				require.Empty(t, got)
				return
			}
			require.Contains(t, got, tt.want)
		})
	}
}

func TestServingLifetimeCappedByCA(t *testing.T) {
	ca, err := newCA(start, 48*time.Hour)
	require.NoError(t, err)
	serving, err := newServing(start, 365*24*time.Hour, ca, inClusterNames, nil)
	require.NoError(t, err)
	require.Equal(t, ca.cert.NotAfter, serving.cert.NotAfter)
}

func TestTrustBundle(t *testing.T) {
	mkCA := func(issued time.Time, lifetime time.Duration) *x509.Certificate {
		kp, err := newCA(issued, lifetime)
		require.NoError(t, err)
		return kp.cert
	}
	current := mkCA(start, 100*time.Hour)
	retired := mkCA(start.Add(-50*time.Hour), 100*time.Hour)  // expires start+50h
	older := mkCA(start.Add(-90*time.Hour), 100*time.Hour)    // expires start+10h
	expired := mkCA(start.Add(-200*time.Hour), 100*time.Hour) // expired
	leafCA, err := newCA(start, time.Hour)
	require.NoError(t, err)
	leaf, err := newServing(start, time.Hour, leafCA, inClusterNames, nil)
	require.NoError(t, err)
	encode := func(certs ...*x509.Certificate) []byte {
		var out []byte
		for _, c := range certs {
			out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
		}
		return out
	}

	tests := []struct {
		name           string
		retired        *x509.Certificate
		stored         []byte
		want           []*x509.Certificate
		wantUnreadable bool
	}{
		{name: "nothing stored", want: []*x509.Certificate{current}},
		{name: "current only", stored: encode(current), want: []*x509.Certificate{current}},
		{name: "retired CA added", retired: retired, stored: encode(current), want: []*x509.Certificate{current, retired}},
		{name: "retired CA already stored", retired: retired, stored: encode(current, retired), want: []*x509.Certificate{current, retired}},
		{name: "latest expiry first", stored: encode(older, current, retired), want: []*x509.Certificate{current, retired, older}},
		{name: "expired CA dropped", stored: encode(current, expired, retired), want: []*x509.Certificate{current, retired}},
		{name: "non-CA dropped", stored: encode(current, leaf.cert), want: []*x509.Certificate{current}},
		{name: "garbage", stored: []byte("garbage"), want: []*x509.Certificate{current}, wantUnreadable: true},
		{
			name:           "key in bundle",
			stored:         append(encode(retired), leaf.keyPEM...),
			want:           []*x509.Certificate{current, retired},
			wantUnreadable: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := trustBundle(start, current, tt.retired, tt.stored)
			require.Equal(t, tt.wantUnreadable, err != nil, "error: %v", err)
			require.Equal(t, encode(tt.want...), got)
		})
	}
}
