package registry_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/require"

	"github.com/kargohq/kargo/internal/testutil/registry"
)

func TestTagListIsPaginatedLikeTheSpec(t *testing.T) {
	reg := registry.New(t, registry.Options{})
	reg.PushImage(t, "app", "seed", registry.Image{})
	var tags []string
	for i := range 2500 {
		tags = append(tags, fmt.Sprintf("t%04d", i))
	}
	reg.Tag(t, "app", "seed", tags...)

	repo, err := name.NewRepository(reg.Host() + "/app")
	require.NoError(t, err)
	got, err := remote.List(repo, remote.WithTransport(reg.Transport()), remote.WithPageSize(1000))
	require.NoError(t, err)
	require.Len(t, got, 2501)
	require.Equal(t, 3, reg.Count(func(r registry.Request) bool { return r.Kind == registry.KindTags }))
}

func TestBasicAuthAndFaults(t *testing.T) {
	reg := registry.New(t, registry.Options{Username: "u", Password: "p", TLS: true})
	want := reg.PushImage(t, "app", "1.0.0", registry.Image{})
	ref, err := name.ParseReference(reg.Host() + "/app:1.0.0")
	require.NoError(t, err)

	_, err = remote.Head(ref, remote.WithTransport(reg.Transport()), remote.WithRetryBackoff(remote.Backoff{Steps: 1}))
	require.ErrorContains(t, err, "401")

	auth := remote.WithAuth(authn.FromConfig(authn.AuthConfig{Username: "u", Password: "p"}))
	desc, err := remote.Head(ref, remote.WithTransport(reg.Transport()), auth)
	require.NoError(t, err)
	require.Equal(t, want, desc.Digest.String())

	reg.Inject(registry.Fault{Status: http.StatusServiceUnavailable, Times: 1, Match: func(r registry.Request) bool {
		return r.Kind == registry.KindManifest
	}})
	_, err = remote.Head(ref, remote.WithTransport(reg.Transport()), auth, remote.WithRetryBackoff(remote.Backoff{Steps: 1}))
	require.ErrorContains(t, err, "503")
	_, err = remote.Head(ref, remote.WithTransport(reg.Transport()), auth)
	require.NoError(t, err, "the fault has been used up")
	require.Equal(t, 1, reg.Count(func(r registry.Request) bool { return r.Faulted }))
}
