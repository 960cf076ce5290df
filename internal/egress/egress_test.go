package egress_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kargohq/kargo/internal/egress"
)

func TestCheck(t *testing.T) {
	tests := []struct {
		name         string
		addr         string
		allowPrivate bool
		allow        []string
		host         string
		wantReason   string
	}{
		{name: "public IPv4", addr: "93.184.215.14:443"},
		{name: "public IPv6", addr: "[2606:2800:21f:cb07:6820:80da:af6b:8b2c]:443"},
		{name: "loopback", addr: "127.0.0.1:6443", wantReason: "a loopback address"},
		{name: "loopback elsewhere in 127/8", addr: "127.3.2.1:2379", wantReason: "a loopback address"},
		{name: "IPv6 loopback", addr: "[::1]:2379", wantReason: "a loopback address"},
		{name: "IPv4-mapped loopback", addr: "[::ffff:127.0.0.1]:2379", wantReason: "a loopback address"},
		{name: "NAT64 loopback", addr: "[64:ff9b::7f00:1]:2379", wantReason: "a loopback address"},
		{name: "metadata", addr: "169.254.169.254:80", wantReason: "a cloud metadata address"},
		{name: "IPv4-mapped metadata", addr: "[::ffff:169.254.169.254]:80", wantReason: "a cloud metadata address"},
		{name: "AWS IPv6 metadata", addr: "[fd00:ec2::254]:80", wantReason: "a cloud metadata address"},
		{name: "Alibaba metadata", addr: "100.100.100.200:80", wantReason: "a cloud metadata address"},
		{name: "metadata stays refused with private allowed", addr: "100.100.100.200:80", allowPrivate: true, wantReason: "a cloud metadata address"},
		{name: "link-local", addr: "169.254.10.1:80", wantReason: "a link-local address"},
		{name: "IPv6 link-local", addr: "[fe80::1]:80", wantReason: "a link-local address"},
		{name: "unspecified", addr: "0.0.0.0:80", wantReason: "an unspecified address"},
		{name: "IPv6 unspecified", addr: "[::]:80", wantReason: "an unspecified address"},
		{name: "this network", addr: "0.1.2.3:80", wantReason: "a reserved address"},
		{name: "broadcast", addr: "255.255.255.255:80", wantReason: "a reserved address"},
		{name: "multicast", addr: "239.1.2.3:5353", wantReason: "a multicast address"},
		{name: "RFC 1918", addr: "10.1.2.3:443", wantReason: "a private address"},
		{name: "RFC 1918 172.16/12", addr: "172.31.0.1:443", wantReason: "a private address"},
		{name: "RFC 1918 192.168/16", addr: "192.168.1.1:443", wantReason: "a private address"},
		{name: "IPv4-mapped private", addr: "[::ffff:10.0.0.1]:443", wantReason: "a private address"},
		{name: "ULA", addr: "[fd12::1]:443", wantReason: "a private address"},
		{name: "CGNAT", addr: "100.64.0.1:443", wantReason: "a private address"},
		{name: "private allowed by switch", addr: "10.1.2.3:443", allowPrivate: true},
		{name: "CGNAT allowed by switch", addr: "100.64.0.1:443", allowPrivate: true},
		{name: "loopback not allowed by the private switch", addr: "127.0.0.1:443", allowPrivate: true, wantReason: "a loopback address"},
		{name: "allowed address and port", addr: "127.0.0.1:5000", allow: []string{"127.0.0.1:5000"}},
		{name: "allowed address, other port", addr: "127.0.0.1:6443", allow: []string{"127.0.0.1:5000"}, wantReason: "a loopback address"},
		{name: "allowed range", addr: "10.20.3.4:22", allow: []string{"10.20.0.0/16"}},
		{name: "allowed range, other address", addr: "10.21.3.4:22", allow: []string{"10.20.0.0/16"}, wantReason: "a private address"},
		{name: "allowed host name", addr: "10.1.1.1:443", host: "git.corp.example", allow: []string{"GIT.corp.example:443"}},
		{name: "allowed host name, other port", addr: "10.1.1.1:80", host: "git.corp.example", allow: []string{"git.corp.example:443"}, wantReason: "a private address"},
		{name: "allowed host name, any port", addr: "10.1.1.1:80", host: "git.corp.example.", allow: []string{"git.corp.example"}},
		{name: "another name to the same address", addr: "10.1.1.1:443", host: "evil.example", allow: []string{"git.corp.example:443"}, wantReason: "a private address"},
		{name: "IPv4-mapped form of an allowed address", addr: "[::ffff:127.0.0.1]:5000", allow: []string{"127.0.0.1:5000"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := egress.New(egress.Options{Allow: egress.MustParseRules(tt.allow...), AllowPrivate: tt.allowPrivate})
			err := p.Check(tt.host, netip.MustParseAddrPort(tt.addr))
			if tt.wantReason == "" {
				require.NoError(t, err)
				return
			}
			var refused *egress.RefusedError
			require.ErrorAs(t, err, &refused)
			require.Equal(t, tt.wantReason, refused.Reason)
			require.ErrorIs(t, err, egress.ErrRefused)
		})
	}
}

