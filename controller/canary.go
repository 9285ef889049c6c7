package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/moor-dev/moor/forge"
	"github.com/moor-dev/moor/gitsource"
	"github.com/moor-dev/moor/reconcile"
)

// Canary hosts: a stack's x-moor.canary names the hosts of a fleet that
// take a change of it first. There is no controller in the middle: each
// host's moor decides for itself, from git and from what the canary hosts'
// moor reports (GET /api/v1/sources/SOURCE/stacks, each stack with the
// revision of its source's last run and its health there). A canary host
// that does not run the stack vouches for it with its whole source: every
// stack it runs of it healthy at the commit.
//
// On a canary host nothing changes. On any other host, a change of the
// stack is held (Constraints.Canary, shown as a suspension's is) until
// every canary host reports the stack healthy at the same commit or at a
// descendant of it. A change is what a run of a revision other than the
// one the host last fully matched (decisions.Applied) would do to the
// stack, unless all it does is start containers that stopped or put back
// those a rollout retired (a repair): a repair goes ahead; on a host that never
// applied one, a first deploy waits like a change (the canaries are ahead
// of a host that joins a fleet, so it costs one check). The peers are asked
// only when such a change has ops (an unchanged poll asks no one), at
// most CanaryPeerTimeout, all at once; one that does not answer is
// unknown, and holds.

// OverrideCanary is the override an operator's apply records in the
// ledger when it applies a change that waited for canary hosts.
const OverrideCanary = "canary"

// CanaryPeerTimeout bounds the asking of the canary hosts in one run.
const CanaryPeerTimeout = 5 * time.Second

// canaryState is what the controller keeps between runs about the
// changes it holds for canary hosts.
type canaryState struct {
	// since is when this host first held a stack's change, by
	// "STACK@COMMIT": x-moor.canary.timeout counts from then (in memory: a
	// restart starts it again).
	since map[string]time.Time
}

// peerStack is one stack as a canary host's API reports it.
type peerStack struct {
	Name         string `json:"name"`
	Revision     string `json:"revision"`
	Health       string `json:"health"`
	HealthReason string `json:"health_reason"`
}

// peerAnswer is what one canary host said, or why it said nothing.
type peerAnswer struct {
	stacks map[string]peerStack
	err    error
}

// canaryHolds returns the stacks of out's plan whose change waits for
// their canary hosts, with why; none when nothing waits.
func (c *Controller) canaryHolds(ctx context.Context, out *Outcome) map[string]string {
	d := out.Desired
	if c.WorkDir != "" || out.Plan == nil || d.Revision == c.decisions().Applied {
		return nil
	}
	rev, err := gitsource.ParseRevision(d.Revision)
	if err != nil {
		return nil
	}
	repairOnly := map[string]bool{}
	for _, op := range out.Plan.Ops {
		repair := op.Kind == reconcile.OpStart || op.Kind == reconcile.OpRestore
		if v, seen := repairOnly[op.Stack]; !seen || v {
			repairOnly[op.Stack] = repair
		}
	}
	gated := map[string]*reconcile.Canary{}
	var hosts []string
	for _, name := range out.Plan.Stacks() {
		st := d.Stacks[name]
		if st == nil || st.Canary == nil || st.Canary.IsCanary(c.Host.Name) || repairOnly[name] {
			continue
		}
		gated[name] = st.Canary
		for _, h := range st.Canary.Hosts {
			hosts = appendUnique(hosts, h)
		}
	}
	if len(gated) == 0 {
		return nil
	}
	answers := c.askPeers(ctx, hosts, d.Revision)
	now := c.now()
	since := map[string]time.Time{}
	held := map[string]string{}
	for _, name := range slices.Sorted(maps.Keys(gated)) {
		var waits []string
		for _, h := range gated[name].Hosts {
			if why := c.canaryVerdict(ctx, name, h, rev.Commit, answers[h]); why != "" {
				waits = append(waits, why)
			}
		}
		if len(waits) == 0 {
			continue
		}
		key := name + "@" + rev.Commit
		since[key] = now
		if t, ok := c.canary.since[key]; ok {
			since[key] = t
		}
		why := strings.Join(waits, "; ")
		if to := gated[name].Timeout; to > 0 && now.Sub(since[key]) >= to {
			why = fmt.Sprintf("canary timeout (%s) passed at %s, not applied: %s", to, since[key].Add(to).UTC().Format(time.RFC3339), why)
		}
		held[name] = why
	}
	c.canary.since = since // forgets the changes no longer held
	if len(held) > 0 && c.IgnoreCanary {
		out.Overrides = append(out.Overrides, OverrideCanary)
		return nil
	}
	return held
}

