package freight

import (
	"sync"
	"time"
)

// AliasClaimTTL is how long an alias admitted for one Freight is refused to
// every other: far longer than the moment between admission and the write
// that makes the alias visible to a List.
const AliasClaimTTL = 30 * time.Second

// AliasClaims make alias uniqueness hold for Freight admitted at the same
// time. Checking that no Freight holds an alias is a List; two creations
// with one alias checked at once would both pass it, since neither is
// stored yet. So the Validator checks one alias at a time (a lock per
// project and alias, not per project: Freight with different aliases are
// admitted in parallel) and remembers what it admitted for AliasClaimTTL.
// One webhook server arbitrates: several replicas behind one Service would
// each hold their own claims.
type AliasClaims struct {
	// Now is the clock; time.Now when nil.
	Now func() time.Time

	mu     sync.Mutex
	claims map[string]*aliasClaim
}

type aliasClaim struct {
	// mu is held while the alias is checked and claimed.
	mu sync.Mutex
	// name and until are the Freight admitted with the alias and until
	// when the claim holds; guarded by mu.
	name  string
	until time.Time
	// users counts the checks that hold or wait for mu; guarded by
	// AliasClaims.mu.
	users int
}

func (a *AliasClaims) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// acquire returns the claim of key, locked.
func (a *AliasClaims) acquire(key string) *aliasClaim {
	a.mu.Lock()
	if a.claims == nil {
		a.claims = map[string]*aliasClaim{}
	}
	c := a.claims[key]
	if c == nil {
		c = &aliasClaim{}
		a.claims[key] = c
	}
	c.users++
	a.mu.Unlock()
	c.mu.Lock()
	return c
}

// release unlocks c and forgets it once nobody uses it and it has expired.
func (a *AliasClaims) release(key string, c *aliasClaim) {
	expired := !a.now().Before(c.until)
	c.mu.Unlock()
	a.mu.Lock()
	defer a.mu.Unlock()
	c.users--
	if c.users == 0 && expired {
		delete(a.claims, key)
	}
	if len(a.claims) > 1024 {
		a.sweepLocked()
	}
}

// sweepLocked forgets expired claims nobody uses.
func (a *AliasClaims) sweepLocked() {
	now := a.now()
	for k, c := range a.claims {
		if c.users == 0 && !now.Before(c.until) {
			delete(a.claims, k)
		}
	}
}

// check runs taken, which says which other Freight holds alias in
// namespace (or ""), with no other check of that alias under way. It
// returns the holder: a Freight other than name admitted with alias within
// AliasClaimTTL, or what taken found; when there is none, name claims the
// alias.
func (a *AliasClaims) check(namespace, alias, name string, taken func() (string, error)) (string, error) {
	if a == nil {
		return taken()
	}
	key := namespace + "/" + alias
	c := a.acquire(key)
	defer a.release(key, c)
	if c.name != "" && c.name != name && a.now().Before(c.until) {
		return c.name, nil
	}
	holder, err := taken()
	if err != nil || holder != "" {
		return holder, err
	}
	c.name, c.until = name, a.now().Add(AliasClaimTTL)
	return "", nil
}
