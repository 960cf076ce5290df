// Package manager is kargo's composition root: it assembles the
// controllers, the artifact sources they share, the admission webhooks and
// the webhook receiver into one controller-runtime manager, so that the same
// set runs in `kargo controller` on a cluster, in `kargo local` and in the
// tests. Each kind's reconciler lives in internal/controller/<kind>; nothing
// but this package wires them together.
package manager

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlconfig "sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/argocd"
	argocdv1 "github.com/kargohq/kargo/internal/argocd/v1alpha1"
	"github.com/kargohq/kargo/internal/audit"
	"github.com/kargohq/kargo/internal/controller/gc"
	"github.com/kargohq/kargo/internal/controller/index"
	"github.com/kargohq/kargo/internal/controller/notification"
	"github.com/kargohq/kargo/internal/controller/poll"
	"github.com/kargohq/kargo/internal/controller/project"
	"github.com/kargohq/kargo/internal/controller/promotion"
	"github.com/kargohq/kargo/internal/controller/stage"
	"github.com/kargohq/kargo/internal/controller/warehouse"
	"github.com/kargohq/kargo/internal/credentials"
	"github.com/kargohq/kargo/internal/discovery"
	"github.com/kargohq/kargo/internal/egress"
	"github.com/kargohq/kargo/internal/forge"
	"github.com/kargohq/kargo/internal/freight"
	"github.com/kargohq/kargo/internal/git"
	"github.com/kargohq/kargo/internal/githubapp"
	"github.com/kargohq/kargo/internal/helmrepo"
	"github.com/kargohq/kargo/internal/image"
	"github.com/kargohq/kargo/internal/image/throttle"
	"github.com/kargohq/kargo/internal/notify"
	"github.com/kargohq/kargo/internal/promote"
	"github.com/kargohq/kargo/internal/promote/engine"
	"github.com/kargohq/kargo/internal/promote/steps"
	"github.com/kargohq/kargo/internal/scheme"
	"github.com/kargohq/kargo/internal/shard"
	"github.com/kargohq/kargo/internal/verification"
	"github.com/kargohq/kargo/internal/verification/analysis"
	"github.com/kargohq/kargo/internal/verification/httpcheck"
	"github.com/kargohq/kargo/internal/webhook"
	"github.com/kargohq/kargo/internal/webhookreceiver"
)

// credentialSecrets selects the Secrets that hold repository credentials.
var credentialSecrets = func() labels.Selector {
	req, err := labels.NewRequirement(kargoapi.CredentialTypeLabelKey, selection.Exists, nil)
	if err != nil {
		panic(err) // a constant key; cannot fail
	}
	return labels.NewSelector().Add(*req)
}()

