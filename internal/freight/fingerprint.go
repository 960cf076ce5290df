package freight

import (
	"crypto/sha1" //nolint:gosec // SHA-1 names Freight, as the specification says; it is an identifier, not a security boundary.
	"encoding/hex"
	"sort"
	"strings"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
)

// Fingerprint returns the name of the Freight that origin produced with
// exactly these artifacts: the lowercase hex SHA-1 of their canonical form.
//
// The canonical form is one line per artifact, sorted byte-wise, preceded
// by a line naming the origin when there is one, joined with "\n" (no
// trailing newline):
//
//	origin:<kind>/<name>
//	commit:<repoURL>#<commit id>
//	commit:<repoURL>#<commit id>@<tag>
//	image:<repoURL>:<tag>@<digest>
//	chart:<repoURL>#<name>:<version>
//
// Fields are written exactly as recorded in the Freight (an empty tag, digest
// or chart name stays empty). The origin is part of what Freight is: two
// Warehouses that find the same artifacts each produce their own Freight,
// which their own Stages receive. A commit's tag is part of it when the
// subscription selected the commit by tag (the Freight records the tag only
// then): a release candidate re-tagged as the release is new Freight. A
// commit's branch, message and author describe how it was found, not what
// it is, so they are left out: the same commit found on two branches is the
// same material. An image's tag is kept along with its digest because
// promotion writes the tag.
//
// Without an origin and without commit tags the form is the one kargo used
// before it counted them, so Freight named then keeps its name (see
// LegacyFingerprint). Sorting makes the name independent of the order of
// subscriptions. The form is part of the API: changing it would rename
// every Freight, so it must not change between releases
// (TestFingerprintIsStable pins it).
func Fingerprint(origin *kargoapi.FreightOrigin, commits []kargoapi.GitCommit, images []kargoapi.Image, charts []kargoapi.Chart) string {
	return hashLines(CanonicalLines(origin, commits, images, charts))
}

// CanonicalLines returns the lines of the canonical form that Fingerprint
// hashes: the origin's line, if any, then the artifacts' lines, sorted.
func CanonicalLines(origin *kargoapi.FreightOrigin, commits []kargoapi.GitCommit, images []kargoapi.Image, charts []kargoapi.Chart) []string {
	lines := artifactLines(commits, images, charts, true)
	if origin != nil {
		lines = append([]string{"origin:" + string(origin.Kind) + "/" + origin.Name}, lines...)
	}
	return lines
}

// LegacyFingerprint returns the name kargo gave Freight with these artifacts
// before the origin and commit tags were part of the canonical form. Freight
// created then keeps that name; a producer that finds it under that name,
// with the same origin and artifacts, uses it rather than making a copy.
func LegacyFingerprint(commits []kargoapi.GitCommit, images []kargoapi.Image, charts []kargoapi.Chart) string {
	return hashLines(artifactLines(commits, images, charts, false))
}

func artifactLines(commits []kargoapi.GitCommit, images []kargoapi.Image, charts []kargoapi.Chart, tags bool) []string {
	lines := make([]string, 0, len(commits)+len(images)+len(charts)+1)
	for _, c := range commits {
		line := "commit:" + c.RepoURL + "#" + c.ID
		if tags && c.Tag != "" {
			line += "@" + c.Tag
		}
		lines = append(lines, line)
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

// FingerprintOf returns the fingerprint of a Freight's origin and artifacts:
// the name it must have.
func FingerprintOf(f *kargoapi.Freight) string {
	return Fingerprint(f.Origin, f.Commits, f.Images, f.Charts)
}

func hashLines(lines []string) string {
	sum := sha1.Sum([]byte(strings.Join(lines, "\n"))) //nolint:gosec // see the import
	return hex.EncodeToString(sum[:])
}
