package antientropy

import (
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/strata-db/strata/tsdb"
)

// Stable codes of error answers.
const (
	codeShardNotFound = "shard_not_found"
	codeCorrupt       = "corrupt_message"
	codeLayout        = "layout_mismatch"
	codeDisabled      = "disabled"
	codeBadRequest    = "bad_request"
	codeInternal      = "internal"
)

// answer is the JSON body of an error answer.
type answer struct {
	Code  string `json:"code"`
	Error string `json:"error"`
}

// maxRequestSize bounds a request body the handler reads (shard streams
// aside, which are read frame by frame).
const maxRequestSize = 256 << 20

// Handler returns the http.Handler of the anti-entropy RPCs, to be mounted
// on the internode listener under PathPrefix.
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+RootPath, serveMessage(s, s.answerRoot))
	mux.HandleFunc("POST "+NodesPath, serveMessage(s, s.answerNodes))
	mux.HandleFunc("POST "+SeriesPath, serveMessage(s, s.answerSeries))
	mux.HandleFunc("POST "+SlicesPath, serveMessage(s, s.answerSlices))
	mux.HandleFunc("POST "+FetchPath, serveMessage(s, s.answerFetch))
	mux.HandleFunc("POST "+ApplyPath, serveMessage(s, s.answerApply))
	mux.HandleFunc("POST "+ShardSendPath, s.serveSend)
	mux.HandleFunc("POST "+ShardReceivePath, s.serveReceive)
	return mux
}

// readRequest reads and decodes a request body into m.
func readRequest(r *http.Request, m encoding.BinaryUnmarshaler) error {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxRequestSize+1))
	if err != nil {
		return fmt.Errorf("read request: %w", err)
	}
	if len(b) > maxRequestSize {
		return fmt.Errorf("%w: request over %d bytes", ErrCorruptMessage, maxRequestSize)
	}
	if b, err = decompress(b, maxRequestSize); err != nil {
		return err
	}
	return m.UnmarshalBinary(b)
}

// serveMessage adapts a request→answer function to an http.HandlerFunc.
func serveMessage[T any, P interface {
	*T
	encoding.BinaryUnmarshaler
}](s *Service, fn func(r *http.Request, req P) (encoding.BinaryMarshaler, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.cfg.Enabled {
			s.fail(w, ErrDisabled)
			return
		}
		req := P(new(T))
		if err := readRequest(r, req); err != nil {
			s.fail(w, err)
			return
		}
		out, err := fn(r, req)
		if err != nil {
			s.fail(w, err)
			return
		}
		b, _ := out.MarshalBinary()
		w.Header().Set("Content-Type", ContentType)
		w.Write(compress(b))
	}
}

