package git

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// Work trees of Checkout are kept between Promotions when the request names
// an Owner: a person's warm clone changes the few files a promotion touches,
// where a fresh work tree writes every file of the repository and removing
// it afterwards deletes them all again. A kept work tree is brought to the
// next checkout's commit by the one-way `read-tree --reset -u` and a
// `clean`, which write only the files that differ and delete whatever an
// earlier Promotion added, changed or left behind, ignored files included.
//
// Each kept work tree belongs to one owner (git-clone passes the project)
// and one mirror (repository, credentials and TLS setting): it is never
// handed to a Checkout of another owner or another mirror, so the files and
// objects of one project's Promotion can never appear in another's. A work
// tree is lent to one Checkout at a time and comes back only through
// ReleaseWorkTrees; one that a crash or a removal never gave back is simply
// not reused, and the pool, kept under the cache's scratch directory, is
// emptied when a new process starts.
const (
	// maxIdleTreesPerKey bounds the work trees kept per owner and mirror;
	// more are made while more Promotions run at once, and removed after.
	maxIdleTreesPerKey = 2
	// maxTreeUses bounds the uses of one work tree, whose repository
	// keeps the objects of every commit made in it.
	maxTreeUses = 200
	// maxLent bounds the record of lent work trees; beyond it, those that
	// were removed without being given back are forgotten.
	maxLent = 256
	// treeTokenFile, in a work tree's .git, holds the token of a lent work
	// tree, so that ReleaseWorkTrees takes back only the directory it lent
	// (a step cannot write into .git).
	treeTokenFile = "kargo-tree"
)

// treePool holds the work trees kept between Checkouts.
type treePool struct {
	mu sync.Mutex
	// idle are the kept work trees by key (owner and mirror).
	idle map[string][]*pooledTree
	// lent are the work trees in use, by their directory.
	lent map[string]*pooledTree
}

// pooledTree is a work tree that Checkout may reuse.
type pooledTree struct {
	key string
	// dir is where the work tree is: a Checkout's Dir while lent, a
	// directory of the pool while idle.
	dir   string
	token string
	// baseConfig is the repository's configuration as `git init` wrote
	// it, to which each checkout adds its own settings.
	baseConfig []byte
	uses       int
}

// poolKey is the key of owner's work trees of the mirror e.
func poolKey(owner string, e *entry) string {
	return owner + "\x00" + e.key
}

// takeTree takes an idle work tree of key, or returns nil.
func (c *Cache) takeTree(key string) *pooledTree {
	c.trees.mu.Lock()
	defer c.trees.mu.Unlock()
	idle := c.trees.idle[key]
	if len(idle) == 0 {
		return nil
	}
	pt := idle[len(idle)-1]
	c.trees.idle[key] = idle[:len(idle)-1]
	return pt
}

// lendTree records pt, now at pt.dir, as in use, and marks it with a new
// token.
func (c *Cache) lendTree(pt *pooledTree) error {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return err
	}
	pt.token = hex.EncodeToString(b)
	if err := os.WriteFile(filepath.Join(pt.dir, ".git", treeTokenFile), []byte(pt.token), 0o600); err != nil {
		return err
	}
	c.trees.mu.Lock()
	defer c.trees.mu.Unlock()
	if c.trees.lent == nil {
		c.trees.lent = map[string]*pooledTree{}
	}
	if len(c.trees.lent) >= maxLent {
		for dir, l := range c.trees.lent {
			if !l.holdsToken() {
				delete(c.trees.lent, dir)
			}
		}
	}
	c.trees.lent[pt.dir] = pt
	return nil
}

// holdsToken says whether pt.dir is still the work tree that was lent.
func (pt *pooledTree) holdsToken() bool {
	b, err := os.ReadFile(filepath.Join(pt.dir, ".git", treeTokenFile))
	return err == nil && string(b) == pt.token
}

// ReleaseWorkTrees takes back the work trees that Checkout made under dir
// for an Owner, to check them out again for later Checkouts of the same
// owner and repository, and leaves everything else in dir as it is. Call
// it before removing a directory that Checkouts wrote into, such as a
// Promotion's work directory once the Promotion has ended; after it, the
// work trees are gone from dir.
func (c *Cache) ReleaseWorkTrees(dir string) {
	root := filepath.Clean(dir)
	var back []*pooledTree
	c.trees.mu.Lock()
	for d, pt := range c.trees.lent {
		if d == root || strings.HasPrefix(d, root+string(filepath.Separator)) {
			delete(c.trees.lent, d)
			back = append(back, pt)
		}
	}
	c.trees.mu.Unlock()
	for _, pt := range back {
		if !pt.holdsToken() || pt.uses >= maxTreeUses {
			// Replaced since it was lent, or used enough: the caller's
			// removal deletes it.
			continue
		}
		idleDir, err := c.poolDir()
		if err != nil {
			continue
		}
		if err := os.Rename(pt.dir, idleDir); err != nil {
			_ = os.Remove(filepath.Dir(idleDir))
			continue
		}
		pt.dir = idleDir
		c.trees.mu.Lock()
		if c.trees.idle == nil {
			c.trees.idle = map[string][]*pooledTree{}
		}
		kept := len(c.trees.idle[pt.key]) < maxIdleTreesPerKey
		if kept {
			c.trees.idle[pt.key] = append(c.trees.idle[pt.key], pt)
		}
		c.trees.mu.Unlock()
		if !kept {
			removeAll(filepath.Dir(idleDir))
		}
	}
}

