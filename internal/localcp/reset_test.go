package localcp

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestResetDeletesADataDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "etcd", "member"), 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "kubeconfig"), []byte("x"), 0o600))
	require.NoError(t, Reset(dir))
	_, err := os.Stat(dir)
	require.ErrorIs(t, err, os.ErrNotExist)
	require.NoError(t, Reset(dir), "a missing dir is already reset")
}

func TestResetRefusesWhatIsNotADataDir(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "thesis.tex"), []byte("x"), 0o600))
	require.ErrorContains(t, Reset(dir), "does not look like a kargo local data dir")
	_, err := os.Stat(filepath.Join(dir, "thesis.tex"))
	require.NoError(t, err, "nothing deleted")
}

func TestResetRefusesADirInUse(t *testing.T) {
	dir := t.TempDir()
	lock, err := lockDataDir(dir)
	require.NoError(t, err)
	defer lock.Close()
	require.ErrorContains(t, Reset(dir), "in use by another `kargo local`")
	_, err = os.Stat(filepath.Join(dir, "lock"))
	require.NoError(t, err, "nothing deleted")
}
