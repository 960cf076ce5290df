// Package registry serves an OCI distribution registry, so that `kargo
// local --demo` needs no registry of its own: go-containerregistry's
// in-process registry, the one the component tests use
// (internal/testutil/registry wraps the same Handler), with its content on
// disk so that it survives a restart.
//
// go-containerregistry keeps blobs through a pluggable handler, which here
// writes them to <dir>/blobs/sha256/<hex>, but it keeps manifests and tags
// only in memory. Handler therefore appends every manifest PUT and DELETE
// that succeeds to the journal <dir>/manifests.jsonl, and replays the
// journal into a fresh registry when it starts, so that every tag resolves
// to the same digest as before. Anyone who can reach the listener may push,
// so serve it on loopback only.
package registry

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/kargohq/kargo/internal/localsrc"
)

// The layout of a registry's directory.
const (
	blobsDir    = "blobs"
	journalFile = "manifests.jsonl"
)

// Handler serves the OCI distribution API. Its methods are safe for
// concurrent use.
type Handler struct {
	inner http.Handler
	// persist is set when the handler journals manifest changes; it never
	// changes after construction.
	persist bool

	// mu orders manifest changes, so that the journal records them in the
	// order the registry applied them.
	mu      sync.Mutex
	journal *os.File // nil when the content is in memory only
	// refs mirrors what the registry stores for each repository and
	// reference (tag or digest), to leave out of the journal a PUT that
	// changes nothing, such as the same image pushed again at every start.
	refs map[string]map[string]stored
}

// stored is a manifest as the registry keeps it under a reference.
type stored struct {
	mediaType string
	digest    string
}

// record is one line of the journal.
type record struct {
	// Op is "put" or "delete".
	Op        string `json:"op"`
	Repo      string `json:"repo"`
	Reference string `json:"ref"`
	MediaType string `json:"mediaType,omitempty"`
	Body      []byte `json:"body,omitempty"`
}

// NewMemoryHandler returns a registry that keeps its content in memory and
// loses it when the process ends, for tests.
func NewMemoryHandler() *Handler {
	return &Handler{inner: ggcrregistry.New(ggcrregistry.Logger(discardLogger()))}
}

// NewHandler returns a registry whose content lives under dir, which it
// creates when missing, starting with the content a previous handler on
// the same dir left. Call Close when done. Only one handler may use a
// dir at a time.
func NewHandler(dir string) (*Handler, error) {
	blobs := filepath.Join(dir, blobsDir)
	if err := os.MkdirAll(blobs, 0o755); err != nil {
		return nil, fmt.Errorf("create registry directory %s: %w", dir, err)
	}
	// The blob handler writes each upload to a temporary file before
	// renaming it into place, and leaves it behind when the upload fails.
	stale, _ := filepath.Glob(filepath.Join(blobs, "upload-*"))
	for _, f := range stale {
		_ = os.Remove(f)
	}
	h := &Handler{
		inner: ggcrregistry.New(
			ggcrregistry.Logger(discardLogger()),
			ggcrregistry.WithBlobHandler(ggcrregistry.NewDiskBlobHandler(blobs)),
		),
		persist: true,
		refs:    map[string]map[string]stored{},
	}
	path := filepath.Join(dir, journalFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open registry journal: %w", err)
	}
	if err := h.replay(f); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("replay registry journal %s: %w", path, err)
	}
	h.journal = f
	return h, nil
}

// replay applies the journal's records to the registry and leaves f
// positioned at its end. A last line cut short, by a crash in the middle of
// an append, is dropped: the client was never told that write succeeded.
func (h *Handler) replay(f *os.File) error {
	r := bufio.NewReader(f)
	var offset int64
	for line := 1; ; line++ {
		b, err := r.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			if len(b) > 0 {
				if err := f.Truncate(offset); err != nil {
					return fmt.Errorf("drop the incomplete line %d: %w", line, err)
				}
			}
			break
		}
		if err != nil {
			return err
		}
		var rec record
		if err := json.Unmarshal(b, &rec); err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
		if err := h.apply(rec); err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
		offset += int64(len(b))
	}
	_, err := f.Seek(offset, io.SeekStart)
	return err
}

