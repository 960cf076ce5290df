package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"

	"github.com/spf13/cobra"

	kargoapi "github.com/kargohq/kargo/api/v1alpha1"
	"github.com/kargohq/kargo/internal/apiclient"
	"github.com/kargohq/kargo/internal/credentials"
	"github.com/kargohq/kargo/internal/repourl"
)

// credentialFlags are the options of kargo create credentials.
type credentialFlags struct {
	project, credType, repoURL, repoURLPattern, username string
	passwordStdin                                        bool
	passwordFile, sshKeyFile, knownHostsFile             string
	appID, appInstallationID, appKeyFile, appBaseURL     string
}

func newCreateCredentialsCommand(g *globals) *cobra.Command {
	var f credentialFlags
	cmd := &cobra.Command{
		Use:     "credentials NAME --repo-url URL (--username U --password-stdin | --ssh-private-key-file F --known-hosts-file F | --github-app-id ...)",
		Aliases: []string{"credential", "creds"},
		Short:   "Create a Secret with credentials for a Git, image or Helm repository",
		Long: `Create a credential Secret in a project, labelled as kargo's controller looks
credentials up (kargo.akuity.io/cred-type), through kargo's API server and with
your own rights: you need the right to create Secrets in the project's namespace.

The Secret matches one repository (--repo-url) or, with --repo-url-pattern, every
URL a regular expression matches; a pattern must spell out its host, such as
https://github\.com/example/.*, since the credentials go only to that host.

Credentials are one of:
  --username U with --password-stdin or --password-file F
                     a user name and a password or token (HTTPS Git, registries,
                     Helm repositories); never on the command line, where other
                     users of the machine could read it
  --ssh-private-key-file F --known-hosts-file H
                     git only, for ssh:// and git@host:path URLs: an unencrypted
                     private key, and the host keys to trust in known_hosts
                     format (such as ssh-keyscan's output, checked against the
                     host's published fingerprints); unknown hosts are refused
  --github-app-id ID --github-app-installation-id ID --github-app-private-key-file F
                     git only, HTTPS: a GitHub App's installation; kargo
                     exchanges its key for installation tokens
                     (--github-app-base-url for GitHub Enterprise Server)

Nothing secret is printed.`,
		Example: `  kargo create credentials gitops --project kargo-demo --repo-url https://github.com/example/gitops.git \
      --username kargo --password-stdin < token.txt
  kargo create credentials gitops-ssh --project kargo-demo --repo-url git@github.com:example/gitops.git \
      --ssh-private-key-file deploy_key --known-hosts-file known_hosts
  kargo create credentials registry --project kargo-demo --type image \
      --repo-url-pattern 'ghcr\.io/example/.*' --username bot --password-file pat.txt`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, cfg, err := g.connect()
			if err != nil {
				return err
			}
			if f.project, err = project(f.project, cfg); err != nil {
				return err
			}
			manifest, err := f.secret(args[0], cmd.InOrStdin())
			if err != nil {
				return err
			}
			// The Secret would be refused in a namespace that does not
			// exist, but as a namespace's absence: ask about the project
			// first. Only its absence stops the command; a caller may
			// create Secrets without reading Warehouses.
			if _, err := c.List(cmd.Context(), apiclient.Warehouses, f.project, apiclient.ListOptions{Limit: 1}); err != nil {
				if _, missing := missingProject(err); missing {
					return err
				}
			}
			res, err := c.Create(cmd.Context(), manifest)
			if err != nil {
				return fmt.Errorf("create credentials %s: %w", args[0], err)
			}
			return printManifestResult(cmd.OutOrStdout(), cmd.ErrOrStderr(), res)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.project, "project", "", "project to create the Secret in (default: the configured default project)")
	fl.StringVar(&f.credType, "type", "git", "kind of repository: git, image or helm")
	fl.StringVar(&f.repoURL, "repo-url", "", "the repository these credentials are for")
	fl.StringVar(&f.repoURLPattern, "repo-url-pattern", "", "a regular expression of repository URLs, its host spelled out")
	fl.StringVar(&f.username, "username", "", "user name")
	fl.BoolVar(&f.passwordStdin, "password-stdin", false, "read the password or token from standard input")
	fl.StringVar(&f.passwordFile, "password-file", "", "read the password or token from this file")
	fl.StringVar(&f.sshKeyFile, "ssh-private-key-file", "", "SSH private key (git over SSH)")
	fl.StringVar(&f.knownHostsFile, "known-hosts-file", "", "known_hosts lines of the SSH hosts to trust")
	fl.StringVar(&f.appID, "github-app-id", "", "GitHub App ID or client ID")
	fl.StringVar(&f.appInstallationID, "github-app-installation-id", "", "GitHub App installation ID")
	fl.StringVar(&f.appKeyFile, "github-app-private-key-file", "", "GitHub App private key (PEM)")
	fl.StringVar(&f.appBaseURL, "github-app-base-url", "", "REST API of a GitHub Enterprise Server (default https://api.github.com)")
	for _, name := range []string{"password-file", "ssh-private-key-file", "known-hosts-file", "github-app-private-key-file"} {
		_ = cmd.MarkFlagFilename(name)
	}
	_ = cmd.RegisterFlagCompletionFunc("project", g.completeProjects)
	_ = cmd.RegisterFlagCompletionFunc("type", cobra.FixedCompletions([]string{"git", "image", "helm"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// secret builds the Secret's manifest from the flags, reading the files
// and standard input they name.
func (f *credentialFlags) secret(name string, stdin io.Reader) (string, error) {
	var t credentials.Type
	switch f.credType {
	case "git", "image", "helm":
		t = credentials.Type(f.credType)
	default:
		return "", usageError{fmt.Errorf("--type %q is not one of git, image, helm", f.credType)}
	}
	if (f.repoURL == "") == (f.repoURLPattern == "") {
		return "", usageError{errors.New("give exactly one of --repo-url and --repo-url-pattern")}
	}
	data := map[string][]byte{}
	labels := map[string]string{kargoapi.CredentialTypeLabelKey: string(t)}
	if f.repoURL != "" {
		data[credentials.RepoURLKey] = []byte(f.repoURL)
	} else {
		if _, err := regexp.Compile(f.repoURLPattern); err != nil {
			return "", usageError{fmt.Errorf("--repo-url-pattern is not a regular expression: %w", err)}
		}
		data[credentials.RepoURLPatternKey] = []byte(f.repoURLPattern)
		labels[kargoapi.CredentialURLPatternLabelKey] = "true"
	}

	password := f.passwordStdin || f.passwordFile != ""
	ssh := f.sshKeyFile != "" || f.knownHostsFile != ""
	app := f.appID != "" || f.appInstallationID != "" || f.appKeyFile != "" || f.appBaseURL != ""
	kinds := 0
	for _, b := range []bool{password || f.username != "", ssh, app} {
		if b {
			kinds++
		}
	}
	if kinds != 1 {
		return "", usageError{errors.New("give one kind of credentials: --username with --password-stdin or --password-file, --ssh-private-key-file with --known-hosts-file, or the --github-app-* flags")}
	}
	read := func(flag, path string) ([]byte, error) {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", flag, err)
		}
		if len(strings.TrimSpace(string(b))) == 0 {
			return nil, usageError{fmt.Errorf("%s: %s is empty", flag, path)}
		}
		return b, nil
	}
	switch {
	case ssh:
		if t != credentials.TypeGit {
			return "", usageError{errors.New("SSH keys are for --type git")}
		}
		if f.sshKeyFile == "" || f.knownHostsFile == "" {
			return "", usageError{errors.New("SSH credentials need both --ssh-private-key-file and --known-hosts-file: kargo connects only to hosts whose keys it knows")}
		}
		if r, err := repourl.ParseGit(f.repoURL); f.repoURL != "" && (err != nil || r.Scheme != "ssh") {
			return "", usageError{fmt.Errorf("--repo-url %s is not an SSH address (ssh://host/path or user@host:path)", f.repoURL)}
		}
		key, err := read("--ssh-private-key-file", f.sshKeyFile)
		if err != nil {
			return "", err
		}
		if strings.Contains(string(key), "ENCRYPTED") {
			return "", usageError{errors.New("--ssh-private-key-file: the key is protected by a passphrase, which kargo cannot enter; use a key without one (a deploy key of its own)")}
		}
		hosts, err := read("--known-hosts-file", f.knownHostsFile)
		if err != nil {
			return "", err
		}
		data[credentials.SSHPrivateKeyKey], data[credentials.KnownHostsKey] = key, hosts
	case app:
		if t != credentials.TypeGit {
			return "", usageError{errors.New("GitHub App credentials are for --type git")}
		}
		if f.appID == "" || f.appInstallationID == "" || f.appKeyFile == "" {
			return "", usageError{errors.New("GitHub App credentials need --github-app-id, --github-app-installation-id and --github-app-private-key-file")}
		}
		key, err := read("--github-app-private-key-file", f.appKeyFile)
		if err != nil {
			return "", err
		}
		data[credentials.GitHubAppIDKey] = []byte(f.appID)
		data[credentials.GitHubAppInstallationIDKey] = []byte(f.appInstallationID)
		data[credentials.GitHubAppPrivateKeyKey] = key
		if f.appBaseURL != "" {
			data[credentials.GitHubAppBaseURLKey] = []byte(f.appBaseURL)
		}
	default:
		if f.username == "" || !password || (f.passwordStdin && f.passwordFile != "") {
			return "", usageError{errors.New("a user name needs a password: --username U with --password-stdin or --password-file F (one of them)")}
		}
		var pw []byte
		var err error
		if f.passwordStdin {
			if pw, err = io.ReadAll(io.LimitReader(stdin, 1<<20)); err != nil {
				return "", fmt.Errorf("read the password from standard input: %w", err)
			}
		} else if pw, err = read("--password-file", f.passwordFile); err != nil {
			return "", err
		}
		pw = []byte(strings.TrimRight(string(pw), "\r\n"))
		if len(pw) == 0 {
			return "", usageError{errors.New("the password is empty")}
		}
		data[credentials.UsernameKey], data[credentials.PasswordKey] = []byte(f.username), pw
	}
	manifest, err := json.Marshal(map[string]any{
		"apiVersion": "v1",
		"kind":       "Secret",
		"type":       "Opaque",
		"metadata":   map[string]any{"name": name, "namespace": f.project, "labels": labels},
		// []byte marshals as base64, as Secret data is written.
		"data": data,
	})
	if err != nil {
		return "", err
	}
	return string(manifest), nil
}
