package forge_test

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/moor-dev/moor/config"
	"github.com/moor-dev/moor/forge"
	"github.com/moor-dev/moor/forge/forgetest"
)

// TestCommitStates: what hosts posted to a commit is read back from each
// forge, the latest status of each context, in moor's words; another
// commit's statuses are not mixed in, and a wrong token is an error.
func TestCommitStates(t *testing.T) {
	for _, tt := range []struct {
		provider, repo            string
		pending, success, failure string
	}{
		{"github", "ops/deploy", "pending", "success", "failure"},
		{"gitlab", "ops/infra/deploy", "running", "success", "failed"},
		{"gitea", "ops/deploy", "pending", "success", "failure"},
	} {
		t.Run(tt.provider, func(t *testing.T) {
			fake := forgetest.New(t, tt.provider, tt.repo, "tok-"+tt.provider)
			for _, c := range []forgetest.Call{
				{Commit: good, State: tt.pending, Context: "moor/edge-1", Description: "rolling out web/app"},
				{Commit: good, State: tt.success, Context: "moor/edge-1", Description: "deployed: 1 service in 1 stack"},
				{Commit: good, State: tt.failure, Context: "moor/edge-2", Description: "rolled back: replace web/app/1"},
				{Commit: good, State: tt.pending, Context: "moor/edge-3", Description: "rolling out web/app"},
				{Commit: bad, State: tt.success, Context: "moor/edge-3", Description: "deployed"},
			} {
				fake.Seed(c)
			}
			tokenFile := filepath.Join(t.TempDir(), "token")
			if err := os.WriteFile(tokenFile, []byte(fake.Token+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg := config.CommitStatus{Provider: tt.provider, APIURL: fake.URL, Repository: tt.repo, TokenFile: tokenFile}
			got, err := forge.CommitStates(t.Context(), http.DefaultClient, cfg, good)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]forge.Posted{
				"moor/edge-1": {State: forge.Success, Description: "deployed: 1 service in 1 stack"},
				"moor/edge-2": {State: forge.Failure, Description: "rolled back: replace web/app/1"},
				"moor/edge-3": {State: forge.Pending, Description: "rolling out web/app"},
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("states (-want +got):\n%s", diff)
			}
			if err := os.WriteFile(tokenFile, []byte("wrong\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := forge.CommitStates(t.Context(), http.DefaultClient, cfg, good); err == nil {
				t.Error("a wrong token read the statuses")
			}
		})
	}
}
