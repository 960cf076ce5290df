// Package sshserver runs a real OpenSSH server (Debian's openssh-server
// package, /usr/sbin/sshd) for tests: on 127.0.0.1 at an unprivileged port,
// with a host key and a client key of its own, accepting that one key for
// the user running the tests, whose login shell runs git-upload-pack and
// git-receive-pack as a Git host's would.
package sshserver

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Binary is where Debian's openssh-server installs sshd.
const Binary = "/usr/sbin/sshd"

// Server is a running sshd.
type Server struct {
	// Port is the port sshd listens on, on 127.0.0.1.
	Port int
	// User is the user that may log in (the one running the tests).
	User string
	// ClientKey is the OpenSSH private key sshd accepts for User.
	ClientKey []byte
	// HostKey is sshd's public host key, "ssh-ed25519 AAAA...".
	HostKey string
	// OtherHostKey is a host key sshd does not have, for tests of a
	// known_hosts that names the wrong key.
	OtherHostKey string

	log *bytes.Buffer
}

// Start starts sshd for the duration of the test. It fails the test when
// /usr/sbin/sshd is missing: install Debian's openssh-server package.
func Start(t testing.TB) *Server {
	t.Helper()
	if _, err := os.Stat(Binary); err != nil {
		t.Fatalf("%s is missing: install Debian's openssh-server package (apt-get install openssh-server); make ui-deps does", Binary)
	}
	u, err := user.Current()
	if err != nil {
		t.Fatalf("current user: %v", err)
	}
	dir := t.TempDir()
	s := &Server{User: u.Username, log: &bytes.Buffer{}}
	keygen := func(name string) (private []byte, public string) {
		path := filepath.Join(dir, name)
		if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", path).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v: %s", err, out)
		}
		priv, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		pub, err := os.ReadFile(path + ".pub")
		if err != nil {
			t.Fatal(err)
		}
		fields := strings.Fields(string(pub))
		return priv, fields[0] + " " + fields[1]
	}
	_, s.HostKey = keygen("host_key")
	_, s.OtherHostKey = keygen("other_host_key")
	var clientPub string
	s.ClientKey, clientPub = keygen("client_key")
	authorized := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(authorized, []byte(clientPub+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		// sshd running as root separates privileges into this directory.
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
			t.Fatal(err)
		}
	}

	// A free port; sshd is told to use it. Another process could take it
	// in between, which the wait below would report.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.Port = ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()

	config := filepath.Join(dir, "sshd_config")
	cfg := strings.Join([]string{
		"ListenAddress 127.0.0.1:" + strconv.Itoa(s.Port),
		"HostKey " + filepath.Join(dir, "host_key"),
		"PidFile none",
		"AuthorizedKeysFile " + authorized,
		"AllowUsers " + s.User,
		"PubkeyAuthentication yes",
		"PasswordAuthentication no",
		"KbdInteractiveAuthentication no",
		"PermitRootLogin prohibit-password",
		"StrictModes no",
		"UsePAM no",
		"AcceptEnv GIT_PROTOCOL",
		"AllowTcpForwarding no",
		"X11Forwarding no",
		"PrintMotd no",
		"LogLevel VERBOSE",
		"",
	}, "\n")
	if err := os.WriteFile(config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	// -D: stay in the foreground; -e: log to standard error.
	cmd := exec.CommandContext(ctx, Binary, "-D", "-e", "-f", config)
	cmd.Stdout, cmd.Stderr = s.log, s.log
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start sshd: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cancel()
		<-exited
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", s.Addr(), time.Second)
		if err == nil {
			_ = c.Close()
			break
		}
		select {
		case <-exited:
			t.Fatalf("sshd exited: %s", s.log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("sshd did not listen on %s within 20 s: %s", s.Addr(), s.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	// sshd logs the readiness probe's connection a moment later; wait for
	// it, so that tests counting connections count from a known start.
	for !strings.Contains(s.log.String(), "Connection from") {
		if time.Now().After(deadline) {
			t.Fatalf("sshd did not log the readiness probe's connection within 20 s: %s", s.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return s
}

// Addr is sshd's address.
func (s *Server) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.Port) }

// KnownHosts is a known_hosts line for the server's key under host (such
// as "127.0.0.1" or a name that resolves to it), with the port.
func (s *Server) KnownHosts(host string) []byte {
	return []byte(fmt.Sprintf("[%s]:%d %s\n", host, s.Port, s.HostKey))
}

// Log is what sshd has logged so far.
func (s *Server) Log() string { return s.log.String() }

// Serve configures the bare repository at path (such as one of a
// gitserver.Server) to serve partial clones, as the tests' HTTP Git servers
// do, and returns path.
func (s *Server) Serve(t testing.TB, path string) string {
	t.Helper()
	for _, kv := range [][2]string{{"uploadpack.allowFilter", "true"}, {"uploadpack.allowAnySHA1InWant", "true"}} {
		if out, err := exec.Command("git", "-C", path, "config", kv[0], kv[1]).CombinedOutput(); err != nil {
			t.Fatalf("git config: %v: %s", err, out)
		}
	}
	return path
}

// URL is the ssh:// URL of the repository at path under host.
func (s *Server) URL(host, path string) string {
	return fmt.Sprintf("ssh://%s@%s:%d%s", s.User, host, s.Port, path)
}
