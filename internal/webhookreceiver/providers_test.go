package webhookreceiver

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
)

// providerCase is one provider's request: its path, the payload it sends
// (from testdata, REPO replaced) and the headers with which it
// authenticates under a secret.
type providerCase struct {
	provider  string
	payload   string
	headers   func(secret, body []byte) map[string]string
	warehouse string
}

func hubSig(secret, body []byte) string {
	return "sha256=" + hex.EncodeToString(Sign(secret, body))
}

var providerCases = []providerCase{
	{"github", "github-push.json", func(s, b []byte) map[string]string {
		return map[string]string{"X-GitHub-Event": "push", SignatureHeader: hubSig(s, b)}
	}, "git-github"},
	{"github", "github-package.json", func(s, b []byte) map[string]string {
		return map[string]string{"X-GitHub-Event": "package", SignatureHeader: hubSig(s, b)}
	}, "image-ghcr"},
	{"gitlab", "gitlab-push.json", func(s, _ []byte) map[string]string {
		return map[string]string{"X-Gitlab-Event": "Push Hook", GitLabTokenHeader: string(s)}
	}, "git-gitlab"},
	{"bitbucket", "bitbucket-push.json", func(s, b []byte) map[string]string {
		return map[string]string{"X-Event-Key": "repo:push", BitbucketSignatureHeader: hubSig(s, b)}
	}, "git-bitbucket"},
	{"gitea", "gitea-push.json", func(s, b []byte) map[string]string {
		return map[string]string{"X-Gitea-Event": "push", GiteaSignatureHeader: hex.EncodeToString(Sign(s, b))}
	}, "git-gitea"},
	{"forgejo", "gitea-push.json", func(s, b []byte) map[string]string {
		return map[string]string{"X-Forgejo-Event": "push", ForgejoSignatureHeader: hex.EncodeToString(Sign(s, b))}
	}, "git-gitea"},
	{"azuredevops", "azuredevops-push.json", func(s, _ []byte) map[string]string {
		return map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("kargo:"+string(s)))}
	}, "git-azure"},
	{"dockerhub", "dockerhub-push.json", nil, "image-dockerhub"},
	{"quay", "quay-push.json", nil, "image-quay"},
	{"harbor", "harbor-push.json", func(s, _ []byte) map[string]string {
		return map[string]string{"Authorization": string(s)}
	}, "image-harbor"},
	{"artifactory", "artifactory-push.json", func(s, b []byte) map[string]string {
		return map[string]string{JFrogAuthHeader: hex.EncodeToString(Sign(s, b))}
	}, "image-artifactory"},
	{"artifactory", "artifactory-push.json", func(s, _ []byte) map[string]string {
		return map[string]string{JFrogAuthHeader: string(s)}
	}, "image-artifactory"},
	{"registry", "", func(s, b []byte) map[string]string {
		return map[string]string{SignatureHeader: hubSig(s, b)}
	}, "image-registry"},
	{"generic", "", func(s, _ []byte) map[string]string {
		return map[string]string{"Authorization": "Bearer " + string(s)}
	}, "git-generic"},
	{"generic", "", func(s, b []byte) map[string]string {
		return map[string]string{SignatureHeader: hubSig(s, b)}
	}, "git-generic"},
}

// inlinePayloads are the formats of kargo's own: a Docker distribution
// notification and the generic receiver's.
var inlinePayloads = map[string]string{
	"registry": `{"events":[{"id":"7bd4b8f2","timestamp":"2026-11-21T20:00:00Z","action":"push","target":{"mediaType":"application/vnd.oci.image.manifest.v1+json","repository":"team/REPO","tag":"1.4.0"},"request":{"host":"registry.example.com:5000"}}]}`,
	"generic":  `{"repository":"https://git.example.com/team/REPO.git"}`,
}

