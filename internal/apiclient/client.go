// Package apiclient is the Go client of kargo's API server (internal/server).
// It speaks the contract of internal/apitypes: JSON under /api/v1, a bearer
// token on every request, and errors as a metav1.Status body.
package apiclient

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/apitypes"
)

// Kind is the URL segment of a resource kind: the plural the API lists it
// under.
type Kind string

// The kinds the API serves.
const (
	// Projects are cluster-wide; every other kind lives in one.
	Projects Kind = "projects"
	// Warehouses produce Freight.
	Warehouses Kind = "warehouses"
	// Stages receive Freight.
	Stages Kind = "stages"
	// Freight is listed newest first, and found by name or alias.
	Freight Kind = "freight"
	// Promotions are listed newest first.
	Promotions Kind = "promotions"
	// PromotionPolicies turn on auto-promotion.
	PromotionPolicies Kind = "promotionpolicies"
	// ApprovalPolicies make Stages require approvals.
	ApprovalPolicies Kind = "approvalpolicies"
	// Audit is the project's audit trail, newest first; ListOptions.Stage
	// and Since select records.
	Audit Kind = "audit"
	// PromotionWindows say when promotions may start in which Stages.
	PromotionWindows Kind = "promotionwindows"
)

// defaultTimeout bounds each request that is not a watch, when the caller's
// context has no deadline of its own, so that a server that accepts the
// connection and never answers does not hang the CLI.
const defaultTimeout = time.Minute

// maxErrorBody bounds how much of an error response is read: a Status is
// small, and a proxy's HTML error page need not be read whole.
const maxErrorBody = 1 << 20

// Client calls one kargo API server as one user.
type Client struct {
	base    *url.URL
	token   string
	http    *http.Client
	timeout time.Duration
}

// Option configures a Client.
type Option func(*options)

type options struct {
	caFile             string
	insecureSkipVerify bool
	httpClient         *http.Client
	timeout            time.Duration
}

// WithCAFile makes the client trust the PEM certificates in path, instead of
// the system's roots, for the server's certificate.
func WithCAFile(path string) Option {
	return func(o *options) { o.caFile = path }
}

// WithInsecureSkipTLSVerify turns off verification of the server's
// certificate. It exists for throwaway local servers; the token is still
// sent, to whoever answers.
func WithInsecureSkipTLSVerify(skip bool) Option {
	return func(o *options) { o.insecureSkipVerify = skip }
}

// WithHTTPClient makes the client send its requests through c, which then
// owns every TLS setting: WithCAFile and WithInsecureSkipTLSVerify are
// ignored.
func WithHTTPClient(c *http.Client) Option {
	return func(o *options) { o.httpClient = c }
}

// WithTimeout bounds each request other than a watch whose context has no
// deadline; zero turns the bound off.
func WithTimeout(d time.Duration) Option {
	return func(o *options) { o.timeout = d }
}

// New returns a client of the API server at server, such as
// https://kargo.example.com or localhost:8443 (https is assumed when no
// scheme is given), which authenticates with token.
func New(server, token string, opts ...Option) (*Client, error) {
	o := options{timeout: defaultTimeout}
	for _, opt := range opts {
		opt(&o)
	}
	base, err := ParseServer(server)
	if err != nil {
		return nil, err
	}
	hc := o.httpClient
	if hc == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12}
		if o.caFile != "" {
			pem, err := os.ReadFile(o.caFile)
			if err != nil {
				return nil, fmt.Errorf("read CA file: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("read CA file %s: no PEM certificate in it", o.caFile)
			}
			tlsConfig.RootCAs = pool
		}
		tlsConfig.InsecureSkipVerify = o.insecureSkipVerify //nolint:gosec // the user asked for it
		tr.TLSClientConfig = tlsConfig
		hc = &http.Client{Transport: tr}
	}
	return &Client{base: base, token: token, http: hc, timeout: o.timeout}, nil
}

