package git

import (
	"fmt"
	"sort"
	"strings"

	"github.com/Masterminds/semver/v3"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/sourceerr"
	"github.com/kargohq/kargo/internal/tagfilter"
)

// selector is a subscription compiled once per Discover call, so that an
// unusable spec fails before any network operation.
type selector struct {
	strategy   kargoapi.CommitSelectionStrategy
	branch     string
	constraint *semver.Constraints
	tags       tagfilter.Filter
	paths      *pathFilter
	// key identifies the selection (everything but the repository), for
	// sharing results among subscribers of one mirror.
	key string
	sub kargoapi.GitSubscription
}

func newSelector(sub kargoapi.GitSubscription) (*selector, error) {
	s := &selector{strategy: sub.CommitSelectionStrategy, branch: string(sub.Branch), sub: sub}
	if s.strategy == "" {
		s.strategy = kargoapi.CommitSelectionNewestFromBranch
	}
	switch s.strategy {
	case kargoapi.CommitSelectionNewestFromBranch:
	case kargoapi.CommitSelectionSemVer, kargoapi.CommitSelectionLexical, kargoapi.CommitSelectionNewestTag:
		if len(sub.IncludePaths) > 0 || len(sub.ExcludePaths) > 0 {
			return nil, fmt.Errorf("commitSelectionStrategy %s: %w: includePaths and excludePaths apply only to NewestFromBranch", s.strategy, sourceerr.ErrInvalid)
		}
	default:
		return nil, fmt.Errorf("commitSelectionStrategy %q: %w: use NewestFromBranch, SemVer, Lexical or NewestTag", s.strategy, sourceerr.ErrInvalid)
	}
	if sub.SemverConstraint != "" {
		c, err := semver.NewConstraint(string(sub.SemverConstraint))
		if err != nil {
			return nil, fmt.Errorf("semverConstraint %q: %w: %v", sub.SemverConstraint, sourceerr.ErrInvalid, err)
		}
		s.constraint = c
	}
	tags, err := tagfilter.New(tagfilter.Spec{Allow: sub.AllowTags, AllowRegexes: sub.AllowTagsRegexes, Ignore: sub.IgnoreTags, IgnoreRegexes: sub.IgnoreTagsRegexes})
	if err != nil {
		return nil, err
	}
	s.tags = tags
	paths, err := newPathFilter(sub.IncludePaths, sub.ExcludePaths)
	if err != nil {
		return nil, err
	}
	s.paths = paths
	ignore := append([]string(nil), sub.IgnoreTags...)
	sort.Strings(ignore)
	s.key = fmt.Sprintf("%s\x00%s\x00%s\x00%s\x00%q\x00%q\x00%q\x00%q\x00%q",
		s.strategy, s.branch, sub.SemverConstraint, sub.AllowTags, ignore, sub.IncludePaths, sub.ExcludePaths, sub.AllowTagsRegexes, sub.IgnoreTagsRegexes)
	return s, nil
}

// describeTagFilters names the constraints that tags must satisfy, for a
// NoMatch message.
func (s *selector) describeTagFilters() string {
	var parts []string
	if s.strategy == kargoapi.CommitSelectionSemVer || s.constraint != nil {
		parts = append(parts, "is a semantic version (such as v1.2.3)")
	}
	if s.constraint != nil {
		parts = append(parts, fmt.Sprintf("satisfies semverConstraint %q", s.sub.SemverConstraint))
	}
	if d := s.tags.Describe(); d != "" {
		parts = append(parts, d)
	}
	if len(parts) == 0 {
		return "exists"
	}
	return strings.Join(parts, " and ")
}
