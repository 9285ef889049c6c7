package secrets

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"filippo.io/age"
	"filippo.io/age/armor"
	"github.com/ProtonMail/go-crypto/openpgp"
)

// Keys are the private keys a source decrypts its files with, read from
// key files (never given inline).
type Keys struct {
	age     []age.Identity
	ageFile string
	pgp     openpgp.EntityList
	pgpFile string
}

// maxKeyFile caps what a key file may hold.
const maxKeyFile = 1 << 20

// LoadKeys reads an age identity file (lines of AGE-SECRET-KEY-1…, comments
// allowed, as age-keygen writes it) and an armored or binary OpenPGP secret
// key export without a passphrase. Either may be empty; both empty gives
// nil, which decrypts nothing.
func LoadKeys(ageKeyFile, pgpKeyFile string) (*Keys, error) {
	if ageKeyFile == "" && pgpKeyFile == "" {
		return nil, nil
	}
	k := &Keys{ageFile: ageKeyFile, pgpFile: pgpKeyFile}
	if ageKeyFile != "" {
		data, err := readKeyFile(ageKeyFile)
		if err != nil {
			return nil, fmt.Errorf("age key file: %w", err)
		}
		if k.age, err = age.ParseIdentities(bytes.NewReader(data)); err != nil {
			return nil, fmt.Errorf("age key file %s: %w", ageKeyFile, err)
		}
	}
	if pgpKeyFile != "" {
		data, err := readKeyFile(pgpKeyFile)
		if err != nil {
			return nil, fmt.Errorf("pgp key file: %w", err)
		}
		if k.pgp, err = readKeyRing(data); err != nil {
			return nil, fmt.Errorf("pgp key file %s: %w", pgpKeyFile, err)
		}
		if err := checkSecretKeys(k.pgp); err != nil {
			return nil, fmt.Errorf("pgp key file %s: %w", pgpKeyFile, err)
		}
	}
	return k, nil
}

func readKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(data) > maxKeyFile {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, maxKeyFile)
	}
	return data, nil
}

func readKeyRing(data []byte) (openpgp.EntityList, error) {
	if bytes.Contains(data, []byte("-----BEGIN PGP")) {
		return openpgp.ReadArmoredKeyRing(bytes.NewReader(data))
	}
	return openpgp.ReadKeyRing(bytes.NewReader(data))
}

// checkSecretKeys insists on secret keys that need no passphrase: moor runs
// unattended.
func checkSecretKeys(el openpgp.EntityList) error {
	found := false
	for _, e := range el {
		keys := []*openpgp.Subkey{}
		for i := range e.Subkeys {
			keys = append(keys, &e.Subkeys[i])
		}
		if e.PrivateKey != nil {
			found = true
			if e.PrivateKey.Encrypted {
				return fmt.Errorf("key %X is protected by a passphrase: export it without one for moor (gpg --export-secret-keys after removing the passphrase in a copy of the keyring)", e.PrimaryKey.Fingerprint)
			}
		}
		for _, sk := range keys {
			if sk.PrivateKey != nil {
				found = true
				if sk.PrivateKey.Encrypted {
					return fmt.Errorf("subkey %X is protected by a passphrase: export it without one for moor", sk.PublicKey.Fingerprint)
				}
			}
		}
	}
	if !found {
		return errors.New("holds no secret key (export it with gpg --export-secret-keys --armor)")
	}
	return nil
}

// dataKey recovers a file's data key with the keys at hand: the first age
// recipient or PGP key they open.
func (k *Keys) dataKey(m *metadata) ([]byte, error) {
	if err := m.usable(); err != nil {
		return nil, err
	}
	var tried []string
	if k != nil {
		for _, a := range m.Age {
			if len(k.age) == 0 {
				break
			}
			r, err := age.Decrypt(armor.NewReader(strings.NewReader(a.Enc)), k.age...)
			if err != nil {
				tried = append(tried, "age "+a.Recipient)
				continue
			}
			key, err := io.ReadAll(io.LimitReader(r, 64))
			if err == nil && len(key) == 32 {
				return key, nil
			}
		}
		for _, p := range m.PGP {
			if len(k.pgp) == 0 {
				break
			}
			if key, err := k.pgpDataKey(p.Enc); err == nil && len(key) == 32 {
				return key, nil
			}
			tried = append(tried, "pgp "+p.Fingerprint)
		}
	}
	if k == nil {
		return nil, fmt.Errorf("it is encrypted for %s, and no sops key file is configured for the source (sops: {age_key_file, pgp_key_file})", m.recipients())
	}
	return nil, fmt.Errorf("no configured key opens it: it is encrypted for %s; %s", m.recipients(), k.describe())
}

func (k *Keys) pgpDataKey(enc string) ([]byte, error) {
	var r io.Reader = strings.NewReader(enc)
	if strings.Contains(enc, "-----BEGIN PGP MESSAGE") {
		block, err := armorDecode(enc)
		if err != nil {
			return nil, err
		}
		r = block
	}
	md, err := openpgp.ReadMessage(r, k.pgp, nil, nil)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(io.LimitReader(md.UnverifiedBody, 64))
}

// describe names the configured key files, for a message.
func (k *Keys) describe() string {
	var have []string
	if k.ageFile != "" {
		var rs []string
		for _, id := range k.age {
			if x, ok := id.(*age.X25519Identity); ok {
				rs = append(rs, x.Recipient().String())
			}
		}
		have = append(have, fmt.Sprintf("age key file %s holds %s", k.ageFile, strings.Join(rs, ", ")))
	}
	if k.pgpFile != "" {
		var fps []string
		for _, e := range k.pgp {
			fps = append(fps, fmt.Sprintf("%X", e.PrimaryKey.Fingerprint))
		}
		have = append(have, fmt.Sprintf("pgp key file %s holds %s", k.pgpFile, strings.Join(fps, ", ")))
	}
	return strings.Join(have, "; ")
}
