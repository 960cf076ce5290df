package git

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/sourceerr"
)

func tagList(names ...string) []tagRef {
	out := make([]tagRef, len(names))
	for i, n := range names {
		out[i] = tagRef{name: n, commit: fmt.Sprintf("%040d", i), date: int64(1000 + i), version: parseTagVersion(n)}
	}
	return out
}

func names(tags []*tagRef) []string {
	out := make([]string, len(tags))
	for i, t := range tags {
		out[i] = t.name
	}
	return out
}

func TestParseTagVersion(t *testing.T) {
	for name, want := range map[string]string{
		"1.2.3": "1.2.3", "v1.2.3": "1.2.3", "v1.2.3-rc.1+build.5": "1.2.3-rc.1+build.5",
		"1.2": "", "v7": "", "20240101": "", "release-1.2.3": "", "V1.2.3": "", "vv1.2.3": "", "01.2.3": "",
	} {
		t.Run(name, func(t *testing.T) {
			v := parseTagVersion(name)
			if want == "" {
				require.Nil(t, v)
				return
			}
			require.NotNil(t, v)
			require.Equal(t, want, v.String())
		})
	}
}

func TestSelectTags(t *testing.T) {
	// Listed by name, as for-each-ref lists them; dated in this order.
	all := tagList("v1.0.0", "v1.10.0", "v1.2.0", "1.2.0", "v2.0.0-beta.1", "latest", "v0.9.0")
	tests := []struct {
		name    string
		sub     kargoapi.GitSubscription
		limit   int
		want    []string
		wantErr error
	}{
		{name: "semver", sub: kargoapi.GitSubscription{CommitSelectionStrategy: kargoapi.CommitSelectionSemVer}, limit: 10,
			want: []string{"v2.0.0-beta.1", "v1.10.0", "v1.2.0", "1.2.0", "v1.0.0", "v0.9.0"}},
		{name: "semver top one", sub: kargoapi.GitSubscription{CommitSelectionStrategy: kargoapi.CommitSelectionSemVer}, limit: 1,
			want: []string{"v2.0.0-beta.1"}},
		{name: "equal versions tie-break by name", sub: kargoapi.GitSubscription{CommitSelectionStrategy: kargoapi.CommitSelectionSemVer, SemverConstraint: "1.2.0"}, limit: 2,
			want: []string{"v1.2.0", "1.2.0"}},
		{name: "constraint", sub: kargoapi.GitSubscription{CommitSelectionStrategy: kargoapi.CommitSelectionSemVer, SemverConstraint: ">=1.0.0 <1.5.0"}, limit: 10,
			want: []string{"v1.2.0", "1.2.0", "v1.0.0"}},
		{name: "lexical", sub: kargoapi.GitSubscription{CommitSelectionStrategy: kargoapi.CommitSelectionLexical}, limit: 3,
			want: []string{"v2.0.0-beta.1", "v1.2.0", "v1.10.0"}},
		{name: "lexical keeps non-semver tags", sub: kargoapi.GitSubscription{CommitSelectionStrategy: kargoapi.CommitSelectionLexical, AllowTags: "^l"}, limit: 3,
			want: []string{"latest"}},
		{name: "newest", sub: kargoapi.GitSubscription{CommitSelectionStrategy: kargoapi.CommitSelectionNewestTag}, limit: 2,
			want: []string{"v0.9.0", "latest"}},
		{name: "newest within constraint", sub: kargoapi.GitSubscription{CommitSelectionStrategy: kargoapi.CommitSelectionNewestTag, SemverConstraint: "^1"}, limit: 2,
			want: []string{"1.2.0", "v1.2.0"}},
		{name: "ignore", sub: kargoapi.GitSubscription{CommitSelectionStrategy: kargoapi.CommitSelectionSemVer, IgnoreTags: []string{"v2.0.0-beta.1", "v1.10.0"}}, limit: 1,
			want: []string{"v1.2.0"}},
		{name: "allow is unanchored", sub: kargoapi.GitSubscription{CommitSelectionStrategy: kargoapi.CommitSelectionSemVer, AllowTags: `\.0\.0$`}, limit: 5,
			want: []string{"v1.0.0"}},
		{name: "nothing matches", sub: kargoapi.GitSubscription{CommitSelectionStrategy: kargoapi.CommitSelectionSemVer, SemverConstraint: ">=3"}, limit: 1,
			wantErr: sourceerr.ErrNoMatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sel, err := newSelector(tt.sub)
			require.NoError(t, err)
			got, err := selectTags(slices.Clone(all), sel, tt.limit)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, names(got))
		})
	}
}

// TestTopKAgreesWithSort checks the partial selection against a full sort
// on random input, for every k around the switch between the two.
func TestTopKAgreesWithSort(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var tags []tagRef
	for range 500 {
		tags = append(tags, tagRef{name: fmt.Sprintf("t%d", r.IntN(400)), date: int64(r.IntN(50))})
	}
	better := func(a, b *tagRef) int {
		if a.date != b.date {
			return int(b.date - a.date)
		}
		return strings.Compare(b.name, a.name)
	}
	ptrs := func() []*tagRef {
		out := make([]*tagRef, len(tags))
		for i := range tags {
			out[i] = &tags[i]
		}
		return out
	}
	want := ptrs()
	slices.SortStableFunc(want, better)
	for _, k := range []int{1, 2, 5, 63, 64, 65, 499, 500, 600} {
		t.Run(fmt.Sprint(k), func(t *testing.T) {
			got := topK(ptrs(), k, better)
			require.Len(t, got, min(k, len(tags)))
			for i := range got {
				require.Equal(t, 0, better(want[i], got[i]), "position %d", i)
			}
		})
	}
}

func TestNewSelectorInvalid(t *testing.T) {
	tests := []struct {
		name string
		sub  kargoapi.GitSubscription
		text string
	}{
		{name: "unknown strategy", sub: kargoapi.GitSubscription{CommitSelectionStrategy: "Newest"}, text: "commitSelectionStrategy"},
		{name: "bad constraint", sub: kargoapi.GitSubscription{CommitSelectionStrategy: kargoapi.CommitSelectionSemVer, SemverConstraint: "> one"}, text: "semverConstraint"},
		{name: "bad allowTags", sub: kargoapi.GitSubscription{CommitSelectionStrategy: kargoapi.CommitSelectionSemVer, AllowTags: "(?<name>x)("}, text: "allowTags"},
		{name: "bad includePaths", sub: kargoapi.GitSubscription{IncludePaths: []string{"regex:+"}}, text: "includePaths"},
		{name: "paths with tags", sub: kargoapi.GitSubscription{CommitSelectionStrategy: kargoapi.CommitSelectionLexical, ExcludePaths: []string{"docs/"}}, text: "NewestFromBranch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := newSelector(tt.sub)
			require.ErrorIs(t, err, sourceerr.ErrInvalid)
			require.True(t, sourceerr.Terminal(err))
			require.ErrorContains(t, err, tt.text)
		})
	}
}
