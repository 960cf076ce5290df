package steps

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"
	"sigs.k8s.io/kustomize/api/types"
	sigsyaml "sigs.k8s.io/yaml"
)

// errRemote says a kustomization names something kustomize would fetch.
var errRemote = errors.New("kustomize-build does not fetch remote resources, which would leave the controller's outbound address policy; vendor the remote content into the repository (or clone it with git-clone) and name it by a relative path")

// checkRemote refuses a kustomization, in dir or reached from it, that
// names a remote resource. kustomize decides what is remote by the text
// of each entry: an http(s) URL is downloaded, and a git URL (a scheme,
// user@host:path, github.com/...) is cloned with the git program, before
// any file of the work directory is read; so the entries are read here
// first, field by field of kustomize's own Kustomization type (a test
// fails when kustomize adds a field this does not classify). configs says
// the kustomization was reached from generators, transformers or
// validators, whose resources are plugin configurations that may name
// files (the path of a PatchTransformer, say).
func checkRemote(root, dir string, configs bool, seen map[string]bool) error {
	if seen[dir] {
		return nil
	}
	seen[dir] = true
	file := ""
	for _, name := range []string{"kustomization.yaml", "kustomization.yml", "Kustomization"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			file = filepath.Join(dir, name)
			break
		}
	}
	if file == "" {
		// Not a kustomization; kustomize says what it makes of it.
		return nil
	}
	rel, _ := filepath.Rel(root, file)
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	var k types.Kustomization
	if err := sigsyaml.Unmarshal(b, &k); err != nil {
		// kustomize reports the file's errors itself.
		return nil
	}
	fail := func(field, entry string) error {
		return fmt.Errorf("%s: %s names %q: %w", rel, field, entry, errRemote)
	}
	if len(k.HelmCharts) > 0 || len(k.HelmChartInflationGenerator) > 0 || k.HelmGlobals != nil {
		return fmt.Errorf("%s: helmCharts: kustomize's Helm chart inflation runs the helm program, which downloads charts out of the controller's outbound address policy; render the chart with a helm-template step instead", rel)
	}
	// Entries that are a file or a kustomization directory.
	for _, list := range []struct {
		field   string
		entries []string
		configs bool
	}{
		{"resources", k.Resources, configs},
		{"bases", k.Bases, configs},
		{"components", k.Components, configs},
		{"generators", k.Generators, true},
		{"transformers", k.Transformers, true},
		{"validators", k.Validators, true},
	} {
		for _, e := range list.entries {
			if list.configs && isInlineConfig(e) {
				if err := checkConfigPaths(rel, list.field, []byte(e)); err != nil {
					return err
				}
				continue
			}
			if isRemote(e) {
				return fail(list.field, e)
			}
			if err := checkLocal(root, dir, rel, list.field, e, list.configs, seen); err != nil {
				return err
			}
		}
	}
	// Entries that are files only.
	files := map[string][]string{
		"crds":           k.Crds,
		"configurations": k.Configurations,
	}
	for _, p := range k.PatchesStrategicMerge {
		if !strings.Contains(string(p), "\n") {
			files["patchesStrategicMerge"] = append(files["patchesStrategicMerge"], string(p))
		}
	}
	for _, p := range k.Patches {
		files["patches"] = append(files["patches"], p.Path)
	}
	for _, p := range k.PatchesJson6902 {
		files["patchesJson6902"] = append(files["patchesJson6902"], p.Path)
	}
	for _, r := range k.Replacements {
		files["replacements"] = append(files["replacements"], r.Path)
	}
	for _, g := range k.ConfigMapGenerator {
		files["configMapGenerator"] = append(files["configMapGenerator"], kvPaths(g.KvPairSources)...)
	}
	for _, g := range k.SecretGenerator {
		files["secretGenerator"] = append(files["secretGenerator"], kvPaths(g.KvPairSources)...)
	}
	if p, ok := k.OpenAPI["path"]; ok {
		files["openapi"] = append(files["openapi"], p)
	}
	for field, entries := range files {
		for _, e := range entries {
			if isRemote(e) {
				return fail(field, e)
			}
		}
	}
	return nil
}

