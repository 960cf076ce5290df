package cli

import (
	"net/netip"
	"testing"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/require"

	"github.com/kargohq/kargo/internal/egress"
)

func TestEgressFlags(t *testing.T) {
	var o egressFlags
	f := pflag.NewFlagSet("controller", pflag.ContinueOnError)
	o.register(f)
	require.NoError(t, f.Parse([]string{
		"--allow-outbound=127.0.0.1:5000,git.corp.example:443",
		"--allow-outbound", "10.20.0.0/16",
		"--verification-allow-cidr=169.254.10.0/24",
		"--max-helm-index-size=64Mi",
	}))
	p := o.policy()
	for _, allowed := range []struct{ host, addr string }{
		{"", "127.0.0.1:5000"},
		{"git.corp.example", "10.9.9.9:443"},
		{"", "10.20.1.2:22"},
		{"", "169.254.10.7:80"},
	} {
		require.NoError(t, p.Check(allowed.host, netip.MustParseAddrPort(allowed.addr)), allowed)
	}
	for _, refused := range []string{"127.0.0.1:6443", "10.21.0.1:443", "169.254.169.254:80"} {
		require.ErrorIs(t, p.Check("", netip.MustParseAddrPort(refused)), egress.ErrRefused, refused)
	}
	n, err := o.maxHelmIndexBytes()
	require.NoError(t, err)
	require.Equal(t, int64(64<<20), n)

	var defaults egressFlags
	f = pflag.NewFlagSet("controller", pflag.ContinueOnError)
	defaults.register(f)
	require.NoError(t, f.Parse(nil))
	n, err = defaults.maxHelmIndexBytes()
	require.NoError(t, err)
	require.Equal(t, int64(32<<20), n)
	require.ErrorIs(t, defaults.policy().Check("", netip.MustParseAddrPort("10.0.0.1:443")), egress.ErrRefused)

	f = pflag.NewFlagSet("controller", pflag.ContinueOnError)
	defaults.register(f)
	require.NoError(t, f.Parse([]string{"--allow-private-outbound"}))
	require.NoError(t, defaults.policy().Check("", netip.MustParseAddrPort("10.0.0.1:443")))

	for _, bad := range [][]string{{"--allow-outbound=http://example.com"}, {"--allow-outbound=10.0.0.0/33"}} {
		f = pflag.NewFlagSet("controller", pflag.ContinueOnError)
		(&egressFlags{}).register(f)
		require.Error(t, f.Parse(bad), bad)
	}
	o.maxHelmIndex = "lots"
	_, err = o.maxHelmIndexBytes()
	require.ErrorContains(t, err, "--max-helm-index-size=lots is not a size")
}
