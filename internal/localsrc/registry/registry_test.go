package registry_test

import (
	"archive/tar"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/require"

	"github.com/kargohq/kargo/internal/localsrc/registry"
)

func serve(t *testing.T, dir string) *registry.Server {
	t.Helper()
	srv, err := registry.Serve(t.Context(), "127.0.0.1:0", dir)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, srv.Close()) })
	return srv
}

func tagRef(t *testing.T, host, repo, tag string) name.Tag {
	t.Helper()
	ref, err := name.NewTag(host+"/"+repo+":"+tag, name.Insecure)
	require.NoError(t, err)
	return ref
}

func journalLines(t *testing.T, dir string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "manifests.jsonl"))
	require.NoError(t, err)
	return strings.Count(string(b), "\n")
}

// requireBlobs fails the test unless the registry serves img's config and
// layers with the digests, sizes and diff IDs its manifest and config name.
// The remote package checks each blob's digest as it reads it.
func requireBlobs(t *testing.T, img v1.Image) {
	t.Helper()
	m, err := img.Manifest()
	require.NoError(t, err)
	cfgBytes, err := img.RawConfigFile()
	require.NoError(t, err)
	require.Equal(t, m.Config.Size, int64(len(cfgBytes)))
	cfgDigest, err := img.ConfigName()
	require.NoError(t, err)
	require.Equal(t, m.Config.Digest, cfgDigest)
	cfg, err := img.ConfigFile()
	require.NoError(t, err)
	layers, err := img.Layers()
	require.NoError(t, err)
	require.Len(t, layers, len(m.Layers))
	require.Len(t, cfg.RootFS.DiffIDs, len(layers))
	for i, l := range layers {
		rc, err := l.Compressed()
		require.NoError(t, err)
		n, err := io.Copy(io.Discard, rc)
		require.NoError(t, err, "layer %d", i)
		require.NoError(t, rc.Close())
		require.Equal(t, m.Layers[i].Size, n)
		diffID, err := l.DiffID()
		require.NoError(t, err)
		require.Equal(t, cfg.RootFS.DiffIDs[i], diffID)
	}
}

// layerText returns the text file the only layer of img holds.
func layerText(t *testing.T, img v1.Image) string {
	t.Helper()
	layers, err := img.Layers()
	require.NoError(t, err)
	require.Len(t, layers, 1)
	rc, err := layers[0].Uncompressed()
	require.NoError(t, err)
	defer rc.Close()
	tr := tar.NewReader(rc)
	hdr, err := tr.Next()
	require.NoError(t, err)
	require.Equal(t, "kargo-demo.txt", hdr.Name)
	b, err := io.ReadAll(tr)
	require.NoError(t, err)
	return string(b)
}

