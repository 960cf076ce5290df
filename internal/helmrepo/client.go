// Package helmrepo discovers the versions of Helm charts that Warehouses
// subscribe to, in HTTP(S) chart repositories (index.yaml) and in OCI
// registries (tags).
//
// HTTP(S) indexes are cached with their ETag and Last-Modified validators,
// so polling an unchanged repository costs one conditional request that
// answers 304 and no parsing. OCI charts are listed through an image.Client,
// so they share its per-host throttle, its plain-HTTP rules and its error
// classification.
package helmrepo

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"
	"golang.org/x/time/rate"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/credentials"
	"github.com/kargohq/kargo/internal/egress"
	"github.com/kargohq/kargo/internal/image"
	"github.com/kargohq/kargo/internal/image/throttle"
	"github.com/kargohq/kargo/internal/repourl"
	"github.com/kargohq/kargo/internal/sourceerr"
)

// Defaults for Options.
const (
	// DefaultMaxIndexBytes bounds an index.yaml download, and so what one
	// repository may cost the controller: the download is held in memory
	// while it is parsed (BenchmarkIndexMemory measures the peak). Most
	// repositories' indexes are well below a megabyte; the largest public
	// ones are a few tens of megabytes, and the controller's
	// --max-helm-index-size raises the limit for them.
	DefaultMaxIndexBytes = 32 << 20
	// DefaultTimeout bounds one index download, which several Discovers may
	// be waiting on.
	DefaultTimeout = 2 * time.Minute
	// DefaultIndexCacheSize is how many parsed indexes are kept.
	DefaultIndexCacheSize = 256
	// DefaultLimit is the number of versions returned when Discover is given
	// a limit below one.
	DefaultLimit = 1
)

// Options configure a Client. The zero value is usable.
type Options struct {
	// Images lists OCI chart tags. Pass the process's shared image.Client so
	// charts and images in one registry draw on one budget; nil makes a new
	// one from Throttle, Transport and Now.
	Images *image.Client
	// Throttle paces index downloads per host. Pass the process's shared
	// Throttle; nil makes a new one from PerHostRate and Burst.
	Throttle *throttle.Throttle
	// PerHostRate is requests per second per host when Throttle is nil.
	PerHostRate rate.Limit
	// Burst is the per-host burst when Throttle is nil.
	Burst int
	// Egress is the outbound address policy every connection goes
	// through; nil means egress.New with no rules, which reaches public
	// addresses only.
	Egress *egress.Policy
	// Transport holds the base settings of requests, such as a TLS
	// configuration that trusts a test server's certificate. Nil means a
	// copy of http.DefaultTransport. An *http.Transport is cloned and made
	// to dial through Egress; any other RoundTripper is used as it is, and
	// its caller answers for where it connects.
	Transport http.RoundTripper
	// Now tells the time. Nil means time.Now.
	Now func() time.Time
	// MaxIndexBytes bounds an index.yaml download. Zero means
	// DefaultMaxIndexBytes.
	MaxIndexBytes int64
	// MaxIndexHint says how to raise MaxIndexBytes, for the message of an
	// index that is too large, such as the controller flag that sets it.
	MaxIndexHint string
	// Timeout bounds one index download. Zero means DefaultTimeout.
	Timeout time.Duration
	// IndexCacheSize is how many parsed indexes are kept. Zero means
	// DefaultIndexCacheSize.
	IndexCacheSize int
}

// Client discovers chart versions. Make one per process and share it: its
// index cache and throttle only work when shared. It is safe for
// concurrent use.
type Client struct {
	opts     Options
	images   *image.Client
	throttle *throttle.Throttle
	http     *http.Client
	inflight singleflight.Group

	mu    sync.Mutex
	cache map[string]*cachedIndex

	parses atomic.Int64 // how many index documents were parsed, for tests
}

// cachedIndex is a parsed index and the validators that tell whether the
// server's copy changed.
type cachedIndex struct {
	etag         string
	lastModified string
	sum          [sha256.Size]byte
	index        *index
}

