package forge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"
	"unicode"

	"go.uber.org/zap"

	"github.com/moor-dev/moor/config"
)

// State is the deploy state of a commit on this host.
type State string

// The states a Reporter posts; each forge's client names them in its own
// words (GitLab: running, failed).
const (
	Pending State = "pending" // a rollout of the commit is under way
	Success State = "success" // the host matches the commit
	Failure State = "failure" // the commit was refused, or its rollout failed
)

// Status is one state of one commit.
type Status struct {
	Commit      string // the full sha
	State       State
	Description string // what happened; Report bounds it
}

// MaxDescription is the longest description posted, in characters:
// GitHub refuses a longer one.
const MaxDescription = 140

// Defaults of a Reporter's retries.
const (
	DefaultAttempts = 5
	DefaultBackoff  = time.Second
	DefaultTimeout  = 10 * time.Second
	// remembered is how many commits a Reporter remembers the last state
	// of: the deployed one, the one rolling out, and a few before them.
	remembered = 16
)

// Reporter posts the statuses of one source's commits.
type Reporter struct {
	cfg    config.CommitStatus
	source string
	log    *zap.Logger
	m      *Metrics
	client *http.Client
	// Attempts, Backoff: a post is tried up to Attempts times, the
	// first retry after Backoff, each next one after twice as long.
	Attempts int
	Backoff  time.Duration

	ctx    context.Context
	cancel context.CancelFunc
	wake   chan struct{}
	done   chan struct{}

	mu      sync.Mutex
	closing bool
	// last is the last state reported of each commit (oldest first in
	// order): what a post has been queued for.
	last  map[string]State
	order []string
	// queue are the statuses waiting to be posted, one a commit, in the
	// order their commits were first queued.
	queue []Status
}

