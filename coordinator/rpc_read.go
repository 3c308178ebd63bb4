package coordinator

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/influxdata/influxql"

	"github.com/strata-db/strata/coordinator/query"
	"github.com/strata-db/strata/tsdb/models"
)

// Internode shard-read RPCs (see docs/wire.md, "Shard-read RPCs"). They
// share the write RPC's listener, protocol version header and limits:
//
//	POST /rpc/v1/shard/scan     JSON request → 200 scan stream (frames)
//	POST /rpc/v1/shard/meta     JSON request → 200 JSON MetaResult
//	POST /rpc/v1/shard/delete   JSON request → 204
//
// A request that fails validation is answered like a shard write (JSON
// body with a stable code); a valid scan is answered 200 at once, and any
// later failure, a missing shard included, is an error frame.
const (
	// RPCShardScanPath is where RPCHandler serves shard scans.
	RPCShardScanPath = "/rpc/v1/shard/scan"
	// RPCShardMetaPath is where RPCHandler serves shard metadata.
	RPCShardMetaPath = "/rpc/v1/shard/meta"
	// RPCShardDeletePath is where RPCHandler serves shard deletes.
	RPCShardDeletePath = "/rpc/v1/shard/delete"
	// RPCScanContentType is the media type of a scan stream.
	RPCScanContentType = "application/x-strata-scan-stream"
)

// ErrCorruptStream wraps every failure to decode a scan stream.
var ErrCorruptStream = errors.New("corrupt scan stream")

const (
	// maxReadRequestSize bounds the JSON body of a read or delete request.
	maxReadRequestSize = 1 << 20
	// scanPartTarget is the payload size past which a series is continued
	// in another frame.
	scanPartTarget = 256 << 10
	// maxScanFramePayload bounds a frame payload on the decoder: a part
	// stops growing at scanPartTarget plus one value, and a value is at
	// most a 64 KiB string in line protocol; this leaves a wide margin.
	maxScanFramePayload = 16 << 20

	frameSeries = 'S'
	frameEnd    = 'E'
	frameError  = 'X'
	// frameHeartbeat (empty) says the scan is still running.
	frameHeartbeat = 'H'

	frameHeaderSize = 5 // type, uint32 LE payload length
	frameCRCSize    = 4

	colPoints  = 0
	colWindows = 1

	partMore     = 1 // flags bit: the next frame continues this series
	partFiltered = 2 // flags bit: the series holds only the rows its Filter passes

	// scanFlushInterval is the longest a scan holds encoded frames back,
	// and the longest it stays silent (heartbeats); it must stay well
	// below the client's idle timeout (rpc-timeout, 10 s by default).
	scanFlushInterval = time.Second
)

// scanRequestWire is the JSON body of a scan request.
type scanRequestWire struct {
	Shard           uint64      `json:"shard"`
	Database        string      `json:"db"`
	RetentionPolicy string      `json:"rp"`
	Measurement     string      `json:"measurement"`
	Condition       string      `json:"condition,omitempty"`
	Fields          []string    `json:"fields"`
	Min             int64       `json:"min"`
	Max             int64       `json:"max"`
	Window          *windowWire `json:"window,omitempty"`
	Filter          string      `json:"filter,omitempty"`
	// MarkFiltered says the client reads the partFiltered flag; a client
	// that does not send it (an older one) gets no such bit, which it
	// would reject.
	MarkFiltered bool `json:"mark_filtered,omitempty"`
}

type windowWire struct {
	Every      int64 `json:"every"`
	Offset     int64 `json:"offset"`
	Aggregates uint8 `json:"aggregates"`
}

// metaRequestWire is the JSON body of a metadata request.
type metaRequestWire struct {
	Shard       uint64 `json:"shard"`
	Kind        uint8  `json:"kind"`
	Measurement string `json:"measurement,omitempty"`
	TagKey      string `json:"tag_key,omitempty"`
	Condition   string `json:"condition,omitempty"`
}

// metaResultWire is the JSON answer of a metadata request.
type metaResultWire struct {
	Values []string       `json:"values,omitempty"`
	Fields []fieldKeyWire `json:"fields,omitempty"`
}

type fieldKeyWire struct {
	Name string `json:"name"`
	Type uint8  `json:"type"`
}

