// Package webhookreceiver turns push notifications from Git hosts and image
// registries into immediate refreshes of the Warehouses (and Stages with
// their own repository subscriptions) that watch the pushed repository, so
// new Freight appears in seconds instead of at the next poll.
//
// # Providers
//
// Each sender posts to /webhooks/<project>/<provider> in its own format and
// authenticates in its own way, always with the project's one shared
// secret, in a Secret named kargo-webhook-receiver (key "secret") in the
// project namespace:
//
//	github       push, and package events of GitHub Container Registry;
//	             X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>
//	gitlab       Push Hook, Tag Push Hook; X-Gitlab-Token: <secret>
//	bitbucket    Bitbucket Cloud repo:push; X-Hub-Signature: sha256=<HMAC>
//	gitea        push; X-Gitea-Signature: <hex HMAC>
//	forgejo      push; X-Forgejo-Signature (or X-Gitea-Signature): <hex HMAC>
//	azuredevops  git.push service hook; basic auth, the secret as password
//	dockerhub    push; /webhooks/<project>/dockerhub/<URLToken>
//	quay         repository push; /webhooks/<project>/quay/<URLToken>
//	harbor       PUSH_ARTIFACT; Authorization: <secret> (Harbor's Auth Header)
//	artifactory  docker pushed; X-JFrog-Event-Auth: <secret or hex HMAC>
//	registry     Docker distribution notifications; as github
//	generic      {"repository": ..., "paths": [...]}; as github, or
//	             Authorization: Bearer <secret>
//
// Docker Hub and Quay cannot sign or authenticate their requests, so their
// URL carries a token derived from the secret (URLToken), never the secret
// itself. A secret is always required: a project without one accepts
// nothing, and Bitbucket webhooks must be given the secret.
//
// Only the Warehouses and Stages that watch the repository the payload
// names are refreshed. When a Git push lists every file it changed (GitHub,
// GitLab, Gitea and Forgejo do, up to a limit they report; the generic
// receiver's "paths"), a Git subscription with includePaths or excludePaths
// is refreshed only when one of the files passes them. A push whose list
// may be incomplete (cut short by the sender, a new, deleted or
// force-pushed branch, a tag) refreshes every watcher: polling remains the
// backstop, and a spare refresh costs one listing.
//
// # Cost and replays
//
// Requests cost the Kubernetes API server nothing until they are
// authenticated: the per-project secrets come from a cache of those Secrets
// alone (NewSecretCache), kept current by a watch, so a flood of
// unauthenticated requests makes no API call, and a rotated or deleted
// secret stops working as soon as the watch delivers the change. An unknown
// project is answered exactly like a wrong secret, so the endpoint tells an
// unauthenticated caller nothing about which projects or Warehouses exist.
// A body must arrive within BodyTimeout, so that slow senders cannot hold
// connections open. A signed body identical to one accepted within
// ReplayWindow is a replay: it is answered with "replayed": true and
// refreshes nothing. The window is keyed by the body, which the signature
// covers, rather than by a delivery header such as X-GitHub-Delivery, which
// anyone who captured a request could change. Requests that carry the
// secret itself (a token header, basic auth, a URL token) are not checked
// for replays: whoever captured one holds the secret and could send any
// body, and some senders (Quay) repeat identical bodies for new pushes.
package webhookreceiver

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/git"
	"github.com/kargohq/kargo/internal/repourl"
	"github.com/kargohq/kargo/internal/shard"
)

// Names of the per-project secret and the signature header.
const (
	SecretName      = "kargo-webhook-receiver"
	SecretKey       = "secret"
	SignatureHeader = "X-Hub-Signature-256"
	maxBody         = 1 << 20
)

// Defaults of the Receiver's bounds.
const (
	// DefaultBodyTimeout is how long a request's body may take to arrive.
	DefaultBodyTimeout = 10 * time.Second
	// DefaultReplayWindow is how long an accepted body is remembered.
	DefaultReplayWindow = 10 * time.Minute
	// maxRemembered bounds the bodies remembered: beyond it the oldest are
	// forgotten first.
	maxRemembered = 10000
)

