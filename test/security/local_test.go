package security

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kargohq/kargo/internal/testutil/kargolocal"
	"github.com/kargohq/kargo/internal/testutil/kubetest"
)

// kargo local's etcd holds every Secret and every RBAC binding: whoever
// reaches it without credentials reads the Secrets and makes himself
// cluster-admin, as a project admin once did through its unauthenticated
// loopback port. These attacks come from a process on the same machine, as
// a controller-made request would, with whatever credentials it can get
// without reading the data dir.
func TestLocalControlPlane(t *testing.T) {
	l, dataDir := localStart(t)
	loot := localRandom(t)
	out, err := l.Kubectl(t, "", "create", "secret", "generic", "loot", "--namespace", "default", "--from-literal=password="+loot)
	require.NoError(t, err, out)
	const secretKey = "/registry/secrets/default/loot"
	const bindingKey = "/registry/clusterrolebindings/pwned"
	etcd := localFindEtcd(t, dataDir)
	pki := func(name string) string { return filepath.Join(dataDir, "pki", name) }
	stranger := localStrangerCert(t)

	t.Run("kube-apiserver still reads etcd, with the certificate only it has", func(t *testing.T) {
		out, err := l.Kubectl(t, "", "get", "secret", "loot", "--namespace", "default", "-o", "jsonpath={.data.password}")
		require.NoError(t, err, out)
		require.Equal(t, base64.StdEncoding.EncodeToString([]byte(loot)), out)
		// The probe the attacks below use reads the Secret when it has the
		// credentials, so its failing there is the refusal and nothing else.
		value, err := localEtcdRange(localTLSClient(t, pki("etcd/ca.crt"), pki("apiserver-etcd-client.crt"), pki("apiserver-etcd-client.key")), "https://"+etcd.client, secretKey)
		require.NoError(t, err)
		require.Contains(t, string(value), loot)
	})

	attempts := []struct {
		name   string
		client *http.Client
		scheme string
	}{
		{name: "a client without a certificate cannot read or write etcd over plain HTTP", client: &http.Client{Timeout: 10 * time.Second}, scheme: "http"},
		{name: "a client without a certificate cannot read or write etcd over TLS", client: localTLSClient(t, "", "", ""), scheme: "https"},
		{name: "a client with a certificate from another CA cannot read or write etcd", client: localTLSClient(t, "", stranger.cert, stranger.key), scheme: "https"},
		// kube-apiserver accepts this certificate; etcd must not, or every
		// Kubernetes client certificate would open it.
		{name: "a client with kube-controller-manager's Kubernetes certificate cannot read or write etcd", client: localTLSClient(t, "", pki("kube-controller-manager.crt"), pki("kube-controller-manager.key")), scheme: "https"},
	}
	for _, a := range attempts {
		t.Run(a.name, func(t *testing.T) {
			url := a.scheme + "://" + etcd.client
			value, err := localEtcdRange(a.client, url, secretKey)
			require.Error(t, err, "etcd answered a range request")
			require.NotContains(t, string(value), loot)
			err = localEtcdPut(a.client, url, bindingKey, "cluster-admin for mallory")
			require.Error(t, err, "etcd accepted a put")
			out, err := l.Kubectl(t, "", "get", "clusterrolebinding", "pwned")
			require.Error(t, err, "the ClusterRoleBinding was written:\n%s", out)
			require.Contains(t, out, "NotFound")
		})
	}

	t.Run("etcd's peer port refuses strangers", func(t *testing.T) {
		url := "https://" + etcd.peer + "/members"
		// etcd's own peer certificate lists the members: the probe works.
		_, err := localGet(localTLSClient(t, pki("etcd/ca.crt"), pki("etcd/peer.crt"), pki("etcd/peer.key")), url)
		require.NoError(t, err)

		for name, client := range map[string]*http.Client{
			"plain HTTP":                 {Timeout: 10 * time.Second},
			"no certificate":             localTLSClient(t, "", "", ""),
			"another CA's certificate":   localTLSClient(t, "", stranger.cert, stranger.key),
			"kube-apiserver's etcd cert": localTLSClient(t, "", pki("apiserver-etcd-client.crt"), pki("apiserver-etcd-client.key")),
		} {
			u := url
			if name == "plain HTTP" {
				u = "http://" + etcd.peer + "/members"
			}
			body, err := localGet(client, u)
			require.Error(t, err, "%s: the peer port answered: %s", name, body)
		}
	})

	t.Run("etcd listens on its client and peer ports only", func(t *testing.T) {
		require.ElementsMatch(t, []string{etcd.client, etcd.peer}, localListeners(t, etcd.pid))
	})

	t.Run("kube-apiserver answers nobody without credentials", func(t *testing.T) {
		apiserver := localFindProcess(t, dataDir, "kube-apiserver")
		ports := localListeners(t, apiserver)
		require.Len(t, ports, 1, "kube-apiserver listens on %v", ports)
		client := localTLSClient(t, "", "", "")
		for _, path := range []string{"/api/v1/namespaces/default/secrets/loot", "/version", "/healthz?verbose", "/metrics"} {
			body, err := localGet(client, "https://"+ports[0]+path)
			require.ErrorContains(t, err, "401", "%s answered an anonymous request: %s", path, body)
			require.NotContains(t, body, loot)
		}
	})

	t.Run("kube-controller-manager listens on no port", func(t *testing.T) {
		require.Empty(t, localListeners(t, localFindProcess(t, dataDir, "kube-controller-manager")))
	})
}

