package notify

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/nicholas-fedor/shoutrrr/pkg/router"
	"github.com/nicholas-fedor/shoutrrr/pkg/types"
)

// Shoutrrr sends events to a shoutrrr service URL (slack://, discord://,
// teams://, telegram://, ntfy://, gotify://, matrix://, smtp://,
// generic://…): the title as the service's title or the mail's subject,
// the text as the message.
type Shoutrrr struct {
	service types.Service
	// secrets are the parts of the URL an error must not show.
	secrets []string
}

// NewShoutrrr builds a sender for rawURL. Its errors never quote the URL,
// which holds the target's credentials.
func NewShoutrrr(rawURL string) (*Shoutrrr, error) {
	var r router.ServiceRouter
	svc, err := r.Locate(rawURL)
	if err != nil {
		return nil, errors.New("not a notification URL shoutrrr knows (see https://shoutrrr.nickfedor.com/services/overview/)")
	}
	s := &Shoutrrr{service: svc, secrets: []string{rawURL}}
	if u, err := url.Parse(rawURL); err == nil {
		if u.User != nil {
			s.secrets = append(s.secrets, u.User.String(), u.User.Username())
			if p, ok := u.User.Password(); ok {
				s.secrets = append(s.secrets, p)
			}
		}
		s.secrets = append(s.secrets, u.RawQuery, u.Path)
	}
	return s, nil
}

// Send sends e. shoutrrr's services take no context: when ctx ends first,
// Send returns and leaves the service's call to finish on its own.
func (s *Shoutrrr) Send(ctx context.Context, e Event) error {
	params := types.Params{}
	params.SetTitle(e.Title())
	done := make(chan error, 1)
	go func() { done <- s.service.Send(e.Text(), &params) }()
	select {
	case err := <-done:
		if err != nil {
			return errors.New("send: " + s.redact(err.Error()))
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("send: %w", ctx.Err())
	}
}

// redact takes the URL's credentials out of msg.
func (s *Shoutrrr) redact(msg string) string {
	for _, secret := range s.secrets {
		if len(secret) >= 4 {
			msg = strings.ReplaceAll(msg, secret, "***")
		}
	}
	return msg
}
