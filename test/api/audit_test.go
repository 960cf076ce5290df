package api

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	authenticationv1 "k8s.io/api/authentication/v1"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/apitypes"
	"github.com/kargohq/kargo/internal/audit"
	"github.com/kargohq/kargo/internal/testutil/kubetest"
)

// auditRecord writes a record of a refresh of stage at t, as the API server
// would.
func auditRecord(t *testing.T, project, stage string, at time.Time) {
	t.Helper()
	rec := audit.New(project, authenticationv1.UserInfo{Username: alice, Groups: []string{"system:authenticated"}}, kargoapi.AuditActionRefresh,
		kargoapi.AuditTarget{Kind: "Stage", Name: stage, Stage: stage}, nil, kargoapi.AuditOutcome{Result: kargoapi.AuditResultSucceeded, Code: 200}, at)
	require.NoError(t, env.Admin.Create(context.Background(), rec))
}

// auditNames lists the records' names over every page, requiring each
// page's total and the newest-first order across pages.
func auditNames(t *testing.T, path string, total int) []string {
	t.Helper()
	var names []string
	var last time.Time
	for _, page := range listAll(t, vera, path) {
		require.Equal(t, total, page.Total)
		for _, rec := range objectsOf[kargoapi.AuditRecord](t, page) {
			if !last.IsZero() {
				require.False(t, rec.Time.After(last), "newest first")
			}
			last = rec.Time.Time
			names = append(names, rec.Name)
		}
	}
	return names
}

// TestAuditFiltersArePaged: a list of audit records selected by stage and
// since comes in pages of limit, like the whole trail, each page newest
// first after the last record of the one before, even when records are
// written between two pages; the web UI pages its audit view this way.
func TestAuditFiltersArePaged(t *testing.T) {
	project := env.NewProject(t, "auditpages")
	env.BindAccessUsers(t, project)
	now := time.Now()
	for i := range 5 {
		auditRecord(t, project, "prod", now.Add(-time.Duration(i+1)*time.Minute))
		auditRecord(t, project, "test", now.Add(-time.Duration(i+1)*time.Minute-time.Second))
	}
	for i := range 2 {
		auditRecord(t, project, "prod", now.Add(-time.Duration(i+2)*time.Hour))
	}
	base := "/api/v1/projects/" + project + "/audit"
	kubetest.Eventually(t, 30*time.Second, "the server's cache holds every record", func() (bool, string) {
		l := decode[apitypes.List](t, call(t, vera, http.MethodGet, base, nil), http.StatusOK)
		return l.Total == 12, fmt.Sprint(l.Total)
	})

	prod := auditNames(t, base+"?stage=prod&limit=3", 7)
	require.Len(t, prod, 7)
	require.Len(t, listAll(t, vera, base+"?stage=prod&limit=3"), 3, "pages of 3, 3 and 1")
	require.Equal(t, prod, auditNames(t, base+"?stage=prod&limit=5000", 7), "one page says the same")
	recent := auditNames(t, base+"?stage=prod&since=30m&limit=2", 5)
	require.Equal(t, prod[:5], recent)
	require.Len(t, auditNames(t, base+"?since=30m&limit=4", 10), 10)

	t.Run("a record written between two pages neither shifts nor repeats one", func(t *testing.T) {
		first := decode[apitypes.List](t, call(t, vera, http.MethodGet, base+"?stage=prod&limit=3", nil), http.StatusOK)
		require.NotEmpty(t, first.Continue)
		auditRecord(t, project, "prod", time.Now())
		kubetest.Eventually(t, 30*time.Second, "the new record is served", func() (bool, string) {
			l := decode[apitypes.List](t, call(t, vera, http.MethodGet, base+"?stage=prod&limit=1", nil), http.StatusOK)
			return l.Total == 8, fmt.Sprint(l.Total)
		})
		var names []string
		for _, rec := range objectsOf[kargoapi.AuditRecord](t, first) {
			names = append(names, rec.Name)
		}
		for next := first.Continue; next != ""; {
			page := decode[apitypes.List](t, call(t, vera, http.MethodGet, base+"?stage=prod&limit=3&continue="+next, nil), http.StatusOK)
			require.Equal(t, 8, page.Total)
			for _, rec := range objectsOf[kargoapi.AuditRecord](t, page) {
				names = append(names, rec.Name)
			}
			next = page.Continue
		}
		require.Equal(t, prod, names)
	})

	t.Run("refusals", func(t *testing.T) {
		s := refusal(t, call(t, carol, http.MethodGet, base+"?stage=prod", nil), http.StatusForbidden)
		require.Contains(t, s.Message, `user "carol" may not list auditrecords`)
		refusal(t, call(t, vera, http.MethodGet, base+"?stage=prod&continue=not-a-token", nil), http.StatusBadRequest)
		refusal(t, call(t, vera, http.MethodGet, base+"?stage=prod&limit=-1", nil), http.StatusBadRequest)
		refusal(t, call(t, vera, http.MethodGet, base+"?since=yesterday", nil), http.StatusBadRequest)
	})
}
