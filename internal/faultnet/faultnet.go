// Package faultnet is a TCP proxy for tests that makes a real server
// misbehave the way networks do: refuse connections (the server is down) or
// accept them and answer nothing (the server is hung, as under SIGSTOP).
// Tests put it between a client and a real PostgreSQL or Redis and switch
// its mode while the client runs.
package faultnet

import (
	"io"
	"net"
	"sync"
	"testing"
)

// Mode is what the proxy does with traffic.
type Mode int

// Modes.
const (
	// Pass forwards traffic both ways.
	Pass Mode = iota
	// Hang accepts connections and reads what clients send, but forwards
	// nothing and answers nothing, as a stopped or overloaded server does.
	Hang
	// Refuse closes every connection at once, existing ones included, as a
	// server that is down does (the listener stays, so the address does not
	// move).
	Refuse
)

// Proxy forwards TCP connections from Addr to an upstream address.
type Proxy struct {
	ln       net.Listener
	upstream string

	mu      sync.Mutex
	mode    Mode
	changed chan struct{} // closed and replaced when mode changes
	conns   map[net.Conn]struct{}
	closed  bool
	wg      sync.WaitGroup
}

// New starts a proxy on a free loopback port to upstream, and stops it when
// the test ends.
func New(tb testing.TB, upstream string) *Proxy {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("faultnet: listen: %v", err)
	}
	p := &Proxy{ln: ln, upstream: upstream, changed: make(chan struct{}), conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	tb.Cleanup(p.Close)
	return p
}

// Addr is the proxy's host:port, to give the client in place of upstream's.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// SetMode switches the proxy's behaviour, for open connections too, so a
// pooled client sees the fault on its next call. Switching to Refuse cuts
// the connections open now. Switching to Hang keeps them open but stalls
// them (a hung server's open connections stop answering too): the bytes
// they carry are held until the mode changes, and delivered if it changes
// back to Pass. A connection accepted while hung stays hung until it is
// closed.
func (p *Proxy) SetMode(m Mode) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mode = m
	close(p.changed)
	p.changed = make(chan struct{})
	if m == Refuse {
		for c := range p.conns {
			c.Close()
		}
	}
}

// Close stops the proxy and closes every connection.
func (p *Proxy) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	p.ln.Close()
	for c := range p.conns {
		c.Close()
	}
	close(p.changed)
	p.changed = make(chan struct{})
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	c.Close()
}

func (p *Proxy) state() (Mode, <-chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return Refuse, p.changed
	}
	return p.mode, p.changed
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if !p.track(c) {
			return
		}
		p.wg.Add(1)
		go p.serve(c)
	}
}

// serve handles one client connection for as long as it lives.
func (p *Proxy) serve(c net.Conn) {
	defer p.wg.Done()
	defer p.untrack(c)
	mode, _ := p.state()
	switch mode {
	case Refuse:
		return
	case Hang:
		p.hang(c)
		return
	}
	up, err := net.Dial("tcp", p.upstream)
	if err != nil {
		return
	}
	if !p.track(up) {
		return
	}
	defer p.untrack(up)
	done := make(chan struct{}, 2)
	go func() { p.pipe(up, c); done <- struct{}{} }()
	go func() { p.pipe(c, up); done <- struct{}{} }()
	<-done
	c.Close()
	up.Close()
	<-done
}

// hang swallows what the client sends until it gives up or the proxy closes.
func (p *Proxy) hang(c net.Conn) {
	io.Copy(io.Discard, c)
}

// pipe copies src to dst while the proxy passes traffic; while it hangs, the
// bytes read are held and the copy stalls until the mode changes (like a
// process that resumes after SIGCONT).
func (p *Proxy) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			for {
				mode, changed := p.state()
				if mode == Pass {
					break
				}
				if mode == Refuse {
					return
				}
				<-changed // Hang: hold the bytes until the mode moves on
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
