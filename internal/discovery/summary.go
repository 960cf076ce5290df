package discovery

import (
	"errors"
	"strings"
	"time"

	"github.com/kargohq/kargo/internal/sourceerr"
)

// Summary is what a set of failures means for the subscriber.
type Summary struct {
	// Reason is a PascalCase condition reason.
	Reason string
	// Message names every failed subscription and its cause.
	Message string
	// Terminal is true when a subscription can never work as written.
	Terminal bool
	// NoMatch is true when the only problem is that nothing satisfies the
	// subscriptions yet: waiting for the next poll is the right response.
	NoMatch bool
	// RetryAt is when a rate limit ends, if one applies.
	RetryAt time.Time
}

// Summarize decides what failures mean: terminal ones win, then rate
// limits, then the first failure's kind.
func Summarize(failures []Failure) Summary {
	if len(failures) == 0 {
		return Summary{}
	}
	msgs := make([]string, 0, len(failures))
	s := Summary{Reason: sourceerr.Reason(failures[0].Err), NoMatch: true}
	for _, f := range failures {
		msgs = append(msgs, f.Error())
		var rl *sourceerr.RateLimitedError
		switch {
		case sourceerr.Terminal(f.Err):
			if !s.Terminal {
				s.Reason = sourceerr.Reason(f.Err)
			}
			s.Terminal = true
		case errors.As(f.Err, &rl) && rl.RetryAfter.After(s.RetryAt):
			s.RetryAt = rl.RetryAfter
		}
		if !errors.Is(f.Err, sourceerr.ErrNoMatch) {
			s.NoMatch = false
		}
	}
	if !s.Terminal && !s.RetryAt.IsZero() {
		s.Reason = "RateLimited"
	}
	s.Message = "Cannot discover artifacts: " + strings.Join(msgs, "; ")
	return s
}
