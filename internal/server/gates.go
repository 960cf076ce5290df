package server

import (
	"context"
	"net/http"
	"time"

	"golang.org/x/sync/errgroup"
	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/apitypes"
	"github.com/kargohq/kargo/internal/authz"
	"github.com/kargohq/kargo/internal/flowgate"
)

// getGates answers whether a Promotion into each Stage of the project
// (those the query names, or all) would start now, and why not: the
// decision the Promotion controller makes with internal/flowgate, over the
// same objects (the Stage's hold, the project's freeze, the project's
// PromotionWindows), at the server's clock. It tells what kargo get stages
// tells, and takes what that takes: list on stages and on promotionwindows
// in the project, checked as the caller. For the Stages the query names
// and the windows close, it also answers whether the caller may override
// them (a SelfSubjectAccessReview of override-window, as the caller).
func (s *Server) getGates(w http.ResponseWriter, r *http.Request, u authenticationv1.UserInfo) error {
	ctx := r.Context()
	project := r.PathValue("project")
	named, err := accessStages(r.URL.Query()["stage"])
	if err != nil {
		return err
	}
	for _, acc := range []access{kargoAccess("list", stageKind.resource, project, ""), kargoAccess("list", windowKind.resource, project, "")} {
		if err := s.authz.check(ctx, u, acc); err != nil {
			return err
		}
	}
	if err := s.inProject(ctx, project); err != nil {
		return err
	}
	var proj *kargoapi.Project
	if obj, err := s.read(ctx, projectKind, "", project); err == nil {
		proj = obj.(*kargoapi.Project)
	}
	stages, err := s.lists.snapshot(ctx, stageKind, project)
	if err != nil {
		return err
	}
	windowSnap, err := s.lists.snapshot(ctx, windowKind, project)
	if err != nil {
		return err
	}
	windows := make([]kargoapi.PromotionWindow, 0, len(windowSnap.entries))
	specs := make(map[string]*kargoapi.PromotionWindow, len(windowSnap.entries))
	for _, e := range windowSnap.entries {
		if pw, ok := e.obj.(*kargoapi.PromotionWindow); ok {
			windows = append(windows, *pw)
			specs[pw.Name] = pw
		}
	}
	wanted := make(map[string]bool, len(named))
	for _, n := range named {
		wanted[n] = true
	}

	now := time.Now()
	answer := apitypes.Gates{Now: metav1.NewTime(now.UTC().Truncate(time.Second)), Stages: map[string]apitypes.StageGate{}}
	var toReview []string
	for _, e := range stages.entries {
		st, ok := e.obj.(*kargoapi.Stage)
		if !ok || (len(named) > 0 && !wanted[st.Name]) {
			continue
		}
		g := apitypes.StageGate{Open: true}
		if stop := flowgate.Check(st, proj, windows, now, false); stop != nil {
			g.Open = false
			g.Stop = &apitypes.GateStop{Kind: string(stop.Kind), Message: stop.Message()}
		}
		g.Windows = windowDecision(flowgate.Decide(st, windows, now), specs)
		if !g.Windows.Open && wanted[st.Name] {
			toReview = append(toReview, st.Name)
		}
		answer.Stages[st.Name] = g
	}
	if err := s.reviewOverrides(ctx, u, project, toReview, answer.Stages); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, answer)
	return nil
}

// reviewOverrides answers, in gates, whether the caller may override the
// windows of each of stages, as the promotions webhook would decide it.
func (s *Server) reviewOverrides(ctx context.Context, u authenticationv1.UserInfo, project string, stages []string, gates map[string]apitypes.StageGate) error {
	if len(stages) == 0 {
		return nil
	}
	c, _, err := s.impersonating(u)
	if err != nil {
		return err
	}
	answers := make([]apitypes.Permission, len(stages))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(accessParallelism)
	for i, stage := range stages {
		g.Go(func() error {
			allowed, reason, err := selfReview(gctx, c, kargoAccess(kargoapi.OverrideWindowVerb, stageKind.resource, project, stage))
			answers[i] = permission(allowed, func() string {
				return (&authz.StageVerbDenied{User: u.Username, Namespace: project, Verb: kargoapi.OverrideWindowVerb, Stage: stage, Reason: reason}).Error()
			})
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for i, stage := range stages {
		gate := gates[stage]
		gate.OverrideWindow = &answers[i]
		gates[stage] = gate
	}
	return nil
}

// windowDecision is d as the API answers it; specs are the project's
// windows by name, for what a window that cannot be read says of itself.
func windowDecision(d flowgate.Decision, specs map[string]*kargoapi.PromotionWindow) apitypes.WindowDecision {
	out := apitypes.WindowDecision{Open: d.Open, Selecting: d.Selecting}
	if d.Stop != nil {
		out.Message = d.Stop.Message()
	}
	if !d.Change.IsZero() {
		t := metav1.NewTime(d.Change.UTC())
		out.NextChange = &t
	}
	if w := d.Window; w != nil {
		gw := &apitypes.GateWindow{Name: w.Name, Kind: string(w.Kind), TimeZone: w.Location().String(), Description: w.Description}
		if d.Stop != nil && d.Stop.Invalid != nil {
			gw.Invalid = d.Stop.Invalid.Error()
			if spec := specs[w.Name]; spec != nil {
				gw.Kind, gw.TimeZone, gw.Description = string(spec.Spec.Kind), spec.Spec.TimeZone, spec.Spec.Description
			}
		}
		out.Window = gw
	}
	return out
}