// deleteRequestWire is the JSON body of a delete request.
type deleteRequestWire struct {
	Shard       uint64 `json:"shard"`
	Kind        uint8  `json:"kind"`
	Measurement string `json:"measurement,omitempty"`
	Condition   string `json:"condition,omitempty"`
	Min         int64  `json:"min"`
	Max         int64  `json:"max"`
}

// condString is the wire form of a condition ("" for none).
func condString(e influxql.Expr) string {
	if e == nil {
		return ""
	}
	return e.String()
}

// parseCond re-parses a wire condition.
func parseCond(s string) (influxql.Expr, error) {
	if s == "" {
		return nil, nil
	}
	e, err := influxql.ParseExpr(s)
	if err != nil {
		return nil, fmt.Errorf("parse condition %q: %w: %w", s, ErrInvalidCondition, err)
	}
	return e, nil
}

func (w *scanRequestWire) request() (query.ScanRequest, error) {
	cond, err := parseCond(w.Condition)
	if err != nil {
		return query.ScanRequest{}, err
	}
	filter, err := parseCond(w.Filter)
	if err != nil {
		return query.ScanRequest{}, err
	}
	req := query.ScanRequest{Database: w.Database, RetentionPolicy: w.RetentionPolicy, Measurement: w.Measurement,
		Condition: cond, Fields: w.Fields, Min: w.Min, Max: w.Max, Filter: filter}
	if w.Window != nil {
		req.Window = &query.WindowRequest{Every: w.Window.Every, Offset: w.Window.Offset, Aggregates: query.AggregateSet(w.Window.Aggregates)}
	}
	return req, nil
}

// SetShardReader makes the handler serve the shard-read RPCs (scan,
// metadata, delete) from r; without it they answer 404. Call it before
// the handler serves requests.
func (h *RPCHandler) SetShardReader(r ShardReader) { h.reader = r }

// serveRead serves the read RPCs; the method and version are checked.
func (h *RPCHandler) serveRead(w http.ResponseWriter, r *http.Request) {
	if h.reader == nil {
		h.answer(w, http.StatusNotFound, rpcCodeBadRequest, "this node serves no shard reads", 0)
		return
	}
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(h.cfg.RPCReadTimeout.D()))
	body, err := readRequestBody(r)
	if err != nil {
		h.failRead(w, 0, err)
		return
	}
	switch r.URL.Path {
	case RPCShardScanPath:
		var wr scanRequestWire
		if err := json.Unmarshal(body, &wr); err != nil {
			h.failRead(w, 0, fmt.Errorf("decode scan request: %w: %w", ErrInvalidReadRequest, err))
			return
		}
		req, err := wr.request()
		if err == nil {
			err = validateScan(&req)
		}
		if err != nil {
			h.failRead(w, wr.Shard, err)
			return
		}
		h.serveScan(w, r, wr.Shard, &req, wr.MarkFiltered)
	case RPCShardMetaPath:
		var wr metaRequestWire
		if err := json.Unmarshal(body, &wr); err != nil {
			h.failRead(w, 0, fmt.Errorf("decode metadata request: %w: %w", ErrInvalidReadRequest, err))
			return
		}
		cond, err := parseCond(wr.Condition)
		if err != nil {
			h.failRead(w, wr.Shard, err)
			return
		}
		res, err := h.reader.ShardMeta(r.Context(), wr.Shard, &MetaRequest{Kind: MetaKind(wr.Kind), Measurement: wr.Measurement, TagKey: wr.TagKey, Condition: cond})
		if err != nil {
			h.failRead(w, wr.Shard, err)
			return
		}
		out := metaResultWire{Values: res.Values}
		for _, f := range res.Fields {
			out.Fields = append(out.Fields, fieldKeyWire{Name: f.Name, Type: uint8(f.Type)})
		}
		h.metrics.requests.WithLabelValues("ok").Inc()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(out)
	case RPCShardDeletePath:
		var wr deleteRequestWire
		if err := json.Unmarshal(body, &wr); err != nil {
			h.failRead(w, 0, fmt.Errorf("decode delete request: %w: %w", ErrInvalidReadRequest, err))
			return
		}
		cond, err := parseCond(wr.Condition)
		if err != nil {
			h.failRead(w, wr.Shard, err)
			return
		}
		if err := h.reader.DeleteFromShard(r.Context(), wr.Shard, &DeleteRequest{Kind: DeleteKind(wr.Kind),
			Measurement: wr.Measurement, Condition: cond, Min: wr.Min, Max: wr.Max}); err != nil {
			h.failRead(w, wr.Shard, err)
			return
		}
		h.metrics.requests.WithLabelValues("ok").Inc()
		w.WriteHeader(http.StatusNoContent)
	}
}

