// Package audit is kargo's audit trail: an AuditRecord per action taken
// through the API server, written in the action's project by the API server
// with its own identity and read by the project's viewers.
//
// The store is the Kubernetes API itself, one append-only object per
// action. Kubernetes Events would expire within the hour and may be
// dropped; a ConfigMap or Secret log would be one object rewritten by every
// action, bounded at a megabyte, and every reader would need the right to
// read the whole of it. Objects of a kind of their own get RBAC per verb
// (the API server may create, the controller delete, viewers read; nobody
// may update), survive restarts of every kargo process, and are trimmed to
// a retention bound per project by Retention.
package audit

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
)

// maxMessage bounds Outcome.Message, as the CRD does.
const maxMessage = 1024

// New returns the record of action on target in project by u, ended at
// now with outcome. Its name is generated from the action.
func New(project string, u authenticationv1.UserInfo, action string, target kargoapi.AuditTarget, details map[string]string, outcome kargoapi.AuditOutcome, now time.Time) *kargoapi.AuditRecord {
	outcome.Message = truncate(outcome.Message, maxMessage)
	if len(details) == 0 {
		details = nil
	}
	return &kargoapi.AuditRecord{
		TypeMeta:   metav1.TypeMeta{APIVersion: kargoapi.GroupVersion.String(), Kind: "AuditRecord"},
		ObjectMeta: metav1.ObjectMeta{Namespace: project, GenerateName: action + "-"},
		Time:       metav1.NewMicroTime(now),
		Actor:      kargoapi.AuditActor{Username: u.Username, Groups: u.Groups},
		Action:     action,
		Target:     target,
		Details:    details,
		Outcome:    outcome,
	}
}

// truncate cuts s to at most n bytes on a rune boundary, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const mark = "…"
	cut := n - len(mark)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + mark
}

// Filter selects records: those about Stage (when set) at or after Since
// (when not zero).
type Filter struct {
	Stage string
	Since time.Time
}

// Matches says whether the filter selects r.
func (f Filter) Matches(r *kargoapi.AuditRecord) bool {
	if f.Stage != "" && r.Target.Stage != f.Stage && !(r.Target.Kind == "Stage" && r.Target.Name == f.Stage) {
		return false
	}
	return f.Since.IsZero() || !r.Time.Time.Before(f.Since)
}

// ParseSince reads a --since value: a duration back from now (90m, 24h,
// 7d) or an RFC 3339 time.
func ParseSince(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	d, err := parseDuration(s)
	if err != nil || d < 0 {
		return time.Time{}, fmt.Errorf("since %q is neither a duration such as 90m, 24h or 7d nor an RFC 3339 time such as 2025-01-31T09:00:00Z", s)
	}
	return now.Add(-d), nil
}

// parseDuration is time.ParseDuration with days (d) too.
func parseDuration(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		var n int
		if _, err := fmt.Sscanf(days, "%d", &n); err != nil || fmt.Sprint(n) != days {
			return 0, fmt.Errorf("not a number of days: %q", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}
