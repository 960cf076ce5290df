package webhookreceiver

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// The headers in which senders authenticate their requests.
const (
	// GitLabTokenHeader carries the webhook's secret token as GitLab sends
	// it.
	GitLabTokenHeader = "X-Gitlab-Token"
	// BitbucketSignatureHeader carries "sha256=" and the hex HMAC-SHA256 of
	// the body, as Bitbucket Cloud signs a webhook that has a secret.
	BitbucketSignatureHeader = "X-Hub-Signature"
	// GiteaSignatureHeader and ForgejoSignatureHeader carry the bare hex
	// HMAC-SHA256 of the body.
	GiteaSignatureHeader   = "X-Gitea-Signature"
	ForgejoSignatureHeader = "X-Forgejo-Signature"
	// JFrogAuthHeader carries an Artifactory webhook's secret, or the hex
	// HMAC-SHA256 of the body under it when payload signing is on.
	JFrogAuthHeader = "X-JFrog-Event-Auth"
)

// proof is how a request showed that its sender holds the project's secret.
type proof int

const (
	// unproven requests are refused.
	unproven proof = iota
	// signed requests carry an HMAC of their body: someone who captured
	// one can only replay it, which the replay window stops.
	signed
	// bearer requests carry the secret itself (a token header, basic
	// auth, a token in the URL): their holder could send anything, so a
	// replay window would protect nothing and would swallow legitimate
	// repeats of bodies without a timestamp (Quay's).
	bearer
)

// event is what a notification says changed.
type event struct {
	// ignored, when set, says why a notification refreshes nothing (a
	// ping, an event other than a push).
	ignored string
	// repos are the addresses of the pushed repository, in every spelling
	// the payload gives.
	repos []string
	// files lists every file the push changed, when filesKnown: then only
	// subscribers whose path filters match one of them are refreshed.
	files      []string
	filesKnown bool
}

// provider is one sender's format and authentication.
type provider struct {
	// urlToken says that the sender can authenticate only through its URL:
	// the path ends in /<URLToken(secret, name)>.
	urlToken bool
	// verify says how the request proves that it knows secret.
	verify func(r *http.Request, body, secret []byte) proof
	// parse reads the notification.
	parse func(r *http.Request, body []byte) (event, error)
}

// providers are the senders the receiver understands, by the last element
// of /webhooks/<project>/<provider>.
var providers = map[string]provider{
	"github":      {verify: verifyHubSignature256, parse: parseGitHub},
	"gitlab":      {verify: verifyHeaderToken(GitLabTokenHeader), parse: parseGitLab},
	"bitbucket":   {verify: verifyBitbucket, parse: parseBitbucket},
	"gitea":       {verify: verifyGitea, parse: parseGitea},
	"forgejo":     {verify: verifyGitea, parse: parseGitea},
	"azuredevops": {verify: verifyBasicAuth, parse: parseAzureDevOps},
	"dockerhub":   {urlToken: true, parse: parseDockerHub},
	"quay":        {urlToken: true, parse: parseQuay},
	"harbor":      {verify: verifyAuthorization, parse: parseHarbor},
	"artifactory": {verify: verifyJFrog, parse: parseArtifactory},
	"registry":    {verify: verifyHubSignature256, parse: parseRegistry},
	"generic":     {verify: verifyGeneric, parse: parseGeneric},
}

// ProviderNames lists the providers the receiver serves, for messages and
// documentation.
func ProviderNames() []string {
	return []string{"github", "gitlab", "bitbucket", "gitea", "forgejo", "azuredevops", "dockerhub", "quay", "harbor", "artifactory", "registry", "generic"}
}

// URLToken is the last path element of the receiver's URL for a provider
// that cannot sign or authenticate its requests (Docker Hub, Quay): the hex
// HMAC-SHA256 of the provider's name under the project's secret. It is
// derived rather than the secret itself so that a URL seen in a sender's
// settings or logs does not give away the secret that signs the other
// providers' requests; rotating the secret changes it.
func URLToken(secret []byte, providerName string) string {
	return hex.EncodeToString(Sign(secret, []byte(providerName)))
}

func equal(a, b []byte) bool {
	return len(a) > 0 && subtle.ConstantTimeCompare(a, b) == 1
}

// hexHMAC checks a hex HMAC-SHA256 of body under secret.
func hexHMAC(sig string, body, secret []byte) bool {
	got, err := hex.DecodeString(strings.TrimSpace(sig))
	if err != nil || len(got) != sha256.Size {
		return false
	}
	return hmac.Equal(got, Sign(secret, body))
}

