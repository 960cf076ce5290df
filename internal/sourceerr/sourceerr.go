// Package sourceerr names the ways an artifact source (a Git repository, an
// image registry, a chart repository) can fail, so that controllers can turn
// any source's error into a condition that says what to fix.
package sourceerr

import (
	"errors"
	"fmt"
	"time"

	"github.com/kargohq/kargo/internal/egress"
)

// Sentinel errors that source packages wrap with %w.
var (
	// ErrUnauthorized means the source refused the credentials, or asked
	// for credentials and none matched.
	ErrUnauthorized = errors.New("authentication failed")
	// ErrNotFound means the repository, image or chart does not exist.
	ErrNotFound = errors.New("not found")
	// ErrUnreachable means the source could not be reached or answered with
	// a server error.
	ErrUnreachable = errors.New("unreachable")
	// ErrNoMatch means the source has artifacts but none satisfies the
	// subscription's constraint or filters.
	ErrNoMatch = errors.New("nothing matches")
	// ErrInvalid means the subscription itself cannot be used, such as an
	// allowTags pattern that is not a regular expression. Retrying does not
	// help; the spec must change.
	ErrInvalid = errors.New("invalid spec")
	// ErrInsecureCredentials means credentials would have been sent over
	// plain HTTP, which is refused.
	ErrInsecureCredentials = errors.New("credentials are never sent over plain http://; use https://")
)

// RateLimitedError means the source, or kargo's own per-host limit, asks to
// wait until RetryAfter.
type RateLimitedError struct {
	// Host is the rate-limited host.
	Host string
	// RetryAfter is when to try again.
	RetryAfter time.Time
}

// Error says who limited the rate and when the next attempt is.
func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("rate limited by %s: retrying at %s", e.Host, e.RetryAfter.UTC().Format(time.RFC3339))
}

// Reason returns a PascalCase condition reason for err.
func Reason(err error) string {
	var (
		rl       *RateLimitedError
		tooLarge *egress.TooLargeError
	)
	switch {
	case err == nil:
		return ""
	case errors.Is(err, egress.ErrRefused):
		// The controller's outbound address policy refused the source's
		// address: the spec or the controller's flags must change.
		return "AddressRefused"
	case errors.As(err, &tooLarge):
		return "TooLarge"
	case errors.As(err, &rl):
		return "RateLimited"
	case errors.Is(err, ErrUnauthorized), errors.Is(err, ErrInsecureCredentials):
		return "AuthenticationFailed"
	case errors.Is(err, ErrNotFound):
		return "NotFound"
	case errors.Is(err, ErrNoMatch):
		return "NoMatch"
	case errors.Is(err, ErrInvalid):
		return "InvalidSubscription"
	case errors.Is(err, ErrUnreachable):
		return "Unreachable"
	default:
		return "DiscoveryFailed"
	}
}

// Terminal reports whether retrying cannot help until the spec changes.
func Terminal(err error) bool {
	return errors.Is(err, ErrInvalid)
}
