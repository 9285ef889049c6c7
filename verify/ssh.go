package verify

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"github.com/hiddeco/sshsig"
	"golang.org/x/crypto/ssh"
)

// verifySSH checks an armored SSHSIG signature over payload, as git's
// gpg.format=ssh does with ssh-keygen -Y verify: the key must be on an
// allowed-signers line that admits namespace "git" at the committer date.
func (v *Verifier) verifySSH(payload []byte, armored string, committed time.Time) (Result, error) {
	sig, err := sshsig.Unarmor([]byte(armored))
	if err != nil {
		return Result{}, fmt.Errorf("ssh signature: %v: %w", err, ErrBadSignature)
	}
	fp := ssh.FingerprintSHA256(sig.PublicKey)
	// A signature made for another namespace (a signed file, say) must not
	// pass for a commit signature, even over the same bytes.
	if sig.Namespace != gitNamespace {
		return Result{}, fmt.Errorf("ssh key %s: signature namespace %q, want %q: %w", fp, sig.Namespace, gitNamespace, ErrBadSignature)
	}
	signer, err := v.allowedSSHSigner(sig.PublicKey, committed)
	if err != nil {
		return Result{}, fmt.Errorf("ssh key %s: %w", fp, err)
	}
	if err := sshsig.Verify(bytes.NewReader(payload), sig, sig.PublicKey, sig.HashAlgorithm, gitNamespace); err != nil {
		return Result{}, fmt.Errorf("ssh key %s: %v: %w", fp, err, ErrBadSignature)
	}
	return newResult(FormatSSH, fp, signer.principals), nil
}

// allowedSSHSigner picks the allowed-signers line for key the way git does
// with ssh-keygen: "find-principals" takes the first line for the key whose
// validity window admits the committer date, and "verify" then applies that
// line's namespaces. A later line for the same key cannot widen an earlier
// restriction.
func (v *Verifier) allowedSSHSigner(key ssh.PublicKey, committed time.Time) (*allowedSigner, error) {
	blob := key.Marshal()
	var refusals []string
	for i := range v.ssh {
		s := &v.ssh[i]
		if !bytes.Equal(s.key.Marshal(), blob) {
			continue
		}
		if ok, why := s.validAt(committed); !ok {
			refusals = append(refusals, why)
			continue
		}
		if ok, why := s.allowsGit(); !ok {
			return nil, fmt.Errorf("%s: %w", why, ErrUntrusted)
		}
		return s, nil
	}
	if len(refusals) == 0 {
		return nil, fmt.Errorf("not in allowed signers: %w", ErrUntrusted)
	}
	return nil, fmt.Errorf("%s: %w", strings.Join(refusals, "; "), ErrUntrusted)
}
