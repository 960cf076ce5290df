package steps

import (
	"context"
	"fmt"
	"os"

	"github.com/kargohq/kargo/internal/jsonedit"
	"github.com/kargohq/kargo/internal/promote/engine"
	"github.com/kargohq/kargo/internal/sourceerr"
)

// jsonUpdate sets values of keys in a JSON file (Kargo's json-update),
// changing only the bytes of each value: indentation and key order stay.
// Unlike Kargo's, it never adds a key: a key the file does not have is an
// error naming the keys it does have, since a misspelt key that silently
// grows the file is a promotion that did nothing.
type jsonUpdate struct{}

func (jsonUpdate) Replayable() {}

type jsonUpdateConfig struct {
	Path string `json:"path"`
	// Updates' keys are dotted, as in yaml-update.
	Updates []keyUpdate `json:"updates"`
}

func (jsonUpdate) Run(_ context.Context, sc *engine.StepContext, cfg engine.Config) (engine.Result, error) {
	var c jsonUpdateConfig
	if err := cfg.Decode(&c); err != nil {
		return engine.Result{}, err
	}
	if len(c.Updates) == 0 {
		return engine.Result{}, fmt.Errorf("updates: at least one update is needed: %w", sourceerr.ErrInvalid)
	}
	return editFile(sc, c.Path, func(doc []byte) ([]byte, []string, error) {
		var msgs []string
		for i, u := range c.Updates {
			if u.Key == "" {
				return nil, nil, fmt.Errorf("updates[%d].key is empty: %w", i, sourceerr.ErrInvalid)
			}
			var err error
			if doc, err = jsonedit.SetValue(doc, splitKey(u.Key), u.Value); err != nil {
				return nil, nil, fmt.Errorf("updates[%d]: %s: set %s: %w: %w", i, c.Path, u.Key, err, sourceerr.ErrInvalid)
			}
			msgs = append(msgs, fmt.Sprintf("set %s to %s", u.Key, scalar(u.Value)))
		}
		return doc, msgs, nil
	})
}

// writeKeepingMode rewrites an existing file with its permissions.
func writeKeepingMode(p string, b []byte) error {
	info, err := os.Stat(p)
	if err != nil {
		return err
	}
	return os.WriteFile(p, b, info.Mode().Perm())
}
