package server

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	stdlog "log"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/credentials"
	kargoscheme "github.com/kargohq/kargo/internal/scheme"
	"github.com/kargohq/kargo/internal/sso"
	"github.com/kargohq/kargo/internal/version"
)

// aliasIndex indexes Freight by its alias label, in the informer cache.
const aliasIndex = "kargo.akuity.io/alias"

// Options configure a Server.
type Options struct {
	// Config is the server's own identity. It reads kargo's resources into
	// the cache, reviews callers' tokens and rights, impersonates callers,
	// approves Freight and asks Stages to verify: the kargo-api
	// ClusterRole grants exactly that.
	Config *rest.Config
	// Addr is the address to listen on, such as ":8443"; empty means a
	// free port on 127.0.0.1 (see Server.Addr).
	Addr string
	// TLS, when set, makes the server speak HTTPS with it; nil serves
	// plain HTTP, for the loopback address of kargo local.
	TLS *tls.Config
	// LocalAdminToken, when not empty, is a bearer token the server
	// accepts as LocalAdminUser in the system:masters group, without a
	// TokenReview: kargo local's administrator.
	LocalAdminToken string
	// OIDC, when set, is the OpenID provider users sign in with: the
	// server accepts its ID tokens as the users their claims name, with
	// the configured prefix, and tells clients about it at
	// /api/v1/auth/config.
	OIDC *sso.Config
	// UI, when set, are the web UI's files (ui.Files), served at every
	// path outside the API; nil serves no UI.
	UI fs.FS
	// WatchRecheck is how often a watch checks again that its caller's
	// token is accepted and that the caller may still watch, and ends the
	// watch when not; DefaultWatchRecheck when zero.
	WatchRecheck time.Duration
	// WatchLifetime bounds a watch: the server ends it after between
	// three quarters of this and this, and clients open a new one;
	// DefaultWatchLifetime when zero.
	WatchLifetime time.Duration
	// Commits lets the server read the commits Promotions made from their
	// Git servers (GET .../promotions/{name}/commits); without it that
	// endpoint answers 501. Credentials, when set, reads the projects'
	// repository credentials for it; when nil the server reads
	// repositories anonymously, so only public ones show. Credentials
	// reads Secrets: the kargo-api ClusterRole does not grant that, and a
	// cluster install binds kargo-api-credentials only when asked to
	// (the chart's api.git.readCredentials).
	Commits     CommitReader
	Credentials credentials.Store
}

// Defaults of Options.
const (
	// DefaultWatchRecheck re-authorizes watches twice a minute (with a
	// SubjectAccessReview each, not a remembered answer): a caller whose
	// RoleBinding was deleted sees no more changes after at most this.
	DefaultWatchRecheck = 30 * time.Second
	// DefaultWatchLifetime ends every watch within half an hour, whatever
	// happens to the checks in between.
	DefaultWatchLifetime = 30 * time.Minute
)

// Server is kargo's API server. Create it with New and run it with Start.
type Server struct {
	opts   Options
	scheme *runtime.Scheme
	mapper meta.RESTMapper
	cache  cache.Cache
	// direct talks to the API server with the server's identity, past the
	// cache: for reviews, the few writes made with the server's own
	// rights, and reads that must not lag.
	direct client.Client
	// base is the authenticated HTTP client of Config, which impersonating
	// clients wrap.
	base *http.Client
	// version asks the API server's /version, as the server: readiness.
	version rest.Interface
	// instance tells this process's continue tokens from another's.
	instance string

	oidc    *sso.Verifier // nil without Options.OIDC
	authn   *authenticator
	authz   *authorizer
	lists   *lists
	handler http.Handler
	openapi []byte
	ui      *uiHandler // nil without Options.UI

	synced chan struct{}
	ready  chan struct{}
	// commitReads bounds the Git reads of the commits endpoint under way.
	commitReads chan struct{}

	mu   sync.Mutex
	addr net.Addr
}

