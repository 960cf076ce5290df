package localcp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/kargohq/kargo/internal/install"
)

// ArgoRolloutsCRDFiles are the CRDs of Argo Rollouts' analysis, as
// hack/rollouts-bins.sh copies them out of Argo Rollouts' module into
// crds/. Rollout and Experiment are left out: kargo uses neither, the
// analysis controller does not watch them, and their pod-template schemas
// are the largest of the five.
var ArgoRolloutsCRDFiles = []string{
	"analysis-template-crd.yaml",
	"cluster-analysis-template-crd.yaml",
	"analysis-run-crd.yaml",
}

// ArgoRolloutsServiceAccount is the identity Argo Rollouts' controller runs
// with on a cluster (its install manifests' ServiceAccount argo-rollouts in
// namespace argo-rollouts); StartArgoRollouts binds Argo Rollouts' own
// ClusterRole to it.
var ArgoRolloutsServiceAccount = struct{ Namespace, Name string }{"argo-rollouts", "argo-rollouts"}

// ArgoRolloutsUser returns the user name and groups the API server gives
// ArgoRolloutsServiceAccount's tokens, for a connection made in its name.
func ArgoRolloutsUser() (string, []string) {
	sa := ArgoRolloutsServiceAccount
	return "system:serviceaccount:" + sa.Namespace + ":" + sa.Name,
		[]string{"system:serviceaccounts", "system:serviceaccounts:" + sa.Namespace, "system:authenticated"}
}

// ArgoRolloutsOptions configure a real Argo Rollouts controller, built by
// hack/rollouts-bins.sh, run as a child process against an API server.
type ArgoRolloutsOptions struct {
	// BinDir is what hack/rollouts-bins.sh prints: rollouts-controller,
	// crds/ and role/.
	BinDir string
	// Config connects as an administrator, to install Argo Rollouts' CRDs,
	// its namespace and its ClusterRole and binding.
	Config *rest.Config
	// ControllerConfig is the connection the controller runs with: on a
	// cluster, ArgoRolloutsServiceAccount with Argo Rollouts' ClusterRole
	// (see ArgoRolloutsUser). Nil means Config.
	ControllerConfig *rest.Config
	// StateDir holds the controller's log (rollouts-controller.log) and
	// the kubeconfig written for it.
	StateDir string
	// Log receives a line per step; nil discards them.
	Log io.Writer
}

// ArgoRollouts is a running Argo Rollouts controller. Stop it when done.
type ArgoRollouts struct {
	// Version is what the controller reports, such as v1.10.2.
	Version string

	log      io.Writer
	ctrl     *child
	stopOnce sync.Once
	stopErr  error
}

// argoRolloutsReadyTimeout bounds the controller's start; it answers its
// health check within a second on a quiet machine.
const argoRolloutsReadyTimeout = 2 * time.Minute

// StartArgoRollouts installs Argo Rollouts' analysis CRDs, its namespace
// and its own ClusterRole (bound to ArgoRolloutsServiceAccount), and starts
// its controller with only the analysis controller enabled (AnalysisRuns
// are all kargo creates), returning once it answers its health check. It
// fails with a message saying what to do when the binary is missing.
func StartArgoRollouts(ctx context.Context, o ArgoRolloutsOptions) (*ArgoRollouts, error) {
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.ControllerConfig == nil {
		o.ControllerConfig = o.Config
	}
	bin := filepath.Join(o.BinDir, "rollouts-controller")
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("Argo Rollouts binaries in %q: no rollouts-controller; build it with `make rollouts-bins` (hack/rollouts-bins.sh)", o.BinDir)
	}
	if err := os.MkdirAll(o.StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("create Argo Rollouts state dir: %w", err)
	}
	if err := installArgoRollouts(ctx, o); err != nil {
		return nil, err
	}
	kubeconfig := filepath.Join(o.StateDir, "kubeconfig")
	if err := writeRESTKubeconfig(kubeconfig, o.ControllerConfig); err != nil {
		return nil, err
	}
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	healthz, metrics := ports[0], ports[1]
	env := append(withoutEtcdEnv(os.Environ()),
		// Argo Rollouts reads its own namespace here when not in a pod.
		"POD_NAMESPACE="+ArgoRolloutsServiceAccount.Namespace)
	// Its health and metrics servers listen on every address: it has no
	// flag for one.
	ctrl, err := startChild("rollouts-controller", bin, []string{
		"--kubeconfig", kubeconfig, "--controllers", "analysis", "--leader-elect=false",
		"--healthzPort", strconv.Itoa(healthz), "--metricsPort", strconv.Itoa(metrics),
		"--logformat", "text",
	}, env, o.StateDir, o.StateDir)
	if err != nil {
		return nil, err
	}
	r := &ArgoRollouts{log: o.Log, ctrl: ctrl}
	fmt.Fprintf(o.Log, "argo-rollouts: started rollouts-controller (pid %d, log %s)\n", ctrl.cmd.Process.Pid, ctrl.logPath)
	httpc := &http.Client{Timeout: probeBudget}
	err = waitReady(ctx, ctrl, argoRolloutsReadyTimeout, func(ctx context.Context) error {
		return get(ctx, httpc, fmt.Sprintf("http://127.0.0.1:%d/healthz", healthz))
	}, func(format string, args ...any) { fmt.Fprintf(o.Log, "argo-rollouts: "+format+"\n", args...) })
	if err != nil {
		return nil, errors.Join(err, r.Stop())
	}
	r.Version = ArgoRolloutsVersion(o.BinDir)
	return r, nil
}

