package access

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/testutil/kubetest"
	"github.com/kargohq/kargo/internal/testutil/objects"
)

// outcome is what happens when a user takes a path.
type outcome string

const (
	// allowed: the change is made.
	allowed outcome = "yes"
	// rbac: Kubernetes RBAC refuses before kargo is asked.
	rbac outcome = "no (RBAC)"
	// promote: RBAC lets the request through, and kargo's webhook refuses
	// it because the user lacks the promote verb on the Stage.
	promote outcome = "no (promote)"
	// kept: RBAC lets the request through, and kargo's webhook puts back
	// what it tried to change, with a warning.
	kept outcome = "no (kept)"
	// secret: kargo's webhook refuses a spec that names a Secret the user
	// may not read, since kargo's controller would read it for them.
	secret outcome = "no (Secret)"
	// conflict: kargo's webhook refuses a Stage that would write a branch
	// another Stage writes.
	conflict outcome = "no (conflict)"
	// held: kargo's webhook refuses to delete a held Stage (release it
	// first).
	held outcome = "no (held)"
	// override: kargo's webhook refuses a Promotion that overrides
	// promotion windows without the override-window verb, and any later
	// change of that request.
	override outcome = "no (override-window)"
	// approve: RBAC lets the request through, and kargo's webhook refuses
	// it because the user lacks the approve verb on the Stage.
	approve outcome = "no (approve)"
)

// errKept is what a path returns when the request was accepted with what
// it tried to change put back.
var errKept = errors.New("accepted, with the change put back")

// users are the table's columns, in order.
var users = []struct{ name, holds string }{
	{kubetest.Alice, "the seed's `alice-promoter` RoleBinding (kargo-promoter)"},
	{kubetest.Bob, "the seed's `uat-promoter` Role"},
	{carol, "a Role with every verb on every kargo kind, but no `promote`"},
	{vera, "kargo-viewer"},
	{adam, "kargo-admin"},
	{kubetest.Nobody, "no binding"},
}

// path is one way to change something, tried once per user against
// objects of the user's own, which prepare creates as the admin.
type path struct {
	what    string
	prepare func(t *testing.T, sfx string)
	act     func(ctx context.Context, c client.Client, sfx string) error
	// want lists the outcome for each of users, in order.
	want []outcome
}

func mergePatch(ctx context.Context, c client.Client, obj client.Object, patch string) error {
	return c.Patch(ctx, obj, client.RawPatch("application/merge-patch+json", []byte(patch)))
}

func statusPatch(ctx context.Context, c client.Client, obj client.Object, patch string) error {
	return c.Status().Patch(ctx, obj, client.RawPatch("application/merge-patch+json", []byte(patch)))
}