// serveScan streams the scan of one shard as frames. The answer starts at
// once (so a scan that finds its first series late never trips the
// client's response-header timeout), and while the scan runs a heartbeat
// frame goes out whenever nothing was flushed for scanFlushInterval, so
// the client's idle timeout catches a dead peer or link but not a slow
// scan. Frames are flushed at least that often too. markFiltered says the
// client reads the partFiltered flag.
func (h *RPCHandler) serveScan(w http.ResponseWriter, r *http.Request, shardID uint64, req *query.ScanRequest, markFiltered bool) {
	w.Header().Set("Content-Type", RPCScanContentType)
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	bw := bufio.NewWriterSize(w, 64<<10)
	var (
		mu        sync.Mutex // protects enc, bw, lastFlush, first
		enc       = scanEncoder{w: bw, markFiltered: markFiltered}
		lastFlush time.Time
		first     = true // the first series is flushed at once
	)
	flush := func(now time.Time) error {
		lastFlush = now
		if err := bw.Flush(); err != nil {
			return err
		}
		return rc.Flush()
	}
	mu.Lock()
	_ = flush(time.Now()) // the status line and headers
	mu.Unlock()

	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		ticker := time.NewTicker(scanFlushInterval / 2)
		defer ticker.Stop()
		for {
			select {
			case <-stop:
				return
			case now := <-ticker.C:
				mu.Lock()
				if now.Sub(lastFlush) >= scanFlushInterval/2 {
					if enc.writeHeartbeat() == nil {
						_ = flush(now)
					}
				}
				mu.Unlock()
			}
		}
	})
	err := h.reader.ScanShard(r.Context(), shardID, req, func(b *query.SeriesBatch) error {
		mu.Lock()
		defer mu.Unlock()
		if err := enc.writeSeries(b); err != nil {
			return err
		}
		if now := time.Now(); first || now.Sub(lastFlush) >= scanFlushInterval {
			first = false
			return flush(now)
		}
		return nil
	})
	close(stop)
	wg.Wait()
	if err != nil {
		code, status := readCodeOf(err)
		h.metrics.requests.WithLabelValues(code).Inc()
		if status >= 500 {
			h.logger.Warn("shard scan rpc failed", "shard_id", shardID, "err", err)
		}
		_ = enc.writeError(code, err.Error())
	} else {
		h.metrics.requests.WithLabelValues("ok").Inc()
		_ = enc.writeEnd()
	}
	_ = bw.Flush()
}

// validateScan rejects, before the stream starts, a scan every owner
// would reject.
func validateScan(req *query.ScanRequest) error {
	if req.Window != nil && req.Window.Every <= 0 {
		return fmt.Errorf("window every %d: %w", req.Window.Every, ErrInvalidReadRequest)
	}
	_, err := TagExprFromCondition(req.Condition)
	return err
}

// readRequestBody reads a read RPC's JSON body, bounded.
func readRequestBody(r *http.Request) ([]byte, error) {
	if r.ContentLength > maxReadRequestSize {
		return nil, fmt.Errorf("request of %d bytes, limit %d: %w", r.ContentLength, maxReadRequestSize, ErrBodyTooLarge)
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, maxReadRequestSize+1))
	if err != nil {
		return nil, fmt.Errorf("read request: %w: %w", ErrInvalidReadRequest, err)
	}
	if len(b) > maxReadRequestSize {
		return nil, fmt.Errorf("request over %d bytes: %w", maxReadRequestSize, ErrBodyTooLarge)
	}
	return b, nil
}

// readCodeOf is rpcCodeOf for the read RPCs' own errors too.
func readCodeOf(err error) (string, int) {
	if errors.Is(err, ErrInvalidCondition) || errors.Is(err, ErrInvalidReadRequest) {
		return rpcCodeBadRequest, http.StatusBadRequest
	}
	return rpcCodeOf(err)
}

func (h *RPCHandler) failRead(w http.ResponseWriter, shardID uint64, err error) {
	code, status := readCodeOf(err)
	if status == http.StatusRequestEntityTooLarge {
		w.Header().Set("Connection", "close")
	}
	if status >= 500 {
		h.logger.Warn("shard read rpc failed", "shard_id", shardID, "err", err)
	} else {
		h.logger.Debug("shard read rpc rejected", "shard_id", shardID, "code", code, "err", err)
	}
	h.answer(w, status, code, err.Error(), 0)
}

