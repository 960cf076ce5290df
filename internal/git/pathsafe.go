package git

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// ErrUnsafePath means a repository-relative path would reach outside the
// repository's checkout.
var ErrUnsafePath = errors.New("path leaves the repository")

// maxSymlinks bounds the symlinks followed while resolving one path, as the
// operating system does, so that a loop ends with an error.
const maxSymlinks = 40

// ResolveInRepo returns the absolute path of rel inside the checkout at
// root, with every symlink along it resolved. It refuses, with an error that
// wraps ErrUnsafePath and names rel, an absolute rel, a ".." that climbs
// above root, and a symlink anywhere along the path (the last element
// included) whose target is outside root. Symlinks that stay inside root
// are followed. Elements that do not exist yet are allowed, so the result
// can be a file to create.
//
// Every path that a promotion reads or writes in a repository, all of which
// come from users, must go through ResolveInRepo: a repository may contain a
// symlink to /etc, and a path may say "../../".
func ResolveInRepo(root, rel string) (string, error) {
	if rel == "" {
		return "", fmt.Errorf("resolve path in repository: %w: the path is empty", ErrUnsafePath)
	}
	if filepath.IsAbs(rel) || strings.HasPrefix(rel, "/") || strings.HasPrefix(rel, `\`) || filepath.VolumeName(rel) != "" {
		return "", fmt.Errorf("resolve path %q in repository: %w: absolute paths are not allowed; use a path relative to the repository root", rel, ErrUnsafePath)
	}
	absRoot, err := filepath.Abs(root)
	if err != nil {
		return "", fmt.Errorf("resolve path %q in repository: %w", rel, err)
	}
	realRoot, err := filepath.EvalSymlinks(absRoot)
	if err != nil {
		return "", fmt.Errorf("resolve path %q in repository: %w", rel, err)
	}
	cur := realRoot
	pending := splitPath(rel)
	followed := 0
	// via names the last symlink followed, which a ".." that climbs above
	// root came through, if any.
	via := ""
	for len(pending) > 0 {
		part := pending[0]
		pending = pending[1:]
		switch part {
		case "", ".":
			continue
		case "..":
			if cur == realRoot && via != "" {
				return "", fmt.Errorf("resolve path %q in repository: %w: %s, outside the repository", rel, ErrUnsafePath, via)
			}
			if cur == realRoot {
				return "", fmt.Errorf("resolve path %q in repository: %w: %q climbs above the repository root", rel, ErrUnsafePath, "..")
			}
			cur = filepath.Dir(cur)
			continue
		}
		next := filepath.Join(cur, part)
		fi, err := os.Lstat(next)
		if errors.Is(err, fs.ErrNotExist) || (err == nil && fi.Mode()&fs.ModeSymlink == 0) {
			// A missing element cannot be a symlink; later ones are
			// resolved by name.
			cur = next
			continue
		}
		if err != nil {
			return "", fmt.Errorf("resolve path %q in repository: %w", rel, err)
		}
		if followed++; followed > maxSymlinks {
			return "", fmt.Errorf("resolve path %q in repository: too many symlinks (a loop?)", rel)
		}
		link := repoRel(realRoot, next)
		dest, err := os.Readlink(next)
		if err != nil {
			return "", fmt.Errorf("resolve path %q in repository: read symlink %q: %w", rel, link, err)
		}
		if filepath.IsAbs(dest) {
			inside, ok := within(realRoot, filepath.Clean(dest))
			if !ok {
				return "", fmt.Errorf("resolve path %q in repository: %w: symlink %q points to %q, outside the repository", rel, ErrUnsafePath, link, dest)
			}
			via = fmt.Sprintf("symlink %q points to %q", link, dest)
			cur = realRoot
			pending = append(splitPath(inside), pending...)
			continue
		}
		// A relative target is resolved from the symlink's directory; its
		// ".." elements are checked like the path's own.
		via = fmt.Sprintf("symlink %q points to %q", link, dest)
		pending = append(splitPath(dest), pending...)
	}
	return cur, nil
}

func splitPath(p string) []string {
	return strings.Split(filepath.ToSlash(p), "/")
}

// within returns path relative to root when path is root or below it.
func within(root, path string) (string, bool) {
	if path == root {
		return "", true
	}
	prefix := root + string(filepath.Separator)
	if root == string(filepath.Separator) {
		prefix = root
	}
	if !strings.HasPrefix(path, prefix) {
		return "", false
	}
	return strings.TrimPrefix(path, prefix), true
}

func repoRel(root, path string) string {
	if r, ok := within(root, path); ok {
		return filepath.ToSlash(r)
	}
	return path
}
