package v1alpha1

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// RepoSubscription is one entry of the list form of a Warehouse's
// subscriptions, as Kargo v0.4–v0.6 wrote them: exactly one of Git, Image
// or Chart.
type RepoSubscription struct {
	// Git watches a Git repository.
	//
	// +optional
	Git *GitSubscription `json:"git,omitempty"`
	// Image watches a container image repository.
	//
	// +optional
	Image *ImageSubscription `json:"image,omitempty"`
	// Chart watches a Helm chart.
	//
	// +optional
	Chart *ChartSubscription `json:"chart,omitempty"`
}

// UnmarshalJSON reads either shape of subscriptions: the object with git,
// images and charts lists, or the list of entries that each hold one of
// git, image or chart (Kargo v0.4–v0.6). Both become the same
// RepoSubscriptions, in list order within each kind, with the defaults the
// schema gives the object form (NewestFromBranch, SemVer) filled in. Fields
// neither shape has are an error, as is an entry with none or several of
// git, image and chart: a Warehouse's subscriptions are not pruned by the
// API server, so they are checked here and by the Warehouse webhook.
func (r *RepoSubscriptions) UnmarshalJSON(b []byte) error {
	trimmed := bytes.TrimSpace(b)
	if bytes.Equal(trimmed, []byte("null")) {
		*r = RepoSubscriptions{}
		return nil
	}
	var out RepoSubscriptions
	if len(trimmed) > 0 && trimmed[0] == '[' {
		var entries []json.RawMessage
		if err := json.Unmarshal(trimmed, &entries); err != nil {
			return fmt.Errorf("subscriptions: %w", err)
		}
		for i, raw := range entries {
			var e RepoSubscription
			if err := strictUnmarshal(raw, &e); err != nil {
				return fmt.Errorf("subscriptions[%d]: %w", i, err)
			}
			n := 0
			if e.Git != nil {
				n++
				out.Git = append(out.Git, *e.Git)
			}
			if e.Image != nil {
				n++
				out.Images = append(out.Images, *e.Image)
			}
			if e.Chart != nil {
				n++
				out.Charts = append(out.Charts, *e.Chart)
			}
			if n != 1 {
				return fmt.Errorf("subscriptions[%d]: an entry of the list form must hold exactly one of git, image or chart, not %d", i, n)
			}
		}
	} else {
		type object RepoSubscriptions // without this method
		var o object
		if err := strictUnmarshal(trimmed, &o); err != nil {
			return fmt.Errorf("subscriptions: %w", err)
		}
		out = RepoSubscriptions(o)
	}
	out.fillDefaults()
	*r = out
	return nil
}

// fillDefaults gives subscriptions the defaults the object form's schema
// gives them.
func (r *RepoSubscriptions) fillDefaults() {
	for i := range r.Git {
		if r.Git[i].CommitSelectionStrategy == "" {
			r.Git[i].CommitSelectionStrategy = CommitSelectionNewestFromBranch
		}
	}
	for i := range r.Images {
		if r.Images[i].ImageSelectionStrategy == "" {
			r.Images[i].ImageSelectionStrategy = ImageSelectionSemVer
		}
	}
}

func strictUnmarshal(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	return d.Decode(v)
}