// Options configures the manager.
type Options struct {
	// MetricsAddr is where Prometheus metrics are served; "0" turns them
	// off.
	MetricsAddr string
	// HealthAddr is where /healthz and /readyz are served; "0" turns them
	// off.
	HealthAddr string
	// PprofAddr is where Go's profiles are served (/debug/pprof/); empty
	// turns them off.
	PprofAddr string
	// LeaderElection makes only one of several replicas reconcile at a
	// time. A single local process does not need it.
	LeaderElection bool
	// LeaderElectionNamespace holds the election's Lease.
	LeaderElectionNamespace string
	// CacheDir holds the shared Git mirrors; it survives restarts so that a
	// restart does not re-clone every repository.
	CacheDir string
	// WebhookReceiverAddr is where push notifications are received
	// (/webhooks/<project>/github|registry); empty turns the receiver off.
	WebhookReceiverAddr string
	// GitCAFile is a PEM bundle git trusts for HTTPS instead of the
	// system's, for Git hosts with a private CA.
	GitCAFile string
	// RegistryTransport holds the base settings (such as TLS) of registry
	// and chart repository requests; nil means the default transport. It
	// is cloned and dials through Egress.
	RegistryTransport *http.Transport
	// StageHistoryLimit bounds each Stage's status.history;
	// promotion.DefaultHistoryLimit when zero.
	StageHistoryLimit int
	// PromotionRunningAfter is how long a Promotion runs before its Running
	// phase is written on its own; promotion.DefaultRunningAfter when zero.
	PromotionRunningAfter time.Duration
	// ArgoCDNamespace is where Argo CD Applications live when a Stage's
	// update names no namespace; "argocd" when empty.
	ArgoCDNamespace string
	// ArgoCDLiveHealth reads every Argo CD Application live for Stage
	// health, as kargo did before it kept a cache of them: one GET per
	// Application per Stage pass. The benchmarks compare the two.
	ArgoCDLiveHealth bool
	// Egress is the outbound address policy of every connection the
	// controllers make for a spec (Git, registries, Helm repositories,
	// verification checks); nil means egress.New with no rules, which
	// reaches public addresses only.
	Egress *egress.Policy
	// MaxHelmIndexBytes bounds one Helm repository's index.yaml;
	// helmrepo.DefaultMaxIndexBytes when zero.
	MaxHelmIndexBytes int64
	// GCInterval is the time between two garbage collection passes over
	// Freight and Promotions; zero turns garbage collection off.
	GCInterval time.Duration
	// GCKeepFreight is how many Freight garbage collection keeps per
	// Warehouse, besides those in use; gc.DefaultKeepFreight when zero.
	GCKeepFreight int
	// GCKeepPromotions is how many finished Promotions garbage collection
	// keeps per Stage; gc.DefaultKeepPromotions when zero.
	GCKeepPromotions int
	// ShardName and ShardSelector make this controller set one of several,
	// owning the Projects the label selector selects (internal/shard);
	// both empty make it the installation's default set, which owns the
	// projects no named set has claimed. A named set elects its leader
	// with a Lease of its own.
	ShardName, ShardSelector string
	// InProcessSet lets this manager run beside another one in the same
	// process (tests of several controller sets): controller-runtime
	// otherwise refuses a second controller of the same name.
	InProcessSet bool
	// AuditKeep is how many AuditRecords each project keeps;
	// audit.DefaultKeep when zero. The oldest are deleted every
	// GCInterval.
	AuditKeep int
	// AuditMaxAge is the age past which an AuditRecord is deleted;
	// audit.DefaultMaxAge when zero, no bound when negative.
	AuditMaxAge time.Duration
	// NotificationBackoff is the wait after a first failed delivery of a
	// notification, doubled with each further failure up to ten minutes;
	// notification.DefaultBackoffBase when zero.
	NotificationBackoff time.Duration
	// Webhooks configures the admission webhook server; nil leaves it off
	// (and kargo's access rules unenforced), which only tests of the
	// controllers alone should do.
	Webhooks *webhook.Options
}

// Manager is the controller manager with kargo's parts that callers wait
// on.
type Manager struct {
	manager.Manager
	// Webhooks is the admission webhook server, nil when it is off.
	Webhooks *webhook.Server
}

