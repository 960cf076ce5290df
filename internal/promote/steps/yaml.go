package steps

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/kargohq/kargo/internal/promote/engine"
	"github.com/kargohq/kargo/internal/sourceerr"
	"github.com/kargohq/kargo/internal/yamledit"
)

// yamlUpdate sets values of keys in a YAML file (Kargo's yaml-update),
// changing only the bytes of each value: comments, order and quoting stay.
type yamlUpdate struct{}

func (yamlUpdate) Replayable() {}

type yamlUpdateConfig struct {
	Path string `json:"path"`
	// Updates' keys are dotted, as Kargo writes them: image.tag,
	// containers.0.image, example\.com/version for a key with a dot.
	Updates []keyUpdate `json:"updates"`
}

// keyUpdate sets the value at a dotted key (yaml-update, json-update).
type keyUpdate struct {
	Key   string `json:"key"`
	Value any    `json:"value"`
}

func (yamlUpdate) Run(_ context.Context, sc *engine.StepContext, cfg engine.Config) (engine.Result, error) {
	var c yamlUpdateConfig
	if err := cfg.Decode(&c); err != nil {
		return engine.Result{}, err
	}
	if len(c.Updates) == 0 {
		return engine.Result{}, fmt.Errorf("updates: at least one update is needed: %w", sourceerr.ErrInvalid)
	}
	return editFile(sc, c.Path, func(doc []byte) ([]byte, []string, error) {
		var msgs []string
		for i, u := range c.Updates {
			value := scalar(u.Value)
			var err error
			if doc, err = yamledit.SetValue(doc, yamleditPath(u.Key), value); err != nil {
				return nil, nil, fmt.Errorf("updates[%d]: %s: %w: %w", i, c.Path, err, sourceerr.ErrInvalid)
			}
			msgs = append(msgs, fmt.Sprintf("set %s to %s", u.Key, value))
		}
		return doc, msgs, nil
	})
}

// editFile changes the file at path (relative to the work directory) with
// edit, which returns the new content and a line per change, keeps the
// file's mode, and says what changed, also as a commit message for
// git-commit's messageFromSteps.
func editFile(sc *engine.StepContext, path string, edit func(doc []byte) ([]byte, []string, error)) (engine.Result, error) {
	p, err := sc.Path(path)
	if err != nil {
		return engine.Result{}, err
	}
	doc, err := os.ReadFile(p)
	if err != nil {
		return engine.Result{}, fmt.Errorf("read %s: %w: %w", path, err, sourceerr.ErrInvalid)
	}
	doc, msgs, err := edit(doc)
	if err != nil {
		return engine.Result{}, err
	}
	if err := writeKeepingMode(p, doc); err != nil {
		return engine.Result{}, fmt.Errorf("write %s: %w", path, err)
	}
	msg := "Updated " + path + ": " + strings.Join(msgs, ", ")
	return engine.Result{Message: msg, Output: map[string]any{"commitMessage": msg}}, nil
}

// scalar writes a configuration value as the text of a YAML scalar.
func scalar(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case nil:
		return ""
	case float64:
		b, _ := json.Marshal(t)
		return string(b)
	default:
		return fmt.Sprint(t)
	}
}

// yamleditPath turns Kargo's key syntax into yamledit's (parts with a dot
// or a quote quoted).
func yamleditPath(key string) string {
	parts := splitKey(key)
	for i, p := range parts {
		if strings.ContainsAny(p, `."`) {
			parts[i] = `"` + strings.ReplaceAll(p, `"`, `\"`) + `"`
		}
	}
	return strings.Join(parts, ".")
}

// splitKey splits a key in Kargo's syntax into its parts: dots between
// parts, \. for a dot inside a part, \\ for a backslash.
func splitKey(key string) []string {
	var parts []string
	var cur strings.Builder
	for i := 0; i < len(key); i++ {
		switch {
		case key[i] == '\\' && i+1 < len(key):
			i++
			cur.WriteByte(key[i])
		case key[i] == '.':
			parts = append(parts, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(key[i])
		}
	}
	return append(parts, cur.String())
}