// apply replays one record into the registry.
func (h *Handler) apply(rec record) error {
	req := &http.Request{
		Method: http.MethodPut,
		URL:    &url.URL{Path: "/v2/" + rec.Repo + "/manifests/" + rec.Reference},
		Header: http.Header{},
		Body:   io.NopCloser(bytes.NewReader(rec.Body)),
	}
	want := http.StatusCreated
	switch rec.Op {
	case "put":
		req.Header.Set("Content-Type", rec.MediaType)
		req.ContentLength = int64(len(rec.Body))
	case "delete":
		req.Method, req.Body, want = http.MethodDelete, http.NoBody, http.StatusAccepted
	default:
		return fmt.Errorf("unknown operation %q", rec.Op)
	}
	w := newRecorder()
	h.inner.ServeHTTP(w, req.WithContext(context.Background()))
	if w.status != want {
		return fmt.Errorf("%s %s: status %d: %s", req.Method, req.URL.Path, w.status, bytes.TrimSpace(w.body.Bytes()))
	}
	h.remember(rec)
	return nil
}

// remember updates refs as the registry changed on rec: a PUT stores the
// manifest under its reference and its digest, a DELETE removes the
// reference only.
func (h *Handler) remember(rec record) {
	if h.refs[rec.Repo] == nil {
		h.refs[rec.Repo] = map[string]stored{}
	}
	if rec.Op == "delete" {
		delete(h.refs[rec.Repo], rec.Reference)
		return
	}
	s := stored{mediaType: rec.MediaType, digest: digestOf(rec.Body)}
	h.refs[rec.Repo][s.digest] = s
	h.refs[rec.Repo][rec.Reference] = s
}

// unchanged reports whether the registry already stores rec's manifest
// under both its reference and its digest, so that applying it again
// changes nothing.
func (h *Handler) unchanged(rec record) bool {
	if rec.Op != "put" {
		return false
	}
	s := stored{mediaType: rec.MediaType, digest: digestOf(rec.Body)}
	refs := h.refs[rec.Repo]
	return refs != nil && refs[rec.Reference] == s && refs[s.digest] == s
}

// Close closes the journal. Requests that change manifests fail from then
// on; the handler of a memory registry needs no Close.
func (h *Handler) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.journal == nil {
		return nil
	}
	err := h.journal.Close()
	h.journal = nil
	return err
}

// ServeHTTP serves the distribution API.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet && isTagList(r) {
		h.serveTags(w, r)
		return
	}
	if h.persist {
		if repo, ref, ok := manifestChange(r); ok {
			h.serveManifestChange(w, r, repo, ref)
			return
		}
	}
	h.inner.ServeHTTP(w, r)
}

// serveManifestChange applies a manifest PUT or DELETE and, when the
// registry accepted it, appends it to the journal before answering. If
// the journal cannot be written the client gets 500, and the change is
// lost at the next start.
func (h *Handler) serveManifestChange(w http.ResponseWriter, r *http.Request, repo, ref string) {
	rec := record{Op: "delete", Repo: repo, Reference: ref}
	if r.Method == http.MethodPut {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			writeError(w, http.StatusBadRequest, "MANIFEST_INVALID", "read manifest: "+err.Error())
			return
		}
		rec = record{Op: "put", Repo: repo, Reference: ref, MediaType: r.Header.Get("Content-Type"), Body: body}
		r = r.Clone(r.Context())
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
	}

	h.mu.Lock()
	defer h.mu.Unlock()
	if h.journal == nil {
		writeError(w, http.StatusServiceUnavailable, "UNAVAILABLE", "the registry is closed")
		return
	}
	unchanged := h.unchanged(rec)
	rw := newRecorder()
	h.inner.ServeHTTP(rw, r)
	accepted := (rec.Op == "put" && rw.status == http.StatusCreated) ||
		(rec.Op == "delete" && rw.status == http.StatusAccepted)
	if accepted && !unchanged {
		if err := h.append(rec); err != nil {
			writeError(w, http.StatusInternalServerError, "UNKNOWN", "record manifest: "+err.Error())
			return
		}
		h.remember(rec)
	}
	rw.copyTo(w)
}

// append writes rec to the journal as one line and waits for it to reach
// the disk.
func (h *Handler) append(rec record) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if _, err := h.journal.Write(append(b, '\n')); err != nil {
		return err
	}
	return h.journal.Sync()
}