// The access model as a table: every mutating path into a project, for each
// kind of user. docs/access-control.md shows this very table; a test keeps
// the two the same.
var paths = []path{
	{
		what: "create a Warehouse",
		act: func(ctx context.Context, c client.Client, sfx string) error {
			return c.Create(ctx, objects.Warehouse(demo, "w-"+sfx))
		},
		want: []outcome{rbac, rbac, allowed, rbac, allowed, rbac},
	},
	{
		what:    "change a Warehouse",
		prepare: func(t *testing.T, sfx string) { create(t, objects.Warehouse(demo, "w-"+sfx)) },
		act: func(ctx context.Context, c client.Client, sfx string) error {
			return mergePatch(ctx, c, objects.Warehouse(demo, "w-"+sfx), `{"spec":{"interval":"2h"}}`)
		},
		want: []outcome{rbac, rbac, allowed, rbac, allowed, rbac},
	},
	{
		what:    "delete a Warehouse",
		prepare: func(t *testing.T, sfx string) { create(t, objects.Warehouse(demo, "w-"+sfx)) },
		act: func(ctx context.Context, c client.Client, sfx string) error {
			return c.Delete(ctx, objects.Warehouse(demo, "w-"+sfx))
		},
		want: []outcome{rbac, rbac, allowed, rbac, allowed, rbac},
	},
	{
		what: "change a Warehouse a Stage subscribes to",
		prepare: func(t *testing.T, sfx string) {
			create(t, objects.Warehouse(demo, "w-"+sfx))
			st := objects.Stage(demo, "s-"+sfx, objects.SubscribesTo("w"))
			st.Spec.Subscriptions.Warehouse = "w-" + sfx
			create(t, st)
		},
		act: func(ctx context.Context, c client.Client, sfx string) error {
			return mergePatch(ctx, c, objects.Warehouse(demo, "w-"+sfx), `{"spec":{"interval":"2h"}}`)
		},
		want: []outcome{rbac, rbac, promote, rbac, allowed, rbac},
	},
	{
		what: "create a Stage",
		act: func(ctx context.Context, c client.Client, sfx string) error {
			return c.Create(ctx, objects.Stage(demo, "s-"+sfx, objects.SubscribesTo("w")))
		},
		want: []outcome{rbac, rbac, promote, rbac, allowed, rbac},
	},
	{
		what:    "change a Stage's subscriptions",
		prepare: func(t *testing.T, sfx string) { create(t, objects.Stage(demo, "s-"+sfx, objects.SubscribesTo("w"))) },
		act: func(ctx context.Context, c client.Client, sfx string) error {
			return mergePatch(ctx, c, objects.Stage(demo, "s-"+sfx, objects.SubscribesTo("w")), `{"spec":{"subscriptions":{"warehouse":"other"}}}`)
		},
		want: []outcome{rbac, rbac, promote, rbac, allowed, rbac},
	},
	{
		what:    "change a Stage's promotion mechanisms",
		prepare: func(t *testing.T, sfx string) { create(t, objects.Stage(demo, "s-"+sfx, objects.SubscribesTo("w"))) },
		act: func(ctx context.Context, c client.Client, sfx string) error {
			return mergePatch(ctx, c, objects.Stage(demo, "s-"+sfx, objects.SubscribesTo("w")), fmt.Sprintf(`{"spec":{"promotionMechanisms":{"gitRepoUpdates":[{"repoURL":%q,"readBranch":"main","writeBranch":"stages/s-%s"}]}}}`, gitops, sfx))
		},
		want: []outcome{rbac, rbac, promote, rbac, allowed, rbac},
	},
	{
		what: "make a Stage write a branch another Stage writes",
		prepare: func(t *testing.T, sfx string) {
			holder := objects.Stage(demo, "holder-"+sfx, objects.SubscribesTo("w"))
			holder.Spec.PromotionMechanisms = &kargoapi.PromotionMechanisms{GitRepoUpdates: []kargoapi.GitRepoUpdate{{
				RepoURL: gitops, ReadBranch: "main", WriteBranch: kargoapi.BranchName("stages/held-" + sfx),
			}}}
			create(t, holder)
			create(t, objects.Stage(demo, "s-"+sfx, objects.SubscribesTo("w")))
		},
		act: func(ctx context.Context, c client.Client, sfx string) error {
			return mergePatch(ctx, c, objects.Stage(demo, "s-"+sfx, objects.SubscribesTo("w")), fmt.Sprintf(`{"spec":{"promotionMechanisms":{"gitRepoUpdates":[{"repoURL":%q,"readBranch":"main","writeBranch":"stages/held-%s"}]}}}`, gitops+"/", sfx))
		},
		want: []outcome{rbac, rbac, promote, rbac, conflict, rbac},
	},
	{
		what:    "make a Stage name a Secret the user cannot read",
		prepare: func(t *testing.T, sfx string) { create(t, objects.Stage(demo, "s-"+sfx, objects.SubscribesTo("w"))) },
		act: func(ctx context.Context, c client.Client, sfx string) error {
			return mergePatch(ctx, c, objects.Stage(demo, "s-"+sfx, objects.SubscribesTo("w")), `{"spec":{"verification":{"http":[{"name":"smoke","url":"https://uat.example.com/healthz","headers":[{"name":"Authorization","valueFrom":{"name":"uat-smoke-token","key":"header"}}]}]}}}`)
		},
		want: []outcome{rbac, rbac, promote, rbac, secret, rbac},
	},
	{
		what:    "change a Stage's labels",
		prepare: func(t *testing.T, sfx string) { create(t, objects.Stage(demo, "s-"+sfx, objects.SubscribesTo("w"))) },
		act: func(ctx context.Context, c client.Client, sfx string) error {
			return mergePatch(ctx, c, objects.Stage(demo, "s-"+sfx, objects.SubscribesTo("w")), `{"metadata":{"labels":{"team":"payments"}}}`)
		},
		want: []outcome{rbac, rbac, allowed, rbac, allowed, rbac},
	},
	{
		what:    "delete a Stage",
		prepare: func(t *testing.T, sfx string) { create(t, objects.Stage(demo, "s-"+sfx, objects.SubscribesTo("w"))) },
		act: func(ctx context.Context, c client.Client, sfx string) error {
			return c.Delete(ctx, objects.Stage(demo, "s-"+sfx, objects.SubscribesTo("w")))
		},
		want: []outcome{rbac, rbac, allowed, rbac, allowed, rbac},
	},
	{
		what:    "write a Stage's status",
		prepare: func(t *testing.T, sfx string) { create(t, objects.Stage(demo, "s-"+sfx, objects.SubscribesTo("w"))) },
		act: func(ctx context.Context, c client.Client, sfx string) error {
			return statusPatch(ctx, c, objects.Stage(demo, "s-"+sfx, objects.SubscribesTo("w")), `{"status":{"phase":"Steady"}}`)
		},
		want: []outcome{rbac, rbac, rbac, rbac, rbac, rbac},
	},
	{
		what: "create Freight (recorded as the creator's: never auto-promoted)",
		act: func(ctx context.Context, c client.Client, sfx string) error {
			f := objects.Freight(demo, objects.Image("registry.example.com/app", "create-"+sfx))
			f.CreatedBy = &kargoapi.FreightCreator{Username: "system:serviceaccount:kargo:kargo-controller", Controller: true}
			if err := c.Create(ctx, f); err != nil {
				return err
			}
			if f.CreatedBy == nil || f.CreatedBy.Controller {
				return fmt.Errorf("Freight %s was recorded as %+v, the controller's", f.Name, f.CreatedBy)
			}
			return nil
		},
		want: []outcome{rbac, rbac, allowed, rbac, allowed, rbac},
	},
	{
		what: "change who created Freight, or when",
		prepare: func(t *testing.T, sfx string) {
			create(t, objects.Freight(demo, objects.Image("registry.example.com/app", "record-"+sfx)))
		},
		act: func(ctx context.Context, c client.Client, sfx string) error {
			f := objects.Freight(demo, objects.Image("registry.example.com/app", "record-"+sfx))
			if err := mergePatch(ctx, c, f, `{"createdBy":{"username":"system:serviceaccount:kargo:kargo-controller","controller":true},"metadata":{"annotations":{"kargo.akuity.io/discovered-at":"2999-01-01T00:00:00Z"}}}`); err != nil {
				return err
			}
			if f.CreatedBy.Controller || f.Annotations[kargoapi.DiscoveredAtAnnotationKey] == "2999-01-01T00:00:00Z" {
				return fmt.Errorf("the change was made: %+v %v", f.CreatedBy, f.Annotations)
			}
			return errKept
		},
		want: []outcome{rbac, rbac, kept, rbac, kept, rbac},
	},
	{
		what: "change Freight's alias",
		prepare: func(t *testing.T, sfx string) {
			create(t, objects.Freight(demo, objects.Image("registry.example.com/app", "alias-"+sfx)))
		},
		act: func(ctx context.Context, c client.Client, sfx string) error {
			return mergePatch(ctx, c, objects.Freight(demo, objects.Image("registry.example.com/app", "alias-"+sfx)), fmt.Sprintf(`{"alias":"renamed-%s"}`, sfx))
		},
		want: []outcome{rbac, rbac, allowed, rbac, allowed, rbac},
	},
	{
		what: "delete Freight no Stage uses",
		prepare: func(t *testing.T, sfx string) {
			create(t, objects.Freight(demo, objects.Image("registry.example.com/app", "delete-"+sfx)))
		},
		act: func(ctx context.Context, c client.Client, sfx string) error {
			return c.Delete(ctx, objects.Freight(demo, objects.Image("registry.example.com/app", "delete-"+sfx)))
		},
		want: []outcome{rbac, rbac, allowed, rbac, allowed, rbac},
	},
	{
		what: "approve Freight by writing its status",
		prepare: func(t *testing.T, sfx string) {
			create(t, objects.Freight(demo, objects.Image("registry.example.com/app", "approve-"+sfx)))
		},
		act: func(ctx context.Context, c client.Client, sfx string) error {
			return statusPatch(ctx, c, objects.Freight(demo, objects.Image("registry.example.com/app", "approve-"+sfx)), `{"status":{"approvedFor":{"prod":{}}}}`)
		},
		want: []outcome{rbac, rbac, rbac, rbac, rbac, rbac},
	},
	promotionTo("test", []outcome{allowed, promote, promote, rbac, allowed, rbac}),
	promotionTo("uat", []outcome{allowed, allowed, promote, rbac, allowed, rbac}),
	promotionTo("prod", []outcome{allowed, promote, promote, rbac, allowed, rbac}),
	{
		what:    "delete a Promotion",
		prepare: func(t *testing.T, sfx string) { create(t, promotion("p-"+sfx, "test")) },
		act: func(ctx context.Context, c client.Client, sfx string) error {
			return c.Delete(ctx, promotion("p-"+sfx, "test"))
		},
		want: []outcome{allowed, allowed, allowed, rbac, allowed, rbac},
	},
	{
		what:    "write a Promotion's status",
		prepare: func(t *testing.T, sfx string) { create(t, promotion("p-"+sfx, "test")) },
		act: func(ctx context.Context, c client.Client, sfx string) error {
			return statusPatch(ctx, c, promotion("p-"+sfx, "test"), `{"status":{"phase":"Succeeded"}}`)
		},
		want: []outcome{rbac, rbac, rbac, rbac, rbac, rbac},
	},
	{
		what:    "create a PromotionPolicy",
		prepare: func(t *testing.T, sfx string) { create(t, objects.Stage(demo, "s-"+sfx, objects.SubscribesTo("w"))) },
		act: func(ctx context.Context, c client.Client, sfx string) error {
			return c.Create(ctx, objects.PromotionPolicy(demo, "pp-"+sfx, "s-"+sfx, false))
		},
		want: []outcome{rbac, rbac, promote, rbac, allowed, rbac},
	},
	{
		what: "change a PromotionPolicy",
		prepare: func(t *testing.T, sfx string) {
			create(t, objects.Stage(demo, "s-"+sfx, objects.SubscribesTo("w")))
			create(t, objects.PromotionPolicy(demo, "pp-"+sfx, "s-"+sfx, false))
		},
		act: func(ctx context.Context, c client.Client, sfx string) error {
			return mergePatch(ctx, c, objects.PromotionPolicy(demo, "pp-"+sfx, "s-"+sfx, false), `{"enableAutoPromotion":true}`)
		},
		want: []outcome{rbac, rbac, promote, rbac, allowed, rbac},
	},
	{
		what: "delete a PromotionPolicy",
		prepare: func(t *testing.T, sfx string) {
			create(t, objects.Stage(demo, "s-"+sfx, objects.SubscribesTo("w")))
			create(t, objects.PromotionPolicy(demo, "pp-"+sfx, "s-"+sfx, false))
		},
		act: func(ctx context.Context, c client.Client, sfx string) error {
			return c.Delete(ctx, objects.PromotionPolicy(demo, "pp-"+sfx, "s-"+sfx, false))
		},
		want: []outcome{rbac, rbac, allowed, rbac, allowed, rbac},
	},
	{
		what: "create a Project",
		act: func(ctx context.Context, c client.Client, sfx string) error {
			return c.Create(ctx, &kargoapi.Project{ObjectMeta: metav1.ObjectMeta{Name: "project-" + sfx}})
		},
		want: []outcome{rbac, rbac, rbac, rbac, rbac, rbac},
	},
	// Project roles and API tokens (kargo grant, kargo create role, kargo
	// create token): RBAC's own escalation rules decide.
	{
		what: "grant the kargo-promoter role (a RoleBinding)",
		act: func(ctx context.Context, c client.Client, sfx string) error {
			return c.Create(ctx, &rbacv1.RoleBinding{
				ObjectMeta: metav1.ObjectMeta{Name: "grant-" + sfx, Namespace: demo},
				RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "kargo-promoter"},
				Subjects:   []rbacv1.Subject{{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: "oidc:release-" + sfx}},
			})
		},
		want: []outcome{rbac, rbac, rbac, rbac, allowed, rbac},
	},
	{
		what: "create a Role with a right beyond kargo-admin's (every verb on Stages)",
		act: func(ctx context.Context, c client.Client, sfx string) error {
			return c.Create(ctx, &rbacv1.Role{
				ObjectMeta: metav1.ObjectMeta{Name: "all-" + sfx, Namespace: demo},
				Rules:      []rbacv1.PolicyRule{{APIGroups: []string{kargoapi.GroupVersion.Group}, Resources: []string{"stages"}, Verbs: []string{"*"}}},
			})
		},
		want: []outcome{rbac, rbac, rbac, rbac, rbac, rbac},
	},
	{
		what: "create an API token (a token of a ServiceAccount in the project)",
		prepare: func(t *testing.T, sfx string) {
			create(t, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "token-" + sfx, Namespace: demo}})
		},
		act: func(ctx context.Context, c client.Client, sfx string) error {
			sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "token-" + sfx, Namespace: demo}}
			return c.SubResource("token").Create(ctx, sa, &authenticationv1.TokenRequest{})
		},
		want: []outcome{rbac, rbac, rbac, rbac, allowed, rbac},
	},
	// Approval policies and abort (docs/flow-control.md).
	{
		what: "change a Stage's approval policy (spec.approval)",
		prepare: func(t *testing.T, sfx string) {
			create(t, objects.Stage(demo, "s-"+sfx, objects.SubscribesTo("w"), objects.Requires(2, "release-approvers")))
		},
		act: func(ctx context.Context, c client.Client, sfx string) error {
			return mergePatch(ctx, c, objects.Stage(demo, "s-"+sfx), `{"spec":{"approval":null}}`)
		},
		want: []outcome{rbac, rbac, approve, rbac, allowed, rbac},
	},
	{
		what: "relabel a Stage out of an ApprovalPolicy",
		prepare: func(t *testing.T, sfx string) {
			st := objects.Stage(demo, "s-"+sfx, objects.SubscribesTo("w"))
			st.Labels = map[string]string{"approval": sfx}
			create(t, st)
			p := objects.ApprovalPolicy(demo, "p-"+sfx, nil, 1)
			p.Spec.Stages.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"approval": sfx}}
			create(t, p)
		},
		act: func(ctx context.Context, c client.Client, sfx string) error {
			return mergePatch(ctx, c, objects.Stage(demo, "s-"+sfx), `{"metadata":{"labels":{"approval":"none"}}}`)
		},
		want: []outcome{rbac, rbac, approve, rbac, allowed, rbac},
	},
	{
		what: "create an ApprovalPolicy",
		act: func(ctx context.Context, c client.Client, sfx string) error {
			return c.Create(ctx, objects.ApprovalPolicy(demo, "p-"+sfx, []string{"prod*"}, 1))
		},
		want: []outcome{rbac, rbac, rbac, rbac, allowed, rbac},
	},
	{
		what: "delete an ApprovalPolicy",
		prepare: func(t *testing.T, sfx string) {
			create(t, objects.ApprovalPolicy(demo, "p-"+sfx, []string{"prod*"}, 1))
		},
		act: func(ctx context.Context, c client.Client, sfx string) error {
			return c.Delete(ctx, objects.ApprovalPolicy(demo, "p-"+sfx, nil, 1))
		},
		want: []outcome{rbac, rbac, rbac, rbac, allowed, rbac},
	},
	{
		what: "abort a Promotion to prod (its abort annotation)",
		prepare: func(t *testing.T, sfx string) {
			create(t, objects.Stage(demo, "prod", objects.SubscribesTo("w")))
			create(t, promotion("abort-"+sfx, "prod"))
		},
		act: func(ctx context.Context, c client.Client, sfx string) error {
			return mergePatch(ctx, c, promotion("abort-"+sfx, "prod"), `{"metadata":{"annotations":{"kargo.akuity.io/abort":"someone-else"}}}`)
		},
		want: []outcome{allowed, promote, promote, rbac, allowed, rbac},
	},
	{
		what: "change who created a Promotion",
		prepare: func(t *testing.T, sfx string) {
			create(t, objects.Stage(demo, "prod", objects.SubscribesTo("w")))
			create(t, promotion("creator-"+sfx, "prod"))
		},
		act: func(ctx context.Context, c client.Client, sfx string) error {
			p := promotion("creator-"+sfx, "prod")
			if err := mergePatch(ctx, c, p, `{"metadata":{"annotations":{"kargo.akuity.io/create-actor":"carol-was-here"}}}`); err != nil {
				return err
			}
			if p.Annotations[kargoapi.PromotionCreatedByAnnotationKey] == "carol-was-here" {
				return fmt.Errorf("the change was made: %v", p.Annotations)
			}
			return errKept
		},
		want: []outcome{kept, kept, kept, rbac, kept, rbac},
	},
	// Notifications and the audit trail (docs/flow-control.md).
	{
		what: "create a NotificationSubscription (a generic webhook)",
		act: func(ctx context.Context, c client.Client, sfx string) error {
			return c.Create(ctx, accessSubscription("n-"+sfx, kargoapi.NotificationSubscriptionSpec{
				Webhook: &kargoapi.WebhookNotification{URL: "https://hooks.example.com/kargo"},
			}))
		},
		want: []outcome{rbac, rbac, rbac, rbac, allowed, rbac},
	},
	{
		what: "create a NotificationSubscription whose Slack URL is in a Secret",
		act: func(ctx context.Context, c client.Client, sfx string) error {
			return c.Create(ctx, accessSubscription("n-"+sfx, kargoapi.NotificationSubscriptionSpec{
				Slack: &kargoapi.ChatNotification{URLFrom: kargoapi.SecretKeyRef{Name: "slack-webhook", Key: "url"}},
			}))
		},
		want: []outcome{rbac, rbac, rbac, rbac, secret, rbac},
	},
	{
		what: "write a NotificationSubscription's status (its queue)",
		prepare: func(t *testing.T, sfx string) {
			create(t, accessSubscription("n-"+sfx, kargoapi.NotificationSubscriptionSpec{Webhook: &kargoapi.WebhookNotification{URL: "https://hooks.example.com/kargo"}}))
		},
		act: func(ctx context.Context, c client.Client, sfx string) error {
			return statusPatch(ctx, c, accessSubscription("n-"+sfx, kargoapi.NotificationSubscriptionSpec{}), `{"status":{"dropped":7}}`)
		},
		want: []outcome{rbac, rbac, rbac, rbac, rbac, rbac},
	},
	// Holds, freezes and windows (docs/flow-control.md): set through
	// kargo's API server only; these are the Kubernetes paths around it.
	{
		what:    "hold a Stage, or lift its hold, by writing its status",
		prepare: func(t *testing.T, sfx string) { create(t, objects.Stage(demo, "s-"+sfx, objects.SubscribesTo("w"))) },
		act: func(ctx context.Context, c client.Client, sfx string) error {
			return statusPatch(ctx, c, objects.Stage(demo, "s-"+sfx), `{"status":{"hold":{"reason":"mine","by":"someone-else","at":"2026-01-01T00:00:00Z"}}}`)
		},
		want: []outcome{rbac, rbac, rbac, rbac, rbac, rbac},
	},
	{
		what:    "delete a held Stage (lifting its hold by recreating it)",
		prepare: func(t *testing.T, sfx string) { accessHeldStage(t, "s-"+sfx) },
		act: func(ctx context.Context, c client.Client, sfx string) error {
			return c.Delete(ctx, objects.Stage(demo, "s-"+sfx))
		},
		want: []outcome{rbac, rbac, held, rbac, held, rbac},
	},
	{
		what: "freeze a project by writing its status",
		act: func(ctx context.Context, c client.Client, sfx string) error {
			return statusPatch(ctx, c, &kargoapi.Project{ObjectMeta: metav1.ObjectMeta{Name: demo}}, `{"status":{"freeze":{"reason":"mine","by":"someone-else","at":"2026-01-01T00:00:00Z"}}}`)
		},
		want: []outcome{rbac, rbac, rbac, rbac, rbac, rbac},
	},
	{
		what: "create a PromotionWindow",
		act: func(ctx context.Context, c client.Client, sfx string) error {
			return c.Create(ctx, objects.PromotionWindow(demo, "pw-"+sfx, kargoapi.PromotionWindowDeny, "Europe/Berlin", "Fri 16:00", "Mon 08:00"))
		},
		want: []outcome{rbac, rbac, rbac, rbac, allowed, rbac},
	},
	{
		what: "create a Promotion to test that overrides its promotion windows",
		prepare: func(t *testing.T, _ string) {
			create(t, objects.Stage(demo, "test", objects.SubscribesTo("w")))
		},
		act: func(ctx context.Context, c client.Client, sfx string) error {
			p := promotion("override-"+sfx, "test")
			p.Annotations = map[string]string{kargoapi.OverrideWindowAnnotationKey: kargoapi.LabelTrueValue}
			return c.Create(ctx, p)
		},
		want: []outcome{override, promote, promote, rbac, allowed, rbac},
	},
	{
		what:    "make a waiting Promotion override the promotion windows",
		prepare: func(t *testing.T, sfx string) { create(t, promotion("waiting-"+sfx, "test")) },
		act: func(ctx context.Context, c client.Client, sfx string) error {
			return mergePatch(ctx, c, promotion("waiting-"+sfx, "test"), fmt.Sprintf(`{"metadata":{"annotations":{%q:"true"}}}`, kargoapi.OverrideWindowAnnotationKey))
		},
		want: []outcome{override, override, override, rbac, override, rbac},
	},
	{
		what: "write an AuditRecord",
		act: func(ctx context.Context, c client.Client, sfx string) error {
			return c.Create(ctx, accessAuditRecord("a-"+sfx))
		},
		want: []outcome{rbac, rbac, rbac, rbac, rbac, rbac},
	},
	{
		what:    "delete an AuditRecord",
		prepare: func(t *testing.T, sfx string) { create(t, accessAuditRecord("a-"+sfx)) },
		act: func(ctx context.Context, c client.Client, sfx string) error {
			return c.Delete(ctx, accessAuditRecord("a-"+sfx))
		},
		want: []outcome{rbac, rbac, rbac, rbac, rbac, rbac},
	},
}

