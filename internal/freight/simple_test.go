package freight

import (
	"testing"

	"github.com/stretchr/testify/require"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
)

func TestPushAvailable(t *testing.T) {
	a, b, c := kargoapi.SimpleFreight{ID: "a"}, kargoapi.SimpleFreight{ID: "b"}, kargoapi.SimpleFreight{ID: "c"}
	stack, changed := PushAvailable(nil, a, 2)
	require.True(t, changed)
	stack, _ = PushAvailable(stack, b, 2)
	require.Equal(t, []kargoapi.SimpleFreight{b, a}, stack, "newest first")
	stack, changed = PushAvailable(stack, a, 2)
	require.False(t, changed, "de-duplicated by ID")
	require.Equal(t, []kargoapi.SimpleFreight{b, a}, stack)
	stack, _ = PushAvailable(stack, c, 2)
	require.Equal(t, []kargoapi.SimpleFreight{c, b}, stack, "the oldest falls off")
}
