package fault_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/moor-dev/moor/fault"
)

func TestOf(t *testing.T) {
	refused := fmt.Errorf("%w: stack web: %w", fault.ErrRefused, errors.New("compose.yaml: line 3: bad indentation"))
	engine := fault.Mark(fault.ErrEngineUnavailable, errors.New("dial unix /var/run/docker.sock: connect: no such file"))
	tests := []struct {
		name string
		err  error
		want fault.Class
	}{
		{"nil", nil, ""},
		{"unclassified is transient", errors.New("disk full"), fault.Transient},
		{"refused", refused, fault.Refused},
		{"refused, wrapped again", fmt.Errorf("source prod: %w", refused), fault.Refused},
		{"engine, marked", fmt.Errorf("observe: %w", engine), fault.EngineUnavailable},
		{"a join is as urgent as its most urgent part", fault.Join(refused, engine), fault.EngineUnavailable},
		{"held and refused wait", fault.Join(fault.Mark(fault.ErrHeld, errors.New("x")), refused), fault.Refused},
		{"held alone is held", fault.Join(fault.Mark(fault.ErrHeld, errors.New("x"))), fault.Held},
		{"an unclassified part makes the whole retried", fault.Join(fault.Mark(fault.ErrHeld, errors.New("x")), errors.New("pull: not found")), fault.Transient},
		{"a join wrapped again", fmt.Errorf("source: %w", fault.Join(refused, errors.New("disk full"))), fault.Transient},
		{"a cancelled context is transient", fmt.Errorf("load: %w", context.Canceled), fault.Transient},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := fault.Of(tt.err); got != tt.want {
				t.Errorf("Of(%v) = %q, want %q", tt.err, got, tt.want)
			}
		})
	}
}

func TestMarkKeepsMessageAndChain(t *testing.T) {
	cause := errors.New("connection refused")
	err := fault.Mark(fault.ErrSourceUnreachable, cause)
	if err.Error() != "connection refused" {
		t.Errorf("message %q", err)
	}
	if !errors.Is(err, cause) || !errors.Is(err, fault.ErrSourceUnreachable) {
		t.Errorf("chain lost: %v", err)
	}
	if fault.Mark(fault.ErrRefused, nil) != nil {
		t.Error("Mark(nil) is not nil")
	}
}
