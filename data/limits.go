package data

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// writeLimiter is InfluxDB's write throttle: at most
// max-concurrent-write-limit writes run at once, up to
// max-enqueued-write-limit more wait for a slot (each at most
// enqueued-write-timeout), the rest are refused with 503 before their body
// is read, so nothing is half-written.
type writeLimiter struct {
	slots     chan struct{} // nil: no limit
	queued    atomic.Int64
	maxQueued int64 // 0: no bound
	timeout   time.Duration
	// active and waiting show the slots taken and the queue's length.
	active, waiting prometheus.Gauge
}

func newWriteLimiter(cfg HTTPConfig, m *httpMetrics) *writeLimiter {
	l := &writeLimiter{maxQueued: int64(cfg.MaxEnqueuedWriteLimit), timeout: cfg.EnqueuedWriteTimeout.D(),
		active: m.writesActive, waiting: m.writesQueued}
	if cfg.MaxConcurrentWriteLimit > 0 {
		l.slots = make(chan struct{}, cfg.MaxConcurrentWriteLimit)
	}
	return l
}

// InfluxDB 1.8's answers when a write is throttled.
const (
	msgQueueFull = "request throttled, queue full"
	msgTimeout   = "request throttled, exceeds timeout"
)

// acquire takes a slot, waiting in the queue if needed; on refusal it
// returns InfluxDB's message. release must be called after the write.
func (l *writeLimiter) acquire(ctx context.Context) (release func(), refused string) {
	if l.slots == nil {
		return func() {}, ""
	}
	release = func() {
		l.active.Dec()
		<-l.slots
	}
	select {
	case l.slots <- struct{}{}:
		l.active.Inc()
		return release, ""
	default:
	}
	if n := l.queued.Add(1); l.maxQueued > 0 && n > l.maxQueued {
		l.queued.Add(-1)
		return nil, msgQueueFull
	}
	l.waiting.Inc()
	defer func() {
		l.waiting.Dec()
		l.queued.Add(-1)
	}()
	timer := time.NewTimer(l.timeout)
	defer timer.Stop()
	select {
	case l.slots <- struct{}{}:
		l.active.Inc()
		return release, ""
	case <-timer.C:
		return nil, msgTimeout
	case <-ctx.Done():
		return nil, msgTimeout
	}
}

// limitListener closes connections accepted past max open ones, as
// InfluxDB's max-connection-limit does, so a flood of idle connections
// cannot exhaust the node's file descriptors.
type limitListener struct {
	net.Listener
	slots chan struct{}
}

// limitConnections wraps ln when max > 0.
func limitConnections(ln net.Listener, max int) net.Listener {
	if max <= 0 {
		return ln
	}
	return &limitListener{Listener: ln, slots: make(chan struct{}, max)}
}

// Accept implements net.Listener.
func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		select {
		case l.slots <- struct{}{}:
			return &limitedConn{Conn: c, release: func() { <-l.slots }}, nil
		default:
			_ = c.Close() // over the limit
		}
	}
}

type limitedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

// Close implements net.Conn and frees the connection's slot once.
func (c *limitedConn) Close() error {
	c.once.Do(c.release)
	return c.Conn.Close()
}

// throttled answers a refused write with 503 and InfluxDB's message.
func (h *handler) throttled(w http.ResponseWriter, msg string) {
	h.metrics.writesThrottled.Inc()
	httpError(w, http.StatusServiceUnavailable, msg)
}

// peerLimitListener serves at most max connections from one peer at once
// (the RPC listener's [coordinator] rpc-max-conns-per-peer), so a peer
// opening connections without end cannot take every file descriptor.
//
// A connection counts against its remote IP from accept until its first
// request names a node identity proven with the cluster secret
// (nodeauth.IdentityHeader, checked by identifyPeers); from then on it
// counts against that node. So data nodes sharing an address (a loopback
// cluster, NAT) each get the whole limit, while connections that name no
// node (no internal-shared-secret, a flood of silent connections) stay
// bounded per IP. A connection past the limit gets a 503 naming the limit,
// in the RPC's JSON error shape, and is closed.
type peerLimitListener struct {
	net.Listener
	max     int
	refused prometheus.Counter
	// answering bounds the refusals being written at once; past it a
	// refused connection is closed without an answer.
	answering chan struct{}

	mu sync.Mutex // protects open and each peerConn's peer and closed
	// open counts the connections per peer key: an IP, or "node " + a
	// node identity.
	open map[string]int
}

// maxRefusalsAnswering bounds the goroutines answering refused
// connections.
const maxRefusalsAnswering = 64

// refusalTimeout bounds writing a refusal and reading what the peer sent.
const refusalTimeout = 2 * time.Second

