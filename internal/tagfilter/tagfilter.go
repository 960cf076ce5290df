// Package tagfilter decides which tags a subscription considers, for image
// and Git subscriptions alike: allowTags (one regular expression), Kargo
// v1's allowTagsRegexes and ignoreTagsRegexes (lists), and ignoreTags
// (exact tags).
package tagfilter

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/kargohq/kargo/internal/sourceerr"
)

// Spec is what a subscription says about tags.
type Spec struct {
	Allow         string
	AllowRegexes  []string
	Ignore        []string
	IgnoreRegexes []string
}

// Filter keeps the tags a Spec allows. The zero Filter keeps every tag.
type Filter struct {
	allow         *regexp.Regexp
	allowAny      []*regexp.Regexp
	ignore        map[string]struct{}
	ignoreAny     []*regexp.Regexp
	describeParts []string
}

// New compiles spec. An expression that does not compile is an error
// that names its field and wraps sourceerr.ErrInvalid.
func New(spec Spec) (Filter, error) {
	f := Filter{}
	if spec.Allow != "" {
		re, err := regexp.Compile(spec.Allow)
		if err != nil {
			return f, fmt.Errorf("%w: allowTags %q is not a regular expression: %v", sourceerr.ErrInvalid, spec.Allow, err)
		}
		f.allow = re
		f.describeParts = append(f.describeParts, fmt.Sprintf("matches allowTags %q", spec.Allow))
	}
	compile := func(field string, exprs []string) ([]*regexp.Regexp, error) {
		out := make([]*regexp.Regexp, 0, len(exprs))
		for i, e := range exprs {
			re, err := regexp.Compile(e)
			if err != nil {
				return nil, fmt.Errorf("%w: %s[%d] %q is not a regular expression: %v", sourceerr.ErrInvalid, field, i, e, err)
			}
			out = append(out, re)
		}
		return out, nil
	}
	var err error
	if f.allowAny, err = compile("allowTagsRegexes", spec.AllowRegexes); err != nil {
		return f, err
	}
	if len(spec.AllowRegexes) > 0 {
		f.describeParts = append(f.describeParts, fmt.Sprintf("matches one of allowTagsRegexes %q", spec.AllowRegexes))
	}
	if f.ignoreAny, err = compile("ignoreTagsRegexes", spec.IgnoreRegexes); err != nil {
		return f, err
	}
	if len(spec.IgnoreRegexes) > 0 {
		f.describeParts = append(f.describeParts, fmt.Sprintf("matches none of ignoreTagsRegexes %q", spec.IgnoreRegexes))
	}
	if len(spec.Ignore) > 0 {
		f.ignore = make(map[string]struct{}, len(spec.Ignore))
		for _, t := range spec.Ignore {
			f.ignore[t] = struct{}{}
		}
		f.describeParts = append(f.describeParts, fmt.Sprintf("is not in ignoreTags %q", spec.Ignore))
	}
	return f, nil
}

// Keep says whether tag passes every filter.
func (f Filter) Keep(tag string) bool {
	if _, ignored := f.ignore[tag]; ignored {
		return false
	}
	if f.allow != nil && !f.allow.MatchString(tag) {
		return false
	}
	for _, re := range f.ignoreAny {
		if re.MatchString(tag) {
			return false
		}
	}
	if len(f.allowAny) == 0 {
		return true
	}
	for _, re := range f.allowAny {
		if re.MatchString(tag) {
			return true
		}
	}
	return false
}

// Apply returns the tags that Keep keeps, in order.
func (f Filter) Apply(tags []string) []string {
	if f.Empty() {
		return tags
	}
	out := make([]string, 0, len(tags))
	for _, t := range tags {
		if f.Keep(t) {
			out = append(out, t)
		}
	}
	return out
}

// Empty says whether the filter keeps every tag.
func (f Filter) Empty() bool {
	return f.allow == nil && len(f.allowAny) == 0 && len(f.ignore) == 0 && len(f.ignoreAny) == 0
}

// Describe says what a kept tag satisfies, for a "nothing matches"
// message: `matches allowTags "^v" and is not in ignoreTags ["v2"]`.
func (f Filter) Describe() string {
	return strings.Join(f.describeParts, " and ")
}