// NewClient returns a Client with opts' defaults filled in.
func NewClient(opts Options) *Client {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Throttle == nil {
		opts.Throttle = throttle.New(throttle.Options{PerHostRate: opts.PerHostRate, Burst: opts.Burst, Now: opts.Now})
	}
	if opts.Egress == nil {
		opts.Egress = egress.New(egress.Options{})
	}
	if opts.Images == nil {
		opts.Images = image.NewClient(image.Options{Throttle: opts.Throttle, Transport: opts.Transport, Egress: opts.Egress, Now: opts.Now})
	}
	switch t := opts.Transport.(type) {
	case nil:
		opts.Transport = opts.Egress.Transport(nil)
	case *http.Transport:
		opts.Transport = opts.Egress.Transport(t)
	}
	if opts.MaxIndexBytes <= 0 {
		opts.MaxIndexBytes = DefaultMaxIndexBytes
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.IndexCacheSize <= 0 {
		opts.IndexCacheSize = DefaultIndexCacheSize
	}
	return &Client{
		opts:     opts,
		images:   opts.Images,
		throttle: opts.Throttle,
		http: &http.Client{
			Transport:     opts.Throttle.Transport(opts.Transport),
			CheckRedirect: checkRedirect,
		},
		cache: map[string]*cachedIndex{},
	}
}

// Discover returns up to limit versions of sub's chart, highest first; the
// first is the one a Warehouse picks. Each Chart carries sub.RepoURL
// verbatim; Name is sub.Name for an HTTP(S) repository and empty for an OCI
// chart, whose repoURL names the chart.
//
// Versions must be semantic versions (MAJOR.MINOR.PATCH, optionally with a
// "v" prefix), as Helm requires; without a semverConstraint, pre-releases
// are skipped, as `helm install` skips them without --devel.
//
// Errors wrap the sourceerr kinds. A malformed index.yaml is a plain error
// (reason DiscoveryFailed): the server is reachable but serves something
// that is not an index, which neither the subscription nor a retry fixes,
// yet it is not the subscription's fault either.
func (c *Client) Discover(ctx context.Context, sub kargoapi.ChartSubscription, creds *credentials.Credentials, limit int) ([]kargoapi.Chart, error) {
	ctx = throttle.WithFlow(ctx)
	if limit < 1 {
		limit = DefaultLimit
	}
	repoURL := string(sub.RepoURL)
	constraint, err := image.ParseConstraint(string(sub.SemverConstraint))
	if err != nil {
		return nil, fmt.Errorf("discover versions of chart %s: %w", describe(sub), err)
	}
	var versions []string
	_, oci := repourl.OCIReference(repoURL)
	switch {
	case oci:
		versions, err = c.ociVersions(ctx, sub, creds)
	case strings.HasPrefix(repoURL, "https://"), strings.HasPrefix(repoURL, "http://"):
		versions, err = c.httpVersions(ctx, sub, creds)
	default:
		return nil, fmt.Errorf("discover versions of chart %s: %w: repoURL must start with https://, http:// or oci://", describe(sub), sourceerr.ErrInvalid)
	}
	if err != nil {
		return nil, err
	}
	ordered := image.NewestVersions(versions, constraint)
	if len(ordered) == 0 {
		want := "a release (not pre-release) semantic version"
		if constraint != nil {
			want = fmt.Sprintf("a version satisfying semverConstraint %q", sub.SemverConstraint)
		}
		return nil, fmt.Errorf("discover versions of chart %s: %w: none of its %d versions is %s", describe(sub), sourceerr.ErrNoMatch, len(versions), want)
	}
	out := make([]kargoapi.Chart, 0, min(limit, len(ordered)))
	for _, v := range ordered[:min(limit, len(ordered))] {
		out = append(out, kargoapi.Chart{RepoURL: repoURL, Name: sub.Name, Version: v})
	}
	return out, nil
}

// describe names a subscription's chart for messages, without credentials
// or query strings a repoURL might carry.
func describe(sub kargoapi.ChartSubscription) string {
	u := redactURL(string(sub.RepoURL))
	if sub.Name == "" {
		return u
	}
	return sub.Name + " in " + u
}

// ociVersions lists an OCI chart's tags as versions. Helm writes the "+" of
// build metadata as "_" because OCI tags may not contain "+"; it is turned
// back so the version matches Chart.yaml.
func (c *Client) ociVersions(ctx context.Context, sub kargoapi.ChartSubscription, creds *credentials.Credentials) ([]string, error) {
	if sub.Name != "" {
		return nil, fmt.Errorf("discover versions of chart %s: %w: for an OCI chart, put the chart in repoURL (oci://registry/path/chart) and leave name empty", describe(sub), sourceerr.ErrInvalid)
	}
	ref, _ := repourl.OCIReference(string(sub.RepoURL))
	tags, err := c.images.ListTags(ctx, ref, creds, credentials.TypeHelm)
	if err != nil {
		return nil, fmt.Errorf("discover versions of chart %s: %w", describe(sub), err)
	}
	versions := make([]string, len(tags))
	for i, t := range tags {
		versions[i] = strings.ReplaceAll(t, "_", "+")
	}
	return versions, nil
}

// httpVersions reads the chart's versions from the repository's index.
func (c *Client) httpVersions(ctx context.Context, sub kargoapi.ChartSubscription, creds *credentials.Credentials) ([]string, error) {
	op := "discover versions of chart " + describe(sub)
	if sub.Name == "" {
		return nil, fmt.Errorf("%s: %w: name is required for an HTTP(S) chart repository", op, sourceerr.ErrInvalid)
	}
	repo, err := url.Parse(string(sub.RepoURL))
	if err != nil || repo.Host == "" {
		return nil, fmt.Errorf("%s: %w: repoURL is not a URL", op, sourceerr.ErrInvalid)
	}
	if repo.User != nil {
		return nil, fmt.Errorf("%s: %w: repoURL must not contain credentials; put them in a helm credential Secret", op, sourceerr.ErrInvalid)
	}
	if creds != nil && repo.Scheme == "http" && !image.IsLoopback(repo.Host) {
		return nil, fmt.Errorf("%s: %w", op, sourceerr.ErrInsecureCredentials)
	}
	idx, err := c.index(ctx, indexURL(repo), creds, string(sub.RepoURL))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	versions, ok := idx.charts[sub.Name]
	if !ok {
		return nil, fmt.Errorf("%s: %w: the repository's index lists %s but not %q", op, sourceerr.ErrNotFound, idx.describe(), sub.Name)
	}
	return versions, nil
}

// indexURL resolves index.yaml against the repository URL as a directory,
// so https://host/charts and https://host/charts/ both mean
// https://host/charts/index.yaml. A query string (some hosts sign URLs)
// is kept.
func indexURL(repo *url.URL) *url.URL {
	dir := *repo
	if !strings.HasSuffix(dir.Path, "/") {
		dir.Path += "/"
		if dir.RawPath != "" {
			dir.RawPath += "/"
		}
	}
	u := dir.ResolveReference(&url.URL{Path: "index.yaml"})
	u.RawQuery = repo.RawQuery
	return u
}

// index returns the parsed index at u. Concurrent callers for the same
// index and credentials share one download, which runs under its own
// timeout so that one caller giving up does not fail the others.
func (c *Client) index(ctx context.Context, u *url.URL, creds *credentials.Credentials, repoURL string) (*index, error) {
	key := u.String() + "\x00" + fingerprint(creds)
	ch := c.inflight.DoChan(key, func() (any, error) {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.opts.Timeout)
		defer cancel()
		return c.fetchIndex(fctx, key, u, creds, repoURL)
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.(*index), nil
	case <-ctx.Done():
		return nil, fmt.Errorf("get %s: %w", redactURL(u.String()), ctx.Err())
	}
}

func (c *Client) fetchIndex(ctx context.Context, key string, u *url.URL, creds *credentials.Credentials, repoURL string) (*index, error) {
	shown := redactURL(u.String())
	op := "get " + shown
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %v", op, sourceerr.ErrInvalid, err)
	}
	req.Header.Set("Accept", "application/yaml, application/x-yaml, application/json;q=0.9, */*;q=0.8")
	if creds != nil {
		req.SetBasicAuth(creds.Username, creds.Password)
	}
	cached := c.cached(key)
	if cached != nil {
		if cached.etag != "" {
			req.Header.Set("If-None-Match", cached.etag)
		}
		if cached.lastModified != "" {
			req.Header.Set("If-Modified-Since", cached.lastModified)
		}
	}

	resp, err := c.http.Do(req)
	if err != nil {
		return nil, c.requestError(op, u, creds, err)
	}
	defer func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		_ = resp.Body.Close()
	}()

	switch code := resp.StatusCode; {
	case code == http.StatusNotModified && cached != nil:
		return cached.index, nil
	case code == http.StatusOK:
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		if creds == nil {
			return nil, fmt.Errorf("%s: %w: the repository answered %d and no helm credential Secret matches %s", op, sourceerr.ErrUnauthorized, code, repoURL)
		}
		return nil, fmt.Errorf("%s: %w: the repository answered %d; check the username and password of the helm credential Secret for %s", op, sourceerr.ErrUnauthorized, code, repoURL)
	case code == http.StatusNotFound:
		return nil, fmt.Errorf("%s: %w: no index.yaml there; is repoURL a Helm chart repository?", op, sourceerr.ErrNotFound)
	case code == http.StatusTooManyRequests:
		until, ok := c.throttle.BlockedUntil(u.Host)
		if !ok {
			until = c.opts.Now().Add(throttle.DefaultRetryAfter)
		}
		return nil, fmt.Errorf("%s: %w", op, &sourceerr.RateLimitedError{Host: u.Host, RetryAfter: until})
	case code >= 500:
		return nil, fmt.Errorf("%s: %w: the repository answered %d %s", op, sourceerr.ErrUnreachable, code, http.StatusText(code))
	default:
		return nil, fmt.Errorf("%s: unexpected status %d %s", op, code, http.StatusText(code))
	}

	tooLarge := &egress.TooLargeError{What: "index.yaml", Limit: c.opts.MaxIndexBytes, Hint: c.opts.MaxIndexHint}
	if resp.ContentLength > c.opts.MaxIndexBytes {
		return nil, fmt.Errorf("%s: %w", op, tooLarge)
	}
	// Read into a buffer sized by Content-Length when the server gives it,
	// so that a large index costs its size once, not the doublings of a
	// growing buffer.
	buf := bytes.NewBuffer(make([]byte, 0, max(resp.ContentLength, 0)+bytes.MinRead))
	if _, err := buf.ReadFrom(egress.LimitBody(resp.Body, tooLarge)); err != nil {
		if errors.Is(err, tooLarge) {
			return nil, fmt.Errorf("%s: %w", op, tooLarge)
		}
		return nil, c.requestError(op, u, creds, err)
	}
	body := buf.Bytes()
	entry := &cachedIndex{
		etag:         resp.Header.Get("ETag"),
		lastModified: resp.Header.Get("Last-Modified"),
		sum:          sha256.Sum256(body),
	}
	if cached != nil && cached.sum == entry.sum {
		// A server without validators sent the same bytes again: hashing
		// them is far cheaper than parsing them.
		entry.index = cached.index
	} else {
		c.parses.Add(1)
		idx, err := parseIndex(body)
		if err != nil {
			return nil, fmt.Errorf("index.yaml at %s is not a valid Helm repository index: %v", shown, err)
		}
		entry.index = idx
	}
	c.store(key, entry)
	return entry.index, nil
}

