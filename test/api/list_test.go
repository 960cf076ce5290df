package api

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/apitypes"
	"github.com/kargohq/kargo/internal/freight"
	"github.com/kargohq/kargo/internal/testutil/kubetest"
	"github.com/kargohq/kargo/internal/testutil/objects"
)

// createMany creates n Freight in ns as the admin, 16 at a time; build
// returns the i-th.
func createMany(t testing.TB, n int, build func(i int) *kargoapi.Freight) {
	t.Helper()
	var g errgroup.Group
	g.SetLimit(16)
	for i := range n {
		g.Go(func() error {
			f := build(i)
			if err := env.Admin.Create(context.Background(), f); err != nil {
				return fmt.Errorf("create Freight %d: %w", i, err)
			}
			return nil
		})
	}
	require.NoError(t, g.Wait())
}

// waitForFreight waits until the API server lists n Freight in ns.
func waitForFreight(t testing.TB, ns string, n int) {
	t.Helper()
	kubetest.Eventually(t, time.Minute, fmt.Sprintf("the API lists %d Freight in %s", n, ns), func() (bool, string) {
		r := call(t, admin, http.MethodGet, "/api/v1/projects/"+ns+"/freight?limit=1", nil)
		l := decode[apitypes.List](t, r, http.StatusOK)
		return l.Total == n, fmt.Sprintf("total %d", l.Total)
	})
}

// TestPagingFreight lists 1,200 Freight 500 at a time: three pages, each
// Freight once, newest discovered first, and the pages of one listing stay
// one list while Freight is added between them.
func TestPagingFreight(t *testing.T) {
	ns := env.NewProject(t, "paging")
	createMany(t, 1200, func(i int) *kargoapi.Freight {
		return objects.Freight(ns, objects.Image("registry.example.com/app", fmt.Sprintf("page-%d", i)))
	})
	waitForFreight(t, ns, 1200)

	path := "/api/v1/projects/" + ns + "/freight?limit=500"
	pages := listAll(t, admin, path)
	require.Len(t, pages, 3)
	var listed []kargoapi.Freight
	for i, p := range pages {
		require.Equal(t, "FreightList", p.Kind)
		require.Equal(t, 1200, p.Total)
		require.Len(t, p.Items, []int{500, 500, 200}[i])
		listed = append(listed, objectsOf[kargoapi.Freight](t, p)...)
	}
	tags := map[string]bool{}
	for i, f := range listed {
		tags[f.Images[0].Tag] = true
		if i > 0 {
			prev, this := freight.DiscoveredAt(&listed[i-1]), freight.DiscoveredAt(&f)
			require.True(t, prev.After(this) || (prev.Equal(this) && listed[i-1].Name < f.Name),
				"newest discovered first: %s (%s) before %s (%s)", listed[i-1].Name, prev, f.Name, this)
		}
	}
	require.Len(t, tags, 1200, "each Freight once")

	// Freight added after the first page does not shift the later ones.
	first := decode[apitypes.List](t, call(t, admin, http.MethodGet, path, nil), http.StatusOK)
	createMany(t, 20, func(i int) *kargoapi.Freight {
		return objects.Freight(ns, objects.Image("registry.example.com/app", fmt.Sprintf("late-%d", i)))
	})
	waitForFreight(t, ns, 1220)
	seen := map[string]bool{}
	for _, f := range objectsOf[kargoapi.Freight](t, first) {
		seen[f.Name] = true
	}
	next := first.Continue
	for next != "" {
		p := decode[apitypes.List](t, call(t, admin, http.MethodGet, path+"&continue="+next, nil), http.StatusOK)
		require.Equal(t, 1200, p.Total, "later pages come from the listing's snapshot")
		for _, f := range objectsOf[kargoapi.Freight](t, p) {
			require.False(t, seen[f.Name], "Freight %s twice", f.Name)
			require.True(t, strings.HasPrefix(f.Images[0].Tag, "page-"), "Freight %s added after the listing began", f.Images[0].Tag)
			seen[f.Name] = true
		}
		next = p.Continue
	}
	require.Len(t, seen, 1200)

	// A fresh listing sees the new Freight.
	all := listAll(t, admin, "/api/v1/projects/"+ns+"/freight?limit=5000")
	require.Len(t, all, 1)
	require.Equal(t, 1220, all[0].Total)
	require.Len(t, all[0].Items, 1220)
}

