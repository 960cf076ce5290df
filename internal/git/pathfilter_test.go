package git

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kargohq/kargo/internal/sourceerr"
)

func TestCompilePathFilter(t *testing.T) {
	tests := []struct {
		entry   string
		match   []string
		noMatch []string
	}{
		{entry: "apps/web/", match: []string{"apps/web/values.yaml", "apps/web/a/b/c"}, noMatch: []string{"apps/website/x", "apps/api/web/x"}},
		{entry: "apps/web", match: []string{"apps/web/x", "apps/website/x"}},
		{entry: "./apps/web/", match: []string{"apps/web/x"}},
		{entry: "apps/*/values.yaml", match: []string{"apps/web/values.yaml", "apps/api/values.yaml"}, noMatch: []string{"apps/web/dev/values.yaml", "apps/values.yaml"}},
		{entry: "apps/*", match: []string{"apps/web", "apps/web/values.yaml", "apps/web/a/b"}, noMatch: []string{"docs/apps/web"}},
		{entry: "*.md", match: []string{"README.md"}, noMatch: []string{"docs/guide.md"}},
		{entry: "glob:apps/web", match: []string{"apps/web/x"}, noMatch: []string{"apps/website/x"}},
		{entry: "apps/[wa]*/values.yaml", match: []string{"apps/web/values.yaml", "apps/api/values.yaml"}, noMatch: []string{"apps/db/values.yaml"}},
		{entry: "regex:^apps/(web|api)/", match: []string{"apps/web/x", "apps/api/y"}, noMatch: []string{"apps/db/z", "x/apps/web/"}},
		{entry: "regexp:\\.ya?ml$", match: []string{"a/b.yaml", "c.yml"}, noMatch: []string{"yaml.txt"}},
		{entry: "regex:values", match: []string{"apps/web/values.yaml"}, noMatch: []string{"apps/web/chart.yaml"}},
	}
	for _, tt := range tests {
		t.Run(tt.entry, func(t *testing.T) {
			m, err := compilePathFilter("includePaths", tt.entry)
			require.NoError(t, err)
			for _, f := range tt.match {
				require.True(t, m(f), "%s should match %s", tt.entry, f)
			}
			for _, f := range tt.noMatch {
				require.False(t, m(f), "%s should not match %s", tt.entry, f)
			}
		})
	}
}

func TestCompilePathFilterInvalid(t *testing.T) {
	for _, entry := range []string{"regex:(", "regexp:a[", "apps/[web", "glob:[", "", "/"} {
		t.Run(entry, func(t *testing.T) {
			_, err := compilePathFilter("excludePaths", entry)
			require.ErrorIs(t, err, sourceerr.ErrInvalid)
			require.ErrorContains(t, err, "excludePaths")
		})
	}
}

func TestPathFilterMatches(t *testing.T) {
	tests := []struct {
		name             string
		include, exclude []string
		files            []string
		want             bool
	}{
		{name: "included file", include: []string{"apps/"}, files: []string{"apps/a"}, want: true},
		{name: "no included file", include: []string{"apps/"}, files: []string{"docs/a", "README.md"}, want: false},
		{name: "only excluded files", exclude: []string{"docs/"}, files: []string{"docs/a", "docs/b"}, want: false},
		{name: "one file outside the excludes", exclude: []string{"docs/"}, files: []string{"docs/a", "main.go"}, want: true},
		{name: "included but excluded", include: []string{"apps/"}, exclude: []string{"apps/web/docs/"}, files: []string{"apps/web/docs/a"}, want: false},
		{name: "included and not excluded among others", include: []string{"apps/"}, exclude: []string{"*.md"}, files: []string{"x.md", "apps/web/v.yaml"}, want: true},
		{name: "no files", exclude: []string{"docs/"}, files: nil, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := newPathFilter(tt.include, tt.exclude)
			require.NoError(t, err)
			require.Equal(t, tt.want, f.matches(tt.files))
		})
	}
}

func TestPathsMatch(t *testing.T) {
	for name, tc := range map[string]struct {
		include, exclude, files []string
		want                    bool
	}{
		"no filters":             {nil, nil, []string{"README.md"}, true},
		"included":               {[]string{"apps/web/"}, nil, []string{"docs/a.md", "apps/web/main.go"}, true},
		"not included":           {[]string{"apps/web/"}, nil, []string{"apps/api/main.go"}, false},
		"all excluded":           {nil, []string{"docs/*"}, []string{"docs/a.md"}, false},
		"glob":                   {[]string{"apps/*"}, nil, []string{"apps/web/x/y.go"}, true},
		"bad filter refreshes":   {[]string{"regex:("}, nil, []string{"x"}, true},
		"no files with a filter": {[]string{"apps/"}, nil, nil, false},
	} {
		t.Run(name, func(t *testing.T) {
			require.Equal(t, tc.want, PathsMatch(tc.include, tc.exclude, tc.files))
		})
	}
}
