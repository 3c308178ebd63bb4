package meta

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// errFiltered is returned when the network filter blocks a connection.
var errFiltered = errors.New("connection blocked by network filter")

// streamLayer is raft's TCP stream layer with a test fault hook: an optional
// allow(peer) filter consulted on every dial (peer = target raft address)
// and on every accept (peer = "", since an inbound connection's raft
// address is unknown). Setting a filter closes the tracked connections it
// no longer allows, so a partition takes effect at once in both directions.
type streamLayer struct {
	ln        net.Listener
	advertise net.Addr
	// tlsClient, if set, dials peers over TLS with it (set before use).
	tlsClient *tls.Config

	mu     sync.Mutex // protects allow, conns, closed
	allow  func(peer string) bool
	conns  map[net.Conn]string // open connections → peer ("" for inbound)
	closed bool
}

func newStreamLayer(ln net.Listener, advertise net.Addr) *streamLayer {
	return &streamLayer{ln: ln, advertise: advertise, conns: make(map[net.Conn]string)}
}

// setFilter installs allow (nil allows everything) and closes connections
// it rejects.
func (s *streamLayer) setFilter(allow func(peer string) bool) {
	s.mu.Lock()
	s.allow = allow
	var drop []net.Conn
	for c, peer := range s.conns {
		if allow != nil && !allow(peer) {
			drop = append(drop, c)
		}
	}
	s.mu.Unlock()
	for _, c := range drop {
		_ = c.Close() // untracks itself
	}
}

func (s *streamLayer) allowed(peer string) bool {
	return s.allow == nil || s.allow(peer)
}

// Dial implements raft.StreamLayer.
func (s *streamLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	peer := string(address)
	s.mu.Lock()
	ok := s.allowed(peer)
	s.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("dial %s: %w", peer, errFiltered)
	}
	var c net.Conn
	var err error
	if s.tlsClient != nil {
		c, err = tls.DialWithDialer(&net.Dialer{Timeout: timeout}, "tcp", peer, s.tlsClient)
	} else {
		c, err = net.DialTimeout("tcp", peer, timeout)
	}
	if err != nil {
		return nil, err
	}
	return s.track(c, peer)
}

// Accept implements net.Listener; connections the filter rejects are closed
// and skipped.
func (s *streamLayer) Accept() (net.Conn, error) {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return nil, err
		}
		if tc, err := s.track(c, ""); err == nil {
			return tc, nil
		}
	}
}

func (s *streamLayer) track(c net.Conn, peer string) (net.Conn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		_ = c.Close()
		return nil, net.ErrClosed
	}
	if !s.allowed(peer) {
		_ = c.Close()
		return nil, errFiltered
	}
	tc := &trackedConn{Conn: c, owner: s}
	s.conns[tc] = peer
	return tc, nil
}

func (s *streamLayer) untrack(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// Close implements net.Listener. It also closes every open raft
// connection: hashicorp/raft's transport leaves accepted connections and
// its pool open on Close, and their reader goroutines would outlive it.
func (s *streamLayer) Close() error {
	err := s.ln.Close()
	s.mu.Lock()
	s.closed = true
	conns := make([]net.Conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		_ = c.Close()
	}
	return err
}

// Addr implements net.Listener, returning the advertised address.
func (s *streamLayer) Addr() net.Addr { return s.advertise }

type trackedConn struct {
	net.Conn
	owner *streamLayer
	once  sync.Once
}

func (c *trackedConn) Close() error {
	c.once.Do(func() { c.owner.untrack(c) })
	return c.Conn.Close()
}
