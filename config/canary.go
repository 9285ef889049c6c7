package config

import (
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Canary is a source's canary: block: where this host asks the canary
// hosts of a fleet (a stack's x-moor.canary) how a change went. A host
// that is not a canary of a stack applies a change of it only once every
// canary host's moor reports the stack healthy at that commit or at a
// descendant of it (docs/canary.md).
//
//	canary:
//	  peers:                            # each canary host's moor (its listen address), by host name
//	    edge-1: http://10.0.0.5:9100
//	  token_file: /etc/moor/peer-token  # their API token: reads on a non-loopback address need it
//	  source: ""                        # the peers' source of these stacks; default: this source's name
//	  forge: false                      # true: read a canary peers lacks from its commit statuses
type Canary struct {
	// Peers are the base URLs of the canary hosts' moor, by host name.
	Peers map[string]string
	// TokenFile holds the bearer token the peers' API asks for; empty:
	// none is sent (enough for a peer listening on a loopback address).
	TokenFile string
	// Source is the name of the source that holds the same stacks on the
	// peers; Validate sets it to the source's own name when empty.
	Source string
	// Forge: a canary host that Peers does not name is read from the
	// commit statuses it posts to the forge of the source's commit_status
	// (context moor/HOST).
	Forge bool
}

func canaryFields(c *Canary) []field {
	return []field{
		{"peers", func(d *decoder, n *yaml.Node, at string) { c.Peers = d.stringMap(n, at) }},
		{"token_file", func(d *decoder, n *yaml.Node, at string) { c.TokenFile = d.str(n, at) }},
		{"source", func(d *decoder, n *yaml.Node, at string) { c.Source = d.str(n, at) }},
		{"forge", func(d *decoder, n *yaml.Node, at string) { c.Forge = d.bool(n, at) }},
		{"token", inlineSecret("token_file")},
	}
}

// validate checks each peer's name and URL, and defaults the peers'
// source to this one's name.
func (c *Canary) validate(v *validator, at, source string, cs CommitStatus) {
	if len(c.Peers) == 0 && c.TokenFile == "" && c.Source == "" && !c.Forge {
		return
	}
	if c.Forge && cs.Provider == "" {
		v.add(at+".forge", "needs the source's commit_status: the forge and token to read the canaries' statuses with")
	}
	if c.Source == "" {
		c.Source = source
	} else if !nameRE.MatchString(c.Source) {
		v.add(at+".source", fmt.Sprintf("%q is not a source name: want lower case letters, digits, '_', '.' and '-', starting with a letter or digit", c.Source))
	}
	if len(c.Peers) == 0 && !c.Forge {
		v.add(at+".peers", "missing: the canary hosts' moor addresses, by host name (edge-1: http://10.0.0.5:9100), or forge: true")
	}
	for _, name := range slices.Sorted(maps.Keys(c.Peers)) {
		pat := at + ".peers." + name
		if err := CheckHostName(name); err != nil {
			v.add(pat, err.Error())
			continue
		}
		if err := checkPeerURL(c.Peers[name]); err != nil {
			v.add(pat, err.Error())
			continue
		}
		c.Peers[name] = strings.TrimSuffix(c.Peers[name], "/")
	}
}

// checkPeerURL says why raw cannot be a peer's address, or nil: an http or
// https URL of a host, with no credentials, query or fragment.
func checkPeerURL(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case raw == "":
		return fmt.Errorf("missing: the peer's moor address, e.g. http://10.0.0.5:9100")
	case err != nil || u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("%q: want an http:// or https:// URL of the peer's listen address", raw)
	case u.Host == "":
		return fmt.Errorf("%q: names no host", raw)
	case u.User != nil:
		return fmt.Errorf("%q: credentials are not written in a URL: put the token in token_file", u.Redacted())
	case u.RawQuery != "" || u.Fragment != "":
		return fmt.Errorf("%q: want no query or fragment", raw)
	}
	return nil
}
