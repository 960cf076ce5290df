package image

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/singleflight"
	"golang.org/x/time/rate"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/credentials"
	"github.com/kargohq/kargo/internal/egress"
	"github.com/kargohq/kargo/internal/image/throttle"
	"github.com/kargohq/kargo/internal/sourceerr"
	"github.com/kargohq/kargo/internal/tagfilter"
)

// Defaults for Options.
const (
	// DefaultMaxTagsInspected bounds the tags one Discover resolves to a
	// digest (one HEAD each, plus a manifest and a config the first time a
	// digest is seen). At the default 20 requests per second that is at most
	// ~25 s of one registry's budget per poll, shared fairly with others.
	DefaultMaxTagsInspected = 500
	// DefaultMaxTags bounds how many tags are listed, so a runaway
	// repository cannot exhaust memory or page forever.
	DefaultMaxTags = 100_000
	// DefaultConcurrency is how many requests one Discover keeps in flight.
	DefaultConcurrency = 4
	// DefaultMetadataCacheSize is how many manifests' metadata are kept;
	// an entry is a few hundred bytes.
	DefaultMetadataCacheSize = 20_000
	// DefaultLimit is the number of candidates returned when Discover is
	// given a limit below one.
	DefaultLimit = 1
	// DefaultMaxResponseBytes bounds one registry response (a page of
	// tags, a manifest, an image config), which go-containerregistry reads
	// whole into memory. Real ones are kilobytes; a page of 1,000 tags is
	// about 50 KiB.
	DefaultMaxResponseBytes = 8 << 20
)

// Options configure a Client. The zero value is usable.
type Options struct {
	// Throttle paces requests per registry host. Pass the process's shared
	// Throttle so image and chart discovery draw on one budget per host; nil
	// makes a new one from PerHostRate and Burst.
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
	// configuration that trusts a test registry's certificate. Nil means
	// a copy of http.DefaultTransport with timeouts. An *http.Transport is
	// cloned and made to dial through Egress; any other RoundTripper is
	// used as it is, and its caller (a test that plays a public registry)
	// answers for where it connects.
	Transport http.RoundTripper
	// Now tells the time; tests move it instead of sleeping. Nil means
	// time.Now.
	Now func() time.Time
	// MaxTagsInspected caps how many tags one Discover resolves to digests
	// and metadata. Zero means DefaultMaxTagsInspected.
	MaxTagsInspected int
	// MaxTags caps how many tags are listed. Zero means DefaultMaxTags.
	MaxTags int
	// Concurrency is how many requests one Discover keeps in flight. Zero
	// means DefaultConcurrency.
	Concurrency int
	// MetadataCacheSize is how many manifests' metadata are cached. Zero
	// means DefaultMetadataCacheSize.
	MetadataCacheSize int
	// MaxResponseBytes bounds one registry response. Zero means
	// DefaultMaxResponseBytes.
	MaxResponseBytes int64
}

// Client discovers images in container registries. Make one per process and
// share it among all Warehouses: its per-host throttle and its metadata
// cache only work when shared. It is safe for concurrent use.
type Client struct {
	opts      Options
	throttle  *throttle.Throttle
	transport http.RoundTripper
	insecure  http.RoundTripper
	indexes   *lru[string, []v1.Descriptor]
	images    *lru[string, imageMeta]
	inflight  singleflight.Group
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
	switch t := opts.Transport.(type) {
	case nil:
		opts.Transport = opts.Egress.Transport(defaultTransport())
	case *http.Transport:
		opts.Transport = opts.Egress.Transport(t)
	}
	if opts.MaxTagsInspected <= 0 {
		opts.MaxTagsInspected = DefaultMaxTagsInspected
	}
	if opts.MaxTags <= 0 {
		opts.MaxTags = DefaultMaxTags
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = DefaultConcurrency
	}
	if opts.MetadataCacheSize <= 0 {
		opts.MetadataCacheSize = DefaultMetadataCacheSize
	}
	if opts.MaxResponseBytes <= 0 {
		opts.MaxResponseBytes = DefaultMaxResponseBytes
	}
	return &Client{
		opts:      opts,
		throttle:  opts.Throttle,
		transport: opts.Transport,
		insecure:  skipVerify(opts.Transport, opts.Egress),
		indexes:   newLRU[string, []v1.Descriptor](opts.MetadataCacheSize),
		images:    newLRU[string, imageMeta](opts.MetadataCacheSize),
	}
}

