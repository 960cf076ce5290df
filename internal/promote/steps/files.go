package steps

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/kargohq/kargo/internal/promote/engine"
	"github.com/kargohq/kargo/internal/sourceerr"
)

// copyStep copies a file, or a directory's contents, within the work
// directory (Kargo's copy). Symlinks in the source are skipped, and .git is
// never copied: the step moves content, not repositories.
type copyStep struct{}

func (copyStep) Replayable() {}

type copyConfig struct {
	InPath  string `json:"inPath"`
	OutPath string `json:"outPath"`
	// Ignore holds glob patterns, one a line, of files not to copy; a
	// pattern ending in / names directories.
	Ignore string `json:"ignore,omitempty"`
}

func (copyStep) Run(_ context.Context, sc *engine.StepContext, cfg engine.Config) (engine.Result, error) {
	var c copyConfig
	if err := cfg.Decode(&c); err != nil {
		return engine.Result{}, err
	}
	in, err := sc.Path(c.InPath)
	if err != nil {
		return engine.Result{}, fmt.Errorf("inPath: %w", err)
	}
	out, err := sc.Path(c.OutPath)
	if err != nil {
		return engine.Result{}, fmt.Errorf("outPath: %w", err)
	}
	ignore := parseIgnore(c.Ignore)
	info, err := os.Lstat(in)
	if err != nil {
		return engine.Result{}, fmt.Errorf("inPath %s: %w: %w", c.InPath, err, sourceerr.ErrInvalid)
	}
	n := 0
	if !info.IsDir() {
		if err := copyFile(in, out); err != nil {
			return engine.Result{}, err
		}
		return engine.Result{Message: fmt.Sprintf("copied %s to %s", c.InPath, c.OutPath)}, nil
	}
	err = filepath.WalkDir(in, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(in, p)
		if rel == "." {
			return os.MkdirAll(out, 0o755)
		}
		if d.Type()&fs.ModeSymlink != 0 || ignore.match(rel, d.IsDir()) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		target := filepath.Join(out, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		n++
		return copyFile(p, target)
	})
	if err != nil {
		return engine.Result{}, fmt.Errorf("copy %s to %s: %w", c.InPath, c.OutPath, err)
	}
	return engine.Result{Message: fmt.Sprintf("copied %d files from %s to %s", n, c.InPath, c.OutPath)}, nil
}

func copyFile(from, to string) error {
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	info, err := src.Stat()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		return err
	}
	// A symlink at the destination is replaced, never written through.
	if fi, err := os.Lstat(to); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		if err := os.Remove(to); err != nil {
			return err
		}
	}
	dst, err := os.OpenFile(to, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, info.Mode().Perm()|0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return err
	}
	return dst.Close()
}

// ignoreRules are copy's ignore patterns; .git is always ignored first.
type ignoreRules []string

func parseIgnore(s string) ignoreRules {
	rules := ignoreRules{".git/"}
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") {
			rules = append(rules, line)
		}
	}
	return rules
}

// match applies the rules in order, the last that matches deciding, as a
// .gitignore file does: !pattern includes again.
func (r ignoreRules) match(rel string, dir bool) bool {
	ignored := false
	rel = filepath.ToSlash(rel)
	base := filepath.Base(rel)
	for _, rule := range r {
		negate := strings.HasPrefix(rule, "!")
		pat := strings.TrimPrefix(rule, "!")
		dirOnly := strings.HasSuffix(pat, "/")
		pat = strings.TrimSuffix(pat, "/")
		if dirOnly && !dir {
			continue
		}
		var ok bool
		if strings.Contains(strings.TrimPrefix(pat, "/"), "/") {
			ok, _ = filepath.Match(strings.TrimPrefix(pat, "/"), rel)
		} else {
			ok, _ = filepath.Match(pat, base)
		}
		if ok {
			ignored = !negate
		}
	}
	return ignored
}

// deleteStep deletes a file or directory of the work directory (Kargo's
// delete).
type deleteStep struct{}

func (deleteStep) Replayable() {}

type deleteConfig struct {
	Path string `json:"path"`
	// Strict fails the step when the path does not exist.
	Strict bool `json:"strict,omitempty"`
}

func (deleteStep) Run(_ context.Context, sc *engine.StepContext, cfg engine.Config) (engine.Result, error) {
	var c deleteConfig
	if err := cfg.Decode(&c); err != nil {
		return engine.Result{}, err
	}
	p, err := sc.Path(c.Path)
	if err != nil {
		return engine.Result{}, err
	}
	if p == sc.WorkDir {
		return engine.Result{}, fmt.Errorf("path %q is the whole work directory; delete something inside it: %w", c.Path, sourceerr.ErrInvalid)
	}
	if _, err := os.Lstat(p); errors.Is(err, fs.ErrNotExist) {
		if c.Strict {
			return engine.Result{}, fmt.Errorf("path %s does not exist (strict): %w", c.Path, sourceerr.ErrInvalid)
		}
		return engine.Result{Message: c.Path + " did not exist"}, nil
	}
	if err := os.RemoveAll(p); err != nil {
		return engine.Result{}, fmt.Errorf("delete %s: %w", c.Path, err)
	}
	return engine.Result{Message: "deleted " + c.Path}, nil
}

// composeOutput makes its configuration its output (Kargo's
// compose-output): a way to name values for later steps. In a
// PromotionTask, they are the task's outputs too.
type composeOutput struct{}

func (composeOutput) Replayable() {}

func (composeOutput) TaskOutput() {}

func (composeOutput) Run(_ context.Context, _ *engine.StepContext, cfg engine.Config) (engine.Result, error) {
	return engine.Result{Output: map[string]any(cfg)}, nil
}
