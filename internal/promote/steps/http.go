package steps

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
	"sigs.k8s.io/yaml"

	"github.com/kargohq/kargo/internal/egress"
	"github.com/kargohq/kargo/internal/promote/engine"
	"github.com/kargohq/kargo/internal/sourceerr"
)

// Limits of the http step.
const (
	// DefaultHTTPMaxBodyBytes is the largest response body the http step
	// reads when Deps.HTTPMaxBodyBytes is not set.
	DefaultHTTPMaxBodyBytes int64 = 1 << 20
	// defaultHTTPTimeout bounds a request whose configuration gives no
	// timeout.
	defaultHTTPTimeout = 10 * time.Second
	// minPollInterval and defaultPollInterval are Kargo's: a step that
	// waits for its successExpression asks again after pollInterval, never
	// sooner than 10 s.
	minPollInterval     = 10 * time.Second
	defaultPollInterval = 30 * time.Second
	maxHTTPRedirects    = 5
)

// httpStep makes an HTTP request and judges the response (Kargo's http).
// Every connection goes through the controller's outbound address policy
// (package egress), checked at each dial after DNS resolution, so a Stage
// cannot make the controller reach its own machine, its cluster's private
// network or a cloud metadata service; redirects are followed only to the
// URL's own host and port, so the headers, which often carry a token, go
// nowhere the URL does not name. It acts outside the work directory, so a
// restarted controller does not run it again once it has succeeded.
type httpStep struct {
	egress  *egress.Policy
	maxBody int64
}

type httpConfig struct {
	Method                string      `json:"method,omitempty"`
	URL                   string      `json:"url"`
	Headers               []nameValue `json:"headers,omitempty"`
	QueryParams           []nameValue `json:"queryParams,omitempty"`
	Body                  string      `json:"body,omitempty"`
	InsecureSkipTLSVerify bool        `json:"insecureSkipTLSVerify,omitempty"`
	// Proxy is Kargo's; kargo refuses it, since a proxy would make the
	// connection out of the outbound address policy's reach.
	Proxy               string `json:"proxy,omitempty"`
	Timeout             string `json:"timeout,omitempty"`
	PollInterval        string `json:"pollInterval,omitempty"`
	ResponseContentType string `json:"responseContentType,omitempty"`
	SuccessExpression   string `json:"successExpression,omitempty"`
	FailureExpression   string `json:"failureExpression,omitempty"`
	ErrorExpression     string `json:"errorExpression,omitempty"`
	Outputs             []struct {
		Name           string `json:"name"`
		FromExpression string `json:"fromExpression"`
	} `json:"outputs,omitempty"`
}

type nameValue struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// httpPrograms are a configuration's expressions, compiled.
type httpPrograms struct {
	success, failure, errMsg *vm.Program
	outputs                  map[string]*vm.Program
}

