// Package faultproxy is a TCP proxy for tests that can cut, black-hole or
// slow the link it stands for. Tests advertise the proxy's address in
// place of a node's real one, so every connection to that node crosses it.
package faultproxy

import (
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

// Mode is how the proxy treats traffic.
type Mode int

// Modes of a Proxy.
const (
	// Pass forwards traffic both ways.
	Pass Mode = iota
	// Refuse closes open connections and every new one at once (a crashed
	// or firewalled peer that answers with RST).
	Refuse
	// Blackhole keeps connections open but forwards nothing (a partition
	// where packets vanish: callers see timeouts).
	Blackhole
)

// Proxy forwards TCP connections from its listener to a target address.
// It is safe for concurrent use.
type Proxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex // protects mode, delay, conns
	mode  Mode
	delay time.Duration
	conns map[net.Conn]struct{}
	// changed is closed and replaced on every mode change, so blocked
	// connections re-check their mode.
	changed chan struct{}

	wg sync.WaitGroup
}

// New listens on 127.0.0.1:0 and forwards to target.
func New(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, target: target, conns: make(map[net.Conn]struct{}), changed: make(chan struct{})}
	p.wg.Add(1)
	go p.acceptLoop()
	return p, nil
}

// Addr is the proxy's listening address.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// SetTarget changes where new connections go (a restarted node may listen
// elsewhere).
func (p *Proxy) SetTarget(target string) {
	p.mu.Lock()
	p.target = target
	p.mu.Unlock()
}

// SetMode switches the proxy's behaviour. Refuse closes every open
// connection; Blackhole stalls them.
func (p *Proxy) SetMode(m Mode) {
	p.mu.Lock()
	p.mode = m
	close(p.changed)
	p.changed = make(chan struct{})
	var drop []net.Conn
	if m == Refuse {
		for c := range p.conns {
			drop = append(drop, c)
		}
	}
	p.mu.Unlock()
	for _, c := range drop {
		c.Close()
	}
}

// SetDelay adds d before every chunk forwarded in either direction.
func (p *Proxy) SetDelay(d time.Duration) {
	p.mu.Lock()
	p.delay = d
	p.mu.Unlock()
}

// Close stops the proxy and closes every connection.
func (p *Proxy) Close() error {
	err := p.ln.Close()
	p.mu.Lock()
	var all []net.Conn
	for c := range p.conns {
		all = append(all, c)
	}
	p.mode = Refuse
	close(p.changed)
	p.changed = make(chan struct{})
	p.mu.Unlock()
	for _, c := range all {
		c.Close()
	}
	p.wg.Wait()
	return err
}

func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mode == Refuse {
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

func (p *Proxy) acceptLoop() {
	defer p.wg.Done()
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		if !p.track(in) {
			in.Close()
			continue
		}
		p.wg.Add(1)
		go p.handle(in)
	}
}

func (p *Proxy) handle(in net.Conn) {
	defer p.wg.Done()
	defer p.untrack(in)
	p.mu.Lock()
	target := p.target
	p.mu.Unlock()
	out, err := net.DialTimeout("tcp", target, 5*time.Second)
	if err != nil {
		return
	}
	if !p.track(out) {
		out.Close()
		return
	}
	defer p.untrack(out)
	done := make(chan struct{}, 2)
	go func() { p.pipe(out, in); done <- struct{}{} }()
	go func() { p.pipe(in, out); done <- struct{}{} }()
	<-done
	in.Close()
	out.Close()
	<-done
}

// pipe copies src to dst chunk by chunk, honouring the mode and delay
// before each chunk.
func (p *Proxy) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !p.wait() {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				return
			}
			if tc, ok := dst.(*net.TCPConn); ok {
				tc.CloseWrite()
			}
			return
		}
	}
}

// wait blocks while the proxy black-holes, sleeps the delay, and reports
// whether the chunk may be forwarded.
func (p *Proxy) wait() bool {
	for {
		p.mu.Lock()
		mode, delay, changed := p.mode, p.delay, p.changed
		p.mu.Unlock()
		switch mode {
		case Refuse:
			return false
		case Blackhole:
			<-changed
			continue
		}
		if delay > 0 {
			time.Sleep(delay)
		}
		return true
	}
}