// Receiver is the HTTP handler.
type Receiver struct {
	// Client lists Warehouses and Stages and patches the refresh annotation.
	Client client.Client
	// Secrets reads the per-project secret: a NewSecretCache, so that
	// requests that are not signed cost no API call.
	Secrets client.Reader
	// Now stamps refresh annotations and times the replay window;
	// time.Now when nil.
	Now func() time.Time
	// BodyTimeout bounds the time from the start of the request to the end
	// of its body; DefaultBodyTimeout when zero.
	BodyTimeout time.Duration
	// ReplayWindow is how long a signed body, once accepted, is refused
	// as a replay; DefaultReplayWindow when zero.
	ReplayWindow time.Duration
	// Shard is the projects this controller set owns; nil owns all. A
	// project of another set's is answered like one that does not exist:
	// its pushes go to its own set's receiver.
	Shard *shard.Shard
	// Refreshed, when set, is told of every Warehouse and Stage about to
	// be refreshed and the token written to it, so that controllers in
	// this process can act before the annotation comes back to them
	// through a watch. When it returns a channel, the controller acts on
	// the refresh and closes the channel once it has; the receiver writes
	// the annotations after those channels close (AnnotateAfter at most),
	// so that a push that refreshes a hundred Warehouses does not load
	// the API server with a hundred annotation writes while the one
	// Warehouse the push changed creates its Freight.
	Refreshed func(obj client.Object, token string) <-chan struct{}
	// AnnotateAfter bounds how long the annotations wait for the passes
	// Refreshed started; DefaultAnnotateAfter when zero.
	AnnotateAfter time.Duration

	mu sync.Mutex
	// seen holds when each accepted body (by project and SHA-256) stops
	// being a replay; order holds the keys oldest first.
	seen  map[string]time.Time
	order []string
}

// Result lists what a notification refreshed.
type Result struct {
	Refreshed []string `json:"refreshed"`
	// Replayed says that the body was accepted before, within the replay
	// window, and that nothing was refreshed again.
	Replayed bool `json:"replayed,omitempty"`
	// Ignored says why an authenticated notification refreshed nothing:
	// a ping, or an event that is not a push.
	Ignored string `json:"ignored,omitempty"`
}

// NewSecretCache returns a cache of the receiver's per-project Secrets
// (named SecretName, in every namespace) and of no other Secret, for
// Receiver.Secrets; the manager starts it.
func NewSecretCache(cfg *rest.Config, opts cache.Options) (cache.Cache, error) {
	opts.ByObject = map[client.Object]cache.ByObject{
		&corev1.Secret{}: {Field: fields.OneTermEqualSelector("metadata.name", SecretName)},
	}
	opts.DefaultTransform = cache.TransformStripManagedFields()
	c, err := cache.New(cfg, opts)
	if err != nil {
		return nil, fmt.Errorf("cache of webhook receiver secrets: %w", err)
	}
	return c, nil
}

func (rc *Receiver) now() time.Time {
	if rc.Now != nil {
		return rc.Now()
	}
	return time.Now()
}

// firstDelivery records the signed body of project as accepted and says
// whether it was not accepted within the replay window before.
func (rc *Receiver) firstDelivery(project string, body []byte) bool {
	sum := sha256.Sum256(body)
	key := project + "/" + hex.EncodeToString(sum[:])
	window := rc.ReplayWindow
	if window <= 0 {
		window = DefaultReplayWindow
	}
	now := rc.now()
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.seen == nil {
		rc.seen = map[string]time.Time{}
	}
	if until, ok := rc.seen[key]; ok && now.Before(until) {
		return false
	}
	// Forget what left the window, and the oldest beyond the bound.
	for len(rc.order) > 0 {
		oldest := rc.order[0]
		if until, ok := rc.seen[oldest]; ok && now.Before(until) && len(rc.order) < maxRemembered {
			break
		}
		delete(rc.seen, oldest)
		rc.order = rc.order[1:]
	}
	if _, ok := rc.seen[key]; !ok {
		rc.order = append(rc.order, key)
	}
	rc.seen[key] = now.Add(window)
	return true
}

