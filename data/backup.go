package data

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/strata-db/strata/antientropy"
	"github.com/strata-db/strata/coordinator"
	"github.com/strata-db/strata/tsdb"
	"github.com/strata-db/strata/tsdb/models"
)

// Client-API endpoints of backups and restores, used by `strata ctl backup`
// and `strata ctl restore` (docs/backup.md). Both need an admin when auth
// is enabled.
const (
	// BackupShardPath answers GET ?shard=ID[&digest=HEX] with the shard's
	// stream (antientropy's shard stream format), after reconciling this
	// replica with the shard's other owners. The answer carries the
	// shard's content digest in BackupDigestHeader, taken before the
	// stream, and the stream's totals in the BackupValuesTrailer and
	// BackupTombstonesTrailer trailers; a body without them was cut. When
	// digest equals the shard's digest, the answer is 204 without a body.
	BackupShardPath = "/strata/v1/backup/shard"
	// RestorePath writes the shard stream of a POST body into ?db=&rp=
	// through the write path at consistency all (so the values are routed
	// and replicated by the target cluster's layout) and answers a
	// RestoreResult.
	RestorePath = "/strata/v1/restore"
)

// Headers and trailers of BackupShardPath answers.
const (
	// BackupDigestHeader is the hex SHA-256 over the shard's bucket
	// digests: equal digests mean equal content.
	BackupDigestHeader = "X-Strata-Shard-Digest"
	// BackupUnreconciledHeader lists the other owners (comma-separated
	// node ids) the replica could not be reconciled with.
	BackupUnreconciledHeader = "X-Strata-Unreconciled"
	// BackupValuesTrailer is the number of values the stream carried.
	BackupValuesTrailer = "X-Strata-Values"
	// BackupTombstonesTrailer is the number of tombstones it carried.
	BackupTombstonesTrailer = "X-Strata-Tombstones"
)

// RestoreResult is the answer of RestorePath.
type RestoreResult struct {
	// Values and Tombstones are the stream's totals.
	Values     int `json:"values"`
	Tombstones int `json:"tombstones"`
	// Dropped counts the points (values of one series and timestamp) the
	// write path refused — older than the policy's retention, a field
	// type conflict with data already in a --force target — for
	// DropReason.
	Dropped    int    `json:"dropped,omitempty"`
	DropReason string `json:"drop_reason,omitempty"`
}

// Reconciling before a backup: an exchange deferred because hinted handoff
// towards a peer is not drained is retried this many times, this far
// apart, before the replica is streamed without it.
const (
	backupReconcileTries = 20
	backupReconcilePause = 250 * time.Millisecond
	backupFrameSize      = 1 << 20
)

// backupDeps is what the backup endpoints need of the node.
type backupDeps struct {
	node  func() uint64
	store antientropy.Store
	ae    shardSyncer
}

// mountBackup serves BackupShardPath and RestorePath.
func (h *handler) mountBackup(deps backupDeps) {
	h.mux.HandleFunc("GET "+BackupShardPath, func(w http.ResponseWriter, r *http.Request) {
		if !h.operator(w, r, true) {
			return
		}
		id, err := strconv.ParseUint(r.URL.Query().Get("shard"), 10, 64)
		if err != nil {
			httpError(w, http.StatusBadRequest, "shard must be a shard id")
			return
		}
		h.serveBackupShard(w, r, deps, id)
	})
	h.mux.HandleFunc("POST "+RestorePath, h.serveRestore)
}

