package verify

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// loadOpenPGPKeys reads one armored public key file.
func loadOpenPGPKeys(path string) (openpgp.EntityList, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load openpgp keys: %w", err)
	}
	defer f.Close()
	keys, err := openpgp.ReadArmoredKeyRing(f)
	if err != nil {
		return nil, fmt.Errorf("load openpgp keys %s: %w", path, err)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("load openpgp keys %s: no usable key", path)
	}
	for _, e := range keys {
		// A secret key in a trust file is a misconfiguration that leaks the
		// ability to sign deploys; refuse it rather than quietly use it.
		if e.PrivateKey != nil {
			return nil, fmt.Errorf("load openpgp keys %s: file holds a private key %X; give the public key (gpg --export --armor)",
				path, e.PrimaryKey.Fingerprint)
		}
	}
	return keys, nil
}

// verifyOpenPGP checks an armored detached OpenPGP signature over payload.
func (v *Verifier) verifyOpenPGP(payload []byte, armored string) (Result, error) {
	body, sig, err := parseOpenPGPSignature(armored)
	if err != nil {
		return Result{}, fmt.Errorf("openpgp signature: %v: %w", err, ErrBadSignature)
	}
	issuer := issuerOf(sig)
	if len(v.openpgp.KeysByIdUsage(*sig.IssuerKeyId, packet.KeyFlagSign)) == 0 {
		return Result{}, fmt.Errorf("openpgp key %s is not in the trust set: %w", issuer, ErrUntrusted)
	}
	_, signer, err := openpgp.VerifyDetachedSignature(v.openpgp, bytes.NewReader(payload), bytes.NewReader(body), nil)
	switch {
	case err == nil:
	case errors.Is(err, pgperrors.ErrKeyRevoked),
		errors.Is(err, pgperrors.ErrKeyExpired),
		errors.Is(err, pgperrors.ErrSignatureExpired),
		errors.Is(err, pgperrors.ErrUnknownIssuer):
		return Result{}, fmt.Errorf("openpgp key %s: %v: %w", issuer, err, ErrUntrusted)
	default:
		return Result{}, fmt.Errorf("openpgp key %s: %v: %w", issuer, err, ErrBadSignature)
	}
	identity := ""
	if id := signer.PrimaryIdentity(); id != nil {
		identity = id.Name
	}
	return newResult(FormatOpenPGP, fmt.Sprintf("%X", signer.PrimaryKey.Fingerprint), identity), nil
}

// parseOpenPGPSignature unarmors a detached signature and returns its
// binary body and its one signature packet.
func parseOpenPGPSignature(armored string) ([]byte, *packet.Signature, error) {
	block, err := armor.Decode(strings.NewReader(armored))
	if err != nil {
		return nil, nil, fmt.Errorf("decode armor: %w", err)
	}
	if block.Type != openpgp.SignatureType {
		return nil, nil, fmt.Errorf("armor type %q, want %q", block.Type, openpgp.SignatureType)
	}
	body, err := io.ReadAll(block.Body)
	if err != nil {
		return nil, nil, fmt.Errorf("decode armor: %w", err)
	}
	var sig *packet.Signature
	packets := packet.NewReader(bytes.NewReader(body))
	for {
		p, err := packets.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("read packet: %w", err)
		}
		s, ok := p.(*packet.Signature)
		if !ok {
			return nil, nil, fmt.Errorf("unexpected %T packet", p)
		}
		if sig != nil {
			return nil, nil, errors.New("more than one signature packet")
		}
		sig = s
	}
	if sig == nil {
		return nil, nil, errors.New("no signature packet")
	}
	if sig.IssuerKeyId == nil {
		return nil, nil, errors.New("signature names no issuer key")
	}
	return body, sig, nil
}

// issuerOf names the key that claims to have made sig: its full fingerprint
// when the signature carries one (gpg 2.1 and later always add it), else
// its 64-bit key ID.
func issuerOf(sig *packet.Signature) string {
	if len(sig.IssuerFingerprint) > 0 {
		return fmt.Sprintf("%X", sig.IssuerFingerprint)
	}
	return fmt.Sprintf("%016X", *sig.IssuerKeyId)
}