// ServeHTTP handles POST /webhooks/{project}/{provider}, and
// POST /webhooks/{project}/{provider}/{token} for the providers that can
// authenticate only through their URL.
func (rc *Receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	var prov provider
	ok := len(parts) >= 3 && parts[0] == "webhooks"
	if ok {
		prov, ok = providers[parts[2]]
	}
	if ok && (prov.urlToken && len(parts) != 4 || !prov.urlToken && len(parts) != 3) {
		ok = false
	}
	if !ok {
		http.Error(w, "not found: use /webhooks/<project>/<provider> with a provider of "+strings.Join(ProviderNames(), ", ")+
			" (dockerhub and quay: /webhooks/<project>/<provider>/<token>)", http.StatusNotFound)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "use POST", http.StatusMethodNotAllowed)
		return
	}
	project, name := parts[1], parts[2]
	timeout := rc.BodyTimeout
	if timeout <= 0 {
		timeout = DefaultBodyTimeout
	}
	// The deadline cuts off a body that trickles in; servers that cannot
	// set one rely on their own ReadTimeout.
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(timeout))
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			http.Error(w, fmt.Sprintf("the body did not arrive within %s", timeout), http.StatusRequestTimeout)
			return
		}
		http.Error(w, "read body", http.StatusBadRequest)
		return
	}
	if len(body) > maxBody {
		http.Error(w, "body larger than 1 MiB", http.StatusRequestEntityTooLarge)
		return
	}
	// Verify before anything else, and answer an unknown project exactly
	// like a bad signature, so the endpoint does not reveal which projects
	// exist.
	p := rc.verified(r, project, name, prov, parts, body)
	if p == unproven {
		http.Error(w, "missing or invalid authentication: "+authHint(name), http.StatusUnauthorized)
		return
	}
	ev, err := prov.parse(r, body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if ev.ignored != "" {
		writeJSON(w, Result{Refreshed: []string{}, Ignored: ev.ignored})
		return
	}
	// A signed body can be captured and sent again; a request that carries
	// the secret itself could say anything, so only signed ones are
	// checked for replays.
	if p == signed && !rc.firstDelivery(project, body) {
		writeJSON(w, Result{Refreshed: []string{}, Replayed: true})
		return
	}
	refreshed, err := rc.refresh(r.Context(), project, ev)
	if err != nil {
		ctrl.LoggerFrom(r.Context()).Error(err, "refresh after webhook", "project", project, "provider", name)
		http.Error(w, "refresh failed; see the controller's log", http.StatusInternalServerError)
		return
	}
	writeJSON(w, Result{Refreshed: refreshed})
}

