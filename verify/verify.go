package verify

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// Policy is a source's verify: block.
type Policy struct {
	// OpenPGPKeys are paths of armored public key files (.asc), as written
	// by gpg --export --armor.
	OpenPGPKeys []string
	// SSHAllowedSigners is the path of an allowed-signers file in git's and
	// ssh-keygen's format: "principals [options] keytype base64key [comment]".
	SSHAllowedSigners string
}

// Formats of a Result.
const (
	FormatOpenPGP = "openpgp"
	FormatSSH     = "ssh"
)

// Result says who signed a commit.
type Result struct {
	// Format is FormatOpenPGP or FormatSSH.
	Format string
	// Signer is Fingerprint and Identity in one line, for logs and status:
	// "F00D… Alice <alice@example.com>" or "SHA256:… alice@example.com".
	Signer string
	// Fingerprint is the trusted key's fingerprint: the primary key's
	// upper-case hex for OpenPGP, "SHA256:…" for SSH.
	Fingerprint string
	// Identity is the OpenPGP primary user ID, or the SSH principals field
	// of the allowed-signers line that admitted the key.
	Identity string
}

func newResult(format, fingerprint, identity string) Result {
	signer := fingerprint
	if identity != "" {
		signer += " " + identity
	}
	return Result{Format: format, Signer: signer, Fingerprint: fingerprint, Identity: identity}
}

// Errors returned by Commit, wrapped with the commit and, when known, the
// signing key's fingerprint. Compare with errors.Is.
var (
	// ErrUnsigned means the commit carries no signature.
	ErrUnsigned = errors.New("commit is not signed")
	// ErrUntrusted means the signature was made by a key outside the trust
	// set, or by a key that the trust set no longer admits (revoked,
	// expired, outside its allowed namespaces or validity window).
	ErrUntrusted = errors.New("commit is signed by an untrusted key")
	// ErrBadSignature means the signature does not verify against the
	// commit's content: the commit was altered after signing, or the
	// signature is malformed.
	ErrBadSignature = errors.New("commit signature is invalid")
)

// Verifier holds the trusted keys of one Policy. It is immutable after Load
// and safe for concurrent use.
type Verifier struct {
	openpgp openpgp.EntityList
	ssh     []allowedSigner
}

// Load reads the keys a Policy names. Errors name the file, and the line for
// allowed-signers files. A policy that yields no key is an error: an empty
// trust set would reject every commit, which is never what was meant.
func Load(p Policy) (*Verifier, error) {
	v := &Verifier{}
	for _, path := range p.OpenPGPKeys {
		keys, err := loadOpenPGPKeys(path)
		if err != nil {
			return nil, err
		}
		v.openpgp = append(v.openpgp, keys...)
	}
	if p.SSHAllowedSigners != "" {
		signers, err := loadAllowedSigners(p.SSHAllowedSigners)
		if err != nil {
			return nil, err
		}
		v.ssh = signers
	}
	if len(v.openpgp) == 0 && len(v.ssh) == 0 {
		return nil, errors.New("verify policy has no keys: set openpgp keys or an ssh allowed-signers file")
	}
	return v, nil
}

// Commit verifies the signature of c, which must have been read from an
// object store (go-git keeps the raw object so that the signed payload is
// reproduced byte for byte). It returns who signed, or an error matching
// ErrUnsigned, ErrUntrusted or ErrBadSignature.
func (v *Verifier) Commit(c *object.Commit) (Result, error) {
	sig := c.PGPSignature
	if strings.TrimSpace(sig) == "" {
		return Result{}, fmt.Errorf("commit %s: %w", c.Hash, ErrUnsigned)
	}
	payload, err := signedPayload(c)
	if err != nil {
		return Result{}, fmt.Errorf("commit %s: read signed payload: %w", c.Hash, err)
	}
	// go-git concatenates every gpgsig header into PGPSignature and does not
	// say which format it holds; git refuses a commit with more than one
	// signature, and so do we, since "signed" must mean one signer.
	format, n := signatureFormat(sig)
	switch {
	case n > 1:
		return Result{}, fmt.Errorf("commit %s: %d signature blocks, want one: %w", c.Hash, n, ErrBadSignature)
	case format == FormatOpenPGP:
		res, err := v.verifyOpenPGP(payload, sig)
		if err != nil {
			return Result{}, fmt.Errorf("commit %s: %w", c.Hash, err)
		}
		return res, nil
	case format == FormatSSH:
		res, err := v.verifySSH(payload, sig, c.Committer.When)
		if err != nil {
			return Result{}, fmt.Errorf("commit %s: %w", c.Hash, err)
		}
		return res, nil
	default:
		return Result{}, fmt.Errorf("commit %s: unsupported signature format (not OpenPGP or SSH): %w", c.Hash, ErrBadSignature)
	}
}

// signedPayload returns the bytes the signature was computed over: the raw
// commit object without its gpgsig headers.
func signedPayload(c *object.Commit) ([]byte, error) {
	obj := &plumbing.MemoryObject{}
	if err := c.EncodeWithoutSignature(obj); err != nil {
		return nil, err
	}
	r, err := obj.Reader()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

// Armor headers that start a signature block, as git's gpg-interface.c
// recognises them. X.509 (gpgsm) signatures are recognised only to be
// rejected as unsupported.
var signatureStarts = []struct {
	format, prefix string
}{
	{FormatOpenPGP, "-----BEGIN PGP SIGNATURE-----"},
	{FormatOpenPGP, "-----BEGIN PGP MESSAGE-----"},
	{FormatSSH, "-----BEGIN SSH SIGNATURE-----"},
	{"x509", "-----BEGIN SIGNED MESSAGE-----"},
}

// signatureFormat returns the format of the first signature block in sig
// and how many blocks begin at a line start.
func signatureFormat(sig string) (format string, blocks int) {
	for line := range strings.Lines(sig) {
		for _, s := range signatureStarts {
			if strings.HasPrefix(line, s.prefix) {
				if blocks == 0 {
					format = s.format
				}
				blocks++
			}
		}
	}
	return format, blocks
}
