package controller

import (
	"context"
	"fmt"

	"go.uber.org/zap"

	"github.com/moor-dev/moor/config"
	"github.com/moor-dev/moor/gitsource"
	"github.com/moor-dev/moor/verify"
)

// trust decides whether a snapshot's commit may be applied, before anything
// of it is read: its signature (under verify: {mode: head}) and its
// descent from the last applied revision. It returns notes for the ledger
// ("signed by …", "history rewritten: …") and an ErrRefused error when the
// commit must not be applied.
func (c *Controller) trust(ctx context.Context, snap *gitsource.Snapshot) (_ []string, err error) {
	if c.WorkDir != "" {
		return nil, nil
	}
	var notes []string
	policy := c.Source.Verify
	commit := snap.Revision.Commit
	applied := c.decisions().Applied
	if c.trusted.commit == commit && c.trusted.applied == applied {
		return c.trusted.notes, nil // an unchanged revision costs no second check
	}
	defer func() {
		if err == nil {
			c.trusted.commit, c.trusted.applied, c.trusted.notes = commit, applied, notes
		}
	}()
	if policy.Mode == config.VerifyHead {
		signer, err := c.verifySignature(snap)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrRefused, err)
		}
		notes = append(notes, "signed by "+signer)
	}
	rewritten, err := c.rewritten(ctx, commit)
	if err != nil {
		return notes, err
	}
	if rewritten != "" {
		c.Log.Warn(rewritten, zap.String("commit", commit))
		notes = append(notes, rewritten)
		if policy.Mode != "" && !policy.AllowHistoryRewrite {
			return notes, fmt.Errorf("%w: %s; a verified source never moves back to a commit that does not descend from the one applied (set verify.allow_history_rewrite to follow it)", ErrRefused, rewritten)
		}
	}
	return notes, nil
}

// verifySignature checks the commit's signature against the source's
// trusted keys and names the signer.
func (c *Controller) verifySignature(snap *gitsource.Snapshot) (string, error) {
	if c.verifier == nil {
		v, err := verify.Load(verify.Policy{OpenPGPKeys: c.Source.Verify.OpenPGPKeys, SSHAllowedSigners: c.Source.Verify.SSHAllowedSigners})
		if err != nil {
			return "", fmt.Errorf("load trusted keys: %w", err)
		}
		c.verifier = v
	}
	obj, err := snap.Commit()
	if err != nil {
		return "", err
	}
	res, err := c.verifier.Commit(obj)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s (%s)", res.Signer, res.Format), nil
}

// rewritten returns "history rewritten: OLD is not an ancestor of NEW" when
// the commit does not descend from the last applied revision, or "". The
// answer for one pair is remembered: it costs a fetch.
func (c *Controller) rewritten(ctx context.Context, commit string) (string, error) {
	applied := c.decisions().Applied
	old, err := gitsource.ParseRevision(applied)
	if applied == "" || err != nil || old.Commit == commit {
		return "", nil
	}
	key := old.Commit + ".." + commit
	if verdict, ok := c.ancestry[key]; ok {
		return verdict, nil
	}
	ok, err := c.git.IsAncestor(ctx, old.Commit, commit)
	if err != nil {
		return "", err
	}
	verdict := ""
	if !ok {
		verdict = fmt.Sprintf("history rewritten: %s is not an ancestor of %s", old.Commit, commit)
	}
	if c.ancestry == nil {
		c.ancestry = map[string]string{}
	}
	c.ancestry[key] = verdict
	return verdict, nil
}
