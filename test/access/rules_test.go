package access

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/testutil/kubetest"
	"github.com/kargohq/kargo/internal/testutil/objects"
)

// Bob may promote to uat only; the refusals name him, the verb and the
// Stage, so he knows what to ask for.
func TestBobIsRefusedByName(t *testing.T) {
	kargoDemo(t)
	create(t, objects.Warehouse(demo, "w"))
	ctx := context.Background()
	bob := env.As(t, kubetest.Bob)
	for _, target := range []string{"test", "uat", "prod"} {
		create(t, objects.Stage(demo, target, objects.SubscribesTo("w")))
		create(t, objects.Freight(demo, objects.Image("registry.example.com/app", "bob")))
		p := &kargoapi.Promotion{
			ObjectMeta: metav1.ObjectMeta{GenerateName: "bob-" + target + "-", Namespace: demo},
			Spec:       kargoapi.PromotionSpec{Stage: target, Freight: objects.Freight(demo, objects.Image("registry.example.com/app", "bob")).Name},
		}
		err := bob.Create(ctx, p)
		if target == "uat" {
			require.NoError(t, err)
			continue
		}
		require.True(t, apierrors.IsForbidden(err), "%v", err)
		require.Contains(t, err.Error(), fmt.Sprintf(`user "bob" may not promote to Stage %q in project "kargo-demo"`, target))
		require.Contains(t, err.Error(), `"promote" verb on stages.kargo.akuity.io`)
	}
}

// freightClient returns a client with the warnings the API server sends
// collected, to see what kubectl would print.
func freightClient(t *testing.T) (client.Client, *warnings) {
	t.Helper()
	w := &warnings{}
	cfg := rest.CopyConfig(env.Config)
	cfg.WarningHandler = w
	c, err := client.New(cfg, client.Options{Scheme: env.Scheme})
	require.NoError(t, err)
	return c, w
}

type warnings struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warnings) HandleWarningHeader(_ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.msgs = append(w.msgs, text)
}

func (w *warnings) all() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.msgs, "\n")
}

func get(t *testing.T, f *kargoapi.Freight) *kargoapi.Freight {
	t.Helper()
	got := &kargoapi.Freight{}
	require.NoError(t, env.Admin.Get(context.Background(), client.ObjectKeyFromObject(f), got))
	return got
}

func aliasOf(f *kargoapi.Freight) (field, label string) {
	return f.Alias, f.Labels[kargoapi.AliasLabelKey]
}

// The alias rules exactly as the Working With Freight page states them.
func TestFreightAliasSync(t *testing.T) {
	ns := env.NewProject(t, "alias")
	ctx := context.Background()
	c, warned := freightClient(t)
	patch := func(f *kargoapi.Freight, p string) {
		t.Helper()
		require.NoError(t, c.Patch(ctx, f, client.RawPatch("application/merge-patch+json", []byte(p))))
	}

	t.Run("a non-empty field sets the label", func(t *testing.T) {
		f := objects.Freight(ns, objects.Image("registry.example.com/app", "field"))
		f.Alias = "frozen-tauntaun"
		require.NoError(t, c.Create(ctx, f))
		field, label := aliasOf(get(t, f))
		require.Equal(t, "frozen-tauntaun", field)
		require.Equal(t, "frozen-tauntaun", label)
	})
	t.Run("an empty field takes the label's value", func(t *testing.T) {
		f := objects.Freight(ns, objects.Image("registry.example.com/app", "label"))
		f.Labels = map[string]string{kargoapi.AliasLabelKey: "mortal-dragonfly"}
		require.NoError(t, c.Create(ctx, f))
		field, label := aliasOf(get(t, f))
		require.Equal(t, "mortal-dragonfly", field)
		require.Equal(t, "mortal-dragonfly", label)
	})
	t.Run("changing the field moves the label", func(t *testing.T) {
		f := objects.Freight(ns, objects.Image("registry.example.com/app", "label"))
		patch(f, `{"alias":"brave-otter"}`)
		field, label := aliasOf(get(t, f))
		require.Equal(t, "brave-otter", field)
		require.Equal(t, "brave-otter", label)
	})
	t.Run("clearing the field alone keeps the alias", func(t *testing.T) {
		f := objects.Freight(ns, objects.Image("registry.example.com/app", "label"))
		patch(f, `{"alias":null}`)
		field, label := aliasOf(get(t, f))
		require.Equal(t, "brave-otter", field)
		require.Equal(t, "brave-otter", label)
	})
	t.Run("the field takes precedence over a changed label, with a warning", func(t *testing.T) {
		f := objects.Freight(ns, objects.Image("registry.example.com/app", "label"))
		patch(f, `{"metadata":{"labels":{"kargo.akuity.io/alias":"sly-fox"}}}`)
		field, label := aliasOf(get(t, f))
		require.Equal(t, "brave-otter", field)
		require.Equal(t, "brave-otter", label)
		require.Contains(t, warned.all(), "the alias field takes precedence over the label")
	})
	t.Run("clearing both removes the alias", func(t *testing.T) {
		f := objects.Freight(ns, objects.Image("registry.example.com/app", "label"))
		patch(f, `{"alias":null,"metadata":{"labels":{"kargo.akuity.io/alias":null}}}`)
		field, label := aliasOf(get(t, f))
		require.Empty(t, field)
		require.Empty(t, label)
	})
}