func (s *Service) fail(w http.ResponseWriter, err error) {
	code, status := codeInternal, http.StatusInternalServerError
	switch {
	case errors.Is(err, ErrShardNotFound):
		code, status = codeShardNotFound, http.StatusNotFound
	case errors.Is(err, ErrCorruptMessage):
		code, status = codeCorrupt, http.StatusBadRequest
	case errors.Is(err, ErrLayoutMismatch):
		code, status = codeLayout, http.StatusConflict
	case errors.Is(err, ErrDisabled):
		code, status = codeDisabled, http.StatusServiceUnavailable
	case errors.Is(err, errBadRequest):
		code, status = codeBadRequest, http.StatusBadRequest
	}
	if status == http.StatusInternalServerError {
		s.logger.Warn("anti-entropy rpc failed", "error", err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(answer{Code: code, Error: err.Error()})
}

var errBadRequest = errors.New("bad request")

func (s *Service) answerRoot(r *http.Request, req *RootRequest) (encoding.BinaryMarshaler, error) {
	if int(req.Buckets) != s.buckets || req.Window != s.window {
		return nil, fmt.Errorf("%w: peer uses %d buckets of %v, this node %d of %v", ErrLayoutMismatch,
			req.Buckets, time.Duration(req.Window), s.buckets, time.Duration(s.window))
	}
	if s.hints.Pending(req.From) {
		return &RootResponse{State: RootDeferred}, nil
	}
	sh := s.store.Shard(req.Shard)
	if sh == nil {
		return &RootResponse{State: RootMissing}, nil
	}
	start := time.Now()
	var resp RootResponse
	err := s.withTree(r.Context(), req.Shard, sh, true, func(t *Tree) error {
		switch {
		case t.Empty() && len(sh.Tombstones()) == 0:
			// Nothing held, nothing deleted: the requester streams it all.
			// A replica whose data was all deleted is not "missing": its
			// tombstones must reach the requester through a normal exchange.
			resp.State = RootMissing
		case t.Root(req.Before) == req.Root:
			resp.State = RootEqual
		default:
			resp.State, resp.Windows = RootDiffer, t.WindowRoots(req.Before)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &resp, s.answerPause(r, start)
}

func (s *Service) answerNodes(r *http.Request, req *NodesRequest) (encoding.BinaryMarshaler, error) {
	sh, err := s.heldShard(req.Shard)
	if err != nil {
		return nil, err
	}
	resp := &NodesResponse{Children: make([][]Child, len(req.Nodes))}
	err = s.withTree(r.Context(), req.Shard, sh, false, func(t *Tree) error {
		for i, n := range req.Nodes {
			resp.Children[i] = t.Children(n)
		}
		return nil
	})
	return resp, err
}

func (s *Service) answerSeries(r *http.Request, req *SeriesRequest) (encoding.BinaryMarshaler, error) {
	sh, err := s.heldShard(req.Shard)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	resp := &SeriesResponse{}
	resp.Buckets, err = mapErr(req.Buckets, func(b tsdb.BucketID) ([]SeriesDigest, error) { return seriesDigests(sh, b) })
	if err != nil {
		return nil, err
	}
	return resp, s.answerPause(r, start)
}

func (s *Service) answerSlices(r *http.Request, req *SlicesRequest) (encoding.BinaryMarshaler, error) {
	sh, err := s.heldShard(req.Shard)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	resp := &SlicesResponse{}
	resp.Items, err = mapErr(req.Items, func(it SeriesWindow) (SliceHashes, error) { return seriesSlices(sh, it.Key, it.Window, s.window) })
	if err != nil {
		return nil, err
	}
	return resp, s.answerPause(r, start)
}

func (s *Service) answerFetch(r *http.Request, req *FetchRequest) (encoding.BinaryMarshaler, error) {
	sh, err := s.heldShard(req.Shard)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	cols, served, err := readColumns(sh, req.Ranges, s.cfg.MaxBatchSize)
	if err != nil {
		return nil, err
	}
	resp := &FetchResponse{Served: uint32(served), Columns: cols,
		Tombstones: tombstonesFor(sh.Tombstones(), req.Ranges[:served])}
	return resp, s.answerPause(r, start)
}

// answerPause sleeps off an answer's work since start as the CPU budget
// asks, unless the request serves a shard copy (copyParam).
func (s *Service) answerPause(r *http.Request, start time.Time) error {
	return s.pauseUnlessCopy(r.Context(), r.URL.Query().Get(copyParam) == "1", start)
}

// heldShard returns a local shard, or an error wrapping ErrShardNotFound.
func (s *Service) heldShard(id uint64) (Shard, error) {
	if sh := s.store.Shard(id); sh != nil {
		return sh, nil
	}
	return nil, fmt.Errorf("shard %d: %w", id, ErrShardNotFound)
}

// mapErr applies fn to each element of in, stopping at the first error.
func mapErr[E, R any](in []E, fn func(E) (R, error)) ([]R, error) {
	out := make([]R, len(in))
	for i, e := range in {
		var err error
		if out[i], err = fn(e); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (s *Service) answerApply(r *http.Request, req *ApplyRequest) (encoding.BinaryMarshaler, error) {
	sh, err := s.heldShard(req.Shard)
	if err != nil {
		return nil, err
	}
	if miss := missingTombstones(sh.Tombstones(), req.Tombstones); len(miss) > 0 {
		if err := sh.ApplyTombstones(miss); err != nil {
			return nil, fmt.Errorf("apply tombstones to shard %d: %w", req.Shard, err)
		}
	}
	written, dropped, err := writeColumns(r.Context(), sh, req.Columns)
	if err != nil {
		return nil, fmt.Errorf("write to shard %d: %w", req.Shard, err)
	}
	s.metrics.pointsRepaired.WithLabelValues("in").Add(float64(written))
	return &ApplyResponse{Written: written, Dropped: dropped}, nil
}

func (s *Service) serveSend(w http.ResponseWriter, r *http.Request) {
	var req StreamRequest
	if !s.cfg.Enabled {
		s.fail(w, ErrDisabled)
		return
	}
	if err := readRequest(r, &req); err != nil {
		s.fail(w, err)
		return
	}
	sh := s.store.Shard(req.Shard)
	if sh == nil {
		s.fail(w, fmt.Errorf("shard %d: %w", req.Shard, ErrShardNotFound))
		return
	}
	w.Header().Set("Content-Type", ContentType)
	if _, err := WriteShardStream(r.Context(), w, sh, s.cfg.MaxBatchSize, nil); err != nil {
		// The status is sent; the reader sees a stream without trailer.
		s.logger.Warn("shard stream failed", "shard_id", req.Shard, "error", err)
	}
}

func (s *Service) serveReceive(w http.ResponseWriter, r *http.Request) {
	if !s.cfg.Enabled {
		s.fail(w, ErrDisabled)
		return
	}
	id, err := strconv.ParseUint(r.URL.Query().Get("shard"), 10, 64)
	if err != nil {
		s.fail(w, fmt.Errorf("%w: shard parameter: %w", errBadRequest, err))
		return
	}
	if s.store.Shard(id) == nil {
		if err := s.store.CreateShard(id); err != nil {
			s.fail(w, fmt.Errorf("create shard %d: %w", id, err))
			return
		}
	}
	sh := s.store.Shard(id)
	if sh == nil {
		s.fail(w, fmt.Errorf("shard %d: %w", id, ErrShardNotFound))
		return
	}
	st, err := ReadShardStream(r.Context(), r.Body, sh)
	if err != nil {
		s.fail(w, fmt.Errorf("receive shard %d: %w", id, err))
		return
	}
	s.metrics.pointsRepaired.WithLabelValues("in").Add(float64(st.Values))
	s.logger.Info("received shard stream", "shard_id", id, "values", st.Values, "tombstones", st.Tombstones)
	b, _ := (&ApplyResponse{Written: uint64(st.Values)}).MarshalBinary()
	w.Header().Set("Content-Type", ContentType)
	w.Write(compress(b))
}
