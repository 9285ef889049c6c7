package config

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestCommitStatusDefaults: api_url and repository come from a repo on a
// public forge; the rest is as written.
func TestCommitStatusDefaults(t *testing.T) {
	for _, tt := range []struct {
		repo, block string
		want        CommitStatus
	}{
		{"https://github.com/ops/deploy.git", "provider: github\n      token_file: /t",
			CommitStatus{Provider: "github", APIURL: "https://api.github.com", Repository: "ops/deploy", TokenFile: "/t"}},
		{"git@gitlab.com:group/sub/deploy.git", "provider: gitlab\n      token_env: GL",
			CommitStatus{Provider: "gitlab", APIURL: "https://gitlab.com/api/v4", Repository: "group/sub/deploy", TokenEnv: "GL"}},
		{"ssh://git@codeberg.org/ops/deploy", "provider: gitea\n      token_file: /t\n      context: moor/web-1\n      target_url: https://moor.example.com/",
			CommitStatus{Provider: "gitea", APIURL: "https://codeberg.org/api/v1", Repository: "ops/deploy", TokenFile: "/t",
				Context: "moor/web-1", TargetURL: "https://moor.example.com/"}},
		{"https://git.example.com/ops/deploy.git", "provider: gitea\n      api_url: https://git.example.com/api/v1/\n      token_file: /t",
			CommitStatus{Provider: "gitea", APIURL: "https://git.example.com/api/v1", Repository: "ops/deploy", TokenFile: "/t"}},
		{"/srv/git/deploy", "provider: github\n      api_url: http://127.0.0.1:8080\n      repository: ops/deploy\n      token_file: /t",
			CommitStatus{Provider: "github", APIURL: "http://127.0.0.1:8080", Repository: "ops/deploy", TokenFile: "/t"}},
	} {
		in := "sources:\n  - name: prod\n    repo: " + tt.repo + "\n    commit_status:\n      " + tt.block + "\n"
		cfg, err := Parse([]byte(in), "moor.yaml", Defaults{})
		if err != nil {
			t.Errorf("%s: %v", tt.repo, err)
			continue
		}
		if diff := cmp.Diff(tt.want, cfg.Sources[0].CommitStatus); diff != "" {
			t.Errorf("%s: commit_status (-want +got):\n%s", tt.repo, diff)
		}
	}
}

// TestCommitStatusErrors: each mistake names its line and field; a token
// written inline is refused without being repeated.
func TestCommitStatusErrors(t *testing.T) {
	const head = "sources:\n  - name: prod\n    repo: https://git.example.com/ops/deploy.git\n    commit_status:\n"
	for _, tt := range []struct{ block, want string }{
		{"      token_file: /t\n", "moor.yaml:5: sources[0].commit_status.provider: missing"},
		{"      provider: bitbucket\n", `moor.yaml:5: sources[0].commit_status.provider: "bitbucket" is not one of github, gitlab, gitea`},
		{"      provider: forgejo\n", "moor.yaml:5: sources[0].commit_status.provider: \"forgejo\": use gitea"},
		{"      provider: github\n      token_file: /t\n", "moor.yaml:5: sources[0].commit_status.api_url: missing"},
		{"      provider: gitea\n      api_url: http://git.example.com/api/v1\n      token_file: /t\n",
			"moor.yaml:6: sources[0].commit_status.api_url: \"http://git.example.com/api/v1\": http sends the token in the clear"},
		{"      provider: gitea\n      api_url: https://git.example.com/api/v1\n", "moor.yaml:5: sources[0].commit_status.token_file: missing"},
		{"      provider: gitea\n      api_url: https://git.example.com/api/v1\n      token_file: /t\n      token_env: T\n",
			"moor.yaml:8: sources[0].commit_status.token_env: token_file and token_env exclude each other"},
		{"      provider: gitea\n      api_url: https://git.example.com/api/v1\n      token: hunter2-inline\n",
			"moor.yaml:7: sources[0].commit_status.token: secrets are not written in the config file: use token_file or token_env"},
		{"      provider: gitea\n      api_url: https://git.example.com/api/v1\n      token_file: /t\n      repository: deploy\n",
			`moor.yaml:8: sources[0].commit_status.repository: "deploy" is not owner/name`},
		{"      provider: gitea\n      api_url: https://git.example.com/api/v1\n      token_file: /t\n      target_url: javascript:alert(1)\n",
			`moor.yaml:8: sources[0].commit_status.target_url: "javascript:alert(1)" is not an http(s) URL`},
		{"      provider: gitea\n      api_url: https://git.example.com/api/v1\n      token_file: /t\n      sha: x\n",
			`moor.yaml:8: unknown key "sha" in sources[0].commit_status`},
	} {
		_, err := Parse([]byte(head+tt.block), "moor.yaml", Defaults{})
		if err == nil {
			t.Errorf("Parse of\n%s succeeded, want %s", tt.block, tt.want)
			continue
		}
		if !strings.HasPrefix(err.Error(), tt.want) || strings.Count(err.Error(), "\n") > 0 {
			t.Errorf("Parse of\n%s:\n got  %v\n want %s...", tt.block, err, tt.want)
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("the error shows the token: %v", err)
		}
	}
	// A local repository has no owner/name to derive.
	_, err := Parse([]byte("sources:\n  - name: prod\n    repo: /srv/git/deploy\n    commit_status:\n      provider: github\n      api_url: https://api.github.com\n      token_file: /t\n"), "moor.yaml", Defaults{})
	if err == nil || !strings.Contains(err.Error(), "commit_status.repository: missing") {
		t.Errorf("a local repo without repository: %v", err)
	}
}
