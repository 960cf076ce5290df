package git

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Git over SSH.
//
// ssh would resolve and dial the host by itself, out of the outbound
// address policy's reach, and would trust whatever host key it met first.
// So git never sees the host: for each network operation the cache opens a
// tunnel of the policy (egress.Tunnel) on 127.0.0.1 to the host's address,
// and a url.<tunnel>.insteadOf rule makes git connect there. ssh verifies
// the host's key under its real name (HostKeyAlias) against the knownHosts
// of the credential Secret, and nothing else: no configuration file, no
// agent, no global known_hosts, StrictHostKeyChecking. The private key and
// the host keys are written, readable by the controller's user only, to a
// scratch directory that is removed when git exits; ssh reads keys only
// from files.

// runSSH runs a git network operation on an ssh remote.
func (c *Cache) runSSH(ctx context.Context, r remote, cfg map[string]string, g gitRun) (string, error) {
	if msg := c.unsupported(r); msg != "" {
		// Discover and Commit refuse these first; this keeps every path
		// to the network behind the same rule.
		return "", errors.New(msg)
	}
	dir, err := os.MkdirTemp(c.tmpDir, "ssh-")
	if err != nil {
		return "", fmt.Errorf("prepare ssh: %w", err)
	}
	defer os.RemoveAll(dir)
	keyFile, hostsFile := filepath.Join(dir, "key"), filepath.Join(dir, "known_hosts")
	key := r.creds.SSHPrivateKey
	if !bytes.HasSuffix(key, []byte("\n")) {
		// ssh refuses an OpenSSH key without its final newline.
		key = append(append([]byte(nil), key...), '\n')
	}
	if err := os.WriteFile(keyFile, key, 0o600); err != nil {
		return "", fmt.Errorf("prepare ssh: %w", err)
	}
	if err := os.WriteFile(hostsFile, r.creds.KnownHosts, 0o600); err != nil {
		return "", fmt.Errorf("prepare ssh: %w", err)
	}

	tunnel, err := c.opts.Egress.Tunnel(ctx, net.JoinHostPort(r.ssh.host, r.ssh.port))
	if err != nil {
		return "", err
	}
	defer tunnel.Close()
	local := "ssh://"
	if r.ssh.user != "" {
		local += r.ssh.user + "@"
	}
	local += "127.0.0.1:" + strconv.Itoa(tunnel.Addr().Port)
	if strings.HasPrefix(r.ssh.path, "~") {
		local += "/"
	}
	local += r.ssh.path
	cfg["url."+local+".insteadOf"] = r.url

	alias := r.ssh.host
	if r.ssh.port != "22" {
		alias = "[" + r.ssh.host + "]:" + r.ssh.port
	}
	g.env = append(c.gitEnv(cfg), "GIT_SSH_VARIANT=ssh", "GIT_SSH_COMMAND="+sshCommand(c.opts.SSHBinary, keyFile, hostsFile, alias))
	stderr, runErr := c.run(ctx, g)
	if runErr != nil {
		if refused := tunnel.Refused(); refused != nil {
			return stderr, refused
		}
		if dialErr := tunnel.Err(); dialErr != nil {
			// ssh only saw its connection closed.
			stderr += "\nconnect to " + r.ssh.host + ": " + dialErr.Error()
		}
	}
	// git names the tunnel where it means the host.
	stderr = strings.ReplaceAll(stderr, local, r.url)
	stderr = strings.ReplaceAll(stderr, "127.0.0.1 port "+strconv.Itoa(tunnel.Addr().Port), r.ssh.host+" port "+r.ssh.port)
	return stderr, runErr
}

// sshCommand is GIT_SSH_COMMAND, which git runs through the shell with the
// user@host and the remote command appended.
func sshCommand(binary, keyFile, hostsFile, alias string) string {
	if binary == "" {
		binary = "ssh"
	}
	opts := []string{
		// No configuration file: nothing of the host's or the image's
		// applies (ProxyCommand, Include, Match exec).
		"-F", "/dev/null",
		"-o", "BatchMode=yes",
		"-o", "IdentitiesOnly=yes",
		"-o", "IdentityAgent=none",
		"-o", "IdentityFile=" + keyFile,
		"-o", "StrictHostKeyChecking=yes",
		"-o", "UserKnownHostsFile=" + hostsFile,
		"-o", "GlobalKnownHostsFile=/dev/null",
		"-o", "HostKeyAlias=" + alias,
		"-o", "CheckHostIP=no",
		"-o", "UpdateHostKeys=no",
		"-o", "PasswordAuthentication=no",
		"-o", "KbdInteractiveAuthentication=no",
		"-o", "ForwardAgent=no",
		"-o", "ForwardX11=no",
		"-o", "ClearAllForwardings=yes",
		"-o", "PermitLocalCommand=no",
		"-o", "ControlMaster=no",
		"-o", "ControlPath=none",
		"-o", "ConnectTimeout=30",
		"-o", "ServerAliveInterval=15",
		"-o", "ServerAliveCountMax=4",
		"-o", "LogLevel=ERROR",
	}
	words := []string{shellQuote(binary)}
	for _, o := range opts {
		words = append(words, shellQuote(o))
	}
	return strings.Join(words, " ")
}

// shellQuote quotes s for the POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
