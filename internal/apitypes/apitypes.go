// Package apitypes holds the request and response bodies of kargo's API
// server (internal/server), shared with its client (internal/apiclient) so
// that both sides agree by construction. Resources themselves travel as the
// kargo.akuity.io/v1alpha1 types, exactly as Kubernetes stores them.
//
// The API, all JSON, under /api/v1 (docs/api.md is the reference, and
// /openapi.json describes it):
//
//	GET    /api/v1/version                                   Version
//	GET    /api/v1/auth/config                               AuthConfig (no token needed)
//	GET    /api/v1/whoami                                    WhoAmI
//	GET    /api/v1/projects                                  List of Project
//	GET    /api/v1/projects/{project}                        Project
//	GET    /api/v1/projects/{project}/{kind}                 List (kind: warehouses, stages, freight, promotions, promotionpolicies, promotionwindows, audit)
//	         ?limit=N&continue=TOKEN   pages (default 500, at most 5000), newest-first for freight and promotions
//	         ?alias=A                  freight only: the Freight with that alias
//	         ?watch=true               server-sent events: one "data:" line per WatchEvent; a watch
//	                                   is re-authorized every 30 s and lasts at most 30 min (RECONNECT)
//	GET    /api/v1/projects/{project}/{kind}/{name}          the object (freight: name or alias)
//	POST   /api/v1/projects/{project}/stages/{stage}/promote PromoteRequest -> Promotion
//	POST   /api/v1/projects/{project}/freight/{name}/approve ApproveRequest -> Freight
//	POST   /api/v1/projects/{project}/promotions/{name}/abort AbortRequest -> Promotion
//	POST   /api/v1/projects/{project}/freight/{name}/alias   AliasRequest -> Freight
//	POST   /api/v1/projects/{project}/warehouses/{name}/refresh  -> Warehouse
//	POST   /api/v1/projects/{project}/stages/{name}/refresh      -> Stage
//	POST   /api/v1/projects/{project}/stages/{name}/verify   VerifyRequest -> Stage
//	POST   /api/v1/projects/{project}/stages/{name}/hold     HoldRequest -> Stage
//	POST   /api/v1/projects/{project}/stages/{name}/release  -> Stage
//	POST   /api/v1/projects/{project}/freeze                 HoldRequest -> Project
//	POST   /api/v1/projects/{project}/unfreeze               -> Project
//	GET    /api/v1/projects/{project}/freeze                 Freeze (list on stages)
//	GET    /api/v1/projects/{project}/access?stage=S...      Access (what the caller may do)
//	GET    /api/v1/projects/{project}/gates?stage=S...       Gates (may promotions start now; list on stages and promotionwindows)
//	GET    /api/v1/projects/{project}/promotions/{name}/commits  PromotionCommits
//	GET    /api/v1/projects/{project}/roles                  RoleList
//	POST   /api/v1/projects/{project}/roles                  CreateRoleRequest -> Role
//	DELETE /api/v1/projects/{project}/roles/{name}
//	POST   /api/v1/projects/{project}/roles/{name}/grant     GrantRequest -> Role
//	POST   /api/v1/projects/{project}/roles/{name}/revoke    GrantRequest -> Role
//	GET    /api/v1/projects/{project}/tokens                 TokenList
//	POST   /api/v1/projects/{project}/tokens                 CreateTokenRequest -> Token (its secret, once)
//	DELETE /api/v1/projects/{project}/tokens/{name}
//	POST   /api/v1/apply   | /api/v1/create                  ManifestRequest -> ManifestResult
//	POST   /api/v1/delete                                    ManifestRequest -> ManifestResult
//	GET    /openapi.json
//
// Every request carries "Authorization: Bearer <token>": a Kubernetes token
// the server checks with a TokenReview (or, in kargo local, the local admin
// token, or, with single sign-on, an ID token of the OpenID provider).
// Every endpoint is authorized as the caller with a SubjectAccessReview
// before anything is read or written. Errors are a Status body with the
// HTTP code: 400 bad request, 401 no or bad token, 403 forbidden (naming
// the missing verb), 404 not found, 409 conflict, 422 invalid.
package apitypes

import (
	"encoding/json"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
)

// Version is the server's build.
type Version struct {
	Version   string `json:"version"`
	GitCommit string `json:"gitCommit,omitempty"`
	GoVersion string `json:"goVersion"`
}

