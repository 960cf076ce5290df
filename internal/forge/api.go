package forge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/kargohq/kargo/internal/credentials"
	"github.com/kargohq/kargo/internal/sourceerr"
)

// repoRef is a repository URL taken apart: the forge's web root (scheme,
// host and any path prefix, without userinfo) and the repository's owner
// and name.
type repoRef struct {
	web         *url.URL
	owner, name string
}

// parseRepoURL reads an http(s) repository URL such as
// https://host/prefix/owner/name.git.
func parseRepoURL(raw string) (repoRef, error) {
	bad := func(why string) (repoRef, error) {
		return repoRef{}, fmt.Errorf("repoURL %q: %w: %s", redact(raw), sourceerr.ErrInvalid, why)
	}
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Scheme == "" || u.Host == "" {
		if strings.Contains(raw, "@") && !strings.Contains(raw, "://") {
			return bad("pull requests are opened through the forge's HTTPS API; give the repository's https:// address")
		}
		return bad("not an http(s) URL")
	}
	switch strings.ToLower(u.Scheme) {
	case "https", "http":
	case "ssh":
		return bad("pull requests are opened through the forge's HTTPS API; give the repository's https:// address")
	default:
		return bad("not an http(s) URL")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return bad("a repository URL has no query or fragment")
	}
	path := strings.TrimSuffix(strings.Trim(u.Path, "/"), ".git")
	segs := strings.Split(path, "/")
	if len(segs) < 2 {
		return bad("no OWNER/NAME path")
	}
	for _, s := range segs {
		if s == "" || s == "." || s == ".." {
			return bad("its path has an empty, . or .. part")
		}
	}
	n := len(segs)
	web := &url.URL{Scheme: strings.ToLower(u.Scheme), Host: strings.ToLower(u.Host)}
	if n > 2 {
		web.Path = "/" + strings.Join(segs[:n-2], "/")
	}
	return repoRef{web: web, owner: segs[n-2], name: segs[n-1]}, nil
}

// display names the repository without credentials.
func (r repoRef) display() string {
	return r.web.String() + "/" + r.owner + "/" + r.name
}

func (r repoRef) isGitHubDotCom() bool {
	h := r.web.Host
	return (h == "github.com" || h == "www.github.com") && r.web.Path == ""
}

// githubAPI is the REST API's root: api.github.com for github.com, and
// /api/v3 on the host of a GitHub Enterprise Server.
func (r repoRef) githubAPI() string {
	if r.isGitHubDotCom() {
		return "https://api.github.com"
	}
	return r.web.String() + "/api/v3"
}

func (r repoRef) giteaAPI() string { return r.web.String() + "/api/v1" }

// repoPath is /repos/OWNER/NAME, escaped.
func (r repoRef) repoPath() string {
	return "/repos/" + url.PathEscape(r.owner) + "/" + url.PathEscape(r.name)
}