func verifyHubSignature256(r *http.Request, body, secret []byte) proof {
	if sig, ok := strings.CutPrefix(r.Header.Get(SignatureHeader), "sha256="); ok && hexHMAC(sig, body, secret) {
		return signed
	}
	return unproven
}

func verifyBitbucket(r *http.Request, body, secret []byte) proof {
	if sig, ok := strings.CutPrefix(r.Header.Get(BitbucketSignatureHeader), "sha256="); ok && hexHMAC(sig, body, secret) {
		return signed
	}
	return unproven
}

// verifyGitea checks Forgejo's header when it is present, and Gitea's
// otherwise: a bad X-Forgejo-Signature is not rescued by the other.
func verifyGitea(r *http.Request, body, secret []byte) proof {
	sig := r.Header.Get(ForgejoSignatureHeader)
	if sig == "" {
		sig = r.Header.Get(GiteaSignatureHeader)
	}
	if hexHMAC(sig, body, secret) {
		return signed
	}
	return unproven
}

func verifyHeaderToken(header string) func(*http.Request, []byte, []byte) proof {
	return func(r *http.Request, _, secret []byte) proof {
		if equal([]byte(r.Header.Get(header)), secret) {
			return bearer
		}
		return unproven
	}
}

// verifyBasicAuth takes the secret as the password of HTTP basic
// authentication, whatever the user name: Azure DevOps' service hooks
// authenticate that way.
func verifyBasicAuth(r *http.Request, _, secret []byte) proof {
	if _, password, ok := r.BasicAuth(); ok && equal([]byte(password), secret) {
		return bearer
	}
	return unproven
}

// verifyAuthorization takes the secret as the whole Authorization header,
// or after "Bearer ": Harbor sends its "Auth Header" setting as it is.
func verifyAuthorization(r *http.Request, _, secret []byte) proof {
	h := r.Header.Get("Authorization")
	if equal([]byte(h), secret) {
		return bearer
	}
	if tok, ok := strings.CutPrefix(h, "Bearer "); ok && equal([]byte(tok), secret) {
		return bearer
	}
	return unproven
}

// verifyJFrog accepts Artifactory's X-JFrog-Event-Auth as the hex HMAC of
// the body (payload signing) or as the secret itself.
func verifyJFrog(r *http.Request, body, secret []byte) proof {
	h := r.Header.Get(JFrogAuthHeader)
	if hexHMAC(h, body, secret) {
		return signed
	}
	if equal([]byte(h), secret) {
		return bearer
	}
	return unproven
}

// verifyGeneric accepts a GitHub-style signature or the secret as a bearer
// token, for scripts and CI systems.
func verifyGeneric(r *http.Request, body, secret []byte) proof {
	if p := verifyHubSignature256(r, body, secret); p != unproven {
		return p
	}
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && equal([]byte(tok), secret) {
		return bearer
	}
	return unproven
}

// commit is the part of a pushed commit that Git hosts share.
type commit struct {
	Added    []string `json:"added"`
	Removed  []string `json:"removed"`
	Modified []string `json:"modified"`
}

// changedFiles collects the files of commits; known is false when the
// payload cannot be trusted to list every change: no commits, a list that
// the sender cut short, a push that rewrote history or made or deleted the
// ref, or a tag.
func changedFiles(ref string, commits []commit, total int, rewritten bool) (files []string, known bool) {
	if len(commits) == 0 || total > len(commits) || rewritten || !strings.HasPrefix(ref, "refs/heads/") {
		return nil, false
	}
	seen := map[string]bool{}
	for _, c := range commits {
		for _, list := range [][]string{c.Added, c.Removed, c.Modified} {
			for _, f := range list {
				if !seen[f] {
					seen[f] = true
					files = append(files, f)
				}
			}
		}
	}
	return files, true
}

// gitHubMaxCommits is how many commits GitHub lists in a push event at
// most; a push with that many may have had more.
const gitHubMaxCommits = 2048

func nonEmpty(urls ...string) []string {
	var out []string
	for _, u := range urls {
		if u = strings.TrimSpace(u); u != "" {
			out = append(out, u)
		}
	}
	return out
}

var errNoRepository = errors.New("the notification names no repository")