// requestError classifies a failed request. The URL in *url.Error is
// dropped in favour of the redacted one.
func (c *Client) requestError(op string, u *url.URL, creds *credentials.Credentials, err error) error {
	var (
		rl      *sourceerr.RateLimitedError
		refused *egress.RefusedError
	)
	switch {
	case errors.As(err, &refused):
		return fmt.Errorf("%s: %w", op, refused)
	case errors.As(err, &rl):
		return fmt.Errorf("%s: %w", op, rl)
	case errors.Is(err, sourceerr.ErrInsecureCredentials):
		return fmt.Errorf("%s: %w", op, sourceerr.ErrInsecureCredentials)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%s: %w", op, err)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	msg := err.Error()
	if creds != nil && len(creds.Password) >= 4 {
		msg = strings.ReplaceAll(msg, creds.Password, "<redacted>")
	}
	return fmt.Errorf("%s: %w: %s", op, sourceerr.ErrUnreachable, msg)
}

// checkRedirect refuses to follow a redirect that would carry credentials
// over plain HTTP to another machine. (net/http already drops them on
// redirects to other domains, but not on a downgrade to http:// on the same
// host.)
func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	if req.URL.Scheme == "http" && !image.IsLoopback(req.URL.Host) && via[0].Header.Get("Authorization") != "" {
		return fmt.Errorf("follow redirect to %s: %w", req.URL.Host, sourceerr.ErrInsecureCredentials)
	}
	return nil
}

func (c *Client) cached(key string) *cachedIndex {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cache[key]
}

// store keeps entry, evicting an arbitrary other index when the cache is
// full; with one entry per repository and credential, eviction is rare
// enough that recency bookkeeping is not worth it.
func (c *Client) store(key string, entry *cachedIndex) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.cache[key]; !ok && len(c.cache) >= c.opts.IndexCacheSize {
		for k := range c.cache {
			delete(c.cache, k)
			break
		}
	}
	c.cache[key] = entry
}

// fingerprint separates cache entries by credentials, so a caller never
// gets an index another caller's credentials fetched, without keeping the
// password itself as a key.
func fingerprint(creds *credentials.Credentials) string {
	if creds == nil {
		return "anonymous"
	}
	sum := sha256.Sum256([]byte(creds.Username + "\x00" + creds.Password))
	return hex.EncodeToString(sum[:])
}

// redactURL drops userinfo and the query (which may hold a signature or a
// token) from a URL shown in a message.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable URL)"
	}
	u.User = nil
	u.RawQuery = ""
	u.Fragment = ""
	return u.String()
}
