package data

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/strata-db/strata/antientropy"
	"github.com/strata-db/strata/tsdb"
)

// Client-API endpoints of anti-entropy, used by `strata ctl entropy`.
const (
	// EntropyPath answers GET with the node's antientropy.Status.
	EntropyPath = "/strata/v1/entropy"
	// EntropyRepairPath starts a manual repair of ?shard=ID (POST, 202).
	EntropyRepairPath = "/strata/v1/entropy/repair"
	// EntropyKillPath cancels the running manual repair (POST).
	EntropyKillPath = "/strata/v1/entropy/kill-repair"
)

// entropyService is what the endpoints need of the anti-entropy service.
type entropyService interface {
	Status() antientropy.Status
	Repair(shard uint64) error
	KillRepair() bool
}

// mountEntropy serves the anti-entropy endpoints; repair and kill need an
// admin when auth is enabled.
func (h *handler) mountEntropy(ae entropyService) {
	h.mux.HandleFunc("GET "+EntropyPath, func(w http.ResponseWriter, r *http.Request) {
		if !h.operator(w, r, false) {
			return
		}
		writeJSON(w, http.StatusOK, ae.Status())
	})
	h.mux.HandleFunc("POST "+EntropyRepairPath, func(w http.ResponseWriter, r *http.Request) {
		if !h.operator(w, r, true) {
			return
		}
		id, err := strconv.ParseUint(r.URL.Query().Get("shard"), 10, 64)
		if err != nil {
			httpError(w, http.StatusBadRequest, "shard must be a shard id")
			return
		}
		switch err := ae.Repair(id); {
		case errors.Is(err, antientropy.ErrRepairRunning):
			httpError(w, http.StatusConflict, err.Error())
		case errors.Is(err, antientropy.ErrShardNotFound):
			httpError(w, http.StatusNotFound, err.Error())
		case errors.Is(err, antientropy.ErrDisabled):
			httpError(w, http.StatusServiceUnavailable, err.Error())
		case err != nil:
			httpError(w, http.StatusInternalServerError, err.Error())
		default:
			writeJSON(w, http.StatusAccepted, ae.Status())
		}
	})
	h.mux.HandleFunc("POST "+EntropyKillPath, func(w http.ResponseWriter, r *http.Request) {
		if !h.operator(w, r, true) {
			return
		}
		writeJSON(w, http.StatusOK, map[string]bool{"killed": ae.KillRepair()})
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// aeStore adapts *tsdb.Store to antientropy.Store.
type aeStore struct{ store *tsdb.Store }

// Shard implements antientropy.Store.
func (s aeStore) Shard(id uint64) antientropy.Shard {
	sh := s.store.Shard(id)
	if sh == nil {
		return nil
	}
	return aeShard{sh}
}

// CreateShard implements antientropy.Store.
func (s aeStore) CreateShard(id uint64) error { return s.store.CreateShard(id) }

// aeShard adds SeriesKeys to *tsdb.Shard.
type aeShard struct{ *tsdb.Shard }

// SeriesKeys implements antientropy.Shard from the shard's index.
func (s aeShard) SeriesKeys() [][]byte {
	ix := s.Index()
	var keys [][]byte
	for _, m := range ix.Measurements() {
		for _, id := range ix.MeasurementSeriesIDs(m) {
			if k := ix.SeriesKey(id); k != nil {
				keys = append(keys, k)
			}
		}
	}
	return keys
}