func parseGitHub(r *http.Request, body []byte) (event, error) {
	switch ev := r.Header.Get("X-GitHub-Event"); ev {
	case "push", "":
	case "package", "registry_package":
		return parseGitHubPackage(body, ev)
	default:
		return event{ignored: fmt.Sprintf("GitHub event %q is not a push or package event", ev)}, nil
	}
	var p struct {
		Ref        string   `json:"ref"`
		Created    bool     `json:"created"`
		Deleted    bool     `json:"deleted"`
		Forced     bool     `json:"forced"`
		Commits    []commit `json:"commits"`
		Repository struct {
			CloneURL string `json:"clone_url"`
			HTMLURL  string `json:"html_url"`
			SSHURL   string `json:"ssh_url"`
			GitURL   string `json:"git_url"`
		} `json:"repository"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return event{}, fmt.Errorf("parse push event: %w", err)
	}
	e := event{repos: nonEmpty(p.Repository.CloneURL, p.Repository.HTMLURL, p.Repository.SSHURL, p.Repository.GitURL)}
	if len(e.repos) == 0 {
		return event{}, errors.New("push event names no repository: expected repository.clone_url or repository.html_url")
	}
	total := len(p.Commits)
	if total >= gitHubMaxCommits {
		total++
	}
	e.files, e.filesKnown = changedFiles(p.Ref, p.Commits, total, p.Forced || p.Created || p.Deleted)
	return e, nil
}

// parseGitHubPackage reads GitHub's package event (and the older
// registry_package one): a container image published to GitHub Container
// Registry names itself in package_version.package_url, as
// ghcr.io/<owner>/<name>:<tag>.
func parseGitHubPackage(body []byte, name string) (event, error) {
	type pkg struct {
		Name           string `json:"name"`
		Namespace      string `json:"namespace"`
		PackageType    string `json:"package_type"`
		PackageVersion struct {
			PackageURL string `json:"package_url"`
		} `json:"package_version"`
		Owner struct {
			Login string `json:"login"`
		} `json:"owner"`
	}
	var p struct {
		Action          string `json:"action"`
		Package         *pkg   `json:"package"`
		RegistryPackage *pkg   `json:"registry_package"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return event{}, fmt.Errorf("parse %s event: %w", name, err)
	}
	pk := p.Package
	if pk == nil {
		pk = p.RegistryPackage
	}
	if pk == nil {
		return event{}, fmt.Errorf("%s event names no package", name)
	}
	if p.Action != "published" && p.Action != "updated" {
		return event{ignored: fmt.Sprintf("package action %q publishes nothing", p.Action)}, nil
	}
	switch strings.ToLower(pk.PackageType) {
	case "container", "docker":
	default:
		return event{ignored: fmt.Sprintf("package type %q is not a container image", pk.PackageType)}, nil
	}
	var repos []string
	if u := pk.PackageVersion.PackageURL; u != "" {
		repos = append(repos, withoutTag(u))
	}
	owner := pk.Namespace
	if owner == "" {
		owner = pk.Owner.Login
	}
	if owner != "" && pk.Name != "" {
		repos = append(repos, "ghcr.io/"+owner+"/"+pk.Name)
	}
	if len(repos) == 0 {
		return event{}, fmt.Errorf("%s event: %w: expected package.package_version.package_url", name, errNoRepository)
	}
	return event{repos: repos}, nil
}

// withoutTag removes ":tag" and "@digest" from an image reference.
func withoutTag(ref string) string {
	if at := strings.IndexByte(ref, '@'); at >= 0 {
		ref = ref[:at]
	}
	if colon := strings.LastIndexByte(ref, ':'); colon > strings.LastIndexByte(ref, '/') {
		ref = ref[:colon]
	}
	return ref
}

