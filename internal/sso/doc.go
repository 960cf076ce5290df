// Package sso is single sign-on through an OpenID Connect provider: the API
// server's side, which verifies the ID tokens callers present and maps the
// provider's user and groups claims onto a Kubernetes identity (Verifier),
// and the CLI's side, which obtains an ID token by the authorization-code
// flow with PKCE through the user's browser or by the device flow (Login).
//
// The identity an ID token maps to is always prefixed (Config.Prefix,
// "oidc:" by default): the API server impersonates it against the
// Kubernetes API server, which trusts the server to name any user and
// group, so an unprefixed claim of "system:masters" would make the
// provider's users cluster administrators. With the prefix, the provider
// can only ever name identities of its own ("oidc:alice@example.com",
// "oidc:promoters"), never a Kubernetes user, ServiceAccount or system:
// group.
package sso