// Discover returns up to limit images of sub's repository, newest first by
// sub's selection strategy; the first is the one a Warehouse picks. Every
// Image carries sub.RepoURL verbatim, the tag and the digest. The digest is
// that of the tag's manifest (an index digest for a multi-platform image)
// when sub.Platform is empty, and that of the platform's own manifest when
// it is set, so a Freight pins exactly what will run.
//
// SemverConstraint applies to the SemVer strategy only, as its API
// documentation says; Lexical and NewestBuild order tags that need not be
// versions. NewestBuild refuses (ErrInvalid) to compare more than
// Options.MaxTagsInspected candidates.
//
// Errors wrap the sourceerr kinds: ErrInvalid for a spec that cannot work,
// ErrUnauthorized, ErrNotFound, ErrUnreachable, ErrNoMatch,
// ErrInsecureCredentials, or a *sourceerr.RateLimitedError.
func (c *Client) Discover(ctx context.Context, sub kargoapi.ImageSubscription, creds *credentials.Credentials, limit int) ([]kargoapi.Image, error) {
	ctx = throttle.WithFlow(ctx)
	repoURL := string(sub.RepoURL)
	if limit < 1 {
		limit = DefaultLimit
	}
	limit = min(limit, c.opts.MaxTagsInspected)

	strategy := sub.ImageSelectionStrategy
	if strategy == "" {
		strategy = kargoapi.ImageSelectionSemVer
	}
	var platform *v1.Platform
	if sub.Platform != "" {
		p, err := v1.ParsePlatform(sub.Platform)
		if err != nil || p.OS == "" || p.Architecture == "" {
			return nil, fmt.Errorf("discover images of %s: %w: platform %q must look like os/arch or os/arch/variant", repoURL, sourceerr.ErrInvalid, sub.Platform)
		}
		platform = p
	}

	s, err := c.newSession(repoURL, creds, sub.InsecureSkipTLSVerify, credentials.TypeImage)
	if err != nil {
		return nil, err
	}
	s.platform = platform

	switch strategy {
	case kargoapi.ImageSelectionDigest:
		return s.discoverDigest(ctx, sub.DigestTag())
	case kargoapi.ImageSelectionSemVer, kargoapi.ImageSelectionLexical, kargoapi.ImageSelectionNewestBuild:
	default:
		return nil, fmt.Errorf("discover images of %s: %w: unknown imageSelectionStrategy %q", repoURL, sourceerr.ErrInvalid, strategy)
	}

	filter, err := tagfilter.New(tagfilter.Spec{Allow: sub.AllowTags, AllowRegexes: sub.AllowTagsRegexes, Ignore: sub.IgnoreTags, IgnoreRegexes: sub.IgnoreTagsRegexes})
	if err != nil {
		return nil, fmt.Errorf("discover images of %s: %w", repoURL, err)
	}
	constraint, err := ParseConstraint(sub.VersionRange())
	if err != nil {
		return nil, fmt.Errorf("discover images of %s: %w", repoURL, err)
	}
	if err := s.connect(ctx); err != nil {
		return nil, err
	}
	listed, err := s.listTags(ctx)
	if err != nil {
		return nil, err
	}
	tags := filter.Apply(listed)

	switch strategy {
	case kargoapi.ImageSelectionSemVer:
		// The constraint applies to SemVer only, as its API documentation
		// says; the other strategies order tags that need not be versions.
		ordered := NewestVersions(tags, constraint)
		if len(ordered) == 0 {
			return nil, s.noMatch(listed, tags, describeConstraint(sub.VersionRange()), filter)
		}
		return s.firstResolved(ctx, ordered, limit)
	case kargoapi.ImageSelectionLexical:
		if len(tags) == 0 {
			return nil, s.noMatch(listed, tags, "", filter)
		}
		return s.firstResolved(ctx, lexicalOrder(tags), limit)
	default:
		if len(tags) == 0 {
			return nil, s.noMatch(listed, tags, "", filter)
		}
		return s.newestBuilds(ctx, tags, limit)
	}
}

// ListTags lists every tag of the repository repoURL names (a registry
// reference without tag or digest, such as ghcr.io/example/chart), through
// the same throttle, transport rules and error classification as
// Discover. credType names the kind of credential Secret that error
// messages tell the user to check.
func (c *Client) ListTags(ctx context.Context, repoURL string, creds *credentials.Credentials, credType credentials.Type) ([]string, error) {
	ctx = throttle.WithFlow(ctx)
	s, err := c.newSession(repoURL, creds, false, credType)
	if err != nil {
		return nil, err
	}
	if err := s.connect(ctx); err != nil {
		return nil, err
	}
	return s.listTags(ctx)
}

func describeConstraint(c string) string {
	if strings.TrimSpace(c) == "" {
		return "is a release (not pre-release) semantic version"
	}
	return fmt.Sprintf("satisfies semverConstraint %q", c)
}

// noMatch explains why no tag qualified, naming each filter that took part.
func (s *session) noMatch(listed, filtered []string, constraint string, filter tagfilter.Filter) error {
	var why string
	switch {
	case len(listed) == 0:
		why = "the repository has no tags"
	case len(filtered) == 0:
		why = fmt.Sprintf("none of its %d tags %s", len(listed), filter.Describe())
	default:
		why = fmt.Sprintf("no tag %s", constraint)
		if d := filter.Describe(); d != "" {
			why += fmt.Sprintf(" among the %d of %d tags that %s", len(filtered), len(listed), d)
		} else {
			why += fmt.Sprintf(" among its %d tags", len(listed))
		}
	}
	return fmt.Errorf("discover images of %s: %w: %s", s.repoURL, sourceerr.ErrNoMatch, why)
}

