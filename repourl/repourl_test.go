package repourl_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/moor-dev/moor/repourl"
)

func TestCheckAndRedact(t *testing.T) {
	const secret = "s3cr3t"
	for _, tt := range []struct {
		url      string
		refused  string // in the error; "" for accepted
		redacted string // "" for unchanged
	}{
		// Accepted, shown as written.
		{url: "/srv/git/deploy.git"},
		{url: "./deploy"},
		{url: "/srv/odd@name?x#y"},
		{url: "deploy"},
		{url: "file:///srv/git/deploy.git"},
		{url: "https://git.example.com/ops/deploy.git"},
		{url: "http://127.0.0.1:8080/deploy.git"},
		{url: "git://git.example.com/deploy.git"},
		{url: "ssh://git@git.example.com:2222/ops/deploy.git"},
		{url: "ssh://git.example.com/ops/deploy.git"},
		{url: "git+ssh://first.last@[::1]:22/deploy.git"},
		{url: "git@github.com:ops/deploy.git"},
		{url: "github.com:ops/deploy.git"},

		// Refused, and hidden.
		{"https://" + secret + "@git.example.com/ops/deploy.git", "user part", "https://***@git.example.com/ops/deploy.git"},
		{"https://deploy:" + secret + "@git.example.com/ops/deploy.git", "password", "https://***@git.example.com/ops/deploy.git"},
		{"HTTPS://" + secret + "@git.example.com/d.git", "user part", "HTTPS://***@git.example.com/d.git"},
		{"http://oauth2:" + secret + "@10.0.0.1:8080/d.git", "password", "http://***@10.0.0.1:8080/d.git"},
		{"https://" + secret + ":x-oauth-basic@github.com/o/r.git", "password", "https://***@github.com/o/r.git"},
		{"https://" + secret + "@host", "user part", "https://***@host"},
		{"https://a@b@" + secret + "@host/r.git", "user part", "https://***@host/r.git"},
		{"file://" + secret + "@localhost/srv/d.git", "user part", "file://***@localhost/srv/d.git"},
		{"ssh://git:" + secret + "@git.example.com/d.git", "password", "ssh://***@git.example.com/d.git"},
		{"git:" + secret + "@git.example.com:d.git", "password", "***@git.example.com:d.git"},
		{"ssh://" + secret + "%40x@host/d.git", "not a plain user name", "ssh://***@host/d.git"},
		{"https://git.example.com/d.git?private_token=" + secret, "query", "https://git.example.com/d.git?***"},
		{"https://git.example.com/d.git?" + secret, "query", "https://git.example.com/d.git?***"},
		{"https://git.example.com/d.git#" + secret, "query or fragment", "https://git.example.com/d.git#***"},
		{"https://git.example.com?access_token=" + secret, "query", "https://git.example.com?***"},
		{"ssh://git@host/d.git?" + secret, "query", "ssh://git@host/d.git?***"},
		{"https://" + secret + "@host/d.git?t=" + secret, "user part", "https://***@host/d.git?***"},
	} {
		t.Run(tt.url, func(t *testing.T) {
			err := repourl.Check(tt.url)
			switch {
			case tt.refused == "" && err != nil:
				t.Errorf("Check = %v, want nil", err)
			case tt.refused != "" && (!errors.Is(err, repourl.ErrCredentials) || !strings.Contains(err.Error(), tt.refused)):
				t.Errorf("Check = %v, want ErrCredentials saying %q", err, tt.refused)
			case err != nil && (strings.Contains(err.Error(), secret) || !strings.Contains(err.Error(), "password_file")):
				t.Errorf("Check = %v: holds the secret, or does not say where credentials go", err)
			}
			want := tt.redacted
			if want == "" {
				want = tt.url
			}
			got := repourl.Redact(tt.url)
			if got != want {
				t.Errorf("Redact = %q, want %q", got, want)
			}
			if repourl.Check(got) != nil && tt.refused == "" {
				t.Errorf("Redact of an accepted URL is refused: %q", got)
			}
		})
	}
}

func TestRedactText(t *testing.T) {
	for in, want := range map[string]string{
		"":        "",
		"no urls": "no urls",
		`list refs of https://tok@h/d.git: repository unreachable: Get "https://u:tok@h/d.git/info/refs?service=git-upload-pack": dial tcp`: `list refs of https://***@h/d.git: repository unreachable: Get "https://***@h/d.git/info/refs?service=git-upload-pack": dial tcp`,
		`Get "https://h/d.git/info/refs?service=git-upload-pack&t=tok"`:                                                                     `Get "https://h/d.git/info/refs?***"`,
		"two: ssh://git@h/a.git and (http://x:y@h/b.git)":                                                                                   "two: ssh://git@h/a.git and (http://***@h/b.git)",
		"://tok@h odd": "://tok@h odd",
		"file:///srv/d.git\nhttps://h/d.git?t=tok": "file:///srv/d.git\nhttps://h/d.git?***",
	} {
		if got := repourl.RedactText(in); got != want {
			t.Errorf("RedactText(%q)\n got %q\nwant %q", in, got, want)
		}
	}
}