func parseGitLab(r *http.Request, body []byte) (event, error) {
	switch ev := r.Header.Get("X-Gitlab-Event"); ev {
	case "Push Hook", "Tag Push Hook":
	default:
		return event{ignored: fmt.Sprintf("GitLab event %q is not a push", ev)}, nil
	}
	type repo struct {
		GitHTTPURL string `json:"git_http_url"`
		GitSSHURL  string `json:"git_ssh_url"`
		WebURL     string `json:"web_url"`
		Homepage   string `json:"homepage"`
	}
	var p struct {
		Ref               string   `json:"ref"`
		Before            string   `json:"before"`
		After             string   `json:"after"`
		Commits           []commit `json:"commits"`
		TotalCommitsCount int      `json:"total_commits_count"`
		Project           repo     `json:"project"`
		Repository        repo     `json:"repository"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return event{}, fmt.Errorf("parse GitLab push: %w", err)
	}
	e := event{repos: nonEmpty(p.Project.GitHTTPURL, p.Project.GitSSHURL, p.Project.WebURL,
		p.Repository.GitHTTPURL, p.Repository.GitSSHURL, p.Repository.Homepage)}
	if len(e.repos) == 0 {
		return event{}, fmt.Errorf("GitLab push: %w: expected project.git_http_url", errNoRepository)
	}
	created, deleted := strings.Trim(p.Before, "0") == "", strings.Trim(p.After, "0") == ""
	e.files, e.filesKnown = changedFiles(p.Ref, p.Commits, p.TotalCommitsCount, created || deleted)
	return e, nil
}

// parseBitbucket reads Bitbucket Cloud's repo:push, which lists no files.
func parseBitbucket(r *http.Request, body []byte) (event, error) {
	if ev := r.Header.Get("X-Event-Key"); ev != "repo:push" {
		return event{ignored: fmt.Sprintf("Bitbucket event %q is not repo:push", ev)}, nil
	}
	var p struct {
		Repository struct {
			FullName string `json:"full_name"`
			Links    struct {
				HTML struct {
					Href string `json:"href"`
				} `json:"html"`
			} `json:"links"`
		} `json:"repository"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return event{}, fmt.Errorf("parse Bitbucket push: %w", err)
	}
	repos := nonEmpty(p.Repository.Links.HTML.Href)
	if len(repos) == 0 && p.Repository.FullName != "" {
		repos = []string{"https://bitbucket.org/" + p.Repository.FullName}
	}
	if len(repos) == 0 {
		return event{}, fmt.Errorf("Bitbucket push: %w: expected repository.links.html.href", errNoRepository)
	}
	return event{repos: repos}, nil
}

// parseGitea reads the push event of Gitea and Forgejo, which follows
// GitHub's with a total_commits count.
func parseGitea(r *http.Request, body []byte) (event, error) {
	ev := r.Header.Get("X-Forgejo-Event")
	if ev == "" {
		ev = r.Header.Get("X-Gitea-Event")
	}
	if ev != "push" {
		return event{ignored: fmt.Sprintf("event %q is not a push", ev)}, nil
	}
	var p struct {
		Ref          string   `json:"ref"`
		Before       string   `json:"before"`
		After        string   `json:"after"`
		Commits      []commit `json:"commits"`
		TotalCommits int      `json:"total_commits"`
		Repository   struct {
			CloneURL string `json:"clone_url"`
			HTMLURL  string `json:"html_url"`
			SSHURL   string `json:"ssh_url"`
		} `json:"repository"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return event{}, fmt.Errorf("parse push event: %w", err)
	}
	e := event{repos: nonEmpty(p.Repository.CloneURL, p.Repository.HTMLURL, p.Repository.SSHURL)}
	if len(e.repos) == 0 {
		return event{}, fmt.Errorf("push event: %w: expected repository.clone_url", errNoRepository)
	}
	created, deleted := strings.Trim(p.Before, "0") == "", strings.Trim(p.After, "0") == ""
	e.files, e.filesKnown = changedFiles(p.Ref, p.Commits, p.TotalCommits, created || deleted)
	return e, nil
}

// parseAzureDevOps reads the git.push service hook event, which lists no
// files.
func parseAzureDevOps(_ *http.Request, body []byte) (event, error) {
	var p struct {
		EventType string `json:"eventType"`
		Resource  struct {
			Repository struct {
				RemoteURL string `json:"remoteUrl"`
				SSHURL    string `json:"sshUrl"`
				WebURL    string `json:"webUrl"`
			} `json:"repository"`
		} `json:"resource"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return event{}, fmt.Errorf("parse Azure DevOps event: %w", err)
	}
	if p.EventType != "git.push" {
		return event{ignored: fmt.Sprintf("Azure DevOps event %q is not git.push", p.EventType)}, nil
	}
	repo := p.Resource.Repository
	repos := nonEmpty(repo.RemoteURL, repo.SSHURL, repo.WebURL)
	if len(repos) == 0 {
		return event{}, fmt.Errorf("Azure DevOps git.push: %w: expected resource.repository.remoteUrl", errNoRepository)
	}
	return event{repos: repos}, nil
}

