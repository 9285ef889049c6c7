package notify

import (
	"fmt"
	"os"
	"strings"

	"github.com/moor-dev/moor/config"
)

// Targets builds the senders of cfg's targets, reading their URLs and
// secrets from the files and environment variables the config names. Its
// errors name the target and the file or variable, never a URL.
func Targets(cfg config.Notifications) ([]Target, error) {
	var out []Target
	for i, t := range cfg.Targets {
		name := fmt.Sprintf("notifications.targets[%d]", i)
		var s Sender
		if w := t.Webhook; w != nil {
			u := w.URL
			if u == "" {
				var err error
				if u, err = secret(w.URLFile, w.URLEnv); err != nil {
					return nil, fmt.Errorf("%s.webhook: url: %w", name, err)
				}
			}
			var key []byte
			if w.SecretFile != "" || w.SecretEnv != "" {
				k, err := secret(w.SecretFile, w.SecretEnv)
				if err != nil {
					return nil, fmt.Errorf("%s.webhook: secret: %w", name, err)
				}
				key = []byte(k)
			}
			s = &Webhook{URL: u, Secret: key}
		} else {
			u, err := secret(t.URLFile, t.URLEnv)
			if err != nil {
				return nil, fmt.Errorf("%s: url: %w", name, err)
			}
			if s, err = NewShoutrrr(u); err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
		}
		out = append(out, Target{Name: name, Sender: s, Events: t.Events, Sources: t.Sources})
	}
	return out, nil
}

// secret reads a value from file, or else from the environment variable
// env, without its surrounding white space; an empty one is an error.
func secret(file, env string) (string, error) {
	var v string
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", err
		}
		v = strings.TrimSpace(string(b))
		if v == "" {
			return "", fmt.Errorf("%s is empty", file)
		}
		return v, nil
	}
	v = strings.TrimSpace(os.Getenv(env))
	if v == "" {
		return "", fmt.Errorf("environment variable %s is empty or not set", env)
	}
	return v, nil
}
