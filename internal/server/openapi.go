package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"

	"github.com/kargohq/kargo/config/crd"
	"github.com/kargohq/kargo/internal/apitypes"
)

// operation documents one endpoint in /openapi.json. The table is kept
// apart from the routes on purpose: a test checks that the two agree.
type operation struct {
	method, path string
	id, summary  string
	query        []parameter
	// request is the component schema of the body, if any.
	request string
	// status and response are the success code and its component schema.
	status   int
	response string
	// stream marks the list endpoints that also stream (watch=true).
	stream bool
	public bool
}

type parameter struct {
	name, description, typ string
	// repeated parameters may be given several times (?stage=a&stage=b).
	repeated bool
}

var listQuery = []parameter{
	{name: "limit", description: "objects per page: 500 when absent or 0, at most 5000", typ: "integer"},
	{name: "continue", description: "the continue token of the previous page", typ: "string"},
	{name: "watch", description: "true: stream the objects, then their changes, as server-sent events (text/event-stream), one `data:` line of WatchEvent JSON per event", typ: "boolean"},
}

var operations = []operation{
	{method: http.MethodGet, path: "/api/v1/version", id: "getVersion", summary: "The server's version; needs no token.", status: 200, response: "Version", public: true},
	{method: http.MethodGet, path: "/api/v1/auth/config", id: "getAuthConfig", summary: "How to sign in besides a bearer token: the OpenID provider and its public clients, when the server has one; needs no token.", status: 200, response: "AuthConfig", public: true},
	{method: http.MethodGet, path: "/api/v1/whoami", id: "whoAmI", summary: "The caller, as the server authenticated them.", status: 200, response: "WhoAmI"},
	{method: http.MethodGet, path: "/api/v1/projects", id: "listProjects", summary: "The Projects (list, or watch, on projects cluster-wide).", query: listQuery, status: 200, response: "List", stream: true},
	{method: http.MethodGet, path: "/api/v1/projects/{project}", id: "getProject", summary: "One Project (get on the project).", status: 200, response: "Project"},
	{method: http.MethodGet, path: "/api/v1/projects/{project}/{kind}", id: "listObjects",
		summary: "A page of the project's objects of one kind (list, or watch, on the kind in the project); Freight is newest first by discovery, Promotions and audit records newest first, the others by name.",
		query: append([]parameter{
			{name: "alias", description: "Freight only: the Freight with this alias (zero or one)", typ: "string"},
			{name: "stage", description: "audit only: the records about this Stage (paged like the whole trail, newest first; total counts those selected)", typ: "string"},
			{name: "since", description: "audit only: the records of actions at or after this, a duration back from now (90m, 24h, 7d) or an RFC 3339 time (paged like the whole trail, newest first)", typ: "string"},
		}, listQuery...), status: 200, response: "List", stream: true},
	{method: http.MethodGet, path: "/api/v1/projects/{project}/{kind}/{name}", id: "getObject", summary: "One object (get on it; Freight by alias needs get on all Freight of the project).", status: 200, response: "Object"},
	{method: http.MethodPost, path: "/api/v1/projects/{project}/stages/{stage}/promote", id: "promote", summary: "Promote Freight, by name or alias, into the Stage: needs the promote verb on the Stage and create on promotions; the Promotion is created as the caller.", request: "PromoteRequest", status: 201, response: "Promotion"},
	{method: http.MethodPost, path: "/api/v1/projects/{project}/freight/{name}/approve", id: "approveFreight", summary: "Approve the Freight (name or alias) for a Stage, with a comment: the promote verb on the Stage lets it skip the Stages upstream (status.approvedFor), the approve verb records an approval the Stage's approval policies count (status.approvals); it needs one of the two, and does what each allows.", request: "ApproveRequest", status: 200, response: "Freight"},
	{method: http.MethodPost, path: "/api/v1/projects/{project}/promotions/{name}/abort", id: "abortPromotion", summary: "Abort a Pending or Running Promotion at its next safe point (before it starts, or between two steps): needs the promote verb on its Stage and patch on the Promotion; made as the caller (409 when it has ended).", request: "AbortRequest", status: 200, response: "Promotion"},
	{method: http.MethodPost, path: "/api/v1/projects/{project}/freight/{name}/alias", id: "setFreightAlias", summary: "Give the Freight (name or alias) a new alias, or none: needs update on freights; made as the caller (409 when another Freight holds the alias).", request: "AliasRequest", status: 200, response: "Freight"},
	{method: http.MethodPost, path: "/api/v1/projects/{project}/warehouses/{name}/refresh", id: "refreshWarehouse", summary: "Make the Warehouse look for new artifacts now: needs patch on it; made as the caller.", status: 200, response: "Warehouse"},
	{method: http.MethodPost, path: "/api/v1/projects/{project}/stages/{name}/refresh", id: "refreshStage", summary: "Make the Stage look for new artifacts now (Stages subscribed to repositories): needs patch on it; made as the caller.", status: 200, response: "Stage"},
	{method: http.MethodPost, path: "/api/v1/projects/{project}/stages/{name}/verify", id: "verifyStage", summary: "Verify the Stage's current Freight again, or abort the running verification: needs the promote verb on the Stage.", request: "VerifyRequest", status: 200, response: "Stage"},
	{method: http.MethodPost, path: "/api/v1/projects/{project}/stages/{name}/hold", id: "holdStage", summary: "Hold the Stage: no Promotion into it starts until it is released (409 when held already). Needs the hold verb on the Stage; the server records the caller as who held it.", request: "HoldRequest", status: 200, response: "Stage"},
	{method: http.MethodPost, path: "/api/v1/projects/{project}/stages/{name}/release", id: "releaseStage", summary: "Release the Stage's hold: its waiting Promotions run, in order (409 when not held). Needs the release verb on the Stage.", status: 200, response: "Stage"},
	{method: http.MethodPost, path: "/api/v1/projects/{project}/freeze", id: "freezeProject", summary: "Freeze the project: no Promotion in it starts until it is unfrozen (409 when frozen already). Needs the freeze verb on every Stage of the project; the answer is the Project's name and freeze.", request: "HoldRequest", status: 200, response: "Project"},
	{method: http.MethodPost, path: "/api/v1/projects/{project}/unfreeze", id: "unfreezeProject", summary: "Unfreeze the project (409 when not frozen). Needs the unfreeze verb on every Stage of the project.", status: 200, response: "Project"},
	{method: http.MethodGet, path: "/api/v1/projects/{project}/freeze", id: "getFreeze", summary: "The project's freeze, or null: needs list on stages in the project (project members may not get the cluster-scoped Project).", status: 200, response: "Freeze"},
	{method: http.MethodGet, path: "/api/v1/projects/{project}/promotions/{name}/commits", id: "getPromotionCommits", summary: "The commits the Promotion made, each with the patch of the files it changed (at most 5 commits of each branch, 50 files and 256 KiB of patch each): read from the Git server with the project's credentials, from the branches the Promotion wrote, only commits carrying its Kargo-Promotion trailer. Needs get on the Promotion; 501 from a server without Git access.", status: 200, response: "PromotionCommits"},
	{method: http.MethodGet, path: "/api/v1/projects/{project}/access", id: "getAccess",
		summary: "What the caller may do in the project, as Kubernetes answers SelfSubjectAccessReviews made as the caller (never remembered): promote to and approve for each Stage named, and rename Freight; each refusal is the message the action would answer with. Needs no right beyond a valid token: it only tells callers about themselves.",
		query:   []parameter{{name: "stage", description: "a Stage to answer for; repeat it for several (at most 200)", typ: "string", repeated: true}}, status: 200, response: "Access"},
	{method: http.MethodGet, path: "/api/v1/projects/{project}/gates", id: "getGates",
		summary: "Whether a Promotion into each Stage would start now, and why not (its hold, the project's freeze, its PromotionWindows), as the Promotion controller decides it, with the window that decides and when that changes: needs list on stages and promotionwindows in the project. For the Stages named that windows close, whether the caller may override them (override-window, reviewed as the caller).",
		query:   []parameter{{name: "stage", description: "a Stage to answer for (all when absent); repeat it for several (at most 200)", typ: "string", repeated: true}}, status: 200, response: "Gates"},
	{method: http.MethodGet, path: "/api/v1/projects/{project}/roles", id: "listRoles", summary: "The project's roles (its Roles and the shipped kargo-admin, kargo-promoter and kargo-viewer ClusterRoles) with the subjects its RoleBindings grant them to: needs list on roles and rolebindings in the project; read as the caller.", status: 200, response: "RoleList"},
	{method: http.MethodPost, path: "/api/v1/projects/{project}/roles", id: "createRole", summary: "Create a Role in the project, as the caller: RBAC refuses a Role granting a permission the caller does not hold.", request: "CreateRoleRequest", status: 201, response: "Role"},
	{method: http.MethodDelete, path: "/api/v1/projects/{project}/roles/{name}", id: "deleteRole", summary: "Delete a Role of the project and the RoleBindings kargo grant made for it, as the caller.", status: 204, response: ""},
	{method: http.MethodPost, path: "/api/v1/projects/{project}/roles/{name}/grant", id: "grantRole", summary: "Grant the role (admin, promoter, viewer or a Role of the project) to users, groups and service accounts with a RoleBinding, as the caller: RBAC refuses to bind a role whose permissions the caller does not all hold.", request: "GrantRequest", status: 200, response: "Role"},
	{method: http.MethodPost, path: "/api/v1/projects/{project}/roles/{name}/revoke", id: "revokeRole", summary: "Remove the subjects from every RoleBinding of the project that binds the role, as the caller (404 when none held it).", request: "GrantRequest", status: 200, response: "Role"},
	{method: http.MethodGet, path: "/api/v1/projects/{project}/tokens", id: "listTokens", summary: "The project's API tokens, without their secrets: needs list on serviceaccounts in the project.", status: 200, response: "TokenList"},
	{method: http.MethodPost, path: "/api/v1/projects/{project}/tokens", id: "createToken", summary: "Create an API token holding one role: a ServiceAccount bound to the role and a token from the TokenRequest API, returned once. Made as the caller: needs create on serviceaccounts, serviceaccounts/token and rolebindings, and RBAC refuses a role the caller could not bind.", request: "CreateTokenRequest", status: 201, response: "Token"},
	{method: http.MethodDelete, path: "/api/v1/projects/{project}/tokens/{name}", id: "deleteToken", summary: "Revoke an API token: its ServiceAccount and RoleBinding are deleted, as the caller.", status: 204, response: ""},
	{method: http.MethodPost, path: "/api/v1/apply", id: "apply", summary: "Server-side apply (field manager kargo-cli, no force) of every object of the manifests, as the caller; each object's outcome is reported.", request: "ManifestRequest", status: 200, response: "ManifestResult"},
	{method: http.MethodPost, path: "/api/v1/create", id: "create", summary: "Create every object of the manifests, as the caller; each object's outcome is reported.", request: "ManifestRequest", status: 200, response: "ManifestResult"},
	{method: http.MethodPost, path: "/api/v1/delete", id: "delete", summary: "Delete every object of the manifests, as the caller; each object's outcome is reported.", request: "ManifestRequest", status: 200, response: "ManifestResult"},
	{method: http.MethodGet, path: "/openapi.json", id: "getOpenAPI", summary: "This document; needs no token.", status: 200, response: "", public: true},
}

