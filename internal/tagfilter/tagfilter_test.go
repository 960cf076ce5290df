package tagfilter

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kargohq/kargo/internal/sourceerr"
)

func TestFilter(t *testing.T) {
	tests := []struct {
		name     string
		spec     Spec
		tags     []string
		want     []string
		describe string
	}{
		{name: "no filters", tags: []string{"a", "b"}, want: []string{"a", "b"}},
		{name: "allow is a search, not a full match", spec: Spec{Allow: `^v1\.`}, tags: []string{"v1.0", "v2.0", "xv1.0"}, want: []string{"v1.0"},
			describe: `matches allowTags "^v1\\."`},
		{name: "ignore is exact", spec: Spec{Ignore: []string{"v1"}}, tags: []string{"v1", "v10"}, want: []string{"v10"}},
		{name: "both", spec: Spec{Allow: "^v", Ignore: []string{"v2"}}, tags: []string{"v1", "v2", "x"}, want: []string{"v1"},
			describe: `matches allowTags "^v" and is not in ignoreTags ["v2"]`},
		{name: "allowTagsRegexes: any one", spec: Spec{AllowRegexes: []string{`^nightly-`, `^v\d`}}, tags: []string{"nightly-1", "v2", "rc"}, want: []string{"nightly-1", "v2"}},
		{name: "ignoreTagsRegexes: any one", spec: Spec{IgnoreRegexes: []string{`-rc`, `^sha-`}}, tags: []string{"v1", "v2-rc.1", "sha-abc"}, want: []string{"v1"}},
		{name: "allowTags and allowTagsRegexes must both hold", spec: Spec{Allow: `^v`, AllowRegexes: []string{`1$`}}, tags: []string{"v1", "v2", "x1"}, want: []string{"v1"}},
		{name: "ignore wins over allow", spec: Spec{AllowRegexes: []string{`^v`}, IgnoreRegexes: []string{`^v2`}}, tags: []string{"v1", "v2"}, want: []string{"v1"},
			describe: `matches one of allowTagsRegexes ["^v"] and matches none of ignoreTagsRegexes ["^v2"]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := New(tt.spec)
			require.NoError(t, err)
			require.Equal(t, tt.want, f.Apply(tt.tags))
			if tt.describe != "" {
				require.Equal(t, tt.describe, f.Describe())
			}
		})
	}
}

func TestBadExpressionsNameTheirField(t *testing.T) {
	for spec, field := range map[*Spec]string{
		{Allow: "("}:                        "allowTags",
		{AllowRegexes: []string{"ok", "["}}: "allowTagsRegexes[1]",
		{IgnoreRegexes: []string{"(?P<x"}}:  "ignoreTagsRegexes[0]",
	} {
		_, err := New(*spec)
		require.ErrorIs(t, err, sourceerr.ErrInvalid)
		require.Contains(t, err.Error(), field)
	}
}
