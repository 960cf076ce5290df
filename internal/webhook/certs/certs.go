package certs

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
)

// Keys of the Secret. tls.crt and tls.key are the kubernetes.io/tls keys,
// so tools that understand that type see the serving certificate.
const (
	keyCACert      = "ca.crt"
	keyCAKey       = "ca.key"
	keyServingCert = corev1.TLSCertKey
	keyServingKey  = corev1.TLSPrivateKeyKey
	keyCABundle    = "ca-bundle.crt"
)

const (
	defaultCALifetime      = 10 * 365 * 24 * time.Hour
	defaultServingLifetime = 365 * 24 * time.Hour
	defaultCheckInterval   = time.Hour

	// minLifetime keeps certificates well above the clock-skew backdating;
	// a shorter one would be due the moment it is issued.
	minLifetime = time.Minute

	partOfLabel = "app.kubernetes.io/part-of"
	partOfValue = "kargo"
)

// Options configures a Manager.
type Options struct {
	// Client reads and writes the Secret. It must be a live (non-cached)
	// client: a cache may serve a stale Secret, and replicas coordinate
	// through its resourceVersion.
	Client client.Client
	// Namespace and SecretName locate the Secret, of type kubernetes.io/tls
	// with extra keys for the CA and the trust bundle.
	Namespace, SecretName string
	// DNSNames and IPs are the serving certificate's subject alternative
	// names, for example "kargo-webhooks.kargo.svc" and
	// "kargo-webhooks.kargo.svc.cluster.local" in a cluster, or 127.0.0.1 and
	// "localhost" in local mode. At least one is required.
	DNSNames []string
	IPs      []net.IP
	// CALifetime is how long a CA is valid; 10 years when zero.
	// ServingLifetime is how long a serving certificate is valid; 1 year
	// when zero. Both must be at least a minute.
	CALifetime, ServingLifetime time.Duration
	// CheckInterval is how often Start re-checks the Secret; 1 hour when
	// zero, and never more than ServingLifetime/10.
	CheckInterval time.Duration
	// OnCABundle, when set, is called by Ensure with the PEM bundle of every
	// CA clients should trust, the first time and each time the bundle
	// changes; it is used to patch caBundle into webhook configurations.
	// An error is returned by Ensure, and the call is repeated by the next
	// Ensure.
	OnCABundle func(ctx context.Context, bundle []byte) error
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// withDefaults returns o with zero values replaced by defaults and the
// slices copied, so that a caller changing them later cannot race Ensure.
func withDefaults(o Options) Options {
	if o.CALifetime == 0 {
		o.CALifetime = defaultCALifetime
	}
	if o.ServingLifetime == 0 {
		o.ServingLifetime = defaultServingLifetime
	}
	if o.CheckInterval <= 0 {
		o.CheckInterval = defaultCheckInterval
	}
	// Ten checks per serving lifetime give three or more chances to renew
	// within the last third, even if some of them fail.
	if limit := o.ServingLifetime / 10; o.CheckInterval > limit {
		o.CheckInterval = limit
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	o.DNSNames = slices.Clone(o.DNSNames)
	o.IPs = slices.Clone(o.IPs)
	return o
}

// validate reports options that make Ensure impossible.
func (o Options) validate() error {
	var errs []error
	if o.Client == nil {
		errs = append(errs, errors.New("client is required"))
	}
	if o.Namespace == "" || o.SecretName == "" {
		errs = append(errs, errors.New("namespace and secret name are required"))
	}
	if len(o.DNSNames) == 0 && len(o.IPs) == 0 {
		errs = append(errs, errors.New("at least one DNS name or IP is required"))
	}
	if o.CALifetime < minLifetime || o.ServingLifetime < minLifetime {
		errs = append(errs, fmt.Errorf("lifetimes must be at least %s", minLifetime))
	}
	if len(errs) > 0 {
		return fmt.Errorf("check certificate options: %w", errors.Join(errs...))
	}
	return nil
}

// Manager keeps the webhook server's CA and serving certificate in a Secret
// and the serving certificate in memory. Every replica runs one; they share
// the Secret.
type Manager struct {
	opts Options

	// cert and bundle are read by TLS handshakes and callers at any time.
	cert   atomic.Pointer[tls.Certificate]
	bundle atomic.Pointer[[]byte]

	// ensureMu serialises Ensure, so that OnCABundle receives bundles in the
	// order they were loaded; it also guards published.
	ensureMu sync.Mutex
	// published is the last bundle OnCABundle accepted.
	published []byte
}

var (
	_ manager.Runnable               = (*Manager)(nil)
	_ manager.LeaderElectionRunnable = (*Manager)(nil)
)

// New returns a Manager for opts. It does no I/O; call Ensure before the
// webhook server starts, then run Start (for example with mgr.Add) to keep
// the certificate fresh.
func New(opts Options) *Manager {
	return &Manager{opts: withDefaults(opts)}
}

// material is what one pass of Ensure settles on.
type material struct {
	// data holds the Secret keys this package owns.
	data   map[string][]byte
	cert   *tls.Certificate
	bundle []byte
	// renewals says what was (re)issued and why; repairs says which stored
	// content could not be read. Both are for the log only.
	renewals []string
	repairs  []string
}

// Ensure loads the Secret, creates it when missing, renews what is due,
// keeps the serving certificate in memory and calls OnCABundle when the
// bundle changed.
func (m *Manager) Ensure(ctx context.Context) error {
	if err := m.opts.validate(); err != nil {
		return err
	}
	m.ensureMu.Lock()
	defer m.ensureMu.Unlock()

	log := ctrl.LoggerFrom(ctx).WithValues("secret", m.key().String())
	mat, err := m.sync(ctx, log)
	if err != nil {
		return err
	}
	return m.load(ctx, mat)
}

func (m *Manager) key() client.ObjectKey {
	return client.ObjectKey{Namespace: m.opts.Namespace, Name: m.opts.SecretName}
}

// sync brings the Secret up to date and returns what it holds. When another
// replica creates or updates the Secret between our read and our write, the
// Secret is read once more and judged afresh: what that replica wrote is
// normally valid and is adopted as it is. A second collision in a row is
// returned as an error and retried at the next check.
func (m *Manager) sync(ctx context.Context, log logr.Logger) (*material, error) {
	for attempt := 1; ; attempt++ {
		retry := attempt == 1
		var secret corev1.Secret
		err := m.opts.Client.Get(ctx, m.key(), &secret)
		if err != nil && !apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("get Secret %s: %w", m.key(), err)
		}
		missing := err != nil

		mat, err := m.plan(secret.Data)
		if err != nil {
			return nil, err
		}

		if missing {
			err := m.opts.Client.Create(ctx, m.newSecret(mat.data))
			if apierrors.IsAlreadyExists(err) && retry {
				log.V(1).Info("Another replica created the webhook certificate Secret first; reading it")
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("create Secret %s: %w", m.key(), err)
			}
			log.Info("Created webhook certificate Secret")
			return mat, nil
		}

		if !m.needsWrite(&secret, mat.data) {
			return mat, nil
		}
		updated := secret.DeepCopy()
		if updated.Data == nil {
			updated.Data = map[string][]byte{}
		}
		// Keys this package does not own are kept: someone put them there.
		for k, v := range mat.data {
			updated.Data[k] = v
		}
		if updated.Labels == nil {
			updated.Labels = map[string]string{}
		}
		updated.Labels[partOfLabel] = partOfValue
		// updated carries the resourceVersion we read, so the API server
		// refuses the write if another replica has written since.
		err = m.opts.Client.Update(ctx, updated)
		if apierrors.IsConflict(err) && retry {
			log.V(1).Info("Another replica updated the webhook certificate Secret first; reading it again")
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("update Secret %s: %w", m.key(), err)
		}
		if len(mat.repairs) > 0 {
			log.Info("Repaired webhook certificate Secret: unreadable contents were regenerated", "problems", mat.repairs)
		}
		if len(mat.renewals) > 0 {
			log.Info("Renewed webhook certificates", "reasons", mat.renewals)
		}
		return mat, nil
	}
}

// newSecret returns a new Secret holding data.
func (m *Manager) newSecret(data map[string][]byte) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: m.opts.Namespace,
			Name:      m.opts.SecretName,
			Labels:    map[string]string{partOfLabel: partOfValue},
		},
		Type: corev1.SecretTypeTLS,
		Data: data,
	}
}

