package server

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

// uiHandler serves the web UI from files (Options.UI): a file when the
// path names one, and index.html for every other page path, since the
// UI's pages (/projects/kargo-demo) are routes of the application, not
// files. Assets have content hashes in their names, so they are cached for
// good; index.html never is, so that an upgrade shows at the next load.
type uiHandler struct {
	files fs.FS
	index []byte
	// connectOrigins are the origins beyond this server's the UI may call:
	// the OpenID provider's, for single sign-on.
	connectOrigins func(context.Context) []string
}

func newUIHandler(files fs.FS, connectOrigins func(context.Context) []string) (*uiHandler, error) {
	index, err := fs.ReadFile(files, "index.html")
	if err != nil {
		return nil, err
	}
	return &uiHandler{files: files, index: index, connectOrigins: connectOrigins}, nil
}

// uiCSP lets the UI load only its own scripts and talk only to this
// server (and the OpenID provider, with single sign-on: %s); React's style
// attributes need 'unsafe-inline' for styles alone.
const uiCSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
	"connect-src 'self'%s; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

func (h *uiHandler) csp(ctx context.Context) string {
	extra := ""
	if h.connectOrigins != nil {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		for _, o := range h.connectOrigins(ctx) {
			extra += " " + o
		}
	}
	return fmt.Sprintf(uiCSP, extra)
}

func (h *uiHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("X-Content-Type-Options", "nosniff")
	// Files get the policy without the provider; only the application's
	// page (index.html, below) makes a sign-in.
	hdr.Set("Content-Security-Policy", fmt.Sprintf(uiCSP, ""))
	hdr.Set("Referrer-Policy", "no-referrer")
	name := strings.TrimPrefix(path.Clean(r.URL.Path), "/")
	if name != "" && name != "index.html" {
		if f, err := h.files.Open(name); err == nil {
			defer f.Close()
			if st, err := f.Stat(); err == nil && !st.IsDir() {
				if strings.HasPrefix(name, "assets/") {
					hdr.Set("Cache-Control", "public, max-age=31536000, immutable")
				}
				if rs, ok := f.(readSeeker); ok {
					http.ServeContent(w, r, name, time.Time{}, rs)
					return
				}
			}
		}
		// A missing asset is a 404, not the application: a stale page
		// asking for an old bundle must fail visibly.
		if strings.HasPrefix(name, "assets/") || path.Ext(name) != "" {
			http.NotFound(w, r)
			return
		}
	}
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("Content-Security-Policy", h.csp(r.Context()))
	http.ServeContent(w, r, "index.html", time.Time{}, bytes.NewReader(h.index))
}

type readSeeker interface {
	Read([]byte) (int, error)
	Seek(int64, int) (int64, error)
}
