// Package webhook runs kargo's admission webhooks: it serves them over TLS
// with a certificate it issues and rotates itself, and registers their
// configurations with the API server. The rules live in one sub-package per
// kind; they check only what needs other objects or the requesting user,
// since rules about one object alone are in the CRD schemas.
package webhook

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/kargohq/kargo/internal/authz"
	"github.com/kargohq/kargo/internal/webhook/analysisrun"
	"github.com/kargohq/kargo/internal/webhook/approvalpolicy"
	"github.com/kargohq/kargo/internal/webhook/certs"
	"github.com/kargohq/kargo/internal/webhook/freight"
	"github.com/kargohq/kargo/internal/webhook/holds"
	"github.com/kargohq/kargo/internal/webhook/notification"
	"github.com/kargohq/kargo/internal/webhook/project"
	"github.com/kargohq/kargo/internal/webhook/promotion"
	"github.com/kargohq/kargo/internal/webhook/promotionpolicy"
	"github.com/kargohq/kargo/internal/webhook/promotiontask"
	"github.com/kargohq/kargo/internal/webhook/stage"
	"github.com/kargohq/kargo/internal/webhook/warehouse"
)

// DefaultAddr is where the webhook server listens in a cluster.
const DefaultAddr = ":9443"

// SecretName names the Secret that holds the webhooks' CA and serving
// certificate, in Options.Namespace.
const SecretName = "kargo-webhook-tls"

// FieldManager owns the webhook configurations kargo registers.
const FieldManager = "kargo-webhooks"

// Options configures the webhook server.
type Options struct {
	// Addr is where the server listens: DefaultAddr in a cluster,
	// "127.0.0.1:0" (any free port) on one machine.
	Addr string
	// Namespace holds the TLS Secret and, in a cluster, the Service.
	Namespace string
	// Service names the Service that routes to this server in a cluster.
	// When empty, the API server is told to call https://<listen address>
	// directly, as kargo local and the tests do.
	Service string
	// ServingLifetime is how long each serving certificate lasts; one year
	// when zero. It is renewed when a third of that is left.
	ServingLifetime time.Duration
	// AnalysisRunWriters are the usernames of Argo Rollouts' controller,
	// which (with kargo's controller) alone may write the AnalysisRuns of
	// kargo's verifications; analysisrun.DefaultWriter when empty.
	AnalysisRunWriters []string
}

// Server serves kargo's admission webhooks. It is a manager Runnable that
// runs on every replica, leader or not.
type Server struct {
	listener net.Listener
	certs    *certs.Manager
	handler  http.Handler
	ready    chan struct{}
}

// Setup prepares the webhook server for mgr: it listens, makes sure a
// serving certificate exists, registers the webhook configurations with
// the CA bundle, and adds the server and the certificate rotation to mgr.
// The webhooks take effect once the manager has started the server; wait
// on Ready for that.
func Setup(ctx context.Context, mgr manager.Manager, opts Options) (*Server, error) {
	if opts.Addr == "" {
		opts.Addr = DefaultAddr
	}
	// The TLS Secret is not among the Secrets the manager caches, and the
	// rules must see what was written a moment ago: read live.
	// Every kargo write waits on these reads, so they must not queue behind
	// client-go's default limit of 5 requests a second; the API server's
	// own priority and fairness protects it.
	cfg := rest.CopyConfig(mgr.GetConfig())
	cfg.QPS, cfg.Burst = 500, 1000
	live, err := client.New(cfg, client.Options{Scheme: mgr.GetScheme()})
	if err != nil {
		return nil, fmt.Errorf("webhook client: %w", err)
	}
	l, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s for admission webhooks: %w", opts.Addr, err)
	}
	clientConfig, dnsNames, ips, err := endpointOf(l.Addr().(*net.TCPAddr), opts)
	if err != nil {
		_ = l.Close()
		return nil, err
	}
	register := func(ctx context.Context, bundle []byte) error {
		validating, mutating := Configurations(func(path string) admissionregistrationv1.WebhookClientConfig {
			cc := clientConfig(path)
			cc.CABundle = bundle
			return cc
		})
		for _, obj := range []client.Object{validating, mutating} {
			//nolint:staticcheck // Patch with Apply works on typed objects, which the newer Apply method does not take.
			if err := live.Patch(ctx, obj, client.Apply, client.ForceOwnership, client.FieldOwner(FieldManager)); err != nil {
				return fmt.Errorf("register %s %s: %w", obj.GetObjectKind().GroupVersionKind().Kind, obj.GetName(), err)
			}
		}
		return nil
	}
	cm := certs.New(certs.Options{
		Client:          live,
		Namespace:       opts.Namespace,
		SecretName:      SecretName,
		DNSNames:        dnsNames,
		IPs:             ips,
		ServingLifetime: opts.ServingLifetime,
		OnCABundle:      register,
	})
	if err := cm.Ensure(ctx); err != nil {
		_ = l.Close()
		return nil, fmt.Errorf("webhook serving certificate: %w", err)
	}
	self, err := whoAmI(ctx, live)
	if err != nil {
		_ = l.Close()
		return nil, err
	}
	s := &Server{listener: l, certs: cm, handler: handlers(live, mgr, self, opts.AnalysisRunWriters), ready: make(chan struct{})}
	if err := mgr.Add(cm); err != nil {
		_ = l.Close()
		return nil, fmt.Errorf("add webhook certificate rotation: %w", err)
	}
	if err := mgr.Add(s); err != nil {
		_ = l.Close()
		return nil, fmt.Errorf("add webhook server: %w", err)
	}
	return s, nil
}