// authHint says how a provider's requests authenticate.
func authHint(name string) string {
	switch name {
	case "github", "registry":
		return SignatureHeader + ": sha256=<hex HMAC-SHA256 of the body>"
	case "gitlab":
		return GitLabTokenHeader + " holding the secret"
	case "bitbucket":
		return BitbucketSignatureHeader + ": sha256=<hex HMAC-SHA256 of the body> (set the webhook's secret)"
	case "gitea", "forgejo":
		return GiteaSignatureHeader + " or " + ForgejoSignatureHeader + ": <hex HMAC-SHA256 of the body>"
	case "azuredevops":
		return "basic authentication with the secret as the password"
	case "dockerhub", "quay":
		return "the URL must end in the project's token for " + name
	case "harbor":
		return "an Authorization header (Harbor's Auth Header) holding the secret"
	case "artifactory":
		return JFrogAuthHeader + " holding the secret or the hex HMAC-SHA256 of the body"
	}
	return SignatureHeader + ": sha256=<hex HMAC-SHA256 of the body>, or Authorization: Bearer <secret>"
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// verified says how the request proved that its sender holds the project's
// secret, if it did.
func (rc *Receiver) verified(r *http.Request, project, name string, prov provider, parts []string, body []byte) proof {
	if len(validation.IsDNS1123Label(project)) > 0 {
		return unproven
	}
	ctx := r.Context()
	if owned, err := rc.Shard.Owns(ctx, project); !owned || err != nil {
		if err != nil {
			ctrl.LoggerFrom(ctx).Error(err, "decide the shard of a project", "project", project)
		}
		return unproven
	}
	secret := &corev1.Secret{}
	if err := rc.Secrets.Get(ctx, client.ObjectKey{Namespace: project, Name: SecretName}, secret); err != nil {
		if !apierrors.IsNotFound(err) {
			ctrl.LoggerFrom(ctx).Error(err, "read webhook secret", "project", project)
		}
		return unproven
	}
	key := secret.Data[SecretKey]
	if len(key) == 0 {
		return unproven
	}
	if prov.urlToken {
		if equal([]byte(parts[3]), []byte(URLToken(key, name))) {
			return bearer
		}
		return unproven
	}
	return prov.verify(r, body, key)
}

// Sign returns the HMAC-SHA256 of body under secret: what a sender puts, hex
// encoded after "sha256=", in the signature header.
func Sign(secret, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return m.Sum(nil)
}

// refresh annotates every Warehouse and repos-subscribed Stage of the project
// that watches one of repos.
func (rc *Receiver) refresh(ctx context.Context, project string, ev event) ([]string, error) {
	want := map[string]bool{}
	for _, r := range ev.repos {
		if k := repourl.Key(r); k != "" { // "" is what is no address
			want[k] = true
		}
	}
	token := rc.now().UTC().Format(time.RFC3339Nano)
	refreshed := []string{}

	var targets []client.Object
	whs := &kargoapi.WarehouseList{}
	if err := rc.Client.List(ctx, whs, client.InNamespace(project)); err != nil {
		return nil, fmt.Errorf("list Warehouses: %w", err)
	}
	for i := range whs.Items {
		if watches(whs.Items[i].Spec.Subscriptions, want, ev) {
			targets = append(targets, &whs.Items[i])
		}
	}
	stages := &kargoapi.StageList{}
	if err := rc.Client.List(ctx, stages, client.InNamespace(project)); err != nil {
		return nil, fmt.Errorf("list Stages: %w", err)
	}
	for i := range stages.Items {
		if subs := stages.Items[i].Spec.Subscriptions; subs != nil && subs.Repos != nil && watches(*subs.Repos, want, ev) {
			targets = append(targets, &stages.Items[i])
		}
	}

	// Annotate concurrently: with a hundred watchers of one monorepo,
	// sequential patches would delay the last refresh by the sum of them.
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	if rc.Refreshed != nil {
		var acting []<-chan struct{}
		for _, obj := range targets {
			if done := rc.Refreshed(obj, token); done != nil {
				acting = append(acting, done)
			}
		}
		rc.awaitPasses(ctx, acting)
	}
	for _, obj := range targets {
		// Named before the patch starts: the patch decodes its answer into
		// obj while this loop goes on.
		kind := "warehouse/"
		if _, ok := obj.(*kargoapi.Stage); ok {
			kind = "stage/"
		}
		refreshed = append(refreshed, kind+obj.GetName())
		g.Go(func() error { return annotate(gctx, rc.Client, obj, token) })
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	sort.Strings(refreshed)
	return refreshed, nil
}

// DefaultAnnotateAfter is how long the annotations of a push wait at most
// for the passes the in-process controllers started: about what a listing
// and a Freight take on a busy controller.
const DefaultAnnotateAfter = time.Second

// awaitPasses waits until every channel in acting is closed, the
// receiver's AnnotateAfter has passed or ctx ends. The annotations stay the
// durable record of the refresh; they are only written later.
func (rc *Receiver) awaitPasses(ctx context.Context, acting []<-chan struct{}) {
	if len(acting) == 0 {
		return
	}
	d := rc.AnnotateAfter
	if d <= 0 {
		d = DefaultAnnotateAfter
	}
	t := time.NewTimer(d)
	defer t.Stop()
	for _, done := range acting {
		select {
		case <-done:
		case <-t.C:
			return
		case <-ctx.Done():
			return
		}
	}
}

func annotate(ctx context.Context, c client.Client, obj client.Object, token string) error {
	patch := fmt.Appendf(nil, `{"metadata":{"annotations":{%q:%q}}}`, kargoapi.RefreshAnnotationKey, token)
	if err := c.Patch(ctx, obj, client.RawPatch("application/merge-patch+json", patch)); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("refresh %s: %w", obj.GetName(), err)
	}
	return nil
}

// watches says whether subs watch one of the repositories in want and, when
// the event lists every changed file, whether a Git subscription's path
// filters let one of them through.
func watches(subs kargoapi.RepoSubscriptions, want map[string]bool, ev event) bool {
	for _, g := range subs.Git {
		if want[repourl.Key(string(g.RepoURL))] && (!ev.filesKnown || git.PathsMatch(g.IncludePaths, g.ExcludePaths, ev.files)) {
			return true
		}
	}
	for _, i := range subs.Images {
		if want[repourl.Key(string(i.RepoURL))] {
			return true
		}
	}
	for _, c := range subs.Charts {
		if want[repourl.Key(string(c.RepoURL))] || (c.Name != "" && want[repourl.Key(string(c.RepoURL)+"/"+c.Name)]) {
			return true
		}
	}
	return false
}

// registryRepos returns the repositories a registry push notification names:
// either {"repository": "host/path"} or a Docker distribution notification
// envelope ({"events": [{"action": "push", "target": {"repository": ...},
// "request": {"host": ...}}]}).
func registryRepos(body []byte) ([]string, error) {
	var ev struct {
		Repository string `json:"repository"`
		Events     []struct {
			Action string `json:"action"`
			Target struct {
				Repository string `json:"repository"`
			} `json:"target"`
			Request struct {
				Host string `json:"host"`
			} `json:"request"`
		} `json:"events"`
	}
	if err := json.Unmarshal(body, &ev); err != nil {
		return nil, fmt.Errorf("parse registry event: %w", err)
	}
	var repos []string
	if ev.Repository != "" {
		repos = append(repos, ev.Repository)
	}
	for _, e := range ev.Events {
		if e.Action != "" && e.Action != "push" || e.Target.Repository == "" {
			continue
		}
		repo := e.Target.Repository
		if e.Request.Host != "" {
			repo = e.Request.Host + "/" + repo
		}
		repos = append(repos, repo)
	}
	if len(repos) == 0 {
		return nil, errors.New(`registry event names no repository: send {"repository": "registry.example.com/team/app"} or a distribution notification with push events`)
	}
	return repos, nil
}