// manifestChange returns the repository and reference of a manifest PUT or
// DELETE, split as go-containerregistry splits the path: the reference is
// the last element, the repository the elements between the first and
// "manifests". Blob paths win, as they do there.
func manifestChange(r *http.Request) (repo, ref string, ok bool) {
	if r.Method != http.MethodPut && r.Method != http.MethodDelete {
		return "", "", false
	}
	elem := strings.Split(r.URL.Path, "/")[1:]
	if isBlobPath(elem) || len(elem) < 4 || elem[len(elem)-2] != "manifests" {
		return "", "", false
	}
	return strings.Join(elem[1:len(elem)-2], "/"), elem[len(elem)-1], true
}

// isBlobPath mirrors go-containerregistry's test for blob requests, which
// it makes before the test for manifests.
func isBlobPath(elem []string) bool {
	if len(elem) > 0 && elem[len(elem)-1] == "" {
		elem = elem[:len(elem)-1]
	}
	if len(elem) < 3 {
		return false
	}
	return elem[len(elem)-2] == "blobs" || (elem[len(elem)-3] == "blobs" && elem[len(elem)-2] == "uploads")
}

func isTagList(r *http.Request) bool {
	p, ok := strings.CutPrefix(r.URL.Path, "/v2/")
	return ok && strings.HasSuffix(p, "/tags/list")
}

// serveTags paginates the tag list with n, last and a Link header as the
// distribution spec describes; go-containerregistry's registry only
// truncates, which would hide every tag past the first page from a client
// that follows the spec.
func (h *Handler) serveTags(w http.ResponseWriter, req *http.Request) {
	full := req.Clone(req.Context())
	full.URL.RawQuery = ""
	full.RequestURI = ""
	rec := newRecorder()
	h.inner.ServeHTTP(rec, full)
	if rec.status != http.StatusOK {
		rec.copyTo(w)
		return
	}
	var list struct {
		Name string   `json:"name"`
		Tags []string `json:"tags"`
	}
	if err := json.Unmarshal(rec.body.Bytes(), &list); err != nil {
		writeError(w, http.StatusInternalServerError, "UNKNOWN", err.Error())
		return
	}
	sort.Strings(list.Tags)
	q := req.URL.Query()
	if last := q.Get("last"); last != "" {
		i := sort.SearchStrings(list.Tags, last)
		for i < len(list.Tags) && list.Tags[i] <= last {
			i++
		}
		list.Tags = list.Tags[i:]
	}
	if n, err := strconv.Atoi(q.Get("n")); err == nil && n > 0 && n < len(list.Tags) {
		list.Tags = list.Tags[:n]
		next := url.URL{Path: req.URL.Path, RawQuery: url.Values{"n": {strconv.Itoa(n)}, "last": {list.Tags[n-1]}}.Encode()}
		w.Header().Set("Link", fmt.Sprintf("<%s>; rel=\"next\"", next.String()))
	}
	if list.Tags == nil {
		list.Tags = []string{}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(list)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"errors": []map[string]string{{"code": code, "message": msg}},
	})
}

// recorder holds an answer of the inner registry until the handler decides
// what to send.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func newRecorder() *recorder { return &recorder{header: http.Header{}} }

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return r.body.Write(b)
}

func (r *recorder) copyTo(w http.ResponseWriter) {
	for k, vs := range r.header {
		w.Header()[k] = vs
	}
	status := r.status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	_, _ = w.Write(r.body.Bytes())
}

func digestOf(b []byte) string {
	h, _, _ := v1.SHA256(bytes.NewReader(b)) // reading memory cannot fail
	return h.String()
}

func discardLogger() *log.Logger { return log.New(io.Discard, "", 0) }

// Server is a running registry.
type Server struct {
	*localsrc.Server
}

// Serve serves a registry whose content lives under dir on addr, such as
// "127.0.0.1:0", until Close is called or ctx is done; closing it also
// closes the journal.
func Serve(ctx context.Context, addr, dir string) (*Server, error) {
	h, err := NewHandler(dir)
	if err != nil {
		return nil, err
	}
	srv, err := localsrc.Serve(ctx, addr, "registry", h, h.Close)
	if err != nil {
		_ = h.Close()
		return nil, err
	}
	return &Server{srv}, nil
}

// Host is the registry's address as an image reference names it, such as
// "127.0.0.1:41234".
func (s *Server) Host() string { return s.Addr() }