// accessHeldStage creates a Stage held as kargo's API server holds one.
func accessHeldStage(t *testing.T, name string) {
	t.Helper()
	create(t, objects.Stage(demo, name, objects.SubscribesTo("w")))
	st := objects.Stage(demo, name)
	require.NoError(t, statusPatch(context.Background(), env.Admin, st, `{"status":{"hold":{"reason":"investigating","by":"adam","at":"2026-01-01T00:00:00Z"}}}`))
}

func accessSubscription(name string, spec kargoapi.NotificationSubscriptionSpec) *kargoapi.NotificationSubscription {
	return &kargoapi.NotificationSubscription{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: demo}, Spec: spec}
}

func accessAuditRecord(name string) *kargoapi.AuditRecord {
	return &kargoapi.AuditRecord{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: demo},
		Time:       metav1.NewMicroTime(time.Now()),
		Actor:      kargoapi.AuditActor{Username: "adam"},
		Action:     kargoapi.AuditActionPromote,
		Target:     kargoapi.AuditTarget{Kind: "Stage", Name: "prod"},
		Outcome:    kargoapi.AuditOutcome{Result: kargoapi.AuditResultSucceeded, Code: 201},
	}
}

// promotionTo is the path "create a Promotion" into one of the seed's
// Stages, test, uat or prod.
func promotionTo(target string, want []outcome) path {
	return path{
		what: "create a Promotion to " + target,
		prepare: func(t *testing.T, _ string) {
			create(t, objects.Stage(demo, target, objects.SubscribesTo("w")))
			create(t, objects.Freight(demo, objects.Image("registry.example.com/app", "promoted")))
		},
		act: func(ctx context.Context, c client.Client, sfx string) error {
			return c.Create(ctx, promotion("to-"+target+"-"+sfx, target))
		},
		want: want,
	}
}

