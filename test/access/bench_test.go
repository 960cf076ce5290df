package access

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/testutil/kubetest"
	"github.com/kargohq/kargo/internal/testutil/objects"
)

// BenchmarkAdmission measures what kargo's webhooks add to a write: the
// latency of creating objects through the real API server, with a
// ConfigMap (no webhook) as the baseline. Freight creation is also measured
// in a project that already holds 2,000 Freight, where the alias
// uniqueness check has the most to look through.
func BenchmarkAdmission(b *testing.B) {
	ctx := context.Background()
	ns := env.NewProject(b, "bench")
	stages := env.NewProject(b, "bench-stages")
	alice := env.As(b, kubetest.Alice)
	if err := env.Admin.Create(ctx, &kargoapi.Stage{ObjectMeta: metav1.ObjectMeta{Name: "test", Namespace: ns}}); err != nil {
		b.Fatal(err)
	}
	if err := env.Admin.Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "alice-promoter", Namespace: ns},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "kargo-promoter"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: kubetest.Alice}},
	}); err != nil {
		b.Fatal(err)
	}
	seq := 0
	next := func() int { seq++; return seq }
	cases := []struct {
		name string
		make func(i int) client.Object
		as   client.Client
	}{
		{"configmap-baseline", func(i int) client.Object {
			return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("cm-%d", i), Namespace: ns}}
		}, env.Admin},
		{"stage", func(i int) client.Object {
			// In a project of their own: Stages react to new Freight, and
			// would otherwise load the Freight measurements below.
			return &kargoapi.Stage{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("s-%d", i), Namespace: stages}}
		}, env.Admin},
		{"stage-writing-a-branch", func(i int) client.Object {
			// The webhook lists every Stage to find another writer of the
			// branch: the more Stages, the more it reads.
			return &kargoapi.Stage{
				ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("w-%d", i), Namespace: stages},
				Spec: kargoapi.StageSpec{PromotionMechanisms: &kargoapi.PromotionMechanisms{GitRepoUpdates: []kargoapi.GitRepoUpdate{{
					RepoURL: gitops, ReadBranch: "main", WriteBranch: kargoapi.BranchName(fmt.Sprintf("stages/w-%d", i)),
				}}}},
			}
		}, env.Admin},
		{"freight", func(i int) client.Object {
			return objects.Freight(ns, objects.Image("registry.example.com/app", fmt.Sprintf("bench-%d", i)))
		}, env.Admin},
		{"promotion-as-alice", func(i int) client.Object {
			return &kargoapi.Promotion{
				ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p-%d", i), Namespace: ns},
				Spec:       kargoapi.PromotionSpec{Stage: "test", Freight: objects.Freight(ns, objects.Image("registry.example.com/app", "bench-1")).Name},
			}
		}, alice},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) { measureCreates(b, c.as, func() client.Object { return c.make(next()) }) })
	}

	big := env.NewProject(b, "bench-2000")
	for i := range 2000 {
		if err := env.Admin.Create(ctx, objects.Freight(big, objects.Image("registry.example.com/app", fmt.Sprintf("fill-%d", i)))); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("freight-in-project-of-2000", func(b *testing.B) {
		measureCreates(b, env.Admin, func() client.Object {
			return objects.Freight(big, objects.Image("registry.example.com/app", fmt.Sprintf("more-%d", next())))
		})
	})
}

// measureCreates creates b.N objects one after another and reports the
// median and p99 latency.
func measureCreates(b *testing.B, c client.Client, newObj func() client.Object) {
	lat := make([]time.Duration, 0, b.N)
	for b.Loop() {
		obj := newObj()
		start := time.Now()
		if err := c.Create(context.Background(), obj); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