// ParseServer turns what a user types as a server address into the base URL
// of the API server, assuming https when no scheme is given.
func ParseServer(server string) (*url.URL, error) {
	s := strings.TrimSpace(server)
	if s == "" {
		return nil, errors.New("parse server address: it is empty")
	}
	if !strings.Contains(s, "://") {
		s = "https://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("parse server address %q: %w", server, err)
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return nil, fmt.Errorf("parse server address %q: the scheme must be https or http", server)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("parse server address %q: it names no host", server)
	}
	if u.User != nil {
		// A credential in the URL would end up in the config file and in
		// error messages; the token is the only credential.
		return nil, fmt.Errorf("parse server address %q: it must not carry a user name or password; pass the token with --token", u.Redacted())
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawQuery, u.Fragment = "", ""
	return u, nil
}

// ListOptions select a page of a list.
type ListOptions struct {
	// Limit is the most objects a page holds; zero lets the server choose.
	Limit int
	// Continue is the token of the next page, from the previous page.
	Continue string
	// Alias selects the Freight with this alias (freight only).
	Alias string
	// Stage selects the audit records about this Stage (audit only).
	Stage string
	// Since selects the audit records of actions at or after this: a
	// duration back from now (24h, 7d) or an RFC 3339 time (audit only).
	Since string
}

// Version returns the server's build.
func (c *Client) Version(ctx context.Context) (*apitypes.Version, error) {
	v := &apitypes.Version{}
	return v, c.do(ctx, http.MethodGet, c.path("version"), nil, nil, v)
}

// WhoAmI returns the caller as the server authenticated them.
func (c *Client) WhoAmI(ctx context.Context) (*apitypes.WhoAmI, error) {
	w := &apitypes.WhoAmI{}
	return w, c.do(ctx, http.MethodGet, c.path("whoami"), nil, nil, w)
}

// ListProjects returns every Project the caller may see, following pages.
func (c *Client) ListProjects(ctx context.Context) ([]kargoapi.Project, error) {
	items, err := c.ListAll(ctx, Projects, "", ListOptions{})
	if err != nil {
		return nil, err
	}
	return DecodeItems[kargoapi.Project](items)
}

// GetProject returns the Project named name.
func (c *Client) GetProject(ctx context.Context, name string) (*kargoapi.Project, error) {
	p := &kargoapi.Project{}
	return p, c.do(ctx, http.MethodGet, c.path("projects", name), nil, nil, p)
}

// List returns one page of the objects of kind in project (project is
// ignored for Projects).
func (c *Client) List(ctx context.Context, kind Kind, project string, opts ListOptions) (*apitypes.List, error) {
	q := url.Values{}
	if opts.Limit > 0 {
		q.Set("limit", strconv.Itoa(opts.Limit))
	}
	if opts.Continue != "" {
		q.Set("continue", opts.Continue)
	}
	if opts.Alias != "" {
		q.Set("alias", opts.Alias)
	}
	if opts.Stage != "" {
		q.Set("stage", opts.Stage)
	}
	if opts.Since != "" {
		q.Set("since", opts.Since)
	}
	l := &apitypes.List{}
	return l, c.do(ctx, http.MethodGet, c.kindPath(kind, project), q, nil, l)
}

// ListAll returns every object of kind in project, following pages from
// opts.Continue (usually empty) to the last.
func (c *Client) ListAll(ctx context.Context, kind Kind, project string, opts ListOptions) ([]json.RawMessage, error) {
	var items []json.RawMessage
	seen := map[string]bool{}
	for {
		page, err := c.List(ctx, kind, project, opts)
		if err != nil {
			return nil, err
		}
		if items == nil {
			items = make([]json.RawMessage, 0, max(page.Total, len(page.Items)))
		}
		items = append(items, page.Items...)
		if page.Continue == "" {
			return items, nil
		}
		// A server that hands out the same token twice would keep us here
		// forever.
		if seen[page.Continue] {
			return nil, fmt.Errorf("list %s: the server returned the continue token %q twice", kind, page.Continue)
		}
		seen[page.Continue] = true
		opts.Continue = page.Continue
	}
}

// Get returns the object of kind named name in project as JSON (project is
// ignored for Projects). Freight may be named by its alias.
func (c *Client) Get(ctx context.Context, kind Kind, project, name string) (json.RawMessage, error) {
	var raw json.RawMessage
	return raw, c.do(ctx, http.MethodGet, c.objectPath(kind, project, name), nil, nil, &raw)
}

// GetInto decodes the object of kind named name in project into into, such
// as a *kargoapi.Stage.
func (c *Client) GetInto(ctx context.Context, kind Kind, project, name string, into any) error {
	return c.do(ctx, http.MethodGet, c.objectPath(kind, project, name), nil, nil, into)
}

// Promote asks to promote the Freight named in req into stage, and returns
// the Promotion the server created.
func (c *Client) Promote(ctx context.Context, project, stage string, req apitypes.PromoteRequest) (*kargoapi.Promotion, error) {
	p := &kargoapi.Promotion{}
	return p, c.do(ctx, http.MethodPost, c.path("projects", project, string(Stages), stage, "promote"), nil, req, p)
}

// Approve approves the Freight named freight for stage.
func (c *Client) Approve(ctx context.Context, project, freight, stage string) (*kargoapi.Freight, error) {
	return c.ApproveWithComment(ctx, project, freight, apitypes.ApproveRequest{Stage: stage})
}

// ApproveWithComment approves the Freight named freight (or by alias) for
// req.Stage, saying why in req.Comment.
func (c *Client) ApproveWithComment(ctx context.Context, project, freight string, req apitypes.ApproveRequest) (*kargoapi.Freight, error) {
	f := &kargoapi.Freight{}
	return f, c.do(ctx, http.MethodPost, c.path("projects", project, string(Freight), freight, "approve"), nil, req, f)
}

// AbortPromotion asks the Promotion named name to stop at its next safe
// point; the answer carries the abort annotation the controller acts on.
func (c *Client) AbortPromotion(ctx context.Context, project, name string) (*kargoapi.Promotion, error) {
	p := &kargoapi.Promotion{}
	return p, c.do(ctx, http.MethodPost, c.path("projects", project, string(Promotions), name, "abort"), nil, apitypes.AbortRequest{}, p)
}

// SetAlias gives the Freight named freight the alias alias.
func (c *Client) SetAlias(ctx context.Context, project, freight, alias string) (*kargoapi.Freight, error) {
	f := &kargoapi.Freight{}
	return f, c.do(ctx, http.MethodPost, c.path("projects", project, string(Freight), freight, "alias"), nil, apitypes.AliasRequest{Alias: alias}, f)
}

// RefreshWarehouse asks the Warehouse to look for new artifacts now. The
// returned Warehouse carries the refresh token the controller will copy to
// status.lastHandledRefresh once it has acted on it.
func (c *Client) RefreshWarehouse(ctx context.Context, project, name string) (*kargoapi.Warehouse, error) {
	w := &kargoapi.Warehouse{}
	return w, c.do(ctx, http.MethodPost, c.path("projects", project, string(Warehouses), name, "refresh"), nil, nil, w)
}

// RefreshStage asks the Stage to act now, as RefreshWarehouse does for a
// Warehouse.
func (c *Client) RefreshStage(ctx context.Context, project, name string) (*kargoapi.Stage, error) {
	s := &kargoapi.Stage{}
	return s, c.do(ctx, http.MethodPost, c.path("projects", project, string(Stages), name, "refresh"), nil, nil, s)
}

// Verify asks for a new verification of the Stage's current Freight, or with
// abort stops the running one.
func (c *Client) Verify(ctx context.Context, project, stage string, abort bool) (*kargoapi.Stage, error) {
	s := &kargoapi.Stage{}
	return s, c.do(ctx, http.MethodPost, c.path("projects", project, string(Stages), stage, "verify"), nil, apitypes.VerifyRequest{Abort: abort}, s)
}

// Apply creates or updates the objects of manifests.
func (c *Client) Apply(ctx context.Context, manifests string) (*apitypes.ManifestResult, error) {
	return c.manifests(ctx, "apply", manifests)
}

// Create creates the objects of manifests; existing ones are refused.
func (c *Client) Create(ctx context.Context, manifests string) (*apitypes.ManifestResult, error) {
	return c.manifests(ctx, "create", manifests)
}

// Delete deletes the objects of manifests.
func (c *Client) Delete(ctx context.Context, manifests string) (*apitypes.ManifestResult, error) {
	return c.manifests(ctx, "delete", manifests)
}

func (c *Client) manifests(ctx context.Context, verb, manifests string) (*apitypes.ManifestResult, error) {
	r := &apitypes.ManifestResult{}
	return r, c.do(ctx, http.MethodPost, c.path(verb), nil, apitypes.ManifestRequest{Manifests: manifests}, r)
}

// DecodeItems decodes the items of a list into values of T, such as
// kargoapi.Stage.
func DecodeItems[T any](items []json.RawMessage) ([]T, error) {
	out := make([]T, len(items))
	for i, raw := range items {
		if err := json.Unmarshal(raw, &out[i]); err != nil {
			return nil, fmt.Errorf("decode item %d of the list: %w", i, err)
		}
	}
	return out, nil
}

// path joins escaped segments under /api/v1 of the server.
func (c *Client) path(segments ...string) string {
	var b strings.Builder
	b.WriteString(c.base.Path)
	b.WriteString("/api/v1")
	for _, s := range segments {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(s))
	}
	return b.String()
}

