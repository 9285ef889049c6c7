package forge

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/moor-dev/moor/config"
)

// Posted is the latest status one context posted to a commit.
type Posted struct {
	State       State
	Description string
}

// maxStatuses bounds what is read of a forge's answer.
const maxStatuses = 4 << 20

// CommitStates reads the latest status of each context on commit in the
// forge cfg names (GitHub's and Gitea's combined status, GitLab's latest
// statuses), in moor's words: a fleet's hosts read there what its canary
// hosts posted (context moor/HOST). GitLab's running is Pending, and an
// error, a failed or a canceled status is a Failure.
func CommitStates(ctx context.Context, client *http.Client, cfg config.CommitStatus, commit string) (map[string]Posted, error) {
	token, err := readToken(cfg)
	if err != nil {
		return nil, err
	}
	header := http.Header{}
	var path string
	switch cfg.Provider {
	case config.ForgeGitHub:
		path = "/repos/" + ownerName(cfg.Repository) + "/commits/" + url.PathEscape(commit) + "/status?per_page=100"
		header.Set("Authorization", "Bearer "+token)
		header.Set("Accept", "application/vnd.github+json")
		header.Set("X-GitHub-Api-Version", "2022-11-28")
	case config.ForgeGitLab:
		path = "/projects/" + url.PathEscape(cfg.Repository) + "/repository/commits/" + url.PathEscape(commit) + "/statuses?per_page=100"
		header.Set("PRIVATE-TOKEN", token)
	case config.ForgeGitea:
		path = "/repos/" + ownerName(cfg.Repository) + "/commits/" + url.PathEscape(commit) + "/status"
		header.Set("Authorization", "token "+token)
	default:
		return nil, fmt.Errorf("commit_status: unknown provider %q", cfg.Provider)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, cfg.APIURL+path, nil)
	if err != nil {
		return nil, fmt.Errorf("commit_status.api_url: %w", err)
	}
	req.Header = header
	req.Header.Set("User-Agent", "moor")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("read the statuses of %s: %w", commit, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxStatuses))
	if err != nil {
		return nil, fmt.Errorf("read the statuses of %s: %w", commit, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("read the statuses of %s: %s: %s", commit, resp.Status, Describe(string(body)))
	}
	// GitHub says state and context; Gitea status and context; GitLab
	// status and name, in a list of its own.
	type posted struct {
		State       string `json:"state"`
		Status      string `json:"status"`
		Context     string `json:"context"`
		Name        string `json:"name"`
		Description string `json:"description"`
	}
	var list []posted
	if cfg.Provider == config.ForgeGitLab {
		err = json.Unmarshal(body, &list)
	} else {
		var combined struct {
			Statuses []posted `json:"statuses"`
		}
		err = json.Unmarshal(body, &combined)
		list = combined.Statuses
	}
	if err != nil {
		return nil, fmt.Errorf("read the statuses of %s: not the forge's answer: %v", commit, err)
	}
	out := map[string]Posted{}
	for _, p := range list {
		name, state := p.Context, p.State
		if name == "" {
			name = p.Name
		}
		if state == "" {
			state = p.Status
		}
		if _, seen := out[name]; seen || name == "" {
			continue // newest first: the first one a context has is its latest
		}
		out[name] = Posted{State: readState[state], Description: p.Description}
		if out[name].State == "" {
			out[name] = Posted{State: Pending, Description: p.Description}
		}
	}
	return out, nil
}

// readState maps each forge's states to moor's; any other is Pending.
var readState = map[string]State{
	"success": Success,
	"pending": Pending, "running": Pending, "created": Pending, "waiting_for_resource": Pending, "preparing": Pending,
	"failure": Failure, "error": Failure, "failed": Failure, "canceled": Failure,
}