func (s httpStep) Run(ctx context.Context, _ *engine.StepContext, cfg engine.Config) (engine.Result, error) {
	var c httpConfig
	if err := cfg.Decode(&c); err != nil {
		return engine.Result{}, err
	}
	req, timeout, err := c.request(ctx)
	if err != nil {
		return engine.Result{}, fmt.Errorf("%w: %w", err, sourceerr.ErrInvalid)
	}
	poll := defaultPollInterval
	if c.PollInterval != "" {
		if poll, err = time.ParseDuration(c.PollInterval); err != nil {
			return engine.Result{}, fmt.Errorf("pollInterval %q is not a duration such as 30s: %w", c.PollInterval, sourceerr.ErrInvalid)
		}
		poll = max(poll, minPollInterval)
	}
	progs, err := c.compile()
	if err != nil {
		return engine.Result{}, fmt.Errorf("%w: %w", err, sourceerr.ErrInvalid)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	resp, err := s.do(req.WithContext(ctx), c.InsecureSkipTLSVerify)
	if err != nil {
		return engine.Result{}, err
	}
	env, err := responseEnv(resp, c.ResponseContentType)
	if err != nil {
		return engine.Result{}, fmt.Errorf("HTTP (%d) response: %w", resp.status, err)
	}
	if progs.failure != nil {
		failed, err := runBool(progs.failure, env, "failureExpression")
		if err != nil {
			return engine.Result{}, fmt.Errorf("%w: %w", err, sourceerr.ErrInvalid)
		}
		if failed {
			msg := fmt.Sprintf("HTTP (%d) response met failure criteria", resp.status)
			if progs.errMsg != nil {
				if v, err := expr.Run(progs.errMsg, env); err == nil {
					if s, ok := v.(string); ok && s != "" {
						msg += ": " + fmt.Sprintf("%q", s)
					}
				}
			}
			return engine.Result{}, fmt.Errorf("%s: %w", msg, sourceerr.ErrInvalid)
		}
	}
	switch {
	case progs.success != nil:
		ok, err := runBool(progs.success, env, "successExpression")
		if err != nil {
			return engine.Result{}, fmt.Errorf("%w: %w", err, sourceerr.ErrInvalid)
		}
		if !ok {
			return engine.Result{Waiting: true, RequeueAfter: poll, Message: fmt.Sprintf("HTTP (%d) response does not meet the success criteria yet; asking again in %s", resp.status, poll)}, nil
		}
	case progs.failure != nil:
		// Only failure criteria, not met: Kargo waits for them to be
		// met or for the step's timeout.
		return engine.Result{Waiting: true, RequeueAfter: poll, Message: fmt.Sprintf("HTTP (%d) response meets neither success nor failure criteria yet; asking again in %s", resp.status, poll)}, nil
	case resp.status < 200 || resp.status > 299:
		// Not terminal: the step's retry policy decides.
		return engine.Result{}, fmt.Errorf("HTTP (%d) response is not a success (2xx) and the step has no successExpression", resp.status)
	}
	out := map[string]any{}
	for name, p := range progs.outputs {
		v, err := expr.Run(p, env)
		if err != nil {
			return engine.Result{}, fmt.Errorf("outputs %s: %w: %w", name, err, sourceerr.ErrInvalid)
		}
		out[name] = jsonable(v)
	}
	return engine.Result{Message: fmt.Sprintf("%s %s: HTTP (%d)", req.Method, redactURL(req.URL), resp.status), Output: out}, nil
}

// request builds the request a configuration describes.
func (c *httpConfig) request(ctx context.Context) (*http.Request, time.Duration, error) {
	if c.Proxy != "" {
		return nil, 0, errors.New("proxy: kargo sends requests only through its outbound address policy, never through a proxy; leave proxy out")
	}
	u, err := url.Parse(c.URL)
	if err != nil {
		return nil, 0, fmt.Errorf("url: %v", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, 0, fmt.Errorf("url %s: only http and https URLs are requested", redactURL(u))
	}
	if u.Host == "" {
		return nil, 0, fmt.Errorf("url %s has no host", redactURL(u))
	}
	if len(c.QueryParams) > 0 {
		q := u.Query()
		for _, p := range c.QueryParams {
			q.Add(p.Name, p.Value)
		}
		u.RawQuery = q.Encode()
	}
	method := strings.ToUpper(c.Method)
	if method == "" {
		method = http.MethodGet
	}
	var body io.Reader
	if c.Body != "" {
		body = strings.NewReader(c.Body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, 0, fmt.Errorf("method %q: %v", c.Method, err)
	}
	for i, h := range c.Headers {
		if h.Name == "" || strings.ContainsAny(h.Name+h.Value, "\r\n\x00") {
			return nil, 0, fmt.Errorf("headers[%d]: a header needs a name, and neither name nor value may hold a line break", i)
		}
		if strings.EqualFold(h.Name, "Host") {
			req.Host = h.Value
			continue
		}
		req.Header.Add(h.Name, h.Value)
	}
	timeout := defaultHTTPTimeout
	if c.Timeout != "" {
		if timeout, err = time.ParseDuration(c.Timeout); err != nil || timeout <= 0 {
			return nil, 0, fmt.Errorf("timeout %q is not a positive duration such as 30s", c.Timeout)
		}
	}
	return req, timeout, nil
}

// compile compiles the configuration's expressions before any request is
// made, so that a typo fails the step without a request.
func (c *httpConfig) compile() (httpPrograms, error) {
	var p httpPrograms
	var err error
	compile := func(field, src string) (*vm.Program, error) {
		if src == "" {
			return nil, nil
		}
		prog, err := expr.Compile(src, expr.Env(map[string]any{"response": map[string]any{}}), expr.AllowUndefinedVariables())
		if err != nil {
			return nil, fmt.Errorf("%s: %v", field, err)
		}
		return prog, nil
	}
	if p.success, err = compile("successExpression", c.SuccessExpression); err != nil {
		return p, err
	}
	if p.failure, err = compile("failureExpression", c.FailureExpression); err != nil {
		return p, err
	}
	if p.errMsg, err = compile("errorExpression", c.ErrorExpression); err != nil {
		return p, err
	}
	p.outputs = map[string]*vm.Program{}
	for i, o := range c.Outputs {
		if o.Name == "" {
			return p, fmt.Errorf("outputs[%d].name is empty", i)
		}
		if _, dup := p.outputs[o.Name]; dup {
			return p, fmt.Errorf("outputs[%d]: output %s is named twice", i, o.Name)
		}
		if p.outputs[o.Name], err = compile(fmt.Sprintf("outputs[%d].fromExpression", i), o.FromExpression); err != nil {
			return p, err
		}
		if p.outputs[o.Name] == nil {
			return p, fmt.Errorf("outputs[%d].fromExpression is empty", i)
		}
	}
	return p, nil
}

func runBool(p *vm.Program, env map[string]any, field string) (bool, error) {
	v, err := expr.Run(p, env)
	if err != nil {
		return false, fmt.Errorf("%s: %v", field, err)
	}
	b, ok := v.(bool)
	if !ok {
		return false, fmt.Errorf("%s gave a %T, not a bool", field, v)
	}
	return b, nil
}

// httpResponse is a response read whole.
type httpResponse struct {
	status int
	header http.Header
	body   []byte
}

// do sends req through the policy and reads the response, refusing a body
// larger than the step reads.
func (s httpStep) do(req *http.Request, insecure bool) (*httpResponse, error) {
	policy := s.egress
	if policy == nil {
		policy = egress.New(egress.Options{})
	}
	base := &http.Transport{}
	if dt, ok := http.DefaultTransport.(*http.Transport); ok {
		base = dt.Clone()
	}
	if insecure {
		base.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the Stage asked for it, as Kargo's insecureSkipTLSVerify
	}
	transport := policy.Transport(base)
	defer transport.CloseIdleConnections()
	maxBody := s.maxBody
	if maxBody <= 0 {
		maxBody = DefaultHTTPMaxBodyBytes
	}
	client := &http.Client{
		Transport:     egress.LimitBodies(transport, maxBody, "the HTTP response", ""),
		CheckRedirect: sameHostRedirects,
	}
	resp, err := client.Do(req)
	if err != nil {
		var refused *egress.RefusedError
		if errors.As(err, &refused) {
			return nil, fmt.Errorf("%s %s: %w: %w", req.Method, redactURL(req.URL), refused, sourceerr.ErrInvalid)
		}
		var tooLarge *egress.TooLargeError
		if errors.As(err, &tooLarge) {
			return nil, fmt.Errorf("%s %s: %w: %w", req.Method, redactURL(req.URL), tooLarge, sourceerr.ErrInvalid)
		}
		// url.Error quotes the URL, userinfo and all; name it ourselves.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return nil, fmt.Errorf("%s %s: %w", req.Method, redactURL(req.URL), err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		var tooLarge *egress.TooLargeError
		if errors.As(err, &tooLarge) {
			return nil, fmt.Errorf("%s %s: %w: %w", req.Method, redactURL(req.URL), tooLarge, sourceerr.ErrInvalid)
		}
		return nil, fmt.Errorf("%s %s: read response: %w", req.Method, redactURL(req.URL), err)
	}
	return &httpResponse{status: resp.StatusCode, header: resp.Header, body: body}, nil
}

// sameHostRedirects follows redirects only to the host and port of the
// first request, never from https to http.
func sameHostRedirects(req *http.Request, via []*http.Request) error {
	from := via[0].URL
	if from.Scheme == "https" && req.URL.Scheme != "https" ||
		!strings.EqualFold(from.Hostname(), req.URL.Hostname()) || portOf(from) != portOf(req.URL) {
		return fmt.Errorf("refused a redirect away from %s: only redirects to the same host and port are followed; request the final URL", from.Host)
	}
	if len(via) > maxHTTPRedirects {
		return fmt.Errorf("stopped after %d redirects", maxHTTPRedirects)
	}
	return nil
}

func portOf(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if u.Scheme == "https" {
		return "443"
	}
	return "80"
}

// redactURL drops userinfo and the query, which may carry credentials,
// from a URL shown in a message.
func redactURL(u *url.URL) string {
	c := *u
	c.User = nil
	c.RawQuery = ""
	c.ForceQuery = false
	return c.String()
}

// responseEnv is what the step's expressions see: response.status,
// response.headers, response.header(name) and response.body, parsed by
// its content type.
func responseEnv(r *httpResponse, override string) (map[string]any, error) {
	ct := override
	if ct == "" {
		ct = r.header.Get("Content-Type")
	}
	mt, _, _ := mime.ParseMediaType(ct)
	var body any = map[string]any{}
	if len(bytes.TrimSpace(r.body)) > 0 {
		switch mt {
		case "text/plain":
			body = string(r.body)
		case "application/yaml", "application/x-yaml", "text/yaml":
			var v any
			if err := yaml.Unmarshal(r.body, &v); err != nil {
				return nil, fmt.Errorf("the body is not YAML: %v", err)
			}
			body = v
		case "application/json":
			var v any
			if err := json.Unmarshal(r.body, &v); err != nil {
				return nil, fmt.Errorf("the body is not JSON: %v", err)
			}
			body = v
		default:
			var v any
			if json.Unmarshal(r.body, &v) == nil {
				body = v
			}
		}
	}
	return map[string]any{"response": map[string]any{
		"status":  r.status,
		"headers": r.header,
		"header":  func(name string) string { return r.header.Get(name) },
		"body":    body,
	}}, nil
}

// jsonable turns what an expression gave into a value the step's outputs
// can hold (they are stored as JSON).
func jsonable(v any) any {
	if h, ok := v.(http.Header); ok {
		return map[string][]string(h)
	}
	if _, err := json.Marshal(v); err != nil {
		return fmt.Sprint(v)
	}
	return v
}