// localStart builds kargo and starts `kargo local` (no demo) on a data dir
// of its own.
func localStart(t *testing.T) (*kargolocal.Local, string) {
	t.Helper()
	root, err := kubetest.RepoRoot()
	require.NoError(t, err)
	bin, cleanup, err := kargolocal.Build(root)
	require.NoError(t, err)
	t.Cleanup(cleanup)
	dataDir := filepath.Join(t.TempDir(), "state")
	l := kargolocal.Start(t, kargolocal.Options{Bin: bin, BinDir: env.BinDir, DataDir: dataDir, Port: kargolocal.FreePort(t)})
	return l, dataDir
}

func localRandom(t *testing.T) string {
	t.Helper()
	b := make([]byte, 16)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return "loot-" + hex.EncodeToString(b)
}

// localEtcd is the running etcd of one data dir: its pid and the host:port
// of its client and peer listeners.
type localEtcd struct {
	pid          int
	client, peer string
}

// localFindEtcd finds etcd's process and listeners. Its client URL is the
// one kube-apiserver is given; the peer port is whatever else it listens on.
func localFindEtcd(t *testing.T, dataDir string) localEtcd {
	t.Helper()
	e := localEtcd{pid: localFindProcess(t, dataDir, "etcd")}
	for _, arg := range localCmdline(t, e.pid) {
		if v, ok := strings.CutPrefix(arg, "--listen-client-urls="); ok {
			_, e.client, _ = strings.Cut(v, "://")
		}
	}
	require.NotEmpty(t, e.client, "etcd has no --listen-client-urls")
	for _, addr := range localListeners(t, e.pid) {
		if addr != e.client {
			e.peer = addr
		}
	}
	require.NotEmpty(t, e.peer, "etcd listens on no peer port")
	return e
}

func localCmdline(t *testing.T, pid int) []string {
	t.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	require.NoError(t, err)
	return strings.Split(strings.TrimRight(string(raw), "\x00"), "\x00")
}

// localFindProcess returns the pid of the component of kargo local that
// runs the binary named name on dataDir.
func localFindProcess(t *testing.T, dataDir, name string) int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	require.NoError(t, err, "these attacks find kargo local's processes in /proc")
	var found []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		exe, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe"))
		if err != nil || filepath.Base(exe) != name {
			continue
		}
		raw, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && bytes.Contains(raw, []byte(dataDir)) {
			found = append(found, pid)
		}
	}
	require.Len(t, found, 1, "%s processes of %s", name, dataDir)
	return found[0]
}

// localListeners lists the host:port of every TCP socket the process
// listens on, from its file descriptors and /proc/net/tcp{,6}.
func localListeners(t *testing.T, pid int) []string {
	t.Helper()
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	require.NoError(t, err)
	inodes := map[string]bool{}
	for _, fd := range fds {
		target, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if inode, ok := strings.CutPrefix(target, "socket:["); err == nil && ok {
			inodes[strings.TrimSuffix(inode, "]")] = true
		}
	}
	listeners := []string{}
	for _, table := range []string{"tcp", "tcp6"} {
		raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/%s", pid, table))
		require.NoError(t, err)
		for _, line := range strings.Split(string(raw), "\n")[1:] {
			f := strings.Fields(line)
			// local_address rem_address st ... inode; 0A is LISTEN.
			if len(f) < 10 || f[3] != "0A" || !inodes[f[9]] {
				continue
			}
			listeners = append(listeners, localAddr(t, f[1]))
		}
	}
	return listeners
}

