package server

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

var (
	requestDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "kargo_api_request_duration_seconds",
		Help: "Time to answer a request of the kargo API, by route pattern (such as /api/v1/projects/{project}/{kind}), method and status code; watches are in kargo_api_watches instead.",
		// The API answers lists from its cache in microseconds;
		// promotions and manifests wait for reviews and writes.
		Buckets: []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10},
	}, []string{"route", "method", "code"})
	openWatches = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "kargo_api_watches",
		Help: "Watches the kargo API is serving now, by route pattern.",
	}, []string{"route"})
)

func init() {
	metrics.Registry.MustRegister(requestDuration, openWatches)
}

// otherRoute labels requests no API route matched: the web UI's pages and
// answers of 404.
const otherRoute = "other"

// instrument measures h, which serves route: the route pattern, never the
// path, labels the series, so that their number does not grow with the
// names of projects and objects.
func instrument(route string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if watch, _ := parseBool(r.URL.Query().Get("watch")); watch {
			g := openWatches.WithLabelValues(route)
			g.Inc()
			defer g.Dec()
			h.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		rec := &codeRecorder{ResponseWriter: w}
		h.ServeHTTP(rec, r)
		code := rec.code
		if code == 0 {
			code = http.StatusOK
		}
		requestDuration.WithLabelValues(route, methodLabel(r.Method), strconv.Itoa(code)).Observe(time.Since(start).Seconds())
	})
}

// methodLabel bounds the method label to the methods HTTP defines.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "other"
}

// codeRecorder remembers the status code written through it.
type codeRecorder struct {
	http.ResponseWriter
	code int
}

func (c *codeRecorder) WriteHeader(code int) {
	if c.code == 0 {
		c.code = code
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *codeRecorder) Write(b []byte) (int, error) {
	if c.code == 0 {
		c.code = http.StatusOK
	}
	return c.ResponseWriter.Write(b)
}

// Unwrap gives http.ResponseController the writer underneath.
func (c *codeRecorder) Unwrap() http.ResponseWriter { return c.ResponseWriter }
