package secrets

import (
	"fmt"
	"regexp"

	"gopkg.in/yaml.v3"
)

// Rules are the creation rules of a repository's .sops.yaml that say
// which files are encrypted: a file matching a rule's path_regex must be.
type Rules struct {
	marks []*regexp.Regexp
}

// ParseRules reads a .sops.yaml. Rules without path_regex (a catch-all
// choosing keys) mark nothing.
func ParseRules(data []byte) (*Rules, error) {
	var conf struct {
		CreationRules []struct {
			PathRegex string `yaml:"path_regex"`
		} `yaml:"creation_rules"`
	}
	if err := yaml.Unmarshal(data, &conf); err != nil {
		return nil, fmt.Errorf("not sops's configuration: %w", err)
	}
	r := &Rules{}
	for i, c := range conf.CreationRules {
		if c.PathRegex == "" {
			continue
		}
		re, err := regexp.Compile(c.PathRegex)
		if err != nil {
			return nil, fmt.Errorf("creation_rules[%d].path_regex: %w", i, err)
		}
		r.marks = append(r.marks, re)
	}
	return r, nil
}

// Marked returns the path_regex that says the file at rel (slash-separated,
// relative to the directory of .sops.yaml) is encrypted.
func (r *Rules) Marked(rel string) (string, bool) {
	if r == nil {
		return "", false
	}
	for _, re := range r.marks {
		if re.MatchString(rel) {
			return re.String(), true
		}
	}
	return "", false
}

// Blank returns a dotenv file that sops encrypted with its encrypted
// values empty, for checking a stack without its key.
func Blank(data []byte) ([]byte, error) {
	doc, err := parse(data, Dotenv)
	if err != nil {
		return nil, err
	}
	return doc.decrypt(&opener{blank: true, meta: doc.meta})
}
