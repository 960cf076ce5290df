package image

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/kargohq/kargo/internal/credentials"
	"github.com/kargohq/kargo/internal/egress"
	"github.com/kargohq/kargo/internal/sourceerr"
)

// CreatedAnnotation is the OCI manifest annotation recording when an image
// was built. NewestBuild prefers it to the config's created field because
// reproducible builds pin that field to the Unix epoch.
const CreatedAnnotation = "org.opencontainers.image.created"

// pageSize is the tags requested per page; some registries (ECR) refuse
// more than 1000.
const pageSize = 1000

// session is one Discover's connection to one repository.
type session struct {
	c        *Client
	repo     name.Repository
	repoURL  string
	platform *v1.Platform
	fail     failure
	auth     authn.Authenticator
	base     *plainHTTPGuard
	puller   *remote.Puller
}

// imageMeta is what a single-platform manifest and its config tell about an
// image. It is keyed by manifest digest, so it never goes stale.
type imageMeta struct {
	created  time.Time
	platform v1.Platform
}

// resolved is one tag's outcome: a digest, or the reason it is skipped.
type resolved struct {
	tag     string
	digest  string
	created time.Time
	skip    string // why the tag does not qualify (platform), if it does not
	gone    bool   // deleted since it was listed
}

func (c *Client) newSession(repoURL string, creds *credentials.Credentials, insecureSkipTLSVerify bool, credType credentials.Type) (*session, error) {
	repo, err := name.NewRepository(repoURL)
	if err != nil {
		return nil, fmt.Errorf("parse repository %s: %w: %v", repoURL, sourceerr.ErrInvalid, err)
	}
	base := c.transport
	if insecureSkipTLSVerify {
		base = c.insecure
	}
	s := &session{
		c:       c,
		repo:    repo,
		repoURL: repoURL,
		fail: failure{
			repoURL:  repoURL,
			host:     repo.RegistryStr(),
			credType: credType,
			creds:    creds,
			throttle: c.throttle,
			now:      c.opts.Now,
		},
		auth: authn.Anonymous,
		// The guard sits above the throttle so refused requests spend no
		// tokens, and below authentication so it sees every request that
		// could carry credentials, including token exchanges.
		base: &plainHTTPGuard{
			next:     egress.LimitBodies(c.throttle.Transport(base), c.opts.MaxResponseBytes, "the registry's answer", ""),
			hasCreds: creds != nil,
		},
	}
	if creds != nil {
		s.auth = authn.FromConfig(authn.AuthConfig{Username: creds.Username, Password: creds.Password})
	}
	return s, nil
}

// connect pings the registry and authenticates once for the whole
// Discover, so later requests neither ping again nor retry behind kargo's
// back: go-containerregistry's own retries would ignore Retry-After and
// spend the shared budget.
func (s *session) connect(ctx context.Context) error {
	rt, err := transport.NewWithContext(ctx, s.repo.Registry, s.auth, s.base, []string{s.repo.Scope(transport.PullScope)})
	if err != nil {
		return s.fail.wrap("connect to "+s.repo.RegistryStr(), err)
	}
	p, err := remote.NewPuller(remote.WithTransport(rt), remote.WithPageSize(pageSize))
	if err != nil {
		return fmt.Errorf("connect to %s: %w", s.repo.RegistryStr(), err)
	}
	s.puller = p
	return nil
}

// listTags pages through the repository's tags, refusing repositories with
// more than MaxTags of them.
func (s *session) listTags(ctx context.Context) ([]string, error) {
	op := "list tags of " + s.repoURL
	lister, err := s.puller.Lister(ctx, s.repo)
	if err != nil {
		return nil, s.fail.wrap(op, err)
	}
	var tags []string
	for lister.HasNext() {
		page, err := lister.Next(ctx)
		if err != nil {
			return nil, s.fail.wrap(op, err)
		}
		tags = append(tags, page.Tags...)
		if len(tags) > s.c.opts.MaxTags {
			return nil, fmt.Errorf("%s: the repository has more than %d tags, more than kargo lists", op, s.c.opts.MaxTags)
		}
	}
	return tags, nil
}

// resolve finds what tag points at. Without a platform and without a need
// for build times this is one HEAD request; otherwise the index, manifest
// and config are read once per digest and cached for good.
func (s *session) resolve(ctx context.Context, tag string, needCreated bool) (resolved, error) {
	r := resolved{tag: tag}
	desc, err := s.head(ctx, tag)
	if err != nil {
		return r, err
	}
	r.digest = desc.Digest.String()
	if s.platform == nil && !needCreated {
		return r, nil
	}

	imageDigest := r.digest
	if desc.MediaType.IsIndex() {
		entries, err := s.indexEntries(ctx, r.digest)
		if err != nil {
			return r, err
		}
		want := s.platform
		if want == nil {
			want = &v1.Platform{OS: "linux", Architecture: "amd64"}
		}
		entry, ok := pickPlatform(entries, *want)
		switch {
		case ok:
		case s.platform != nil:
			r.skip = fmt.Sprintf("tag %s has no image for platform %s; it has %s", tag, s.platform, listPlatforms(entries))
			return r, nil
		default:
			// No platform asked for and no linux/amd64: judge the build
			// time by the first real image.
			if entry, ok = firstImage(entries); !ok {
				return r, nil
			}
		}
		if s.platform != nil {
			r.digest = entry.Digest.String()
		}
		imageDigest = entry.Digest.String()
	}

	meta, err := s.imageMeta(ctx, imageDigest)
	if err != nil {
		return r, err
	}
	if s.platform != nil && !desc.MediaType.IsIndex() && !meta.platform.Satisfies(*s.platform) {
		r.skip = fmt.Sprintf("tag %s is a single-platform image for %s, not %s", tag, orUnknown(meta.platform.String()), s.platform)
		return r, nil
	}
	r.created = meta.created
	return r, nil
}

