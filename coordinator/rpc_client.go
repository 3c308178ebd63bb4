package coordinator

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/klauspost/compress/s2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/strata-db/strata/internal/freelist"
	"github.com/strata-db/strata/tsdb/models"
)

// RPCClient sends shard writes to other data nodes over net/http with a
// pool of keep-alive connections per peer. It implements ShardWriter and
// is safe for concurrent use. Node ids are resolved to RPC addresses
// through the meta state on every call, so address changes apply at once.
type RPCClient struct {
	cfg       Config
	state     MetaState
	transport *http.Transport
	client    *http.Client
	logger    *slog.Logger
	metrics   *rpcClientMetrics
	scratch   freelist.List[sendScratch]
}

// sendScratch is the buffers of one shard-write RPC. Each role has its own
// buffer, so neither is ever handed a buffer sized for the other.
type sendScratch struct {
	batch []byte // the encoded point batch
	comp  []byte // its s2 encoding, with room for s2.MaxEncodedLen(len(batch))
}

// maxIdleRPCBuffer is the largest buffer capacity an idle scratch keeps (a
// 5,000-line TSBS batch encodes to 1.8 MB); a larger one, grown by an
// unusually large batch, is dropped when the request is done.
const maxIdleRPCBuffer = 8 << 20

func (s *sendScratch) trim() {
	if cap(s.batch) > maxIdleRPCBuffer {
		s.batch = nil
	}
	if cap(s.comp) > maxIdleRPCBuffer {
		s.comp = nil
	}
}

// NewRPCClient returns an RPCClient. A nil logger discards; a nil reg
// registers nothing. Call Close to drop pooled connections.
func NewRPCClient(cfg Config, state MetaState, logger *slog.Logger, reg prometheus.Registerer) *RPCClient {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	dialer := &net.Dialer{Timeout: cfg.RPCDialTimeout.D(), KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		DialContext:           dialer.DialContext,
		MaxIdleConnsPerHost:   cfg.RPCMaxIdleConnsPerPeer,
		MaxConnsPerHost:       cfg.ClientConnsPerPeer(),
		IdleConnTimeout:       cfg.RPCIdleConnTimeout.D(),
		ResponseHeaderTimeout: cfg.RPCTimeout.D(),
		DisableCompression:    true,
	}
	f := promauto.With(reg)
	return &RPCClient{
		cfg:       cfg,
		state:     state,
		transport: tr,
		client:    &http.Client{Transport: tr},
		logger:    logger,
		metrics: &rpcClientMetrics{
			requests: f.NewCounterVec(prometheus.CounterOpts{Namespace: metricsNamespace, Subsystem: metricsSubsystem,
				Name: "rpc_client_requests_total",
				Help: "Shard write RPCs sent, by result (ok, partial, error)."}, []string{"result"}),
			sentBytes: f.NewCounter(prometheus.CounterOpts{Namespace: metricsNamespace, Subsystem: metricsSubsystem,
				Name: "rpc_client_sent_bytes_total",
				Help: "Request body bytes of shard write RPCs (after compression)."}),
			duration: f.NewHistogram(prometheus.HistogramOpts{Namespace: metricsNamespace, Subsystem: metricsSubsystem,
				Name:    "rpc_client_duration_seconds",
				Help:    "Duration of shard write RPCs.",
				Buckets: prometheus.ExponentialBuckets(0.0002, 2, 16)}),
		},
		scratch: freelist.New[sendScratch](),
	}
}

// WrapTransport puts wrap around the client's transport, e.g. to sign every
// request (internal/nodeauth). Call it before the first request.
func (c *RPCClient) WrapTransport(wrap func(http.RoundTripper) http.RoundTripper) {
	c.client.Transport = wrap(c.transport)
}

type rpcClientMetrics struct {
	requests  *prometheus.CounterVec
	sentBytes prometheus.Counter
	duration  prometheus.Histogram
}

// WriteShard encodes points and writes them to shard shardID on node
// nodeID. It returns nil, a *PartialWriteError when the peer dropped
// points, an *RPCError for another answer (unwrapping to
// ErrShardNotFound, ErrProtocolVersion...), or a transport error
// (wrapping context.DeadlineExceeded on a timeout). points are not used
// after it returns.
func (c *RPCClient) WriteShard(ctx context.Context, nodeID, shardID uint64, points []models.Point) error {
	sc := c.scratch.Get()
	sc.batch = AppendPoints(sc.batch[:0], points)
	return c.send(ctx, nodeID, shardID, sc, sc.batch)
}

// WriteShardBatch writes a batch already encoded by AppendPoints (as
// hinted handoff stores them) to shard shardID on node nodeID, with the
// same answers as WriteShard. batch is not used after it returns.
func (c *RPCClient) WriteShardBatch(ctx context.Context, nodeID, shardID uint64, batch []byte) error {
	sc := c.scratch.Get()
	if !c.cfg.RPCCompression {
		// The transport may read the body after this returns: copy it.
		sc.batch = append(sc.batch[:0], batch...)
		batch = sc.batch
	}
	// Compressed, only the s2 output (in sc) is the body, and batch is
	// read only before the request is sent.
	return c.send(ctx, nodeID, shardID, sc, batch)
}

