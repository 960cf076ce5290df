package git

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/kargohq/kargo/internal/credentials"
	"github.com/kargohq/kargo/internal/egress"
	"github.com/kargohq/kargo/internal/sourceerr"
)

// gitEnv builds the environment of a git process. It starts from the
// controller's environment (proxies, CA paths) without any GIT_* variable,
// adds Options.Env, and then pins what keeps runs isolated and
// non-interactive: a HOME and XDG_CONFIG_HOME under the cache directory so
// that no ~/.gitconfig or credential helper of the host applies, no
// terminal prompt or askpass program, and configuration passed as
// GIT_CONFIG_* variables rather than arguments, because the arguments of a
// process are visible to every user of the machine while its environment is
// not.
func (c *Cache) gitEnv(config map[string]string) []string {
	env := make([]string, 0, len(os.Environ())+len(c.opts.Env)+16+2*len(config))
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "GIT_") || name == "HOME" || name == "XDG_CONFIG_HOME" || name == "SSH_ASKPASS" || name == "SSH_AUTH_SOCK" || proxyEnv[strings.ToLower(name)] {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, c.opts.Env...)
	env = append(env,
		"HOME="+c.homeDir,
		"XDG_CONFIG_HOME="+c.homeDir,
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_TERMINAL_PROMPT=0",
		"GIT_ASKPASS=",
		"SSH_ASKPASS=",
		"GCM_INTERACTIVE=never",
		// Honoured by git 2.44 and later; older versions never reach a
		// lazy fetch because mirrors keep no remote URL.
		"GIT_NO_LAZY_FETCH=1",
	)
	keys := make([]string, 0, len(config))
	for k := range config {
		keys = append(keys, k)
	}
	// A stable order keeps environments comparable in tests and traces.
	sort.Strings(keys)
	env = append(env, "GIT_CONFIG_COUNT="+strconv.Itoa(len(keys)))
	for i, k := range keys {
		env = append(env, fmt.Sprintf("GIT_CONFIG_KEY_%d=%s", i, k), fmt.Sprintf("GIT_CONFIG_VALUE_%d=%s", i, config[k]))
	}
	return env
}

// proxyEnv are the environment variables through which git (curl) would
// use a proxy of the host, or bypass the one it is given (no_proxy).
var proxyEnv = map[string]bool{
	"http_proxy": true, "https_proxy": true, "all_proxy": true, "no_proxy": true,
}

// baseConfig is the configuration of every git process of the cache. It
// allows no network transport at all: only networkConfig, which sends git
// through the outbound address policy, allows http and https.
func (c *Cache) baseConfig() map[string]string {
	file := "never"
	if c.opts.AllowFileURLs {
		file = "always"
	}
	return map[string]string{
		// Whatever the defaults of the installed git: "ext::" runs
		// commands, and ssh and git:// connect without the policy.
		"protocol.allow":       "never",
		"protocol.https.allow": "never",
		"protocol.http.allow":  "never",
		"protocol.ssh.allow":   "never",
		"protocol.git.allow":   "never",
		"protocol.ext.allow":   "never",
		"protocol.fd.allow":    "never",
		"protocol.file.allow":  file,
		// An empty value clears the list of helpers, so no helper of the
		// host can answer for (or store) credentials.
		"credential.helper": "",
		"core.askPass":      "",
		"protocol.version":  "2",
		// Maintenance that git starts after a fetch must finish before the
		// fetch returns, or it would outlive the per-URL lock.
		"gc.autoDetach":          "false",
		"maintenance.autoDetach": "false",
	}
}

// networkConfig adds what a network operation against r needs. runNet adds
// the proxy that applies the outbound address policy.
func (c *Cache) networkConfig(r remote, insecureSkipTLSVerify bool) map[string]string {
	cfg := c.baseConfig()
	if r.ssh != nil {
		// Only ssh, and runNet points it at a tunnel of the policy.
		cfg["protocol.ssh.allow"] = "always"
		return cfg
	}
	cfg["protocol.https.allow"] = "always"
	cfg["protocol.http.allow"] = "always"
	// Give up on a connection that stalls instead of holding the mirror's
	// lock until the operation's timeout.
	cfg["http.lowSpeedLimit"] = "1000"
	cfg["http.lowSpeedTime"] = "60"
	if r.creds != nil {
		cfg["http.extraHeader"] = "Authorization: Basic " + basicToken(r.creds)
		// git sends extraHeader to wherever a redirect of its first request
		// leads, on every request after it: a repository that redirects to
		// another host would hand it the password. With credentials, the
		// repository must be fetched from the address the Secret names.
		cfg["http.followRedirects"] = "false"
	}
	if insecureSkipTLSVerify {
		cfg["http.sslVerify"] = "false"
	}
	if c.opts.CAFile != "" {
		cfg["http.sslCAInfo"] = c.opts.CAFile
	}
	return cfg
}

