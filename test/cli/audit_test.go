package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/cli"
	"github.com/kargohq/kargo/internal/testutil/kubetest"
)

// auditTrail reads the trail the story left behind: every action taken
// through the API server in kargo-demo, as the project's roles read it.
func auditTrail(t *testing.T, s *session) {
	s.note("vera may read everything in kargo-demo (kargo-viewer) and promote nowhere.")
	env.Bind(t, demo, kubetest.Vera, "ClusterRole", "kargo-viewer")
	s.login("vera")
	r := s.run("kargo promote --project kargo-demo --freight-alias frozen-tauntaun --stage prod")
	require.Equal(t, cli.ExitError, r.code, r.stderr)
	ctx := context.Background()
	list := &kargoapi.AuditRecordList{}
	require.NoError(t, env.Admin.List(ctx, list, client.InNamespace(demo)))
	require.NotEmpty(t, list.Items)
	// Records are named after their action with a random suffix, and carry
	// a UID and a resourceVersion of their own: number them in the order
	// they were written instead.
	recs := list.Items
	sort.Slice(recs, func(i, j int) bool { return recs[i].Time.Before(&recs[j].Time) })
	for i, r := range recs {
		s.masks = append(s.masks,
			[2]string{r.Name, fmt.Sprintf("%s<%03d>", r.GenerateName, i+1)},
			[2]string{string(r.UID), "<uid>"},
			[2]string{`"resourceVersion":"` + r.ResourceVersion + `"`, `"resourceVersion":"<rv>"`})
	}

	s.note("Every action taken through kargo in kargo-demo is in its audit trail, newest first: who, what, how it ended.",
		"Refusals are recorded for callers who may read the trail (vera), not for those who may not (bob, nobody).")
	r = s.run("kargo get audit --project kargo-demo")
	require.Equal(t, cli.ExitOK, r.code, r.stderr)
	require.Contains(t, r.stdout, "promote   Stage/uat")
	require.Regexp(t, `(?m)^promote +Stage/prod +prod +vera +Refused \(403\)`, r.stdout)
	require.NotContains(t, r.stdout, "nobody")

	r = s.run("kargo get audit --project kargo-demo --stage prod --since 1h")
	require.Equal(t, cli.ExitOK, r.code, r.stderr)
	for _, l := range strings.Split(strings.TrimSpace(r.stdout), "\n")[1:] {
		require.Contains(t, l, "prod", "only records about prod")
	}

	s.note("Exported as JSON lines: one whole record a line.")
	r = s.run("kargo get audit --project kargo-demo --stage prod -o jsonl")
	require.Equal(t, cli.ExitOK, r.code, r.stderr)
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	require.NotEmpty(t, lines)
	for _, l := range lines {
		var rec kargoapi.AuditRecord
		require.NoError(t, json.Unmarshal([]byte(l), &rec), l)
		require.Equal(t, "AuditRecord", rec.Kind)
		require.NotEmpty(t, rec.Actor.Username)
	}

	r = s.run("kargo get audit --project kargo-demo --since yesterday")
	require.Equal(t, cli.ExitUsage, r.code, r.stderr)

	s.note("nobody holds no role in kargo-demo: the trail is not theirs to read.")
	s.login("nobody")
	r = s.run("kargo get audit --project kargo-demo")
	require.Equal(t, cli.ExitError, r.code, r.stderr)
	require.Contains(t, r.stderr, `user "nobody" may not list auditrecords`)
	s.golden("audit")
}