func payload(t *testing.T, tc providerCase, repo string) []byte {
	t.Helper()
	raw := inlinePayloads[tc.provider]
	if tc.payload != "" {
		b, err := os.ReadFile(filepath.Join("testdata", tc.payload))
		require.NoError(t, err)
		raw = string(b)
	}
	// Each provider's deliveries differ, as real ones do (so that two
	// providers sending one file are not replays of each other).
	return []byte(strings.ReplaceAll(raw, "REPO", repo) + "\n" + strings.Repeat(" ", len(tc.provider)))
}

// providerPost sends a provider's request and returns the status and, for
// 200, the answer.
func providerPost(t *testing.T, srv *httptest.Server, ns string, tc providerCase, secret, body []byte) (int, Result) {
	t.Helper()
	path := "/webhooks/" + ns + "/" + tc.provider
	if tc.headers == nil {
		path += "/" + URLToken(secret, tc.provider)
	}
	req, err := http.NewRequest(http.MethodPost, srv.URL+path, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if tc.headers != nil {
		for k, v := range tc.headers(secret, body) {
			req.Header.Set(k, v)
		}
	}
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var res Result
	if resp.StatusCode == http.StatusOK {
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&res))
	}
	return resp.StatusCode, res
}

// steppingClock returns a clock that moves one second each time it is
// read, so that every refresh writes a new annotation.
func steppingClock() func() time.Time {
	var mu sync.Mutex
	now := time.Date(2026, 11, 21, 20, 0, 0, 0, time.UTC)
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(time.Second)
		return now
	}
}

func refreshAnnotations(t *testing.T, ns string) map[string]string {
	t.Helper()
	list := &kargoapi.WarehouseList{}
	require.NoError(t, env.Admin.List(context.Background(), list, client.InNamespace(ns)))
	got := map[string]string{}
	for _, w := range list.Items {
		got[w.Name] = w.Annotations[kargoapi.RefreshAnnotationKey]
	}
	return got
}

func changed(before, after map[string]string) []string {
	var out []string
	for name, v := range after {
		if before[name] != v {
			out = append(out, "warehouse/"+name)
		}
	}
	return out
}

