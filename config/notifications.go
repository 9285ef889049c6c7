package config

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/moor-dev/moor/repourl"
)

// DefaultUnreachableAfter is how long a source's repository must stay
// unreachable before a notification says so: a forge's short outage or a
// restart is not worth a message.
const DefaultUnreachableAfter = 5 * time.Minute

// NotifyEvents are the events a notification target may ask for (the
// kinds of notify.Event; "unreachable" brings its end, "reachable", too).
var NotifyEvents = []string{"applied", "failed", "degraded", "recovered", "refused", "unreachable", "reachable", "drift"}

// Notifications is the notifications: block: where to tell people of a
// source's changes. Targets hold no secret: their URLs and webhook secrets
// are read from files or the environment when moor run starts.
type Notifications struct {
	// UnreachableAfter is how long a repository stays unreachable before
	// it is reported; DefaultUnreachableAfter when the file sets none and
	// has targets.
	UnreachableAfter time.Duration
	Targets          []NotifyTarget
}

// NotifyTarget is one target: a shoutrrr service URL (URLFile or URLEnv)
// or a JSON webhook, and the events and sources it is told of.
type NotifyTarget struct {
	URLFile string // a file holding a shoutrrr URL (slack://…, smtp://…)
	URLEnv  string // an environment variable holding one
	Webhook *NotifyWebhook
	// Events and Sources filter; empty: every event, every source.
	Events  []string
	Sources []string
}

// NotifyWebhook is a target's webhook: block: a JSON POST signed with
// HMAC-SHA256 when it has a secret.
type NotifyWebhook struct {
	URL        string // with no credentials: no user part, no query
	URLFile    string // a file holding the URL, for one that holds a token
	URLEnv     string
	SecretFile string // a file holding the signing secret
	SecretEnv  string
}

func notificationFields(nt *Notifications) []field {
	return []field{
		{"unreachable_after", func(d *decoder, n *yaml.Node, at string) { nt.UnreachableAfter = d.duration(n, at) }},
		{"targets", func(d *decoder, n *yaml.Node, at string) {
			for i, item := range d.sequence(n, at) {
				var t NotifyTarget
				d.mapping(item, fmt.Sprintf("%s[%d]", at, i), targetFields(&t))
				nt.Targets = append(nt.Targets, t)
			}
		}},
	}
}

func targetFields(t *NotifyTarget) []field {
	list := func(to *[]string) func(d *decoder, n *yaml.Node, at string) {
		return func(d *decoder, n *yaml.Node, at string) {
			for i, item := range d.sequence(n, at) {
				*to = append(*to, d.str(item, fmt.Sprintf("%s[%d]", at, i)))
			}
		}
	}
	return []field{
		{"url_file", func(d *decoder, n *yaml.Node, at string) { t.URLFile = d.str(n, at) }},
		{"url_env", func(d *decoder, n *yaml.Node, at string) { t.URLEnv = d.str(n, at) }},
		{"events", list(&t.Events)},
		{"sources", list(&t.Sources)},
		{"webhook", func(d *decoder, n *yaml.Node, at string) {
			w := &NotifyWebhook{}
			t.Webhook = w
			d.mapping(n, at, []field{
				{"url", func(d *decoder, n *yaml.Node, at string) { w.URL = d.str(n, at) }},
				{"url_file", func(d *decoder, n *yaml.Node, at string) { w.URLFile = d.str(n, at) }},
				{"url_env", func(d *decoder, n *yaml.Node, at string) { w.URLEnv = d.str(n, at) }},
				{"secret_file", func(d *decoder, n *yaml.Node, at string) { w.SecretFile = d.str(n, at) }},
				{"secret_env", func(d *decoder, n *yaml.Node, at string) { w.SecretEnv = d.str(n, at) }},
				{"secret", inlineSecret("secret_file or secret_env")},
			})
		}},
		// A service URL holds the service's token or password.
		{"url", inlineSecret("url_file or url_env (a notification URL holds the service's credentials)")},
	}
}

func (nt *Notifications) validate(v *validator, sources []Source) {
	switch {
	case nt.UnreachableAfter == 0 && len(nt.Targets) > 0: // without targets it means nothing
		nt.UnreachableAfter = DefaultUnreachableAfter
	case nt.UnreachableAfter < 0:
		v.add("notifications.unreachable_after", fmt.Sprintf("%v is not positive", nt.UnreachableAfter))
	}
	for i := range nt.Targets {
		nt.Targets[i].validate(v, fmt.Sprintf("notifications.targets[%d]", i), sources)
	}
}

func (t *NotifyTarget) validate(v *validator, at string, sources []Source) {
	set := 0
	for _, s := range []bool{t.URLFile != "", t.URLEnv != "", t.Webhook != nil} {
		if s {
			set++
		}
	}
	if set != 1 {
		v.add(at, "want exactly one of url_file, url_env and webhook")
	}
	for i, e := range t.Events {
		if !slices.Contains(NotifyEvents, e) {
			v.add(fmt.Sprintf("%s.events[%d]", at, i), fmt.Sprintf("%q is not an event: want one of %s", e, strings.Join(NotifyEvents, ", ")))
		}
	}
	for i, name := range t.Sources {
		if !slices.ContainsFunc(sources, func(s Source) bool { return s.Name == name }) {
			v.add(fmt.Sprintf("%s.sources[%d]", at, i), fmt.Sprintf("no source is named %q", name))
		}
	}
	w := t.Webhook
	if w == nil {
		return
	}
	at += ".webhook"
	n := 0
	for _, s := range []string{w.URL, w.URLFile, w.URLEnv} {
		if s != "" {
			n++
		}
	}
	if n != 1 {
		v.add(at, "want exactly one of url, url_file and url_env")
	}
	if w.URL != "" {
		u, err := url.Parse(w.URL)
		switch {
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
			v.add(at+".url", fmt.Sprintf("%q is not an http:// or https:// URL", repourl.Redact(w.URL)))
		case u.User != nil || u.RawQuery != "" || u.Fragment != "":
			// Redacted: the URL holds the secret.
			v.add(at+".url", repourl.Redact(w.URL)+": a URL with a user part or a query may hold a token: put it in url_file or url_env")
		}
	}
	if w.SecretFile != "" && w.SecretEnv != "" {
		v.add(at+".secret_env", "secret_file and secret_env exclude each other")
	}
}
