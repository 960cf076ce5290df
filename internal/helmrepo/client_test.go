package helmrepo_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/credentials"
	"github.com/kargohq/kargo/internal/egress"
	"github.com/kargohq/kargo/internal/helmrepo"
	"github.com/kargohq/kargo/internal/sourceerr"
	"github.com/kargohq/kargo/internal/testutil/helmserver"
	"github.com/kargohq/kargo/internal/testutil/registry"
)

// newClient returns a client that may reach exactly hosts (test servers on
// loopback) and does not throttle.
func newClient(transport http.RoundTripper, hosts ...string) *helmrepo.Client {
	return helmrepo.NewClient(helmrepo.Options{Transport: transport, PerHostRate: rate.Inf, Egress: allowing(hosts...)})
}

func allowing(hosts ...string) *egress.Policy {
	return egress.New(egress.Options{Allow: egress.MustParseRules(hosts...)})
}

func versionsOf(charts []kargoapi.Chart) []string {
	var out []string
	for _, c := range charts {
		out = append(out, c.Version)
	}
	return out
}

func podinfoCharts() []helmserver.Chart {
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	var charts []helmserver.Chart
	// Created times deliberately disagree with version order: versions,
	// not upload times, decide.
	for i, v := range []string{"6.5.4", "7.0.0", "6.0.0", "6.6.0-rc.1", "5.9.9", "6.6.0"} {
		charts = append(charts, helmserver.Chart{Name: "podinfo", Version: v, Created: base.Add(time.Duration(-i) * time.Hour)})
	}
	return append(charts, helmserver.Chart{Name: "nginx", Version: "1.0.0"})
}

func TestDiscoverHTTP(t *testing.T) {
	yamlRepo := helmserver.New(t, helmserver.Options{})
	yamlRepo.SetCharts(podinfoCharts()...)
	jsonRepo := helmserver.New(t, helmserver.Options{Path: "/nested/repo"})
	jsonRepo.SetIndex(helmserver.BuildIndexJSON(podinfoCharts()))
	client := newClient(nil, yamlRepo.Host(), jsonRepo.Host())

	tests := []struct {
		name       string
		repoURL    string
		constraint kargoapi.SemverConstraint
		limit      int
		want       []string
	}{
		{name: "newest first, releases only", repoURL: yamlRepo.URL(), limit: 10, want: []string{"7.0.0", "6.6.0", "6.5.4", "6.0.0", "5.9.9"}},
		{name: "caret constraint", repoURL: yamlRepo.URL(), constraint: "^6.0.0", limit: 10, want: []string{"6.6.0", "6.5.4", "6.0.0"}},
		{name: "pre-releases when asked for", repoURL: yamlRepo.URL(), constraint: ">=6.6.0-0 <7", limit: 10, want: []string{"6.6.0", "6.6.0-rc.1"}},
		{name: "limit", repoURL: yamlRepo.URL(), limit: 2, want: []string{"7.0.0", "6.6.0"}},
		{name: "limit below one", repoURL: yamlRepo.URL(), limit: 0, want: []string{"7.0.0"}},
		{name: "trailing slash", repoURL: yamlRepo.URL() + "/", constraint: "~6.5", limit: 10, want: []string{"6.5.4"}},
		{name: "JSON index under a nested path", repoURL: jsonRepo.URL(), constraint: "<6", limit: 10, want: []string{"5.9.9"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sub := kargoapi.ChartSubscription{RepoURL: kargoapi.ChartRepoURL(tt.repoURL), Name: "podinfo", SemverConstraint: tt.constraint}
			got, err := client.Discover(context.Background(), sub, nil, tt.limit)
			require.NoError(t, err)
			require.Equal(t, tt.want, versionsOf(got))
			for _, c := range got {
				require.Equal(t, tt.repoURL, c.RepoURL)
				require.Equal(t, "podinfo", c.Name)
			}
		})
	}
}

