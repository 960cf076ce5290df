package yamledit

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
)

func readChartLockData(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "chartlock", name))
	require.NoError(t, err)
	return b
}

// The digests Helm itself wrote (testdata/chartlock, made by `helm
// dependency update`) are the ones ChartLockDigest computes.
func TestChartLockDigestIsHelms(t *testing.T) {
	for _, v := range []string{"1.0.0", "1.1.0"} {
		lock := readChartLockData(t, "Chart-"+v+".lock")
		digest, err := ChartLockDigest(readChartLockData(t, "Chart-"+v+".yaml"), lock)
		require.NoError(t, err)
		require.Contains(t, string(lock), "digest: "+digest+"\n")
	}
}

// Changing dep from 1.0.0 to 1.1.0 gives the lock Helm wrote for 1.1.0,
// byte for byte but for the generated time, which stays as it was.
func TestUpdateChartLockAgreesWithHelm(t *testing.T) {
	oldChart, newChart := readChartLockData(t, "Chart-1.0.0.yaml"), readChartLockData(t, "Chart-1.1.0.yaml")
	got, err := UpdateChartLock(readChartLockData(t, "Chart-1.0.0.lock"), oldChart, newChart, "http://127.0.0.1:18765/charts/", "dep", "1.1.0")
	require.NoError(t, err)
	require.True(t, got.Locked)
	require.False(t, got.DigestKept)
	generated := regexp.MustCompile(`(?m)^generated: .*$`)
	want := readChartLockData(t, "Chart-1.1.0.lock")
	require.Equal(t,
		generated.ReplaceAllString(string(want), generated.FindString(string(readChartLockData(t, "Chart-1.0.0.lock")))),
		string(got.Lock))

	again, err := UpdateChartLock(got.Lock, newChart, newChart, "http://127.0.0.1:18765/charts", "dep", "1.1.0")
	require.NoError(t, err)
	require.Equal(t, string(got.Lock), string(again.Lock), "applying the change again changes nothing")
}

func TestUpdateChartLockLeavesWhatItCannotVouchFor(t *testing.T) {
	oldChart, newChart := readChartLockData(t, "Chart-1.0.0.yaml"), readChartLockData(t, "Chart-1.1.0.yaml")
	lock := readChartLockData(t, "Chart-1.0.0.lock")

	// A dependency the lock does not list: the lock is left alone.
	got, err := UpdateChartLock(lock, oldChart, newChart, "http://127.0.0.1:18765/charts", "missing", "1.1.0")
	require.NoError(t, err)
	require.False(t, got.Locked)
	require.Equal(t, string(lock), string(got.Lock))

	// A lock already out of date: the version follows, the digest cannot.
	stale := regexp.MustCompile(`digest: sha256:[0-9a-f]+`).ReplaceAll(lock, []byte("digest: sha256:0000"))
	got, err = UpdateChartLock(stale, oldChart, newChart, "http://127.0.0.1:18765/charts", "dep", "1.1.0")
	require.NoError(t, err)
	require.True(t, got.DigestKept)
	require.Contains(t, string(got.Lock), "version: 1.1.0")
	require.Contains(t, string(got.Lock), "digest: sha256:0000\n")
}
