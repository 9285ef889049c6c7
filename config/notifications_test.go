package config

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const notifySrc = "sources:\n  - name: prod\n    repo: r\n"

func TestNotifications(t *testing.T) {
	c, err := Parse([]byte(`notifications:
  unreachable_after: 10m
  targets:
    - url_file: /etc/moor/slack-url
      events: [failed, unreachable]
      sources: [prod]
    - url_env: MOOR_MAIL_URL
    - webhook: {url: "https://hooks.example.com/moor", secret_file: /etc/moor/s}
    - webhook: {url_env: HOOK_URL, secret_env: HOOK_SECRET}
`+notifySrc), "moor.yaml", Defaults{})
	if err != nil {
		t.Fatal(err)
	}
	want := Notifications{UnreachableAfter: 10 * time.Minute, Targets: []NotifyTarget{
		{URLFile: "/etc/moor/slack-url", Events: []string{"failed", "unreachable"}, Sources: []string{"prod"}},
		{URLEnv: "MOOR_MAIL_URL"},
		{Webhook: &NotifyWebhook{URL: "https://hooks.example.com/moor", SecretFile: "/etc/moor/s"}},
		{Webhook: &NotifyWebhook{URLEnv: "HOOK_URL", SecretEnv: "HOOK_SECRET"}},
	}}
	if d := cmp.Diff(want, c.Notifications); d != "" {
		t.Errorf("notifications (-want +got):\n%s", d)
	}
	c, err = Parse([]byte("notifications:\n  targets: [{url_env: U}]\n"+notifySrc), "moor.yaml", Defaults{})
	if err != nil || c.Notifications.UnreachableAfter != DefaultUnreachableAfter {
		t.Errorf("the default threshold: %+v, %v", c.Notifications, err)
	}
	c, err = Parse([]byte(notifySrc), "moor.yaml", Defaults{})
	if err != nil || c.Notifications.UnreachableAfter != 0 || len(c.Notifications.Targets) != 0 {
		t.Errorf("no notifications: %+v, %v", c.Notifications, err)
	}
}

func TestNotificationErrors(t *testing.T) {
	for _, tt := range []struct{ name, in, want string }{
		{"an inline service URL", "notifications:\n  targets:\n    - url: slack://tok-inline@chan\n",
			`moor.yaml:3: notifications.targets[0].url: secrets are not written in the config file: use url_file or url_env`},
		{"an inline webhook secret", "notifications:\n  targets:\n    - webhook:\n        url: https://h.example.com/\n        secret: s3cret-inline\n",
			`moor.yaml:5: notifications.targets[0].webhook.secret: secrets are not written in the config file: use secret_file or secret_env`},
		{"a token in the webhook's query", "notifications:\n  targets:\n    - webhook: {url: \"https://h.example.com/x?token=tok-inline\"}\n",
			`moor.yaml:3: notifications.targets[0].webhook.url: https://h.example.com/x?***: a URL with a user part or a query may hold a token: put it in url_file or url_env`},
		{"two kinds of target", "notifications:\n  targets:\n    - url_file: /f\n      url_env: X\n",
			`moor.yaml:3: notifications.targets[0]: want exactly one of url_file, url_env and webhook`},
		{"no target", "notifications:\n  targets:\n    - events: [failed]\n",
			`moor.yaml:3: notifications.targets[0]: want exactly one of url_file, url_env and webhook`},
		{"an unknown event", "notifications:\n  targets:\n    - url_file: /f\n      events: [failed, deployed]\n",
			`moor.yaml:4: notifications.targets[0].events[1]: "deployed" is not an event: want one of applied, failed`},
		{"an unknown source", "notifications:\n  targets:\n    - url_file: /f\n      sources: [staging]\n",
			`moor.yaml:4: notifications.targets[0].sources[0]: no source is named "staging"`},
		{"an unknown key", "notifications:\n  targets:\n    - url_fille: /f\n",
			`moor.yaml:3: unknown key "url_fille" in notifications.targets[0] (did you mean "url_file"?)`},
		{"a bad threshold", "notifications:\n  unreachable_after: soon\n",
			`moor.yaml:2: notifications.unreachable_after: invalid duration "soon"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.in+notifySrc), "moor.yaml", Defaults{})
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("error:\n%v\nwant it to start:\n%s", err, tt.want)
			}
			if strings.Contains(err.Error(), "inline") {
				t.Errorf("the error shows the secret:\n%v", err)
			}
		})
	}
}