// scanEncoder writes a scan stream: series frames, then an end or an
// error frame. Not safe for concurrent use.
type scanEncoder struct {
	w io.Writer
	// markFiltered sets partFiltered on the parts of a Filtered batch.
	markFiltered bool
	flags        byte   // partFiltered or 0, for the current series
	frame        []byte // header, payload being built
	ncols        int    // columns in the current part
	colAt        int    // offset of the current column's count
	colN         uint32 // items in the current column
}

// startPart begins a series frame for key.
func (e *scanEncoder) startPart(key string) {
	e.frame = append(e.frame[:0], frameSeries, 0, 0, 0, 0)
	e.frame = append(e.frame, 0) // flags, set by endPart
	e.frame = binary.AppendUvarint(e.frame, uint64(len(key)))
	e.frame = append(e.frame, key...)
	e.frame = append(e.frame, 0, 0, 0, 0) // column count, patched
	e.ncols = 0
}

func (e *scanEncoder) startColumn(name string, typ models.FieldType, kind byte) {
	e.frame = binary.AppendUvarint(e.frame, uint64(len(name)))
	e.frame = append(e.frame, name...)
	e.frame = append(e.frame, byte(typ), kind)
	e.colAt = len(e.frame)
	e.frame = append(e.frame, 0, 0, 0, 0)
	e.colN = 0
	e.ncols++
}

func (e *scanEncoder) endColumn() {
	binary.LittleEndian.PutUint32(e.frame[e.colAt:], e.colN)
}

// endPart patches the part's counts and writes it as a frame.
func (e *scanEncoder) endPart(key string, more bool) error {
	p := frameHeaderSize
	e.frame[p] = e.flags
	if more {
		e.frame[p] |= partMore
	}
	p += 1 + uvarintLen(uint64(len(key))) + len(key)
	binary.LittleEndian.PutUint32(e.frame[p:], uint32(e.ncols))
	return e.flush()
}

// flush writes e.frame (header and payload) with its length and CRC.
func (e *scanEncoder) flush() error {
	binary.LittleEndian.PutUint32(e.frame[1:], uint32(len(e.frame)-frameHeaderSize))
	e.frame = binary.LittleEndian.AppendUint32(e.frame, crc32.Checksum(e.frame, castagnoli))
	_, err := e.w.Write(e.frame)
	return err
}

// writeSeries writes one series batch, in several frames when large.
func (e *scanEncoder) writeSeries(b *query.SeriesBatch) error {
	e.flags = 0
	if e.markFiltered && b.Filtered {
		e.flags = partFiltered
	}
	e.startPart(b.Key)
	for i := range b.Fields {
		col := &b.Fields[i]
		kind, n := byte(colPoints), len(col.Points)
		if len(col.Windows) > 0 {
			kind, n = colWindows, len(col.Windows)
		}
		e.startColumn(col.Name, col.Type, kind)
		var prev int64
		for j := range n {
			if len(e.frame) >= scanPartTarget && e.colN > 0 {
				e.endColumn()
				if err := e.endPart(b.Key, true); err != nil {
					return err
				}
				e.startPart(b.Key)
				e.startColumn(col.Name, col.Type, kind)
				prev = 0
			}
			if kind == colPoints {
				p := &col.Points[j]
				e.frame = binary.AppendVarint(e.frame, p.Time-prev)
				prev = p.Time
				e.frame = models.AppendValue(e.frame, p.Value)
			} else {
				w := &col.Windows[j]
				e.frame = binary.AppendVarint(e.frame, w.Start)
				e.frame = binary.AppendVarint(e.frame, w.Count)
				for _, v := range [...]models.Value{w.Sum, w.Min, w.Max, w.First, w.Last} {
					e.frame = models.AppendValue(e.frame, v)
				}
				e.frame = binary.AppendVarint(e.frame, w.FirstTime)
				e.frame = binary.AppendVarint(e.frame, w.LastTime)
			}
			e.colN++
		}
		e.endColumn()
	}
	return e.endPart(b.Key, false)
}

func (e *scanEncoder) writeHeartbeat() error {
	e.frame = append(e.frame[:0], frameHeartbeat, 0, 0, 0, 0)
	return e.flush()
}

func (e *scanEncoder) writeEnd() error {
	e.frame = append(e.frame[:0], frameEnd, 0, 0, 0, 0)
	return e.flush()
}