// discoverDigest resolves the digest behind one mutable tag.
func (s *session) discoverDigest(ctx context.Context, tag string) ([]kargoapi.Image, error) {
	if tag == "" {
		return nil, fmt.Errorf("discover images of %s: %w: the Digest strategy needs the tag to follow", s.repoURL, sourceerr.ErrInvalid)
	}
	if err := s.connect(ctx); err != nil {
		return nil, err
	}
	r, err := s.resolve(ctx, tag, false)
	if err != nil {
		return nil, err
	}
	if r.skip != "" {
		return nil, fmt.Errorf("discover images of %s: %w: %s", s.repoURL, sourceerr.ErrNoMatch, r.skip)
	}
	return []kargoapi.Image{{RepoURL: s.repoURL, Tag: tag, Digest: r.digest}}, nil
}

// firstResolved resolves tags in the given order until limit images are
// found. Tags are resolved in windows of the number still needed, so the
// common case (limit 1, no platform mismatch) costs one HEAD; tags that
// disappeared since listing or lack the platform are skipped, and at most
// MaxTagsInspected tags are tried.
func (s *session) firstResolved(ctx context.Context, ordered []string, limit int) ([]kargoapi.Image, error) {
	var (
		out       []kargoapi.Image
		skipped   []string
		budget    = min(len(ordered), s.c.opts.MaxTagsInspected)
		inspected int
	)
	for len(out) < limit && inspected < budget {
		window := ordered[inspected:min(budget, inspected+limit-len(out))]
		inspected += len(window)
		results, err := s.resolveAll(ctx, window, false)
		if err != nil {
			return nil, err
		}
		for _, r := range results {
			switch {
			case r.gone:
			case r.skip != "":
				skipped = append(skipped, r.skip)
			default:
				out = append(out, kargoapi.Image{RepoURL: s.repoURL, Tag: r.tag, Digest: r.digest})
			}
		}
	}
	if len(out) == 0 {
		return nil, s.noPlatform(skipped, inspected, len(ordered))
	}
	return out, nil
}

// newestBuilds orders every candidate by build time. That needs each
// candidate's metadata, so the number of candidates is bounded up front:
// past MaxTagsInspected the subscription is refused with advice to narrow
// it, rather than silently judging only some tags, which could select an
// image that is not the newest.
func (s *session) newestBuilds(ctx context.Context, tags []string, limit int) ([]kargoapi.Image, error) {
	if max := s.c.opts.MaxTagsInspected; len(tags) > max {
		return nil, fmt.Errorf("discover images of %s: %w: NewestBuild compares the build time of every candidate tag, and %d tags remain after allowTags and ignoreTags, more than the %d inspected per discovery; narrow them with allowTags",
			s.repoURL, sourceerr.ErrInvalid, len(tags), max)
	}
	results, err := s.resolveAll(ctx, tags, true)
	if err != nil {
		return nil, err
	}
	var (
		kept    []resolved
		skipped []string
	)
	for _, r := range results {
		switch {
		case r.gone:
		case r.skip != "":
			skipped = append(skipped, r.skip)
		default:
			kept = append(kept, r)
		}
	}
	if len(kept) == 0 {
		return nil, s.noPlatform(skipped, len(tags), len(tags))
	}
	slices.SortFunc(kept, func(a, b resolved) int {
		if c := b.created.Compare(a.created); c != 0 {
			return c
		}
		return strings.Compare(b.tag, a.tag)
	})
	out := make([]kargoapi.Image, 0, min(limit, len(kept)))
	for _, r := range kept[:min(limit, len(kept))] {
		out = append(out, kargoapi.Image{RepoURL: s.repoURL, Tag: r.tag, Digest: r.digest})
	}
	return out, nil
}

func (s *session) noPlatform(skipped []string, inspected, candidates int) error {
	if len(skipped) == 0 {
		return fmt.Errorf("discover images of %s: %w: every candidate tag disappeared while it was being inspected", s.repoURL, sourceerr.ErrNoMatch)
	}
	msg := fmt.Sprintf("none of the %d candidate tags inspected has an image for platform %s", inspected, s.platform)
	if inspected < candidates {
		msg += fmt.Sprintf(" (%d more were not inspected)", candidates-inspected)
	}
	return fmt.Errorf("discover images of %s: %w: %s; for example, %s", s.repoURL, sourceerr.ErrNoMatch, msg, skipped[0])
}

// resolveAll resolves tags concurrently, keeping their order.
func (s *session) resolveAll(ctx context.Context, tags []string, needCreated bool) ([]resolved, error) {
	results := make([]resolved, len(tags))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.c.opts.Concurrency)
	for i, tag := range tags {
		g.Go(func() error {
			r, err := s.resolve(gctx, tag, needCreated)
			if err != nil {
				if errors.Is(err, sourceerr.ErrNotFound) {
					// Deleted between listing and now: not a candidate.
					results[i] = resolved{tag: tag, gone: true}
					return nil
				}
				return err
			}
			results[i] = r
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return results, nil
}
