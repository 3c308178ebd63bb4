package coordinator

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"
	"unsafe"

	"github.com/klauspost/compress/s2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/strata-db/strata/internal/freelist"
	"github.com/strata-db/strata/tsdb/models"
)

// RPCHandler serves shard writes from other data nodes (RPCShardWritePath)
// into the local store and, once SetShardReader was called, the
// shard-read RPCs (RPCShardScanPath, RPCShardMetaPath, RPCShardDeletePath).
// The data node mounts it on its RPC listener. It is safe for concurrent
// use.
//
// Answers: 204 written; 200 with code "partial_write" and the dropped
// count when the store rejected some points; 400 "protocol_version" for
// another protocol or batch version, "corrupt_batch" for an undecodable
// body, "bad_request" for a bad shard parameter or encoding; 404
// "shard_not_found"; 413 "body_too_large" (with Connection: close, so only
// that connection is lost); 500 "internal"; 503 "busy" when
// Config.RPCMaxConcurrentWrites writes stayed in progress for the whole
// RPCReadTimeout (the body is not read).
type RPCHandler struct {
	cfg     Config
	store   TSDBStore
	reader  ShardReader // serves the read RPCs when set (SetShardReader)
	logger  *slog.Logger
	metrics *rpcHandlerMetrics
	scratch freelist.List[recvScratch]
	// writeSlots bounds the shard writes read, decoded and applied at once
	// (Config.RPCMaxConcurrentWrites); nil when unbounded.
	writeSlots chan struct{}
}

// recvScratch is what one shard-write request needs, kept across requests
// in a free list: a buffer per role (the body as received, which is
// s2-compressed by default, and its decoded form, several times larger), so
// neither role is handed a buffer sized for the other, and the decoder with
// its point slice.
type recvScratch struct {
	body    []byte
	decoded []byte
	dec     PointsDecoder
	points  []models.Point
}

// maxIdleDecoder is the largest decoder arrays plus point slice an idle
// recvScratch keeps: a 5,000-line TSBS batch (10 tags and 10 fields a
// point) needs 6 MB.
const maxIdleDecoder = 16 << 20

// release drops what was grown past the idle limits, and every reference
// into a buffer it drops, before s goes back to the free list. The
// decoder's arrays alias body or decoded, which stay with them otherwise.
func (s *recvScratch) release() {
	clear(s.points) // drop references to the body
	if cap(s.body) > maxIdleRPCBuffer || cap(s.decoded) > maxIdleRPCBuffer {
		s.dec.release()
		if cap(s.body) > maxIdleRPCBuffer {
			s.body = nil
		}
		if cap(s.decoded) > maxIdleRPCBuffer {
			s.decoded = nil
		}
	}
	if s.dec.retainedBytes()+cap(s.points)*int(unsafe.Sizeof(models.Point{})) > maxIdleDecoder {
		s.dec, s.points = PointsDecoder{}, nil
	}
}

type rpcHandlerMetrics struct {
	requests      *prometheus.CounterVec
	receivedBytes prometheus.Counter
}

// NewRPCHandler returns a handler writing into store. A nil logger
// discards; a nil reg registers nothing.
func NewRPCHandler(cfg Config, store TSDBStore, logger *slog.Logger, reg prometheus.Registerer) *RPCHandler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	f := promauto.With(reg)
	var slots chan struct{}
	if cfg.RPCMaxConcurrentWrites > 0 {
		slots = make(chan struct{}, cfg.RPCMaxConcurrentWrites)
	}
	return &RPCHandler{
		cfg:    cfg,
		store:  store,
		logger: logger,
		metrics: &rpcHandlerMetrics{
			requests: f.NewCounterVec(prometheus.CounterOpts{Namespace: metricsNamespace, Subsystem: metricsSubsystem,
				Name: "rpc_handler_requests_total",
				Help: "Shard RPCs served (writes, and the scan, metadata and delete reads), by answer code (ok, partial_write, shard_not_found, ...)."}, []string{"code"}),
			receivedBytes: f.NewCounter(prometheus.CounterOpts{Namespace: metricsNamespace, Subsystem: metricsSubsystem,
				Name: "rpc_handler_received_bytes_total",
				Help: "Request body bytes of shard write RPCs received (before decompression)."}),
		},
		scratch:    freelist.New[recvScratch](),
		writeSlots: slots,
	}
}

