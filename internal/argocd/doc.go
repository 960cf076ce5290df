// Package argocd carries out a Stage's argoCDAppUpdates and reads back the
// health of the Applications they touch.
//
// Updater changes an Application's sources (kustomize image overrides, Helm
// parameters, targetRevision) and asks Argo CD for a hard refresh and a sync,
// in one JSON merge patch built from the Application's own JSON document, so
// that every field kargo does not know survives, even inside the lists kargo
// rewrites. Health turns what Argo CD reports into a kargo Health.
//
// An Application is changed only when it opts in with the annotation
// kargo.akuity.io/authorized-stage: "<project>:<stage>": a Stage's author
// controls a kargo Project, not the Argo CD Applications of other teams.
package argocd
