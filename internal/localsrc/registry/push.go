package registry

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// PushImage pushes a small linux/amd64 image, a config and one layer
// holding a text file, to repo on the registry at host over plain HTTP,
// tags it tag and returns its manifest digest. The image is built from
// repo and tag alone, byte for byte, so pushing the same tag again, from
// any process, gives the same digest and changes nothing. The layer is an
// uncompressed tar because gzip's output may change between Go releases.
// The image cannot be run: it is for registries and tools that resolve
// tags and digests.
func PushImage(ctx context.Context, host, repo, tag string) (string, error) {
	ref, err := name.NewTag(host+"/"+repo+":"+tag, name.Insecure)
	if err != nil {
		return "", fmt.Errorf("push image %s:%s: %w", repo, tag, err)
	}
	img, err := demoImage(repo, tag)
	if err != nil {
		return "", fmt.Errorf("push image %s: %w", ref, err)
	}
	p, err := remote.NewPusher(remote.WithContext(ctx))
	if err != nil {
		return "", fmt.Errorf("push image %s: %w", ref, err)
	}
	for _, blob := range [][]byte{img.layer, img.config} {
		if err := p.Upload(ctx, ref.Repository, static.NewLayer(blob, types.OCIUncompressedLayer)); err != nil {
			return "", fmt.Errorf("push image %s: upload blob: %w", ref, err)
		}
	}
	if err := p.Put(ctx, ref, img); err != nil {
		return "", fmt.Errorf("push image %s: put manifest: %w", ref, err)
	}
	return digestOf(img.manifest), nil
}

// image is a built image: its blobs and its manifest. It is a
// remote.Taggable.
type image struct {
	layer, config, manifest []byte
}

// RawManifest returns the manifest as pushed.
func (i *image) RawManifest() ([]byte, error) { return i.manifest, nil }

// MediaType returns the manifest's media type.
func (i *image) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }

// The documents of an image, declared here rather than taken from
// go-containerregistry's v1 package so that a new field there cannot
// change the bytes, and so the digests, of the images PushImage pushed.
type (
	descriptor struct {
		MediaType types.MediaType `json:"mediaType"`
		Digest    string          `json:"digest"`
		Size      int64           `json:"size"`
	}
	manifest struct {
		SchemaVersion int             `json:"schemaVersion"`
		MediaType     types.MediaType `json:"mediaType"`
		Config        descriptor      `json:"config"`
		Layers        []descriptor    `json:"layers"`
	}
	imageConfig struct {
		Architecture string   `json:"architecture"`
		OS           string   `json:"os"`
		Created      string   `json:"created"`
		Config       struct{} `json:"config"`
		RootFS       struct {
			Type    string   `json:"type"`
			DiffIDs []string `json:"diff_ids"`
		} `json:"rootfs"`
	}
)

func demoImage(repo, tag string) (*image, error) {
	content := fmt.Sprintf("kargo demo image %s:%s\n", repo, tag)
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	if err := tw.WriteHeader(&tar.Header{
		Typeflag: tar.TypeReg,
		Name:     "kargo-demo.txt",
		Mode:     0o644,
		Size:     int64(len(content)),
		ModTime:  time.Unix(0, 0),
		Format:   tar.FormatUSTAR,
	}); err != nil {
		return nil, err
	}
	if _, err := tw.Write([]byte(content)); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	layerDigest := digestOf(layer.Bytes())

	var cfg imageConfig
	cfg.Architecture, cfg.OS = "amd64", "linux"
	// The Unix epoch, as reproducible builds date their images.
	cfg.Created = "1970-01-01T00:00:00Z"
	cfg.RootFS.Type = "layers"
	// An uncompressed layer's diff ID is its digest.
	cfg.RootFS.DiffIDs = []string{layerDigest}
	config, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	m, err := json.Marshal(manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		Config:        descriptor{MediaType: types.OCIConfigJSON, Digest: digestOf(config), Size: int64(len(config))},
		Layers:        []descriptor{{MediaType: types.OCIUncompressedLayer, Digest: layerDigest, Size: int64(layer.Len())}},
	})
	if err != nil {
		return nil, err
	}
	return &image{layer: layer.Bytes(), config: config, manifest: m}, nil
}

// Tags lists the tags of repo on the registry at host, over plain HTTP.
func Tags(ctx context.Context, host, repo string) ([]string, error) {
	r, err := name.NewRepository(host+"/"+repo, name.Insecure)
	if err != nil {
		return nil, fmt.Errorf("list tags of %s: %w", repo, err)
	}
	tags, err := remote.List(r, remote.WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("list tags of %s: %w", r, err)
	}
	return tags, nil
}