func TestImagesSurviveARestart(t *testing.T) {
	dir := t.TempDir()
	first, err := registry.Serve(t.Context(), "127.0.0.1:0", dir)
	require.NoError(t, err)
	digests := map[string]string{}
	for _, tag := range []string{"1.24.0", "1.25.0", "1.26.0"} {
		d, err := registry.PushImage(t.Context(), first.Host(), "library/nginx", tag)
		require.NoError(t, err)
		digests[tag] = d
	}
	require.Len(t, map[string]bool{digests["1.24.0"]: true, digests["1.25.0"]: true, digests["1.26.0"]: true}, 3,
		"each tag is a different image")

	repo, err := name.NewRepository(first.Host()+"/library/nginx", name.Insecure)
	require.NoError(t, err)
	tags, err := remote.List(repo, remote.WithContext(t.Context()))
	require.NoError(t, err)
	require.Equal(t, []string{"1.24.0", "1.25.0", "1.26.0"}, tags)
	desc, err := remote.Get(tagRef(t, first.Host(), "library/nginx", "1.25.0"), remote.WithContext(t.Context()))
	require.NoError(t, err)
	require.Equal(t, digests["1.25.0"], desc.Digest.String())
	img, err := desc.Image()
	require.NoError(t, err)
	requireBlobs(t, img)
	cfg, err := img.ConfigFile()
	require.NoError(t, err)
	require.Equal(t, "linux", cfg.OS)
	require.Equal(t, "amd64", cfg.Architecture)

	require.NoError(t, first.Close())
	_, err = remote.Head(tagRef(t, first.Host(), "library/nginx", "1.25.0"), remote.WithContext(t.Context()),
		remote.WithRetryBackoff(remote.Backoff{Steps: 1}))
	require.Error(t, err, "the first server is down")

	second := serve(t, dir)
	repo, err = name.NewRepository(second.Host()+"/library/nginx", name.Insecure)
	require.NoError(t, err)
	tags, err = remote.List(repo, remote.WithContext(t.Context()))
	require.NoError(t, err)
	require.Equal(t, []string{"1.24.0", "1.25.0", "1.26.0"}, tags)
	for tag, want := range digests {
		desc, err := remote.Get(tagRef(t, second.Host(), "library/nginx", tag), remote.WithContext(t.Context()))
		require.NoError(t, err)
		require.Equal(t, want, desc.Digest.String(), "tag %s resolves to the digest it had", tag)
		img, err := desc.Image()
		require.NoError(t, err)
		requireBlobs(t, img)
		require.Equal(t, "kargo demo image library/nginx:"+tag+"\n", layerText(t, img))
	}
	byDigest, err := name.NewDigest(second.Host()+"/library/nginx@"+digests["1.24.0"], name.Insecure)
	require.NoError(t, err)
	_, err = remote.Head(byDigest, remote.WithContext(t.Context()))
	require.NoError(t, err, "the manifest is also stored under its digest")
}

func TestPushImageIsReproducible(t *testing.T) {
	dir := t.TempDir()
	srv := serve(t, dir)
	d1, err := registry.PushImage(t.Context(), srv.Host(), "nginx", "1.24.0")
	require.NoError(t, err)
	lines := journalLines(t, dir)
	d2, err := registry.PushImage(t.Context(), srv.Host(), "nginx", "1.24.0")
	require.NoError(t, err)
	require.Equal(t, d1, d2)
	require.Equal(t, lines, journalLines(t, dir), "pushing the same image again writes nothing")

	// The images on disk of earlier releases keep their digests only if
	// the bytes never change: this is the digest of nginx:1.24.0 as
	// PushImage has always built it.
	require.Equal(t, "sha256:7596beafac0839135faaa686bd2ce2bd76e3a0c358e30a750969b1b3264728ba", d1)

	other := serve(t, t.TempDir())
	d3, err := registry.PushImage(t.Context(), other.Host(), "nginx", "1.24.0")
	require.NoError(t, err)
	require.Equal(t, d1, d3, "the digest depends on neither the registry nor its address")
	d4, err := registry.PushImage(t.Context(), other.Host(), "other", "1.24.0")
	require.NoError(t, err)
	require.NotEqual(t, d1, d4, "the repository is part of the image")
}

