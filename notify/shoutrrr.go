package notify

import (
	"context"
	"errors"
	"fmt"

	"github.com/nicholas-fedor/shoutrrr/pkg/router"
	"github.com/nicholas-fedor/shoutrrr/pkg/types"
)

// Shoutrrr sends events to a shoutrrr service URL (slack://, discord://,
// teams://, telegram://, ntfy://, gotify://, matrix://, smtp://,
// generic://…): the title as the service's title or the mail's subject,
// the text as the message.
type Shoutrrr struct {
	service types.Service
}

// NewShoutrrr builds a sender for url. Its errors never quote the URL,
// which holds the target's credentials.
func NewShoutrrr(url string) (*Shoutrrr, error) {
	var r router.ServiceRouter
	svc, err := r.Locate(url)
	if err != nil {
		return nil, errors.New("not a notification URL shoutrrr knows (see https://shoutrrr.nickfedor.com/services/overview/)")
	}
	return &Shoutrrr{service: svc}, nil
}

// Send sends e. shoutrrr's services take no context: they have timeouts
// of their own, and the Notifier's goroutine is the one that waits.
func (s *Shoutrrr) Send(_ context.Context, e Event) error {
	params := types.Params{}
	params.SetTitle(e.Title())
	if err := s.service.Send(e.Text(), &params); err != nil {
		return fmt.Errorf("send: %w", err)
	}
	return nil
}
