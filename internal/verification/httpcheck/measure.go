package httpcheck

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/google/cel-go/common/types"
)

// Measurement is the outcome of one request of a check.
type Measurement struct {
	// Passed says the response met the check.
	Passed bool
	// Err says the measurement could not be made, for a reason the user
	// must fix, such as a refused address; retrying does not help. A
	// request that fails or times out is a failed measurement, not an Err.
	Err error
	// Message says why a measurement failed.
	Message string
}

// Measure makes one request of p, with p's timeout, sending headers (names
// to values, as ResolveHeaders returns them), and judges the response.
func Measure(ctx context.Context, c *Client, p *Program, headers map[string]string) Measurement {
	reqCtx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()

	var body *strings.Reader
	if p.body != "" {
		body = strings.NewReader(p.body)
	}
	req, err := newRequest(reqCtx, p, body)
	if err != nil {
		return Measurement{Err: err}
	}
	for name, value := range headers {
		// net/http takes the Host header from the request, not the header
		// map; it lets a check reach a virtual host through an address.
		if strings.EqualFold(name, "Host") {
			req.Host = value
			continue
		}
		req.Header.Set(name, value)
	}

	resp, err := c.do(req)
	if err != nil {
		var refused *AddressRefusedError
		switch {
		case errors.As(err, &refused):
			return Measurement{Err: refused}
		case ctx.Err() != nil:
			return Measurement{Err: fmt.Errorf("measure %s: %w", p.name, ctx.Err())}
		case errors.Is(reqCtx.Err(), context.DeadlineExceeded):
			return Measurement{Message: "timeout after " + p.timeout.String()}
		}
		return Measurement{Message: unwrapURLError(err).Error()}
	}
	return p.judge(reqCtx, resp)
}

func newRequest(ctx context.Context, p *Program, body *strings.Reader) (*http.Request, error) {
	u := p.url.String()
	var (
		req *http.Request
		err error
	)
	// A nil *strings.Reader inside the io.Reader interface is not nil, and
	// net/http would read from it.
	if body != nil {
		req, err = http.NewRequestWithContext(ctx, p.method, u, body)
	} else {
		req, err = http.NewRequestWithContext(ctx, p.method, u, nil)
	}
	if err != nil {
		return nil, fmt.Errorf("build request for %s: %w", p.name, err)
	}
	return req, nil
}

// judge says whether resp meets p: its status, then its expression.
func (p *Program) judge(ctx context.Context, resp *response) Measurement {
	if !p.statusPasses(resp.status) {
		return Measurement{Message: fmt.Sprintf("status %d, want %s", resp.status, p.wantedStatus())}
	}
	if p.program == nil {
		return Measurement{Passed: true}
	}
	out, _, err := p.program.ContextEval(ctx, map[string]any{
		"status":  resp.status,
		"headers": firstValues(resp.header),
		"body":    parseBody(resp.body),
	})
	if err != nil {
		return Measurement{Message: fmt.Sprintf("expression %s: %v", p.expression, err)}
	}
	passed, ok := out.Value().(bool)
	switch {
	case !ok:
		return Measurement{Message: fmt.Sprintf("expression %s gave %s %v, not a bool", p.expression, out.Type().TypeName(), out.Value())}
	case !passed:
		return Measurement{Message: fmt.Sprintf("expression %s was false", p.expression)}
	}
	return Measurement{Passed: true}
}

func (p *Program) statusPasses(status int) bool {
	if len(p.successCodes) == 0 {
		return status >= 200 && status <= 299
	}
	return slices.Contains(p.successCodes, status)
}

// wantedStatus reads like "200", "200 or 204" or "200, 201 or 204".
func (p *Program) wantedStatus() string {
	if len(p.successCodes) == 0 {
		return "2xx"
	}
	codes := make([]string, len(p.successCodes))
	for i, c := range p.successCodes {
		codes[i] = strconv.Itoa(c)
	}
	if len(codes) == 1 {
		return codes[0]
	}
	return strings.Join(codes[:len(codes)-1], ", ") + " or " + codes[len(codes)-1]
}

// firstValues maps each header's lower-case name to its first value, which
// is what expressions compare against in practice.
func firstValues(h http.Header) map[string]string {
	m := make(map[string]string, len(h))
	for name, values := range h {
		if len(values) > 0 {
			m[strings.ToLower(name)] = values[0]
		}
	}
	return m
}

// parseBody gives the JSON body, or null for an empty or non-JSON body so
// that an expression can test for it rather than the check erroring.
func parseBody(b []byte) any {
	var v any
	if len(b) == 0 || json.Unmarshal(b, &v) != nil {
		return types.NullValue
	}
	if v == nil {
		return types.NullValue
	}
	return v
}

// unwrapURLError drops the *url.Error wrapper, which repeats the method and
// URL the user already knows from the check.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
