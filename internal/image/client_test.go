package image_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/credentials"
	"github.com/kargohq/kargo/internal/egress"
	"github.com/kargohq/kargo/internal/image"
	"github.com/kargohq/kargo/internal/sourceerr"
	"github.com/kargohq/kargo/internal/testutil/registry"
)

// allowing is an outbound address policy that lets a client reach exactly
// the given registries, which listen on loopback.
func allowing(regs ...*registry.Registry) *egress.Policy {
	var rules []string
	for _, r := range regs {
		rules = append(rules, r.Host())
	}
	return egress.New(egress.Options{Allow: egress.MustParseRules(rules...)})
}

// newClient returns a client that trusts and may reach reg and does not
// throttle, unless opts say otherwise.
func newClient(reg *registry.Registry, opts image.Options) *image.Client {
	if opts.Transport == nil {
		opts.Transport = reg.Transport()
	}
	if opts.Egress == nil {
		opts.Egress = allowing(reg)
	}
	if opts.PerHostRate == 0 && opts.Throttle == nil {
		opts.PerHostRate = rate.Inf
	}
	return image.NewClient(opts)
}

func sub(reg *registry.Registry, repo string, mutate func(*kargoapi.ImageSubscription)) kargoapi.ImageSubscription {
	s := kargoapi.ImageSubscription{RepoURL: kargoapi.ImageRepoURL(reg.Host() + "/" + repo)}
	if mutate != nil {
		mutate(&s)
	}
	return s
}

func tagsOf(images []kargoapi.Image) []string {
	var out []string
	for _, img := range images {
		out = append(out, img.Tag)
	}
	return out
}

func TestDiscoverTagStrategies(t *testing.T) {
	reg := registry.New(t, registry.Options{})
	tags := []string{"1.23.9", "1.24.0", "v1.24.3", "1.25.0-rc.1", "1.25.0", "2.0.0", "latest", "20240101"}
	digests := map[string]string{}
	for _, tag := range tags {
		digests[tag] = reg.PushImage(t, "app", tag, registry.Image{})
	}
	client := newClient(reg, image.Options{})

	tests := []struct {
		name  string
		sub   func(*kargoapi.ImageSubscription)
		limit int
		want  []string
	}{
		{
			name:  "SemVer is the default and ignores tags that are not full versions",
			limit: 3,
			want:  []string{"2.0.0", "1.25.0", "v1.24.3"},
		},
		{
			name:  "SemVer with a caret constraint",
			sub:   func(s *kargoapi.ImageSubscription) { s.SemverConstraint = "^1.24.0" },
			limit: 10,
			want:  []string{"1.25.0", "v1.24.3", "1.24.0"},
		},
		{
			name:  "SemVer includes pre-releases only when the constraint names one",
			sub:   func(s *kargoapi.ImageSubscription) { s.SemverConstraint = ">=1.25.0-0 <2.0.0" },
			limit: 10,
			want:  []string{"1.25.0", "1.25.0-rc.1"},
		},
		{
			name: "SemVer with allowTags and ignoreTags",
			sub: func(s *kargoapi.ImageSubscription) {
				s.AllowTags = `^v?1\.2[34]\.`
				s.IgnoreTags = []string{"v1.24.3"}
			},
			limit: 10,
			want:  []string{"1.24.0", "1.23.9"},
		},
		{
			name:  "limit below one returns the single newest",
			limit: 0,
			want:  []string{"2.0.0"},
		},
		{
			name:  "Lexical picks the tag that sorts last",
			sub:   func(s *kargoapi.ImageSubscription) { s.ImageSelectionStrategy = kargoapi.ImageSelectionLexical },
			limit: 3,
			want:  []string{"v1.24.3", "latest", "20240101"},
		},
		{
			name: "Lexical with allowTags",
			sub: func(s *kargoapi.ImageSubscription) {
				s.ImageSelectionStrategy = kargoapi.ImageSelectionLexical
				s.AllowTags = `^\d{8}$`
			},
			limit: 3,
			want:  []string{"20240101"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := sub(reg, "app", tt.sub)
			got, err := client.Discover(context.Background(), s, nil, tt.limit)
			require.NoError(t, err)
			require.Equal(t, tt.want, tagsOf(got))
			for _, img := range got {
				require.Equal(t, string(s.RepoURL), img.RepoURL)
				require.Equal(t, digests[img.Tag], img.Digest, "digest of %s", img.Tag)
			}
		})
	}
}

