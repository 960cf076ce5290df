package poll

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestRefreshTime(t *testing.T) {
	now := time.Date(2026, 11, 21, 20, 0, 0, 0, time.UTC)
	require.Equal(t, time.Date(2026, 11, 21, 19, 59, 0, 123, time.UTC), RefreshTime("2026-11-21T19:59:00.000000123Z", now))
	require.Equal(t, time.Unix(1795287600, 0), RefreshTime("1795287600", now))
	require.Equal(t, now, RefreshTime("please", now))
	require.Equal(t, now, RefreshTime("2030-01-01T00:00:00Z", now), "a future time means now")
}
