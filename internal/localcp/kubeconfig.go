package localcp

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// clusterName names the cluster entry in every kubeconfig this package
// writes, so that files merged through KUBECONFIG=a:b agree on it.
const clusterName = "kargo-local"

// kubeconfig renders a kubeconfig for one user, who authenticates with auth.
// Credentials are embedded rather than referenced, so the file can be copied
// elsewhere.
func kubeconfig(server string, caPEM []byte, user, context string, auth *clientcmdapi.AuthInfo) ([]byte, error) {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[clusterName] = &clientcmdapi.Cluster{
		Server:                   server,
		CertificateAuthorityData: caPEM,
	}
	cfg.AuthInfos[user] = auth
	cfg.Contexts[context] = &clientcmdapi.Context{Cluster: clusterName, AuthInfo: user}
	cfg.CurrentContext = context
	data, err := clientcmd.Write(*cfg)
	if err != nil {
		return nil, fmt.Errorf("encode kubeconfig for %s: %w", user, err)
	}
	return data, nil
}

// certAuth authenticates with a client certificate.
func certAuth(kp keyPair) *clientcmdapi.AuthInfo {
	return &clientcmdapi.AuthInfo{ClientCertificateData: kp.certPEM, ClientKeyData: kp.keyPEM}
}

// WriteUserKubeconfig writes to path a kubeconfig for a user authenticated by
// a new client certificate with common name user and organizations groups,
// signed by the local CA. The user has no permissions until RBAC grants them,
// which makes it suitable for showing how Kargo's roles restrict people. The
// certificate is valid for a year and survives restarts; the file is written
// with mode 0600.
func (c *ControlPlane) WriteUserKubeconfig(path, user string, groups ...string) error {
	if user == "" {
		return fmt.Errorf("write kubeconfig to %s: user name is empty", path)
	}
	kp, err := issue(c.pki.ca, certSpec{cn: user, orgs: groups}, time.Now())
	if err != nil {
		return fmt.Errorf("issue certificate for %s: %w", user, err)
	}
	data, err := kubeconfig(c.serverURL, c.pki.ca.certPEM, user, user+"@"+clusterName, certAuth(kp))
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("write kubeconfig for %s: %w", user, err)
	}
	if err := writeFileAtomic(path, data); err != nil {
		return fmt.Errorf("write kubeconfig for %s: %w", user, err)
	}
	return nil
}

// RESTConfig returns a new client configuration for the admin user
// (kargo-admin in group system:masters), which bypasses authorization.
func (c *ControlPlane) RESTConfig() *rest.Config {
	return &rest.Config{
		Host: c.serverURL,
		TLSClientConfig: rest.TLSClientConfig{
			CAData:   c.pki.ca.certPEM,
			CertData: c.pki.admin.certPEM,
			KeyData:  c.pki.admin.keyPEM,
		},
	}
}

// AdminKubeconfigPath returns the path of the admin kubeconfig file,
// DataDir/kubeconfig. Start rewrites it on every run with the same
// credentials, so a copy taken earlier keeps working as long as the API
// server port stays the same.
func (c *ControlPlane) AdminKubeconfigPath() string {
	return c.adminKubeconfig
}