func promotion(name, target string) *kargoapi.Promotion {
	return &kargoapi.Promotion{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: demo},
		Spec:       kargoapi.PromotionSpec{Stage: target, Freight: objects.Freight(demo, objects.Image("registry.example.com/app", "promoted")).Name},
	}
}

// classify tells apart the outcomes of a request.
func classify(err error) (outcome, error) {
	switch {
	case err == nil:
		return allowed, nil
	case errors.Is(err, errKept):
		return kept, nil
	case apierrors.IsForbidden(err) && strings.Contains(err.Error(), "denied the request") && strings.Contains(err.Error(), `may not promote to Stage`):
		return promote, nil
	case apierrors.IsForbidden(err) && strings.Contains(err.Error(), "denied the request") && strings.Contains(err.Error(), `may not read Secret`):
		return secret, nil
	case apierrors.IsForbidden(err) && strings.Contains(err.Error(), "denied the request") && strings.Contains(err.Error(), `may not approve Freight for Stage`):
		return approve, nil
	case apierrors.IsConflict(err) && strings.Contains(err.Error(), "denied the request") && strings.Contains(err.Error(), `already writes branch`):
		return conflict, nil
	case apierrors.IsForbidden(err) && strings.Contains(err.Error(), "denied the request") && strings.Contains(err.Error(), `is held by`):
		return held, nil
	case apierrors.IsForbidden(err) && strings.Contains(err.Error(), "denied the request") && strings.Contains(err.Error(), kargoapi.OverrideWindowAnnotationKey):
		return override, nil
	case apierrors.IsForbidden(err) && !strings.Contains(err.Error(), "denied the request"):
		return rbac, nil
	}
	return "", err
}

