package git

import (
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/kargohq/kargo/internal/sourceerr"
)

// pathMatcher is one entry of includePaths or excludePaths.
type pathMatcher func(file string) bool

// compilePathFilter understands the three forms a user writes:
// "regex:<expr>" or "regexp:<expr>" (matched anywhere in the path, like
// grep), a glob when the entry holds *, ? or [ (optionally written
// "glob:<pattern>"), and otherwise a plain prefix such as "apps/web/". A glob
// matches a file when it matches the file's path or one of its parent
// directories, so "apps/*" covers everything under each application.
func compilePathFilter(field, entry string) (pathMatcher, error) {
	for _, p := range []string{"regex:", "regexp:"} {
		if expr, ok := strings.CutPrefix(entry, p); ok {
			re, err := regexp.Compile(expr)
			if err != nil {
				return nil, fmt.Errorf("%s entry %q: %w: not a regular expression: %v", field, entry, sourceerr.ErrInvalid, err)
			}
			return re.MatchString, nil
		}
	}
	pattern, explicitGlob := strings.CutPrefix(entry, "glob:")
	pattern = strings.TrimPrefix(strings.TrimPrefix(pattern, "./"), "/")
	if explicitGlob || strings.ContainsAny(pattern, "*?[") {
		if _, err := path.Match(pattern, ""); err != nil {
			return nil, fmt.Errorf("%s entry %q: %w: not a glob pattern: %v", field, entry, sourceerr.ErrInvalid, err)
		}
		return func(file string) bool { return globMatch(pattern, file) }, nil
	}
	if pattern == "" {
		return nil, fmt.Errorf("%s entry %q: %w: empty path", field, entry, sourceerr.ErrInvalid)
	}
	return func(file string) bool { return strings.HasPrefix(file, pattern) }, nil
}

// globMatch tries the pattern against the whole path and then against each
// parent directory, from the deepest one up.
func globMatch(pattern, file string) bool {
	for p := file; p != "" && p != "." && p != "/"; p = path.Dir(p) {
		if ok, _ := path.Match(pattern, p); ok {
			return true
		}
	}
	return false
}

// pathFilter decides whether a commit's changed files make it a candidate.
type pathFilter struct {
	include, exclude []pathMatcher
}

func newPathFilter(include, exclude []string) (*pathFilter, error) {
	if len(include) == 0 && len(exclude) == 0 {
		return nil, nil
	}
	f := &pathFilter{}
	for _, e := range include {
		m, err := compilePathFilter("includePaths", e)
		if err != nil {
			return nil, err
		}
		f.include = append(f.include, m)
	}
	for _, e := range exclude {
		m, err := compilePathFilter("excludePaths", e)
		if err != nil {
			return nil, err
		}
		f.exclude = append(f.exclude, m)
	}
	return f, nil
}

// matches reports whether at least one file is included and not excluded.
// With no includePaths every file is included, so a commit counts unless
// all of its files are excluded. A commit that changes no file never
// counts.
func (f *pathFilter) matches(files []string) bool {
	for _, file := range files {
		if f.included(file) && !f.excluded(file) {
			return true
		}
	}
	return false
}

func (f *pathFilter) included(file string) bool {
	if len(f.include) == 0 {
		return true
	}
	for _, m := range f.include {
		if m(file) {
			return true
		}
	}
	return false
}

func (f *pathFilter) excluded(file string) bool {
	for _, m := range f.exclude {
		if m(file) {
			return true
		}
	}
	return false
}

// PathsMatch reports whether a change to files concerns a subscription with
// these includePaths and excludePaths, by the rules discovery applies to a
// commit: some file is included and not excluded. Filters that do not
// compile match, so that the subscriber is refreshed and reports the error
// itself. The webhook receiver uses it to refresh only the subscribers a
// push can change.
func PathsMatch(include, exclude, files []string) bool {
	f, err := newPathFilter(include, exclude)
	if err != nil || f == nil {
		return true
	}
	return f.matches(files)
}
