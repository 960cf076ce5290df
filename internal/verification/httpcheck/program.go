package httpcheck

import (
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/google/cel-go/cel"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
)

// Defaults for the optional fields of an HTTPCheck.
const (
	DefaultInterval = 10 * time.Second
	DefaultTimeout  = 10 * time.Second
)

// costLimit bounds the work one evaluation of a success expression may do,
// so that an expression over a large body cannot hold a worker for long.
const costLimit = 10_000_000

// celEnv declares the variables a success expression sees. It is built once
// because building it is costly and it is safe for concurrent use.
var celEnv = sync.OnceValues(func() (*cel.Env, error) {
	return cel.NewEnv(
		cel.Variable("status", cel.IntType),
		cel.Variable("headers", cel.MapType(cel.StringType, cel.StringType)),
		cel.Variable("body", cel.DynType),
	)
})

// Program is an HTTPCheck checked and compiled, ready to measure.
type Program struct {
	name         string
	method       string
	url          *url.URL
	body         string
	successCodes []int
	expression   string
	program      cel.Program
	interval     time.Duration
	timeout      time.Duration
	count        int32
	failureLimit int32
}

// Compile checks an HTTPCheck and compiles its success expression. The API
// schema already enforces most of this; checking again here keeps a Stage
// written before a schema change, or a test object, from failing at every
// measurement instead of once.
func Compile(check kargoapi.HTTPCheck) (*Program, error) {
	p := &Program{
		name:         check.Name,
		method:       check.Method,
		count:        check.Count,
		failureLimit: check.FailureLimit,
		interval:     DefaultInterval,
		timeout:      DefaultTimeout,
	}
	switch p.method {
	case "":
		p.method = "GET"
	case "GET", "HEAD", "POST", "PUT":
	default:
		return nil, fmt.Errorf("method %q is not supported; use GET, HEAD, POST or PUT", check.Method)
	}
	if p.method == "POST" || p.method == "PUT" {
		p.body = check.Body
	}

	u, err := parseURL(check.URL)
	if err != nil {
		return nil, err
	}
	p.url = u

	for _, c := range check.SuccessCodes {
		if c < 100 || c > 599 {
			return nil, fmt.Errorf("success code %d is not an HTTP status code; use codes from 100 to 599", c)
		}
		p.successCodes = append(p.successCodes, int(c))
	}

	if check.Interval != nil {
		if check.Interval.Duration < 0 {
			return nil, fmt.Errorf("interval %s is negative; use a duration such as 10s", check.Interval.Duration)
		}
		p.interval = check.Interval.Duration
	}
	if check.Timeout != nil {
		// A zero timeout would mean none at all, letting one hung
		// endpoint hold the check forever.
		if check.Timeout.Duration <= 0 {
			return nil, fmt.Errorf("timeout %s is not positive; use a duration such as 10s", check.Timeout.Duration)
		}
		p.timeout = check.Timeout.Duration
	}
	switch {
	case p.count < 0:
		return nil, fmt.Errorf("count %d is negative; use at least 1", p.count)
	case p.count == 0:
		p.count = 1
	}
	if p.failureLimit < 0 {
		return nil, fmt.Errorf("failure limit %d is negative; use 0 or more", p.failureLimit)
	}

	if strings.TrimSpace(check.SuccessExpression) != "" {
		prg, err := compileExpression(check.SuccessExpression)
		if err != nil {
			return nil, err
		}
		p.expression = check.SuccessExpression
		p.program = prg
	}
	return p, nil
}

func parseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error quotes the URL, which may hold credentials.
		return nil, fmt.Errorf("url is not valid: %w", unwrapURLError(err))
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("url %s must start with http:// or https://", redact(u))
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("url %s has no host", redact(u))
	}
	// Credentials in the URL would sit in the Stage for anyone who can read
	// it, and in every message that quotes the URL.
	if u.User != nil {
		return nil, fmt.Errorf("url %s must not hold credentials; send them in a header read from a Secret", redact(u))
	}
	return u, nil
}

func compileExpression(expr string) (cel.Program, error) {
	env, err := celEnv()
	if err != nil {
		return nil, fmt.Errorf("build expression environment: %w", err)
	}
	ast, iss := env.Compile(expr)
	if iss.Err() != nil {
		return nil, fmt.Errorf("successExpression %q does not compile; it may use status (int), headers (map of lower-case name to value) and body (the JSON response, or null):\n%w", expr, iss.Err())
	}
	if t := ast.OutputType(); !t.IsExactType(cel.BoolType) && !t.IsExactType(cel.DynType) {
		return nil, fmt.Errorf("successExpression %q gives %s; it must give a bool, such as status == 200", expr, t)
	}
	prg, err := env.Program(ast,
		cel.CostLimit(costLimit),
		// Lets a cancelled measurement stop a long evaluation.
		cel.InterruptCheckFrequency(100),
	)
	if err != nil {
		return nil, fmt.Errorf("successExpression %q: plan evaluation: %w", expr, err)
	}
	return prg, nil
}