func (c *Client) kindPath(kind Kind, project string) string {
	if kind == Projects {
		return c.path(string(Projects))
	}
	return c.path("projects", project, string(kind))
}

func (c *Client) objectPath(kind Kind, project, name string) string {
	if kind == Projects {
		return c.path(string(Projects), name)
	}
	return c.path("projects", project, string(kind), name)
}

// newRequest builds an authenticated request for path (already escaped) with
// an optional JSON body.
func (c *Client) newRequest(ctx context.Context, method, path string, query url.Values, body any) (*http.Request, error) {
	u := *c.base
	u.RawPath = path
	p, err := url.PathUnescape(path)
	if err != nil {
		return nil, fmt.Errorf("build URL: %w", err)
	}
	u.Path = p
	u.RawQuery = query.Encode()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encode request: %w", err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), r)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	return req, nil
}

// do sends one request and decodes a 2xx answer into out, or returns the
// answer's Status as an *Error.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, body, out any) error {
	if _, ok := ctx.Deadline(); !ok && c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	req, err := c.newRequest(ctx, method, path, query, body)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("reach the kargo API server: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return errorFromResponse(resp)
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("decode the answer to %s %s: %w", method, req.URL.Path, err)
	}
	return nil
}

// HoldStage holds the Stage, saying why.
func (c *Client) HoldStage(ctx context.Context, project, stage, reason string) (*kargoapi.Stage, error) {
	s := &kargoapi.Stage{}
	return s, c.do(ctx, http.MethodPost, c.path("projects", project, string(Stages), stage, "hold"), nil, apitypes.HoldRequest{Reason: reason}, s)
}

