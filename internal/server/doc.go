// Package server is kargo's API server: the JSON-over-HTTP API of
// internal/apitypes, which the kargo CLI and UI use instead of talking to
// the Kubernetes API server directly.
//
// # Identity and rights
//
// The server has an identity of its own (Options.Config, bound to the
// kargo-api ClusterRole on a cluster) and acts for callers, who present a
// Kubernetes bearer token. A token is checked with a TokenReview; a
// successful review is remembered for a minute (no longer than a JWT's
// exp), and a refusal for 30 seconds, under the SHA-256 of the token,
// never the token itself.
//
// Every endpoint asks the Kubernetes API server, with a
// SubjectAccessReview for the caller, whether the caller may do what the
// endpoint does, before anything is read or written; answers are
// remembered for five seconds. Writes a user could make with kubectl
// (promotions, aborting one, aliases, refreshes, manifests) are then made
// by impersonating the caller, so that RBAC and kargo's admission webhooks
// judge them exactly as they would judge kubectl. Writes no user role
// grants are made with the server's own identity, after the caller's verb
// was checked: approving Freight (its status) and asking a Stage to verify
// again or abort (an annotation), after promote on the Stage (or, for an
// approval an approval policy counts, approve); holding or releasing a
// Stage (status.hold) and freezing or unfreezing a project (the Project's
// status.freeze), after the virtual verbs hold, release, freeze and
// unfreeze (holds.go). Their answers show the object only to callers who
// may get it.
//
// Watches are authorized again every Options.WatchRecheck and end after
// Options.WatchLifetime (see watch).
//
// Freight in a URL is named by its name when the segment has the form of
// one (40 lowercase hex digits) and by its alias otherwise. An alias does
// not say which Freight it names until it is looked up, so a verb on
// Freight by alias is authorized on all Freight of the project.
//
// /api/v1/version and /openapi.json need no token; /api/v1/whoami needs
// one but no further right, since it only tells callers who they are.
//
// # Reads
//
// Reads come from an informer cache shared by all callers. Lists are
// served from sorted snapshots kept per kind and project (Freight newest
// discovered first, Promotions newest first, the rest by name), rebuilt
// only after a change, with each object's JSON encoded once per
// resourceVersion, so that a page of a 10,000-Freight project costs a copy
// of bytes rather than a sort and an encoding.
//
// Paging: a continue token names the snapshot its first page came from,
// the offset reached, and the sort key of the last object served. While
// that snapshot is retained (for ten minutes after it was replaced), the
// next page comes from it, so the pages of one listing are one consistent
// list: no object twice, none missed, whatever changes meanwhile. After
// that (or beyond the last eight retained snapshots of a busy list, or on
// another server replica), the next page continues from the current list
// after the last sort key served: still no object twice, and objects added
// meanwhile appear only if they sort after that point. Snapshots of a list
// nobody read for half an hour are dropped.
//
// Objects are served as stored, except for metadata.managedFields, which
// the cache drops to save memory; kubectl get hides them too.
package server
