package argocd

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestKustomizeImageName(t *testing.T) {
	for _, tc := range []struct{ entry, name string }{
		{"nginx=nginx:1.25.0", "nginx"},
		{"nginx=registry.example.com/nginx@sha256:abc", "nginx"},
		{"nginx:1.25.0", "nginx"},
		{"nginx@sha256:abc", "nginx"},
		{"nginx", "nginx"},
		{"ghcr.io/example/app:v1", "ghcr.io/example/app"},
		{"localhost:5000/app:1.0", "localhost:5000/app"},
		{"localhost:5000/app", "localhost:5000/app"},
		{"localhost:5000/app@sha256:abc", "localhost:5000/app"},
	} {
		t.Run(tc.entry, func(t *testing.T) {
			require.Equal(t, tc.name, kustomizeImageName(tc.entry))
		})
	}
}

func TestSetKustomizeImage(t *testing.T) {
	for _, tc := range []struct {
		name   string
		source map[string]any
		want   map[string]any
	}{
		{
			name:   "no kustomize section",
			source: map[string]any{"repoURL": "r"},
			want:   map[string]any{"repoURL": "r", "kustomize": map[string]any{"images": []any{"nginx=nginx:2"}}},
		},
		{
			name: "replaces the entry for the same image, whatever its form, and keeps the rest",
			source: map[string]any{"kustomize": map[string]any{
				"namePrefix": "test-",
				"images":     []any{"redis:7", "nginx:1"},
			}},
			want: map[string]any{"kustomize": map[string]any{
				"namePrefix": "test-",
				"images":     []any{"redis:7", "nginx=nginx:2"},
			}},
		},
		{
			name:   "appends for another image",
			source: map[string]any{"kustomize": map[string]any{"images": []any{"redis=redis@sha256:abc"}}},
			want:   map[string]any{"kustomize": map[string]any{"images": []any{"redis=redis@sha256:abc", "nginx=nginx:2"}}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.NoError(t, setKustomizeImage(tc.source, "nginx", "nginx=nginx:2"))
			require.Equal(t, tc.want, tc.source)
		})
	}
}

func TestSetKustomizeImageRejectsAMalformedSection(t *testing.T) {
	err := setKustomizeImage(map[string]any{"kustomize": "oops"}, "nginx", "nginx=nginx:2")
	require.ErrorContains(t, err, "kustomize is a string, not an object")
}

func TestSetHelmParameter(t *testing.T) {
	for _, tc := range []struct {
		name   string
		source map[string]any
		want   map[string]any
	}{
		{
			name:   "no helm section",
			source: map[string]any{},
			want: map[string]any{"helm": map[string]any{"parameters": []any{
				map[string]any{"name": "image.tag", "value": "1.10", "forceString": true},
			}}},
		},
		{
			name: "replaces the value of the same parameter and keeps the rest",
			source: map[string]any{"helm": map[string]any{
				"releaseName": "guestbook",
				"parameters": []any{
					map[string]any{"name": "replicas", "value": "3"},
					map[string]any{"name": "image.tag", "value": "1.9", "futureField": "kept"},
				},
			}},
			want: map[string]any{"helm": map[string]any{
				"releaseName": "guestbook",
				"parameters": []any{
					map[string]any{"name": "replicas", "value": "3"},
					map[string]any{"name": "image.tag", "value": "1.10", "forceString": true, "futureField": "kept"},
				},
			}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.NoError(t, setHelmParameter(tc.source, "image.tag", "1.10"))
			require.Equal(t, tc.want, tc.source)
		})
	}
}
