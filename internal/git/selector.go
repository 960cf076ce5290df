package git

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/Masterminds/semver/v3"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/sourceerr"
)

// selector is a subscription compiled once per Discover call, so that an
// unusable spec fails before any network operation.
type selector struct {
	strategy   kargoapi.CommitSelectionStrategy
	branch     string
	constraint *semver.Constraints
	allow      *regexp.Regexp
	ignore     map[string]struct{}
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
	if sub.AllowTags != "" {
		re, err := regexp.Compile(sub.AllowTags)
		if err != nil {
			return nil, fmt.Errorf("allowTags %q: %w: not a regular expression: %v", sub.AllowTags, sourceerr.ErrInvalid, err)
		}
		s.allow = re
	}
	if len(sub.IgnoreTags) > 0 {
		s.ignore = make(map[string]struct{}, len(sub.IgnoreTags))
		for _, t := range sub.IgnoreTags {
			s.ignore[t] = struct{}{}
		}
	}
	paths, err := newPathFilter(sub.IncludePaths, sub.ExcludePaths)
	if err != nil {
		return nil, err
	}
	s.paths = paths
	ignore := append([]string(nil), sub.IgnoreTags...)
	sort.Strings(ignore)
	s.key = fmt.Sprintf("%s\x00%s\x00%s\x00%s\x00%q\x00%q\x00%q",
		s.strategy, s.branch, sub.SemverConstraint, sub.AllowTags, ignore, sub.IncludePaths, sub.ExcludePaths)
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
	if s.allow != nil {
		parts = append(parts, fmt.Sprintf("matches allowTags %q", s.sub.AllowTags))
	}
	if len(s.ignore) > 0 {
		parts = append(parts, fmt.Sprintf("is not in ignoreTags %q", s.sub.IgnoreTags))
	}
	if len(parts) == 0 {
		return "exists"
	}
	return strings.Join(parts, " and ")
}