// head resolves a tag to a descriptor with HEAD, which registries such as
// Docker Hub do not count against pull limits. A registry that answers HEAD
// without the digest header gets a GET instead.
func (s *session) head(ctx context.Context, tag string) (*v1.Descriptor, error) {
	op := fmt.Sprintf("resolve tag %s of %s", tag, s.repoURL)
	ref := s.repo.Tag(tag)
	desc, err := s.puller.Head(ctx, ref)
	if err == nil {
		return desc, nil
	}
	var te *transport.Error
	if errors.As(err, &te) || ctx.Err() != nil || !strings.Contains(err.Error(), "did not include") {
		return nil, s.fail.wrap(op, err)
	}
	full, err := s.puller.Get(ctx, ref)
	if err != nil {
		return nil, s.fail.wrap(op, err)
	}
	d := full.Descriptor
	return &d, nil
}

// indexEntries returns the manifests an index lists, from cache when the
// index was seen before.
func (s *session) indexEntries(ctx context.Context, digest string) ([]v1.Descriptor, error) {
	if e, ok := s.c.indexes.get(digest); ok {
		return e, nil
	}
	v, err := s.once(ctx, "index "+s.repo.Name()+"@"+digest, func(ctx context.Context) (any, error) {
		desc, err := s.puller.Get(ctx, s.repo.Digest(digest))
		if err != nil {
			return nil, s.fail.wrap(fmt.Sprintf("get index %s of %s", digest, s.repoURL), err)
		}
		idx, err := v1.ParseIndexManifest(bytes.NewReader(desc.Manifest))
		if err != nil {
			return nil, fmt.Errorf("parse index %s of %s: %w", digest, s.repoURL, err)
		}
		s.c.indexes.add(digest, idx.Manifests)
		return idx.Manifests, nil
	})
	if err != nil {
		return nil, err
	}
	return v.([]v1.Descriptor), nil
}

// imageMeta returns a single-platform image's build time and platform, from
// cache when the manifest was seen before. The manifest's created
// annotation wins over the config's created field.
func (s *session) imageMeta(ctx context.Context, digest string) (imageMeta, error) {
	if m, ok := s.c.images.get(digest); ok {
		return m, nil
	}
	v, err := s.once(ctx, "image "+s.repo.Name()+"@"+digest, func(ctx context.Context) (any, error) {
		op := fmt.Sprintf("get image %s of %s", digest, s.repoURL)
		desc, err := s.puller.Get(ctx, s.repo.Digest(digest))
		if err != nil {
			return nil, s.fail.wrap(op, err)
		}
		var m struct {
			Annotations map[string]string `json:"annotations"`
		}
		if err := json.Unmarshal(desc.Manifest, &m); err != nil {
			return nil, fmt.Errorf("%s: parse manifest: %w", op, err)
		}
		img, err := desc.Image()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		raw, err := img.RawConfigFile()
		if err != nil {
			return nil, s.fail.wrap(op+": get config", err)
		}
		var cfg struct {
			Created      time.Time `json:"created"`
			OS           string    `json:"os"`
			Architecture string    `json:"architecture"`
			Variant      string    `json:"variant"`
		}
		// A config that is not an image config (an artifact) leaves the
		// fields empty rather than failing the whole discovery.
		_ = json.Unmarshal(raw, &cfg)
		meta := imageMeta{
			created:  cfg.Created,
			platform: v1.Platform{OS: cfg.OS, Architecture: cfg.Architecture, Variant: cfg.Variant},
		}
		if t, err := time.Parse(time.RFC3339, m.Annotations[CreatedAnnotation]); err == nil {
			meta.created = t
		}
		s.c.images.add(digest, meta)
		return meta, nil
	})
	if err != nil {
		return imageMeta{}, err
	}
	return v.(imageMeta), nil
}

// once runs fn for key at most once at a time across all Discovers, so
// Warehouses that start together fetch a shared manifest once. The fetch
// runs under the caller's context; a caller whose context is still live
// when another's cancelled fetch fails tries again itself.
func (s *session) once(ctx context.Context, key string, fn func(context.Context) (any, error)) (any, error) {
	for attempt := 0; ; attempt++ {
		v, err, shared := s.c.inflight.Do(key, func() (any, error) { return fn(ctx) })
		if shared && attempt < 3 && err != nil && ctx.Err() == nil &&
			(errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
			continue
		}
		return v, err
	}
}

// pickPlatform returns the first index entry whose platform satisfies want.
// An unset variant in want accepts any variant, so linux/arm64 matches an
// entry for linux/arm64/v8.
func pickPlatform(entries []v1.Descriptor, want v1.Platform) (v1.Descriptor, bool) {
	for _, e := range entries {
		if e.Platform != nil && e.Platform.Satisfies(want) {
			return e, true
		}
	}
	return v1.Descriptor{}, false
}

// firstImage returns the first entry that is an image for a real platform,
// passing over attestations (platform unknown/unknown).
func firstImage(entries []v1.Descriptor) (v1.Descriptor, bool) {
	for _, e := range entries {
		if e.Platform != nil && e.Platform.OS != "unknown" && e.MediaType.IsImage() {
			return e, true
		}
	}
	return v1.Descriptor{}, false
}

func listPlatforms(entries []v1.Descriptor) string {
	var ps []string
	for _, e := range entries {
		if e.Platform == nil || e.Platform.OS == "unknown" {
			continue
		}
		ps = append(ps, e.Platform.String())
	}
	if len(ps) == 0 {
		return "no platform images"
	}
	return strings.Join(ps, ", ")
}

func orUnknown(s string) string {
	if s == "" {
		return "an unknown platform"
	}
	return s
}