func TestListErrors(t *testing.T) {
	kargoDemo(t)
	p := "/api/v1/projects/" + demo
	s := refusal(t, call(t, admin, http.MethodGet, p+"/freight?continue=%21%21", nil), http.StatusBadRequest)
	require.Contains(t, s.Message, "continue token")

	l := decode[apitypes.List](t, call(t, admin, http.MethodGet, p+"/stages?limit=1", nil), http.StatusOK)
	require.NotEmpty(t, l.Continue)
	s = refusal(t, call(t, admin, http.MethodGet, p+"/warehouses?continue="+l.Continue, nil), http.StatusBadRequest)
	require.Contains(t, s.Message, "another list")

	s = refusal(t, call(t, admin, http.MethodGet, p+"/freight?limit=many", nil), http.StatusBadRequest)
	require.Contains(t, s.Message, "limit")

	s = refusal(t, call(t, admin, http.MethodGet, p+"/stages?alias=x", nil), http.StatusBadRequest)
	require.Contains(t, s.Message, "alias")

	s = refusal(t, call(t, admin, http.MethodGet, p+"/widgets", nil), http.StatusNotFound)
	require.Contains(t, s.Message, "freight, promotionpolicies, promotions, promotionwindows, stages, warehouses")

	missing := strings.Repeat("0", 40)
	s = refusal(t, call(t, admin, http.MethodGet, p+"/freight/"+missing, nil), http.StatusNotFound)
	require.Equal(t, `Freight "`+missing+`" not found in project "kargo-demo"; kargo get freight --project kargo-demo lists them`, s.Message)

	s = refusal(t, call(t, admin, http.MethodGet, "/api/v1/projects/no-such-project", nil), http.StatusNotFound)
	require.Equal(t, `project "no-such-project" not found; kargo get projects lists them`, s.Message)

	// A request into a project that does not exist is a 404 naming the
	// project, not an empty list, for a caller the request is allowed
	// to; alice, whose rights are in kargo-demo alone, is refused as she
	// would be in a project that exists.
	for _, path := range []string{"/stages", "/freight?alias=x", "/stages/test", "/freight/" + missing, "/promotions?watch=true"} {
		s = refusal(t, call(t, admin, http.MethodGet, "/api/v1/projects/no-such-project"+path, nil), http.StatusNotFound)
		require.Equal(t, `project "no-such-project" not found; kargo get projects lists them`, s.Message, path)
		require.Equal(t, &metav1.StatusDetails{Name: "no-such-project", Group: kargoapi.GroupVersion.Group, Kind: "projects"}, s.Details, path)
		s = refusal(t, call(t, alice, http.MethodGet, "/api/v1/projects/no-such-project"+path, nil), http.StatusForbidden)
		require.Contains(t, s.Message, `user "alice" may not `, path)
	}
	// An empty project, even one that is only a labelled namespace, is
	// an empty list.
	empty := decode[apitypes.List](t, call(t, admin, http.MethodGet, "/api/v1/projects/"+env.NewProject(t, "empty")+"/stages", nil), http.StatusOK)
	require.Empty(t, empty.Items)

	s = refusal(t, call(t, admin, http.MethodDelete, p+"/stages/test", nil), http.StatusMethodNotAllowed)
	require.Contains(t, s.Message, "GET")

	s = refusal(t, call(t, admin, http.MethodGet, "/api/v2/nothing", nil), http.StatusNotFound)
	require.Contains(t, s.Message, "/openapi.json")
}

func TestProjects(t *testing.T) {
	kargoDemo(t)
	pages := listAll(t, admin, "/api/v1/projects?limit=100")
	var names []string
	for _, p := range pages {
		require.Equal(t, "ProjectList", p.Kind)
		for _, pr := range objectsOf[kargoapi.Project](t, p) {
			names = append(names, pr.Name)
		}
	}
	require.Contains(t, names, demo)

	got := decode[kargoapi.Project](t, call(t, admin, http.MethodGet, "/api/v1/projects/"+demo, nil), http.StatusOK)
	require.Equal(t, demo, got.Name)
	require.Equal(t, "Project", got.Kind)

	// alice's binding is in the project: she may not list Projects
	// cluster-wide, nor read the Project itself.
	refusal(t, call(t, alice, http.MethodGet, "/api/v1/projects", nil), http.StatusForbidden)
}
