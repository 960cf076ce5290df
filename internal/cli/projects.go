package cli

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kargohq/kargo/internal/apiclient"
)

// missingProjectError is a project that does not exist. The command line
// explains it with the projects the caller may see (explainMissingProject):
// a mistyped --project is an error, not an empty project.
type missingProjectError struct{ name string }

func (e *missingProjectError) Error() string { return fmt.Sprintf("project %q not found", e.name) }

// missingProject finds, in err, a project that does not exist: one the
// CLI found missing, or the server's 404 for a request into a project it
// does not have (its Status details name the project).
func missingProject(err error) (string, bool) {
	var missing *missingProjectError
	if errors.As(err, &missing) {
		return missing.name, true
	}
	if !apiclient.IsNotFound(err) {
		return "", false
	}
	st, _ := apiclient.StatusOf(err)
	if st.Details != nil && st.Details.Name != "" && lookupType(st.Details.Kind) == projectType {
		return st.Details.Name, true
	}
	return "", false
}

// maxListedProjects bounds how many project names an error lists.
const maxListedProjects = 20

// explainMissingProject says that the project does not exist and which
// ones do, as far as the caller may list them: a caller who may not list
// projects is told so, and learns no project's name.
func (g *globals) explainMissingProject(ctx context.Context, name string) error {
	missing := fmt.Sprintf("project %q not found", name)
	c, _, err := g.connect()
	if err != nil {
		return errors.New(missing)
	}
	items, err := c.ListAll(ctx, apiclient.Projects, "", apiclient.ListOptions{})
	switch {
	case apiclient.IsForbidden(err):
		return fmt.Errorf("%s; you may not list projects, so ask your kargo administrator for the names of yours", missing)
	case err != nil:
		return fmt.Errorf("%s (listing the projects failed too: %w)", missing, err)
	}
	projects, err := apiclient.DecodeItems[metav1.PartialObjectMetadata](items)
	if err != nil {
		return errors.New(missing)
	}
	var names []string
	for _, p := range projects {
		names = append(names, p.Name)
	}
	slices.Sort(names)
	switch {
	case len(names) == 0:
		return fmt.Errorf("%s: there are no projects yet (a Project is created with kargo create -f or kubectl)", missing)
	case len(names) > maxListedProjects:
		return fmt.Errorf("%s; the projects are %s and %d more (kargo get projects lists them)",
			missing, strings.Join(names[:maxListedProjects], ", "), len(names)-maxListedProjects)
	}
	return fmt.Errorf("%s; the projects are %s", missing, strings.Join(names, ", "))
}
