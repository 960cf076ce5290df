package ui

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/demo"
	"github.com/kargohq/kargo/internal/testutil/kargolocal"
)

// viewsStage is the Stage the views test adds to the demo: its promotion
// is a process of steps (git-clone, kustomize-set-image, git-commit,
// git-push) into the demo's GitOps repository, so that its Promotion view
// has steps, outputs and a commit to show.
const viewsStage = "ui-steps"

// The pages of one object, as alice (a promoter) and bob (a viewer who may
// promote into uat only) use them: a Stage's page, promoting from it into
// the Promotion's page, which follows the steps live and shows the commit's
// diff read from the Git server; and bob's refusals with the server's
// reasons. ui/e2e/views.e2e.mjs drives the browser.
func TestViewsInTheBrowser(t *testing.T) {
	chromium, script := prerequisites(t, "views.e2e.mjs")

	dataDir := filepath.Join(t.TempDir(), "state")
	l := kargolocal.Start(t, kargolocal.Options{Bin: kargoBin, BinDir: binDir, DataDir: dataDir, Port: kargolocal.FreePort(t), Args: []string{"--demo"}})
	uiURL, err := l.UIURL()
	require.NoError(t, err)
	c := adminClient(t, l)
	freight := demoFreight(t, c)
	ctx := context.Background()

	// The demo's test Stage names the GitOps repository and the image.
	test := &kargoapi.Stage{}
	require.NoError(t, c.Get(ctx, client.ObjectKey{Namespace: project, Name: "test"}, test))
	upd := test.Spec.PromotionMechanisms.GitRepoUpdates[0]
	cfg := func(s string) *kargoapi.StepConfig { return &kargoapi.StepConfig{Raw: []byte(s)} }
	st := &kargoapi.Stage{
		ObjectMeta: metav1.ObjectMeta{Namespace: project, Name: viewsStage},
		Spec: kargoapi.StageSpec{
			Subscriptions: &kargoapi.Subscriptions{Warehouse: "kargo-demo"},
			PromotionTemplate: &kargoapi.PromotionTemplate{Spec: kargoapi.PromotionTemplateSpec{Steps: []kargoapi.PromotionStep{
				{Uses: "git-clone", Config: cfg(`{"repoURL": "` + string(upd.RepoURL) + `", "checkout": [{"branch": "main", "path": "./out"}]}`)},
				{Uses: "kustomize-set-image", As: "update", Config: cfg(`{"path": "./out/stages/test", "images": [{"image": "` + string(upd.Kustomize.Images[0].Image) + `"}]}`)},
				{Uses: "git-commit", As: "commit", Config: cfg(`{"path": "./out", "message": "${{ outputs.update.commitMessage }}"}`)},
				{Uses: "git-push", As: "push", Config: cfg(`{"path": "./out", "targetBranch": "stages/` + viewsStage + `"}`)},
			}}},
		},
	}
	require.NoError(t, c.Create(ctx, st))

	token := func(user string) string {
		b, err := os.ReadFile(filepath.Join(dataDir, "users", user+".token"))
		require.NoError(t, err, "kargo local --demo gives %s a token", user)
		return strings.TrimSpace(string(b))
	}
	screenshots := t.TempDir()
	if os.Getenv("KARGO_UPDATE_DOCS") == "1" {
		screenshots = filepath.Join(root, "docs")
	}
	runScript(t, script, []string{
		"KARGO_UI_URL=" + uiURL,
		"KARGO_PROJECT=" + project,
		"KARGO_ALICE_TOKEN=" + token("alice"),
		"KARGO_BOB_TOKEN=" + token("bob"),
		"KARGO_FREIGHT_ALIAS=" + freight.Alias,
		"KARGO_FREIGHT_NAME=" + freight.Name,
		"KARGO_STEPS_STAGE=" + viewsStage,
		"KARGO_OLD_TAG=" + demo.InitialTags[0],
		"KARGO_NEW_TAG=" + demo.InitialTags[len(demo.InitialTags)-1],
		"KARGO_CHROMIUM=" + chromium,
		"KARGO_SCREENSHOT_DIR=" + screenshots,
	})
	l.Stop(t)
}
