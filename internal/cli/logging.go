package cli

import (
	"fmt"
	"io"
	"log/slog"

	"github.com/go-logr/logr"
	"github.com/spf13/pflag"
	ctrl "sigs.k8s.io/controller-runtime"
)

// logFlags are the logging flags of the commands a cluster runs (kargo
// controller, kargo api): structured logs on stderr, one JSON object a line
// by default, for log collectors.
type logFlags struct {
	level, format string
}

func (o *logFlags) register(f *pflag.FlagSet) {
	f.StringVar(&o.level, "log-level", "info", "least severe log messages written: error, info or debug")
	f.StringVar(&o.format, "log-format", "json", "log format: json (one object a line) or text (key=value)")
}

// setup makes the logger controller-runtime and kargo's packages log
// through write to w.
func (o *logFlags) setup(w io.Writer) error {
	h, err := o.handler(w)
	if err != nil {
		return err
	}
	ctrl.SetLogger(logr.FromSlogHandler(h))
	return nil
}

func (o *logFlags) handler(w io.Writer) (slog.Handler, error) {
	var level slog.Level
	switch o.level {
	case "error":
		level = slog.LevelError
	case "info":
		level = slog.LevelInfo
	case "debug":
		// logr's V(n) is slog level -n: debug shows V(1) to V(4).
		level = slog.LevelDebug
	default:
		return nil, usageError{fmt.Errorf("--log-level=%s is not one of error, info, debug", o.level)}
	}
	opts := &slog.HandlerOptions{Level: level}
	switch o.format {
	case "json":
		return slog.NewJSONHandler(w, opts), nil
	case "text":
		return slog.NewTextHandler(w, opts), nil
	}
	return nil, usageError{fmt.Errorf("--log-format=%s is not one of json, text", o.format)}
}
