package cli

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
)

// listenAddr is one address kargo local will listen on, and what chooses
// it, for the error when it is taken.
type listenAddr struct {
	addr string
	// what names the listener, such as "kargo's API server".
	what string
	// change says how to pick another address.
	change string
}

// localListenAddrs lists the addresses of o that kargo local will listen
// on, besides the Kubernetes API's --port (which the control plane
// checks): those given by a flag, and the demo's kept from its last start.
// Addresses with port 0 take a free port and are left out.
func localListenAddrs(o localOptions) ([]listenAddr, error) {
	addrs := []listenAddr{{addr: o.apiAddr, what: "kargo's API server", change: "choose another with --api-addr"}}
	if o.webhookAddr != "" {
		addrs = append(addrs, listenAddr{addr: o.webhookAddr, what: "the push-notification receiver", change: "choose another with --webhook-addr"})
	}
	addrs = append(addrs, listenAddr{addr: o.admissionAddr, what: "the admission webhooks", change: "choose another with --admission-addr"})
	if o.demo {
		var kept demoState
		if !o.reset {
			var err error
			if kept, err = loadDemoState(o.dataDir); err != nil && !errors.Is(err, os.ErrNotExist) {
				return nil, err
			}
		}
		keptHow := fmt.Sprintf("the demo's Warehouse and Stages name it (kept in %s), so free it, or start over with --reset", demoStatePath(o.dataDir))
		for _, d := range []struct{ flag, kept, what, flagName string }{
			{o.demoRegistryAddr, kept.Registry, "the demo registry", "--demo-registry-addr"},
			{o.demoGitAddr, kept.Git, "the demo Git server", "--demo-git-addr"},
		} {
			switch {
			case d.flag != "":
				addrs = append(addrs, listenAddr{addr: d.flag, what: d.what, change: "choose another with " + d.flagName})
			case d.kept != "":
				addrs = append(addrs, listenAddr{addr: d.kept, what: d.what, change: keptHow})
			}
		}
	}
	return addrs, nil
}

// checkListenAddrs fails on the first address that is taken or cannot be
// listened on, before kargo local starts anything: a busy address found
// after the control plane started would cost its start-up time.
func checkListenAddrs(addrs []listenAddr) error {
	for _, a := range addrs {
		host, port, err := net.SplitHostPort(a.addr)
		if err != nil {
			return usageError{fmt.Errorf("%s: %q is not HOST:PORT: %w", a.what, a.addr, err)}
		}
		if port == "0" {
			continue
		}
		l, err := net.Listen("tcp", net.JoinHostPort(host, port))
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("%s cannot listen on %s, which is in use (is another `kargo local` running?): %s", a.what, a.addr, a.change)
		}
		if err != nil {
			return fmt.Errorf("%s cannot listen on %s: %w; %s", a.what, a.addr, err, a.change)
		}
		if err := l.Close(); err != nil {
			return fmt.Errorf("%s: release %s: %w", a.what, a.addr, err)
		}
	}
	return nil
}
