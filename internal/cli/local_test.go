package cli

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCheckAPIAddr(t *testing.T) {
	for _, tc := range []struct {
		addr        string
		allowPublic bool
		refused     string
		warned      bool
	}{
		{addr: "127.0.0.1:7070"},
		{addr: "127.0.0.2:7070"},
		{addr: "[::1]:7070"},
		{addr: "localhost:7070"},
		{addr: "0.0.0.0:7070", refused: "not a loopback address"},
		{addr: ":7070", refused: "not a loopback address"},
		{addr: "[::]:7070", refused: "not a loopback address"},
		{addr: "192.168.1.5:7070", refused: "--insecure-public-api"},
		{addr: "0.0.0.0:7070", allowPublic: true, warned: true},
		{addr: "127.0.0.1", refused: "not HOST:PORT"},
	} {
		t.Run(tc.addr, func(t *testing.T) {
			warning, err := checkAPIAddr(tc.addr, tc.allowPublic)
			if tc.refused != "" {
				require.ErrorContains(t, err, tc.refused)
				require.ErrorAs(t, err, new(usageError))
				return
			}
			require.NoError(t, err)
			if tc.warned {
				require.Contains(t, warning, "WARNING")
				require.Contains(t, warning, "plain HTTP")
			} else {
				require.Empty(t, warning)
			}
		})
	}
}