var pathParameters = map[string]string{
	"project": "the project (also the name of its namespace)",
	"kind":    "the kind of object",
	"name":    "the object's name; Freight may be named by its alias",
	"stage":   "the Stage's name",
}

var pathParam = regexp.MustCompile(`\{([a-z]+)\}`)

// apiSchemas are the schemas of internal/apitypes and of Kubernetes'
// Status, written out since they are small; the kargo kinds' schemas come
// from their CRDs.
var apiSchemas = map[string]any{
	"Version": object(map[string]any{"version": str(), "gitCommit": str(), "goVersion": str()}, "version", "goVersion"),
	"AuthConfig": object(map[string]any{"oidc": object(map[string]any{
		"issuerURL": str(), "clientID": str(), "cliClientID": str(), "scopes": arrayOf(str()),
		"prefix": withDescription(str(), "put before every username and group the provider names"),
	}, "issuerURL", "clientID", "cliClientID", "scopes", "prefix")}),
	"RoleRule": object(map[string]any{"verbs": arrayOf(str()), "resources": arrayOf(str()), "resourceNames": arrayOf(str())}, "verbs", "resources"),
	"Role": object(map[string]any{
		"name": str(), "kind": map[string]any{"type": "string", "enum": []string{"Role", "ClusterRole"}},
		"rules": arrayOf(ref("RoleRule")), "users": arrayOf(str()), "groups": arrayOf(str()),
		"serviceAccounts": withDescription(arrayOf(str()), "NAME in the project, NAMESPACE:NAME elsewhere"),
	}, "name", "kind"),
	"RoleList":          object(map[string]any{"items": arrayOf(ref("Role"))}, "items"),
	"CreateRoleRequest": object(map[string]any{"name": str(), "rules": arrayOf(ref("RoleRule"))}, "name", "rules"),
	"GrantRequest": object(map[string]any{
		"users": arrayOf(str()), "groups": arrayOf(str()),
		"serviceAccounts": withDescription(arrayOf(str()), "NAME in the project, NAMESPACE:NAME elsewhere"),
	}),
	"CreateTokenRequest": object(map[string]any{
		"name": str(), "role": withDescription(str(), "admin, promoter, viewer or a Role of the project"),
		"expirationSeconds": withDescription(map[string]any{"type": "integer"}, "the token's lifetime; 90 days when absent"),
	}, "name", "role"),
	"Token": object(map[string]any{
		"name": str(), "role": str(), "createdBy": str(), "created": str(), "expires": str(), "username": str(),
		"token": withDescription(str(), "the bearer token, only in the response to its creation"),
	}, "name", "role", "created", "username"),
	"TokenList": object(map[string]any{"items": arrayOf(ref("Token"))}, "items"),
	"WhoAmI":    object(map[string]any{"username": str(), "groups": arrayOf(str())}, "username"),
	"Permission": object(map[string]any{
		"allowed": map[string]any{"type": "boolean"},
		"reason":  withDescription(str(), "when not allowed: who may not do what, and which role grants it"),
	}, "allowed"),
	"StageAccess": object(map[string]any{
		"promote": withDescription(ref("Permission"), "the promote verb on the Stage and create on promotions"),
		"approve": withDescription(ref("Permission"), "the promote or the approve verb on the Stage"),
	}, "promote", "approve"),
	"Access": object(map[string]any{
		"stages": withDescription(map[string]any{"type": "object", "additionalProperties": ref("StageAccess")}, "by Stage name, each Stage the question named"),
		"rename": withDescription(ref("Permission"), "update on the project's Freight, which a new alias takes"),
	}, "stages", "rename"),
	"FileDiff": object(map[string]any{
		"path": str(), "status": withDescription(str(), "A added, M modified, D deleted, T type changed"),
		"patch":     withDescription(str(), "the file's unified diff"),
		"binary":    map[string]any{"type": "boolean"},
		"truncated": withDescription(map[string]any{"type": "boolean"}, "the patch was cut at the server's bound, or left out past it"),
	}, "path", "status"),
	"PromotionCommit": object(map[string]any{
		"repoURL": str(), "branch": str(), "id": str(), "parent": str(), "subject": str(), "author": str(), "time": str(),
		"files":     arrayOf(ref("FileDiff")),
		"moreFiles": withDescription(map[string]any{"type": "integer"}, "changed files past the bound, not shown"),
	}, "repoURL", "branch", "id", "subject", "author", "time", "files"),
	"PromotionCommits": object(map[string]any{
		"commits": arrayOf(ref("PromotionCommit")),
		"notes":   withDescription(arrayOf(str()), "what could not be read, and why"),
	}, "commits"),
	"ObjectMeta": withDescription(object(map[string]any{
		"name": str(), "generateName": str(), "namespace": str(), "uid": str(), "resourceVersion": str(),
		"generation":        map[string]any{"type": "integer", "format": "int64"},
		"creationTimestamp": map[string]any{"type": "string", "format": "date-time"},
		"deletionTimestamp": map[string]any{"type": "string", "format": "date-time"},
		"labels":            map[string]any{"type": "object", "additionalProperties": str()},
		"annotations":       map[string]any{"type": "object", "additionalProperties": str()},
		"finalizers":        arrayOf(str()),
		"ownerReferences": arrayOf(object(map[string]any{
			"apiVersion": str(), "kind": str(), "name": str(), "uid": str(),
			"controller": map[string]any{"type": "boolean"}, "blockOwnerDeletion": map[string]any{"type": "boolean"},
		}, "apiVersion", "kind", "name", "uid")),
	}, "name"), "Kubernetes' ObjectMeta, as objects carry it in answers (without managedFields)"),
	"List": object(map[string]any{
		"kind":     str(),
		"items":    arrayOf(map[string]any{"type": "object", "description": "an object of the list's kind, as Kubernetes stores it (without managedFields)"}),
		"continue": withDescription(str(), "present when more pages follow: pass it as ?continue= for the next"),
		"total":    withDescription(map[string]any{"type": "integer"}, "the number of objects across all pages"),
	}, "kind", "items", "total"),
	"WatchEvent": withDescription(object(map[string]any{
		"type": map[string]any{"type": "string", "enum": []string{eventAdded, eventModified, eventDeleted,
			apitypes.WatchSynced, apitypes.WatchReconnect, apitypes.WatchError}},
		"object": withDescription(map[string]any{"type": "object"}, "the object, for ADDED, MODIFIED and DELETED; a Status for ERROR; absent for SYNCED and RECONNECT"),
	}, "type"), "SYNCED follows the replay of the current objects; RECONNECT ends a watch that reached its lifetime (open a new one); ERROR ends a watch whose caller may no longer watch (401 or 403)"),
	"PromoteRequest": withDescription(object(map[string]any{"freight": str(), "freightAlias": str(),
		"overrideWindow": withDescription(map[string]any{"type": "boolean"}, "run even while the Stage's promotion windows keep promotions out: needs the override-window verb on the Stage"),
	}), "exactly one of freight and freightAlias"),
	"Hold":   object(map[string]any{"reason": str(), "by": withDescription(str(), "who set it, as the server authenticated them"), "at": map[string]any{"type": "string", "format": "date-time"}}, "reason", "by", "at"),
	"Freeze": object(map[string]any{"freeze": withDescription(ref("Hold"), "null when the project is not frozen")}, "freeze"),
	"Gates": object(map[string]any{
		"now":    withDescription(map[string]any{"type": "string", "format": "date-time"}, "the server's time the answer is for"),
		"stages": withDescription(map[string]any{"type": "object", "additionalProperties": ref("StageGate")}, "by Stage name"),
	}, "now", "stages"),
	"StageGate": object(map[string]any{
		"open":           withDescription(map[string]any{"type": "boolean"}, "a Promotion into the Stage would start now"),
		"stop":           withDescription(ref("GateStop"), "what keeps Promotions out: the hold, else the freeze, else a window"),
		"windows":        withDescription(ref("WindowDecision"), "what the Stage's PromotionWindows say, holds and freezes aside"),
		"overrideWindow": withDescription(ref("Permission"), "whether the caller may promote through the closed windows; only for Stages named, while windows close them"),
	}, "open", "windows"),
	"GateStop": object(map[string]any{
		"kind":    map[string]any{"type": "string", "enum": []string{"Hold", "Freeze", "Window"}},
		"message": withDescription(str(), "what a Promotion that waits for it says"),
	}, "kind", "message"),
	"WindowDecision": object(map[string]any{
		"open":       map[string]any{"type": "boolean"},
		"selecting":  withDescription(map[string]any{"type": "integer"}, "the windows that select the Stage"),
		"window":     withDescription(ref("GateWindow"), "the window that decides: the one that closes the Stage; when open, an open Allow window, else the one that next closes it"),
		"nextChange": withDescription(map[string]any{"type": "string", "format": "date-time"}, "when open next flips; absent when not within a week"),
		"message":    withDescription(str(), "when closed, what a Promotion that waits says"),
	}, "open", "selecting"),
	"GateWindow": object(map[string]any{
		"name": str(), "kind": withDescription(str(), "Allow or Deny"),
		"timeZone": withDescription(str(), "IANA time zone of its spans"), "description": str(),
		"invalid": withDescription(str(), "why it cannot be read (it then keeps promotions out)"),
	}, "name", "timeZone"),
	"HoldRequest":    object(map[string]any{"reason": withDescription(str(), "why promotions stop, shown to everyone whose promotions wait (at most 1024 characters)")}, "reason"),
	"ApproveRequest": object(map[string]any{"stage": str(), "comment": withDescription(str(), "why, at most 1024 characters")}, "stage"),
	"AbortRequest":   object(map[string]any{}),
	"AliasRequest":   object(map[string]any{"alias": withDescription(str(), "the new alias; empty removes it")}, "alias"),
	"VerifyRequest":  object(map[string]any{"abort": map[string]any{"type": "boolean"}}),
	"ManifestRequest": object(map[string]any{
		"manifests": withDescription(str(), "YAML or JSON documents separated by ---; each namespaced object names its project in metadata.namespace"),
		"dryRun":    withDescription(map[string]any{"type": "boolean"}, "check every object (schema, admission webhooks, RBAC) without writing any; apply and create only"),
	}, "manifests"),
	"ManifestResult": object(map[string]any{"results": arrayOf(ref("ObjectResult"))}, "results"),
	"ObjectResult": object(map[string]any{
		"kind": str(), "namespace": str(), "name": str(),
		"action": map[string]any{"type": "string", "enum": []string{actionCreated, actionConfigured, actionUnchanged, actionDeleted}},
		"error":  ref("Status"),
	}, "kind", "name"),
	"Status": object(map[string]any{
		"apiVersion": str(), "kind": str(), "status": str(), "message": str(), "reason": str(),
		"code": map[string]any{"type": "integer"},
		"details": object(map[string]any{
			"name": str(), "group": str(), "kind": str(),
		}),
	}, "code", "message"),
	"Object": map[string]any{"oneOf": []any{ref("Warehouse"), ref("Stage"), ref("Freight"), ref("Promotion"), ref("PromotionPolicy"), ref("ApprovalPolicy")}},
}

