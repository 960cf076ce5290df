package git

import (
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// processesStarted counts the git processes the cache starts, by git
// command, so that work that grows with the number of subscribers shows.
var processesStarted = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "kargo_git_processes_total",
	Help: "git processes started by the Git cache (discovery, promotions), by git command (fetch, log, for-each-ref, ...).",
}, []string{"command"})

func init() {
	metrics.Registry.MustRegister(processesStarted)
}

// countProcess records the start of a git process with args.
func countProcess(args []string) {
	command := ""
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "-c" || a == "-C" {
			i++ // its value ("key=value", a directory) is not the command
			continue
		}
		if !strings.HasPrefix(a, "-") {
			command = a
			break
		}
	}
	processesStarted.WithLabelValues(command).Inc()
}
