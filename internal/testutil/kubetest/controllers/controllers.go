// Package controllers runs kargo's controller manager beside a kubetest
// environment, for integration tests of controllers end to end. It is a
// package of its own so that kubetest does not depend on the controllers.
package controllers

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kargohq/kargo/internal/egress"
	"github.com/kargohq/kargo/internal/install"
	"github.com/kargohq/kargo/internal/manager"
	"github.com/kargohq/kargo/internal/testutil/kubetest"
	"github.com/kargohq/kargo/internal/webhook"
)

// ServiceAccount is the identity the controllers run as: the name a
// cluster install's ServiceAccount kargo/kargo-controller has.
const ServiceAccount = "system:serviceaccount:" + install.Namespace + ":kargo-controller"

// egressPolicy is the outbound address policy of the controllers Run
// starts. It is that of a cluster install (public addresses only) until a
// test allows its own servers with AllowOutbound.
var egressPolicy = egress.New(egress.Options{})

// AllowOutbound lets the controllers connect to addrs (test servers on
// loopback, by address and port such as "127.0.0.1:41234") until t ends,
// through the --allow-outbound mechanism of a real install: the policy
// stays on, and every other loopback address stays refused.
func AllowOutbound(t testing.TB, addrs ...string) {
	t.Helper()
	rules, err := egress.ParseRules(strings.Join(addrs, ","))
	if err != nil {
		t.Fatalf("allow outbound connections to %v: %v", addrs, err)
	}
	t.Cleanup(egressPolicy.Allow(rules...))
}

// ReceiverURL is the base URL of the webhook receiver of the controllers
// Run started (post to ReceiverURL + "/webhooks/<project>/github"), as a
// cluster install runs it: in the controller manager's process.
var ReceiverURL string

// freeAddr returns a loopback address with a port nobody listens on now.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// Run starts every kargo controller and the admission webhooks against e,
// with the Git cache in a temporary directory, and returns once the webhooks
// serve; pass it to kubetest.Main. The returned function stops them.
//
// They run as ServiceAccount with only the shipped kargo-controller roles
// bound, as on a cluster, so a right missing from those roles fails tests
// here rather than on a user's cluster.
func Run(e *kubetest.Env) (func(), error) { return run(e, nil) }

// RunWith is Run with tune applied to the controllers' options first.
func RunWith(tune func(*manager.Options)) func(*kubetest.Env) (func(), error) {
	return func(e *kubetest.Env) (func(), error) { return run(e, tune) }
}

func run(e *kubetest.Env, tune func(*manager.Options)) (func(), error) {
	// The tests assert on what the controllers do, not on their logs.
	ctrl.SetLogger(logr.Discard())
	ctx, cancel := context.WithCancel(context.Background())
	cfg, err := bindControllerRoles(ctx, e)
	if err != nil {
		cancel()
		return nil, err
	}
	dir, err := os.MkdirTemp("", "kargo-controllers-")
	if err != nil {
		cancel()
		return nil, err
	}
	receiver, err := freeAddr()
	if err != nil {
		cancel()
		return nil, fmt.Errorf("webhook receiver address: %w", err)
	}
	ReceiverURL = "http://" + receiver
	opts := manager.Options{
		MetricsAddr: "0", HealthAddr: "0", CacheDir: dir, WebhookReceiverAddr: receiver,
		Webhooks: &webhook.Options{Addr: "127.0.0.1:0", Namespace: install.Namespace},
		Egress:   egressPolicy,
		// A receiver that fails and recovers is retried within a test's
		// patience, not after the minutes a cluster waits.
		NotificationBackoff: 100 * time.Millisecond,
	}
	if tune != nil {
		tune(&opts)
	}
	mgr, err := manager.NewManager(ctx, cfg, opts)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("controller manager: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	select {
	case <-mgr.Webhooks.Ready():
	case err := <-done:
		cancel()
		return nil, fmt.Errorf("controller manager stopped before its webhooks served: %w", err)
	}
	return func() {
		cancel()
		if err := <-done; err != nil {
			fmt.Fprintf(os.Stderr, "controller manager: %v\n", err)
		}
		_ = os.RemoveAll(dir)
		_ = egressPolicy.Close()
	}, nil
}