func basicToken(creds *credentials.Credentials) string {
	return base64.StdEncoding.EncodeToString([]byte(creds.Username + ":" + creds.Password))
}

// gitRun is one git invocation.
type gitRun struct {
	dir    string
	env    []string
	stdin  io.Reader
	stdout io.Writer
	args   []string
}

// run runs git and returns its standard error. A context that ends kills
// git and every process it started (remote helpers, index-pack), so a
// timeout never leaves a fetch writing into a mirror that someone else has
// since locked.
func (c *Cache) run(ctx context.Context, g gitRun) (string, error) {
	countProcess(g.args)
	c.procs.Add(1)
	cmd := exec.CommandContext(ctx, c.opts.GitBinary, g.args...)
	cmd.Dir = g.dir
	cmd.Env = g.env
	cmd.Stdin = g.stdin
	cmd.Stdout = g.stdout
	var stderr bytes.Buffer
	cmd.Stderr = &limitedWriter{w: &stderr, n: 64 << 10}
	killProcessGroup(cmd)
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	return stderr.String(), err
}

// runNet runs a git network operation with configuration cfg (from
// networkConfig). Every connection git makes goes through the egress
// policy's proxy, with credentials of its own for this run; when the
// policy refused one, the error is that refusal (a *egress.RefusedError),
// since git would only say that the proxy answered 403.
func (c *Cache) runNet(ctx context.Context, r remote, cfg map[string]string, g gitRun) (string, error) {
	if r.ssh != nil {
		return c.runSSH(ctx, r, cfg, g)
	}
	proxy, err := c.opts.Egress.Proxy()
	if err != nil {
		return "", err
	}
	session, err := proxy.NewSession()
	if err != nil {
		return "", err
	}
	defer session.Close()
	cfg["http.proxy"] = session.URL()
	cfg["http.proxyAuthMethod"] = "basic"
	g.env = c.gitEnv(cfg)
	stderr, err := c.run(ctx, g)
	if refused := session.Refused(); refused != nil && err != nil {
		return stderr, refused
	}
	return stderr, err
}

// output runs a local git command in dir and returns its standard output.
func (c *Cache) output(ctx context.Context, dir string, stdin io.Reader, args ...string) ([]byte, error) {
	var stdout bytes.Buffer
	stderr, err := c.run(ctx, gitRun{dir: dir, env: c.gitEnv(c.baseConfig()), stdin: stdin, stdout: &stdout, args: args})
	if err != nil {
		return nil, fmt.Errorf("git %s: %w: %s", args[0], err, strings.TrimSpace(stderr))
	}
	return stdout.Bytes(), nil
}

type limitedWriter struct {
	w io.Writer
	n int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if l.n > 0 {
		q := p
		if len(q) > l.n {
			q = q[:l.n]
		}
		l.n -= len(q)
		_, _ = l.w.Write(q)
	}
	return len(p), nil
}

