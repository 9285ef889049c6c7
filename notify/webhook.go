package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
)

// PayloadVersion is the version field of a webhook's body; it changes
// only when a field changes meaning or goes away.
const PayloadVersion = 1

// Webhook headers.
const (
	// SignatureHeader carries "sha256=" and the hex HMAC-SHA256 of the
	// body under the target's secret.
	SignatureHeader = "X-Moor-Signature"
	// EventHeader names the event's kind.
	EventHeader = "X-Moor-Event"
)

// Payload is the JSON body a webhook target is posted.
type Payload struct {
	Version int `json:"version"`
	Event
	// Title and Text are the event as a chat message would show it.
	Title string `json:"title"`
	Text  string `json:"text"`
}

// Webhook posts events as JSON to a URL, signed when it has a secret.
type Webhook struct {
	URL    string
	Secret []byte
	Client *http.Client
}

// Sign is the SignatureHeader value of body under secret.
func Sign(secret, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Send posts e; any answer but 2xx is an error.
func (w *Webhook) Send(ctx context.Context, e Event) error {
	body, err := json.Marshal(Payload{Version: PayloadVersion, Event: e, Title: e.Title(), Text: e.Text()})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("webhook request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "moor")
	req.Header.Set(EventHeader, string(e.Kind))
	if len(w.Secret) > 0 {
		req.Header.Set(SignatureHeader, Sign(w.Secret, body))
	}
	client := w.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		// The URL may hold a token: say what failed, not where.
		if ue, ok := err.(interface{ Unwrap() error }); ok && ue.Unwrap() != nil {
			err = ue.Unwrap()
		}
		return fmt.Errorf("webhook post: %w", err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("webhook answered %s", resp.Status)
	}
	return nil
}