// bindControllerRoles binds the shipped controller roles to ServiceAccount
// the way charts/kargo does, and returns a connection as it.
func bindControllerRoles(ctx context.Context, e *kubetest.Env) (*rest.Config, error) {
	subject := []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "kargo-controller", Namespace: install.Namespace}}
	bindings := []client.Object{
		&rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "kargo-controller"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "kargo-controller"},
			Subjects:   subject,
		},
		&rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "kargo-controller", Namespace: install.Namespace},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "kargo-controller-namespace"},
			Subjects:   subject,
		},
	}
	for _, b := range bindings {
		if err := e.Admin.Create(ctx, b); err != nil && !apierrors.IsAlreadyExists(err) {
			return nil, fmt.Errorf("bind controller role %s: %w", b.GetName(), err)
		}
	}
	// RBAC reads bindings from a cache: a controller started at once may
	// be refused what they grant. One right of each, asked until allowed.
	for _, attrs := range []authorizationv1.ResourceAttributes{
		{Resource: "secrets", Verb: "list"},
		{Namespace: install.Namespace, Resource: "secrets", Verb: "create"},
	} {
		if err := awaitAllowed(ctx, e, ServiceAccount, attrs); err != nil {
			return nil, err
		}
	}
	cfg, err := e.UserConfig(ServiceAccount, "system:serviceaccounts", "system:serviceaccounts:"+install.Namespace, "system:authenticated")
	if err != nil {
		return nil, err
	}
	// Tests and benchmarks count the controllers' writes (Writes).
	cfg.Wrap(writes.wrap)
	return cfg, nil
}

// awaitAllowed waits until the API server's authorizer lets user do attrs,
// 30 seconds at most.
func awaitAllowed(ctx context.Context, e *kubetest.Env, user string, attrs authorizationv1.ResourceAttributes) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		review := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{User: user, ResourceAttributes: &attrs}}
		if err := e.Admin.Create(ctx, review); err != nil {
			return fmt.Errorf("ask whether %s may %s %s: %w", user, attrs.Verb, attrs.Resource, err)
		}
		if review.Status.Allowed {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s may still not %s %s in %q 30 s after its roles were bound: %s", user, attrs.Verb, attrs.Resource, attrs.Namespace, review.Status.Reason)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// StartSet starts another set of kargo's controllers against e, with opts
// (the metrics, health, cache directory and egress options filled in), as
// user with the shipped controller roles bound to it, and stops it when t
// ends: for tests of several controller sets on one API server, such as
// shards. With opts.Webhooks it returns once they serve.
func StartSet(t testing.TB, e *kubetest.Env, user string, opts manager.Options) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	subject := []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}}
	for _, b := range []client.Object{
		&rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "kargo-controller-" + user},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "kargo-controller"},
			Subjects:   subject,
		},
		&rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "kargo-controller-" + user, Namespace: install.Namespace},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "kargo-controller-namespace"},
			Subjects:   subject,
		},
	} {
		if err := e.Admin.Create(ctx, b); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatalf("bind controller role %s: %v", b.GetName(), err)
		}
	}
	cfg, err := e.UserConfig(user, "system:authenticated")
	if err != nil {
		t.Fatalf("connect as %s: %v", user, err)
	}
	opts.MetricsAddr, opts.HealthAddr, opts.CacheDir, opts.Egress = "0", "0", t.TempDir(), egressPolicy
	opts.InProcessSet = true
	mgr, err := manager.NewManager(ctx, cfg, opts)
	if err != nil {
		cancel()
		t.Fatalf("controller manager: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("controller set %s: %v", user, err)
		}
	})
	if mgr.Webhooks != nil {
		select {
		case <-mgr.Webhooks.Ready():
		case err := <-done:
			t.Fatalf("controller set %s stopped before its webhooks served: %v", user, err)
		}
	}
}
