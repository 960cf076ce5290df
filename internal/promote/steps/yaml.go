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
	Path    string `json:"path"`
	Updates []struct {
		// Key is dotted, as Kargo writes it: image.tag, containers.0.image,
		// example\.com/version for a key with a dot.
		Key   string `json:"key"`
		Value any    `json:"value"`
	} `json:"updates"`
}

func (yamlUpdate) Run(_ context.Context, sc *engine.StepContext, cfg engine.Config) (engine.Result, error) {
	var c yamlUpdateConfig
	if err := cfg.Decode(&c); err != nil {
		return engine.Result{}, err
	}
	if len(c.Updates) == 0 {
		return engine.Result{}, fmt.Errorf("updates: at least one update is needed: %w", sourceerr.ErrInvalid)
	}
	p, err := sc.Path(c.Path)
	if err != nil {
		return engine.Result{}, err
	}
	doc, err := os.ReadFile(p)
	if err != nil {
		return engine.Result{}, fmt.Errorf("read %s: %w: %w", c.Path, err, sourceerr.ErrInvalid)
	}
	var msgs []string
	for i, u := range c.Updates {
		value := scalar(u.Value)
		doc, err = yamledit.SetValue(doc, yamleditPath(u.Key), value)
		if err != nil {
			return engine.Result{}, fmt.Errorf("updates[%d]: %s: %w: %w", i, c.Path, err, sourceerr.ErrInvalid)
		}
		msgs = append(msgs, fmt.Sprintf("set %s to %s", u.Key, value))
	}
	if err := os.WriteFile(p, doc, 0o644); err != nil {
		return engine.Result{}, fmt.Errorf("write %s: %w", c.Path, err)
	}
	msg := "Updated " + c.Path + ": " + strings.Join(msgs, ", ")
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
