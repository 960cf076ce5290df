package egress

import (
	"fmt"
	"io"
	"net/http"
)

// TooLargeError says that a response was larger than the controller reads
// of that kind of download. Retrying does not help: the source or the limit
// must change.
type TooLargeError struct {
	// What names the download, such as "the registry's answer".
	What string
	// Limit is the largest size read, in bytes.
	Limit int64
	// Hint says how to raise the limit, if it can be raised.
	Hint string
}

// Error says what was too large and what the limit is.
func (e *TooLargeError) Error() string {
	msg := fmt.Sprintf("%s is larger than %s, more than kargo reads", e.What, FormatSize(e.Limit))
	if e.Hint != "" {
		msg += "; " + e.Hint
	}
	return msg
}

// FormatSize writes a byte count the way limits are spoken of: "8 MiB",
// "512 KiB", "1000 bytes".
func FormatSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// LimitBodies returns a RoundTripper whose response bodies fail with a
// *TooLargeError once more than limit bytes have been read, and which
// refuses at once a response that announces a larger Content-Length. It
// bounds what one response can cost whatever reads it, such as a library
// that reads whole bodies into memory.
func LimitBodies(next http.RoundTripper, limit int64, what, hint string) http.RoundTripper {
	return &limitingTransport{next: next, err: &TooLargeError{What: what, Limit: limit, Hint: hint}}
}

type limitingTransport struct {
	next http.RoundTripper
	err  *TooLargeError
}

func (t *limitingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err != nil || resp.Body == nil {
		return resp, err
	}
	if resp.ContentLength > t.err.Limit {
		_ = resp.Body.Close()
		return nil, t.err
	}
	resp.Body = LimitBody(resp.Body, t.err)
	return resp, nil
}

// LimitBody returns rc, failing with tooLarge once more than tooLarge.Limit
// bytes have been read from it.
func LimitBody(rc io.ReadCloser, tooLarge *TooLargeError) io.ReadCloser {
	return &limitedBody{rc: rc, left: tooLarge.Limit, err: tooLarge}
}

type limitedBody struct {
	rc   io.ReadCloser
	left int64
	err  *TooLargeError
}

func (l *limitedBody) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if l.left <= 0 {
		// Exactly the limit is fine; one byte more is not.
		var one [1]byte
		n, err := l.rc.Read(one[:])
		if n > 0 {
			return 0, l.err
		}
		return 0, err
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.rc.Read(p)
	l.left -= int64(n)
	return n, err
}

func (l *limitedBody) Close() error { return l.rc.Close() }