// limitPerPeer wraps ln when max > 0; refused counts the connections
// turned away.
func limitPerPeer(ln net.Listener, max int, refused prometheus.Counter) net.Listener {
	if max <= 0 {
		return ln
	}
	return &peerLimitListener{Listener: ln, max: max, refused: refused,
		answering: make(chan struct{}, maxRefusalsAnswering), open: make(map[string]int)}
}

// Accept implements net.Listener.
func (l *peerLimitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		peer := remoteIP(c)
		l.mu.Lock()
		ok := l.open[peer] < l.max
		if ok {
			l.open[peer]++
		}
		l.mu.Unlock()
		if ok {
			return &peerConn{Conn: c, l: l, peer: peer}, nil
		}
		l.refused.Inc()
		select {
		case l.answering <- struct{}{}:
			go func() {
				defer func() { <-l.answering }()
				refuseConn(c, l.refusal(peer))
			}()
		default:
			_ = c.Close()
		}
	}
}

// refusal is the message a connection from peer past the limit gets.
func (l *peerLimitListener) refusal(peer string) string {
	return fmt.Sprintf("too many connections from %s: rpc-max-conns-per-peer is %d", peer, l.max)
}

// identify moves c from the count of its IP to that of node; false (c
// staying counted as before) when node has max connections open already.
func (l *peerLimitListener) identify(c *peerConn, node string) bool {
	key := "node " + node
	l.mu.Lock()
	defer l.mu.Unlock()
	if c.closed || c.peer == key {
		return true
	}
	if l.open[key] >= l.max {
		return false
	}
	l.release(c.peer)
	l.open[key]++
	c.peer = key
	return true
}

// release drops one connection from peer's count; l.mu is held.
func (l *peerLimitListener) release(peer string) {
	if l.open[peer]--; l.open[peer] <= 0 {
		delete(l.open, peer)
	}
}

// peerConn is a connection peerLimitListener admitted.
type peerConn struct {
	net.Conn
	l *peerLimitListener
	// checked is set once the first request was looked at for an
	// identity; only the goroutine serving the connection touches it.
	checked bool

	peer   string // guarded by l.mu
	closed bool   // guarded by l.mu
}

// Close implements net.Conn and frees the connection's place once.
func (c *peerConn) Close() error {
	c.l.mu.Lock()
	if !c.closed {
		c.closed = true
		c.l.release(c.peer)
	}
	c.l.mu.Unlock()
	return c.Conn.Close()
}

type peerConnKey struct{}

// withPeerConn is the RPC server's ConnContext: it makes the connection
// known to identifyPeers.
func withPeerConn(ctx context.Context, c net.Conn) context.Context {
	if pc, ok := c.(*peerConn); ok {
		return context.WithValue(ctx, peerConnKey{}, pc)
	}
	return ctx
}

// identifyPeers counts a connection against the node its first request
// names (identity returns it, "" for none) instead of its IP, refusing
// the request with 503 and closing the connection when that node has
// rpc-max-conns-per-peer open already. It must run after the request's
// authentication was verified.
func identifyPeers(next http.Handler, identity func(*http.Request) string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := r.Context().Value(peerConnKey{}).(*peerConn)
		if ok && !c.checked {
			c.checked = true
			if node := identity(r); node != "" && !c.l.identify(c, node) {
				c.l.refused.Inc()
				w.Header().Set("Connection", "close")
				writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": c.l.refusal("node " + node), "code": "too_many_connections"})
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// remoteIP is the peer's address without its port.
func remoteIP(c net.Conn) string {
	addr := c.RemoteAddr().String()
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}

// refuseConn answers c's first request with 503 and msg, then closes it.
// It reads the request's head first: an answer sent before the request
// would reach the client as an unsolicited response, not as the answer.
func refuseConn(c net.Conn, msg string) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(refusalTimeout))
	head := bufio.NewReaderSize(io.LimitReader(c, maxRefusedHead), 4096)
	for {
		line, err := head.ReadSlice('\n')
		if err != nil {
			return
		}
		if len(bytes.TrimRight(line, "\r\n")) == 0 {
			break
		}
	}
	body, _ := json.Marshal(map[string]string{"error": msg, "code": "too_many_connections"})
	_, err := fmt.Fprintf(c, "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	if err != nil {
		return
	}
	// Half-close and drain the request's body, so closing does not reset
	// the connection before the peer reads the answer.
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(c, maxRefusedBody))
}

// maxRefusedHead and maxRefusedBody bound what is read of a refused
// connection's request.
const (
	maxRefusedHead = 64 << 10
	maxRefusedBody = 1 << 20
)