// needsWrite reports whether secret differs from data or lacks the label.
// An idle system must make no writes, so this compares bytes.
func (m *Manager) needsWrite(secret *corev1.Secret, data map[string][]byte) bool {
	if secret.Labels[partOfLabel] != partOfValue {
		return true
	}
	for k, v := range data {
		if !bytes.Equal(secret.Data[k], v) {
			return true
		}
	}
	return false
}

// plan decides the Secret contents from the stored data (nil when there is
// no Secret): it keeps what is valid and not due, and (re)issues the rest.
func (m *Manager) plan(stored map[string][]byte) (*material, error) {
	now := m.opts.Now()
	mat := &material{}

	present := func(keys ...string) bool {
		for _, k := range keys {
			if len(stored[k]) > 0 {
				return true
			}
		}
		return false
	}

	// retired is a CA that is replaced now but may still sign certificates
	// that clients see, so it stays in the bundle until it expires.
	var retired *x509.Certificate
	ca, err := parseKeyPair(stored[keyCACert], stored[keyCAKey])
	switch {
	case err != nil && !present(keyCACert, keyCAKey):
		mat.renewals = append(mat.renewals, "CA: missing")
	case err != nil:
		mat.repairs = append(mat.repairs, fmt.Sprintf("%s/%s: %v", keyCACert, keyCAKey, err))
		// The key may be lost while the certificate is intact and trusted.
		retired = parseCertificate(stored[keyCACert])
	case !ca.cert.IsCA:
		mat.repairs = append(mat.repairs, keyCACert+": not a CA certificate")
		ca = nil
	case due(now, ca.cert):
		mat.renewals = append(mat.renewals, "CA: less than a third of its lifetime left, expires at "+ca.cert.NotAfter.UTC().Format(time.RFC3339))
		retired = ca.cert
		ca = nil
	}
	if ca == nil {
		if ca, err = newCA(now, m.opts.CALifetime); err != nil {
			return nil, fmt.Errorf("issue webhook CA: %w", err)
		}
	}

	serving, err := parseKeyPair(stored[keyServingCert], stored[keyServingKey])
	switch {
	case err != nil && !present(keyServingCert, keyServingKey):
		mat.renewals = append(mat.renewals, "serving certificate: missing")
	case err != nil:
		mat.repairs = append(mat.repairs, fmt.Sprintf("%s/%s: %v", keyServingCert, keyServingKey, err))
	default:
		if problem := servingProblem(now, serving.cert, ca.cert, m.opts.DNSNames, m.opts.IPs); problem != "" {
			mat.renewals = append(mat.renewals, "serving certificate: "+problem)
			serving = nil
		}
	}
	if serving == nil {
		if serving, err = newServing(now, m.opts.ServingLifetime, ca, m.opts.DNSNames, m.opts.IPs); err != nil {
			return nil, fmt.Errorf("issue webhook serving certificate: %w", err)
		}
	}

	bundle, err := trustBundle(now, ca.cert, retired, stored[keyCABundle])
	if err != nil {
		mat.repairs = append(mat.repairs, fmt.Sprintf("%s: %v", keyCABundle, err))
	}

	mat.data = map[string][]byte{
		keyCACert:      ca.certPEM,
		keyCAKey:       ca.keyPEM,
		keyServingCert: serving.certPEM,
		keyServingKey:  serving.keyPEM,
		keyCABundle:    bundle,
	}
	mat.cert = &tls.Certificate{
		Certificate: [][]byte{serving.cert.Raw},
		PrivateKey:  serving.key,
		Leaf:        serving.cert,
	}
	mat.bundle = bundle
	return mat, nil
}

