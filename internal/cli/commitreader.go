package cli

import (
	"fmt"
	"path/filepath"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kargohq/kargo/internal/credentials"
	"github.com/kargohq/kargo/internal/egress"
	"github.com/kargohq/kargo/internal/git"
	"github.com/kargohq/kargo/internal/scheme"
	"github.com/kargohq/kargo/internal/server"
)

// localCommitReader lets kargo local's API server show the commits
// Promotions made: a Git cache of its own (the controllers' is theirs to
// lock) that connects through the controllers' outbound policy, and the
// projects' repository credentials, read as the controllers read them.
func localCommitReader(cfg *rest.Config, dataDir string, policy *egress.Policy) (server.CommitReader, credentials.Store, error) {
	return apiCommitReader(cfg, filepath.Join(dataDir, "cache", "api-git"), true, policy)
}

// apiCommitReader lets a cluster install's API server show the commits
// Promotions made: a Git cache in dir that connects through policy (the
// controller's outbound rules), and, when readCreds, the projects'
// repository credentials read live with the server's own identity, which
// then needs the ClusterRole kargo-api-credentials. Without them it reads
// repositories anonymously.
func apiCommitReader(cfg *rest.Config, dir string, readCreds bool, policy *egress.Policy) (server.CommitReader, credentials.Store, error) {
	cache := git.NewCache(dir, git.Options{Egress: policy})
	if !readCreds {
		return cache, nil, nil
	}
	s, err := scheme.New()
	if err != nil {
		return nil, nil, err
	}
	c, err := client.New(cfg, client.Options{Scheme: s})
	if err != nil {
		return nil, nil, fmt.Errorf("client for the API server's credential reads: %w", err)
	}
	return cache, credentials.KubernetesStore{Client: c}, nil
}