// endpointOf returns how the API server reaches a server listening on addr,
// and the names its certificate must carry for that.
func endpointOf(addr *net.TCPAddr, opts Options) (func(path string) admissionregistrationv1.WebhookClientConfig, []string, []net.IP, error) {
	if opts.Service != "" {
		dns := []string{
			opts.Service + "." + opts.Namespace + ".svc",
			opts.Service + "." + opts.Namespace + ".svc.cluster.local",
			opts.Service + "." + opts.Namespace,
			opts.Service,
		}
		return func(path string) admissionregistrationv1.WebhookClientConfig {
			p := path
			return admissionregistrationv1.WebhookClientConfig{Service: &admissionregistrationv1.ServiceReference{
				Namespace: opts.Namespace, Name: opts.Service, Path: &p,
			}}
		}, dns, nil, nil
	}
	ip := addr.IP
	if ip == nil || ip.IsUnspecified() {
		ip = net.IPv4(127, 0, 0, 1)
	}
	host := net.JoinHostPort(ip.String(), strconv.Itoa(addr.Port))
	return func(path string) admissionregistrationv1.WebhookClientConfig {
		u := (&url.URL{Scheme: "https", Host: host, Path: path}).String()
		return admissionregistrationv1.WebhookClientConfig{URL: &u}
	}, []string{"localhost"}, []net.IP{ip}, nil
}

// whoAmI returns the username the controller's connection authenticates
// as: Freight created under it is the Freight the controller produced. The
// webhooks run in the controller's process with the controller's
// connection, so they ask the API server rather than trust configuration.
func whoAmI(ctx context.Context, c client.Client) (string, error) {
	review := &authenticationv1.SelfSubjectReview{}
	if err := c.Create(ctx, review); err != nil {
		return "", fmt.Errorf("ask the API server who the controller is (SelfSubjectReview): %w", err)
	}
	if review.Status.UserInfo.Username == "" {
		return "", errors.New("ask the API server who the controller is (SelfSubjectReview): the answer names no user")
	}
	return review.Status.UserInfo.Username, nil
}

// handlers routes each webhook path to its rules. controller is the
// controller's username.
func handlers(live client.Client, mgr manager.Manager, controller string, analysisWriters []string) http.Handler {
	decoder := admission.NewDecoder(mgr.GetScheme())
	if len(analysisWriters) == 0 {
		analysisWriters = []string{analysisrun.DefaultWriter}
	}
	az := &authz.Authorizer{Client: live}
	routes := map[string]admission.Handler{
		"/mutate/freights":                    &freight.Mutator{Decode: decoder, Controller: controller},
		"/validate/freights":                  &freight.Validator{Reader: live, Decode: decoder, Controller: controller, Claims: &freight.AliasClaims{}},
		"/mutate/promotions":                  &promotion.Mutator{Reader: live, Decode: decoder},
		"/validate/promotions":                &promotion.Validator{Reader: live, Authz: az, Decode: decoder},
		"/validate/promotiontasks":            &promotiontask.Validator{Reader: live, Authz: az, Decode: decoder},
		"/validate/promotionpolicies":         &promotionpolicy.Validator{Reader: live, Authz: az, Decode: decoder},
		"/validate/approvalpolicies":          &approvalpolicy.Validator{Reader: live, Authz: az, Decode: decoder},
		"/validate/projects":                  &project.Validator{Reader: live},
		"/validate/stages":                    &stage.Validator{Reader: live, Stages: mgr.GetClient(), Authz: az, Decode: decoder},
		"/validate/warehouses":                &warehouse.Validator{Reader: live, Stages: live, Authz: az, Decode: decoder},
		"/validate/notificationsubscriptions": &notification.Validator{Reader: live, Authz: az, Decode: decoder},
		"/validate/analysisruns":              &analysisrun.Validator{Decode: decoder, Controller: controller, Writers: analysisWriters},
		"/validate/promotions-override":       &holds.OverrideValidator{Authz: az, Decode: decoder},
		"/validate/stages-delete":             &holds.StageDeleteValidator{Reader: live},
		"/validate/promotionwindows":          &holds.WindowValidator{Decode: decoder},
	}
	mux := http.NewServeMux()
	for path, h := range routes {
		mux.Handle(path, &admission.Webhook{Handler: h, RecoverPanic: ptr(true)})
	}
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	return mux
}

func ptr[T any](v T) *T { return &v }

// Start serves until ctx ends.
func (s *Server) Start(ctx context.Context) error {
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		TLSConfig: &tls.Config{
			MinVersion:     tls.VersionTLS12,
			GetCertificate: s.certs.GetCertificate,
			// HTTP/1.1 only: the API server needs nothing more, and it
			// keeps HTTP/2's stream-reset attacks away.
			NextProtos: []string{"http/1.1"},
		},
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.ServeTLS(s.listener, "", "") }()
	close(s.ready)
	select {
	case <-ctx.Done():
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(shutdown)
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("serve admission webhooks on %s: %w", s.listener.Addr(), err)
	}
}

// NeedLeaderElection returns false: the API server may call any replica.
func (s *Server) NeedLeaderElection() bool { return false }

// Ready is closed once the server accepts requests.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Check is a readiness check: the server accepts requests and holds a
// serving certificate that has not expired. A replica failing it must get
// no admission requests, since they fail closed.
func (s *Server) Check(*http.Request) error {
	select {
	case <-s.ready:
	default:
		return errors.New("admission webhooks not serving yet")
	}
	cert, err := s.certs.GetCertificate(nil)
	if err != nil {
		return err
	}
	if cert.Leaf != nil && time.Now().After(cert.Leaf.NotAfter) {
		return fmt.Errorf("the webhook serving certificate expired at %s", cert.Leaf.NotAfter.Format(time.RFC3339))
	}
	return nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.listener.Addr() }