// WhoAmI is the caller as the server authenticated them.
type WhoAmI struct {
	Username string   `json:"username"`
	Groups   []string `json:"groups,omitempty"`
}

// List is a page of objects of one kind. Items are the kind's objects
// (v1alpha1.Stage, ...) in JSON.
type List struct {
	Kind     string            `json:"kind"` // "StageList", "FreightList", ...
	Items    []json.RawMessage `json:"items"`
	Continue string            `json:"continue,omitempty"`
	// Total is the number of objects the list holds across all pages.
	Total int `json:"total"`
}

// WatchEvent is one change seen by a watch.
type WatchEvent struct {
	// Type is ADDED, MODIFIED or DELETED for a change of Object; SYNCED or
	// RECONNECT, without an Object, about the stream itself; ERROR, with
	// a Status as Object, as the last event of a watch the server ended
	// because the caller may no longer watch (401 or 403).
	Type   string          `json:"type"`
	Object json.RawMessage `json:"object,omitempty"`
}

// Event types about a watch's stream rather than an object.
const (
	// WatchSynced follows the replay of every current object (as ADDED)
	// at the start of a watch: a client that reconnected knows that
	// objects it had and that were not replayed are gone.
	WatchSynced = "SYNCED"
	// WatchReconnect is the last event of a watch that the server ended
	// because it reached its lifetime: the client opens a new one, which
	// is authorized afresh.
	WatchReconnect = "RECONNECT"
	// WatchError is the last event of a watch that ended with an error;
	// its Object is a metav1.Status saying why.
	WatchError = "ERROR"
)

// PromoteRequest asks to promote Freight, named or by alias, into the Stage
// of the URL.
type PromoteRequest struct {
	Freight      string `json:"freight,omitempty"`
	FreightAlias string `json:"freightAlias,omitempty"`
	// OverrideWindow asks that the Promotion run even while the Stage's
	// promotion windows keep promotions out; it needs the override-window
	// verb on the Stage.
	OverrideWindow bool `json:"overrideWindow,omitempty"`
}

// ApproveRequest approves the Freight of the URL for a Stage. A caller
// with the promote verb on the Stage makes the Freight available there
// without passing through upstream Stages (status.approvedFor); a caller
// with the approve verb records an approval that the Stage's approval
// policies count (status.approvals), with Comment as why. One request does
// both when the caller holds both verbs.
type ApproveRequest struct {
	Stage string `json:"stage"`
	// Comment says why, in at most 1024 characters.
	Comment string `json:"comment,omitempty"`
}

// AbortRequest aborts the Promotion of the URL: it stops at its next safe
// point (before it starts, or between two steps) and ends Aborted. It
// needs the promote verb on the Promotion's Stage.
type AbortRequest struct{}

// AliasRequest gives the Freight of the URL a new alias.
type AliasRequest struct {
	Alias string `json:"alias"`
}

// VerifyRequest verifies a Stage's current Freight again, or with Abort
// stops the running verification.
type VerifyRequest struct {
	Abort bool `json:"abort,omitempty"`
}

// ManifestRequest carries YAML or JSON manifests, several separated by
// "---", as `kargo apply|create|delete -f` reads them.
type ManifestRequest struct {
	Manifests string `json:"manifests"`
	// DryRun asks the Kubernetes API server to check every object (schema,
	// admission webhooks, RBAC) without writing any (apply and create
	// only): the web UI's editor validates with it.
	DryRun bool `json:"dryRun,omitempty"`
}

// ManifestResult says what happened to each object, in order.
type ManifestResult struct {
	Results []ObjectResult `json:"results"`
}

// ObjectResult is what happened to one object of a manifest.
type ObjectResult struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	// Action is created, configured, unchanged or deleted; empty with
	// Error.
	Action string `json:"action,omitempty"`
	// Error is the refusal, when the object was refused; the others are
	// still attempted.
	Error *metav1.Status `json:"error,omitempty"`
}

// AuthConfig tells clients how to sign in besides a bearer token: the
// OpenID provider, when the server has one. It needs no token.
type AuthConfig struct {
	OIDC *OIDCConfig `json:"oidc,omitempty"`
}