// load makes mat current in memory and hands a changed bundle to
// OnCABundle.
func (m *Manager) load(ctx context.Context, mat *material) error {
	m.bundle.Store(&mat.bundle)
	if m.opts.OnCABundle == nil || bytes.Equal(mat.bundle, m.published) {
		m.cert.Store(mat.cert)
		return nil
	}
	// Clients learn about a new CA only through OnCABundle, so a certificate
	// from that CA is served only once the bundle is published, unless there
	// is nothing valid to serve meanwhile.
	if err := m.opts.OnCABundle(ctx, bytes.Clone(mat.bundle)); err != nil {
		if current := m.cert.Load(); current == nil || !m.opts.Now().Before(current.Leaf.NotAfter) {
			m.cert.Store(mat.cert)
		}
		return fmt.Errorf("publish webhook CA bundle: %w", err)
	}
	m.published = mat.bundle
	m.cert.Store(mat.cert)
	return nil
}

// GetCertificate serves the current certificate; set it as
// tls.Config.GetCertificate. It returns an error if Ensure never succeeded.
func (m *Manager) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	cert := m.cert.Load()
	if cert == nil {
		return nil, errors.New("webhook serving certificate not loaded yet")
	}
	return cert, nil
}

// CABundle returns the PEM bundle of trusted CAs last loaded, or nil before
// the first Ensure.
func (m *Manager) CABundle() []byte {
	bundle := m.bundle.Load()
	if bundle == nil {
		return nil
	}
	return bytes.Clone(*bundle)
}

// Start calls Ensure at once and then every CheckInterval until ctx ends.
// Errors are logged and retried at the next check, never returned: a
// replica keeps serving the certificate it holds, which has a third of its
// lifetime left when renewal starts. Only invalid options are returned.
func (m *Manager) Start(ctx context.Context) error {
	if err := m.opts.validate(); err != nil {
		return err
	}
	log := ctrl.LoggerFrom(ctx)
	ticker := time.NewTicker(m.opts.CheckInterval)
	defer ticker.Stop()
	for {
		if err := m.Ensure(ctx); err != nil && ctx.Err() == nil {
			log.Error(err, "Ensure webhook certificates; retrying at the next check", "interval", m.opts.CheckInterval)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
	}
}

// NeedLeaderElection returns false: every replica serves webhooks and must
// hold the certificate.
func (m *Manager) NeedLeaderElection() bool {
	return false
}