func str() map[string]any { return map[string]any{"type": "string"} }

func ref(name string) map[string]any { return map[string]any{"$ref": "#/components/schemas/" + name} }

func arrayOf(items any) map[string]any { return map[string]any{"type": "array", "items": items} }

func withDescription(s map[string]any, d string) map[string]any { s["description"] = d; return s }

func object(props map[string]any, required ...string) map[string]any {
	o := map[string]any{"type": "object", "properties": props}
	if len(required) > 0 {
		o["required"] = required
	}
	return o
}

// OpenAPIDocument returns /openapi.json as a server of version
// serverVersion serves it: an OpenAPI 3.0 description of every endpoint.
// The web UI's API types are generated from it (make ui-api).
func OpenAPIDocument(serverVersion string) ([]byte, error) {
	schemas := map[string]any{}
	for name, s := range apiSchemas {
		schemas[name] = s
	}
	crds, err := crd.Definitions()
	if err != nil {
		return nil, err
	}
	for _, c := range crds {
		for _, v := range c.Spec.Versions {
			if v.Served && v.Storage && v.Schema != nil && v.Schema.OpenAPIV3Schema != nil {
				// A CRD's schema says only that metadata is an object;
				// every object the API answers with carries ObjectMeta.
				s := v.Schema.OpenAPIV3Schema.DeepCopy()
				if _, ok := s.Properties["metadata"]; ok {
					metaRef := "#/components/schemas/ObjectMeta"
					s.Properties["metadata"] = apiextensionsv1.JSONSchemaProps{Ref: &metaRef}
					s.Required = append(s.Required, "metadata")
				}
				schemas[c.Spec.Names.Kind] = s
			}
		}
	}
	if err := warehouseSubscriptionsAsAnswered(schemas); err != nil {
		return nil, err
	}
	paths := map[string]map[string]any{}
	for _, op := range operations {
		if paths[op.path] == nil {
			paths[op.path] = map[string]any{}
		}
		paths[op.path][lowerMethod(op.method)] = op.document()
	}
	doc := map[string]any{
		"openapi": "3.0.3",
		"info": map[string]any{
			"title":   "kargo API",
			"version": serverVersion,
			"description": "kargo's API server. Every request but /api/v1/version and /openapi.json carries " +
				"\"Authorization: Bearer <token>\" (a Kubernetes token; `kargo login` gets one) and is authorized " +
				"as the caller with a SubjectAccessReview before anything is read or written. Errors are a " +
				"Kubernetes Status with the HTTP code.",
		},
		"paths": paths,
		"components": map[string]any{
			"schemas":         schemas,
			"securitySchemes": map[string]any{"bearer": map[string]any{"type": "http", "scheme": "bearer"}},
			"responses": map[string]any{"Error": map[string]any{
				"description": "a refusal or failure: 400 bad request, 401 no or bad token, 403 forbidden, 404 not found, 409 conflict, 422 invalid",
				"content":     map[string]any{"application/json": map[string]any{"schema": ref("Status")}},
			}},
		},
		"security": []any{map[string]any{"bearer": []string{}}},
	}
	raw, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("encode the OpenAPI document: %w", err)
	}
	return raw, nil
}

