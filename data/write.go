package data

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/strata-db/strata/coordinator"
	"github.com/strata-db/strata/internal/clock"
	"github.com/strata-db/strata/internal/freelist"
	"github.com/strata-db/strata/meta"
	"github.com/strata-db/strata/tsdb/models"
)

// pointsWriter is what the write endpoints need from the coordinator.
type pointsWriter interface {
	WritePoints(ctx context.Context, db, rp string, level coordinator.ConsistencyLevel, points []models.Point) error
}

// errBodyTooLarge is answered with 413.
var errBodyTooLarge = errors.New("http: request body too large")

// writeBuffers pools what one write request needs: the body buffer and a
// line-protocol parser (whose points live until its next Parse).
type writeBuffers struct {
	body   bytes.Buffer
	parser models.Parser
}

// idleWriteBuffers keeps idle writeBuffers across GCs. A parse of a
// 5,000-line body holds about 10 MB, so buffers grown by an unusually large
// body are dropped rather than kept.
var idleWriteBuffers = freelist.New[writeBuffers]()

// maxIdleWriteBody is the largest body buffer capacity kept for reuse.
const maxIdleWriteBody = 8 << 20

// writeChunkLines is how many lines of a /write body are parsed and written
// at a time: the parse of a chunk of TSBS-like lines (10 tags, 10 fields)
// holds about 15 MB, whatever the body's size (up to max-body-size).
const writeChunkLines = 10_000

func putWriteBuffers(b *writeBuffers) {
	if b.body.Cap() > maxIdleWriteBody {
		return
	}
	idleWriteBuffers.Put(b)
}

// gzipReaders pools gzip readers across requests.
var gzipReaders sync.Pool

// serveWrite is InfluxDB 1.x's POST /write?db=&rp=&precision=&consistency=.
func (h *handler) serveWrite(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	h.write(w, r, q.Get("db"), q.Get("rp"), q.Get("precision"), q.Get("consistency"))
}

// serveWriteV2 is InfluxDB 2.x's POST /api/v2/write?bucket=db/rp&precision=,
// which InfluxDB 1.8 also serves; org is accepted and ignored.
func (h *handler) serveWriteV2(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	bucket := q.Get("bucket")
	if bucket == "" {
		httpError(w, http.StatusBadRequest, "bucket is required")
		return
	}
	db, rp, _ := strings.Cut(bucket, "/")
	prec := q.Get("precision")
	switch prec {
	case "", "ns", "us", "ms", "s":
	default:
		httpError(w, http.StatusBadRequest, fmt.Sprintf("invalid precision %q: want ns, us, ms or s", prec))
		return
	}
	h.write(w, r, db, rp, prec, q.Get("consistency"))
}