// poolDir makes a new directory of the pool and returns the path, inside
// it, that a work tree is renamed to.
func (c *Cache) poolDir() (string, error) {
	if err := c.init(); err != nil {
		return "", err
	}
	parent, err := os.MkdirTemp(c.tmpDir, "tree-")
	if err != nil {
		return "", err
	}
	return filepath.Join(parent, "files"), nil
}

// discardTree removes an idle or failed work tree of the pool.
func discardTree(pt *pooledTree) {
	removeAll(pt.dir)
	if parent := filepath.Dir(pt.dir); strings.HasPrefix(filepath.Base(parent), "tree-") {
		_ = os.Remove(parent)
	}
}

// checkoutKept checks wt out into an idle work tree of key, moved to
// wt.Dir, and returns false when there is none or it cannot be used (it is
// then removed, and the caller makes a new work tree).
func (c *Cache) checkoutKept(ctx context.Context, e *entry, wt WorkTree, req CheckoutRequest, key string) (bool, error) {
	pt := c.takeTree(key)
	if pt == nil {
		return false, nil
	}
	if err := prepareDir(wt.Dir); err != nil {
		c.keepIdle(pt)
		return false, err
	}
	from := pt.dir
	// prepareDir left an empty directory, which os.Rename does not
	// replace.
	if err := os.Remove(wt.Dir); err != nil {
		c.keepIdle(pt)
		return false, err
	}
	if err := os.Rename(from, wt.Dir); err != nil {
		discardTree(pt)
		return false, nil
	}
	_ = os.Remove(filepath.Dir(from))
	pt.dir = wt.Dir
	if err := c.resetWorkTree(ctx, e, wt, req, pt); err != nil {
		// Whatever state it is in, it is not used again.
		removeAll(wt.Dir)
		return false, nil
	}
	pt.uses++
	if err := c.lendTree(pt); err != nil {
		removeAll(wt.Dir)
		return false, nil
	}
	return true, nil
}

// keepIdle puts pt back unused.
func (c *Cache) keepIdle(pt *pooledTree) {
	c.trees.mu.Lock()
	defer c.trees.mu.Unlock()
	c.trees.idle[pt.key] = append(c.trees.idle[pt.key], pt)
}

// resetWorkTree makes the kept work tree at wt.Dir a checkout of wt as a
// new one would be: its settings, HEAD and refs anew, its index and files
// exactly wt.Head's tree, nothing else in its directory.
func (c *Cache) resetWorkTree(ctx context.Context, e *entry, wt WorkTree, req CheckoutRequest, pt *pooledTree) error {
	gitDir := filepath.Join(wt.Dir, ".git")
	if err := os.WriteFile(filepath.Join(gitDir, "config"), pt.baseConfig, 0o644); err != nil {
		return err
	}
	// Refs, reflogs and the state files of earlier commits and pushes.
	for _, name := range []string{"refs", "logs", "packed-refs", "ORIG_HEAD", "FETCH_HEAD", treeTokenFile, workTreeFile} {
		if err := os.RemoveAll(filepath.Join(gitDir, name)); err != nil {
			return err
		}
	}
	for _, d := range []string{"refs/heads", "refs/tags"} {
		if err := os.MkdirAll(filepath.Join(gitDir, d), 0o755); err != nil {
			return err
		}
	}
	if err := c.writeWorkTreeState(ctx, e, wt, req, ""); err != nil {
		return err
	}
	// Files an earlier Promotion created that never reached the index:
	// ignored ones, or all of them when a step failed before git-commit.
	if _, err := c.inWorkTree(ctx, wt.Dir, nil, "clean", "-ffdxq"); err != nil {
		return err
	}
	return nil
}

// readBaseConfig reads the configuration that `git init` wrote in dir.
func readBaseConfig(dir string) ([]byte, error) {
	return os.ReadFile(filepath.Join(dir, ".git", "config"))
}