// warehouseSubscriptionsAsAnswered gives a Warehouse's subscriptions the
// schema of the one shape the API answers with. The CRD leaves them
// schemaless, since Kubernetes must store the two shapes users may write;
// the server reads Warehouses into the Go types and answers with the
// object shape, whose rules are a Stage's subscriptions.repos.
func warehouseSubscriptionsAsAnswered(schemas map[string]any) error {
	wh, _ := schemas["Warehouse"].(*apiextensionsv1.JSONSchemaProps)
	st, _ := schemas["Stage"].(*apiextensionsv1.JSONSchemaProps)
	if wh == nil || st == nil {
		return fmt.Errorf("the Warehouse and Stage CRDs have no schema")
	}
	repos, ok := st.Properties["spec"].Properties["subscriptions"].Properties["repos"]
	whSpec, hasSpec := wh.Properties["spec"]
	subs, hasSubs := whSpec.Properties["subscriptions"]
	if !ok || !hasSpec || !hasSubs {
		return fmt.Errorf("the Stage CRD has no spec.subscriptions.repos or the Warehouse CRD no spec.subscriptions")
	}
	answered := *repos.DeepCopy()
	answered.Description = subs.Description
	whSpec.Properties["subscriptions"] = answered
	wh.Properties["spec"] = whSpec
	return nil
}