// TestProviders replays each provider's documented payload: with the
// project's secret it refreshes exactly the Warehouse that watches the
// repository; with a wrong secret it is refused and refreshes nothing; for
// a repository nobody watches it is accepted and refreshes nothing.
func TestProviders(t *testing.T) {
	ctx := context.Background()
	ns := env.NewProject(t, "providers")
	secret := []byte("project-secret-1")
	require.NoError(t, env.Admin.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: SecretName, Namespace: ns},
		Data:       map[string][]byte{SecretKey: secret},
	}))
	git := func(url string) kargoapi.RepoSubscriptions {
		return kargoapi.RepoSubscriptions{Git: []kargoapi.GitSubscription{{RepoURL: kargoapi.GitRepoURL(url)}}}
	}
	image := func(url string) kargoapi.RepoSubscriptions {
		return kargoapi.RepoSubscriptions{Images: []kargoapi.ImageSubscription{{RepoURL: kargoapi.ImageRepoURL(url)}}}
	}
	for name, subs := range map[string]kargoapi.RepoSubscriptions{
		"git-github":        git("https://github.com/example/app.git"),
		"git-gitlab":        git("git@gitlab.com:example/app.git"),
		"git-bitbucket":     git("https://bitbucket.org/example/app.git"),
		"git-gitea":         git("ssh://git@gitea.example.com/example/app.git"),
		"git-azure":         git("https://dev.azure.com/example/shop/_git/app"),
		"git-generic":       git("https://git.example.com/team/app.git"),
		"image-ghcr":        image("ghcr.io/example/app"),
		"image-dockerhub":   image("example/app"),
		"image-quay":        image("quay.io/example/app"),
		"image-harbor":      image("harbor.example.com/library/app"),
		"image-artifactory": image("example.jfrog.io/docker-local/app"),
		"image-registry":    image("registry.example.com:5000/team/app"),
	} {
		require.NoError(t, env.Admin.Create(ctx, &kargoapi.Warehouse{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec:       kargoapi.WarehouseSpec{Subscriptions: subs},
		}))
	}
	srv := httptest.NewServer(&Receiver{Client: env.Admin, Secrets: env.Admin, Now: steppingClock()})
	defer srv.Close()

	for _, tc := range providerCases {
		t.Run(tc.provider+"/"+tc.payload, func(t *testing.T) {
			before := refreshAnnotations(t, ns)

			code, _ := providerPost(t, srv, ns, tc, []byte("guess"), payload(t, tc, "app"))
			require.Equal(t, http.StatusUnauthorized, code, "a wrong secret is refused")
			code, _ = providerPost(t, srv, "no-such-project", tc, secret, payload(t, tc, "app"))
			require.Equal(t, http.StatusUnauthorized, code, "an unknown project is answered like a wrong secret")
			require.Equal(t, before, refreshAnnotations(t, ns), "refused requests refresh nothing")

			code, res := providerPost(t, srv, ns, tc, secret, payload(t, tc, "unwatched"))
			require.Equal(t, http.StatusOK, code)
			require.Empty(t, res.Refreshed, "another repository is ignored")
			require.Empty(t, res.Ignored)
			require.Equal(t, before, refreshAnnotations(t, ns))

			code, res = providerPost(t, srv, ns, tc, secret, payload(t, tc, "app"))
			require.Equal(t, http.StatusOK, code)
			require.Equal(t, []string{"warehouse/" + tc.warehouse}, res.Refreshed)
			require.Equal(t, []string{"warehouse/" + tc.warehouse}, changed(before, refreshAnnotations(t, ns)))
		})
	}

	t.Run("signed bodies are not refreshed twice, bearer ones are", func(t *testing.T) {
		gh := providerCases[0]
		body := append(payload(t, gh, "app"), ' ', '\t')
		_, res := providerPost(t, srv, ns, gh, secret, body)
		require.Len(t, res.Refreshed, 1)
		_, res = providerPost(t, srv, ns, gh, secret, body)
		require.True(t, res.Replayed)
		require.Empty(t, res.Refreshed)

		quay := providerCase{provider: "quay", payload: "quay-push.json"}
		for range 2 {
			_, res = providerPost(t, srv, ns, quay, secret, payload(t, quay, "app"))
			require.Equal(t, []string{"warehouse/image-quay"}, res.Refreshed, "Quay repeats identical bodies for new pushes")
		}
	})

	t.Run("events other than pushes refresh nothing", func(t *testing.T) {
		before := refreshAnnotations(t, ns)
		for _, tc := range []struct {
			provider, body string
			headers        map[string]string
		}{
			{"github", `{"zen":"hi","hook_id":1}`, map[string]string{"X-GitHub-Event": "ping"}},
			{"gitlab", `{"object_kind":"merge_request"}`, map[string]string{"X-Gitlab-Event": "Merge Request Hook", GitLabTokenHeader: string(secret)}},
			{"harbor", `{"type":"PULL_ARTIFACT","event_data":{"resources":[{"resource_url":"harbor.example.com/library/app:1.4.0"}]}}`, map[string]string{"Authorization": string(secret)}},
			{"quay/" + URLToken(secret, "quay"), `{"docker_url":"quay.io/example/app","build_id":"296ec063"}`, nil},
		} {
			req, err := http.NewRequest(http.MethodPost, srv.URL+"/webhooks/"+ns+"/"+tc.provider, strings.NewReader(tc.body))
			require.NoError(t, err)
			for k, v := range tc.headers {
				req.Header.Set(k, v)
			}
			if tc.provider == "github" {
				req.Header.Set(SignatureHeader, hubSig(secret, []byte(tc.body)))
			}
			resp, err := srv.Client().Do(req)
			require.NoError(t, err)
			var res Result
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&res))
			resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode, tc.provider)
			require.NotEmpty(t, res.Ignored, tc.provider)
			require.Empty(t, res.Refreshed)
		}
		require.Equal(t, before, refreshAnnotations(t, ns))
	})

	t.Run("a URL token is not the secret, and is per provider", func(t *testing.T) {
		before := refreshAnnotations(t, ns)
		dh := providerCase{provider: "dockerhub", payload: "dockerhub-push.json"}
		for _, token := range []string{string(secret), URLToken(secret, "quay"), ""} {
			req, err := http.NewRequest(http.MethodPost, srv.URL+"/webhooks/"+ns+"/dockerhub/"+token, bytes.NewReader(payload(t, dh, "app")))
			require.NoError(t, err)
			resp, err := srv.Client().Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			require.Contains(t, []int{http.StatusUnauthorized, http.StatusNotFound}, resp.StatusCode, "token %q", token)
		}
		require.Equal(t, before, refreshAnnotations(t, ns))
	})
}