func (e *scanEncoder) writeError(code, msg string) error {
	e.frame = append(e.frame[:0], frameError, 0, 0, 0, 0)
	b, _ := json.Marshal(rpcAnswer{Code: code, Error: msg})
	e.frame = append(e.frame, b...)
	return e.flush()
}

func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

// readScanStream decodes a scan stream from r, calling fn for every
// complete series (its batch valid only during the call) and onFrame
// after every frame. It returns nil after the end frame, an *RPCError for
// an error frame, fn's error as is, or an error wrapping ErrCorruptStream
// (or io.ErrUnexpectedEOF when the stream stops before its end frame).
func readScanStream(r io.Reader, onFrame func(), fn func(*query.SeriesBatch) error) error {
	var (
		hdr     [frameHeaderSize]byte
		buf     []byte
		batch   query.SeriesBatch
		pending bool // batch awaits more parts
	)
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("read scan frame: %w", err)
		}
		n := binary.LittleEndian.Uint32(hdr[1:])
		if n > maxScanFramePayload {
			return fmt.Errorf("scan frame of %d bytes, limit %d: %w", n, maxScanFramePayload, ErrCorruptStream)
		}
		need := int(n) + frameCRCSize
		if cap(buf) < need {
			buf = make([]byte, need)
		}
		buf = buf[:need]
		if _, err := io.ReadFull(r, buf); err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("read scan frame: %w", err)
		}
		payload := buf[:n]
		crc := crc32.Update(crc32.Checksum(hdr[:], castagnoli), castagnoli, payload)
		if crc != binary.LittleEndian.Uint32(buf[n:]) {
			return fmt.Errorf("scan frame checksum mismatch: %w", ErrCorruptStream)
		}
		if onFrame != nil {
			onFrame()
		}
		switch hdr[0] {
		case frameSeries:
			more, err := decodeSeriesPart(payload, &batch, pending)
			if err != nil {
				return err
			}
			pending = more
			if !more {
				if err := fn(&batch); err != nil {
					return err
				}
			}
		case frameHeartbeat:
			if n != 0 {
				return fmt.Errorf("heartbeat frame with %d payload bytes: %w", n, ErrCorruptStream)
			}
		case frameEnd:
			if n != 0 || pending {
				return fmt.Errorf("end frame with %d payload bytes, series pending %t: %w", n, pending, ErrCorruptStream)
			}
			return nil
		case frameError:
			var ans rpcAnswer
			if err := json.Unmarshal(payload, &ans); err != nil {
				return fmt.Errorf("error frame: %w: %w", ErrCorruptStream, err)
			}
			return &RPCError{StatusCode: http.StatusOK, Code: ans.Code, Message: ans.Error}
		default:
			return fmt.Errorf("unknown scan frame type %#x: %w", hdr[0], ErrCorruptStream)
		}
	}
}

// partReader reads the fields of a series part, remembering the first
// error.
type partReader struct {
	b   []byte
	err error
}

func (p *partReader) fail(what string) {
	if p.err == nil {
		p.err = fmt.Errorf("series frame: bad %s: %w", what, ErrCorruptStream)
	}
	p.b = nil
}

func (p *partReader) byte1(what string) byte {
	if len(p.b) < 1 {
		p.fail(what)
		return 0
	}
	c := p.b[0]
	p.b = p.b[1:]
	return c
}

func (p *partReader) u32(what string) uint32 {
	if len(p.b) < 4 {
		p.fail(what)
		return 0
	}
	v := binary.LittleEndian.Uint32(p.b)
	p.b = p.b[4:]
	return v
}

func (p *partReader) uvarint(what string) uint64 {
	v, n := binary.Uvarint(p.b)
	if n <= 0 {
		p.fail(what)
		return 0
	}
	p.b = p.b[n:]
	return v
}

func (p *partReader) varint(what string) int64 {
	v, n := binary.Varint(p.b)
	if n <= 0 {
		p.fail(what)
		return 0
	}
	p.b = p.b[n:]
	return v
}

// bytes returns a length-prefixed byte string, aliasing the frame.
func (p *partReader) bytes(what string) []byte {
	l := p.uvarint(what)
	if p.err != nil || l > uint64(len(p.b)) {
		p.fail(what)
		return nil
	}
	b := p.b[:l:l]
	p.b = p.b[l:]
	return b
}

