package registry

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/url"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// CreatedAnnotation is the OCI manifest annotation that records when an
// image was built.
const CreatedAnnotation = "org.opencontainers.image.created"

var allManifestTypes = []string{
	string(types.OCIManifestSchema1),
	string(types.OCIImageIndex),
	string(types.DockerManifestSchema2),
	string(types.DockerManifestList),
}

// Image describes a single-platform image to push. Every pushed image gets a
// layer of random bytes, so two pushes never share a digest.
type Image struct {
	// Platform is os/arch or os/arch/variant; empty means linux/amd64.
	Platform string
	// Created is the config's created time. Zero leaves the Unix epoch, as
	// reproducible builds do.
	Created time.Time
	// CreatedAnnotation, when set, is written verbatim as the manifest's
	// org.opencontainers.image.created annotation.
	CreatedAnnotation string
}

// Index describes a multi-platform image index to push.
type Index struct {
	// Platforms lists one image per platform; empty means linux/amd64 and
	// linux/arm64.
	Platforms []string
	// Created is the created time of every platform's image.
	Created time.Time
	// CreatedAnnotation is set on every platform's manifest, when not empty.
	CreatedAnnotation string
	// Attestation adds an attestation manifest for platform unknown/unknown,
	// as docker buildx does, which clients must not mistake for an image.
	Attestation bool
}

// PushBlob uploads data as a blob of repo and returns its digest.
func (r *Registry) PushBlob(t testing.TB, repo string, data []byte) string {
	t.Helper()
	d := digestOf(data)
	resp := r.adminDo(t, http.MethodPost, "/v2/"+repo+"/blobs/uploads/?digest="+url.QueryEscape(d), "application/octet-stream", data, http.StatusCreated)
	resp.Body.Close()
	return d
}

// PushManifest stores a manifest of any media type under ref (a tag or its
// digest) and returns its digest.
func (r *Registry) PushManifest(t testing.TB, repo, ref string, mediaType types.MediaType, data []byte) string {
	t.Helper()
	resp := r.adminDo(t, http.MethodPut, "/v2/"+repo+"/manifests/"+ref, string(mediaType), data, http.StatusCreated)
	resp.Body.Close()
	return digestOf(data)
}

// PushImage pushes a single-platform image and tags it; it returns the
// manifest digest.
func (r *Registry) PushImage(t testing.TB, repo, tag string, img Image) string {
	t.Helper()
	data, mediaType := r.buildImage(t, repo, img)
	return r.PushManifest(t, repo, tag, mediaType, data)
}

// PushIndex pushes one image per platform and an index over them under tag.
// It returns the index digest and each platform's manifest digest.
func (r *Registry) PushIndex(t testing.TB, repo, tag string, idx Index) (string, map[string]string) {
	t.Helper()
	platforms := idx.Platforms
	if len(platforms) == 0 {
		platforms = []string{"linux/amd64", "linux/arm64"}
	}
	index := v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex}
	byPlatform := map[string]string{}
	for _, p := range platforms {
		data, mediaType := r.buildImage(t, repo, Image{Platform: p, Created: idx.Created, CreatedAnnotation: idx.CreatedAnnotation})
		d := r.PushManifest(t, repo, digestOf(data), mediaType, data)
		byPlatform[p] = d
		plat, err := v1.ParsePlatform(p)
		if err != nil {
			t.Fatalf("parse platform %q: %v", p, err)
		}
		index.Manifests = append(index.Manifests, v1.Descriptor{
			MediaType: mediaType, Size: int64(len(data)), Digest: mustHash(t, d), Platform: plat,
		})
	}
	if idx.Attestation {
		data, mediaType := r.buildImage(t, repo, Image{Platform: "unknown/unknown"})
		d := r.PushManifest(t, repo, digestOf(data), mediaType, data)
		index.Manifests = append(index.Manifests, v1.Descriptor{
			MediaType: mediaType, Size: int64(len(data)), Digest: mustHash(t, d),
			Platform:    &v1.Platform{OS: "unknown", Architecture: "unknown"},
			Annotations: map[string]string{"vnd.docker.reference.type": "attestation-manifest"},
		})
	}
	data := mustJSON(t, index)
	return r.PushManifest(t, repo, tag, types.OCIImageIndex, data), byPlatform
}

