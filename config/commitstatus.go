package config

import (
	"fmt"
	"net"
	"net/url"
	"strings"

	"gopkg.in/yaml.v3"
)

// Forges a source can post commit statuses to (commit_status.provider).
// Forgejo speaks Gitea's API.
const (
	ForgeGitHub = "github"
	ForgeGitLab = "gitlab"
	ForgeGitea  = "gitea"
)

// CommitStatus is a source's commit_status: block: where the deploy state
// of each revision is posted. It holds a file path and the name of an
// environment variable, never the token itself.
type CommitStatus struct {
	Provider string // github, gitlab or gitea
	// APIURL (api_url) is the forge's API root: https://api.github.com,
	// https://gitlab.example.com/api/v4, https://gitea.example.com/api/v1.
	// Validate defaults it only for a repo on the public forge of the
	// provider, so that a token is never sent to a host nobody named.
	APIURL string
	// Repository is owner/name (GitLab: the project's path or numeric
	// ID); Validate derives it from the repo URL when it is empty.
	Repository string
	TokenFile  string // a file holding the API token
	TokenEnv   string // an environment variable holding it
	// Context is the status's name in the forge; "" is "moor/<host
	// name>", filled in when the reporter is built.
	Context string
	// TargetURL (target_url) is the link shown with the status; optional.
	TargetURL string
}

// publicAPI is the API root of each provider's public forge, by the host
// its repositories live on.
var publicAPI = map[string]map[string]string{
	ForgeGitHub: {"github.com": "https://api.github.com"},
	ForgeGitLab: {"gitlab.com": "https://gitlab.com/api/v4"},
	ForgeGitea:  {"codeberg.org": "https://codeberg.org/api/v1"},
}

func commitStatusFields(c *CommitStatus) []field {
	return []field{
		{"provider", func(d *decoder, n *yaml.Node, at string) { c.Provider = d.str(n, at) }},
		{"api_url", func(d *decoder, n *yaml.Node, at string) { c.APIURL = d.str(n, at) }},
		{"repository", func(d *decoder, n *yaml.Node, at string) { c.Repository = d.str(n, at) }},
		{"token_file", func(d *decoder, n *yaml.Node, at string) { c.TokenFile = d.str(n, at) }},
		{"token_env", func(d *decoder, n *yaml.Node, at string) { c.TokenEnv = d.str(n, at) }},
		{"context", func(d *decoder, n *yaml.Node, at string) { c.Context = d.str(n, at) }},
		{"target_url", func(d *decoder, n *yaml.Node, at string) { c.TargetURL = d.str(n, at) }},
		{"token", inlineSecret("token_file or token_env")},
	}
}

// maxContext is the longest context and target_url: GitLab's limit on a
// status's name and link.
const maxContext = 255

// validate checks the block and fills in api_url and repository from the
// source's repo URL where it can.
func (c *CommitStatus) validate(v *validator, at, repo string) {
	if *c == (CommitStatus{}) {
		return
	}
	host, path := repoHostPath(repo)
	switch c.Provider {
	case ForgeGitHub, ForgeGitLab, ForgeGitea:
	case "":
		v.add(at+".provider", "missing: github, gitlab or gitea")
		return
	case "forgejo":
		v.add(at+".provider", `"forgejo": use gitea (Forgejo speaks Gitea's API)`)
		return
	default:
		v.add(at+".provider", fmt.Sprintf("%q is not one of github, gitlab, gitea", c.Provider))
		return
	}
	if c.APIURL == "" {
		c.APIURL = publicAPI[c.Provider][host]
		if c.APIURL == "" {
			v.add(at+".api_url", fmt.Sprintf("missing: the %s API of the repository's forge (it is only defaulted for %s)",
				c.Provider, publicHosts(c.Provider)))
		}
	} else if err := checkAPIURL(c.APIURL); err != nil {
		v.add(at+".api_url", fmt.Sprintf("%q: %v", c.APIURL, err))
	}
	c.APIURL = strings.TrimRight(c.APIURL, "/")
	if c.Repository == "" {
		c.Repository = path
		if c.Repository == "" {
			v.add(at+".repository", "missing: it cannot be told from repo (owner/name)")
		}
	}
	if c.Repository != "" && c.Provider != ForgeGitLab && strings.Count(c.Repository, "/") != 1 {
		v.add(at+".repository", fmt.Sprintf("%q is not owner/name", c.Repository))
	}
	switch {
	case c.TokenFile != "" && c.TokenEnv != "":
		v.add(at+".token_env", "token_file and token_env exclude each other")
	case c.TokenFile == "" && c.TokenEnv == "":
		v.add(at+".token_file", "missing: the forge's API token, in a file (token_file) or the environment (token_env)")
	}
	if len(c.Context) > maxContext {
		v.add(at+".context", fmt.Sprintf("longer than %d bytes", maxContext))
	}
	if c.TargetURL != "" {
		if u, err := url.Parse(c.TargetURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.add(at+".target_url", fmt.Sprintf("%q is not an http(s) URL", c.TargetURL))
		} else if len(c.TargetURL) > maxContext {
			v.add(at+".target_url", fmt.Sprintf("longer than %d bytes (GitLab's limit)", maxContext))
		}
	}
}

// checkAPIURL accepts https, and http to this host only: the token goes
// with every request.
func checkAPIURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return fmt.Errorf("not a URL")
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("want scheme, host and path only")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if ip := net.ParseIP(u.Hostname()); u.Hostname() == "localhost" || ip != nil && ip.IsLoopback() {
			return nil
		}
		return fmt.Errorf("http sends the token in the clear: use https (http is only for this host)")
	}
	return fmt.Errorf("want an https URL")
}

func publicHosts(provider string) string {
	for h := range publicAPI[provider] {
		return "a repo on " + h
	}
	return "no host"
}

// repoHostPath splits a repo URL into its host and its repository path,
// without a leading slash or a trailing .git: https://github.com/ops/deploy.git
// and git@github.com:ops/deploy are both ("github.com", "ops/deploy"). A
// local repository has neither.
func repoHostPath(repo string) (host, path string) {
	switch repoKind(repo) {
	case "http", "ssh", "git":
	default:
		return "", ""
	}
	if strings.Contains(repo, "://") {
		u, err := url.Parse(repo)
		if err != nil {
			return "", ""
		}
		host, path = u.Hostname(), u.Path
	} else { // user@host:path
		hp := repo[strings.LastIndex(repo[:strings.Index(repo, ":")], "@")+1:]
		host, path, _ = strings.Cut(hp, ":")
	}
	path = strings.TrimSuffix(strings.Trim(path, "/"), ".git")
	return strings.ToLower(host), path
}
