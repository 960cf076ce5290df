// Package api tests kargo's API server (internal/server) end to end: a real
// kube-apiserver with RBAC, token authentication and kargo's admission
// webhooks, users who present their own bearer tokens, and the server
// running under the kargo-api ClusterRole as on a cluster.
package api

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kargohq/kargo/internal/install"
	"github.com/kargohq/kargo/internal/server"
	"github.com/kargohq/kargo/internal/testutil/kubetest"
	"github.com/kargohq/kargo/internal/testutil/kubetest/controllers"
)

// serverIdentity is the name the API server's ServiceAccount has on a
// cluster install.
const serverIdentity = "system:serviceaccount:" + install.Namespace + ":kargo-api"

var (
	env *kubetest.Env
	// apiURL is where the API server under test listens.
	apiURL string
	// apiServer is the server under test.
	apiServer *server.Server
)

func TestMain(m *testing.M) {
	kubetest.Main(m, &env, controllers.Run, startAPIServer)
}

// startAPIServer runs the API server with only the kargo-api ClusterRole
// bound to its identity, so that a right missing from that role fails
// here.
func startAPIServer(e *kubetest.Env) (func(), error) {
	ctx, cancel := context.WithCancel(context.Background())
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "kargo-api"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "kargo-api"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "kargo-api", Namespace: install.Namespace}},
	}
	if err := e.Admin.Create(ctx, binding); err != nil && !apierrors.IsAlreadyExists(err) {
		cancel()
		return nil, fmt.Errorf("bind kargo-api: %w", err)
	}
	cfg, err := e.UserConfig(serverIdentity, "system:serviceaccounts", "system:serviceaccounts:"+install.Namespace, "system:authenticated")
	if err != nil {
		cancel()
		return nil, err
	}
	srv, err := server.New(server.Options{Config: cfg, Addr: "127.0.0.1:0"})
	if err != nil {
		cancel()
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- srv.Start(ctx) }()
	select {
	case <-srv.Ready():
	case err := <-done:
		cancel()
		return nil, fmt.Errorf("API server stopped before it was ready: %w", err)
	case <-time.After(time.Minute):
		cancel()
		return nil, errors.New("API server not ready after a minute")
	}
	apiServer = srv
	apiURL = "http://" + srv.Addr().String()
	return func() {
		cancel()
		if err := <-done; err != nil {
			fmt.Fprintf(os.Stderr, "API server: %v\n", err)
		}
	}, nil
}
