package data

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"

	"github.com/strata-db/strata/antientropy"
	"github.com/strata-db/strata/coordinator"
	"github.com/strata-db/strata/hh"
	"github.com/strata-db/strata/meta"
)

// Client-API endpoints of hinted handoff, used by `strata ctl hh`.
const (
	// HHPath answers GET with the node's queues, []hh.QueueStatus.
	HHPath = "/strata/v1/hh"
	// HHPurgePath drops every record queued for ?node=ID (POST), answering
	// the hh.PurgeResult.
	HHPurgePath = "/strata/v1/hh/purge"
)

// hhConfig returns the hinted-handoff config with its dir resolved.
func (c *Config) hhConfig() hh.Config {
	hc := c.HintedHandoff
	if hc.Dir == "" {
		hc.Dir = filepath.Join(c.Dir, "hh")
	}
	return hc
}

// hhSender replays queued batches through the internode RPC client,
// turning the answers a node will never change into *hh.RejectError.
type hhSender struct{ rpc *coordinator.RPCClient }

// WriteShardBatch implements hh.Sender.
func (s hhSender) WriteShardBatch(ctx context.Context, nodeID, shardID uint64, batch []byte) error {
	return rejectPermanent(s.rpc.WriteShardBatch(ctx, nodeID, shardID, batch))
}

// rejectPermanent classifies a replayed write's error: a shard the node
// does not hold, a batch it cannot decode or take, and points it dropped
// for a type conflict are final (*hh.RejectError); anything else is
// retried.
func rejectPermanent(err error) error {
	var pw coordinator.PartialWriter
	switch {
	case err == nil:
		return nil
	case errors.Is(err, coordinator.ErrShardNotFound):
		return &hh.RejectError{Reason: "shard_not_found", Err: err}
	case errors.Is(err, coordinator.ErrCorruptBatch), errors.Is(err, coordinator.ErrBodyTooLarge):
		return &hh.RejectError{Reason: "corrupt_batch", Err: err}
	case errors.As(err, &pw):
		if pw.PartialWrite() == 0 {
			return nil
		}
		return &hh.RejectError{Reason: "type_conflict", Points: pw.PartialWrite(), Err: err}
	}
	return err
}

// hhCodec reads point counts and time ranges from batches with the
// coordinator's codec.
type hhCodec struct{}

// PointCount implements hh.BatchCodec.
func (hhCodec) PointCount(batch []byte) int {
	n, _ := coordinator.BatchLen(batch)
	return n
}

// TimeRange implements hh.BatchCodec.
func (hhCodec) TimeRange(batch []byte) (minTime, maxTime int64, err error) {
	pts, err := coordinator.DecodePoints(batch, nil)
	if err != nil {
		return 0, 0, err
	}
	if len(pts) == 0 {
		return 0, 0, errors.New("empty batch")
	}
	minTime, maxTime = pts[0].Time, pts[0].Time
	for i := range pts[1:] {
		minTime, maxTime = min(minTime, pts[i+1].Time), max(maxTime, pts[i+1].Time)
	}
	return minTime, maxTime, nil
}

// hhHints adapts the hinted-handoff service to antientropy.Hints.
type hhHints struct{ svc *hh.Service }

// Pending implements antientropy.Hints.
func (h hhHints) Pending(nodeID uint64) bool { return h.svc.Pending(nodeID) }

// PurgedRanges implements antientropy.Hints: the shard ranges whose
// writes to some node hinted handoff dropped.
func (h hhHints) PurgedRanges() []antientropy.PurgedRange {
	var out []antientropy.PurgedRange
	for _, r := range h.svc.PurgedRanges() {
		out = append(out, antientropy.PurgedRange{Node: r.NodeID, Shard: r.ShardID, Min: r.MinTime, Max: r.MaxTime})
	}
	return out
}

// ClearPurged implements antientropy.Hints.
func (h hhHints) ClearPurged(r antientropy.PurgedRange) error {
	checked := hh.PurgedRange{NodeID: r.Node, ShardID: r.Shard, MinTime: r.Min, MaxTime: r.Max}
	return h.svc.ForgetPurged(func(x hh.PurgedRange) bool { return x != checked })
}

// pruneHHState deletes the queues of data nodes no longer in d, and the
// purged ranges of such nodes or of shards d no longer has.
func pruneHHState(svc *hh.Service, d *meta.Data) error {
	if d == nil {
		return nil
	}
	return errors.Join(
		svc.RemoveNodesExcept(func(id uint64) bool { return d.DataNode(id) != nil }),
		svc.ForgetPurged(func(r hh.PurgedRange) bool {
			return d.DataNode(r.NodeID) != nil && len(d.ShardOwners(r.ShardID)) > 0
		}))
}

// mountHH serves the hinted-handoff endpoints; purge needs an admin when
// auth is enabled.
func (h *handler) mountHH(svc *hh.Service) {
	h.mux.HandleFunc("GET "+HHPath, func(w http.ResponseWriter, r *http.Request) {
		if !h.operator(w, r, false) {
			return
		}
		writeJSON(w, http.StatusOK, svc.Status())
	})
	h.mux.HandleFunc("POST "+HHPurgePath, func(w http.ResponseWriter, r *http.Request) {
		if !h.operator(w, r, true) {
			return
		}
		id, err := strconv.ParseUint(r.URL.Query().Get("node"), 10, 64)
		if err != nil {
			httpError(w, http.StatusBadRequest, "node must be a data node id")
			return
		}
		res, err := svc.Purge(r.Context(), id)
		if err != nil {
			httpError(w, http.StatusInternalServerError, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, res)
	})
}

// openHH opens the hinted-handoff service when it is enabled, returning
// what the points writer and anti-entropy take (nil and antientropy's
// NoHints when it is not).
func (s *Server) openHH() (coordinator.HintedHandoff, antientropy.Hints, error) {
	if !s.cfg.HintedHandoff.Enabled {
		return nil, antientropy.NoHints{}, nil
	}
	s.hh = hh.NewService(s.cfg.hhConfig(), hhSender{s.rpc}, hhCodec{}, s.logger.With("component", "hh"), s.reg)
	if err := s.hh.Open(); err != nil {
		return nil, nil, fmt.Errorf("open hinted handoff: %w", err)
	}
	s.pruneHH()
	return s.hh, hhHints{s.hh}, nil
}

// pruneHH deletes the queues of data nodes meta no longer lists, and
// purged ranges of nodes or shards it no longer has.
func (s *Server) pruneHH() {
	if s.hh == nil {
		return
	}
	if err := pruneHHState(s.hh, s.meta.Data()); err != nil {
		s.logger.Warn("hinted-handoff queues of removed nodes not deleted", "error", err)
	}
}