func TestDiscoverHTTPFailures(t *testing.T) {
	tests := []struct {
		name       string
		setup      func(*helmserver.Server)
		sub        func(base string) kargoapi.ChartSubscription
		creds      *credentials.Credentials
		wantErr    error
		wantReason string
		wantMsg    string
		notMsg     string
	}{
		{
			name: "chart not in the index",
			sub: func(base string) kargoapi.ChartSubscription {
				return kargoapi.ChartSubscription{RepoURL: kargoapi.ChartRepoURL(base), Name: "redis"}
			},
			wantErr: sourceerr.ErrNotFound,
			wantMsg: `lists 2 charts but not "redis"`,
		},
		{
			name: "nothing satisfies the constraint",
			sub: func(base string) kargoapi.ChartSubscription {
				return kargoapi.ChartSubscription{RepoURL: kargoapi.ChartRepoURL(base), Name: "podinfo", SemverConstraint: "^8.0.0"}
			},
			wantErr: sourceerr.ErrNoMatch,
			wantMsg: `none of its 6 versions is a version satisfying semverConstraint "^8.0.0"`,
		},
		{
			name:  "malformed index",
			setup: func(s *helmserver.Server) { s.SetIndex([]byte("apiVersion: v1\nentries:\n  podinfo: [\n")) },
			sub: func(base string) kargoapi.ChartSubscription {
				return kargoapi.ChartSubscription{RepoURL: kargoapi.ChartRepoURL(base), Name: "podinfo"}
			},
			wantReason: "DiscoveryFailed",
			wantMsg:    "/charts/index.yaml is not a valid Helm repository index",
		},
		{
			name:  "a web page instead of an index",
			setup: func(s *helmserver.Server) { s.SetIndex([]byte("<html><body>Sign in</body></html>")) },
			sub: func(base string) kargoapi.ChartSubscription {
				return kargoapi.ChartSubscription{RepoURL: kargoapi.ChartRepoURL(base), Name: "podinfo"}
			},
			wantReason: "DiscoveryFailed",
			wantMsg:    "is not a valid Helm repository index",
		},
		{
			name:  "YAML that is not an index",
			setup: func(s *helmserver.Server) { s.SetIndex([]byte("kind: ConfigMap\n")) },
			sub: func(base string) kargoapi.ChartSubscription {
				return kargoapi.ChartSubscription{RepoURL: kargoapi.ChartRepoURL(base), Name: "podinfo"}
			},
			wantReason: "DiscoveryFailed",
			wantMsg:    "it has no apiVersion",
		},
		{
			name:  "server error",
			setup: func(s *helmserver.Server) { s.Inject(helmserver.Fault{Status: http.StatusBadGateway}) },
			sub: func(base string) kargoapi.ChartSubscription {
				return kargoapi.ChartSubscription{RepoURL: kargoapi.ChartRepoURL(base), Name: "podinfo"}
			},
			wantErr: sourceerr.ErrUnreachable,
			wantMsg: "answered 502",
		},
		{
			name: "not a chart repository",
			sub: func(base string) kargoapi.ChartSubscription {
				return kargoapi.ChartSubscription{RepoURL: kargoapi.ChartRepoURL(base + "/elsewhere"), Name: "podinfo"}
			},
			wantErr: sourceerr.ErrNotFound,
			wantMsg: "no index.yaml there",
		},
		{
			name: "credentials in the URL",
			sub: func(string) kargoapi.ChartSubscription {
				return kargoapi.ChartSubscription{RepoURL: "https://user:hunter22@charts.example.com/stable", Name: "podinfo"}
			},
			wantErr: sourceerr.ErrInvalid,
			wantMsg: "must not contain credentials",
			notMsg:  "hunter22",
		},
		{
			name: "credentials over plain http to another machine",
			sub: func(string) kargoapi.ChartSubscription {
				return kargoapi.ChartSubscription{RepoURL: "http://charts.example.com/stable", Name: "podinfo"}
			},
			creds:   &credentials.Credentials{Username: "u", Password: "hunter22"},
			wantErr: sourceerr.ErrInsecureCredentials,
			notMsg:  "hunter22",
		},
		{
			name: "name missing",
			sub: func(base string) kargoapi.ChartSubscription {
				return kargoapi.ChartSubscription{RepoURL: kargoapi.ChartRepoURL(base)}
			},
			wantErr: sourceerr.ErrInvalid,
		},
		{
			name: "unusable constraint",
			sub: func(base string) kargoapi.ChartSubscription {
				return kargoapi.ChartSubscription{RepoURL: kargoapi.ChartRepoURL(base), Name: "podinfo", SemverConstraint: "nope"}
			},
			wantErr: sourceerr.ErrInvalid,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := helmserver.New(t, helmserver.Options{})
			srv.SetCharts(podinfoCharts()...)
			if tt.setup != nil {
				tt.setup(srv)
			}
			base := allowing(srv.Host()).Transport(nil)
			client := helmrepo.NewClient(helmrepo.Options{
				PerHostRate: rate.Inf,
				Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
					if r.URL.Host != srv.Host() {
						return nil, errors.New("the test expected no request to " + r.URL.Host)
					}
					return base.RoundTrip(r)
				}),
			})
			_, err := client.Discover(context.Background(), tt.sub(srv.URL()), tt.creds, 1)
			require.Error(t, err)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
			}
			if tt.wantReason != "" {
				require.Equal(t, tt.wantReason, sourceerr.Reason(err), "error: %v", err)
			}
			require.ErrorContains(t, err, tt.wantMsg)
			if tt.notMsg != "" {
				require.NotContains(t, err.Error(), tt.notMsg)
			}
		})
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestDiscoverHTTPRateLimited(t *testing.T) {
	repo := helmserver.New(t, helmserver.Options{})
	repo.SetCharts(podinfoCharts()...)
	repo.Inject(helmserver.Fault{Status: http.StatusTooManyRequests, Header: http.Header{"Retry-After": {"60"}}, Times: 1})
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	client := helmrepo.NewClient(helmrepo.Options{PerHostRate: rate.Inf, Now: func() time.Time { return now }, Egress: allowing(repo.Host())})
	sub := kargoapi.ChartSubscription{RepoURL: kargoapi.ChartRepoURL(repo.URL()), Name: "podinfo"}

	_, err := client.Discover(context.Background(), sub, nil, 1)
	var rl *sourceerr.RateLimitedError
	require.ErrorAs(t, err, &rl)
	require.Equal(t, now.Add(time.Minute), rl.RetryAfter)

	_, err = client.Discover(context.Background(), sub, nil, 1)
	require.ErrorAs(t, err, &rl)
	require.Equal(t, 1, repo.Count(nil), "no request while the repository asks to wait")

	now = now.Add(2 * time.Minute)
	got, err := client.Discover(context.Background(), sub, nil, 1)
	require.NoError(t, err)
	require.Equal(t, []string{"7.0.0"}, versionsOf(got))
}