// Aliases are unique in a project: a duplicate is refused with a 409 that
// names the Freight holding it. Another project may use the same alias.
func TestFreightAliasIsUniqueInAProject(t *testing.T) {
	ns, other := env.NewProject(t, "unique"), env.NewProject(t, "unique")
	ctx := context.Background()
	holder := objects.Freight(ns, objects.Image("registry.example.com/app", "holder"))
	holder.Alias = "frozen-tauntaun"
	require.NoError(t, env.Admin.Create(ctx, holder))

	dup := objects.Freight(ns, objects.Image("registry.example.com/app", "dup"))
	dup.Alias = "frozen-tauntaun"
	err := env.Admin.Create(ctx, dup)
	require.True(t, apierrors.IsConflict(err), "want a 409, got %v", err)
	require.Contains(t, err.Error(), `alias "frozen-tauntaun" is already held by Freight `+holder.Name)

	dup.Alias = "mortal-dragonfly"
	require.NoError(t, env.Admin.Create(ctx, dup))
	err = env.Admin.Patch(ctx, dup, client.RawPatch("application/merge-patch+json", []byte(`{"alias":"frozen-tauntaun"}`)))
	require.True(t, apierrors.IsConflict(err), "renaming onto a held alias: want a 409, got %v", err)
	require.Contains(t, err.Error(), holder.Name)

	elsewhere := objects.Freight(other, objects.Image("registry.example.com/app", "holder"))
	elsewhere.Alias = "frozen-tauntaun"
	require.NoError(t, env.Admin.Create(ctx, elsewhere), "aliases are unique per project, not per cluster")
}

// Nobody can slip a different image under a name that has been verified:
// the name must be the artifacts' fingerprint, and the artifacts never
// change.
func TestFreightNameIsItsFingerprint(t *testing.T) {
	ns := env.NewProject(t, "fingerprint")
	ctx := context.Background()
	verified := objects.Freight(ns, objects.Image("registry.example.com/app", "v1.0.0"))
	require.NoError(t, env.Admin.Create(ctx, verified))

	forged := objects.Freight(ns, objects.Image("registry.example.com/app", "v6.6.6"))
	forged.Name = objects.Freight(ns, objects.Image("registry.example.com/app", "v1.0.1")).Name
	err := env.Admin.Create(ctx, forged)
	require.True(t, apierrors.IsInvalid(err), "%v", err)
	require.Contains(t, err.Error(), fmt.Sprintf("must be named %q", objects.Freight(ns, objects.Image("registry.example.com/app", "v6.6.6")).Name))

	err = env.Admin.Patch(ctx, verified, client.RawPatch("application/merge-patch+json",
		[]byte(`{"images":[{"repoURL":"registry.example.com/app","tag":"v6.6.6","digest":"sha256:`+strings.Repeat("6", 64)+`"}]}`)))
	require.True(t, apierrors.IsInvalid(err), "%v", err)
	require.Contains(t, err.Error(), "images are immutable")
}

// Freight a Stage holds cannot be deleted; once the Stage moves on it can.
func TestFreightInUseCannotBeDeleted(t *testing.T) {
	ns := env.NewProject(t, "inuse")
	ctx := context.Background()
	f := objects.Freight(ns, objects.Image("registry.example.com/app", "current"))
	require.NoError(t, env.Admin.Create(ctx, f))
	s := &kargoapi.Stage{ObjectMeta: metav1.ObjectMeta{Name: "prod", Namespace: ns}}
	require.NoError(t, env.Admin.Create(ctx, s))
	// Written as the controller would after a promotion.
	require.NoError(t, env.Admin.Status().Patch(ctx, s, client.RawPatch("application/merge-patch+json",
		[]byte(fmt.Sprintf(`{"status":{"currentFreight":{"id":%q}}}`, f.Name)))))

	err := env.Admin.Delete(ctx, f)
	require.True(t, apierrors.IsConflict(err), "%v", err)
	require.Contains(t, err.Error(), `it is the current Freight of Stage "prod"`)

	require.NoError(t, env.Admin.Status().Patch(ctx, s, client.RawPatch("application/merge-patch+json", []byte(`{"status":{"currentFreight":null}}`))))
	require.NoError(t, env.Admin.Delete(ctx, f))
}