func TestAccessTable(t *testing.T) {
	kargoDemo(t)
	create(t, objects.Warehouse(demo, "w"))
	for _, p := range paths {
		require.Len(t, p.want, len(users), p.what)
		for i, u := range users {
			t.Run(p.what+"/"+u.name, func(t *testing.T) {
				sfx := fmt.Sprintf("%s-%d", u.name, slug(p.what))
				if p.prepare != nil {
					p.prepare(t, sfx)
				}
				err := p.act(context.Background(), env.As(t, u.name), sfx)
				got, unexpected := classify(err)
				require.NoError(t, unexpected, "%s, as %s: an error that is no access decision", p.what, u.name)
				require.Equal(t, p.want[i], got, "%s, as %s (%s): %v", p.what, u.name, u.holds, err)
			})
		}
	}
}

// slug numbers a path, for object names unique to one path and user.
func slug(what string) int {
	for i, p := range paths {
		if p.what == what {
			return i
		}
	}
	return -1
}

// renderTable writes the access table as Markdown.
func renderTable() string {
	var b strings.Builder
	b.WriteString("| path |")
	for _, u := range users {
		fmt.Fprintf(&b, " %s |", u.name)
	}
	b.WriteString("\n|---|")
	for range users {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, p := range paths {
		fmt.Fprintf(&b, "| %s |", p.what)
		for _, o := range p.want {
			fmt.Fprintf(&b, " %s |", o)
		}
		b.WriteString("\n")
	}
	b.WriteString("\nThe users:\n\n")
	for _, u := range users {
		fmt.Fprintf(&b, "- **%s**: %s\n", u.name, u.holds)
	}
	return b.String()
}

const (
	tableStart = "<!-- access table: generated from test/access/table_test.go; KARGO_UPDATE_DOCS=1 go test ./test/access -run TestAccessTableIsDocumented rewrites it -->\n"
	tableEnd   = "<!-- end of access table -->\n"
)

// The documentation shows the tested table, not a description of it.
func TestAccessTableIsDocumented(t *testing.T) {
	root, err := kubetest.RepoRoot()
	require.NoError(t, err)
	doc := filepath.Join(root, "docs", "access-control.md")
	raw, err := os.ReadFile(doc)
	require.NoError(t, err)
	text := string(raw)
	start, end := strings.Index(text, tableStart), strings.Index(text, tableEnd)
	require.True(t, start >= 0 && end > start, "docs/access-control.md must hold the access table between the markers %q and %q", tableStart, tableEnd)
	want := text[:start+len(tableStart)] + renderTable() + text[end:]
	if os.Getenv("KARGO_UPDATE_DOCS") == "1" {
		require.NoError(t, os.WriteFile(doc, []byte(want), 0o644))
		return
	}
	require.Equal(t, want, text, "docs/access-control.md is out of date with the tested table; rerun with KARGO_UPDATE_DOCS=1")
}