func TestIndexIsCachedByValidators(t *testing.T) {
	tests := []struct {
		name         string
		noValidators bool
		wantSecond   int
	}{
		{name: "ETag: an unchanged index is not downloaded again", wantSecond: http.StatusNotModified},
		{name: "no validators: an unchanged index is not parsed again", noValidators: true, wantSecond: http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			repo := helmserver.New(t, helmserver.Options{NoValidators: tt.noValidators})
			repo.SetCharts(podinfoCharts()...)
			client := newClient(nil, repo.Host())
			sub := kargoapi.ChartSubscription{RepoURL: kargoapi.ChartRepoURL(repo.URL()), Name: "podinfo"}

			first, err := client.Discover(context.Background(), sub, nil, 3)
			require.NoError(t, err)
			require.EqualValues(t, 1, client.Parses())

			second, err := client.Discover(context.Background(), sub, nil, 3)
			require.NoError(t, err)
			require.Equal(t, first, second)
			require.EqualValues(t, 1, client.Parses(), "an unchanged index is not parsed again")
			reqs := repo.Requests()
			require.Len(t, reqs, 2)
			require.Equal(t, tt.wantSecond, reqs[1].Status)
			require.Equal(t, !tt.noValidators, reqs[1].Conditional)

			repo.SetCharts(append(podinfoCharts(), helmserver.Chart{Name: "podinfo", Version: "7.1.0"})...)
			third, err := client.Discover(context.Background(), sub, nil, 1)
			require.NoError(t, err)
			require.Equal(t, []string{"7.1.0"}, versionsOf(third), "a changed index is read again")
			require.EqualValues(t, 2, client.Parses())
		})
	}
}

