package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/kargohq/kargo/internal/apiclient"
)

// configEnv names the config file when --config is not given.
const configEnv = "KARGO_CONFIG"

// Config is what the CLI keeps between runs: which API server to talk to,
// as whom, and the project to use when a command is given none.
type Config struct {
	// Server is the API server's base URL.
	Server string `json:"server,omitempty"`
	// Token is the bearer token sent with every request.
	Token string `json:"token,omitempty"`
	// Project is the default project of commands run without --project.
	Project string `json:"project,omitempty"`
	// CAFile is a PEM bundle trusted for the server's certificate instead
	// of the system's roots.
	CAFile string `json:"caFile,omitempty"`
	// InsecureSkipTLSVerify turns off verification of the server's
	// certificate.
	InsecureSkipTLSVerify bool `json:"insecureSkipTLSVerify,omitempty"`
	// SSO is set when Token is an ID token from single sign-on (kargo
	// login --sso): where to refresh it.
	SSO *SSOConfig `json:"sso,omitempty"`
}

// SSOConfig is what refreshes a single sign-on token.
type SSOConfig struct {
	IssuerURL    string   `json:"issuerURL"`
	ClientID     string   `json:"clientID"`
	Scopes       []string `json:"scopes,omitempty"`
	RefreshToken string   `json:"refreshToken,omitempty"`
}

// defaultConfigPath is $XDG_CONFIG_HOME/kargo/config.yaml, else
// ~/.config/kargo/config.yaml, on every OS: one place to document.
func defaultConfigPath() string {
	if dir := os.Getenv("XDG_CONFIG_HOME"); dir != "" {
		return filepath.Join(dir, "kargo", "config.yaml")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".config", "kargo", "config.yaml")
	}
	return filepath.Join(".kargo", "config.yaml")
}

// loadConfig reads the config file at path; a missing file is an empty
// config, since that is what a user who never logged in has.
func loadConfig(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &Config{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	cfg := &Config{}
	if err := yaml.UnmarshalStrict(b, cfg); err != nil {
		return nil, fmt.Errorf("read config %s: %w", path, err)
	}
	return cfg, nil
}

// saveConfig writes cfg to path readable by its owner only, because it
// holds a token. It writes a new file and renames it over the old one, so
// that an interrupted write never leaves half a config.
func saveConfig(path string, cfg *Config) error {
	b, err := yaml.Marshal(cfg)
	if err != nil {
		return fmt.Errorf("encode config: %w", err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("save config: %w", err)
	}
	f, err := os.CreateTemp(dir, ".config-*.yaml")
	if err != nil {
		return fmt.Errorf("save config: %w", err)
	}
	defer os.Remove(f.Name())
	// CreateTemp already makes the file 0600; saying so keeps it true
	// whatever it does in the future.
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("save config: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("save config: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("save config: %w", err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("save config: %w", err)
	}
	return nil
}

// configPath is --config, else $KARGO_CONFIG, else the default path.
func (g *globals) configPath() string {
	if g.configFlag != "" {
		return g.configFlag
	}
	if p := os.Getenv(configEnv); p != "" {
		return p
	}
	return defaultConfigPath()
}

// connect returns a client of the server the config names.
func (g *globals) connect() (*apiclient.Client, *Config, error) {
	cfg, err := loadConfig(g.configPath())
	if err != nil {
		return nil, nil, err
	}
	if cfg.Server == "" {
		return nil, nil, errors.New("not logged in to a kargo API server; run kargo login SERVER --token-file FILE first")
	}
	if err := g.refreshSSO(cfg); err != nil {
		return nil, nil, err
	}
	c, err := apiclient.New(cfg.Server, cfg.Token,
		apiclient.WithCAFile(cfg.CAFile), apiclient.WithInsecureSkipTLSVerify(cfg.InsecureSkipTLSVerify))
	if err != nil {
		return nil, nil, fmt.Errorf("connect to %s: %w", cfg.Server, err)
	}
	return c, cfg, nil
}

// project is the --project flag, else the configured default.
func project(flag string, cfg *Config) (string, error) {
	if flag != "" {
		return flag, nil
	}
	if cfg.Project != "" {
		return cfg.Project, nil
	}
	return "", usageError{errors.New("no project given: pass --project P, or set a default with kargo config set-project P")}
}

func newConfigCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Show or change the CLI's configuration",
		Long: `Show or change the CLI's configuration: the API server, the token and the
default project. It lives in --config, else $KARGO_CONFIG, else
$XDG_CONFIG_HOME/kargo/config.yaml (~/.config/kargo/config.yaml), readable by
its owner only.`,
	}
	setProject := &cobra.Command{
		Use:     "set-project PROJECT",
		Short:   "Set the project of commands run without --project",
		Example: "  kargo config set-project kargo-demo",
		Args:    usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := g.configPath()
			cfg, err := loadConfig(path)
			if err != nil {
				return err
			}
			// When logged in, catch a typo now rather than on the next
			// command; any other answer (even a refusal to read the
			// project) does not stop someone from choosing it.
			if cfg.Server != "" {
				if c, _, err := g.connect(); err == nil {
					if _, err := c.GetProject(cmd.Context(), args[0]); apiclient.IsNotFound(err) {
						return &missingProjectError{name: args[0]}
					}
				}
			}
			cfg.Project = args[0]
			if err := saveConfig(path, cfg); err != nil {
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "Default project is now %s\n", args[0])
			return err
		},
	}
	setProject.ValidArgsFunction = func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return g.completeProjects(cmd, args, toComplete)
	}
	var raw bool
	view := &cobra.Command{
		Use:   "view",
		Short: "Print the configuration, without the token unless --raw",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(g.configPath())
			if err != nil {
				return err
			}
			if cfg.Token != "" && !raw {
				cfg.Token = "REDACTED"
			}
			if cfg.SSO != nil && cfg.SSO.RefreshToken != "" && !raw {
				cfg.SSO.RefreshToken = "REDACTED"
			}
			b, err := yaml.Marshal(cfg)
			if err != nil {
				return fmt.Errorf("encode config: %w", err)
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "# %s\n%s", g.configPath(), b)
			return err
		},
	}
	view.Flags().BoolVar(&raw, "raw", false, "print the token too")
	cmd.AddCommand(setProject, view)
	return cmd
}
