package secrets

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// encValue is one value as SOPS writes it.
var encValue = regexp.MustCompile(`^ENC\[AES256_GCM,data:(.*),iv:(.+),tag:(.+),type:(.+)\]$`)

func isEnc(s string) bool {
	return strings.HasPrefix(s, "ENC[AES256_GCM,") && strings.HasSuffix(s, "]")
}

// plain is a decrypted value: its text and its sops type (str, int, float,
// bool, bytes, time, comment).
type plain struct {
	text string
	typ  string
}

// open decrypts one value with the data key and its path's additional data.
func open(key []byte, s, aad string) (plain, error) {
	m := encValue.FindStringSubmatch(s)
	if m == nil {
		return plain{}, errors.New("not a value sops encrypted")
	}
	data, err1 := base64.StdEncoding.DecodeString(m[1])
	iv, err2 := base64.StdEncoding.DecodeString(m[2])
	tag, err3 := base64.StdEncoding.DecodeString(m[3])
	if err := errors.Join(err1, err2, err3); err != nil || len(iv) == 0 {
		return plain{}, errors.New("its encoding is damaged")
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return plain{}, err
	}
	gcm, err := cipher.NewGCMWithNonceSize(block, len(iv))
	if err != nil {
		return plain{}, err
	}
	out, err := gcm.Open(nil, iv, append(data, tag...), []byte(aad))
	if err != nil {
		return plain{}, errors.New("it does not decrypt: changed, moved, or encrypted with another data key")
	}
	return plain{text: string(out), typ: m[4]}, nil
}

// macBytes is what sops hashes for a value of the given type: its text
// parsed and printed again as sops prints it.
func macBytes(p plain) ([]byte, error) {
	switch p.typ {
	case "str", "bytes":
		return []byte(p.text), nil
	case "int":
		n, err := strconv.Atoi(p.text)
		if err != nil {
			return nil, err
		}
		return []byte(strconv.Itoa(n)), nil
	case "float":
		f, err := strconv.ParseFloat(p.text, 64)
		if err != nil {
			return nil, err
		}
		return []byte(strconv.FormatFloat(f, 'f', -1, 64)), nil
	case "bool":
		b, err := strconv.ParseBool(p.text)
		if err != nil {
			return nil, err
		}
		if b {
			return []byte("True"), nil
		}
		return []byte("False"), nil
	case "time":
		var t time.Time
		if err := t.UnmarshalText([]byte(p.text)); err != nil {
			return nil, err
		}
		return t.MarshalText()
	}
	return nil, fmt.Errorf("unknown type %q", p.typ)
}

// macOnlyEncryptedInit starts the hash of a file with mac_only_encrypted,
// so that its MAC differs from the same file's without it (sops's
// constant).
var macOnlyEncryptedInit = []byte{0x8a, 0x3f, 0xd2, 0xad, 0x54, 0xce, 0x66, 0x52, 0x7b, 0x10, 0x34, 0xf3, 0xd1, 0x47, 0xbe, 0xb, 0xb, 0x97, 0x5b, 0x3b, 0xf4, 0x4f, 0x72, 0xc6, 0xfd, 0xad, 0xec, 0x81, 0x76, 0xf2, 0x7d, 0x69}

// opener decrypts the values of one file in order and hashes them for the
// MAC.
type opener struct {
	key  []byte
	meta *metadata
	mac  hash.Hash
	// blank gives every encrypted value as empty, without a key.
	blank bool
}

func newOpener(key []byte, m *metadata) *opener {
	o := &opener{key: key, meta: m, mac: sha512.New()}
	if m.MACOnlyEncrypted {
		o.mac.Write(macOnlyEncryptedInit)
	}
	return o
}

// value decrypts s at path when it is encrypted and hashes the result; a
// value left in the clear (unencrypted_suffix and the like) is hashed
// unless the file hashes encrypted values only. clear gives a clear
// value's bytes as sops hashes them.
func (o *opener) value(s string, path []string, clear func() ([]byte, bool)) (plain, error) {
	if o.blank {
		if isEnc(s) {
			s = ""
		}
		return plain{text: s, typ: "str"}, nil
	}
	if !isEnc(s) {
		if !o.meta.MACOnlyEncrypted {
			if b, ok := clear(); ok {
				o.mac.Write(b)
			}
		}
		return plain{text: s, typ: "str"}, nil
	}
	p, err := open(o.key, s, aad(path))
	if err != nil {
		return plain{}, fmt.Errorf("value %s: %w", pathName(path), err)
	}
	if p.typ != "comment" {
		b, err := macBytes(p)
		if err != nil {
			return plain{}, fmt.Errorf("value %s: a %s that does not parse", pathName(path), p.typ)
		}
		o.mac.Write(b)
	}
	return p, nil
}

// comment decrypts an encrypted comment; one that does not decrypt is kept
// as written, as sops keeps it.
func (o *opener) comment(s string, path []string) string {
	if !isEnc(s) || o.blank {
		return s
	}
	p, err := open(o.key, s, aad(path))
	if err != nil {
		return s
	}
	return p.text
}

// verify compares the file's MAC with the hash of its values.
func (o *opener) verify() error {
	ad, err := o.meta.macAAD()
	if err != nil {
		return err
	}
	p, err := open(o.key, o.meta.MAC, ad)
	if err != nil {
		return fmt.Errorf("its MAC %w", err)
	}
	if !strings.EqualFold(p.text, fmt.Sprintf("%X", o.mac.Sum(nil))) {
		return errors.New("its MAC does not match its values: the file was changed without its key")
	}
	return nil
}

func aad(path []string) string { return strings.Join(path, ":") + ":" }

func pathName(path []string) string {
	if len(path) == 0 {
		return "at the top"
	}
	return strconv.Quote(strings.Join(path, "."))
}