// localAddr decodes /proc/net/tcp's hex address:port, where the address is
// in host byte order 32-bit words (little-endian here).
func localAddr(t *testing.T, hexAddr string) string {
	t.Helper()
	h, p, ok := strings.Cut(hexAddr, ":")
	require.True(t, ok, hexAddr)
	raw, err := hex.DecodeString(h)
	require.NoError(t, err)
	for i := 0; i+4 <= len(raw); i += 4 {
		raw[i], raw[i+1], raw[i+2], raw[i+3] = raw[i+3], raw[i+2], raw[i+1], raw[i]
	}
	port, err := strconv.ParseUint(p, 16, 16)
	require.NoError(t, err)
	return net.JoinHostPort(net.IP(raw).String(), strconv.Itoa(int(port)))
}

// localTLSClient is an HTTPS client that trusts caFile (any server when
// empty, as an attacker who does not care would) and presents the client
// certificate certFile/keyFile (none when empty).
func localTLSClient(t *testing.T, caFile, certFile, keyFile string) *http.Client {
	t.Helper()
	cfg := &tls.Config{InsecureSkipVerify: true} //nolint:gosec // an attacker does not verify
	if caFile != "" {
		raw, err := os.ReadFile(caFile)
		require.NoError(t, err)
		cfg.RootCAs = x509.NewCertPool()
		require.True(t, cfg.RootCAs.AppendCertsFromPEM(raw))
		cfg.InsecureSkipVerify = false
	}
	if certFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		require.NoError(t, err)
		cfg.Certificates = []tls.Certificate{cert}
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}
}

// localEtcdRange reads key through etcd's gRPC gateway (POST /v3/kv/range)
// and returns its value; it fails unless etcd answers with the key.
func localEtcdRange(client *http.Client, baseURL, key string) ([]byte, error) {
	body, err := localPost(client, baseURL+"/v3/kv/range", map[string]string{"key": base64.StdEncoding.EncodeToString([]byte(key))})
	if err != nil {
		return nil, err
	}
	var resp struct {
		Kvs []struct {
			Value []byte `json:"value"`
		} `json:"kvs"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		return nil, fmt.Errorf("decode %s: %w", body, err)
	}
	if len(resp.Kvs) != 1 {
		return nil, fmt.Errorf("range %s: %d keys in %s", key, len(resp.Kvs), body)
	}
	return resp.Kvs[0].Value, nil
}

// localEtcdPut writes key through etcd's gRPC gateway (POST /v3/kv/put).
func localEtcdPut(client *http.Client, baseURL, key, value string) error {
	_, err := localPost(client, baseURL+"/v3/kv/put", map[string]string{
		"key":   base64.StdEncoding.EncodeToString([]byte(key)),
		"value": base64.StdEncoding.EncodeToString([]byte(value)),
	})
	return err
}

func localPost(client *http.Client, url string, body any) ([]byte, error) {
	raw, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	resp, err := client.Post(url, "application/json", bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return out, fmt.Errorf("POST %s: %s: %s", url, resp.Status, out)
	}
	return out, nil
}

// localGet fails unless url answers 200; it returns the body either way.
func localGet(client *http.Client, url string) (string, error) {
	resp, err := client.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return string(out), fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return string(out), nil
}

// localCert is a certificate and key written to files.
type localCert struct{ cert, key string }

// localStrangerCert makes a CA of its own and a client certificate from it
// that claims kube-apiserver's name, as an impostor would.
func localStrangerCert(t *testing.T) localCert {
	t.Helper()
	dir := t.TempDir()
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kargo-local-etcd-ca"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature, BasicConstraintsValid: true, IsCA: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	require.NoError(t, err)
	ca, err := x509.ParseCertificate(caDER)
	require.NoError(t, err)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "kube-apiserver-etcd-client"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, ca, key.Public(), caKey)
	require.NoError(t, err)
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	c := localCert{cert: filepath.Join(dir, "client.crt"), key: filepath.Join(dir, "client.key")}
	// The chain goes along, so the server sees the impostor CA too.
	chain := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})...)
	require.NoError(t, os.WriteFile(c.cert, chain, 0o600))
	require.NoError(t, os.WriteFile(c.key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600))
	return c
}
