package cli

import (
	"fmt"
	"os"
	"path/filepath"
)

// localCLIConfig is the name, in the data directory, of the kargo CLI config
// of a kargo local's administrator; the demo's users have kargo-USER.yaml
// beside it.
const localCLIConfig = "kargo-admin.yaml"

// writeLocalCLIConfigs writes the data directory's own CLI config for the
// API server at url, and logs the CLI in to it through its usual config
// ($KARGO_CONFIG, else the default path) only when that config names no
// server or this one: several kargo locals, each on its own data directory,
// must not take each other's place in the user's CLI. It returns the
// banner's lines about the CLI.
func writeLocalCLIConfigs(dataDir, url, token string) (string, error) {
	own := filepath.Join(dataDir, localCLIConfig)
	if err := saveConfig(own, &Config{Server: url, Token: token}); err != nil {
		return "", err
	}
	path := os.Getenv(configEnv)
	if path == "" {
		path = defaultConfigPath()
	}
	if path == own {
		return fmt.Sprintf("The kargo CLI is logged in to it ($%s is %s):\n  kargo get projects", configEnv, own), nil
	}
	existing, err := loadConfig(path)
	if err != nil {
		return "", err
	}
	if existing.Server != "" && existing.Server != url {
		return fmt.Sprintf(`The kargo CLI's config (%s) is for another server, %s, and stays so.
Use this one with its own config:
  export %s=%s   # or: kargo --config %s ...
  kargo get projects`, path, existing.Server, configEnv, own, own), nil
	}
	existing.Server, existing.Token = url, token
	if err := saveConfig(path, existing); err != nil {
		return "", err
	}
	return fmt.Sprintf("The kargo CLI is logged in to it (%s; this data dir's own config is %s):\n  kargo get projects", path, own), nil
}
