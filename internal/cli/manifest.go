package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kargohq/kargo/internal/apitypes"
)

// manifestVerbs say what apply, create and delete do, for their help.
var manifestVerbs = map[string]string{
	"apply":  "Create the objects of manifests, or update the ones that exist",
	"create": "Create the objects of manifests; existing ones are refused",
	"delete": "Delete the objects of manifests",
}

func newManifestCommand(g *globals, verb string) *cobra.Command {
	var files []string
	cmd := &cobra.Command{
		Use:   verb + " -f FILE [-f FILE...]",
		Short: manifestVerbs[verb],
		Long: manifestVerbs[verb] + `, through kargo's API server. -f takes a
YAML or JSON file (several documents separated by ---), a directory (its
*.yaml, *.yml and *.json files) or - for standard input, and may be repeated.

Each object gets one line on stdout, such as "stage.kargo.akuity.io/test
created". The server tries every object; those it refuses are listed on
stderr with its reason, and the exit code is then 1.`,
		Example: "  kargo " + verb + " -f config/samples/seeds/concepts-03-stage-promotion-mechanisms.yaml\n  cat stages.yaml | kargo " + verb + " -f -",
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(files) == 0 {
				return usageError{fmt.Errorf("say which manifests to %s with -f FILE (or -f - for standard input)", verb)}
			}
			manifests, err := readManifests(files, cmd.InOrStdin())
			if err != nil {
				return err
			}
			c, _, err := g.connect()
			if err != nil {
				return err
			}
			send := map[string]func() (*apitypes.ManifestResult, error){
				"apply":  func() (*apitypes.ManifestResult, error) { return c.Apply(cmd.Context(), manifests) },
				"create": func() (*apitypes.ManifestResult, error) { return c.Create(cmd.Context(), manifests) },
				"delete": func() (*apitypes.ManifestResult, error) { return c.Delete(cmd.Context(), manifests) },
			}[verb]
			res, err := send()
			if err != nil {
				return fmt.Errorf("%s manifests: %w", verb, err)
			}
			return printManifestResult(cmd.OutOrStdout(), cmd.ErrOrStderr(), res)
		},
	}
	cmd.Flags().StringArrayVarP(&files, "filename", "f", nil, "manifest file, directory, or - for standard input (repeatable)")
	_ = cmd.MarkFlagFilename("filename", "yaml", "yml", "json")
	return cmd
}

// readManifests reads every -f into one stream of documents. Each file is
// its own set of documents, so a file that does not end with a newline
// cannot run into the next.
func readManifests(files []string, stdin io.Reader) (string, error) {
	var docs []string
	readStdin := false
	for _, f := range files {
		if f == "-" {
			if readStdin {
				return "", usageError{errors.New("-f - may be given once: standard input can be read only once")}
			}
			readStdin = true
			b, err := io.ReadAll(stdin)
			if err != nil {
				return "", fmt.Errorf("read standard input: %w", err)
			}
			docs = append(docs, string(b))
			continue
		}
		paths, err := manifestFiles(f)
		if err != nil {
			return "", err
		}
		for _, p := range paths {
			b, err := os.ReadFile(p)
			if err != nil {
				return "", fmt.Errorf("read manifests: %w", err)
			}
			docs = append(docs, string(b))
		}
	}
	joined := strings.Join(docs, "\n---\n")
	if strings.Trim(joined, "-\n\r\t ") == "" {
		return "", usageError{fmt.Errorf("no manifests in %s", strings.Join(files, ", "))}
	}
	return joined, nil
}

// manifestFiles is path itself, or the manifests in the directory path, in
// name order.
func manifestFiles(path string) ([]string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("read manifests: %w", err)
	}
	if !fi.IsDir() {
		return []string{path}, nil
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, fmt.Errorf("read manifests: %w", err)
	}
	var out []string
	for _, e := range entries {
		if !e.IsDir() && slices.Contains([]string{".yaml", ".yml", ".json"}, filepath.Ext(e.Name())) {
			out = append(out, filepath.Join(path, e.Name()))
		}
	}
	return out, nil
}

// printManifestResult prints one line per object, as kubectl does, and the
// refused ones on stderr; it fails when any was refused.
func printManifestResult(stdout, stderr io.Writer, res *apitypes.ManifestResult) error {
	refused := 0
	for _, r := range res.Results {
		name := objectResultName(r)
		if r.Error != nil {
			refused++
			reason := string(r.Error.Reason)
			if reason == "" {
				reason = "Refused"
			}
			fmt.Fprintf(stderr, "%s refused (%s): %s\n", name, reason, r.Error.Message)
			continue
		}
		fmt.Fprintf(stdout, "%s %s\n", name, r.Action)
	}
	if refused > 0 {
		return fmt.Errorf("%d of %d objects refused", refused, len(res.Results))
	}
	return nil
}

// objectResultName names an object as kubectl does: kind.group/name for
// kargo's kinds, kind/name for the others (whose group the result does not
// carry).
func objectResultName(r apitypes.ObjectResult) string {
	if rt := typeByKind(r.Kind); rt != nil {
		return rt.resourceName(r.Name)
	}
	return strings.ToLower(r.Kind) + "/" + r.Name
}
