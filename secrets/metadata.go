package secrets

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
)

// metadata is what a file's "sops" entry says, as far as moor uses it.
type metadata struct {
	Age []ageStanza
	PGP []pgpStanza
	// Groups is the number of key groups; more than one splits the data
	// key with Shamir's scheme.
	Groups int
	// Services are key services other than age and PGP the file names
	// (kms, gcp_kms, azure_kv, hc_vault, hckms).
	Services         []string
	LastModified     string
	MAC              string
	MACOnlyEncrypted bool
	Version          string
}

type ageStanza struct{ Recipient, Enc string }
type pgpStanza struct{ Fingerprint, Enc string }

var keyServices = []string{"kms", "gcp_kms", "azure_kv", "hc_vault", "hckms"}

// parseMetadata reads the "sops" entry, as a generic tree (maps of strings,
// lists, scalars).
func parseMetadata(v any) (*metadata, error) {
	top, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New(`its "sops" entry is not a mapping`)
	}
	m := &metadata{
		LastModified: str(top["lastmodified"]),
		MAC:          str(top["mac"]),
		Version:      str(top["version"]),
	}
	m.MACOnlyEncrypted, _ = strconv.ParseBool(str(top["mac_only_encrypted"]))
	m.addKeys(top)
	if groups, ok := top["key_groups"].([]any); ok {
		m.Groups = len(groups)
		if len(groups) == 1 {
			if g, ok := groups[0].(map[string]any); ok {
				m.addKeys(g)
			}
		}
	}
	if m.MAC == "" {
		return nil, errors.New(`its "sops" entry has no mac`)
	}
	if m.LastModified == "" {
		return nil, errors.New(`its "sops" entry has no lastmodified`)
	}
	return m, nil
}

func (m *metadata) addKeys(v map[string]any) {
	for _, a := range list(v["age"]) {
		m.Age = append(m.Age, ageStanza{Recipient: str(a["recipient"]), Enc: str(a["enc"])})
	}
	for _, p := range list(v["pgp"]) {
		m.PGP = append(m.PGP, pgpStanza{Fingerprint: str(p["fp"]), Enc: str(p["enc"])})
	}
	for _, s := range keyServices {
		if len(list(v[s])) > 0 && !slices.Contains(m.Services, s) {
			m.Services = append(m.Services, s)
		}
	}
}

// usable says why moor cannot open a file whatever its keys.
func (m *metadata) usable() error {
	if m.Groups > 1 {
		return fmt.Errorf("its data key is split into %d key groups (Shamir's scheme), which moor does not read: encrypt it for age or PGP keys in one group", m.Groups)
	}
	if len(m.Age) == 0 && len(m.PGP) == 0 {
		if len(m.Services) > 0 {
			return fmt.Errorf("it is encrypted only for %s, which moor does not use: add an age or PGP recipient (sops updatekeys)", strings.Join(m.Services, ", "))
		}
		return errors.New("it names no age or PGP recipient")
	}
	return nil
}

func (m *metadata) recipients() string {
	var rs []string
	for _, a := range m.Age {
		rs = append(rs, "age "+a.Recipient)
	}
	for _, p := range m.PGP {
		rs = append(rs, "pgp "+p.Fingerprint)
	}
	return strings.Join(rs, ", ")
}

// macAAD is the additional data the MAC is encrypted with: the time of the
// last change as RFC 3339, as sops formats it after parsing it.
func (m *metadata) macAAD() (string, error) {
	t, err := time.Parse(time.RFC3339, m.LastModified)
	if err != nil {
		return "", fmt.Errorf(`its "sops" entry has a lastmodified that is not a time: %w`, err)
	}
	return t.Format(time.RFC3339), nil
}

func str(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case bool:
		return strconv.FormatBool(v)
	case int:
		return strconv.Itoa(v)
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}

func list(v any) []map[string]any {
	items, _ := v.([]any)
	var out []map[string]any
	for _, it := range items {
		if m, ok := it.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

// unflatten turns dotenv's flattened metadata (age__list_0__map_enc) into
// the generic tree.
func unflatten(flat map[string]string) (map[string]any, error) {
	root := map[string]any{}
	for key, value := range flat {
		parts := strings.Split(key, "__")
		var cur any = root
		set := func(v any) {}
		for i, p := range parts {
			last := i == len(parts)-1
			var name string
			var idx = -1
			switch {
			case i == 0:
				name = p
			case strings.HasPrefix(p, "map_"):
				name = strings.TrimPrefix(p, "map_")
			case strings.HasPrefix(p, "list_"):
				n, err := strconv.Atoi(strings.TrimPrefix(p, "list_"))
				if err != nil || n < 0 || n > 1000 {
					return nil, fmt.Errorf("metadata key sops_%s is not sops's", key)
				}
				idx = n
			default:
				return nil, fmt.Errorf("metadata key sops_%s is not sops's", key)
			}
			next := func() any {
				if last {
					return value
				}
				if strings.HasPrefix(parts[i+1], "list_") {
					return []any{}
				}
				return map[string]any{}
			}
			switch c := cur.(type) {
			case map[string]any:
				if idx >= 0 {
					return nil, fmt.Errorf("metadata key sops_%s is not sops's", key)
				}
				if _, ok := c[name]; !ok || last {
					c[name] = next()
				}
				cur = c[name]
				set = func(v any) { c[name] = v }
			case []any:
				if idx < 0 {
					return nil, fmt.Errorf("metadata key sops_%s is not sops's", key)
				}
				for len(c) <= idx {
					c = append(c, nil)
				}
				if c[idx] == nil || last {
					c[idx] = next()
				}
				set(c)
				cur = c[idx]
				set = func(v any) { c[idx] = v }
			default:
				return nil, fmt.Errorf("metadata key sops_%s is not sops's", key)
			}
		}
	}
	return root, nil
}

func armorDecode(s string) (io.Reader, error) {
	block, err := armor.Decode(bytes.NewReader([]byte(s)))
	if err != nil {
		return nil, err
	}
	return block.Body, nil
}