func (h *handler) write(w http.ResponseWriter, r *http.Request, db, rp, precision, consistency string) {
	start := time.Now()
	release, refused := h.writes.acquire(r.Context())
	if refused != "" {
		h.throttled(w, refused)
		return
	}
	defer release()
	user, aerr := h.authenticate(r)
	if aerr != nil {
		h.refuse(w, r, aerr)
		return
	}
	if db == "" {
		httpError(w, http.StatusBadRequest, "database is required")
		return
	}
	if aerr := h.authorizeWrite(user, db); aerr != nil {
		h.refuse(w, r, aerr)
		return
	}
	prec, err := models.ParsePrecision(precision)
	if err != nil {
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}
	level := coordinator.ConsistencyLevelOne
	if consistency != "" {
		if level, err = coordinator.ParseConsistencyLevel(consistency); err != nil {
			httpError(w, http.StatusBadRequest, err.Error())
			return
		}
	}
	d := h.meta.Data()
	if d == nil {
		httpError(w, http.StatusServiceUnavailable, "no cluster state from the meta nodes yet")
		return
	}
	if d.Database(db) == nil {
		// It may have been created through another node a moment ago,
		// before this node's cache heard of it.
		if fresh, err := h.meta.Refresh(r.Context()); err == nil {
			d = fresh
		}
		if d.Database(db) == nil {
			httpError(w, http.StatusNotFound, fmt.Sprintf("database not found: %q", db))
			return
		}
	}

	bufs := idleWriteBuffers.Get()
	defer putWriteBuffers(bufs)
	if err := h.readBody(r, &bufs.body); err != nil {
		if errors.Is(err, errBodyTooLarge) {
			h.metrics.requests.WithLabelValues("write", "413").Inc()
			httpError(w, http.StatusRequestEntityTooLarge, err.Error())
			return
		}
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}
	h.metrics.bodyBytes.Add(float64(bufs.body.Len()))
	// The body is parsed and written writeChunkLines lines at a time, so a
	// large body never has all its points in memory at once (a 5,000-line
	// batch is one chunk). Bad lines are skipped and reported at the end,
	// after the good ones are written, as InfluxDB does.
	bufs.parser.Start(bufs.body.Bytes(), prec, clock.Now().UnixNano())
	var conflicts *coordinator.PartialWriteError // field type conflicts, summed over chunks
	for {
		if err := context.Cause(r.Context()); err != nil {
			// The node is stopping (or the client left): the chunks
			// written so far stay, the client may retry the whole body.
			h.metrics.requests.WithLabelValues("write", "503").Inc()
			httpError(w, http.StatusServiceUnavailable, "write stopped: "+err.Error())
			return
		}
		points := bufs.parser.Next(writeChunkLines)
		if len(points) == 0 {
			break
		}
		err := h.writer.WritePoints(r.Context(), db, rp, level, points)
		var pw *coordinator.PartialWriteError
		switch {
		case err == nil:
			h.metrics.pointsWritten.Add(float64(len(points)))
		case errors.As(err, &pw):
			// The chunk's other points are written: keep going.
			h.metrics.pointsWritten.Add(float64(len(points) - pw.Dropped))
			if conflicts == nil {
				conflicts = &coordinator.PartialWriteError{Reason: pw.Reason}
			}
			conflicts.Dropped += pw.Dropped
		default:
			status, msg := writeErrorAnswer(err)
			h.metrics.requests.WithLabelValues("write", strconv.Itoa(status)).Inc()
			httpError(w, status, msg)
			return
		}
	}
	h.metrics.writeDuration.Observe(time.Since(start).Seconds())
	var partial *models.PartialParseError // Err returns nothing else
	errors.As(bufs.parser.Err(), &partial)
	if partial != nil {
		h.metrics.pointsDropped.Add(float64(partial.Dropped))
	}
	if conflicts != nil || partial != nil {
		// The good lines are written; the client sent bad ones.
		var msgs []string
		if conflicts != nil {
			msgs = append(msgs, conflicts.Error())
		}
		if partial != nil {
			msgs = append(msgs, partial.Error())
		}
		h.metrics.requests.WithLabelValues("write", "400").Inc()
		httpError(w, http.StatusBadRequest, strings.Join(msgs, "; "))
		return
	}
	h.metrics.requests.WithLabelValues("write", "204").Inc()
	w.WriteHeader(http.StatusNoContent)
}

// readBody reads the (possibly gzip-encoded) body into buf, enforcing
// MaxBodySize on the decoded bytes.
func (h *handler) readBody(r *http.Request, buf *bytes.Buffer) error {
	buf.Reset()
	limit := h.cfg.HTTP.MaxBodySize
	if limit > 0 && r.ContentLength > limit {
		return errBodyTooLarge
	}
	var body io.Reader = r.Body
	if strings.EqualFold(r.Header.Get("Content-Encoding"), "gzip") {
		zr, _ := gzipReaders.Get().(*gzip.Reader)
		var err error
		if zr == nil {
			zr, err = gzip.NewReader(r.Body)
		} else {
			err = zr.Reset(r.Body)
		}
		if err != nil {
			return fmt.Errorf("read gzip body: %w", err)
		}
		defer gzipReaders.Put(zr)
		body = zr
	}
	if limit > 0 {
		body = io.LimitReader(body, limit+1)
	}
	if r.ContentLength > 0 && r.ContentLength <= limit {
		buf.Grow(int(r.ContentLength) + bytes.MinRead)
	}
	if _, err := buf.ReadFrom(body); err != nil {
		return fmt.Errorf("read body: %w", err)
	}
	if limit > 0 && int64(buf.Len()) > limit {
		return errBodyTooLarge
	}
	return nil
}

// writeErrorAnswer maps a PointsWriter error to InfluxDB's status code and
// message.
func writeErrorAnswer(err error) (int, string) {
	switch {
	case errors.Is(err, meta.ErrDatabaseNotFound), errors.Is(err, coordinator.ErrDatabaseNotFound):
		return http.StatusNotFound, err.Error()
	case errors.Is(err, meta.ErrRetentionPolicyNotFound), errors.Is(err, coordinator.ErrRetentionPolicyNotFound):
		return http.StatusNotFound, err.Error()
	}
	var pw *coordinator.PartialWriteError
	if errors.As(err, &pw) {
		return http.StatusBadRequest, err.Error()
	}
	return http.StatusInternalServerError, err.Error()
}
