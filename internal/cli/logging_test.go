package cli

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	"github.com/stretchr/testify/require"
)

func TestLogFlags(t *testing.T) {
	for _, tc := range []struct {
		name, level, format string
		wantErr             string
		// what one Info and one V(1) message write
		wantInfo, wantDebug bool
		json                bool
	}{
		{name: "defaults", level: "info", format: "json", wantInfo: true, json: true},
		{name: "debug shows V(1)", level: "debug", format: "text", wantInfo: true, wantDebug: true},
		{name: "error hides info", level: "error", format: "json"},
		{name: "unknown level", level: "trace", format: "json", wantErr: "--log-level=trace"},
		{name: "unknown format", level: "info", format: "xml", wantErr: "--log-format=xml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			h, err := (&logFlags{level: tc.level, format: tc.format}).handler(&buf)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			log := logr.FromSlogHandler(h)
			log.Info("reconciled", "stage", "test")
			log.V(1).Info("polled", "warehouse", "w")
			out := buf.String()
			require.Equal(t, tc.wantInfo, strings.Contains(out, "reconciled"), out)
			require.Equal(t, tc.wantDebug, strings.Contains(out, "polled"), out)
			if tc.json && tc.wantInfo {
				var line map[string]any
				require.NoError(t, json.Unmarshal([]byte(strings.SplitN(out, "\n", 2)[0]), &line))
				require.Equal(t, "test", line["stage"])
			}
		})
	}
}