func (op operation) document() map[string]any {
	var params []any
	for _, m := range pathParam.FindAllStringSubmatch(op.path, -1) {
		schema := str()
		if m[1] == "kind" {
			schema["enum"] = projectKindSegments()
		}
		params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "description": pathParameters[m[1]], "schema": schema})
	}
	for _, q := range op.query {
		var schema any = map[string]any{"type": q.typ}
		if q.repeated {
			schema = arrayOf(schema)
		}
		params = append(params, map[string]any{"name": q.name, "in": "query", "description": q.description, "schema": schema})
	}
	content := map[string]any{"application/json": map[string]any{"schema": map[string]any{"type": "object"}}}
	if op.response != "" {
		content["application/json"] = map[string]any{"schema": ref(op.response)}
	}
	if op.stream {
		content["text/event-stream"] = map[string]any{"schema": withDescription(ref("WatchEvent"), "each event is a line `data: <WatchEvent JSON>` and a blank line; comment lines are heartbeats")}
	}
	doc := map[string]any{
		"operationId": op.id,
		"summary":     op.summary,
		"responses": map[string]any{
			strconv.Itoa(op.status): map[string]any{"description": "success", "content": content},
			"default":               map[string]any{"$ref": "#/components/responses/Error"},
		},
	}
	if len(params) > 0 {
		doc["parameters"] = params
	}
	if op.request != "" {
		doc["requestBody"] = map[string]any{
			"required": op.request != "VerifyRequest", // verify's only field is optional
			"content":  map[string]any{"application/json": map[string]any{"schema": ref(op.request)}},
		}
	}
	if op.public {
		doc["security"] = []any{}
	}
	return doc
}

func lowerMethod(m string) string {
	switch m {
	case http.MethodGet:
		return "get"
	case http.MethodPost:
		return "post"
	}
	return m
}