// New prepares a server; nothing is read or served before Start.
func New(opts Options) (*Server, error) {
	if opts.Config == nil {
		return nil, errors.New("create the kargo API server: Options.Config is required")
	}
	cfg := rest.CopyConfig(opts.Config)
	if cfg.QPS == 0 {
		// client-go's default of 5 requests a second would queue the
		// reviews of a few busy users behind each other.
		cfg.QPS, cfg.Burst = 100, 200
	}
	opts.Config = cfg
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if opts.WatchRecheck <= 0 {
		opts.WatchRecheck = DefaultWatchRecheck
	}
	if opts.WatchLifetime <= 0 {
		opts.WatchLifetime = DefaultWatchLifetime
	}
	scheme, err := kargoscheme.New()
	if err != nil {
		return nil, err
	}
	base, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("HTTP client for the API server: %w", err)
	}
	mapper, err := apiutil.NewDynamicRESTMapper(cfg, base)
	if err != nil {
		return nil, fmt.Errorf("REST mapper: %w", err)
	}
	direct, err := client.New(cfg, client.Options{Scheme: scheme, Mapper: mapper, HTTPClient: base})
	if err != nil {
		return nil, fmt.Errorf("client for the API server: %w", err)
	}
	dc, err := discovery.NewDiscoveryClientForConfigAndClient(cfg, base)
	if err != nil {
		return nil, fmt.Errorf("discovery client for the API server: %w", err)
	}
	c, err := cache.New(cfg, cache.Options{
		Scheme: scheme, Mapper: mapper, HTTPClient: base,
		DefaultTransform: cache.TransformStripManagedFields(),
	})
	if err != nil {
		return nil, fmt.Errorf("informer cache: %w", err)
	}
	nonce := make([]byte, 8)
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("instance nonce: %w", err)
	}
	var oidc *sso.Verifier
	if opts.OIDC != nil {
		if oidc, err = sso.NewVerifier(*opts.OIDC); err != nil {
			return nil, fmt.Errorf("single sign-on: %w", err)
		}
	}
	s := &Server{
		oidc: oidc,
		opts: opts, scheme: scheme, mapper: mapper, cache: c, direct: direct, base: base, version: dc.RESTClient(),
		instance: hex.EncodeToString(nonce),
		authn:    newAuthenticator(direct, opts.LocalAdminToken, oidc),
		authz:    newAuthorizer(direct),
		lists:    newLists(c),
		synced:   make(chan struct{}),
		ready:    make(chan struct{}),

		commitReads: make(chan struct{}, maxCommitReads),
	}
	if s.openapi, err = OpenAPIDocument(version.String()); err != nil {
		return nil, err
	}
	if opts.UI != nil {
		var origins func(context.Context) []string
		if oidc != nil {
			origins = oidc.BrowserOrigins
		}
		if s.ui, err = newUIHandler(opts.UI, origins); err != nil {
			return nil, fmt.Errorf("the web UI's files: %w", err)
		}
	}
	s.handler = s.routes()
	return s, nil
}

// Handler returns the server's HTTP handler, for tests and for embedding
// in another server. It answers 503 until the cache has synced, which
// Start does.
func (s *Server) Handler() http.Handler { return s.handler }