func TestRefusedErrorSaysWhichFlagAllowsIt(t *testing.T) {
	p := egress.New(egress.Options{})
	err := p.Check("", netip.MustParseAddrPort("127.0.0.1:6443"))
	require.EqualError(t, err, "refused to connect to 127.0.0.1:6443: it is a loopback address, which kargo's controller does not contact unless its --allow-outbound flag allows it (such as --allow-outbound=127.0.0.1:6443)")
	err = p.Check("git.corp.example", netip.MustParseAddrPort("10.0.0.5:443"))
	require.EqualError(t, err, "refused to connect to git.corp.example (10.0.0.5:443): it is a private address, which kargo's controller does not contact unless its --allow-outbound flag allows it (such as --allow-outbound=git.corp.example:443), or --allow-private-outbound allows every private range")
}

func TestParseRules(t *testing.T) {
	rules, err := egress.ParseRules("10.20.0.0/16, 10.0.0.5,127.0.0.1:5000,[::1]:8080,Git.Corp.example:443,registry.local")
	require.NoError(t, err)
	var got []string
	for _, r := range rules {
		got = append(got, r.String())
	}
	require.Equal(t, []string{"10.20.0.0/16", "10.0.0.5", "127.0.0.1:5000", "[::1]:8080", "git.corp.example:443", "registry.local"}, got)

	for _, bad := range []string{"http://example.com", "10.0.0.1:0", "example.com:99999", "a b", "10.0.0.0/33", "host:port"} {
		_, err := egress.ParseRules(bad)
		require.Error(t, err, bad)
	}
}

// listener counts the connections a refused target would have received.
func listener(t *testing.T) (net.Listener, *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	var n atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			_ = c.Close()
		}
	}()
	return ln, &n
}

func TestDialRefusesANameThatResolvesToLoopback(t *testing.T) {
	ln, accepted := listener(t)
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	p := egress.New(egress.Options{Resolver: func(context.Context, string) ([]netip.Addr, error) {
		return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
	}})
	_, err := p.DialContext(t.Context(), "tcp", "innocent.example:"+port)
	var refused *egress.RefusedError
	require.ErrorAs(t, err, &refused)
	require.Equal(t, "innocent.example", refused.Host)
	require.Equal(t, int64(0), accepted.Load())

	// Allowed by address and port, the same name connects.
	p.Allow(egress.MustParseRules(ln.Addr().String())...)
	c, err := p.DialContext(t.Context(), "tcp", "innocent.example:"+port)
	require.NoError(t, err)
	_ = c.Close()
}

func TestDialSkipsRefusedAddressesOfAName(t *testing.T) {
	ln, _ := listener(t)
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	p := egress.New(egress.Options{
		Allow: egress.MustParseRules(ln.Addr().String()),
		Resolver: func(context.Context, string) ([]netip.Addr, error) {
			return []netip.Addr{netip.MustParseAddr("169.254.169.254"), netip.MustParseAddr("127.0.0.1")}, nil
		},
	})
	c, err := p.DialContext(t.Context(), "tcp", "mixed.example:"+port)
	require.NoError(t, err)
	require.Equal(t, ln.Addr().String(), c.RemoteAddr().String())
	_ = c.Close()
}

func TestRevokedRulesNoLongerAllow(t *testing.T) {
	p := egress.New(egress.Options{})
	revoke := p.Allow(egress.MustParseRules("127.0.0.1:5000")...)
	require.NoError(t, p.Check("", netip.MustParseAddrPort("127.0.0.1:5000")))
	revoke()
	require.Error(t, p.Check("", netip.MustParseAddrPort("127.0.0.1:5000")))
}

func TestTransportRefusesRedirectToLoopback(t *testing.T) {
	ln, accepted := listener(t)
	// The first server stands for a public one: it is allowed, and
	// redirects to the refused listener.
	first := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://"+ln.Addr().String()+"/secret", http.StatusFound)
	}))
	t.Cleanup(first.Close)
	p := egress.New(egress.Options{Allow: egress.MustParseRules(first.Listener.Addr().String())})
	c := &http.Client{Transport: p.Transport(nil)}
	_, err := c.Get(first.URL)
	require.ErrorIs(t, err, egress.ErrRefused)
	require.Equal(t, int64(0), accepted.Load())
}

func TestTransportIgnoresEnvironmentProxies(t *testing.T) {
	var proxied atomic.Int64
	proxy := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { proxied.Add(1) }))
	t.Cleanup(proxy.Close)
	t.Setenv("HTTP_PROXY", proxy.URL)
	t.Setenv("http_proxy", proxy.URL)
	p := egress.New(egress.Options{Allow: egress.MustParseRules(proxy.Listener.Addr().String())})
	_, err := (&http.Client{Transport: p.Transport(nil)}).Get("http://127.0.0.1:1/")
	require.ErrorIs(t, err, egress.ErrRefused)
	require.Equal(t, int64(0), proxied.Load())
}

