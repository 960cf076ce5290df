package apiclient

import (
	"context"
	"net/http"

	"github.com/kargohq/kargo/internal/apitypes"
)

// AuthConfig returns how the server lets users sign in besides a bearer
// token; it needs no token.
func (c *Client) AuthConfig(ctx context.Context) (*apitypes.AuthConfig, error) {
	cfg := &apitypes.AuthConfig{}
	return cfg, c.do(ctx, http.MethodGet, c.path("auth", "config"), nil, nil, cfg)
}

// Roles lists the project's roles with the subjects granted each.
func (c *Client) Roles(ctx context.Context, project string) ([]apitypes.Role, error) {
	list := &apitypes.RoleList{}
	return list.Items, c.do(ctx, http.MethodGet, c.path("projects", project, "roles"), nil, nil, list)
}

// CreateRole creates a Role in the project.
func (c *Client) CreateRole(ctx context.Context, project string, req apitypes.CreateRoleRequest) (*apitypes.Role, error) {
	r := &apitypes.Role{}
	return r, c.do(ctx, http.MethodPost, c.path("projects", project, "roles"), nil, req, r)
}

// DeleteRole deletes a Role of the project and the bindings kargo made for
// it.
func (c *Client) DeleteRole(ctx context.Context, project, name string) error {
	return c.do(ctx, http.MethodDelete, c.path("projects", project, "roles", name), nil, nil, nil)
}

// Grant grants the role to the subjects of req.
func (c *Client) Grant(ctx context.Context, project, role string, req apitypes.GrantRequest) (*apitypes.Role, error) {
	r := &apitypes.Role{}
	return r, c.do(ctx, http.MethodPost, c.path("projects", project, "roles", role, "grant"), nil, req, r)
}

// Revoke takes the role from the subjects of req.
func (c *Client) Revoke(ctx context.Context, project, role string, req apitypes.GrantRequest) (*apitypes.Role, error) {
	r := &apitypes.Role{}
	return r, c.do(ctx, http.MethodPost, c.path("projects", project, "roles", role, "revoke"), nil, req, r)
}

// Tokens lists the project's API tokens, without their secrets.
func (c *Client) Tokens(ctx context.Context, project string) ([]apitypes.Token, error) {
	list := &apitypes.TokenList{}
	return list.Items, c.do(ctx, http.MethodGet, c.path("projects", project, "tokens"), nil, nil, list)
}

// CreateToken creates an API token; the answer holds its secret, which is
// never shown again.
func (c *Client) CreateToken(ctx context.Context, project string, req apitypes.CreateTokenRequest) (*apitypes.Token, error) {
	t := &apitypes.Token{}
	return t, c.do(ctx, http.MethodPost, c.path("projects", project, "tokens"), nil, req, t)
}

// DeleteToken revokes an API token.
func (c *Client) DeleteToken(ctx context.Context, project, name string) error {
	return c.do(ctx, http.MethodDelete, c.path("projects", project, "tokens", name), nil, nil, nil)
}
