package git

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/Masterminds/semver/v3"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/sourceerr"
)

// tagRef is one tag of a mirror, peeled to its commit.
type tagRef struct {
	name string
	// commit is the commit the tag points at, through any tag objects.
	commit string
	// date is the tagger date of an annotated tag, the committer date of
	// the commit of a lightweight one (git's creatordate), in Unix seconds.
	date int64
	commitInfo
	// version is nil when the name is not a semantic version.
	version *semver.Version
}

// commitInfo is what a GitCommit says about a commit besides its ID.
type commitInfo struct {
	subject string
	author  string
}

// parseTagVersion accepts MAJOR.MINOR.PATCH with optional pre-release and
// build metadata, and an optional leading "v". It refuses the shorthand
// that semver.NewVersion would coerce ("1.2", "7", "20240101"), so a tag
// that merely looks like a number never outranks real releases.
func parseTagVersion(name string) *semver.Version {
	v, err := semver.StrictNewVersion(strings.TrimPrefix(name, "v"))
	if err != nil {
		return nil
	}
	return v
}

// selectTags returns up to limit tags that sel allows, best first:
// the highest version (SemVer), the name that sorts last (Lexical), or the
// newest creation date (NewestTag). Ties are broken by name, so the result
// never depends on the order tags were listed in.
func selectTags(tags []tagRef, sel *selector, limit int) ([]*tagRef, error) {
	needVersion := sel.strategy == kargoapi.CommitSelectionSemVer || sel.constraint != nil
	cands := make([]*tagRef, 0, len(tags))
	for i := range tags {
		t := &tags[i]
		if needVersion {
			if t.version == nil || (sel.constraint != nil && !sel.constraint.Check(t.version)) {
				continue
			}
		}
		if !sel.tags.Keep(t.name) {
			continue
		}
		cands = append(cands, t)
	}
	if len(cands) == 0 {
		return nil, fmt.Errorf("%w: none of %d tags %s", sourceerr.ErrNoMatch, len(tags), sel.describeTagFilters())
	}
	var better func(a, b *tagRef) int
	switch sel.strategy {
	case kargoapi.CommitSelectionSemVer:
		better = func(a, b *tagRef) int {
			if c := b.version.Compare(a.version); c != 0 {
				return c
			}
			return strings.Compare(b.name, a.name)
		}
	case kargoapi.CommitSelectionNewestTag:
		better = func(a, b *tagRef) int {
			if c := cmp.Compare(b.date, a.date); c != 0 {
				return c
			}
			return strings.Compare(b.name, a.name)
		}
	default: // Lexical
		better = func(a, b *tagRef) int { return strings.Compare(b.name, a.name) }
	}
	return topK(cands, limit, better), nil
}

// topK returns the k best elements in order. A Warehouse usually asks for a
// handful of candidates among thousands of tags, so a partial selection
// (k passes of insertion into a short list) beats sorting everything.
func topK(cands []*tagRef, k int, better func(a, b *tagRef) int) []*tagRef {
	if k >= len(cands) || k > 64 {
		slices.SortFunc(cands, better)
		return cands[:min(k, len(cands))]
	}
	best := make([]*tagRef, 0, k+1)
	for _, c := range cands {
		if len(best) == k && better(c, best[k-1]) >= 0 {
			continue
		}
		i, _ := slices.BinarySearchFunc(best, c, better)
		best = slices.Insert(best, i, c)
		if len(best) > k {
			best = best[:k]
		}
	}
	return best
}