// serveBackupShard reconciles shard id with its other owners, then streams
// it unless its digest equals ?digest=.
func (h *handler) serveBackupShard(w http.ResponseWriter, r *http.Request, deps backupDeps, id uint64) {
	sh := deps.store.Shard(id)
	if sh == nil {
		httpError(w, http.StatusNotFound, fmt.Sprintf("shard %d is not held by node %d", id, deps.node()))
		return
	}
	var unreconciled []string
	if d := h.meta.Data(); d != nil {
		for _, peer := range d.ShardOwners(id) {
			if peer == deps.node() {
				continue
			}
			if err := reconcile(r.Context(), deps.ae, id, peer); err != nil {
				h.logger.Warn("backup could not reconcile shard with owner", "shard_id", id, "owner_id", peer, "error", err)
				unreconciled = append(unreconciled, strconv.FormatUint(peer, 10))
			}
		}
	}
	digest, err := contentDigest(r.Context(), sh)
	if err != nil {
		httpError(w, http.StatusInternalServerError, fmt.Sprintf("digest of shard %d: %s", id, err))
		return
	}
	w.Header().Set(BackupDigestHeader, digest)
	w.Header().Set(BackupUnreconciledHeader, strings.Join(unreconciled, ","))
	if digest == r.URL.Query().Get("digest") {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	w.Header().Set("Trailer", BackupValuesTrailer+", "+BackupTombstonesTrailer)
	w.Header().Set("Content-Type", antientropy.ContentType)
	st, err := antientropy.WriteShardStream(r.Context(), w, sh, backupFrameSize, nil)
	if err != nil {
		// The status is sent; without the trailers the client sees a cut
		// stream.
		h.logger.Warn("backup stream failed", "shard_id", id, "error", err)
		return
	}
	w.Header().Set(BackupValuesTrailer, strconv.Itoa(st.Values))
	w.Header().Set(BackupTombstonesTrailer, strconv.Itoa(st.Tombstones))
}

// reconcile runs exchanges of shard with peer until one is not deferred
// (hinted handoff towards peer drained), so this replica holds what peer
// held when it ran.
func reconcile(ctx context.Context, ae shardSyncer, shard, peer uint64) error {
	tick := time.NewTicker(backupReconcilePause)
	defer tick.Stop()
	for range backupReconcileTries {
		state, _, err := ae.Sync(ctx, shard, peer)
		if err != nil {
			return err
		}
		if state != "deferred" {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	return fmt.Errorf("exchanges with node %d deferred %d times: hinted handoff to it is not drained", peer, backupReconcileTries)
}

// contentDigest is the hex SHA-256 over a shard's bucket digests in
// bucket order: it changes whenever a value or tombstone does.
func contentDigest(ctx context.Context, sh antientropy.Shard) (string, error) {
	ds, err := sh.Digests(ctx)
	if err != nil {
		return "", err
	}
	ids := make([]tsdb.BucketID, 0, len(ds))
	for b := range ds {
		ids = append(ids, b)
	}
	slices.SortFunc(ids, func(a, b tsdb.BucketID) int {
		return cmp.Or(cmp.Compare(a.WindowStart, b.WindowStart), cmp.Compare(a.SeriesBucket, b.SeriesBucket))
	})
	h := sha256.New()
	var buf [12]byte
	for _, b := range ids {
		binary.LittleEndian.PutUint64(buf[:8], uint64(b.WindowStart))
		binary.LittleEndian.PutUint32(buf[8:], b.SeriesBucket)
		h.Write(buf[:])
		d := ds[b]
		h.Write(d[:])
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// serveRestore writes the shard stream in the body into ?db=&rp=.
func (h *handler) serveRestore(w http.ResponseWriter, r *http.Request) {
	if !h.operator(w, r, true) {
		return
	}
	q := r.URL.Query()
	db, rp := q.Get("db"), q.Get("rp")
	if db == "" || rp == "" {
		httpError(w, http.StatusBadRequest, "db and rp are required")
		return
	}
	d := h.meta.Data()
	if d == nil || d.RetentionPolicy(db, rp) == nil {
		// The restore may have created it an instant ago.
		d, _ = h.meta.Refresh(r.Context())
	}
	if d == nil || d.RetentionPolicy(db, rp) == nil {
		httpError(w, http.StatusNotFound, fmt.Sprintf("retention policy %q.%q does not exist", db, rp))
		return
	}
	// A shard's stream may take longer to apply than [http] read-timeout
	// allows a write body; this admin request is bounded by its client.
	_ = http.NewResponseController(w).SetReadDeadline(time.Time{})
	ctx := r.Context()
	target := &restoreTarget{write: func(ctx context.Context, points []models.Point) error {
		return h.writer.WritePoints(ctx, db, rp, coordinator.ConsistencyLevelAll, points)
	}}
	st, err := antientropy.ReadShardStream(ctx, r.Body, target)
	if err == nil {
		err = target.flush(ctx)
	}
	switch {
	case errors.Is(err, antientropy.ErrCorruptMessage):
		httpError(w, http.StatusBadRequest, fmt.Sprintf("restore into %q.%q: %s", db, rp, err))
	case err != nil:
		httpError(w, http.StatusInternalServerError, fmt.Sprintf("restore into %q.%q: %s", db, rp, err))
	default:
		h.logger.Info("restored shard stream", "db", db, "rp", rp, "values", st.Values)
		writeJSON(w, http.StatusOK, RestoreResult{Values: st.Values, Tombstones: st.Tombstones, Dropped: target.dropped, DropReason: target.reason})
	}
}
