package image

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/kargohq/kargo/internal/credentials"
	"github.com/kargohq/kargo/internal/egress"
	"github.com/kargohq/kargo/internal/image/throttle"
	"github.com/kargohq/kargo/internal/sourceerr"
)

// failure holds what an error message needs to tell a user what to fix.
type failure struct {
	repoURL  string
	host     string
	credType credentials.Type
	creds    *credentials.Credentials
	throttle *throttle.Throttle
	now      func() time.Time
}

// wrap classifies err into the sourceerr kinds, prefixes op, and keeps the
// password out of the message whatever the registry echoed back.
func (f failure) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	err = f.classify(op, err)
	if f.creds != nil {
		err = redact(err, f.creds.Password)
	}
	return err
}

func (f failure) classify(op string, err error) error {
	var (
		rl       *sourceerr.RateLimitedError
		te       *transport.Error
		refused  *egress.RefusedError
		tooLarge *egress.TooLargeError
	)
	switch {
	case errors.As(err, &refused):
		// Before anything else: go-containerregistry joins the refusal
		// of its https:// attempt with that of its http:// fallback.
		return fmt.Errorf("%s: %w", op, refused)
	case errors.As(err, &tooLarge):
		return fmt.Errorf("%s: %w", op, tooLarge)
	case errors.As(err, &rl):
		return fmt.Errorf("%s: %w", op, rl)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%s: %w", op, err)
	case errors.Is(err, sourceerr.ErrInsecureCredentials), errors.Is(err, sourceerr.ErrInvalid):
		return fmt.Errorf("%s: %w", op, err)
	case isCertificateError(err):
		// Checked before statuses: after a failed TLS handshake with a
		// loopback registry, go-containerregistry also tries plain HTTP,
		// whose 400 says nothing useful.
		return fmt.Errorf("%s: %w: the TLS certificate of %s is not trusted (set insecureSkipTLSVerify only for a registry you control): %v",
			op, sourceerr.ErrUnreachable, f.host, err)
	case errors.As(err, &te):
		return f.classifyStatus(op, te)
	case isNetworkError(err):
		return fmt.Errorf("%s: %w: %v", op, sourceerr.ErrUnreachable, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

func (f failure) classifyStatus(op string, te *transport.Error) error {
	code := te.StatusCode
	switch {
	case code == http.StatusTooManyRequests || hasCode(te, transport.TooManyRequestsErrorCode):
		host := f.host
		if te.Request != nil && te.Request.URL != nil {
			host = te.Request.URL.Host
		}
		until, ok := f.throttle.BlockedUntil(host)
		if !ok {
			until = f.now().Add(throttle.DefaultRetryAfter)
		}
		return fmt.Errorf("%s: %w", op, &sourceerr.RateLimitedError{Host: host, RetryAfter: until})
	case code == http.StatusUnauthorized || code == http.StatusForbidden ||
		hasCode(te, transport.UnauthorizedErrorCode) || hasCode(te, transport.DeniedErrorCode):
		if f.creds == nil {
			return fmt.Errorf("%s: %w: %s requires credentials and no %s credential Secret matches %s (%v)",
				op, sourceerr.ErrUnauthorized, f.host, f.credType, f.repoURL, te)
		}
		return fmt.Errorf("%s: %w: check the username and password of the %s credential Secret for %s (%v)",
			op, sourceerr.ErrUnauthorized, f.credType, f.repoURL, te)
	case code == http.StatusNotFound || hasCode(te, transport.NameUnknownErrorCode) || hasCode(te, transport.ManifestUnknownErrorCode):
		return fmt.Errorf("%s: %w (%v)", op, sourceerr.ErrNotFound, te)
	case code >= 500:
		return fmt.Errorf("%s: %w: %s answered %d %s (%v)", op, sourceerr.ErrUnreachable, f.host, code, http.StatusText(code), te)
	}
	return fmt.Errorf("%s: %w", op, te)
}

func hasCode(te *transport.Error, code transport.ErrorCode) bool {
	for _, d := range te.Errors {
		if d.Code == code {
			return true
		}
	}
	return false
}

func isCertificateError(err error) bool {
	var (
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
		verify   *tls.CertificateVerificationError
	)
	return errors.As(err, &unknown) || errors.As(err, &hostname) || errors.As(err, &invalid) || errors.As(err, &verify)
}

func isNetworkError(err error) bool {
	var (
		netErr net.Error
		urlErr *url.Error
		opErr  *net.OpError
		dnsErr *net.DNSError
	)
	return errors.As(err, &netErr) || errors.As(err, &urlErr) || errors.As(err, &opErr) || errors.As(err, &dnsErr)
}

// redactedError hides a secret in the text of an error while keeping the
// chain intact for errors.Is and errors.As.
type redactedError struct {
	err    error
	secret string
}

func (e *redactedError) Error() string {
	return strings.ReplaceAll(e.err.Error(), e.secret, "<redacted>")
}

func (e *redactedError) Unwrap() error { return e.err }

// redact hides secret in err's message. Secrets shorter than four
// characters are left alone: replacing them would garble the message
// without protecting anything a guess would not find.
func redact(err error, secret string) error {
	if err == nil || len(secret) < 4 || !strings.Contains(err.Error(), secret) {
		return err
	}
	return &redactedError{err: err, secret: secret}
}
