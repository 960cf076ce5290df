package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/scheme"
)

func newVerifyCommand() *cobra.Command {
	var project, kubeconfig string
	var abort bool
	verify := &cobra.Command{
		Use:   "verify",
		Short: "Verify Freight in a Stage again, or stop a verification",
	}
	stage := &cobra.Command{
		Use:   "stage NAME",
		Short: "Verify a Stage's current Freight again, or abort its running verification",
		Long: `Ask kargo to verify the Stage's current Freight again (its health and every
check of spec.verification), or with --abort to stop the verification that is
running. The Stage's status.verification shows the outcome; earlier ones move
to status.verificationHistory.`,
		Example: `  kargo verify stage uat --project kargo-demo
  kargo verify stage uat --project kargo-demo --abort`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if project == "" {
				return usageError{errors.New("say which project the Stage is in with --project")}
			}
			cfg, err := kubeConfig(kubeconfig)
			if err != nil {
				return err
			}
			s, err := scheme.New()
			if err != nil {
				return err
			}
			c, err := client.New(cfg, client.Options{Scheme: s})
			if err != nil {
				return fmt.Errorf("connect to the cluster: %w", err)
			}
			key, what := kargoapi.ReverifyAnnotationKey, "re-verification"
			if abort {
				key, what = kargoapi.AbortVerificationAnnotationKey, "abort of the verification"
			}
			// A new token each time: the controller acts on each value once.
			patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{
				key: time.Now().UTC().Format(time.RFC3339Nano),
			}}})
			if err != nil {
				return err
			}
			st := &kargoapi.Stage{}
			st.Name, st.Namespace = args[0], project
			if err := c.Patch(cmd.Context(), st, client.RawPatch("application/merge-patch+json", patch)); err != nil {
				if apierrors.IsNotFound(err) {
					return fmt.Errorf("Stage %q not found in project %q (kargo get stages --project %s lists them)", args[0], project, project)
				}
				return fmt.Errorf("ask for the %s of Stage %s: %w", what, args[0], err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s of Stage %s requested; follow it in its status.verification\n", what, args[0])
			return nil
		},
	}
	stage.Flags().StringVar(&project, "project", "", "project of the Stage")
	stage.Flags().BoolVar(&abort, "abort", false, "stop the running verification instead")
	stage.Flags().StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig file (default $KUBECONFIG, ~/.kube/config or in-cluster)")
	verify.AddCommand(stage)
	return verify
}

// kubeConfig loads the connection from path, or the usual places.
func kubeConfig(path string) (*rest.Config, error) {
	if path != "" {
		cfg, err := clientcmd.BuildConfigFromFlags("", path)
		if err != nil {
			return nil, fmt.Errorf("load kubeconfig %s: %w", path, err)
		}
		return cfg, nil
	}
	cfg, err := ctrl.GetConfig()
	if err != nil {
		return nil, fmt.Errorf("find the cluster (set --kubeconfig or $KUBECONFIG): %w", err)
	}
	return cfg, nil
}