func parseDockerHub(_ *http.Request, body []byte) (event, error) {
	var p struct {
		Repository struct {
			RepoName string `json:"repo_name"`
		} `json:"repository"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return event{}, fmt.Errorf("parse Docker Hub event: %w", err)
	}
	if p.Repository.RepoName == "" {
		return event{}, fmt.Errorf("Docker Hub event: %w: expected repository.repo_name", errNoRepository)
	}
	return event{repos: []string{"docker.io/" + p.Repository.RepoName}}, nil
}

// parseQuay reads Quay's repository push notification.
func parseQuay(_ *http.Request, body []byte) (event, error) {
	var p struct {
		DockerURL   string          `json:"docker_url"`
		UpdatedTags json.RawMessage `json:"updated_tags"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return event{}, fmt.Errorf("parse Quay notification: %w", err)
	}
	if p.DockerURL == "" {
		return event{}, fmt.Errorf("Quay notification: %w: expected docker_url", errNoRepository)
	}
	if len(p.UpdatedTags) == 0 {
		// Quay sends the same URL for builds and scans; only a push
		// lists updated tags.
		return event{ignored: "the Quay notification is not a repository push (no updated_tags)"}, nil
	}
	return event{repos: []string{p.DockerURL}}, nil
}

// parseHarbor reads Harbor's default (not CloudEvents) payload.
func parseHarbor(_ *http.Request, body []byte) (event, error) {
	var p struct {
		Type      string `json:"type"`
		EventData struct {
			Resources []struct {
				ResourceURL string `json:"resource_url"`
			} `json:"resources"`
		} `json:"event_data"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return event{}, fmt.Errorf("parse Harbor event: %w", err)
	}
	if p.Type != "PUSH_ARTIFACT" && p.Type != "pushImage" {
		return event{ignored: fmt.Sprintf("Harbor event %q is not PUSH_ARTIFACT", p.Type)}, nil
	}
	var repos []string
	for _, res := range p.EventData.Resources {
		if res.ResourceURL != "" {
			repos = append(repos, withoutTag(res.ResourceURL))
		}
	}
	if len(repos) == 0 {
		return event{}, fmt.Errorf("Harbor event: %w: expected event_data.resources[].resource_url", errNoRepository)
	}
	return event{repos: repos}, nil
}

// parseArtifactory reads a docker-domain "pushed" event. The payload names
// the Artifactory repository and image but not the registry host, which
// comes from jpd_origin: an image is host/<repo_key>/<image> (the
// repository path method) or <repo_key>.host/<image> (subdomains).
func parseArtifactory(_ *http.Request, body []byte) (event, error) {
	var p struct {
		Domain    string `json:"domain"`
		EventType string `json:"event_type"`
		JPDOrigin string `json:"jpd_origin"`
		Data      struct {
			RepoKey   string `json:"repo_key"`
			ImageName string `json:"image_name"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return event{}, fmt.Errorf("parse Artifactory event: %w", err)
	}
	if p.Domain != "docker" || p.EventType != "pushed" {
		return event{ignored: fmt.Sprintf("Artifactory event %s/%s is not docker/pushed", p.Domain, p.EventType)}, nil
	}
	u, err := url.Parse(p.JPDOrigin)
	if err != nil || u.Host == "" || p.Data.RepoKey == "" || p.Data.ImageName == "" {
		return event{}, fmt.Errorf("Artifactory event: %w: expected jpd_origin, data.repo_key and data.image_name", errNoRepository)
	}
	return event{repos: []string{
		u.Host + "/" + p.Data.RepoKey + "/" + p.Data.ImageName,
		p.Data.RepoKey + "." + u.Host + "/" + p.Data.ImageName,
	}}, nil
}

// parseGeneric reads {"repository": "<address>"} or {"repositories":
// [...]}, with an optional "paths" list of every changed file.
func parseGeneric(_ *http.Request, body []byte) (event, error) {
	var p struct {
		Repository   string    `json:"repository"`
		Repositories []string  `json:"repositories"`
		Paths        *[]string `json:"paths"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return event{}, fmt.Errorf("parse notification: %w", err)
	}
	e := event{repos: nonEmpty(append([]string{p.Repository}, p.Repositories...)...)}
	if len(e.repos) == 0 {
		return event{}, fmt.Errorf(`%w: send {"repository": "https://git.example.com/team/app.git"}`, errNoRepository)
	}
	if p.Paths != nil && len(*p.Paths) > 0 {
		e.files, e.filesKnown = *p.Paths, true
	}
	return e, nil
}

// parseRegistry reads {"repository": "host/path"} or a Docker distribution
// notification envelope ({"events": [{"action": "push", "target":
// {"repository": ...}, "request": {"host": ...}}]}).
func parseRegistry(_ *http.Request, body []byte) (event, error) {
	repos, err := registryRepos(body)
	return event{repos: repos}, err
}