// OIDCConfig is the OpenID provider users sign in with, and the public
// clients the web UI and the CLI use there (authorization code with PKCE;
// the CLI also uses the device flow where the provider offers it).
type OIDCConfig struct {
	IssuerURL   string   `json:"issuerURL"`
	ClientID    string   `json:"clientID"`
	CLIClientID string   `json:"cliClientID"`
	Scopes      []string `json:"scopes"`
	// Prefix is put before every username and group the provider names:
	// bind roles to "oidc:alice@example.com" or "oidc:promoters".
	Prefix string `json:"prefix"`
}

// Access says what the caller may do in a project: the answers of
// SelfSubjectAccessReviews the API server makes as the caller, for each
// Stage the question named and for renaming Freight. The web UI asks it to
// offer only the actions the caller may take and to say why the others are
// unavailable; the actions check again when asked.
type Access struct {
	// Stages holds, by name, each Stage the question named.
	Stages map[string]StageAccess `json:"stages"`
	// Rename is update on the project's Freight, which a new alias takes.
	Rename Permission `json:"rename"`
}

// StageAccess is what the caller may do with one Stage.
type StageAccess struct {
	// Promote is the promote verb on the Stage and create on promotions.
	Promote Permission `json:"promote"`
	// Approve (Freight for the Stage) is the promote verb on the Stage
	// (approval that skips upstream Stages) or the approve verb (an
	// approval its approval policies count).
	Approve Permission `json:"approve"`
}

// Permission answers one "may I?".
type Permission struct {
	Allowed bool `json:"allowed"`
	// Reason is, when not allowed, the refusal the action would answer
	// with: who may not do what, and which role grants it.
	Reason string `json:"reason,omitempty"`
}

// Role is a project's role: a Role in the project's namespace, or one of
// the shipped kargo-admin, kargo-promoter and kargo-viewer ClusterRoles,
// with the subjects RoleBindings in the project grant it to.
type Role struct {
	Name string `json:"name"`
	// Kind is Role or ClusterRole.
	Kind            string     `json:"kind"`
	Rules           []RoleRule `json:"rules,omitempty"`
	Users           []string   `json:"users,omitempty"`
	Groups          []string   `json:"groups,omitempty"`
	ServiceAccounts []string   `json:"serviceAccounts,omitempty"`
}

// RoleRule is one rule of a Role, on kargo.akuity.io resources.
type RoleRule struct {
	Verbs         []string `json:"verbs"`
	Resources     []string `json:"resources"`
	ResourceNames []string `json:"resourceNames,omitempty"`
}

// RoleList is a project's roles, by name.
type RoleList struct {
	Items []Role `json:"items"`
}

// CreateRoleRequest creates a Role in a project.
type CreateRoleRequest struct {
	Name  string     `json:"name"`
	Rules []RoleRule `json:"rules"`
}

// GrantRequest names the subjects a role is granted to, or revoked from.
// Service accounts are named "NAME" (in the project) or "NAMESPACE:NAME".
type GrantRequest struct {
	Users           []string `json:"users,omitempty"`
	Groups          []string `json:"groups,omitempty"`
	ServiceAccounts []string `json:"serviceAccounts,omitempty"`
}

// CreateTokenRequest creates an API token in a project with one role.
type CreateTokenRequest struct {
	Name string `json:"name"`
	Role string `json:"role"`
	// ExpirationSeconds is the token's lifetime; 90 days when 0. The
	// Kubernetes API server may shorten it.
	ExpirationSeconds int64 `json:"expirationSeconds,omitempty"`
}

// Token is an API token as listed: never its secret, except in the
// response to its creation.
type Token struct {
	Name string `json:"name"`
	// Role is the role the token holds, "Role/NAME" or "ClusterRole/NAME".
	Role      string       `json:"role"`
	CreatedBy string       `json:"createdBy,omitempty"`
	Created   metav1.Time  `json:"created"`
	Expires   *metav1.Time `json:"expires,omitempty"`
	// Username is the identity the token authenticates as (its
	// ServiceAccount), for RoleBindings and audit logs.
	Username string `json:"username"`
	// Token is the bearer token, only in the response to its creation.
	Token string `json:"token,omitempty"`
}

// TokenList is a project's API tokens, by name.
type TokenList struct {
	Items []Token `json:"items"`
}