func TestDiscoverHTTPAuthentication(t *testing.T) {
	const password = "chart-repo-password"
	repo := helmserver.New(t, helmserver.Options{Username: "kargo", Password: password, TLS: true})
	repo.SetCharts(podinfoCharts()...)
	client := newClient(repo.Transport(), repo.Host())
	sub := kargoapi.ChartSubscription{RepoURL: kargoapi.ChartRepoURL(repo.URL()), Name: "podinfo"}

	tests := []struct {
		name    string
		creds   *credentials.Credentials
		wantErr error
		wantMsg string
	}{
		{name: "right password", creds: &credentials.Credentials{Username: "kargo", Password: password}},
		{
			name:    "wrong password after a successful poll with the right one",
			creds:   &credentials.Credentials{Username: "kargo", Password: "not-the-password"},
			wantErr: sourceerr.ErrUnauthorized,
			wantMsg: "check the username and password of the helm credential Secret for " + repo.URL(),
		},
		{name: "no credentials", wantErr: sourceerr.ErrUnauthorized, wantMsg: "no helm credential Secret matches"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := client.Discover(context.Background(), sub, tt.creds, 1)
			if tt.wantErr == nil {
				require.NoError(t, err)
				require.Equal(t, []string{"7.0.0"}, versionsOf(got))
				return
			}
			require.ErrorIs(t, err, tt.wantErr)
			require.ErrorContains(t, err, tt.wantMsg)
			require.NotContains(t, err.Error(), password)
		})
	}
}

func TestDiscoverOCI(t *testing.T) {
	reg := registry.New(t, registry.Options{})
	for _, v := range []string{"1.0.0", "1.1.0+build.5", "1.2.0-rc.1", "2.0.0"} {
		helmserver.PushOCIChart(t, reg, "charts/podinfo", "podinfo", v)
	}
	reg.Tag(t, "charts/podinfo", "2.0.0", "latest")
	client := newClient(reg.Transport(), reg.Host())
	repoURL := kargoapi.ChartRepoURL("oci://" + reg.Host() + "/charts/podinfo")

	tests := []struct {
		name       string
		repoURL    kargoapi.ChartRepoURL
		constraint kargoapi.SemverConstraint
		want       []string
		wantErr    error
	}{
		{name: "newest first; build metadata restored from _", repoURL: repoURL, want: []string{"2.0.0", "1.1.0+build.5", "1.0.0"}},
		{name: "constraint", repoURL: repoURL, constraint: "^1.0.0", want: []string{"1.1.0+build.5", "1.0.0"}},
		{name: "pre-release when asked for", repoURL: repoURL, constraint: ">=1.2.0-0 <2", want: []string{"1.2.0-rc.1"}},
		{name: "nothing satisfies", repoURL: repoURL, constraint: "^3", wantErr: sourceerr.ErrNoMatch},
		{name: "no such chart", repoURL: kargoapi.ChartRepoURL("oci://" + reg.Host() + "/charts/missing"), wantErr: sourceerr.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := client.Discover(context.Background(), kargoapi.ChartSubscription{RepoURL: tt.repoURL, SemverConstraint: tt.constraint}, nil, 10)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, versionsOf(got))
			for _, c := range got {
				require.Equal(t, string(tt.repoURL), c.RepoURL)
				require.Empty(t, c.Name)
			}
		})
	}
}