// A Stage has at most one PromotionPolicy.
func TestOnePromotionPolicyPerStage(t *testing.T) {
	ns := env.NewProject(t, "policy")
	ctx := context.Background()
	first := &kargoapi.PromotionPolicy{ObjectMeta: metav1.ObjectMeta{Name: "first", Namespace: ns}, Stage: "test", EnableAutoPromotion: true}
	require.NoError(t, env.Admin.Create(ctx, first))
	second := &kargoapi.PromotionPolicy{ObjectMeta: metav1.ObjectMeta{Name: "second", Namespace: ns}, Stage: "test"}
	err := env.Admin.Create(ctx, second)
	require.True(t, apierrors.IsConflict(err), "%v", err)
	require.Contains(t, err.Error(), `Stage "test" already has PromotionPolicy "first"`)
}

// A Promotion names a Stage of its own project.
func TestPromotionNeedsItsStage(t *testing.T) {
	ns := env.NewProject(t, "targets")
	p := &kargoapi.Promotion{
		ObjectMeta: metav1.ObjectMeta{Name: "nowhere", Namespace: ns},
		Spec:       kargoapi.PromotionSpec{Stage: "nowhere", Freight: strings.Repeat("0", 40)},
	}
	err := env.Admin.Create(context.Background(), p)
	require.True(t, apierrors.IsInvalid(err), "%v", err)
	require.Contains(t, err.Error(), `Stage "nowhere" not found in project`)
}

// Kargo resources live only in project namespaces; a Project creates its
// namespace, adopts a labelled one, and refuses to take over any other.
func TestProjects(t *testing.T) {
	ctx := context.Background()
	plain := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "plain-"}}
	require.NoError(t, env.Admin.Create(ctx, plain))
	for _, obj := range []client.Object{
		&kargoapi.Stage{ObjectMeta: metav1.ObjectMeta{Name: "test", Namespace: plain.Name}},
		func() client.Object { w := objects.Warehouse(demo, "w"); w.Namespace = plain.Name; return w }(),
		objects.Freight(plain.Name, objects.Image("registry.example.com/app", "outside")),
		&kargoapi.PromotionPolicy{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: plain.Name}, Stage: "test"},
	} {
		err := env.Admin.Create(ctx, obj)
		require.True(t, apierrors.IsForbidden(err), "%T: %v", obj, err)
		require.Contains(t, err.Error(), fmt.Sprintf("namespace %q is not a Kargo project", plain.Name))
		require.Contains(t, err.Error(), "create a Project named")
	}

	err := env.Admin.Create(ctx, &kargoapi.Project{ObjectMeta: metav1.ObjectMeta{Name: plain.Name}})
	require.True(t, apierrors.IsConflict(err), "%v", err)
	require.Contains(t, err.Error(), "already exists and is not a Kargo project")

	labelled := env.NewProject(t, "adopted")
	require.NoError(t, env.Admin.Create(ctx, &kargoapi.Project{ObjectMeta: metav1.ObjectMeta{Name: labelled}}))
	fresh := &kargoapi.Project{ObjectMeta: metav1.ObjectMeta{Name: "fresh-project"}}
	require.NoError(t, env.Admin.Create(ctx, fresh))
	for _, name := range []string{labelled, fresh.Name} {
		kubetest.Eventually(t, 30*time.Second, "Project "+name+" is ready", func() (bool, string) {
			p := &kargoapi.Project{}
			if err := env.Admin.Get(ctx, client.ObjectKey{Name: name}, p); err != nil {
				return false, err.Error()
			}
			return p.Status.Phase == kargoapi.ProjectPhaseReady, fmt.Sprintf("%+v", p.Status)
		})
	}
	ns := &corev1.Namespace{}
	require.NoError(t, env.Admin.Get(ctx, client.ObjectKey{Name: fresh.Name}, ns))
	require.Equal(t, "true", ns.Labels[kargoapi.ProjectLabelKey])
	require.Len(t, ns.OwnerReferences, 1, "a namespace the Project created goes with it")
	require.Equal(t, fresh.UID, ns.OwnerReferences[0].UID)
	require.NoError(t, env.Admin.Get(ctx, client.ObjectKey{Name: labelled}, ns))
	require.Empty(t, ns.OwnerReferences, "an adopted namespace is not the Project's to delete")
}