// NewManager returns a manager with every kargo controller registered and,
// when opts.Webhooks is set, the admission webhooks registered with the API
// server (they take effect once the manager runs; see Manager.Webhooks).
func NewManager(ctx context.Context, cfg *rest.Config, opts Options) (*Manager, error) {
	s, err := scheme.New()
	if err != nil {
		return nil, err
	}
	leaseID := "kargo-controller.kargo.akuity.io"
	if opts.ShardName != "" {
		leaseID = "kargo-controller-" + opts.ShardName + ".kargo.akuity.io"
	}
	cfg = rest.CopyConfig(cfg)
	if cfg.QPS == 0 {
		// client-go's default of 5 requests a second (kargo local's
		// config has no limit of its own) would queue status writes of a
		// busy project behind each other; the API server's own fairness
		// protects it.
		cfg.QPS, cfg.Burst = 100, 200
	}
	if opts.ArgoCDNamespace == "" {
		opts.ArgoCDNamespace = argocd.DefaultNamespace
	}
	// Only credential Secrets are cached: the controller needs them on
	// every poll, and caching every Secret of a cluster would cost memory
	// and rights it does not need.
	byObject := map[client.Object]cache.ByObject{
		&corev1.Secret{}: {Label: credentialSecrets},
	}
	apps := appWatch{}
	if apps.namespaces, apps.ok, err = argocd.WatchScope(ctx, cfg, opts.ArgoCDNamespace); err != nil {
		return nil, err
	}
	if len(apps.namespaces) > 0 {
		// A namespace-scoped watch: the only one kargo may keep.
		scoped := map[string]cache.Config{}
		for _, ns := range apps.namespaces {
			scoped[ns] = cache.Config{}
		}
		byObject[&argocdv1.Application{}] = cache.ByObject{Namespaces: scoped}
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme: s,
		// No controller reads managedFields; dropping them from the cache
		// saves memory in proportion to every object cached.
		Cache:                   cache.Options{ByObject: byObject, DefaultTransform: cache.TransformStripManagedFields()},
		Metrics:                 metricsserver.Options{BindAddress: opts.MetricsAddr},
		HealthProbeBindAddress:  opts.HealthAddr,
		PprofBindAddress:        opts.PprofAddr,
		LeaderElection:          opts.LeaderElection,
		LeaderElectionID:        leaseID,
		LeaderElectionNamespace: opts.LeaderElectionNamespace,
		// The process ends when the manager stops, so the Lease can be
		// given up at once: a rolling update hands over without waiting
		// for it to expire.
		LeaderElectionReleaseOnCancel: true,
		Controller:                    ctrlconfig.Controller{SkipNameValidation: &opts.InProcessSet},
	})
	if err != nil {
		return nil, fmt.Errorf("create controller manager: %w", err)
	}
	if err := setupControllers(mgr, opts, apps); err != nil {
		return nil, err
	}
	m := &Manager{Manager: mgr}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return nil, fmt.Errorf("add health check: %w", err)
	}
	if opts.Webhooks != nil {
		if m.Webhooks, err = webhook.Setup(ctx, mgr, *opts.Webhooks); err != nil {
			return nil, err
		}
		// A replica takes traffic once its webhooks serve with a
		// certificate: they fail closed, so a replica that cannot answer
		// them must not be sent any.
		if err := mgr.AddReadyzCheck("webhooks", m.Webhooks.Check); err != nil {
			return nil, fmt.Errorf("add readiness check: %w", err)
		}
	}
	// The webhooks and every reconciler read the informer cache: a
	// replica answers from it only once it has synced.
	if err := mgr.AddReadyzCheck("caches", func(r *http.Request) error {
		ctx, cancel := context.WithTimeout(r.Context(), time.Second)
		defer cancel()
		if !mgr.GetCache().WaitForCacheSync(ctx) {
			return errors.New("informer caches not synced yet")
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("add readiness check: %w", err)
	}
	return m, nil
}

// appWatch is where the manager's cache watches Argo CD Applications:
// nowhere unless ok; every namespace when namespaces is empty.
type appWatch struct {
	namespaces []string
	ok         bool
}

// setupControllers registers every kargo controller, with the artifact
// sources they share: one Git cache, one image client and one chart client
// per process, so that all Warehouses share listings and per-host budgets.
func setupControllers(mgr manager.Manager, opts Options, apps appWatch) error {
	cacheDir := opts.CacheDir
	if cacheDir == "" {
		dir, err := os.UserCacheDir()
		if err != nil {
			dir = os.TempDir()
		}
		cacheDir = filepath.Join(dir, "kargo")
	}
	// One throttle per process: image and chart discovery in one registry
	// draw on one request budget per host.
	budget := throttle.New(throttle.Options{})
	policy := opts.Egress
	if policy == nil {
		policy = egress.New(egress.Options{})
	}
	images := image.NewClient(image.Options{Throttle: budget, Transport: opts.RegistryTransport, Egress: policy})
	// One Git cache for discovery and promotion: a promotion reuses the
	// mirror discovery keeps, and never clones.
	gitCache := git.NewCache(filepath.Join(cacheDir, "git"), git.Options{CAFile: opts.GitCAFile, Egress: policy, CheckoutMaxAge: git.DefaultCheckoutMaxAge})
	creds := credentials.KubernetesStore{
		Client: mgr.GetClient(),
		// GitHub App credentials become installation tokens through the
		// REST API, reached like every other source: through the policy.
		GitHubApps: &githubapp.Exchanger{Client: &http.Client{Transport: policy.Transport(nil), Timeout: 30 * time.Second}},
	}
	disc := &discovery.Discoverer{
		Git:    gitCache,
		Images: images,
		Charts: helmrepo.NewClient(helmrepo.Options{
			Images: images, Throttle: budget, Transport: opts.RegistryTransport, Egress: policy,
			MaxIndexBytes: opts.MaxHelmIndexBytes,
			MaxIndexHint:  "the controller's --max-helm-index-size raises the limit",
		}),
		Credentials: creds,
	}
	owned, err := shard.New(opts.ShardName, opts.ShardSelector, mgr.GetClient())
	if err != nil {
		return err
	}
	if err := index.Register(context.Background(), mgr.GetFieldIndexer()); err != nil {
		return err
	}
	producer := &freight.Producer{Client: mgr.GetClient(), Reader: mgr.GetAPIReader()}
	warehouses := &warehouse.Reconciler{
		Client: mgr.GetClient(),
		Poller: &poll.Poller{Discoverer: disc, Producer: producer, Recorder: mgr.GetEventRecorder("kargo-warehouse-controller")},
		Shard:  owned,
	}
	if err := warehouses.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("set up Warehouse controller: %w", err)
	}
	argoNS := opts.ArgoCDNamespace
	// Health reads Applications from the cache the Stage controller's
	// watch keeps, and live only while the cache holds one older than
	// kargo's own last write to it (the argocd Updater tells the reader):
	// right after a promotion, the cache may still hold the Application
	// from before kargo's change, Synced and Healthy at the previous
	// revision, which would verify the new Freight where it was never
	// deployed.
	appReader := &argocd.Reader{Live: mgr.GetAPIReader(), Namespaces: apps.namespaces}
	if apps.ok && !opts.ArgoCDLiveHealth {
		appReader.Cache = mgr.GetCache()
	}
	verifier := &verification.Verifier{
		Client:  mgr.GetClient(),
		Secrets: mgr.GetAPIReader(),
		Health: func(ctx context.Context, st *kargoapi.Stage) kargoapi.Health {
			return argocd.Health(ctx, appReader, st, argoNS)
		},
		HTTP: httpcheck.NewClient(httpcheck.ClientOptions{Egress: policy}),
	}
	// Analysis needs Argo Rollouts' AnalysisRun type; without it, a Stage
	// that names analysis templates is told so.
	if _, err := mgr.GetRESTMapper().RESTMapping(analysis.RunGVK.GroupKind(), analysis.RunGVK.Version); err == nil {
		verifier.Analysis = &analysis.Runner{Client: mgr.GetClient()}
	}
	stageEvents := mgr.GetEventRecorder("kargo-stage-controller")
	if err := (&stage.Reconciler{
		Client:          mgr.GetClient(),
		Poller:          &poll.Poller{Discoverer: disc, Producer: producer, Recorder: stageEvents},
		Recorder:        stageEvents,
		Verifier:        verifier,
		ArgoCDNamespace: argoNS,
		// Without a watch, the Verifier looks at health periodically.
		WatchApplications: apps.ok,
		Shard:             owned,
	}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("set up Stage controller: %w", err)
	}
	argoUpdater := &argocd.Updater{Client: mgr.GetClient(), DefaultNamespace: argoNS, Written: appReader}
	if err := (&promotion.Reconciler{
		Client: mgr.GetClient(),
		Reader: mgr.GetAPIReader(),
		Lander: &promote.Promoter{Git: gitCache, Credentials: creds},
		Steps: &engine.Engine{Reader: mgr.GetClient(), Steps: steps.New(steps.Deps{
			Git:         gitCache,
			Credentials: creds,
			Client:      mgr.GetClient(),
			ArgoCD:      argoUpdater,
			Forges:      &forge.Forges{Credentials: creds, Egress: policy},
			Egress:      policy,
			Metadata: struct {
				client.Reader
				client.StatusClient
			}{mgr.GetAPIReader(), mgr.GetClient()},
		})},
		WorkDir:      filepath.Join(cacheDir, "promotions"),
		Recorder:     mgr.GetEventRecorder("kargo-promotion-controller"),
		HistoryLimit: opts.StageHistoryLimit,
		RunningAfter: opts.PromotionRunningAfter,
		Shard:        owned,
	}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("set up Promotion controller: %w", err)
	}
	if opts.GCInterval > 0 {
		policy := gc.Policy{KeepFreight: opts.GCKeepFreight, KeepPromotions: opts.GCKeepPromotions}
		if policy.KeepFreight < 1 {
			policy.KeepFreight = gc.DefaultKeepFreight
		}
		if policy.KeepPromotions < 1 {
			policy.KeepPromotions = gc.DefaultKeepPromotions
		}
		if err := mgr.Add(&gc.Collector{
			Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("kargo-gc"), Policy: policy, Interval: opts.GCInterval,
			Shard: owned,
		}); err != nil {
			return fmt.Errorf("add garbage collection: %w", err)
		}
		if err := mgr.Add(&audit.Retention{
			Reader: mgr.GetAPIReader(), Writer: mgr.GetClient(),
			Keep: opts.AuditKeep, MaxAge: opts.AuditMaxAge, Interval: opts.GCInterval,
		}); err != nil {
			return fmt.Errorf("add audit retention: %w", err)
		}
	}
	if err := (&notification.Reconciler{
		Client: mgr.GetClient(), Reader: mgr.GetAPIReader(), Sender: notify.NewSender(policy),
		BackoffBase: opts.NotificationBackoff,
	}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("set up NotificationSubscription controller: %w", err)
	}
	if err := (&project.Reconciler{
		Client:   mgr.GetClient(),
		Recorder: mgr.GetEventRecorder("kargo-project-controller"),
		Shard:    owned,
	}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("set up Project controller: %w", err)
	}
	if opts.WebhookReceiverAddr != "" {
		// The receiver's secrets come from a cache of their own, so that
		// requests nobody signed cost the API server nothing.
		secrets, err := webhookreceiver.NewSecretCache(mgr.GetConfig(), cache.Options{
			Scheme: mgr.GetScheme(), Mapper: mgr.GetRESTMapper(), HTTPClient: mgr.GetHTTPClient(),
		})
		if err != nil {
			return err
		}
		// Registered now, the informer fills when the manager starts
		// rather than on the first request.
		if _, err := secrets.GetInformer(context.Background(), &corev1.Secret{}, cache.BlockUntilSynced(false)); err != nil {
			return fmt.Errorf("watch webhook receiver secrets: %w", err)
		}
		if err := mgr.Add(secrets); err != nil {
			return fmt.Errorf("add webhook receiver secret cache: %w", err)
		}
		srv := &http.Server{
			Addr:              opts.WebhookReceiverAddr,
			Handler:           &webhookreceiver.Receiver{Client: mgr.GetClient(), Secrets: secrets, Shard: owned, Refreshed: warehouses.Refresh},
			ReadHeaderTimeout: 10 * time.Second,
		}
		if err := mgr.Add(&httpServer{srv: srv}); err != nil {
			return fmt.Errorf("add webhook receiver: %w", err)
		}
	}
	return nil
}

// httpServer runs an HTTP server for as long as the manager runs.
type httpServer struct{ srv *http.Server }

func (h *httpServer) Start(ctx context.Context) error {
	l, err := net.Listen("tcp", h.srv.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s for webhooks: %w", h.srv.Addr, err)
	}
	errc := make(chan error, 1)
	go func() { errc <- h.srv.Serve(l) }()
	select {
	case <-ctx.Done():
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return h.srv.Shutdown(shutdown)
	case err := <-errc:
		return fmt.Errorf("serve webhooks on %s: %w", h.srv.Addr, err)
	}
}
