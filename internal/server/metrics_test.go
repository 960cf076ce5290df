package server

import (
	"net/http"
	"net/http/httptest"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"
)

// instrument labels a request by its route pattern and the code written.
func TestInstrumentLabelsByRouteAndCode(t *testing.T) {
	const route = "/test/{name}"
	h := instrument(route, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusTeapot)
	}))
	before := testCount(t, route, "POST", "418")
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/test/some-name", nil))
	require.Equal(t, before+1, testCount(t, route, "POST", "418"))
	// A method outside HTTP's is one label value, not one per spelling.
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("BREW", "/test/x", nil))
	require.Equal(t, uint64(1), testCount(t, route, "other", "418"))
}

func testCount(t *testing.T, route, method, code string) uint64 {
	t.Helper()
	o, err := requestDuration.GetMetricWithLabelValues(route, method, code)
	require.NoError(t, err)
	m := &dto.Metric{}
	require.NoError(t, o.(interface{ Write(*dto.Metric) error }).Write(m))
	return m.GetHistogram().GetSampleCount()
}

// BenchmarkInstrument is the cost instrument adds to a request: run with
// -bench Instrument and compare bare with measured.
func BenchmarkInstrument(b *testing.B) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	req := httptest.NewRequest(http.MethodGet, "/api/v1/projects/p/stages", nil)
	for name, h := range map[string]http.Handler{"bare": ok, "measured": instrument("/api/v1/projects/{project}/{kind}", ok)} {
		b.Run(name, func(b *testing.B) {
			w := httptest.NewRecorder()
			for b.Loop() {
				h.ServeHTTP(w, req)
			}
		})
	}
}