// canaryVerdict says why stack's change to commit waits for canary host,
// given what it answered; "" when it does not.
func (c *Controller) canaryVerdict(ctx context.Context, stack, host, commit string, a peerAnswer) string {
	head := fmt.Sprintf("waiting for canary %s at %s", host, commit[:7])
	if a.err != nil {
		return fmt.Sprintf("%s (%s unknown: %v)", head, host, a.err)
	}
	ps, ok := a.stacks[stack]
	if !ok {
		if ps, ok = wholeSource(a.stacks); !ok {
			return fmt.Sprintf("%s (%s runs no stack of the source)", head, host)
		}
	}
	peer, err := gitsource.ParseRevision(ps.Revision)
	if err != nil {
		return fmt.Sprintf("%s (%s has not run yet)", head, host)
	}
	at := peer.Commit[:7]
	if peer.Commit != commit {
		// A canary behind this host is the common case, and the cheap
		// one to decide: its commit is found a few commits before ours.
		// Deciding that ours is not before its would fetch the whole
		// history.
		var descends bool
		var err error
		if behind, berr := c.descends(ctx, peer.Commit, commit); berr != nil || !behind {
			descends, err = c.descends(ctx, commit, peer.Commit)
		}
		switch {
		case err != nil:
			return fmt.Sprintf("%s (%s is at %s; whether it descends from %s is unknown: %v)", head, host, at, commit[:7], err)
		case !descends:
			return fmt.Sprintf("%s (%s is at %s, %s)", head, host, at, peerState(ps))
		}
	}
	switch {
	case ps.Health == HealthHealthy:
		return ""
	case ps.Health == HealthFailed && peer.Commit == commit:
		return fmt.Sprintf("%s: %s failed at it (%s); held until a new commit", head, host, ps.HealthReason)
	}
	return fmt.Sprintf("%s (%s is at %s, %s)", head, host, at, peerState(ps))
}

// wholeSource is the health of every stack a canary host runs of the
// source, as one: what counts for a stack it does not run (the fleet's
// host selection gives it others). It is failed when a stack is, pending
// when one is, and healthy when all are; false when it runs none.
func wholeSource(stacks map[string]peerStack) (peerStack, bool) {
	if len(stacks) == 0 {
		return peerStack{}, false
	}
	all := peerStack{Health: HealthHealthy}
	for _, name := range slices.Sorted(maps.Keys(stacks)) {
		s := stacks[name]
		all.Revision = s.Revision // a source's stacks share its last run's
		worse := s.Health == HealthFailed && all.Health != HealthFailed ||
			s.Health != HealthHealthy && all.Health == HealthHealthy
		if worse {
			all.Health, all.HealthReason = s.Health, s.HealthReason
			if name != "" { // "": a host's commit status, of its whole source
				all.HealthReason = "stack " + name
				if s.HealthReason != "" {
					all.HealthReason += ": " + s.HealthReason
				}
			}
		}
	}
	return all, true
}

// peerState is a peer's stack's health as a reason shows it.
func peerState(ps peerStack) string {
	if ps.HealthReason == "" {
		return ps.Health
	}
	return ps.Health + ": " + ps.HealthReason
}

// descends says whether commit next is old or a descendant of it on the
// source's ref. Verdicts are remembered with the trust check's (a
// verdict costs a fetch).
func (c *Controller) descends(ctx context.Context, old, next string) (bool, error) {
	key := old + ".." + next
	if verdict, ok := c.ancestry[key]; ok {
		return verdict == "", nil
	}
	ok, err := c.git.IsAncestor(ctx, old, next)
	if err != nil {
		return false, err
	}
	verdict := ""
	if !ok {
		verdict = fmt.Sprintf("history rewritten: %s is not an ancestor of %s", old, next)
	}
	if c.ancestry == nil {
		c.ancestry = map[string]string{}
	}
	c.ancestry[key] = verdict
	return ok, nil
}

