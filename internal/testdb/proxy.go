package testdb

import (
	"errors"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// Proxy starts a TCP proxy on 127.0.0.1 (a free port) in front of target
// ("host:port") and returns its address. sever closes every proxied
// connection and makes the proxy close new ones at once, as if the server
// had gone away; restore lets connections through again. The proxy stops
// when the test ends. It is the safe way to cut a test off from the shared
// database: the server itself keeps running for everyone else.
func Proxy(t testing.TB, target string) (addr string, sever, restore func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testdb: proxy: %v", err)
	}
	p := &proxy{target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.serve(ln)
	t.Cleanup(func() {
		ln.Close()
		p.sever()
		p.wg.Wait()
	})
	return ln.Addr().String(), p.sever, p.restore
}

// ProxyDSN is [Proxy] for a PostgreSQL URL: it proxies the URL's host and
// returns the URL rewritten to go through the proxy.
func ProxyDSN(t testing.TB, dsn string) (proxied string, sever, restore func()) {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("testdb: proxy: DSN is not a URL: %v", err)
	}
	host := u.Host
	if !strings.Contains(host, ":") {
		host += ":5432"
	}
	addr, sever, restore := Proxy(t, host)
	u.Host = addr
	return u.String(), sever, restore
}

type proxy struct {
	target string
	wg     sync.WaitGroup

	mu      sync.Mutex
	severed bool
	conns   map[net.Conn]struct{}
}

func (p *proxy) serve(ln net.Listener) {
	defer p.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		p.wg.Add(1)
		go p.handle(c)
	}
}

func (p *proxy) handle(client net.Conn) {
	defer p.wg.Done()
	if !p.track(client) {
		client.Close()
		return
	}
	defer p.untrack(client)
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	if !p.track(server) {
		server.Close()
		return
	}
	defer p.untrack(server)
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		io.Copy(dst, src)
		// Either side ending ends both, as a real connection would.
		dst.Close()
		src.Close()
		done <- struct{}{}
	}
	go pipe(server, client)
	go pipe(client, server)
	<-done
	<-done
}

// track registers c unless the proxy is severed.
func (p *proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.severed {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	c.Close()
}

func (p *proxy) sever() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.severed = true
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

func (p *proxy) restore() {
	p.mu.Lock()
	p.severed = false
	p.mu.Unlock()
}