// checkLocal follows an entry that is not remote: a kustomization
// directory is checked in turn, and a plugin configuration file is read for
// the paths it names.
func checkLocal(root, dir, rel, field, entry string, configs bool, seen map[string]bool) error {
	p := entry
	if !filepath.IsAbs(p) {
		p = filepath.Join(dir, entry)
	}
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		// Missing: kustomize says so.
		return nil
	}
	if real != root && !strings.HasPrefix(real, root+string(filepath.Separator)) {
		return fmt.Errorf("%s: %s names %q, which %w", rel, field, entry, errOutside)
	}
	fi, err := os.Stat(real)
	if err != nil {
		return nil
	}
	if fi.IsDir() {
		return checkRemote(root, real, configs, seen)
	}
	if !configs {
		return nil
	}
	b, err := os.ReadFile(real)
	if err != nil {
		return nil
	}
	return checkConfigPaths(rel, field, b)
}

// kvPaths are the files a ConfigMap or Secret generator reads: files
// ([key=]path), envs and env.
func kvPaths(s types.KvPairSources) []string {
	var out []string
	for _, f := range s.FileSources {
		if _, p, ok := strings.Cut(f, "="); ok {
			f = p
		}
		out = append(out, f)
	}
	out = append(out, s.EnvSources...)
	if s.EnvSource != "" {
		out = append(out, s.EnvSource)
	}
	return out
}

// configPathKeys are the keys of kustomize's built-in plugin
// configurations whose values name files that kustomize loads (and would
// download when they are URLs): PatchTransformer and
// PatchJson6902Transformer path, ReplacementTransformer replacements[].path,
// ValueAddTransformer filePathPosition's targetFilePath, the generators'
// files, envs and env, and the Helm inflator's values files.
var configPathKeys = map[string]bool{
	"path": true, "files": true, "envs": true, "env": true, "targetFilePath": true,
	"valuesFile": true, "additionalValuesFiles": true, "argsFromFile": true,
}

// isInlineConfig says whether a generators or transformers entry is a
// configuration written inline, as kustomize tells: it parses as an object.
func isInlineConfig(e string) bool {
	var v map[string]any
	return strings.Contains(e, "\n") && sigsyaml.Unmarshal([]byte(e), &v) == nil && v["kind"] != nil
}

// checkConfigPaths refuses plugin configurations (YAML documents) that name
// a remote file under one of configPathKeys, at any depth.
func checkConfigPaths(rel, field string, doc []byte) error {
	dec := yaml.NewDecoder(bytes.NewReader(doc))
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			// kustomize reports a file it cannot parse.
			return nil
		}
		if bad := remoteUnderPathKey(&n, false); bad != "" {
			return fmt.Errorf("%s: %s: a plugin configuration names %q: %w", rel, field, bad, errRemote)
		}
	}
}

func remoteUnderPathKey(n *yaml.Node, underPathKey bool) string {
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for _, c := range n.Content {
			if bad := remoteUnderPathKey(c, underPathKey); bad != "" {
				return bad
			}
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if bad := remoteUnderPathKey(n.Content[i+1], configPathKeys[n.Content[i].Value]); bad != "" {
				return bad
			}
		}
	case yaml.ScalarNode:
		v := n.Value
		if _, p, ok := strings.Cut(v, "="); ok && !strings.Contains(v, "://") {
			v = p
		}
		if underPathKey && isRemote(v) {
			return n.Value
		}
	case yaml.AliasNode:
		if n.Alias != nil {
			return remoteUnderPathKey(n.Alias, underPathKey)
		}
	}
	return ""
}

// isRemote says whether kustomize could take entry for a URL to download
// or a repository to clone. It errs on the side of remote: any scheme
// (https://, ssh://, file://), git::, a user@ or host: before the first
// slash (scp-style git@github.com:org/repo), and github.com/ or gh: at the
// start, as kustomize's repository spec parser accepts them.
func isRemote(entry string) bool {
	e := strings.TrimSpace(entry)
	lower := strings.ToLower(e)
	if strings.Contains(e, "://") || strings.HasPrefix(lower, "git::") || strings.HasPrefix(lower, "gh:") || strings.HasPrefix(lower, "github.com") {
		return true
	}
	first, _, _ := strings.Cut(e, "/")
	return strings.ContainsAny(first, "@:")
}