func (p *partReader) value(what string) models.Value {
	v, n, err := models.ReadValue(p.b)
	if err != nil {
		p.fail(what)
		return models.Value{}
	}
	p.b = p.b[n:]
	if v.Type == models.FieldTypeString {
		v.S = append([]byte(nil), v.S...) // the frame buffer is reused
	}
	return v
}

// Smallest encodings, bounding counts by the bytes left.
const (
	minColumnSize    = 1 + 1 + 1 + 4       // name length, type, kind, count
	minScanPointSize = 1 + 1               // time, type
	minWindowSize    = 1 + 1 + 5*1 + 1 + 1 // start, count, 5 types, times
)

// decodeSeriesPart decodes one series frame payload into b: a new series
// when !continuing, else the continuation of b's series (same key), whose
// first column may extend b's last one. It reports whether another part
// of the series follows.
func decodeSeriesPart(payload []byte, b *query.SeriesBatch, continuing bool) (more bool, err error) {
	p := partReader{b: payload}
	flags := p.byte1("flags")
	if flags&^(partMore|partFiltered) != 0 {
		return false, fmt.Errorf("series frame flags %#x: %w", flags, ErrCorruptStream)
	}
	key := p.bytes("key")
	if p.err != nil {
		return false, p.err
	}
	filtered := flags&partFiltered != 0
	if continuing {
		if string(key) != b.Key || filtered != b.Filtered {
			return false, fmt.Errorf("series frame continues %q (filtered %t) with %q (filtered %t): %w", b.Key, b.Filtered, key, filtered, ErrCorruptStream)
		}
	} else {
		owned := append([]byte(nil), key...)
		_, tags, err := models.ParseSeriesKey(owned)
		if err != nil {
			return false, fmt.Errorf("series frame: %w: %w", ErrCorruptStream, err)
		}
		b.Key, b.Tags, b.Fields, b.Filtered = string(owned), tags, b.Fields[:0], filtered
	}
	ncols := p.u32("column count")
	if p.err != nil || uint64(ncols) > uint64(len(p.b)/minColumnSize) {
		return false, fmt.Errorf("series frame: column count %d for %d bytes: %w", ncols, len(p.b), ErrCorruptStream)
	}
	for c := range ncols {
		name := p.bytes("column name")
		typ := models.FieldType(p.byte1("column type"))
		kind := p.byte1("column kind")
		n := p.u32("column length")
		if p.err != nil {
			return false, p.err
		}
		if typ < models.FieldTypeFloat || typ > models.FieldTypeBoolean || kind > colWindows {
			return false, fmt.Errorf("series frame: column type %d kind %d: %w", typ, kind, ErrCorruptStream)
		}
		minSize := minScanPointSize
		if kind == colWindows {
			minSize = minWindowSize
		}
		if uint64(n) > uint64(len(p.b)/minSize) {
			return false, fmt.Errorf("series frame: column length %d for %d bytes: %w", n, len(p.b), ErrCorruptStream)
		}
		var col *query.FieldColumn
		if continuing && c == 0 && len(b.Fields) > 0 {
			last := &b.Fields[len(b.Fields)-1]
			if last.Name == string(name) && last.Type == typ && (kind == colWindows) == (len(last.Windows) > 0) {
				col = last
			}
		}
		if col == nil {
			b.Fields = append(b.Fields, query.FieldColumn{Name: string(name), Type: typ})
			col = &b.Fields[len(b.Fields)-1]
		}
		var prev int64
		if kind == colPoints {
			col.Points = slices.Grow(col.Points, int(n))
			for range n {
				t := prev + p.varint("time")
				prev = t
				col.Points = append(col.Points, query.Point{Time: t, Value: p.value("value")})
			}
		} else {
			col.Windows = slices.Grow(col.Windows, int(n))
			for range n {
				var w query.Window
				w.Start = p.varint("window start")
				w.Count = p.varint("window count")
				w.Sum, w.Min, w.Max = p.value("sum"), p.value("min"), p.value("max")
				w.First, w.Last = p.value("first"), p.value("last")
				w.FirstTime = p.varint("first time")
				w.LastTime = p.varint("last time")
				col.Windows = append(col.Windows, w)
			}
		}
		if p.err != nil {
			return false, p.err
		}
	}
	if len(p.b) != 0 {
		return false, fmt.Errorf("series frame: %d bytes after the last column: %w", len(p.b), ErrCorruptStream)
	}
	return flags&partMore != 0, nil
}