// readiness says whether the server can serve requests: its cache has
// synced and the Kubernetes API server answers it with its own credentials.
func (s *Server) readiness(ctx context.Context) error {
	select {
	case <-s.synced:
	default:
		return errors.New("cache not synced yet")
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := s.version.Get().AbsPath("/version").Do(ctx).Error(); err != nil {
		return fmt.Errorf("ask the Kubernetes API server for its version: %w", err)
	}
	return nil
}

// Ready is closed once the server has filled its cache and listens.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Addr is the address the server listens on, nil before it does.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Start listens, fills the cache and serves until ctx ends; then it stops
// accepting requests, ends watches and returns. Until the cache is full,
// requests are answered 503. It returns an error when the address cannot
// be listened on or the cache cannot be filled. A Server starts once.
func (s *Server) Start(ctx context.Context) error {
	log := ctrl.LoggerFrom(ctx).WithName("api-server")
	ctx = ctrl.LoggerInto(ctx, log)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	if err := s.watchInformers(ctx); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", s.opts.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.opts.Addr, err)
	}
	if s.opts.TLS != nil {
		ln = tls.NewListener(ln, s.opts.TLS)
	}
	s.mu.Lock()
	s.addr = ln.Addr()
	s.mu.Unlock()
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		// Requests live no longer than the server: watches end with it.
		BaseContext: func(net.Listener) context.Context { return ctx },
		ErrorLog:    stdlog.New(serverLog{log: log}, "", 0),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	cacheDone := make(chan error, 1)
	go func() { cacheDone <- s.cache.Start(ctx) }()

	// stop ends serving and the cache, and returns err or what stopping
	// failed with.
	stop := func(err error) error {
		cancel()
		shutdown, done := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer done()
		if serr := srv.Shutdown(shutdown); serr != nil && err == nil {
			err = fmt.Errorf("stop serving the kargo API: %w", serr)
		}
		<-served
		if cerr := <-cacheDone; cerr != nil && err == nil {
			err = fmt.Errorf("run the API server's cache: %w", cerr)
		}
		return err
	}

	if !s.cache.WaitForCacheSync(ctx) {
		if ctx.Err() != nil {
			return stop(nil) // stopped while starting
		}
		return stop(errors.New("fill the API server's cache: the informers did not sync"))
	}
	close(s.synced)
	close(s.ready)
	log.Info("serving the kargo API", "addr", ln.Addr().String(), "tls", s.opts.TLS != nil)

	sweep := time.NewTicker(idleAfter / 6)
	defer sweep.Stop()
	for {
		select {
		case <-ctx.Done():
			return stop(nil)
		case err := <-served:
			served <- err // for stop
			return stop(fmt.Errorf("serve the kargo API: %w", err))
		case <-sweep.C:
			s.lists.sweep()
		}
	}
}

// serverLog passes net/http's own messages (a handler's panic, a failed
// TLS handshake) to the server's logger; handshakes that fail because a
// client spoke plain HTTP or went away are routine, so only verbose.
type serverLog struct {
	log logr.Logger
}

func (l serverLog) Write(p []byte) (int, error) {
	msg := strings.TrimSpace(string(p))
	if strings.Contains(msg, "TLS handshake error") {
		l.log.V(1).Info("http server", "message", msg)
	} else {
		l.log.Info("http server", "message", msg)
	}
	return len(p), nil
}

// watchInformers indexes Freight by alias and keeps the list snapshots
// informed of changes.
func (s *Server) watchInformers(ctx context.Context) error {
	err := s.cache.IndexField(ctx, &kargoapi.Freight{}, aliasIndex, func(obj client.Object) []string {
		if a := obj.GetLabels()[kargoapi.AliasLabelKey]; a != "" {
			return []string{a}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("index Freight by alias: %w", err)
	}
	for _, k := range allKinds {
		inf, err := s.cache.GetInformer(ctx, k.newObject(), cache.BlockUntilSynced(false))
		if err != nil {
			return fmt.Errorf("informer for %s: %w", k.resource, err)
		}
		if _, err := inf.AddEventHandler(changeHandler{lists: s.lists, kind: k}); err != nil {
			return fmt.Errorf("watch %s: %w", k.resource, err)
		}
	}
	return nil
}

// changeHandler tells the list snapshots which lists changed.
type changeHandler struct {
	lists *lists
	kind  *kind
}

func (h changeHandler) OnAdd(obj any, _ bool) { h.touch(obj) }

func (h changeHandler) OnUpdate(oldObj, newObj any) {
	o, okOld := oldObj.(client.Object)
	n, okNew := newObj.(client.Object)
	if okOld && okNew && o.GetResourceVersion() == n.GetResourceVersion() {
		return // a resync: nothing changed
	}
	h.touch(newObj)
}

func (h changeHandler) OnDelete(obj any) { h.touch(obj) }

func (h changeHandler) touch(obj any) {
	if tomb, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	if o, ok := obj.(client.Object); ok {
		h.lists.changed(h.kind, o.GetNamespace())
	}
}
