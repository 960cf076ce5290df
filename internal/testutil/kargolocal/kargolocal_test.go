package kargolocal

import (
	"testing"

	"github.com/stretchr/testify/require"
)

const banner = `kargo local is running (ready in 6.1s)
  Kubernetes:  https://127.0.0.1:16443
  kargo API:   http://127.0.0.1:16444
  UI:          http://127.0.0.1:16444/#token=0123abcd
  webhooks:    https://127.0.0.1:40001

Press Ctrl-C to stop; everything is kept for the next start.
`

func TestBannerURLs(t *testing.T) {
	l := &Local{}
	l.out.WriteString(banner)
	api, err := l.APIURL()
	require.NoError(t, err)
	require.Equal(t, "http://127.0.0.1:16444", api)
	ui, err := l.UIURL()
	require.NoError(t, err)
	require.Equal(t, "http://127.0.0.1:16444/#token=0123abcd", ui)

	// A banner without the UI line (an older kargo) says so and shows it.
	l = &Local{}
	l.out.WriteString("kargo local: starting etcd\n" + "  kargo API:   http://127.0.0.1:7070\n")
	_, err = l.UIURL()
	require.ErrorContains(t, err, `printed no "UI:" line`)
	require.ErrorContains(t, err, "starting etcd")
}