// askPeers asks each canary host for its stacks, all at once, within
// CanaryPeerTimeout: those canary.peers names over their API, the others,
// with canary.forge, through the statuses they posted to rev's commit.
func (c *Controller) askPeers(ctx context.Context, hosts []string, rev string) map[string]peerAnswer {
	ctx, cancel := context.WithTimeout(ctx, CanaryPeerTimeout)
	defer cancel()
	cfg := c.Source.Canary
	var viaForge []string
	var token string
	var tokenErr error
	if cfg.TokenFile != "" {
		b, err := os.ReadFile(cfg.TokenFile)
		token, tokenErr = strings.TrimSpace(string(b)), err
	}
	out := make(map[string]peerAnswer, len(hosts))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, h := range hosts {
		base, ok := cfg.Peers[h]
		switch {
		case !ok && cfg.Forge:
			viaForge = append(viaForge, h)
			continue
		case !ok:
			out[h] = peerAnswer{err: fmt.Errorf("no address: set canary.peers.%s of source %s", h, c.Source.Name)}
			continue
		case tokenErr != nil:
			out[h] = peerAnswer{err: fmt.Errorf("canary.token_file: %w", tokenErr)}
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			stacks, err := getPeerStacks(ctx, base, cfg.Source, token)
			mu.Lock()
			out[h] = peerAnswer{stacks: stacks, err: err}
			mu.Unlock()
		}()
	}
	if len(viaForge) > 0 {
		posted := c.forgeAnswers(ctx, viaForge, rev)
		mu.Lock()
		maps.Copy(out, posted)
		mu.Unlock()
	}
	wg.Wait()
	return out
}

// forgeAnswers are what hosts posted to the commit of rev in the forge of
// the source's commit_status (context moor/HOST), as the stacks of a
// source: healthy on success, failed on failure, pending otherwise. A
// commit status says nothing of the commits after it: only rev's own
// commit counts.
func (c *Controller) forgeAnswers(ctx context.Context, hosts []string, rev string) map[string]peerAnswer {
	out := map[string]peerAnswer{}
	r, err := gitsource.ParseRevision(rev)
	var states map[string]forge.Posted
	if err == nil {
		states, err = forge.CommitStates(ctx, http.DefaultClient, c.Source.CommitStatus, r.Commit)
	}
	for _, h := range hosts {
		name := "moor/" + h
		p, ok := states[name]
		switch {
		case err != nil:
			out[h] = peerAnswer{err: err}
		case !ok:
			out[h] = peerAnswer{err: fmt.Errorf("no status %s on %s in the forge", name, r.Commit[:7])}
		default:
			health := map[forge.State]string{forge.Success: HealthHealthy, forge.Failure: HealthFailed}[p.State]
			if health == "" {
				health = HealthPending
			}
			out[h] = peerAnswer{stacks: map[string]peerStack{"": {Revision: rev, Health: health, HealthReason: p.Description}}}
		}
	}
	return out
}

// maxPeerAnswer bounds what is read of a peer's answer.
const maxPeerAnswer = 4 << 20

// getPeerStacks reads GET BASE/api/v1/sources/SOURCE/stacks.
func getPeerStacks(ctx context.Context, base, source, token string) (map[string]peerStack, error) {
	u := base + "/api/v1/sources/" + url.PathEscape(source) + "/stacks"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("GET %s: no answer within %s", u, CanaryPeerTimeout)
		}
		return nil, err // *url.Error names the method and URL
	}
	defer resp.Body.Close()
	var body struct {
		Version int         `json:"version"`
		Stacks  []peerStack `json:"stacks"`
		Error   *struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxPeerAnswer)).Decode(&body); err != nil {
		return nil, fmt.Errorf("GET %s: %s, not moor's API answer: %v", u, resp.Status, err)
	}
	switch {
	case resp.StatusCode != http.StatusOK && body.Error != nil:
		return nil, fmt.Errorf("GET %s: %s: %s", u, resp.Status, body.Error.Message)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("GET %s: %s", u, resp.Status)
	case body.Version != 1:
		return nil, fmt.Errorf("GET %s: API version %d, this moor reads version 1", u, body.Version)
	}
	m := make(map[string]peerStack, len(body.Stacks))
	for _, s := range body.Stacks {
		// What the peer's containers printed stays on the peer: this
		// host's waiting reasons are shown without the token.
		s.HealthReason = reconcile.WithholdOutput(s.HealthReason)
		m[s.Name] = s
	}
	return m, nil
}
