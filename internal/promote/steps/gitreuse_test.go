package steps

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/promote/engine"
)

// A Promotion that fails after editing its clone leaves the work tree for
// the next Promotion of its project once the engine removes its work
// directory; the next one gets it back with the branch's files only. A
// Promotion of another project into the same repository never gets it: it
// sees none of the files the first project's Promotion left behind.
func TestGitCloneWorkTreeKeptPerProject(t *testing.T) {
	f := newGitFixture(t)
	e := &engine.Engine{Steps: New(f.deps)}
	clone := step(t, "git-clone", "", `{"repoURL": "`+f.repo+`", "checkout": [{"branch": "main", "path": "./out"}]}`)
	failing := engine.Process{Steps: []kargoapi.PromotionStep{
		clone,
		step(t, "copy", "", `{"inPath": "./out/base/app.yaml", "outPath": "./out/secret.yaml"}`),
		// Fails: no such file.
		step(t, "yaml-update", "", `{"path": "./out/missing.yaml", "updates": [{"key": "a", "value": "b"}]}`),
	}}
	sc := f.stepContext(t, "p1")
	out, err := e.Run(context.Background(), sc, failing, &kargoapi.PromotionStatus{}, func(bool) error { return nil })
	require.NoError(t, err)
	require.Equal(t, kargoapi.PromotionPhaseFailed, out.Phase)
	kept, err := os.Stat(filepath.Join(sc.WorkDir, "out/base/app.yaml"))
	require.NoError(t, err)
	require.NoError(t, e.RemoveWorkDir(sc.WorkDir))
	_, err = os.Stat(sc.WorkDir)
	require.ErrorIs(t, err, os.ErrNotExist)

	only := engine.Process{Steps: []kargoapi.PromotionStep{clone}}
	other := f.stepContext(t, "p2")
	other.Project = "other"
	out, err = e.Run(context.Background(), other, only, &kargoapi.PromotionStatus{}, func(bool) error { return nil })
	require.NoError(t, err)
	require.Equal(t, kargoapi.PromotionPhaseSucceeded, out.Phase)
	fi, err := os.Stat(filepath.Join(other.WorkDir, "out/base/app.yaml"))
	require.NoError(t, err)
	require.False(t, os.SameFile(kept, fi), "another project's Promotion got a work tree of its own")
	require.NoFileExists(t, filepath.Join(other.WorkDir, "out/secret.yaml"))

	same := f.stepContext(t, "p3")
	out, err = e.Run(context.Background(), same, only, &kargoapi.PromotionStatus{}, func(bool) error { return nil })
	require.NoError(t, err)
	require.Equal(t, kargoapi.PromotionPhaseSucceeded, out.Phase)
	fi, err = os.Stat(filepath.Join(same.WorkDir, "out/base/app.yaml"))
	require.NoError(t, err)
	require.True(t, os.SameFile(kept, fi), "the project's next Promotion reused its work tree")
	require.NoFileExists(t, filepath.Join(same.WorkDir, "out/secret.yaml"), "without what the failed Promotion left")
}