func TestDiscoverRefusesUnusableSubscriptions(t *testing.T) {
	reg := registry.New(t, registry.Options{})
	reg.PushImage(t, "app", "1.0.0", registry.Image{})
	client := newClient(reg, image.Options{})

	tests := []struct {
		name    string
		sub     func(*kargoapi.ImageSubscription)
		wantErr error
		wantMsg string
	}{
		{
			name:    "allowTags is not a regular expression",
			sub:     func(s *kargoapi.ImageSubscription) { s.AllowTags = "([" },
			wantErr: sourceerr.ErrInvalid,
			wantMsg: `allowTags "([" is not a regular expression`,
		},
		{
			name:    "semverConstraint does not parse",
			sub:     func(s *kargoapi.ImageSubscription) { s.SemverConstraint = ">>1" },
			wantErr: sourceerr.ErrInvalid,
			wantMsg: "semverConstraint",
		},
		{
			name:    "Digest without a tag",
			sub:     func(s *kargoapi.ImageSubscription) { s.ImageSelectionStrategy = kargoapi.ImageSelectionDigest },
			wantErr: sourceerr.ErrInvalid,
			wantMsg: "needs the tag",
		},
		{
			name:    "no tag satisfies the constraint",
			sub:     func(s *kargoapi.ImageSubscription) { s.SemverConstraint = "^3.0.0" },
			wantErr: sourceerr.ErrNoMatch,
			wantMsg: `no tag satisfies semverConstraint "^3.0.0" among its 1 tags`,
		},
		{
			name:    "allowTags excludes every tag",
			sub:     func(s *kargoapi.ImageSubscription) { s.AllowTags = "^nope$" },
			wantErr: sourceerr.ErrNoMatch,
			wantMsg: `none of its 1 tags matches allowTags "^nope$"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := client.Discover(context.Background(), sub(reg, "app", tt.sub), nil, 1)
			require.ErrorIs(t, err, tt.wantErr)
			require.ErrorContains(t, err, tt.wantMsg)
		})
	}
}

func TestDiscoverNewestBuild(t *testing.T) {
	reg := registry.New(t, registry.Options{})
	day := func(s string) time.Time {
		d, err := time.Parse(time.DateOnly, s)
		require.NoError(t, err)
		return d
	}
	digests := map[string]string{
		"a": reg.PushImage(t, "app", "a", registry.Image{Created: day("2024-01-01")}),
		// Reproducible build: the config says 1970, the annotation is right.
		"b": reg.PushImage(t, "app", "b", registry.Image{CreatedAnnotation: "2024-06-01T00:00:00Z"}),
		"c": reg.PushImage(t, "app", "c", registry.Image{Created: day("2024-03-01")}),
	}
	indexDigest, perPlatform := reg.PushIndex(t, "app", "d", registry.Index{Created: day("2024-02-01"), Attestation: true})
	digests["d"] = indexDigest
	client := newClient(reg, image.Options{})

	t.Run("annotation beats a 1970 config date; an index is judged by linux/amd64", func(t *testing.T) {
		got, err := client.Discover(context.Background(), sub(reg, "app", func(s *kargoapi.ImageSubscription) {
			s.ImageSelectionStrategy = kargoapi.ImageSelectionNewestBuild
		}), nil, 10)
		require.NoError(t, err)
		require.Equal(t, []string{"b", "c", "d", "a"}, tagsOf(got))
		for _, img := range got {
			require.Equal(t, digests[img.Tag], img.Digest)
		}
	})

	t.Run("a platform skips images built for another", func(t *testing.T) {
		got, err := client.Discover(context.Background(), sub(reg, "app", func(s *kargoapi.ImageSubscription) {
			s.ImageSelectionStrategy = kargoapi.ImageSelectionNewestBuild
			s.Platform = "linux/arm64"
		}), nil, 10)
		require.NoError(t, err)
		require.Equal(t, []kargoapi.Image{{RepoURL: reg.Host() + "/app", Tag: "d", Digest: perPlatform["linux/arm64"]}}, got)
	})

	t.Run("more candidates than the inspection cap is refused with advice", func(t *testing.T) {
		capped := newClient(reg, image.Options{MaxTagsInspected: 3})
		_, err := capped.Discover(context.Background(), sub(reg, "app", func(s *kargoapi.ImageSubscription) {
			s.ImageSelectionStrategy = kargoapi.ImageSelectionNewestBuild
		}), nil, 1)
		require.ErrorIs(t, err, sourceerr.ErrInvalid)
		require.ErrorContains(t, err, "narrow them with allowTags")
	})
}

func TestDiscoverMetadataIsCachedByDigest(t *testing.T) {
	reg := registry.New(t, registry.Options{})
	for i, tag := range []string{"a", "b", "c", "d"} {
		reg.PushImage(t, "app", tag, registry.Image{Created: time.Date(2024, 1, i+1, 0, 0, 0, 0, time.UTC)})
	}
	reg.PushIndex(t, "app", "e", registry.Index{Created: time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC)})
	client := newClient(reg, image.Options{})
	s := sub(reg, "app", func(s *kargoapi.ImageSubscription) { s.ImageSelectionStrategy = kargoapi.ImageSelectionNewestBuild })

	first, err := client.Discover(context.Background(), s, nil, 1)
	require.NoError(t, err)
	require.Equal(t, "e", first[0].Tag)
	// 4 images x (manifest + config) + index + its amd64 manifest + config.
	require.Equal(t, 11, reg.Count(registry.ContentGET))

	reg.ResetRequests()
	second, err := client.Discover(context.Background(), s, nil, 1)
	require.NoError(t, err)
	require.Equal(t, first, second)
	require.Zero(t, reg.Count(registry.ContentGET), "unchanged tags must not refetch manifests or configs")
	require.Equal(t, 5, reg.Count(func(r registry.Request) bool {
		return r.Method == http.MethodHead && r.Kind == registry.KindManifest
	}), "one HEAD per tag tells whether it moved")
}

func TestDiscoverDigestFollowsAMovedTag(t *testing.T) {
	reg := registry.New(t, registry.Options{})
	client := newClient(reg, image.Options{})
	s := sub(reg, "app", func(s *kargoapi.ImageSubscription) {
		s.ImageSelectionStrategy = kargoapi.ImageSelectionDigest
		s.Tag = "stable"
	})

	before := reg.PushImage(t, "app", "stable", registry.Image{})
	got, err := client.Discover(context.Background(), s, nil, 1)
	require.NoError(t, err)
	require.Equal(t, []kargoapi.Image{{RepoURL: string(s.RepoURL), Tag: "stable", Digest: before}}, got)

	after := reg.PushImage(t, "app", "stable", registry.Image{})
	require.NotEqual(t, before, after)
	got, err = client.Discover(context.Background(), s, nil, 1)
	require.NoError(t, err)
	require.Equal(t, []kargoapi.Image{{RepoURL: string(s.RepoURL), Tag: "stable", Digest: after}}, got)

	s.Tag = "missing"
	_, err = client.Discover(context.Background(), s, nil, 1)
	require.ErrorIs(t, err, sourceerr.ErrNotFound)
}

func TestDiscoverMultiPlatformIndex(t *testing.T) {
	reg := registry.New(t, registry.Options{})
	indexDigest, perPlatform := reg.PushIndex(t, "app", "1.0.0", registry.Index{Attestation: true})
	client := newClient(reg, image.Options{})

	for _, strategy := range []kargoapi.ImageSelectionStrategy{kargoapi.ImageSelectionSemVer, kargoapi.ImageSelectionDigest} {
		tests := []struct {
			platform   string
			wantDigest string
			wantErr    error
			wantMsg    string
		}{
			{platform: "", wantDigest: indexDigest},
			{platform: "linux/arm64", wantDigest: perPlatform["linux/arm64"]},
			{platform: "linux/amd64", wantDigest: perPlatform["linux/amd64"]},
			{platform: "linux/s390x", wantErr: sourceerr.ErrNoMatch, wantMsg: "it has linux/amd64, linux/arm64"},
		}
		for _, tt := range tests {
			t.Run(string(strategy)+" "+tt.platform, func(t *testing.T) {
				got, err := client.Discover(context.Background(), sub(reg, "app", func(s *kargoapi.ImageSubscription) {
					s.ImageSelectionStrategy = strategy
					s.Tag = "1.0.0"
					s.Platform = tt.platform
				}), nil, 1)
				if tt.wantErr != nil {
					require.ErrorIs(t, err, tt.wantErr)
					require.ErrorContains(t, err, tt.wantMsg)
					require.NotContains(t, err.Error(), "unknown/unknown", "attestations are not platforms")
					return
				}
				require.NoError(t, err)
				require.Equal(t, tt.wantDigest, got[0].Digest)
			})
		}
	}
}

func TestDiscoverAuthentication(t *testing.T) {
	const password = "s3cret-registry-password"
	reg := registry.New(t, registry.Options{Username: "kargo", Password: password, TLS: true})
	want := reg.PushImage(t, "private/app", "1.0.0", registry.Image{})
	client := newClient(reg, image.Options{})
	s := sub(reg, "private/app", nil)

	tests := []struct {
		name    string
		creds   *credentials.Credentials
		wantErr error
		wantMsg string
	}{
		{name: "right password", creds: &credentials.Credentials{Username: "kargo", Password: password}},
		{
			name:    "wrong password",
			creds:   &credentials.Credentials{Username: "kargo", Password: "wrong-password-123"},
			wantErr: sourceerr.ErrUnauthorized,
			wantMsg: "check the username and password of the image credential Secret for " + reg.Host() + "/private/app",
		},
		{
			name:    "no credentials",
			wantErr: sourceerr.ErrUnauthorized,
			wantMsg: "requires credentials and no image credential Secret matches",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := client.Discover(context.Background(), s, tt.creds, 1)
			if tt.wantErr == nil {
				require.NoError(t, err)
				require.Equal(t, want, got[0].Digest)
				return
			}
			require.ErrorIs(t, err, tt.wantErr)
			require.ErrorContains(t, err, tt.wantMsg)
			require.NotContains(t, err.Error(), password)
			if tt.creds != nil {
				require.NotContains(t, err.Error(), tt.creds.Password)
			}
		})
	}
}

func TestDiscoverTLS(t *testing.T) {
	reg := registry.New(t, registry.Options{TLS: true})
	reg.PushImage(t, "app", "1.0.0", registry.Image{})

	untrusting := image.NewClient(image.Options{PerHostRate: rate.Inf, Egress: allowing(reg)})
	_, err := untrusting.Discover(context.Background(), sub(reg, "app", nil), nil, 1)
	require.ErrorIs(t, err, sourceerr.ErrUnreachable)
	require.ErrorContains(t, err, "certificate")

	got, err := untrusting.Discover(context.Background(), sub(reg, "app", func(s *kargoapi.ImageSubscription) {
		s.InsecureSkipTLSVerify = true
	}), nil, 1)
	require.NoError(t, err)
	require.Equal(t, "1.0.0", got[0].Tag)
}

func TestDiscoverRateLimited(t *testing.T) {
	reg := registry.New(t, registry.Options{})
	reg.PushImage(t, "app", "1.0.0", registry.Image{})
	var clock atomic.Pointer[time.Time]
	start := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	clock.Store(&start)
	now := func() time.Time { return *clock.Load() }
	client := newClient(reg, image.Options{Now: now})
	reg.Inject(registry.Fault{Status: http.StatusTooManyRequests, Header: http.Header{"Retry-After": {"30"}}, Times: 1})

	_, err := client.Discover(context.Background(), sub(reg, "app", nil), nil, 1)
	var rl *sourceerr.RateLimitedError
	require.ErrorAs(t, err, &rl)
	require.Equal(t, reg.Host(), rl.Host)
	require.Equal(t, start.Add(30*time.Second), rl.RetryAfter)

	// Until Retry-After passes, the registry is not contacted at all.
	seen := reg.Count(nil)
	_, err = client.Discover(context.Background(), sub(reg, "other", nil), nil, 1)
	require.ErrorAs(t, err, &rl)
	require.Equal(t, seen, reg.Count(nil))

	later := start.Add(31 * time.Second)
	clock.Store(&later)
	got, err := client.Discover(context.Background(), sub(reg, "app", nil), nil, 1)
	require.NoError(t, err)
	require.Equal(t, "1.0.0", got[0].Tag)
}

func TestDiscoverClassifiesFailures(t *testing.T) {
	reg := registry.New(t, registry.Options{})
	reg.PushImage(t, "app", "1.0.0", registry.Image{})

	closed := httptest.NewServer(http.NotFoundHandler())
	deadHost := closed.Listener.Addr().String()
	closed.Close()

	tests := []struct {
		name    string
		repoURL string
		fault   *registry.Fault
		wantErr error
	}{
		{name: "server error", repoURL: reg.Host() + "/app", fault: &registry.Fault{Status: http.StatusServiceUnavailable}, wantErr: sourceerr.ErrUnreachable},
		{name: "server error on the tag list only", repoURL: reg.Host() + "/app", fault: &registry.Fault{
			Status: http.StatusBadGateway, Match: func(r registry.Request) bool { return r.Kind == registry.KindTags },
		}, wantErr: sourceerr.ErrUnreachable},
		{name: "connection refused", repoURL: deadHost + "/app", wantErr: sourceerr.ErrUnreachable},
		{name: "repository missing", repoURL: reg.Host() + "/missing", wantErr: sourceerr.ErrNotFound},
		{name: "not an image reference", repoURL: "Not A Repo", wantErr: sourceerr.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg.ClearFaults()
			if tt.fault != nil {
				reg.Inject(*tt.fault)
			}
			client := newClient(reg, image.Options{Egress: egress.New(egress.Options{Allow: egress.MustParseRules(reg.Host(), deadHost)})})
			_, err := client.Discover(context.Background(), kargoapi.ImageSubscription{RepoURL: kargoapi.ImageRepoURL(tt.repoURL)}, nil, 1)
			require.ErrorIs(t, err, tt.wantErr)
		})
	}
}

// redirectTransport sends every request to reg over plain HTTP, recording
// the scheme and host the client meant to reach.
type redirectTransport struct {
	reg  *registry.Registry
	mu   sync.Mutex
	seen []string
	fail bool
}

func (rt *redirectTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	rt.mu.Lock()
	rt.seen = append(rt.seen, req.URL.Scheme+"://"+req.URL.Host+req.URL.Path)
	rt.mu.Unlock()
	if rt.fail {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	}
	out := req.Clone(req.Context())
	out.URL.Scheme, out.URL.Host, out.Host = "http", rt.reg.Host(), rt.reg.Host()
	// The registry is reached through the egress policy, allowed by
	// address and port like any test server.
	resp, err := allowing(rt.reg).Transport(nil).RoundTrip(out)
	if resp != nil {
		resp.Request = req
	}
	return resp, err
}

func TestDiscoverDockerHubShortNames(t *testing.T) {
	reg := registry.New(t, registry.Options{})
	want := reg.PushImage(t, "library/nginx", "1.27.0", registry.Image{})
	rt := &redirectTransport{reg: reg}
	client := image.NewClient(image.Options{Transport: rt, PerHostRate: rate.Inf})

	got, err := client.Discover(context.Background(), kargoapi.ImageSubscription{RepoURL: "nginx"}, nil, 1)
	require.NoError(t, err)
	require.Equal(t, []kargoapi.Image{{RepoURL: "nginx", Tag: "1.27.0", Digest: want}}, got)
	require.Contains(t, rt.seen, "https://index.docker.io/v2/library/nginx/tags/list")
}

func TestDiscoverNeverSendsCredentialsOverPlainHTTP(t *testing.T) {
	reg := registry.New(t, registry.Options{})
	tests := []struct {
		name    string
		creds   *credentials.Credentials
		wantErr error
	}{
		{name: "with credentials", creds: &credentials.Credentials{Username: "u", Password: "p4ssword"}, wantErr: sourceerr.ErrInsecureCredentials},
		{name: "anonymous", wantErr: sourceerr.ErrUnreachable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// go-containerregistry would fall back to http:// for a private
			// address once https:// fails; kargo must not.
			rt := &redirectTransport{reg: reg, fail: true}
			client := image.NewClient(image.Options{Transport: rt, PerHostRate: rate.Inf})
			_, err := client.Discover(context.Background(), kargoapi.ImageSubscription{RepoURL: "10.1.2.3:5000/app"}, tt.creds, 1)
			require.ErrorIs(t, err, tt.wantErr)
			for _, u := range rt.seen {
				require.True(t, strings.HasPrefix(u, "https://"), "plain request %s", u)
			}
		})
	}
}

func TestDiscoverRefusesAddressesThePolicyRefuses(t *testing.T) {
	reg := registry.New(t, registry.Options{})
	reg.PushImage(t, "app", "1.0.0", registry.Image{})

	// The registry is on loopback, which no rule allows.
	client := newClient(reg, image.Options{Egress: egress.New(egress.Options{})})
	_, err := client.Discover(context.Background(), sub(reg, "app", nil), nil, 1)
	require.ErrorIs(t, err, egress.ErrRefused)
	require.ErrorContains(t, err, "refused to connect to "+reg.Host()+": it is a loopback address")
	require.ErrorContains(t, err, "--allow-outbound="+reg.Host())
	require.Zero(t, reg.Count(nil), "the registry received a request")
}

func TestDiscoverBoundsWhatOneResponseMayCost(t *testing.T) {
	reg := registry.New(t, registry.Options{})
	// 2,000 tags make a first page of 1,000 tags of about 20 KiB.
	for i := range 2000 {
		reg.PushImage(t, "many", fmt.Sprintf("1.0.%d", i), registry.Image{})
	}
	client := newClient(reg, image.Options{MaxResponseBytes: 4 << 10})
	_, err := client.Discover(context.Background(), sub(reg, "many", nil), nil, 1)
	var tooLarge *egress.TooLargeError
	require.ErrorAs(t, err, &tooLarge)
	require.ErrorContains(t, err, "the registry's answer is larger than 4 KiB, more than kargo reads")
}
