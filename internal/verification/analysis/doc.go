// Package analysis runs a Stage's Argo Rollouts AnalysisTemplates as one
// AnalysisRun and reads back what Argo Rollouts concludes.
//
// Argo Rollouts' Go types are not a dependency of kargo: templates and runs
// are handled as unstructured objects of group argoproj.io, version
// v1alpha1, and only the fields kargo needs are read or written. Argo
// Rollouts' own controller does the measuring; kargo merges the templates,
// creates the run, mirrors its phase and can ask it to stop.
package analysis