func proxyAuth(s *egress.Session) string {
	u, _ := url.Parse(s.URL())
	pw, _ := u.User.Password()
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(u.User.Username()+":"+pw))
}

func TestProxy(t *testing.T) {
	var hits atomic.Int64
	allowed := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		fmt.Fprint(w, "hello from ", r.URL.Path)
	}))
	t.Cleanup(allowed.Close)
	refusedLn, accepted := listener(t)
	p := egress.New(egress.Options{Allow: egress.MustParseRules(allowed.Listener.Addr().String())})
	t.Cleanup(func() { _ = p.Close() })
	x, err := p.Proxy()
	require.NoError(t, err)
	s, err := x.NewSession()
	require.NoError(t, err)
	proxyURL, _ := url.Parse(s.URL())

	t.Run("forwards http:// requests to allowed addresses", func(t *testing.T) {
		c := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(proxyURL)}}
		resp, err := c.Get(allowed.URL + "/repo.git/info/refs")
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		require.Equal(t, "hello from /repo.git/info/refs", string(body))
	})

	t.Run("tunnels CONNECT to allowed addresses", func(t *testing.T) {
		conn, err := net.Dial("tcp", proxyURL.Host)
		require.NoError(t, err)
		defer conn.Close()
		target := allowed.Listener.Addr().String()
		fmt.Fprintf(conn, "CONNECT %s HTTP/1.1\r\nHost: %s\r\nProxy-Authorization: %s\r\n\r\n", target, target, proxyAuth(s))
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		fmt.Fprintf(conn, "GET /tunnelled HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", target)
		resp, err = http.ReadResponse(br, nil)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		require.Equal(t, "hello from /tunnelled", string(body))
	})

	t.Run("refuses CONNECT to loopback and records the refusal", func(t *testing.T) {
		conn, err := net.Dial("tcp", proxyURL.Host)
		require.NoError(t, err)
		defer conn.Close()
		target := refusedLn.Addr().String()
		fmt.Fprintf(conn, "CONNECT %s HTTP/1.1\r\nHost: %s\r\nProxy-Authorization: %s\r\n\r\n", target, target, proxyAuth(s))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		require.NoError(t, err)
		require.Equal(t, http.StatusForbidden, resp.StatusCode)
		require.NotNil(t, s.Refused())
		require.Equal(t, target, s.Refused().Addr.String())
		require.Equal(t, int64(0), accepted.Load())
	})

	t.Run("refuses clients without session credentials", func(t *testing.T) {
		before := hits.Load()
		anon, _ := url.Parse("http://" + proxyURL.Host)
		c := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(anon)}}
		resp, err := c.Get(allowed.URL + "/")
		require.NoError(t, err)
		_ = resp.Body.Close()
		require.Equal(t, http.StatusProxyAuthRequired, resp.StatusCode)

		old, err := x.NewSession()
		require.NoError(t, err)
		oldURL, _ := url.Parse(old.URL())
		old.Close()
		c = &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(oldURL)}}
		resp, err = c.Get(allowed.URL + "/")
		require.NoError(t, err)
		_ = resp.Body.Close()
		require.Equal(t, http.StatusProxyAuthRequired, resp.StatusCode, "a closed session's credentials")
		require.Equal(t, before, hits.Load())
	})

	t.Run("refuses requests that are not http:// or CONNECT", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, "http://"+proxyURL.Host+"/", nil)
		req.Header.Set("Proxy-Authorization", proxyAuth(s))
		resp, err := http.DefaultTransport.RoundTrip(req)
		require.NoError(t, err)
		_ = resp.Body.Close()
		require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	})
}

func TestTunnel(t *testing.T) {
	// An echo server on loopback, as an SSH host in a test would be.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	var accepted atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			go func() { _, _ = io.Copy(c, c); _ = c.Close() }()
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	p := egress.New(egress.Options{Resolver: func(context.Context, string) ([]netip.Addr, error) {
		return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
	}})

	// The client connects to the tunnel; the tunnel, judging the target,
	// closes the connection and records why.
	tun, err := p.Tunnel(t.Context(), "git.example:"+port)
	require.NoError(t, err)
	c, err := net.Dial("tcp", tun.Addr().String())
	require.NoError(t, err)
	n, _ := c.Read(make([]byte, 1))
	require.Zero(t, n, "the refused connection is closed")
	_ = c.Close()
	require.NotNil(t, tun.Refused())
	require.Equal(t, "git.example", tun.Refused().Host)
	require.Zero(t, accepted.Load(), "the target saw no connection")
	tun.Close()

	p.Allow(egress.MustParseRules(ln.Addr().String())...)
	tun, err = p.Tunnel(t.Context(), "git.example:"+port)
	require.NoError(t, err)
	defer tun.Close()
	c, err = net.Dial("tcp", tun.Addr().String())
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Write([]byte("SSH-2.0-test\r\n"))
	require.NoError(t, err)
	line, err := bufio.NewReader(c).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "SSH-2.0-test\r\n", line)
	require.Nil(t, tun.Refused())
}