// HoldRequest holds a Stage or freezes a project, saying why. Who set it
// is the caller, as the server authenticated them: a request cannot name
// anyone else.
type HoldRequest struct {
	Reason string `json:"reason"`
}

// Freeze is a project's freeze, or none.
type Freeze struct {
	Freeze *kargoapi.Hold `json:"freeze"`
}

// Gates says, for each Stage of a project, whether a Promotion into it
// would start now and why not: the decision the Promotion controller makes
// (internal/flowgate), at the server's time Now.
type Gates struct {
	Now    metav1.Time          `json:"now"`
	Stages map[string]StageGate `json:"stages"`
}

// StageGate is whether promotions may start in one Stage now.
type StageGate struct {
	// Open says whether a Promotion into the Stage would start now: it is
	// not held, its project is not frozen, and its windows let it in.
	Open bool `json:"open"`
	// Stop is what keeps Promotions out, when not Open: the first of the
	// Stage's hold, the project's freeze and its windows.
	Stop *GateStop `json:"stop,omitempty"`
	// Windows is what the Stage's PromotionWindows say, holds and freezes
	// aside.
	Windows WindowDecision `json:"windows"`
	// OverrideWindow is whether the caller may promote through the closed
	// windows (the override-window verb on the Stage); answered only for
	// the Stages the question named, and only while windows keep
	// promotions out.
	OverrideWindow *Permission `json:"overrideWindow,omitempty"`
}

// GateStop is what keeps Promotions out of a Stage.
type GateStop struct {
	// Kind is Hold, Freeze or Window.
	Kind string `json:"kind"`
	// Message is what a Promotion that waits for it says.
	Message string `json:"message"`
}

// WindowDecision is what a Stage's PromotionWindows say now.
type WindowDecision struct {
	// Open says whether the windows let promotions in.
	Open bool `json:"open"`
	// Selecting counts the windows that select the Stage.
	Selecting int `json:"selecting"`
	// Window is the window that decides: the one that keeps promotions
	// out; when open, an open Allow window, else the window that next
	// closes the Stage; absent when no window has a say.
	Window *GateWindow `json:"window,omitempty"`
	// NextChange is when Open next flips; absent when it does not within
	// a week (the schedules repeat weekly) or a window cannot be read.
	NextChange *metav1.Time `json:"nextChange,omitempty"`
	// Message, when closed, is what a Promotion that waits says.
	Message string `json:"message,omitempty"`
}

// GateWindow names a PromotionWindow that decides.
type GateWindow struct {
	Name        string `json:"name"`
	Kind        string `json:"kind,omitempty"`
	TimeZone    string `json:"timeZone"`
	Description string `json:"description,omitempty"`
	// Invalid says why the window cannot be read; it then keeps
	// promotions out.
	Invalid string `json:"invalid,omitempty"`
}

// PromotionCommits are the commits a Promotion made, read from the Git
// server with the project's credentials: on each branch the Promotion
// wrote, the commits that carry its Kargo-Promotion trailer, each with the
// patch of what it changed (bounded).
type PromotionCommits struct {
	Commits []PromotionCommit `json:"commits"`
	// Notes say what could not be read, and why: a repository the server
	// could not reach, a repository named by an expression it does not
	// evaluate.
	Notes []string `json:"notes,omitempty"`
}

// PromotionCommit is one commit a Promotion made.
type PromotionCommit struct {
	// RepoURL is the repository, without userinfo.
	RepoURL string `json:"repoURL"`
	Branch  string `json:"branch"`
	ID      string `json:"id"`
	Parent  string `json:"parent,omitempty"`
	Subject string `json:"subject"`
	Author  string `json:"author"`
	// Time is the commit's date, RFC 3339.
	Time  string     `json:"time"`
	Files []FileDiff `json:"files"`
	// MoreFiles counts the changed files past the bound, not shown.
	MoreFiles int `json:"moreFiles,omitempty"`
}

// FileDiff is what a commit changed in one file.
type FileDiff struct {
	Path string `json:"path"`
	// Status is A (added), M (modified), D (deleted) or T (type changed).
	Status string `json:"status"`
	// Patch is the file's unified diff, cut at the server's bound.
	Patch     string `json:"patch,omitempty"`
	Binary    bool   `json:"binary,omitempty"`
	Truncated bool   `json:"truncated,omitempty"`
}
