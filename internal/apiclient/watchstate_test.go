package apiclient

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kargohq/kargo/internal/apitypes"
)

// TestWatchStateJoinsStreams: the replay that starts a new stream passes on
// only what changed since the last one.
func TestWatchStateJoinsStreams(t *testing.T) {
	obj := func(name, rv string) string {
		return `{"metadata":{"name":"` + name + `","resourceVersion":"` + rv + `"}}`
	}
	ev := func(typ, o string) string { return `data: {"type":"` + typ + `","object":` + o + "}\n\n" }
	stream := func(events ...string) *strings.Reader { return strings.NewReader(strings.Join(events, "")) }
	var got []string
	st := &watchState{known: map[string]knownObject{}, send: func(e apitypes.WatchEvent) bool {
		got = append(got, e.Type+" "+string(e.Object))
		return true
	}}

	reconnect, err := st.read(stream(ev("ADDED", obj("a", "1")), ev("ADDED", obj("b", "1")), `data: {"type":"SYNCED"}`+"\n\n",
		ev("MODIFIED", obj("a", "2")), `data: {"type":"RECONNECT"}`+"\n\n", ev("MODIFIED", obj("a", "9"))))
	require.NoError(t, err)
	require.True(t, reconnect)
	require.Equal(t, []string{"ADDED " + obj("a", "1"), "ADDED " + obj("b", "1"), "MODIFIED " + obj("a", "2")}, got, "nothing read after RECONNECT")

	got = nil
	st.resync()
	reconnect, err = st.read(stream(ev("ADDED", obj("a", "2")), ev("ADDED", obj("c", "3")), `data: {"type":"SYNCED"}`+"\n\n",
		ev("MODIFIED", obj("c", "4"))))
	require.NoError(t, err)
	require.False(t, reconnect, "a stream that ends without RECONNECT ends the watch")
	require.Equal(t, []string{"ADDED " + obj("c", "3"), "DELETED " + obj("b", "1"), "MODIFIED " + obj("c", "4")}, got)

	got = nil
	st.resync()
	_, err = st.read(stream(ev("ADDED", obj("a", "5")), ev("ADDED", obj("c", "4")), `data: {"type":"SYNCED"}`+"\n\n",
		`data: {"type":"ERROR","object":{"kind":"Status","code":403,"message":"no"}}`+"\n\n"))
	require.NoError(t, err)
	require.Equal(t, []string{"MODIFIED " + obj("a", "5"), `ERROR {"kind":"Status","code":403,"message":"no"}`}, got,
		"a changed object replayed is a change; the refusal is passed on")
}
