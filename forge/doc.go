// Package forge tells the forge (GitHub, GitLab, Gitea or Forgejo) how the
// deploy of each commit went on this host, as a commit status: pending
// while a revision rolls out, success once the host matches it, failure
// when it was refused or rolled back. The status shows next to the commit,
// under a context of its own per host ("moor/web-1"), so that a fleet
// shows one line per host.
//
// A Reporter posts on its own goroutine: Report never blocks and never
// fails, whatever the forge does, so a deploy is never held up by it.
// Posts are only made on changes: the same state for the same commit is
// posted once, and a state still waiting to be posted is replaced by a
// newer one of the same commit. A post that fails is retried a bounded
// number of times with a growing backoff (5xx, 429, a network error) or
// given up at once (any other answer), then logged and counted in
// moor_commit_status_posts_total{result="failed"}. A state given up after
// its retries is posted again when a run reports it again; one the forge
// refused is not, until the state changes.
//
// The statuses are posted with net/http, each forge's API as documented:
//
//	GitHub  POST {api}/repos/{owner}/{repo}/statuses/{sha}   Authorization: Bearer TOKEN
//	        {"state": pending|success|failure, "description", "context", "target_url"}
//	GitLab  POST {api}/projects/{id or url-encoded path}/statuses/{sha}   PRIVATE-TOKEN: TOKEN
//	        {"state": running|success|failed, "description", "name", "target_url"}
//	Gitea   POST {api}/repos/{owner}/{repo}/statuses/{sha}   Authorization: token TOKEN
//	        {"state": pending|success|failure, "description", "context", "target_url"}
//
// GitLab's pending means "waiting to start"; a rollout under way is its
// running. A description is one line of at most MaxDescription characters
// (GitHub's limit, the smallest of the three).
package forge
