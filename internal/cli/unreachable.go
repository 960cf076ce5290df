package cli

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"syscall"
)

// explainUnreachable turns a failure to connect to the API server into
// what to do about it: which server, from which config, and what starts
// one. It returns nil for every other error.
func (g *globals) explainUnreachable(err error) error {
	var dial *net.OpError
	var req *url.Error
	if !errors.As(err, &dial) || dial.Op != "dial" || !errors.As(err, &req) {
		return nil
	}
	u, perr := url.Parse(req.URL)
	if perr != nil {
		return nil
	}
	server := u.Scheme + "://" + u.Host
	why := dial.Err.Error()
	if errors.Is(err, syscall.ECONNREFUSED) {
		why = "connection refused, nothing listens there"
	}
	from := ""
	path := g.configPath()
	if cfg, cerr := loadConfig(path); cerr == nil && strings.TrimSuffix(cfg.Server, "/") == server {
		from = fmt.Sprintf(" (the server of the CLI config %s)", path)
	}
	next := "check the address, or log in to another server with kargo login SERVER"
	if host := u.Hostname(); host == "localhost" || net.ParseIP(host).IsLoopback() {
		next = "is kargo running? `make run` in the kargo source tree, or `kargo local`, starts it on this machine"
	}
	return fmt.Errorf("cannot reach the kargo API server at %s%s: %s; %s", server, from, why, next)
}