// Tag points tags at the manifest already stored under ref, as
// `crane tag` does, without uploading anything else.
func (r *Registry) Tag(t testing.TB, repo, ref string, tags ...string) {
	t.Helper()
	resp := r.adminDo(t, http.MethodGet, "/v2/"+repo+"/manifests/"+ref, "", nil, http.StatusOK)
	data, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("read manifest %s@%s: %v", repo, ref, err)
	}
	mediaType := types.MediaType(resp.Header.Get("Content-Type"))
	for _, tag := range tags {
		r.PushManifest(t, repo, tag, mediaType, data)
	}
}

func (r *Registry) buildImage(t testing.TB, repo string, img Image) ([]byte, types.MediaType) {
	t.Helper()
	platform := img.Platform
	if platform == "" {
		platform = "linux/amd64"
	}
	plat, err := v1.ParsePlatform(platform)
	if err != nil {
		t.Fatalf("parse platform %q: %v", platform, err)
	}
	layer, diffID := randomLayer(t)
	layerDigest := r.PushBlob(t, repo, layer)
	created := img.Created
	if created.IsZero() {
		created = time.Unix(0, 0).UTC()
	}
	cfg := v1.ConfigFile{
		Architecture: plat.Architecture,
		OS:           plat.OS,
		Variant:      plat.Variant,
		Created:      v1.Time{Time: created},
		RootFS:       v1.RootFS{Type: "layers", DiffIDs: []v1.Hash{mustHash(t, diffID)}},
	}
	cfgData := mustJSON(t, cfg)
	cfgDigest := r.PushBlob(t, repo, cfgData)
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		Config:        v1.Descriptor{MediaType: types.OCIConfigJSON, Size: int64(len(cfgData)), Digest: mustHash(t, cfgDigest)},
		Layers:        []v1.Descriptor{{MediaType: types.OCILayer, Size: int64(len(layer)), Digest: mustHash(t, layerDigest)}},
	}
	if img.CreatedAnnotation != "" {
		m.Annotations = map[string]string{CreatedAnnotation: img.CreatedAnnotation}
	}
	return mustJSON(t, m), types.OCIManifestSchema1
}

// randomLayer returns a gzipped tar holding one file of random bytes, and
// the digest of the uncompressed tar.
func randomLayer(t testing.TB) ([]byte, string) {
	t.Helper()
	content := make([]byte, 64)
	if _, err := rand.Read(content); err != nil {
		t.Fatalf("random layer: %v", err)
	}
	var tarBuf bytes.Buffer
	tw := tar.NewWriter(&tarBuf)
	if err := tw.WriteHeader(&tar.Header{Name: "random", Mode: 0o644, Size: int64(len(content))}); err != nil {
		t.Fatalf("tar header: %v", err)
	}
	if _, err := tw.Write(content); err != nil {
		t.Fatalf("tar write: %v", err)
	}
	if err := tw.Close(); err != nil {
		t.Fatalf("tar close: %v", err)
	}
	var gzBuf bytes.Buffer
	gw := gzip.NewWriter(&gzBuf)
	if _, err := gw.Write(tarBuf.Bytes()); err != nil {
		t.Fatalf("gzip: %v", err)
	}
	if err := gw.Close(); err != nil {
		t.Fatalf("gzip close: %v", err)
	}
	return gzBuf.Bytes(), digestOf(tarBuf.Bytes())
}

func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func mustHash(t testing.TB, d string) v1.Hash {
	t.Helper()
	h, err := v1.NewHash(d)
	if err != nil {
		t.Fatalf("parse digest %q: %v", d, err)
	}
	return h
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal %T: %v", v, err)
	}
	return b
}

func discardLogger() *log.Logger { return log.New(io.Discard, "", 0) }
