package httpcheck

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/google/cel-go/common/types"

	"github.com/kargohq/kargo/internal/egress"
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
		var refused *egress.RefusedError
		switch {
		case errors.As(err, &refused):
			return Measurement{Err: refused}
		case ctx.Err() != nil:
			return Measurement{Err: fmt.Errorf("measure %s: %w", p.name, ctx.Err())}
		case errors.Is(reqCtx.Err(), context.DeadlineExceeded):
			return Measurement{Message: "timeout after " + p.timeout.String()}
		}
		return Measurement{Message: requestProblem(err)}
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
		return Measurement{Message: fmt.Sprintf("expression %s could not be evaluated: %s", p.expression, evaluationProblem(err))}
	}
	passed, ok := out.Value().(bool)
	switch {
	case !ok:
		// Never the value itself: it comes from the response, and the
		// message lands in the Stage's status, which would turn a check
		// into a way of reading whatever the URL serves.
		return Measurement{Message: fmt.Sprintf("expression %s gave a value of type %s, not a bool", p.expression, out.Type().TypeName())}
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

// What a check reports about a response goes into the Stage's status, which
// everyone who may read the Stage sees, while the response may come from a
// service that only the controller can reach. So messages are made of a
// fixed vocabulary, the status code, types and sizes: never text that the
// server sent. evaluationProblem and requestProblem turn errors, whose
// text may quote the response (CEL's conversion errors quote the value,
// net/http's "malformed HTTP response" quotes the first bytes the server
// sent), into such messages.

// evaluationProblem describes a failed evaluation of a success expression.
func evaluationProblem(err error) string {
	msg := strings.ToLower(err.Error())
	switch {
	case strings.Contains(msg, "no such key"), strings.Contains(msg, "no such attribute"):
		return "the response has no field that it reads"
	case strings.Contains(msg, "no such overload"), strings.Contains(msg, "no matching overload"):
		return "a value of the response has another type than it expects"
	case strings.Contains(msg, "cost limit"):
		return "it exceeded its cost limit"
	case strings.Contains(msg, "division by zero"), strings.Contains(msg, "modulus by zero"):
		return "division by zero"
	case strings.Contains(msg, "index out of range"):
		return "an index is out of range"
	case strings.Contains(msg, "interrupt"), strings.Contains(msg, "cancel"):
		return "it was interrupted"
	}
	return "an operation on the response failed"
}

// requestProblem describes a request that got no HTTP response.
func requestProblem(err error) string {
	var (
		dnsErr  *net.DNSError
		certErr *tls.CertificateVerificationError
		recErr  tls.RecordHeaderError
		opErr   *net.OpError
	)
	switch {
	case errors.As(err, &dnsErr):
		if dnsErr.IsNotFound {
			return "resolve " + dnsErr.Name + ": no such host"
		}
		return "resolve " + dnsErr.Name + ": the lookup failed"
	case errors.As(err, &certErr):
		// The certificate is shown to whoever connects; its names are
		// what a user needs to fix the check.
		return "the server's TLS certificate is not trusted: " + certErr.Err.Error()
	case errors.As(err, &recErr):
		return "the server did not answer with TLS"
	case errors.As(err, &opErr):
		// The address is the one the check names; the cause is the
		// operating system's (connection refused, reset, ...).
		return fmt.Sprintf("%s %s: %s", opErr.Op, opErr.Addr, causeOf(opErr.Err))
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "the server closed the connection without an answer"
	case strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		return "the server answered plain HTTP to an https:// URL"
	case errors.Is(err, http.ErrSchemeMismatch):
		return "the server answered plain HTTP to an https:// URL"
	}
	var bodyErr *bodyTooLargeError
	if errors.As(err, &bodyErr) {
		return bodyErr.Error()
	}
	var redirectErr *redirectError
	if errors.As(err, &redirectErr) {
		return redirectErr.Error()
	}
	return "the request failed: the connection broke or the answer was not HTTP"
}

// causeOf names what the operating system said about a connection.
func causeOf(err error) string {
	var sysErr *os.SyscallError
	if errors.As(err, &sysErr) {
		return sysErr.Err.Error()
	}
	var alert tls.AlertError
	if errors.As(err, &alert) {
		return "TLS alert: " + alert.Error()
	}
	if errors.Is(err, io.EOF) {
		return "the server closed the connection"
	}
	return "the connection failed"
}
