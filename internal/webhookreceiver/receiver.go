// Package webhookreceiver turns push notifications from Git hosts and image
// registries into immediate refreshes of the Warehouses (and Stages with
// their own repository subscriptions) that watch the pushed repository, so
// new Freight appears in seconds instead of at the next poll.
//
// Each project has its own shared secret, in a Secret named
// kargo-webhook-receiver (key "secret") in the project namespace. Requests
// are signed like GitHub's: the X-Hub-Signature-256 header holds "sha256="
// and the hex HMAC-SHA256 of the body under that secret. Requests without a
// valid signature get 401 and change nothing.
//
// Requests cost the Kubernetes API server nothing until they are signed:
// the per-project secrets come from a cache of those Secrets alone
// (NewSecretCache), kept current by a watch, so a flood of unsigned or
// badly signed requests makes no API call, and a rotated or deleted secret
// stops working as soon as the watch delivers the change. A body must
// arrive within BodyTimeout, so that slow senders cannot hold connections
// open. A signed body identical to one accepted within ReplayWindow is a
// replay: it is answered with "replayed": true and refreshes nothing. The
// window is keyed by the body, which the signature covers, rather than by a
// delivery header such as X-GitHub-Delivery, which anyone who captured a
// request could change.
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
	"github.com/kargohq/kargo/internal/controller/warehouse"
	"github.com/kargohq/kargo/internal/repourl"
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

// ServeHTTP handles POST /webhooks/{project}/github and
// POST /webhooks/{project}/registry.
func (rc *Receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(parts) != 3 || parts[0] != "webhooks" || (parts[2] != "github" && parts[2] != "registry") {
		http.Error(w, "not found: use /webhooks/<project>/github or /webhooks/<project>/registry", http.StatusNotFound)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "use POST", http.StatusMethodNotAllowed)
		return
	}
	project, kind := parts[1], parts[2]
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
	if !rc.verified(r.Context(), project, body, r.Header.Get(SignatureHeader)) {
		http.Error(w, "missing or invalid "+SignatureHeader+" signature", http.StatusUnauthorized)
		return
	}

	var repos []string
	switch kind {
	case "github":
		switch event := r.Header.Get("X-GitHub-Event"); event {
		case "ping":
			writeJSON(w, Result{Refreshed: []string{}})
			return
		case "push", "":
		default:
			http.Error(w, fmt.Sprintf("event %q is not handled; send push events", event), http.StatusBadRequest)
			return
		}
		repos, err = gitHubRepos(body)
	case "registry":
		repos, err = registryRepos(body)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if !rc.firstDelivery(project, body) {
		writeJSON(w, Result{Refreshed: []string{}, Replayed: true})
		return
	}
	refreshed, err := rc.refresh(r.Context(), project, repos)
	if err != nil {
		ctrl.LoggerFrom(r.Context()).Error(err, "refresh after webhook", "project", project)
		http.Error(w, "refresh failed; see the controller's log", http.StatusInternalServerError)
		return
	}
	writeJSON(w, Result{Refreshed: refreshed})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// verified checks the body's signature against the project's secret.
func (rc *Receiver) verified(ctx context.Context, project string, body []byte, header string) bool {
	if len(validation.IsDNS1123Label(project)) > 0 {
		return false
	}
	sig, ok := strings.CutPrefix(header, "sha256=")
	if !ok {
		return false
	}
	got, err := hex.DecodeString(sig)
	if err != nil {
		return false
	}
	secret := &corev1.Secret{}
	if err := rc.Secrets.Get(ctx, client.ObjectKey{Namespace: project, Name: SecretName}, secret); err != nil {
		if !apierrors.IsNotFound(err) {
			ctrl.LoggerFrom(ctx).Error(err, "read webhook secret", "project", project)
		}
		return false
	}
	key := secret.Data[SecretKey]
	if len(key) == 0 {
		return false
	}
	return hmac.Equal(got, Sign(key, body))
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
func (rc *Receiver) refresh(ctx context.Context, project string, repos []string) ([]string, error) {
	want := map[string]bool{}
	for _, r := range repos {
		want[repourl.Key(r)] = true
	}
	token := rc.now().UTC().Format(time.RFC3339Nano)
	refreshed := []string{}

	var targets []client.Object
	whs := &kargoapi.WarehouseList{}
	if err := rc.Client.List(ctx, whs, client.InNamespace(project)); err != nil {
		return nil, fmt.Errorf("list Warehouses: %w", err)
	}
	for i := range whs.Items {
		if watches(whs.Items[i].Spec.Subscriptions, want) {
			targets = append(targets, &whs.Items[i])
		}
	}
	stages := &kargoapi.StageList{}
	if err := rc.Client.List(ctx, stages, client.InNamespace(project)); err != nil {
		return nil, fmt.Errorf("list Stages: %w", err)
	}
	for i := range stages.Items {
		if subs := stages.Items[i].Spec.Subscriptions; subs != nil && subs.Repos != nil && watches(*subs.Repos, want) {
			targets = append(targets, &stages.Items[i])
		}
	}

	// Annotate concurrently: with a hundred watchers of one monorepo,
	// sequential patches would delay the last refresh by the sum of them.
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	for _, obj := range targets {
		g.Go(func() error { return annotate(gctx, rc.Client, obj, token) })
		kind := "warehouse/"
		if _, ok := obj.(*kargoapi.Stage); ok {
			kind = "stage/"
		}
		refreshed = append(refreshed, kind+obj.GetName())
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	sort.Strings(refreshed)
	return refreshed, nil
}

func annotate(ctx context.Context, c client.Client, obj client.Object, token string) error {
	patch := fmt.Appendf(nil, `{"metadata":{"annotations":{%q:%q}}}`, warehouse.RefreshAnnotationKey, token)
	if err := c.Patch(ctx, obj, client.RawPatch("application/merge-patch+json", patch)); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("refresh %s: %w", obj.GetName(), err)
	}
	return nil
}

func watches(subs kargoapi.RepoSubscriptions, want map[string]bool) bool {
	for _, g := range subs.Git {
		if want[repourl.Key(string(g.RepoURL))] {
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

// gitHubRepos returns the addresses of the repository a GitHub-style push
// event names.
func gitHubRepos(body []byte) ([]string, error) {
	var ev struct {
		Repository struct {
			CloneURL string `json:"clone_url"`
			HTMLURL  string `json:"html_url"`
			SSHURL   string `json:"ssh_url"`
			GitURL   string `json:"git_url"`
		} `json:"repository"`
	}
	if err := json.Unmarshal(body, &ev); err != nil {
		return nil, fmt.Errorf("parse push event: %w", err)
	}
	var repos []string
	for _, u := range []string{ev.Repository.CloneURL, ev.Repository.HTMLURL, ev.Repository.SSHURL, ev.Repository.GitURL} {
		if u != "" {
			repos = append(repos, u)
		}
	}
	if len(repos) == 0 {
		return nil, errors.New("push event names no repository: expected repository.clone_url or repository.html_url")
	}
	return repos, nil
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