// ReleaseStage releases the Stage's hold.
func (c *Client) ReleaseStage(ctx context.Context, project, stage string) (*kargoapi.Stage, error) {
	s := &kargoapi.Stage{}
	return s, c.do(ctx, http.MethodPost, c.path("projects", project, string(Stages), stage, "release"), nil, nil, s)
}

// Freeze freezes the project, saying why.
func (c *Client) Freeze(ctx context.Context, project, reason string) (*kargoapi.Project, error) {
	p := &kargoapi.Project{}
	return p, c.do(ctx, http.MethodPost, c.path("projects", project, "freeze"), nil, apitypes.HoldRequest{Reason: reason}, p)
}

// Unfreeze unfreezes the project.
func (c *Client) Unfreeze(ctx context.Context, project string) (*kargoapi.Project, error) {
	p := &kargoapi.Project{}
	return p, c.do(ctx, http.MethodPost, c.path("projects", project, "unfreeze"), nil, nil, p)
}

// GetFreeze returns the project's freeze, or nil.
func (c *Client) GetFreeze(ctx context.Context, project string) (*kargoapi.Hold, error) {
	f := &apitypes.Freeze{}
	return f.Freeze, c.do(ctx, http.MethodGet, c.path("projects", project, "freeze"), nil, nil, f)
}
