package cli

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strconv"
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

// The demo's addresses kept from its last start are checked too, saying
// why they cannot simply move; --reset forgets them.
func TestLocalChecksTheDemoAddressesItKept(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer busy.Close()
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "demo"), 0o700))
	require.NoError(t, saveDemoState(dir, demoState{Registry: busy.Addr().String(), Git: "127.0.0.1:0"}))
	o := localOptions{dataDir: dir, apiAddr: "127.0.0.1:0", admissionAddr: "127.0.0.1:0", demo: true}
	addrs, err := localListenAddrs(o)
	require.NoError(t, err)
	err = checkListenAddrs(addrs)
	require.EqualError(t, err, "the demo registry cannot listen on "+busy.Addr().String()+", which is in use (is another `kargo local` running?): "+
		"the demo's Warehouse and Stages name it (kept in "+demoStatePath(dir)+"), so free it, or start over with --reset")

	o.reset = true
	addrs, err = localListenAddrs(o)
	require.NoError(t, err)
	require.NoError(t, checkListenAddrs(addrs))
}

// kargo local keeps a CLI config of its own in each data dir, and logs the
// user's CLI config in to itself only when that names no other server.
func TestLocalCLIConfigs(t *testing.T) {
	dir := t.TempDir()
	userConfig := filepath.Join(t.TempDir(), "config.yaml")
	t.Setenv(configEnv, userConfig)
	own := filepath.Join(dir, localCLIConfig)

	// Nothing configured: both are written.
	banner, err := writeLocalCLIConfigs(dir, "http://127.0.0.1:7070", "t1")
	require.NoError(t, err)
	require.Contains(t, banner, "The kargo CLI is logged in to it ("+userConfig)
	require.Equal(t, &Config{Server: "http://127.0.0.1:7070", Token: "t1"}, readConfig(t, own))
	require.Equal(t, &Config{Server: "http://127.0.0.1:7070", Token: "t1"}, readConfig(t, userConfig))

	// The same server, restarted with a new token (or another data dir on
	// the same address): the user's config follows, keeping its project.
	require.NoError(t, saveConfig(userConfig, &Config{Server: "http://127.0.0.1:7070", Token: "t1", Project: "kargo-demo"}))
	_, err = writeLocalCLIConfigs(dir, "http://127.0.0.1:7070", "t2")
	require.NoError(t, err)
	require.Equal(t, &Config{Server: "http://127.0.0.1:7070", Token: "t2", Project: "kargo-demo"}, readConfig(t, userConfig))

	// Another kargo local, on another data dir and address: the user's
	// config stays the first one's; the banner says how to use its own.
	other := t.TempDir()
	banner, err = writeLocalCLIConfigs(other, "http://127.0.0.1:17070", "t3")
	require.NoError(t, err)
	require.Contains(t, banner, "is for another server, http://127.0.0.1:7070, and stays so")
	require.Contains(t, banner, "export KARGO_CONFIG="+filepath.Join(other, localCLIConfig))
	require.Equal(t, "http://127.0.0.1:7070", readConfig(t, userConfig).Server)
	require.Equal(t, &Config{Server: "http://127.0.0.1:17070", Token: "t3"}, readConfig(t, filepath.Join(other, localCLIConfig)))

	// $KARGO_CONFIG naming the data dir's own config.
	t.Setenv(configEnv, filepath.Join(other, localCLIConfig))
	banner, err = writeLocalCLIConfigs(other, "http://127.0.0.1:17070", "t3")
	require.NoError(t, err)
	require.Contains(t, banner, "The kargo CLI is logged in to it ($KARGO_CONFIG is "+filepath.Join(other, localCLIConfig)+")")
}

// A record of a running kargo local counts while its process holds its
// data dir; one left behind by a process that died, or whose pid another
// process took since, is ignored and deleted.
func TestRunningRecordsIgnoreStaleOnes(t *testing.T) {
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	live, stale := t.TempDir(), t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(live, "lock"), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600))
	// The stale data dir's lock names another pid: its kargo local died
	// and this pid is now someone else's.
	require.NoError(t, os.WriteFile(filepath.Join(stale, "lock"), []byte("1\n"), 0o600))
	remove, err := recordRunning(runningLocal{PID: os.Getpid(), DataDir: live, API: "http://127.0.0.1:7070", Demo: true})
	require.NoError(t, err)
	b, err := json.Marshal(runningLocal{PID: os.Getpid(), DataDir: stale, Demo: true})
	require.NoError(t, err)
	stalePath := filepath.Join(runningDir(), "999999999.json")
	require.NoError(t, os.WriteFile(stalePath, b, 0o600))

	dir, err := runningDemoDataDir()
	require.NoError(t, err)
	require.Equal(t, live, dir)
	require.NoFileExists(t, stalePath)

	remove()
	dir, err = runningDemoDataDir()
	require.NoError(t, err)
	require.Equal(t, defaultDataDir(), dir, "none running: the default data dir")
}