// networkError turns a failed network operation into an error that wraps
// the matching sourceerr sentinel, names the repository, and says what to
// do. git's own words are kept as detail, with userinfo and any credential
// removed.
func networkError(ctx context.Context, op string, r remote, stderr string, runErr error) error {
	var refused *egress.RefusedError
	if errors.As(runErr, &refused) {
		return fmt.Errorf("%s %s: %w", op, r.url, refused)
	}
	detail := lastLines(scrub(stderr, r.creds), 3)
	if detail == "" && runErr != nil {
		detail = runErr.Error()
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		if errors.Is(ctxErr, context.DeadlineExceeded) {
			return fmt.Errorf("%s %s: %w: timed out; the host may be slow or the repository very large", op, r.url, sourceerr.ErrUnreachable)
		}
		return fmt.Errorf("%s %s: %w", op, r.url, ctxErr)
	}
	// Quoted text is the URL; it must not decide the kind of failure (a
	// repository named "not-found" is not a 404).
	kind, hint := classifyStderr(strings.ToLower(quoted.ReplaceAllString(stderr, "''")))
	switch kind {
	case sourceerr.ErrUnauthorized:
		if r.ssh != nil {
			hint = "the host refused the SSH key of the git credential Secret for " + r.url + "; check that its public key is a deploy key or a key of a user with access"
			if strings.Contains(strings.ToLower(stderr), "host key") {
				hint = "the host's key is not in the knownHosts of the git credential Secret for " + r.url + ", or differs from it: kargo connects only to SSH hosts the Secret lists; check the key against the fingerprints the host publishes and add its known_hosts line"
			}
			break
		}
		if r.creds == nil {
			hint = "the repository needs credentials; create a git credential Secret for " + r.url
		} else {
			hint = "the host refused the credentials; check the username and password of the git credential Secret for " + r.url
		}
	case sourceerr.ErrNotFound:
		hint = "check repoURL " + r.url + "; hosts also answer not found for private repositories when the credentials cannot see them"
	case errRedirected:
		kind = sourceerr.ErrNotFound
		hint = "the host redirects " + r.url + " elsewhere, and kargo follows no redirect when it sends credentials, so that a password only ever reaches the host its Secret names: set repoURL to the address the repository moved to"
	}
	if kind == nil {
		return fmt.Errorf("%s %s: %s", op, r.url, detail)
	}
	return fmt.Errorf("%s %s: %w: %s (git: %s)", op, r.url, kind, hint, detail)
}

// classifyStderr recognises git's and curl's messages. Authentication is
// tested first: "could not read Username" also mentions the URL, and a 403
// from some hosts says "not found" in its body.
func classifyStderr(s string) (error, string) {
	switch {
	case containsAny(s, "returned error: 301", "returned error: 302", "returned error: 303", "returned error: 307", "returned error: 308"):
		return errRedirected, ""
	case containsAny(s, "authentication failed", "could not read username", "could not read password",
		"returned error: 401", "returned error: 403", "invalid username or password",
		"http basic: access denied", "permission denied (publickey", "host key verification failed",
		"host key is known", "remote host identification has changed"):
		return sourceerr.ErrUnauthorized, ""
	case containsAny(s, "not found", "does not appear to be a git repository", "returned error: 404",
		"no such repository", "repository does not exist"):
		return sourceerr.ErrNotFound, ""
	case containsAny(s, "ssl certificate", "server certificate", "certificate verify", "x509", "ssl_connect",
		"tls handshake", "unable to get local issuer"):
		return sourceerr.ErrUnreachable, "TLS verification failed; trust the host's CA or set insecureSkipTLSVerify"
	case containsAny(s, "failed to connect", "connection refused", "could not resolve", "timed out",
		"connection reset", "connection timed out", "network is unreachable", "no route to host",
		"returned error: 5", "empty reply", "early eof", "the remote end hung up", "operation too slow",
		"could not connect"):
		return sourceerr.ErrUnreachable, "the host did not answer or answered with a server error"
	}
	return nil, ""
}

// errRedirected marks an answer that git did not follow; networkError
// reports it as not found, with a hint.
var errRedirected = errors.New("redirected")

var quoted = regexp.MustCompile(`'[^'\n]*'`)

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// scrub removes userinfo from URLs and, as a second line of defence, any
// occurrence of the password or of the Authorization token.
func scrub(s string, creds *credentials.Credentials) string {
	s = Redact(s)
	if creds != nil {
		// A very short password would also match ordinary words.
		if len(creds.Password) >= 4 {
			s = strings.ReplaceAll(s, creds.Password, "<redacted>")
		}
		s = strings.ReplaceAll(s, basicToken(creds), "<redacted>")
	}
	return s
}

// lastLines keeps git's final lines, which carry the reason ("fatal: ...")
// after progress and hints.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	var kept []string
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "hint:") {
			continue
		}
		kept = append(kept, l)
	}
	if len(kept) > n {
		kept = kept[len(kept)-n:]
	}
	return strings.Join(kept, "; ")
}
