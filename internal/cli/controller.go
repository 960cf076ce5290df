package cli

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kargohq/kargo/internal/audit"
	"github.com/kargohq/kargo/internal/controller/gc"
	"github.com/kargohq/kargo/internal/install"
	"github.com/kargohq/kargo/internal/manager"
	"github.com/kargohq/kargo/internal/scheme"
	"github.com/kargohq/kargo/internal/webhook"
	"github.com/kargohq/kargo/internal/webhook/analysisrun"
)

func newControllerCommand() *cobra.Command {
	opts := manager.Options{Webhooks: &webhook.Options{}}
	var (
		installFirst bool
		outbound     egressFlags
		logs         logFlags
	)
	cmd := &cobra.Command{
		Use:   "controller",
		Short: "Run kargo's controllers against a cluster",
		Long: `Run kargo's controllers against the cluster named by --kubeconfig, $KUBECONFIG,
or the in-cluster service account. This is what a cluster install runs.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if err := logs.setup(cmd.ErrOrStderr()); err != nil {
				return err
			}
			maxIndex, err := outbound.maxHelmIndexBytes()
			if err != nil {
				return err
			}
			opts.MaxHelmIndexBytes = maxIndex
			opts.Egress = outbound.policy()
			cfg, err := ctrl.GetConfig()
			if err != nil {
				return fmt.Errorf("find cluster: %w", err)
			}
			if installFirst {
				s, err := scheme.New()
				if err != nil {
					return err
				}
				c, err := client.New(cfg, client.Options{Scheme: s})
				if err != nil {
					return fmt.Errorf("connect to cluster: %w", err)
				}
				if err := install.All(ctx, c, time.Minute); err != nil {
					return err
				}
			}
			if opts.Webhooks.Addr == "0" {
				// Another set of the installation serves them.
				opts.Webhooks = nil
			}
			mgr, err := manager.NewManager(ctx, cfg, opts)
			if err != nil {
				return err
			}
			return mgr.Start(ctx)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.MetricsAddr, "metrics-addr", ":8080", `address of the Prometheus metrics endpoint; "0" turns it off`)
	f.StringVar(&opts.HealthAddr, "health-addr", ":8081", `address of /healthz and /readyz; "0" turns them off`)
	f.StringVar(&opts.PprofAddr, "pprof-addr", "", `address of Go's profiles (/debug/pprof/); "" turns them off`)
	f.BoolVar(&opts.ArgoCDLiveHealth, "argocd-live-health", false, "read Argo CD Applications live for Stage health, one GET per Application per Stage pass, instead of from the controller's watch of them")
	f.BoolVar(&opts.LeaderElection, "leader-elect", false, "elect one active replica when several run")
	f.StringVar(&opts.LeaderElectionNamespace, "leader-election-namespace", "", "namespace of the leader election Lease (default: the pod's namespace)")
	f.StringVar(&opts.CacheDir, "cache-dir", "", "directory for shared Git mirrors (default: the user cache directory)")
	f.StringVar(&opts.WebhookReceiverAddr, "webhook-addr", ":8082", `address of the push-notification receiver (/webhooks/<project>/<provider>: github, gitlab, bitbucket, gitea, forgejo, azuredevops, dockerhub, quay, harbor, artifactory, registry, generic); "" turns it off`)
	f.StringVar(&opts.GitCAFile, "git-ca-file", "", "PEM bundle git trusts for HTTPS instead of the system's")
	f.IntVar(&opts.StageHistoryLimit, "stage-history-limit", 10, "how many Freight of each origin each Stage's status.history keeps")
	f.StringVar(&opts.Webhooks.Addr, "admission-addr", webhook.DefaultAddr, `address of the admission webhook server (HTTPS, with a certificate kargo issues itself); "0" turns it off, for a controller set of a sharded installation whose default set serves the webhooks`)
	f.StringVar(&opts.ShardName, "shard-name", "", "name of this controller set in an installation of several (docs/sharding.md); needs --shard-selector")
	f.StringVar(&opts.ShardSelector, "shard-selector", "", `label selector of the Projects this controller set owns, such as "kargo.akuity.io/shard=b"; needs --shard-name. Without both, the set owns every project no named set has claimed`)
	f.StringVar(&opts.Webhooks.Namespace, "namespace", envOr("POD_NAMESPACE", install.Namespace), "namespace of the controller: holds its webhook certificate Secret and Service (default $POD_NAMESPACE, else kargo)")
	f.StringVar(&opts.Webhooks.Service, "admission-service", "kargo-webhooks", `Service in --namespace through which the API server reaches the admission webhooks; "" makes it call --admission-addr directly`)
	f.StringSliceVar(&opts.Webhooks.AnalysisRunWriters, "argo-rollouts-user", []string{analysisrun.DefaultWriter}, "username of Argo Rollouts' controller, which alone (with kargo's controller) may write the AnalysisRuns of kargo's verifications; repeat for several")
	f.StringVar(&opts.ArgoCDNamespace, "argocd-namespace", "argocd", "namespace of Argo CD Applications that a Stage's argoCDAppUpdates name without appNamespace")
	f.DurationVar(&opts.GCInterval, "gc-interval", 10*time.Minute, "time between two garbage collection passes over Freight and Promotions; 0 turns garbage collection off")
	f.IntVar(&opts.GCKeepFreight, "gc-keep-freight", gc.DefaultKeepFreight, "Freight kept per Warehouse by garbage collection, newest first, besides Freight in use (a Project's kargo.akuity.io/keep-freight annotation overrides it)")
	f.IntVar(&opts.GCKeepPromotions, "gc-keep-promotions", gc.DefaultKeepPromotions, "finished Promotions kept per Stage by garbage collection, newest first (a Project's kargo.akuity.io/keep-promotions annotation overrides it)")
	f.IntVar(&opts.AuditKeep, "audit-keep", audit.DefaultKeep, "AuditRecords kept per project, newest first; older ones are deleted every --gc-interval")
	f.DurationVar(&opts.AuditMaxAge, "audit-max-age", audit.DefaultMaxAge, "age past which an AuditRecord is deleted (a negative duration, such as -1s, keeps them until --audit-keep is reached)")
	outbound.register(f)
	logs.register(f)
	f.BoolVar(&installFirst, "install", false, "install or upgrade the CRDs and pre-defined ClusterRoles before starting")
	return cmd
}

// envOr returns the environment variable key, or def when it is unset.
func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