func TestDeletesAndIndexesSurviveARestart(t *testing.T) {
	dir := t.TempDir()
	first, err := registry.Serve(t.Context(), "127.0.0.1:0", dir)
	require.NoError(t, err)
	_, err = registry.PushImage(t.Context(), first.Host(), "app", "keep")
	require.NoError(t, err)
	_, err = registry.PushImage(t.Context(), first.Host(), "app", "drop")
	require.NoError(t, err)
	require.NoError(t, remote.Delete(tagRef(t, first.Host(), "app", "drop"), remote.WithContext(t.Context())))

	idx, err := random.Index(64, 1, 2)
	require.NoError(t, err)
	require.NoError(t, remote.WriteIndex(tagRef(t, first.Host(), "app", "multi"), idx, remote.WithContext(t.Context())))
	idxDigest, err := idx.Digest()
	require.NoError(t, err)
	require.NoError(t, first.Close())

	second := serve(t, dir)
	repo, err := name.NewRepository(second.Host()+"/app", name.Insecure)
	require.NoError(t, err)
	tags, err := remote.List(repo, remote.WithContext(t.Context()))
	require.NoError(t, err)
	require.Equal(t, []string{"keep", "multi"}, tags, "the deleted tag stays deleted")

	got, err := remote.Index(tagRef(t, second.Host(), "app", "multi"), remote.WithContext(t.Context()))
	require.NoError(t, err)
	gotDigest, err := got.Digest()
	require.NoError(t, err)
	require.Equal(t, idxDigest, gotDigest)
	im, err := got.IndexManifest()
	require.NoError(t, err)
	require.Len(t, im.Manifests, 2)
	for _, m := range im.Manifests {
		img, err := got.Image(m.Digest)
		require.NoError(t, err)
		requireBlobs(t, img)
	}
}

func TestAnIncompleteLastJournalLineIsDropped(t *testing.T) {
	dir := t.TempDir()
	first, err := registry.Serve(t.Context(), "127.0.0.1:0", dir)
	require.NoError(t, err)
	want, err := registry.PushImage(t.Context(), first.Host(), "app", "1.0.0")
	require.NoError(t, err)
	require.NoError(t, first.Close())
	journal := filepath.Join(dir, "manifests.jsonl")
	whole, err := os.ReadFile(journal)
	require.NoError(t, err)
	// A crash in the middle of an append leaves part of a line.
	require.NoError(t, os.WriteFile(journal, append(append([]byte{}, whole...), `{"op":"put","repo":"app","ref":"1.1`...), 0o600))

	second := serve(t, dir)
	desc, err := remote.Head(tagRef(t, second.Host(), "app", "1.0.0"), remote.WithContext(t.Context()))
	require.NoError(t, err)
	require.Equal(t, want, desc.Digest.String())
	_, err = registry.PushImage(t.Context(), second.Host(), "app", "1.1.0")
	require.NoError(t, err)
	b, err := os.ReadFile(journal)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(b), string(whole)))
	require.Equal(t, 2, strings.Count(string(b), "\n"), "later appends start on a line of their own")
}

func TestACorruptJournalIsAnError(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "manifests.jsonl"), []byte("not json\n"), 0o600))
	_, err := registry.Serve(t.Context(), "127.0.0.1:0", dir)
	require.ErrorContains(t, err, "line 1")
}

func TestTagListIsPaginatedLikeTheSpec(t *testing.T) {
	srv := serve(t, t.TempDir())
	var want []string
	for _, tag := range []string{"a", "b", "c", "d", "e"} {
		_, err := registry.PushImage(t.Context(), srv.Host(), "app", tag)
		require.NoError(t, err)
		want = append(want, tag)
	}
	repo, err := name.NewRepository(srv.Host()+"/app", name.Insecure)
	require.NoError(t, err)
	got, err := remote.List(repo, remote.WithContext(t.Context()), remote.WithPageSize(2))
	require.NoError(t, err)
	require.Equal(t, want, got)
}

func TestServeStopsWithItsContext(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(t.Context())
	srv, err := registry.Serve(ctx, "127.0.0.1:0", dir)
	require.NoError(t, err)
	resp, err := http.Get(srv.URL() + "/v2/")
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusOK, resp.StatusCode)

	cancel()
	require.Eventually(t, func() bool {
		resp, err := http.Get(srv.URL() + "/v2/")
		if err == nil {
			_ = resp.Body.Close()
		}
		return err != nil
	}, 10*time.Second, 10*time.Millisecond)
	require.NoError(t, srv.Close())
	require.NoError(t, srv.Close(), "Close is idempotent")

	again := serve(t, dir)
	require.NotEmpty(t, again.Host(), "the directory is free again")
}