// TestPushPathFilters: a push that lists every changed file refreshes only
// the subscribers whose path filters let one through; a push whose list may
// be incomplete refreshes them all.
func TestPushPathFilters(t *testing.T) {
	ctx := context.Background()
	ns := env.NewProject(t, "paths")
	secret := []byte("project-secret-2")
	require.NoError(t, env.Admin.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: SecretName, Namespace: ns},
		Data:       map[string][]byte{SecretKey: secret},
	}))
	for name, paths := range map[string][2][]string{
		"web":       {{"apps/web/"}, nil},
		"api":       {{"apps/api/"}, nil},
		"all":       {nil, nil},
		"no-banner": {nil, {"glob:apps/web/*"}},
	} {
		require.NoError(t, env.Admin.Create(ctx, &kargoapi.Warehouse{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec: kargoapi.WarehouseSpec{Subscriptions: kargoapi.RepoSubscriptions{Git: []kargoapi.GitSubscription{{
				RepoURL: "https://github.com/example/app.git", IncludePaths: paths[0], ExcludePaths: paths[1],
			}}}},
		}))
	}
	srv := httptest.NewServer(&Receiver{Client: env.Admin, Secrets: env.Admin, Now: steppingClock()})
	defer srv.Close()
	gh, gl := providerCases[0], providerCases[2]
	everyone := []string{"warehouse/all", "warehouse/api", "warehouse/no-banner", "warehouse/web"}

	// The push changes apps/web/banner.txt and apps/web/values.yaml.
	_, res := providerPost(t, srv, ns, gh, secret, payload(t, gh, "app"))
	require.Equal(t, []string{"warehouse/all", "warehouse/web"}, res.Refreshed)

	forced := bytes.Replace(payload(t, gh, "app"), []byte(`"forced": false`), []byte(`"forced": true`), 1)
	_, res = providerPost(t, srv, ns, gh, secret, forced)
	require.Equal(t, everyone, res.Refreshed, "a force push may have removed commits that matched")

	tag := bytes.Replace(payload(t, gh, "app"), []byte(`refs/heads/main`), []byte(`refs/tags/v1.4.0`), 1)
	_, res = providerPost(t, srv, ns, gh, secret, tag)
	require.Equal(t, everyone, res.Refreshed)

	glHub := bytes.ReplaceAll(payload(t, gl, "app"), []byte("gitlab.com"), []byte("github.com"))
	_, res = providerPost(t, srv, ns, gl, secret, glHub)
	require.Equal(t, []string{"warehouse/all", "warehouse/api", "warehouse/no-banner"}, res.Refreshed)
	truncated := bytes.Replace(glHub, []byte(`"total_commits_count": 1`), []byte(`"total_commits_count": 42`), 1)
	_, res = providerPost(t, srv, ns, gl, secret, truncated)
	require.Equal(t, everyone, res.Refreshed, "GitLab lists 20 commits of a longer push")

	generic := providerCases[len(providerCases)-1]
	body := []byte(`{"repository":"https://github.com/example/app","paths":["docs/readme.md"]}`)
	_, res = providerPost(t, srv, ns, generic, secret, body)
	require.Equal(t, []string{"warehouse/all", "warehouse/no-banner"}, res.Refreshed)
}
