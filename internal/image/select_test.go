package image

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kargohq/kargo/internal/sourceerr"
	"github.com/kargohq/kargo/internal/tagfilter"
)

func TestNewestVersions(t *testing.T) {
	tests := []struct {
		name       string
		tags       []string
		constraint string
		want       []string
	}{
		{
			name: "highest first, v prefix accepted",
			tags: []string{"1.2.3", "v1.10.0", "1.9.9"},
			want: []string{"v1.10.0", "1.9.9", "1.2.3"},
		},
		{
			name: "tags that are not full versions are ignored",
			tags: []string{"latest", "20240101", "1.2", "abc1234", "1.0.0", "sha256-0a1b.sig"},
			want: []string{"1.0.0"},
		},
		{
			name: "no constraint means releases only",
			tags: []string{"2.0.0-rc.1", "1.5.0"},
			want: []string{"1.5.0"},
		},
		{
			name:       "a constraint naming a pre-release admits pre-releases",
			tags:       []string{"2.0.0-rc.1", "2.0.0-rc.2", "1.5.0", "2.0.0"},
			constraint: ">=2.0.0-0",
			want:       []string{"2.0.0", "2.0.0-rc.2", "2.0.0-rc.1"},
		},
		{
			name:       "caret",
			tags:       []string{"1.23.9", "1.24.0", "1.24.7", "1.30.1", "2.0.0"},
			constraint: "^1.24.0",
			want:       []string{"1.30.1", "1.24.7", "1.24.0"},
		},
		{
			name:       "tilde",
			tags:       []string{"1.2.0", "1.2.9", "1.3.0"},
			constraint: "~1.2",
			want:       []string{"1.2.9", "1.2.0"},
		},
		{
			name:       "alternatives",
			tags:       []string{"1.0.0", "2.5.0", "3.0.0"},
			constraint: "^1.0 || ^2.0",
			want:       []string{"2.5.0", "1.0.0"},
		},
		{
			name: "equal versions are ordered by tag so the result is stable",
			tags: []string{"1.0.0+b", "v1.0.0", "1.0.0", "1.0.0+a"},
			want: []string{"v1.0.0", "1.0.0+b", "1.0.0+a", "1.0.0"},
		},
		{
			name:       "nothing qualifies",
			tags:       []string{"1.0.0"},
			constraint: ">=2",
			want:       []string{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseConstraint(tt.constraint)
			require.NoError(t, err)
			require.Equal(t, tt.want, NewestVersions(tt.tags, c))
		})
	}
}

func TestParseConstraintRefusesGarbage(t *testing.T) {
	_, err := ParseConstraint("not a range")
	require.ErrorIs(t, err, sourceerr.ErrInvalid)
}

func TestLexicalOrder(t *testing.T) {
	in := []string{"b", "a", "c10", "c9"}
	require.Equal(t, []string{"c9", "c10", "b", "a"}, lexicalOrder(in))
	require.Equal(t, []string{"b", "a", "c10", "c9"}, in, "the input is not reordered")
}

// tags10k mimics a busy repository: mostly versions, some pre-releases,
// build tags and branch names, in the lexical order registries list them.
func tags10k() []string {
	r := rand.New(rand.NewPCG(1, 2))
	tags := make([]string, 0, 10_000)
	for len(tags) < 10_000 {
		switch r.IntN(10) {
		case 0:
			tags = append(tags, fmt.Sprintf("sha-%07x", r.Uint32()))
		case 1:
			tags = append(tags, fmt.Sprintf("v%d.%d.%d-rc.%d", r.IntN(3), r.IntN(40), r.IntN(20), r.IntN(5)))
		case 2:
			tags = append(tags, fmt.Sprintf("v%d.%d.%d", r.IntN(3), r.IntN(40), r.IntN(20)))
		default:
			tags = append(tags, fmt.Sprintf("%d.%d.%d", r.IntN(3), r.IntN(40), r.IntN(20)))
		}
	}
	return lexicalOrder(tags)
}

func BenchmarkSemverSelection10kTags(b *testing.B) {
	tags := tags10k()
	c, err := ParseConstraint("^1.24.0")
	require.NoError(b, err)
	f, err := tagfilter.New(tagfilter.Spec{Allow: `^v?\d`, Ignore: []string{"1.24.3"}})
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		got := NewestVersions(f.Apply(tags), c)
		if len(got) == 0 {
			b.Fatal("nothing selected")
		}
	}
}
