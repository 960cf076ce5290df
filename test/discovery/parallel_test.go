package discovery

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/freight"
	"github.com/kargohq/kargo/internal/testutil/gitserver"
	"github.com/kargohq/kargo/internal/testutil/kubetest/controllers"
	"github.com/kargohq/kargo/internal/testutil/objects"
)

// parallelAliasesUnique fails t unless every Freight of ns has an alias of
// its own, and returns the Freight by name.
func parallelAliasesUnique(t *testing.T, ns string) map[string]kargoapi.Freight {
	t.Helper()
	list := &kargoapi.FreightList{}
	require.NoError(t, env.Admin.List(context.Background(), list, client.InNamespace(ns)))
	byAlias := map[string]string{}
	byName := map[string]kargoapi.Freight{}
	for _, f := range list.Items {
		require.NotEmpty(t, f.Alias, "Freight %s has no alias", f.Name)
		require.Equal(t, f.Alias, f.Labels[kargoapi.AliasLabelKey])
		if other, ok := byAlias[f.Alias]; ok {
			t.Fatalf("Freight %s and %s share alias %s", other, f.Name, f.Alias)
		}
		byAlias[f.Alias] = f.Name
		byName[f.Name] = f
	}
	return byName
}

// Two hundred Warehouses of one project, refreshed at once, produce their
// Freight concurrently: every one of them, each with an alias of its own.
func TestFreightOf200WarehousesRefreshedAtOnce(t *testing.T) {
	const n = 200
	ctx := context.Background()
	ns := env.NewProject(t, "parallel")
	gs := gitserver.New(t)
	controllers.AllowOutbound(t, gs.Host())
	gs.CreateRepo("mono")
	gs.Commit(t, "mono", "main", map[string]string{"a": "0"}, "seed")
	for i := range n {
		require.NoError(t, env.Admin.Create(ctx, objects.Warehouse(ns, fmt.Sprintf("w%d", i), objects.GitSubscription(gs.RepoURL("mono"), "main"))))
	}
	// waitAll waits until every Warehouse's newest Freight holds commit and
	// returns their Freight names.
	waitAll := func(commit string) map[string]string {
		got := map[string]string{}
		eventually(t, 5*time.Minute, "every Warehouse's Freight of "+commit, func() (bool, string) {
			list := &kargoapi.WarehouseList{}
			require.NoError(t, env.Admin.List(ctx, list, client.InNamespace(ns)))
			byName := parallelAliasesUnique(t, ns)
			done := 0
			for _, wh := range list.Items {
				if lf := wh.Status.LastFreight; lf != nil {
					if f, ok := byName[lf.Name]; ok && len(f.Commits) == 1 && f.Commits[0].ID == commit {
						require.Equal(t, wh.Name, f.Origin.Name)
						got[wh.Name] = f.Name
						done++
					}
				}
			}
			return done == n, fmt.Sprintf("%d of %d Warehouses have it", done, n)
		})
		return got
	}
	first := waitAll(gs.BranchHead(t, "mono", "main"))

	head := gs.Commit(t, "mono", "main", map[string]string{"a": "1"}, "push")
	token := time.Now().UTC().Format(time.RFC3339Nano)
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wh := &kargoapi.Warehouse{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("w%d", i)}}
			patch := fmt.Appendf(nil, `{"metadata":{"annotations":{%q:%q}}}`, kargoapi.RefreshAnnotationKey, token)
			errs[i] = env.Admin.Patch(ctx, wh, client.RawPatch(types.MergePatchType, patch))
		}()
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	second := waitAll(head)
	byName := parallelAliasesUnique(t, ns)
	require.Len(t, byName, 2*n, "one Freight per Warehouse and commit, none lost")
	for wh, name := range first {
		require.Contains(t, byName, name, "the first Freight of %s", wh)
		require.NotEqual(t, name, second[wh])
	}
}

// Producers whose first alias candidates all collide, running at once in
// one project, still give every Freight an alias of its own: the Freight
// webhook admits each alias once and the losers take their next candidate.
func TestFreightAliasesCollidingAtOnce(t *testing.T) {
	const n = 200
	ctx := context.Background()
	ns := env.NewProject(t, "collide")
	p := &freight.Producer{Client: env.Admin, Reader: env.Admin, Candidate: func(name string, attempt int) string {
		if attempt < 4 {
			return fmt.Sprintf("shared-%d", attempt)
		}
		return freight.AliasCandidate(name, attempt)
	}}
	var wg sync.WaitGroup
	errs := make([]error, n)
	names := make([]string, n)
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			origin := kargoapi.FreightOrigin{Kind: kargoapi.FreightOriginWarehouse, Name: fmt.Sprintf("w%d", i)}
			commit := kargoapi.GitCommit{RepoURL: "https://git.example.com/mono.git", ID: fmt.Sprintf("%040x", i+1), Branch: "main"}
			f, created, err := p.Produce(ctx, ns, origin, []kargoapi.GitCommit{commit}, nil, nil)
			switch {
			case err != nil:
				errs[i] = err
			case !created:
				errs[i] = fmt.Errorf("Freight %s was not created by this call", f.Name)
			default:
				names[i] = f.Name
			}
		}()
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		require.NoError(t, err, "Freight %d", i)
	}
	byName := parallelAliasesUnique(t, ns)
	require.Len(t, byName, n, "every Freight created once")
	for i, name := range names {
		require.Contains(t, byName, name, "Freight %d", i)
	}
	for attempt := range 4 {
		alias := fmt.Sprintf("shared-%d", attempt)
		holders := 0
		for _, f := range byName {
			if f.Alias == alias {
				holders++
			}
		}
		require.Equal(t, 1, holders, "alias %s is held once", alias)
	}
}