// installArgoRollouts applies the analysis CRDs, Argo Rollouts' namespace,
// and its shipped ClusterRole bound to its ServiceAccount.
func installArgoRollouts(ctx context.Context, o ArgoRolloutsOptions) error {
	c, err := installClient(o.Config, "Argo Rollouts")
	if err != nil {
		return err
	}
	crds, err := ArgoRolloutsCRDs(o.BinDir)
	if err != nil {
		return err
	}
	if err := install.CRDs(ctx, c, crds, time.Minute); err != nil {
		return fmt.Errorf("install Argo Rollouts' CRDs: %w", err)
	}
	sa := ArgoRolloutsServiceAccount
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: sa.Namespace}}
	if err := c.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create namespace %s: %w", sa.Namespace, err)
	}
	role, err := argoRolloutsClusterRole(o.BinDir)
	if err != nil {
		return err
	}
	binding := &rbacv1.ClusterRoleBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRoleBinding"},
		ObjectMeta: metav1.ObjectMeta{Name: role.Name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: sa.Namespace, Name: sa.Name}},
	}
	for _, obj := range []client.Object{role, binding} {
		if err := c.Patch(ctx, obj, client.Apply, client.FieldOwner("kargo-local"), client.ForceOwnership); err != nil {
			return fmt.Errorf("apply %s %s for Argo Rollouts: %w", obj.GetObjectKind().GroupVersionKind().Kind, obj.GetName(), err)
		}
	}
	return nil
}

// ArgoRolloutsCRDs reads ArgoRolloutsCRDFiles from binDir/crds.
func ArgoRolloutsCRDs(binDir string) ([]*apiextensionsv1.CustomResourceDefinition, error) {
	return readCRDs(binDir, "Argo Rollouts", "make rollouts-bins", ArgoRolloutsCRDFiles...)
}

// argoRolloutsClusterRole reads the ClusterRole Argo Rollouts ships for its
// controller from binDir/role.
func argoRolloutsClusterRole(binDir string) (*rbacv1.ClusterRole, error) {
	path := filepath.Join(binDir, "role", "argo-rollouts-clusterrole.yaml")
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read Argo Rollouts' ClusterRole: %w; rebuild the binaries with `make rollouts-bins`", err)
	}
	role := &rbacv1.ClusterRole{}
	if err := yaml.Unmarshal(raw, role); err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	return role, nil
}

// LogPath is the controller's log file.
func (r *ArgoRollouts) LogPath() string { return r.ctrl.logPath }

// Stop stops the controller.
func (r *ArgoRollouts) Stop() error {
	r.stopOnce.Do(func() {
		_, r.stopErr = r.ctrl.stop(10 * time.Second)
	})
	return r.stopErr
}

// ArgoRolloutsVersion asks the controller in binDir for its version, for
// logs and test output.
func ArgoRolloutsVersion(binDir string) string {
	out, err := exec.Command(filepath.Join(binDir, "rollouts-controller"), "--version").Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}
