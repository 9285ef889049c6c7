package verify

import (
	"errors"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// fixture is one signature format's repository: a commit by a trusted key,
// one by a key outside the trust set, and an unsigned one.
type fixture struct {
	format       string
	repo         *testRepo
	verifier     *Verifier
	trusted      plumbing.Hash
	untrusted    plumbing.Hash
	unsigned     plumbing.Hash
	wantFP       string // fingerprint of the trusted key
	wantIdentity string
	strangerFP   string // fingerprint of the untrusted key
}

func openPGPFixture(t *testing.T) fixture {
	g := newGPGHome(t)
	alice := g.newKey(t, "Alice <alice@example.com>")
	mallory := g.newKey(t, "Mallory <mallory@example.com>")
	v, err := Load(Policy{OpenPGPKeys: []string{g.exportPublic(t, "alice@example.com")}})
	if err != nil {
		t.Fatal(err)
	}
	r := newTestRepo(t, g.env()...)
	return fixture{
		format:       FormatOpenPGP,
		repo:         r,
		verifier:     v,
		trusted:      r.commit(t, "gpg.program=gpg", "user.signingkey="+alice),
		untrusted:    r.commit(t, "gpg.program=gpg", "user.signingkey="+mallory),
		unsigned:     r.commit(t),
		wantFP:       alice,
		wantIdentity: "Alice <alice@example.com>",
		strangerFP:   mallory,
	}
}

func sshFixture(t *testing.T) fixture {
	alicePub, aliceLine := sshKey(t, "alice laptop")
	strangerPub, _ := sshKey(t, "stranger")
	signers := writeFile(t, "allowed_signers", "# deploy keys\n\nalice@example.com "+aliceLine+"\n")
	v, err := Load(Policy{SSHAllowedSigners: signers})
	if err != nil {
		t.Fatal(err)
	}
	r := newTestRepo(t, "SSH_AUTH_SOCK=")
	return fixture{
		format:       FormatSSH,
		repo:         r,
		verifier:     v,
		trusted:      r.commit(t, "gpg.format=ssh", "user.signingkey="+alicePub),
		untrusted:    r.commit(t, "gpg.format=ssh", "user.signingkey="+strangerPub),
		unsigned:     r.commit(t),
		wantFP:       sshFingerprint(t, alicePub),
		wantIdentity: "alice@example.com",
		strangerFP:   sshFingerprint(t, strangerPub),
	}
}

func TestCommit(t *testing.T) {
	for _, mk := range []func(*testing.T) fixture{openPGPFixture, sshFixture} {
		f := mk(t)
		t.Run(f.format, func(t *testing.T) {
			t.Run("trusted", func(t *testing.T) {
				res, err := f.verifier.Commit(f.repo.object(t, f.trusted))
				if err != nil {
					t.Fatalf("Commit: %v", err)
				}
				want := Result{
					Format:      f.format,
					Signer:      f.wantFP + " " + f.wantIdentity,
					Fingerprint: f.wantFP,
					Identity:    f.wantIdentity,
				}
				if res != want {
					t.Errorf("Commit = %+v\nwant     %+v", res, want)
				}
			})
			t.Run("untrusted", func(t *testing.T) {
				_, err := f.verifier.Commit(f.repo.object(t, f.untrusted))
				wantErr(t, err, ErrUntrusted, f.untrusted.String(), f.strangerFP)
			})
			t.Run("unsigned", func(t *testing.T) {
				_, err := f.verifier.Commit(f.repo.object(t, f.unsigned))
				wantErr(t, err, ErrUnsigned, f.unsigned.String())
			})
			testTampered(t, f)
		})
	}
}

// testTampered alters a trusted commit after signing, in each way that
// would change what moor deploys, and expects the signature to fail.
func testTampered(t *testing.T, f fixture) {
	otherTree := f.repo.object(t, f.unsigned).TreeHash
	forgeries := []struct {
		name string
		edit func(string) string
	}{
		{"message", func(raw string) string {
			return strings.Replace(raw, "\n\ndeploy nginx\n", "\n\ndeploy nginx\n\nand a cryptominer\n", 1)
		}},
		{"tree", func(raw string) string {
			return "tree " + otherTree.String() + raw[len("tree ")+40:]
		}},
		{"committer", func(raw string) string {
			return strings.Replace(raw, "committer Alice", "committer Mallory", 1)
		}},
	}
	for _, fg := range forgeries {
		t.Run("forged "+fg.name, func(t *testing.T) {
			c := f.repo.forge(t, f.trusted, fg.edit)
			_, err := f.verifier.Commit(c)
			wantErr(t, err, ErrBadSignature, c.Hash.String(), f.wantFP)
		})
	}
	t.Run("mutated in memory", func(t *testing.T) {
		c := f.repo.object(t, f.trusted)
		c.Message = "deploy something else\n"
		_, err := f.verifier.Commit(c)
		wantErr(t, err, ErrBadSignature, f.trusted.String())
	})
	t.Run("signature twice", func(t *testing.T) {
		// go-git concatenates repeated gpgsig headers into PGPSignature;
		// git would refuse such a commit, and so must we.
		c := f.repo.forge(t, f.trusted, func(raw string) string {
			start := strings.Index(raw, "\ngpgsig ") + 1
			end := strings.Index(raw, "\n\n") + 1
			return raw[:end] + raw[start:end] + raw[end:]
		})
		if n := strings.Count(c.PGPSignature, "-----BEGIN"); n != 2 {
			t.Fatalf("forged commit has %d signature blocks in PGPSignature, want 2", n)
		}
		_, err := f.verifier.Commit(c)
		wantErr(t, err, ErrBadSignature, "2 signature blocks")
	})
}

// TestCommitOtherFormat checks that a key of one format is no use for a
// signature of the other: a verifier with only SSH keys distrusts OpenPGP
// signatures, and the reverse.
func TestCommitOtherFormat(t *testing.T) {
	pgp, ssh := openPGPFixture(t), sshFixture(t)
	_, err := ssh.verifier.Commit(pgp.repo.object(t, pgp.trusted))
	wantErr(t, err, ErrUntrusted, pgp.wantFP)
	_, err = pgp.verifier.Commit(ssh.repo.object(t, ssh.trusted))
	wantErr(t, err, ErrUntrusted, ssh.wantFP)
}

// TestCommitBothFormats checks that one Verifier holding both kinds of key
// accepts both kinds of signature.
func TestCommitBothFormats(t *testing.T) {
	pgp, ssh := openPGPFixture(t), sshFixture(t)
	both := &Verifier{openpgp: pgp.verifier.openpgp, ssh: ssh.verifier.ssh}
	for _, f := range []fixture{pgp, ssh} {
		res, err := both.Commit(f.repo.object(t, f.trusted))
		if err != nil || res.Format != f.format || res.Fingerprint != f.wantFP {
			t.Errorf("%s: Commit = %+v, %v; want %s signed by %s", f.format, res, err, f.format, f.wantFP)
		}
	}
}

func TestCommitUnsupportedSignature(t *testing.T) {
	v := &Verifier{}
	c := &object.Commit{PGPSignature: "-----BEGIN SIGNED MESSAGE-----\nMIAG\n-----END SIGNED MESSAGE-----\n"}
	_, err := v.Commit(c)
	wantErr(t, err, ErrBadSignature, "unsupported signature format")
}

// wantErr fails unless err matches target and its message names each of
// the given details.
func wantErr(t *testing.T, err, target error, details ...string) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("err = %v, want %v", err, target)
	}
	t.Log(err)
	for _, d := range details {
		if !strings.Contains(err.Error(), d) {
			t.Errorf("err = %q, want it to name %q", err, d)
		}
	}
}
