package freight

import (
	"fmt"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
)

// Undiscovered says what keeps f from being Freight assembled from found,
// the artifacts its Warehouse discovered: each artifact that is not among
// them, and each repository f takes more than one artifact from. Nothing
// means f uses only discovered artifacts. A commit matches on repository,
// ID and tag; an image on repository, tag and digest; a chart on
// repository, name and version.
func Undiscovered(f *kargoapi.Freight, found *kargoapi.DiscoveredArtifacts) []string {
	if found == nil {
		found = &kargoapi.DiscoveredArtifacts{}
	}
	var problems []string
	seen := map[string]bool{}
	once := func(repo string) {
		if seen[repo] {
			problems = append(problems, fmt.Sprintf("%s appears twice; take one artifact per repository", repo))
		}
		seen[repo] = true
	}
	for _, c := range f.Commits {
		once("commit " + c.RepoURL)
		ok := false
		for _, d := range found.Commits {
			ok = ok || (d.RepoURL == c.RepoURL && d.ID == c.ID && d.Tag == c.Tag)
		}
		if !ok {
			problems = append(problems, fmt.Sprintf("commit %s#%s was not discovered", c.RepoURL, c.ID))
		}
	}
	for _, i := range f.Images {
		once("image " + i.RepoURL)
		ok := false
		for _, d := range found.Images {
			ok = ok || (d.RepoURL == i.RepoURL && d.Tag == i.Tag && d.Digest == i.Digest)
		}
		if !ok {
			problems = append(problems, fmt.Sprintf("image %s:%s was not discovered", i.RepoURL, i.Tag))
		}
	}
	for _, c := range f.Charts {
		once("chart " + c.RepoURL + " " + c.Name)
		ok := false
		for _, d := range found.Charts {
			ok = ok || (d.RepoURL == c.RepoURL && d.Name == c.Name && d.Version == c.Version)
		}
		if !ok {
			problems = append(problems, fmt.Sprintf("chart %s %s:%s was not discovered", c.RepoURL, c.Name, c.Version))
		}
	}
	return problems
}
