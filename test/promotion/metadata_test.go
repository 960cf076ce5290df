package promotion

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/testutil/kubetest"
	"github.com/kargohq/kargo/internal/testutil/kubetest/controllers"
	"github.com/kargohq/kargo/internal/testutil/objects"
	"github.com/kargohq/kargo/internal/testutil/registry"
)

// metadataOf decodes an object's status.metadata.
func metadataOf(t *testing.T, md *kargoapi.StepConfig) map[string]any {
	t.Helper()
	m := map[string]any{}
	if md != nil {
		require.NoError(t, json.Unmarshal(md.Raw, &m))
	}
	return m
}

// metadataPromote has the admin promote f into stage and waits for the end.
func metadataPromote(t *testing.T, ns, stage, f string, n int) *kargoapi.Promotion {
	t.Helper()
	name := fmt.Sprintf("%s-%d", stage, n)
	require.NoError(t, env.Admin.Create(context.Background(), objects.Promotion(ns, name, stage, f)))
	return waitPromotion(t, ns, name)
}

// set-metadata writes the metadata of the project's Stages and Freight,
// keeps keys written before, removes a key set to null, and later steps
// read it with stageMetadata and freightMetadata. A mistake in any update
// changes nothing.
func TestSetMetadata(t *testing.T) {
	ctx := context.Background()
	ns := env.NewProject(t, "metadata")
	reg := registry.New(t, registry.Options{})
	controllers.AllowOutbound(t, reg.Host())
	reg.PushImage(t, "app", "1.0.0", registry.Image{})
	require.NoError(t, env.Admin.Create(ctx, objects.Warehouse(ns, "w", objects.ImageSubscription(reg.Host()+"/app"))))
	var freight string
	eventually(t, time.Minute, "the Warehouse makes Freight", func() (bool, string) {
		freight = newestOf(t, ns, "w")
		return freight != "", "no Freight yet"
	})
	require.NoError(t, env.Admin.Create(ctx, objects.Stage(ns, "notes", objects.SubscribesTo("w"))))

	cfg := func(s string) *kargoapi.StepConfig { return &kargoapi.StepConfig{Raw: []byte(s)} }
	st := objects.Stage(ns, "test", objects.SubscribesTo("w"))
	st.Spec.PromotionTemplate = &kargoapi.PromotionTemplate{Spec: kargoapi.PromotionTemplateSpec{Steps: []kargoapi.PromotionStep{
		{Uses: "set-metadata", Config: cfg(`{"updates": [
			{"kind": "Stage", "name": "${{ ctx.stage }}", "values": {"promotedBy": "${{ ctx.promotion }}", "stale": null}},
			{"kind": "Stage", "name": "notes", "values": {"from": {"stage": "${{ ctx.stage }}", "n": 2}}},
			{"kind": "Freight", "name": "${{ ctx.targetFreight.name }}", "values": {"testedIn": "${{ ctx.stage }}"}}
		]}`)},
		{Uses: "compose-output", As: "read", Config: cfg(`{
			"promotedBy": "${{ stageMetadata(ctx.stage).promotedBy }}",
			"testedIn": "${{ freightMetadata(ctx.targetFreight.name, 'testedIn') }}",
			"from": "${{ stageMetadata('notes').from.stage }}"
		}`)},
	}}}
	require.NoError(t, env.Admin.Create(ctx, st))
	// A key written before, by something else, stays; "stale" goes.
	require.NoError(t, env.Admin.Status().Patch(ctx, get(t, &kargoapi.Stage{}, ns, "test"),
		client.RawPatch(types.MergePatchType, []byte(`{"status": {"metadata": {"owner": "team-a", "stale": true}}}`))))

	p := metadataPromote(t, ns, "test", freight, 1)
	require.Equal(t, kargoapi.PromotionPhaseSucceeded, p.Status.Phase, p.Status.Message)
	require.Equal(t, map[string]any{"owner": "team-a", "promotedBy": "test-1"}, metadataOf(t, get(t, &kargoapi.Stage{}, ns, "test").Status.Metadata))
	require.Equal(t, map[string]any{"from": map[string]any{"stage": "test", "n": 2.0}}, metadataOf(t, get(t, &kargoapi.Stage{}, ns, "notes").Status.Metadata))
	require.Equal(t, map[string]any{"testedIn": "test"}, metadataOf(t, get(t, &kargoapi.Freight{}, ns, freight).Status.Metadata))
	out := map[string]any{}
	require.NoError(t, json.Unmarshal(p.Status.State.Raw, &out))
	require.Equal(t, map[string]any{"promotedBy": "test-1", "testedIn": "test", "from": "test"}, out["read"])
	// The rest of the Stage's status is the controllers' as before.
	require.Equal(t, freight, get(t, &kargoapi.Stage{}, ns, "test").Status.CurrentFreight.ID)

	t.Run("a Stage of another project, or one that does not exist, fails the promotion before anything is written", func(t *testing.T) {
		other := env.NewProject(t, "metadata-other")
		require.NoError(t, env.Admin.Create(ctx, objects.Stage(other, "victim", objects.SubscribesTo("w"))))
		bad := get(t, &kargoapi.Stage{}, ns, "test")
		bad.Spec.PromotionTemplate.Spec.Steps = []kargoapi.PromotionStep{{Uses: "set-metadata", Config: cfg(`{"updates": [
			{"kind": "Stage", "name": "notes", "values": {"from": "second"}},
			{"kind": "Stage", "name": "victim", "values": {"pwned": true}}
		]}`)}}
		require.NoError(t, env.Admin.Update(ctx, bad))
		p := metadataPromote(t, ns, "test", freight, 2)
		require.Equal(t, kargoapi.PromotionPhaseFailed, p.Status.Phase)
		require.Contains(t, p.Status.Message, `updates[1]: project `+ns+` has no Stage "victim"`)
		require.Nil(t, get(t, &kargoapi.Stage{}, other, "victim").Status.Metadata)
		require.Equal(t, "test", metadataOf(t, get(t, &kargoapi.Stage{}, ns, "notes").Status.Metadata)["from"].(map[string]any)["stage"],
			"the first update was not written either")

		bad = get(t, &kargoapi.Stage{}, ns, "test")
		bad.Spec.PromotionTemplate.Spec.Steps[0].Config = cfg(`{"updates": [{"kind": "Stage", "name": "victim", "namespace": "` + other + `", "values": {"pwned": true}}]}`)
		require.NoError(t, env.Admin.Update(ctx, bad))
		p = metadataPromote(t, ns, "test", freight, 3)
		require.Equal(t, kargoapi.PromotionPhaseFailed, p.Status.Phase)
		require.Contains(t, p.Status.Message, `unknown field "namespace"`)
		require.Nil(t, get(t, &kargoapi.Stage{}, other, "victim").Status.Metadata)
	})

	t.Run("metadata past 64 KiB is refused", func(t *testing.T) {
		big := get(t, &kargoapi.Stage{}, ns, "test")
		big.Spec.PromotionTemplate.Spec.Steps[0].Config = cfg(`{"updates": [{"kind": "Stage", "name": "notes", "values": {"blob": "` + strings.Repeat("x", 70<<10) + `"}}]}`)
		require.NoError(t, env.Admin.Update(ctx, big))
		p := metadataPromote(t, ns, "test", freight, 4)
		require.Equal(t, kargoapi.PromotionPhaseFailed, p.Status.Phase)
		require.Contains(t, p.Status.Message, "more than the 65536 allowed")
		require.NotContains(t, metadataOf(t, get(t, &kargoapi.Stage{}, ns, "notes").Status.Metadata), "blob")
	})

	t.Run("people cannot write metadata themselves: it is status", func(t *testing.T) {
		env.BindAccessUsers(t, ns)
		for _, user := range []string{kubetest.Adam, kubetest.Bob} {
			notes := get(t, &kargoapi.Stage{}, ns, "notes")
			notes.Status.Metadata = cfg(`{"from": "` + user + `"}`)
			err := env.As(t, user).Status().Update(ctx, notes)
			require.Error(t, err, user)
			require.Equal(t, "test", metadataOf(t, get(t, &kargoapi.Stage{}, ns, "notes").Status.Metadata)["from"].(map[string]any)["stage"])
		}
	})
}
