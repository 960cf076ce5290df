package helmserver

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/kargohq/kargo/internal/testutil/registry"
)

// Media types of a Helm chart stored in an OCI registry.
const (
	ChartConfigMediaType  types.MediaType = "application/vnd.cncf.helm.config.v1+json"
	ChartContentMediaType types.MediaType = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
)

// OCITag is the tag Helm uses for a chart version: OCI tags may not contain
// "+", so Helm writes build metadata after "_" instead.
func OCITag(version string) string { return strings.ReplaceAll(version, "+", "_") }

// PushOCIChart pushes a minimal chart (a tarball holding Chart.yaml) to
// reg under repo, tagged as `helm push` tags it, and returns the manifest
// digest. repo is the registry path including the chart name, such as
// "charts/podinfo".
func PushOCIChart(t testing.TB, reg *registry.Registry, repo, name, version string) string {
	t.Helper()
	chartYAML := fmt.Sprintf("apiVersion: v2\nname: %s\nversion: %s\ndescription: A test chart\ntype: application\n", name, version)
	content := chartTarball(t, name, chartYAML)
	config, err := json.Marshal(map[string]string{"apiVersion": "v2", "name": name, "version": version})
	if err != nil {
		t.Fatalf("marshal chart config: %v", err)
	}
	configDigest := reg.PushBlob(t, repo, config)
	contentDigest := reg.PushBlob(t, repo, content)
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		Config:        v1.Descriptor{MediaType: ChartConfigMediaType, Size: int64(len(config)), Digest: mustHash(t, configDigest)},
		Layers:        []v1.Descriptor{{MediaType: ChartContentMediaType, Size: int64(len(content)), Digest: mustHash(t, contentDigest)}},
		Annotations: map[string]string{
			"org.opencontainers.image.title":   name,
			"org.opencontainers.image.version": version,
		},
	}
	data, err := json.Marshal(m)
	if err != nil {
		t.Fatalf("marshal chart manifest: %v", err)
	}
	return reg.PushManifest(t, repo, OCITag(version), types.OCIManifestSchema1, data)
}

func chartTarball(t testing.TB, name, chartYAML string) []byte {
	t.Helper()
	b, err := packageChart(name, chartYAML)
	if err != nil {
		t.Fatalf("chart tarball: %v", err)
	}
	return b
}

// packageChart returns a chart package, as `helm package` makes one, that
// holds only name/Chart.yaml.
func packageChart(name, chartYAML string) ([]byte, error) {
	var buf bytes.Buffer
	gw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gw)
	if err := tw.WriteHeader(&tar.Header{Name: name + "/Chart.yaml", Mode: 0o644, Size: int64(len(chartYAML))}); err != nil {
		return nil, err
	}
	if _, err := tw.Write([]byte(chartYAML)); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := gw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func mustHash(t testing.TB, d string) v1.Hash {
	t.Helper()
	h, err := v1.NewHash(d)
	if err != nil {
		t.Fatalf("parse digest %q: %v", d, err)
	}
	return h
}