// escapeBranch escapes a branch name for a URL path, keeping its slashes,
// which both forges take as part of the name.
func escapeBranch(b string) string {
	parts := strings.Split(b, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/")
}

// Error is a forge's refusal of a request: a status of 400 or more.
type Error struct {
	// Op says what kargo was doing.
	Op string
	// Provider and Status are who answered what.
	Provider Provider
	Status   int
	// Message is the forge's own message, if it gave one.
	Message string
	// Hint says what to do about it.
	Hint string
}

// Error says what failed, how the forge answered and what to do.
func (e *Error) Error() string {
	msg := fmt.Sprintf("%s: %s answered %d %s", e.Op, e.Provider.display(), e.Status, http.StatusText(e.Status))
	if e.Message != "" {
		msg += ": " + e.Message
	}
	if e.Hint != "" {
		msg += "; " + e.Hint
	}
	return msg
}

// Is lets callers test an Error against package sourceerr's kinds.
func (e *Error) Is(target error) bool {
	switch target {
	case sourceerr.ErrUnauthorized:
		return e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden
	case sourceerr.ErrNotFound:
		return e.Status == http.StatusNotFound
	case sourceerr.ErrUnreachable:
		return e.Status >= 500
	}
	return false
}

func (p Provider) display() string {
	switch p {
	case GitHub:
		return "GitHub"
	case Gitea:
		return "Gitea"
	}
	return string(p)
}

// api makes the requests of one repository's client.
type api struct {
	http      *http.Client
	provider  Provider
	repo      repoRef
	namespace string
	// base is the REST API's root, without a trailing slash.
	base string
	// creds are nil for anonymous requests.
	creds *credentials.Credentials
	// noToken says that a Secret matched but holds no password or token
	// (an SSH key only), for messages.
	noToken bool
}

// do sends method path?query (path below base) with body as JSON, and
// decodes a successful answer into out. An answer of 300 or more is an
// *Error (with a hint for 401 and 404); the status is returned either way.
func (a *api) do(ctx context.Context, op, method, path string, query url.Values, body, out any) (int, error) {
	target := a.base + path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, fmt.Errorf("%s: encode the request: %w", op, err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, r)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", op, err)
	}
	req.Header.Set("User-Agent", "kargo")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	switch a.provider {
	case GitHub:
		req.Header.Set("Accept", "application/vnd.github+json")
		req.Header.Set("X-GitHub-Api-Version", "2022-11-28")
		if a.creds != nil {
			// Personal access tokens and App installation tokens alike.
			req.Header.Set("Authorization", "Bearer "+a.creds.Password)
		}
	default:
		req.Header.Set("Accept", "application/json")
		if a.creds != nil {
			if a.creds.Username != "" {
				// Gitea takes a password or a token as the password.
				req.SetBasicAuth(a.creds.Username, a.creds.Password)
			} else {
				req.Header.Set("Authorization", "token "+a.creds.Password)
			}
		}
	}
	resp, err := a.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			// url.Error repeats the URL; the operation says enough.
			err = ue.Err
		}
		return 0, fmt.Errorf("%s: %w", op, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, fmt.Errorf("%s: read the answer: %w", op, err)
	}
	if resp.StatusCode >= 300 {
		return resp.StatusCode, a.refusal(op, resp, raw)
	}
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s: %s's answer is not the JSON its API documents: %w", op, a.provider.display(), err)
		}
	}
	return resp.StatusCode, nil
}

// refusal turns an answer of 300 or more into an *Error that says what to
// fix.
func (a *api) refusal(op string, resp *http.Response, raw []byte) error {
	e := &Error{Op: op, Provider: a.provider, Status: resp.StatusCode, Message: message(raw)}
	who := "anonymous requests (no git credential Secret of project " + a.namespace + " matches " + a.repo.display() + ")"
	if a.noToken {
		who = "anonymous requests (project " + a.namespace + "'s git credential Secret for " + a.repo.display() + " holds no password or token, which the API needs)"
	}
	if a.creds != nil {
		who = "the credentials (" + a.creds.String() + ") of project " + a.namespace + "'s git credential Secret for " + a.repo.display()
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		e.Hint = "it refused " + who + ": check the Secret's password or token"
	case resp.StatusCode == http.StatusForbidden:
		e.Hint = "it does not allow this to " + who
	case resp.StatusCode == http.StatusNotFound:
		e.Hint = "the repository or pull request does not exist, or is not visible to " + who
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		e.Hint = "kargo does not follow it to " + redact(resp.Header.Get("Location"))
	}
	return e
}

// message is the "message" of a forge's JSON error body, or a short excerpt
// of a body that is not one.
func message(raw []byte) string {
	var body struct {
		Message string `json:"message"`
		Errors  []struct {
			Message string `json:"message"`
		} `json:"errors"`
	}
	// Gitea answers a merge that conflicts with the output of git merge.
	var gitOutput struct {
		StdOut string `json:"StdOut"`
	}
	if json.Unmarshal(raw, &gitOutput) == nil && gitOutput.StdOut != "" {
		var conflicts []string
		for _, line := range strings.Split(gitOutput.StdOut, "\n") {
			if strings.HasPrefix(line, "CONFLICT") {
				conflicts = append(conflicts, line)
			}
		}
		if len(conflicts) > 0 {
			return strings.Join(conflicts, "; ")
		}
	}
	if json.Unmarshal(raw, &body) == nil && body.Message != "" {
		msg := body.Message
		for _, e := range body.Errors {
			if e.Message != "" {
				msg += " (" + e.Message + ")"
			}
		}
		return msg
	}
	s := strings.TrimSpace(string(raw))
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	u.User = nil
	return u.String()
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
