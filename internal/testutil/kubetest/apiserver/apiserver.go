// Package apiserver runs kargo's API server (internal/server) beside a
// kubetest environment, as a cluster install runs it: under the kargo-api
// ServiceAccount with only the shipped kargo-api ClusterRole bound, so that
// a right missing from that role fails tests rather than users. Tests talk
// to it over loopback with the test users' bearer tokens (kubetest.Token).
//
// It is a package of its own, like kubetest/controllers, so that kubetest
// does not depend on the server. The server needs kargo's admission
// webhooks for the writes it makes as its callers; run controllers.Run
// before it.
package apiserver

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/kargohq/kargo/internal/install"
	"github.com/kargohq/kargo/internal/server"
	"github.com/kargohq/kargo/internal/testutil/kubetest"
)

// ServiceAccount is the identity the API server runs as: the name a cluster
// install's ServiceAccount kargo/kargo-api has.
const ServiceAccount = "system:serviceaccount:" + install.Namespace + ":kargo-api"

// readyTimeout bounds how long Start waits for the server's cache to fill.
const readyTimeout = time.Minute

// Server is kargo's API server running against a kubetest environment.
type Server struct {
	*server.Server
	// URL is where it serves: http://127.0.0.1:PORT, or https:// with TLS.
	URL string

	cancel context.CancelFunc
	done   chan error
}

// Config binds the shipped kargo-api ClusterRole to ServiceAccount, as
// charts/kargo does, and returns a connection that authenticates as it.
// Binding again is harmless, so every server of a package may call it.
func Config(e *kubetest.Env) (*rest.Config, error) {
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "kargo-api"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "kargo-api"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "kargo-api", Namespace: install.Namespace}},
	}
	if err := e.Admin.Create(context.Background(), binding); err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, fmt.Errorf("bind the kargo-api ClusterRole: %w", err)
	}
	return e.UserConfig(ServiceAccount, "system:serviceaccounts", "system:serviceaccounts:"+install.Namespace, "system:authenticated")
}

// Start runs an API server against e with opts and returns once it serves.
// Options.Config defaults to Config(e) and Options.Addr to a free port on
// 127.0.0.1. Stop it with Stop.
func Start(e *kubetest.Env, opts server.Options) (*Server, error) {
	if opts.Config == nil {
		cfg, err := Config(e)
		if err != nil {
			return nil, err
		}
		opts.Config = cfg
	}
	srv, err := server.New(opts)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Start(ctx) }()
	select {
	case <-srv.Ready():
	case err := <-done:
		cancel()
		return nil, fmt.Errorf("the kargo API server stopped before it was ready: %w", err)
	case <-time.After(readyTimeout):
		cancel()
		<-done
		return nil, errors.New("the kargo API server was not ready after a minute: its cache did not fill")
	}
	scheme := "http"
	if opts.TLS != nil {
		scheme = "https"
	}
	return &Server{Server: srv, URL: scheme + "://" + srv.Addr().String(), cancel: cancel, done: done}, nil
}

// Stop stops the server, ending its watches, and returns what it stopped
// with.
func (s *Server) Stop() error {
	s.cancel()
	return <-s.done
}

// Run returns a function for kubetest.Main's before list that starts a
// server with the default options and stores it in *srv for the package's
// tests:
//
//	kubetest.Main(m, &env, controllers.Run, apiserver.Run(&api))
func Run(srv **Server) func(*kubetest.Env) (func(), error) {
	return func(e *kubetest.Env) (func(), error) {
		s, err := Start(e, server.Options{})
		if err != nil {
			return nil, err
		}
		*srv = s
		return func() {
			if err := s.Stop(); err != nil {
				fmt.Fprintf(os.Stderr, "kargo API server: %v\n", err)
			}
		}, nil
	}
}