// New returns a Reporter for source, posting as cfg says (config.Validate
// filled in its defaults) under the context cfg.Context, or
// "moor/HOST" without one. Its goroutine runs until Close.
func New(source string, cfg config.CommitStatus, host string, log *zap.Logger, m *Metrics) *Reporter {
	if log == nil {
		log = zap.NewNop()
	}
	if cfg.Context == "" {
		cfg.Context = "moor/" + host
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &Reporter{
		cfg: cfg, source: source, m: m,
		log: log.With(zap.String("source", source), zap.String("forge", cfg.Provider), zap.String("context", cfg.Context)),
		client: &http.Client{Timeout: DefaultTimeout,
			// A redirect is an answer, not followed: the token (GitLab's
			// PRIVATE-TOKEN is no header Go drops) must not go elsewhere.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		Attempts: DefaultAttempts, Backoff: DefaultBackoff,
		ctx: ctx, cancel: cancel,
		wake: make(chan struct{}, 1), done: make(chan struct{}),
		last: map[string]State{},
	}
	go r.run()
	return r
}

// Report queues st to be posted, unless it changes nothing: the same state
// for the same commit, or pending for a commit the host already matches
// (a repair of a deployed commit is no rollout of it). It never blocks.
func (r *Reporter) Report(st Status) {
	if st.Commit == "" {
		return
	}
	st.Description = Describe(st.Description)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closing {
		return
	}
	prev, known := r.last[st.Commit]
	if prev == st.State || st.State == Pending && prev == Success {
		return
	}
	if !known {
		r.order = append(r.order, st.Commit)
		if len(r.order) > remembered {
			delete(r.last, r.order[0])
			r.order = r.order[1:]
		}
	}
	r.last[st.Commit] = st.State
	i := r.queued(st.Commit)
	if i >= 0 {
		r.queue[i] = st // not posted yet: the newer state replaces it
	} else {
		r.queue = append(r.queue, st)
		if len(r.queue) > remembered { // a forge down while many commits deploy
			r.m.count(r.source, "failed")
			r.log.Warn("commit status not posted: too many waiting", zap.String("commit", r.queue[0].Commit),
				zap.String("state", string(r.queue[0].State)))
			r.queue = r.queue[1:]
		}
	}
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// queued is the index of commit's status in the queue, or -1. r.mu is held.
func (r *Reporter) queued(commit string) int {
	for i, q := range r.queue {
		if q.Commit == commit {
			return i
		}
	}
	return -1
}

// Close stops taking statuses and waits until those queued are posted, or
// ctx ends (then the post under way is cut short).
func (r *Reporter) Close(ctx context.Context) {
	r.mu.Lock()
	r.closing = true
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
	select {
	case <-r.done:
	case <-ctx.Done():
		r.cancel()
		<-r.done
	}
	r.cancel()
}

func (r *Reporter) run() {
	defer close(r.done)
	for {
		r.mu.Lock()
		var st Status
		next := len(r.queue) > 0
		if next {
			st = r.queue[0]
			r.queue = r.queue[1:]
		}
		closing := r.closing
		r.mu.Unlock()
		switch {
		case next:
			r.deliver(st)
			continue
		case closing:
			return
		}
		select {
		case <-r.wake:
		case <-r.ctx.Done():
			return
		}
	}
}

// deliver posts st, retrying what may succeed later, until a newer state
// of the same commit is queued (it supersedes st) or the attempts run out.
func (r *Reporter) deliver(st Status) {
	log := r.log.With(zap.String("commit", st.Commit), zap.String("state", string(st.State)))
	wait := r.Backoff
	for attempt := 1; ; attempt++ {
		err := r.post(r.ctx, st)
		if err == nil {
			r.m.count(r.source, "posted")
			log.Debug("commit status posted")
			return
		}
		var perr *permanentError
		permanent := errors.As(err, &perr)
		if permanent || attempt >= r.Attempts || r.ctx.Err() != nil {
			r.m.count(r.source, "failed")
			log.Warn("commit status not posted", zap.Int("attempts", attempt), zap.Error(err))
			if !permanent {
				// The forge may be back by the next run: it posts
				// the state again. A refusal (a wrong token) waits
				// for the next change, not the next poll.
				r.forget(st)
			}
			return
		}
		r.m.count(r.source, "retried")
		log.Debug("commit status not posted; retrying", zap.Int("attempt", attempt), zap.Duration("backoff", wait), zap.Error(err))
		select {
		case <-time.After(wait):
		case <-r.ctx.Done():
		}
		wait *= 2
		r.mu.Lock()
		superseded := r.queued(st.Commit) >= 0
		r.mu.Unlock()
		if superseded {
			return
		}
	}
}

// forget drops st from what was reported, so that the next report of the
// same state posts it again.
func (r *Reporter) forget(st Status) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.last[st.Commit] == st.State && r.queued(st.Commit) < 0 {
		delete(r.last, st.Commit)
		for i, c := range r.order {
			if c == st.Commit {
				r.order = append(r.order[:i], r.order[i+1:]...)
				break
			}
		}
	}
}

// permanentError is an answer that a retry would get again.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// post makes one attempt at posting st.
func (r *Reporter) post(ctx context.Context, st Status) error {
	token, err := r.token()
	if err != nil {
		return &permanentError{err}
	}
	req, err := r.request(ctx, token, st)
	if err != nil {
		return &permanentError{err}
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return fmt.Errorf("post status: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	err = fmt.Errorf("post status: %s: %s", resp.Status, Describe(string(body)))
	if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusRequestTimeout {
		return err
	}
	return &permanentError{err}
}

// token reads the API token; it is read for every post, so that a rotated
// token counts at once.
func (r *Reporter) token() (string, error) { return readToken(r.cfg) }

// readToken reads the API token of cfg from its file or variable.
func readToken(cfg config.CommitStatus) (string, error) {
	var tok string
	if cfg.TokenFile != "" {
		b, err := os.ReadFile(cfg.TokenFile)
		if err != nil {
			return "", fmt.Errorf("commit_status.token_file: %w", err)
		}
		tok = string(b)
	} else {
		tok = os.Getenv(cfg.TokenEnv)
	}
	tok = strings.TrimSpace(tok)
	if tok == "" || strings.ContainsAny(tok, "\r\n") {
		return "", fmt.Errorf("commit_status: the token (%s) is empty or not one line", tokenSource(cfg))
	}
	return tok, nil
}

func tokenSource(cfg config.CommitStatus) string {
	if cfg.TokenFile != "" {
		return cfg.TokenFile
	}
	return "$" + cfg.TokenEnv
}

// statusBody is the JSON all three forges take, with GitLab's name for the
// context.
type statusBody struct {
	State       string `json:"state"`
	Description string `json:"description"`
	Context     string `json:"context,omitempty"`
	Name        string `json:"name,omitempty"`
	TargetURL   string `json:"target_url,omitempty"`
}

// request builds the provider's request for st.
func (r *Reporter) request(ctx context.Context, token string, st Status) (*http.Request, error) {
	c := r.cfg
	body := statusBody{State: string(st.State), Description: st.Description, TargetURL: c.TargetURL}
	header := http.Header{"Content-Type": {"application/json"}}
	var path string
	switch c.Provider {
	case config.ForgeGitHub:
		path = "/repos/" + ownerName(c.Repository) + "/statuses/" + url.PathEscape(st.Commit)
		body.Context = c.Context
		header.Set("Authorization", "Bearer "+token)
		header.Set("Accept", "application/vnd.github+json")
		header.Set("X-GitHub-Api-Version", "2022-11-28")
	case config.ForgeGitLab:
		path = "/projects/" + url.PathEscape(c.Repository) + "/statuses/" + url.PathEscape(st.Commit)
		body.Name = c.Context
		body.State = gitlabState[st.State]
		header.Set("PRIVATE-TOKEN", token)
	case config.ForgeGitea:
		path = "/repos/" + ownerName(c.Repository) + "/statuses/" + url.PathEscape(st.Commit)
		body.Context = c.Context
		header.Set("Authorization", "token "+token)
	default:
		return nil, fmt.Errorf("commit_status: unknown provider %q", c.Provider)
	}
	b, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(c.APIURL + path)
	if err != nil {
		return nil, fmt.Errorf("commit_status.api_url: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	req.Header = header
	req.Header.Set("User-Agent", "moor")
	return req, nil
}

// gitlabState names the states as GitLab does: a rollout under way is
// running (its pending is a job that has not started).
var gitlabState = map[State]string{Pending: "running", Success: "success", Failure: "failed"}

// ownerName escapes each part of owner/name for a path.
func ownerName(repo string) string {
	owner, name, _ := strings.Cut(repo, "/")
	return url.PathEscape(owner) + "/" + url.PathEscape(name)
}

// Describe makes s a description: one line, no control characters, at
// most MaxDescription characters (cut with "…").
func Describe(s string) string {
	s = strings.Join(strings.FieldsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }), " ")
	if r := []rune(s); len(r) > MaxDescription {
		s = string(r[:MaxDescription-1]) + "…"
	}
	return s
}
