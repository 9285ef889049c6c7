package notify

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"go.uber.org/zap"
)

func (n *Notifier) statePath(source string) string {
	return filepath.Join(n.StateDir, source+".json")
}

// readState is what the last process knew of source; the zero State when
// nothing was kept or it cannot be read (logged: the first run then tells
// only what it does).
func (n *Notifier) readState(source string) State {
	var st State
	if n.StateDir == "" {
		return st
	}
	b, err := os.ReadFile(n.statePath(source))
	if errors.Is(err, fs.ErrNotExist) {
		return st
	}
	if err == nil {
		err = json.Unmarshal(b, &st)
	}
	if err != nil {
		n.Log.Warn("notification state unreadable: starting afresh", zap.String("source", source), zap.Error(err))
		return State{}
	}
	return st
}

// writeState keeps next when it differs from prev (or was never written),
// atomically: a crash leaves the old state or the new one.
func (n *Notifier) writeState(source string, prev, next State, written bool) {
	if n.StateDir == "" {
		return
	}
	a, _ := json.Marshal(prev)
	b, err := json.Marshal(next)
	if err != nil || written && bytes.Equal(a, b) {
		return
	}
	err = os.MkdirAll(n.StateDir, 0o700)
	if err == nil {
		tmp := n.statePath(source) + ".tmp"
		if err = os.WriteFile(tmp, b, 0o600); err == nil {
			err = os.Rename(tmp, n.statePath(source))
		}
	}
	if err != nil {
		n.Log.Error("write notification state", zap.String("source", source), zap.Error(err))
	}
}
