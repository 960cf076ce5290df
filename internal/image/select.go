package image

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/Masterminds/semver/v3"

	"github.com/kargohq/kargo/internal/sourceerr"
)

// ParseConstraint parses a subscription's semverConstraint. An empty
// constraint yields nil, which NewestVersions reads as "any release".
func ParseConstraint(s string) (*semver.Constraints, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	c, err := semver.NewConstraint(s)
	if err != nil {
		return nil, fmt.Errorf("%w: semverConstraint %q: %v", sourceerr.ErrInvalid, s, err)
	}
	return c, nil
}

// ParseVersion reads a tag or chart version as a semantic version. Only the
// full MAJOR.MINOR.PATCH form (with an optional "v" prefix, pre-release and
// build metadata) counts: lenient parsing would turn tags such as "2024" or
// a short commit hash made of digits into versions that outrank every
// real release.
func ParseVersion(tag string) (*semver.Version, bool) {
	v, err := semver.StrictNewVersion(strings.TrimPrefix(tag, "v"))
	if err != nil {
		return nil, false
	}
	return v, true
}

type versionedTag struct {
	tag string
	v   *semver.Version
}

// NewestVersions returns the tags that are semantic versions satisfying
// constraint, highest version first; tags that are equal as versions (such
// as "v1.2.3" and "1.2.3", or differing only in build metadata) are ordered
// by tag, descending, so the order is stable. A nil constraint accepts every
// release but no pre-release, as Masterminds constraints and Helm do: a
// pre-release is only selected when the constraint names one, such as
// ">=2.0.0-0".
func NewestVersions(tags []string, constraint *semver.Constraints) []string {
	vs := make([]versionedTag, 0, len(tags))
	for _, t := range tags {
		v, ok := ParseVersion(t)
		if !ok {
			continue
		}
		if constraint == nil {
			if v.Prerelease() != "" {
				continue
			}
		} else if !constraint.Check(v) {
			continue
		}
		vs = append(vs, versionedTag{tag: t, v: v})
	}
	slices.SortFunc(vs, func(a, b versionedTag) int {
		if c := b.v.Compare(a.v); c != 0 {
			return c
		}
		return cmp.Compare(b.tag, a.tag)
	})
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.tag
	}
	return out
}

// lexicalOrder returns tags sorted so that the one that sorts last comes
// first.
func lexicalOrder(tags []string) []string {
	out := slices.Clone(tags)
	slices.SortFunc(out, func(a, b string) int { return cmp.Compare(b, a) })
	return out
}