// send posts batch, which is sc.batch or, with compression on, any slice
// not used after send returns. sc goes back to the free list once the
// transport is done with it.
func (c *RPCClient) send(ctx context.Context, nodeID, shardID uint64, sc *sendScratch, batch []byte) error {
	start := time.Now()
	err := c.roundTrip(ctx, nodeID, shardID, sc, batch)
	c.metrics.duration.Observe(time.Since(start).Seconds())
	switch err.(type) {
	case nil:
		c.metrics.requests.WithLabelValues("ok").Inc()
	case *PartialWriteError:
		c.metrics.requests.WithLabelValues("partial").Inc()
	default:
		c.metrics.requests.WithLabelValues("error").Inc()
	}
	return err
}

func (c *RPCClient) roundTrip(ctx context.Context, nodeID, shardID uint64, sc *sendScratch, batch []byte) error {
	body := &pooledBody{free: c.scratch, sc: sc}
	defer body.Close() // the transport closes it too; the first Close wins
	data := c.state.Data()
	if data == nil {
		return fmt.Errorf("write shard %d to node %d: %w", shardID, nodeID, ErrMetaNotReady)
	}
	node := data.DataNode(nodeID)
	if node == nil {
		return fmt.Errorf("write shard %d to node %d: %w", shardID, nodeID, ErrNodeNotFound)
	}
	encoding := ""
	payload := batch
	if c.cfg.RPCCompression {
		// s2.Encode allocates unless dst has room for the worst case.
		if n := s2.MaxEncodedLen(len(batch)); n > cap(sc.comp) {
			sc.comp = make([]byte, withHeadroom(n))
		}
		sc.comp = s2.Encode(sc.comp[:cap(sc.comp)], batch)
		payload = sc.comp
		encoding = RPCEncodingS2
		if len(sc.comp) >= len(batch) {
			// Incompressible: send it as is, so the body is never longer
			// than the batch (the peer's rpc-max-body-size bounds both).
			sc.comp = append(sc.comp[:0], batch...)
			payload, encoding = sc.comp, ""
		}
	}
	body.r.Reset(payload)

	ctx, cancel := context.WithTimeout(ctx, c.cfg.RPCTimeout.D())
	defer cancel()
	url := "http://" + node.RPCAddr + RPCShardWritePath + "?shard=" + strconv.FormatUint(shardID, 10)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, body)
	if err != nil {
		return fmt.Errorf("write shard %d to node %d: build request: %w", shardID, nodeID, err)
	}
	req.ContentLength = int64(len(payload))
	req.Header.Set(RPCVersionHeader, rpcVersionString)
	req.Header.Set("Content-Type", RPCContentType)
	if encoding != "" {
		req.Header.Set("Content-Encoding", encoding)
	}
	c.metrics.sentBytes.Add(float64(req.ContentLength))
	resp, err := c.client.Do(req)
	if err != nil {
		return fmt.Errorf("write shard %d to node %d at %s: %w", shardID, nodeID, node.RPCAddr, err)
	}
	defer func() {
		// Drain a little so the connection goes back to the pool.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxRPCAnswerSize))
		resp.Body.Close()
	}()
	if resp.StatusCode == http.StatusNoContent {
		return nil
	}
	var ans rpcAnswer
	raw, rerr := io.ReadAll(io.LimitReader(resp.Body, maxRPCAnswerSize))
	if rerr != nil || json.Unmarshal(raw, &ans) != nil {
		ans = rpcAnswer{Error: string(bytes.TrimSpace(raw))}
	}
	if resp.StatusCode == http.StatusOK && ans.Code == rpcCodePartialWrite {
		return &PartialWriteError{Reason: partialReason(&rpcMessage{ans.Error}), Dropped: ans.Dropped}
	}
	return fmt.Errorf("write shard %d to node %d at %s: %w", shardID, nodeID, node.RPCAddr,
		&RPCError{NodeID: nodeID, StatusCode: resp.StatusCode, Code: ans.Code, Message: ans.Error})
}

// rpcMessage carries a peer's message as an error for partialReason.
type rpcMessage struct{ s string }

func (m *rpcMessage) Error() string { return m.s }

// Close drops the pooled idle connections. In-flight calls finish.
func (c *RPCClient) Close() error {
	c.transport.CloseIdleConnections()
	return nil
}

// pooledBody is a request body over a scratch's buffer; it returns the
// scratch to the free list on the first Close. net/http may close a
// request body from another goroutine, even after Do returns, so reads and
// Close are serialized.
type pooledBody struct {
	mu   sync.Mutex // protects r, sc
	r    bytes.Reader
	sc   *sendScratch
	free freelist.List[sendScratch]
}

func (b *pooledBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.sc == nil {
		return 0, io.EOF
	}
	return b.r.Read(p)
}

func (b *pooledBody) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.sc != nil {
		b.r.Reset(nil)
		b.sc.trim()
		b.free.Put(b.sc)
		b.sc = nil
	}
	return nil
}
