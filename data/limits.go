package data

import (
	"context"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
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
}

func newWriteLimiter(cfg HTTPConfig) *writeLimiter {
	l := &writeLimiter{maxQueued: int64(cfg.MaxEnqueuedWriteLimit), timeout: cfg.EnqueuedWriteTimeout.D()}
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
	release = func() { <-l.slots }
	select {
	case l.slots <- struct{}{}:
		return release, ""
	default:
	}
	if n := l.queued.Add(1); l.maxQueued > 0 && n > l.maxQueued {
		l.queued.Add(-1)
		return nil, msgQueueFull
	}
	defer l.queued.Add(-1)
	timer := time.NewTimer(l.timeout)
	defer timer.Stop()
	select {
	case l.slots <- struct{}{}:
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
