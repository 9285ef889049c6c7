package testkit

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/moby/moby/api/types/jsonstream"
)

// readJSONStream consumes a build/push/pull progress stream, copies its text
// to log and returns the first error the stream reports: the engine answers
// 200 and puts failures inside the stream.
func readJSONStream(r io.Reader, log io.Writer) error {
	dec := json.NewDecoder(r)
	for {
		var m struct {
			jsonstream.Message
			ErrorMessage string `json:"error"`
		}
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("decode progress stream: %w", err)
		}
		if m.Stream != "" {
			fmt.Fprint(log, m.Stream)
		}
		if m.Status != "" {
			fmt.Fprintln(log, m.Status)
		}
		if m.Error != nil && m.Error.Message != "" {
			return errors.New(m.Error.Message)
		}
		if m.ErrorMessage != "" {
			return errors.New(m.ErrorMessage)
		}
	}
}
