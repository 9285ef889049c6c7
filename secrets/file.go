package secrets

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// Format is how a SOPS file stores its values.
type Format int

const (
	Binary Format = iota // any name: a JSON document whose "data" is the file
	Dotenv               // .env
	YAML                 // .yaml, .yml
	JSON                 // .json
	INI                  // .ini: not read
)

func (f Format) String() string {
	return [...]string{"binary", "dotenv", "yaml", "json", "ini"}[f]
}

// FormatOf is the format sops gives a file by its name.
func FormatOf(name string) Format {
	base := filepath.Base(name)
	switch strings.ToLower(filepath.Ext(base)) {
	case ".yaml", ".yml":
		return YAML
	case ".json":
		return JSON
	case ".env":
		return Dotenv
	case ".ini":
		return INI
	}
	if base == ".env" {
		return Dotenv
	}
	return Binary
}

// ErrNotEncrypted: the file is not a SOPS file.
var ErrNotEncrypted = errors.New("not encrypted with sops")

// Encrypted says whether data, in format f, is a file sops encrypted. It
// needs no key and reads the file only when it names sops's cipher.
func Encrypted(data []byte, f Format) bool {
	if !bytes.Contains(data, []byte("ENC[AES256_GCM,")) {
		return false
	}
	_, err := parse(data, f)
	return err == nil
}

// Check tells, without a key, whether data is a SOPS file moor can read:
// ErrNotEncrypted for a file in the clear, another error for a damaged or
// unusable one.
func Check(data []byte, f Format) error {
	if !bytes.Contains(data, []byte("ENC[AES256_GCM,")) {
		return ErrNotEncrypted
	}
	doc, err := parse(data, f)
	if err != nil {
		return err
	}
	return doc.meta.usable()
}

// Decrypt returns the file in the clear, as `sops -d` prints it, after
// checking its MAC. The error names what is wrong, never a value.
func Decrypt(data []byte, f Format, keys *Keys) ([]byte, error) {
	if !bytes.Contains(data, []byte("ENC[AES256_GCM,")) {
		return nil, ErrNotEncrypted
	}
	doc, err := parse(data, f)
	if err != nil {
		return nil, err
	}
	key, err := keys.dataKey(doc.meta)
	if err != nil {
		return nil, err
	}
	o := newOpener(key, doc.meta)
	out, err := doc.decrypt(o)
	if err != nil {
		return nil, err
	}
	if err := o.verify(); err != nil {
		return nil, err
	}
	return out, nil
}

// document is a parsed SOPS file of one format.
type document struct {
	meta    *metadata
	decrypt func(*opener) ([]byte, error)
}

func parse(data []byte, f Format) (*document, error) {
	switch f {
	case Dotenv:
		return parseDotenv(data)
	case YAML:
		return parseYAML(data)
	case JSON:
		return parseJSON(data, false)
	case Binary:
		return parseJSON(data, true)
	}
	return nil, fmt.Errorf("sops's %s format is not read by moor: encrypt the file as binary, dotenv, yaml or json", f)
}

// parseDotenv reads KEY=VALUE lines, \n in a value standing for a newline,
// and # comments; sops_* lines are the metadata.
func parseDotenv(data []byte) (*document, error) {
	type line struct {
		comment    bool
		key, value string
	}
	var lines []line
	flat := map[string]string{}
	for i, l := range strings.Split(string(data), "\n") {
		switch {
		case l == "":
			continue
		case l[0] == '#':
			lines = append(lines, line{comment: true, value: l[1:]})
			continue
		}
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			return nil, fmt.Errorf("line %d is not KEY=VALUE", i+1)
		}
		v = strings.ReplaceAll(v, `\n`, "\n")
		if rest, ok := strings.CutPrefix(k, "sops_"); ok {
			flat[rest] = v
			continue
		}
		lines = append(lines, line{key: k, value: v})
	}
	if len(flat) == 0 {
		return nil, ErrNotEncrypted
	}
	tree, err := unflatten(flat)
	if err != nil {
		return nil, err
	}
	meta, err := parseMetadata(tree)
	if err != nil {
		return nil, err
	}
	return &document{meta: meta, decrypt: func(o *opener) ([]byte, error) {
		var b strings.Builder
		for _, l := range lines {
			if l.comment {
				b.WriteString("#" + o.comment(l.value, nil) + "\n")
				continue
			}
			p, err := o.value(l.value, []string{l.key}, func() ([]byte, bool) { return []byte(l.value), true })
			if err != nil {
				return nil, err
			}
			b.WriteString(l.key + "=" + strings.ReplaceAll(p.text, "\n", `\n`) + "\n")
		}
		return []byte(b.String()), nil
	}}, nil
}