func TestDiscoverOCIAuthentication(t *testing.T) {
	const password = "oci-chart-password"
	reg := registry.New(t, registry.Options{Username: "kargo", Password: password})
	helmserver.PushOCIChart(t, reg, "charts/podinfo", "podinfo", "1.0.0")
	client := newClient(reg.Transport(), reg.Host())
	sub := kargoapi.ChartSubscription{RepoURL: kargoapi.ChartRepoURL("oci://" + reg.Host() + "/charts/podinfo")}

	got, err := client.Discover(context.Background(), sub, &credentials.Credentials{Username: "kargo", Password: password}, 1)
	require.NoError(t, err)
	require.Equal(t, []string{"1.0.0"}, versionsOf(got))

	_, err = client.Discover(context.Background(), sub, &credentials.Credentials{Username: "kargo", Password: "wrong-password"}, 1)
	require.ErrorIs(t, err, sourceerr.ErrUnauthorized)
	require.ErrorContains(t, err, "helm credential Secret")
	require.NotContains(t, err.Error(), password)
}

func TestDiscoverHTTPConnectionRefused(t *testing.T) {
	closed := helmserver.New(t, helmserver.Options{})
	url, host := closed.URL(), closed.Host()
	closed.Close()
	_, err := newClient(nil, host).Discover(context.Background(), kargoapi.ChartSubscription{RepoURL: kargoapi.ChartRepoURL(url), Name: "podinfo"}, nil, 1)
	require.ErrorIs(t, err, sourceerr.ErrUnreachable)
}

func TestDiscoverRefusesAddressesThePolicyRefuses(t *testing.T) {
	repo := helmserver.New(t, helmserver.Options{})
	repo.SetCharts(podinfoCharts()...)
	reg := registry.New(t, registry.Options{})
	helmserver.PushOCIChart(t, reg, "charts/podinfo", "podinfo", "6.5.4")
	client := newClient(reg.Transport()) // allows nothing

	tests := []struct {
		name    string
		repoURL string
		want    string
	}{
		{name: "index on loopback", repoURL: repo.URL(), want: "refused to connect to " + repo.Host() + ": it is a loopback address"},
		{name: "OCI chart on loopback", repoURL: "oci://" + reg.Host() + "/charts/podinfo", want: "refused to connect to " + reg.Host() + ": it is a loopback address"},
		{name: "index on the metadata address", repoURL: "http://169.254.169.254/latest/meta-data/", want: "refused to connect to 169.254.169.254:80: it is a cloud metadata address"},
		{name: "index on a private address", repoURL: "https://10.0.0.1/charts", want: "refused to connect to 10.0.0.1:443: it is a private address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sub := kargoapi.ChartSubscription{RepoURL: kargoapi.ChartRepoURL(tt.repoURL), Name: "podinfo"}
			if strings.HasPrefix(tt.repoURL, "oci://") {
				sub.Name = ""
			}
			_, err := client.Discover(context.Background(), sub, nil, 1)
			require.ErrorIs(t, err, egress.ErrRefused)
			require.ErrorContains(t, err, tt.want)
			require.Equal(t, "AddressRefused", sourceerr.Reason(err))
		})
	}
	require.Zero(t, repo.Count(nil), "the chart repository received a request")
	require.Zero(t, reg.Count(nil), "the registry received a request")
}

func TestIndexLargerThanTheLimitIsRefused(t *testing.T) {
	repo := helmserver.New(t, helmserver.Options{})
	repo.SetIndex(helmrepo.BigIndex(100))
	sub := kargoapi.ChartSubscription{RepoURL: kargoapi.ChartRepoURL(repo.URL()), Name: "chart-01"}
	client := helmrepo.NewClient(helmrepo.Options{
		PerHostRate: rate.Inf, Egress: allowing(repo.Host()),
		MaxIndexBytes: 1 << 20, MaxIndexHint: "raise it with --max-helm-index-size",
	})
	_, err := client.Discover(context.Background(), sub, nil, 1)
	require.ErrorContains(t, err, "index.yaml is larger than 1 MiB, more than kargo reads; raise it with --max-helm-index-size")
	require.Equal(t, "TooLarge", sourceerr.Reason(err))

	client = helmrepo.NewClient(helmrepo.Options{PerHostRate: rate.Inf, Egress: allowing(repo.Host()), MaxIndexBytes: 2 << 20})
	got, err := client.Discover(context.Background(), sub, nil, 1)
	require.NoError(t, err)
	require.Equal(t, []string{"0.9.9"}, versionsOf(got))
}