// ServeHTTP implements http.Handler.
func (h *RPCHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set(RPCVersionHeader, rpcVersionString)
	isRead := r.URL.Path == RPCShardScanPath || r.URL.Path == RPCShardMetaPath || r.URL.Path == RPCShardDeletePath
	if r.URL.Path != RPCShardWritePath && !isRead {
		h.answer(w, http.StatusNotFound, rpcCodeBadRequest, fmt.Sprintf("no rpc at %s", r.URL.Path), 0)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.answer(w, http.StatusMethodNotAllowed, rpcCodeBadRequest, "method must be POST", 0)
		return
	}
	if v := r.Header.Get(RPCVersionHeader); v != rpcVersionString {
		h.answer(w, http.StatusBadRequest, rpcCodeProtocolVersion,
			fmt.Sprintf("rpc protocol version %q not supported: this node speaks version %s", v, rpcVersionString), 0)
		return
	}
	if isRead {
		h.serveRead(w, r)
		return
	}
	shardID, err := strconv.ParseUint(r.URL.Query().Get("shard"), 10, 64)
	if err != nil {
		h.answer(w, http.StatusBadRequest, rpcCodeBadRequest, fmt.Sprintf("bad shard parameter: %v", err), 0)
		return
	}
	if !h.acquireWriteSlot(r) {
		h.answer(w, http.StatusServiceUnavailable, rpcCodeBusy,
			fmt.Sprintf("%d shard writes in progress (rpc-max-concurrent-writes) for %s", cap(h.writeSlots), h.cfg.RPCReadTimeout.D()), 0)
		return
	}
	defer h.releaseWriteSlot()
	// Not every ResponseWriter supports deadlines (httptest recorders do
	// not); the server's own timeouts then apply.
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(h.cfg.RPCReadTimeout.D()))

	sc := h.scratch.Get()
	defer func() {
		sc.release()
		h.scratch.Put(sc)
	}()
	body, err := h.readBody(r, &sc.body)
	if err != nil {
		h.fail(w, shardID, err)
		return
	}
	h.metrics.receivedBytes.Add(float64(len(body)))

	switch enc := r.Header.Get("Content-Encoding"); enc {
	case "", "identity":
	case RPCEncodingS2:
		n, err := s2.DecodedLen(body)
		if err != nil {
			h.fail(w, shardID, fmt.Errorf("s2 body: %w: %w", ErrCorruptBatch, err))
			return
		}
		if int64(n) > h.cfg.RPCMaxBodySize {
			h.fail(w, shardID, fmt.Errorf("s2 body decodes to %d bytes, limit %d: %w", n, h.cfg.RPCMaxBodySize, ErrBodyTooLarge))
			return
		}
		if cap(sc.decoded) < n {
			sc.decoded = make([]byte, withHeadroom(n))
		}
		if body, err = s2.Decode(sc.decoded[:n], body); err != nil {
			h.fail(w, shardID, fmt.Errorf("s2 body: %w: %w", ErrCorruptBatch, err))
			return
		}
	default:
		h.answer(w, http.StatusBadRequest, rpcCodeBadRequest, fmt.Sprintf("unsupported Content-Encoding %q", enc), 0)
		return
	}

	pts, err := sc.dec.Decode(body, sc.points)
	sc.points = pts
	if err != nil {
		h.fail(w, shardID, err)
		return
	}
	if rs, ok := h.store.(ReplicaStore); ok {
		err = rs.WriteReplicaToShard(r.Context(), shardID, pts, BatchAccepted(body))
	} else {
		err = h.store.WriteToShard(r.Context(), shardID, pts)
	}
	var pw PartialWriter
	switch {
	case err == nil:
		h.metrics.requests.WithLabelValues("ok").Inc()
		w.WriteHeader(http.StatusNoContent)
	case errors.As(err, &pw):
		h.answer(w, http.StatusOK, rpcCodePartialWrite, err.Error(), pw.PartialWrite())
	default:
		h.fail(w, shardID, err)
	}
}

// acquireWriteSlot waits, the body unread, until fewer than
// Config.RPCMaxConcurrentWrites shard writes are in progress, at most
// RPCReadTimeout or until the request ends. It reports whether it got a
// slot. A sender at consistency one may run far ahead of this node; its
// surplus requests wait here as encoded bytes rather than decoded batches.
func (h *RPCHandler) acquireWriteSlot(r *http.Request) bool {
	if h.writeSlots == nil {
		return true
	}
	select {
	case h.writeSlots <- struct{}{}:
		return true
	default:
	}
	timer := time.NewTimer(h.cfg.RPCReadTimeout.D())
	defer timer.Stop()
	select {
	case h.writeSlots <- struct{}{}:
		return true
	case <-timer.C:
		return false
	case <-r.Context().Done():
		return false
	}
}

func (h *RPCHandler) releaseWriteSlot() {
	if h.writeSlots != nil {
		<-h.writeSlots
	}
}

// readBody reads the request body into *bp, bounded by RPCMaxBodySize.
func (h *RPCHandler) readBody(r *http.Request, bp *[]byte) ([]byte, error) {
	limit := h.cfg.RPCMaxBodySize
	if r.ContentLength > limit {
		return nil, fmt.Errorf("body of %d bytes, limit %d: %w", r.ContentLength, limit, ErrBodyTooLarge)
	}
	if r.ContentLength >= 0 {
		n := int(r.ContentLength)
		if cap(*bp) < n {
			*bp = make([]byte, withHeadroom(n))
		}
		b := (*bp)[:n]
		if _, err := io.ReadFull(r.Body, b); err != nil {
			return nil, fmt.Errorf("read body: %w: %w", ErrCorruptBatch, err)
		}
		return b, nil
	}
	// Chunked: read up to one byte past the limit.
	buf := (*bp)[:0]
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		*bp = buf
		if int64(len(buf)) > limit {
			return nil, fmt.Errorf("body over %d bytes: %w", limit, ErrBodyTooLarge)
		}
		if errors.Is(err, io.EOF) {
			return buf, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read body: %w: %w", ErrCorruptBatch, err)
		}
	}
}

// fail answers err with its code; an oversize body also closes the
// connection so that its unread remainder is never parsed as a request.
func (h *RPCHandler) fail(w http.ResponseWriter, shardID uint64, err error) {
	code, status := rpcCodeOf(err)
	if status == http.StatusRequestEntityTooLarge {
		w.Header().Set("Connection", "close")
	}
	if status >= 500 {
		h.logger.Warn("shard write rpc failed", "shard_id", shardID, "err", err)
	} else {
		h.logger.Debug("shard write rpc rejected", "shard_id", shardID, "code", code, "err", err)
	}
	h.answer(w, status, code, err.Error(), 0)
}

func (h *RPCHandler) answer(w http.ResponseWriter, status int, code, msg string, dropped int) {
	h.metrics.requests.WithLabelValues(code).Inc()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(rpcAnswer{Code: code, Error: msg, Dropped: dropped})
}
