package freight

import (
	"crypto/sha1" //nolint:gosec // SHA-1 names Freight, as the specification says; it is an identifier, not a security boundary.
	"encoding/hex"
	"sort"
	"strings"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
)

// Fingerprint returns the name of the Freight that references exactly these
// artifacts: the lowercase hex SHA-1 of their canonical form.
//
// The canonical form is one line per artifact, sorted byte-wise and joined
// with "\n" (no trailing newline):
//
//	commit:<repoURL>#<commit id>
//	image:<repoURL>:<tag>@<digest>
//	chart:<repoURL>#<name>:<version>
//
// Fields are written exactly as recorded in the Freight (an empty tag, digest
// or chart name stays empty). A commit's branch, tag, message and author
// describe how it was found, not what it is, so they are left out: the same
// commit found on two branches is the same material. An image's tag is kept
// along with its digest because promotion writes the tag.
//
// Sorting makes the name independent of the order of subscriptions. The form
// is part of the API: changing it would rename every Freight, so it must not
// change between releases (TestFingerprintIsStable pins it).
func Fingerprint(commits []kargoapi.GitCommit, images []kargoapi.Image, charts []kargoapi.Chart) string {
	return hashLines(CanonicalLines(commits, images, charts))
}

// CanonicalLines returns the sorted lines of the canonical form that
// Fingerprint hashes.
func CanonicalLines(commits []kargoapi.GitCommit, images []kargoapi.Image, charts []kargoapi.Chart) []string {
	lines := make([]string, 0, len(commits)+len(images)+len(charts))
	for _, c := range commits {
		lines = append(lines, "commit:"+c.RepoURL+"#"+c.ID)
	}
	for _, i := range images {
		lines = append(lines, "image:"+i.RepoURL+":"+i.Tag+"@"+i.Digest)
	}
	for _, c := range charts {
		lines = append(lines, "chart:"+c.RepoURL+"#"+c.Name+":"+c.Version)
	}
	sort.Strings(lines)
	return lines
}

// FingerprintOf returns the fingerprint of a Freight's artifacts.
func FingerprintOf(f *kargoapi.Freight) string {
	return Fingerprint(f.Commits, f.Images, f.Charts)
}

func hashLines(lines []string) string {
	sum := sha1.Sum([]byte(strings.Join(lines, "\n"))) //nolint:gosec // see the import
	return hex.EncodeToString(sum[:])
}
