package data

import (
	"encoding/json"
	"net/http"

	"github.com/strata-db/strata/tsdb"
)

// ShardsPath is the client API endpoint listing the shards a node holds;
// `strata ctl show-shards` reads sizes from it.
const ShardsPath = "/strata/v1/shards"

// ShardStatus is one shard a data node holds, as ShardsPath reports it.
type ShardStatus struct {
	ID        uint64 `json:"id"`
	DiskBytes int64  `json:"disk_bytes"`
	Series    int    `json:"series"`
}

// shardStatuses lists the shards of store.
func shardStatuses(store *tsdb.Store) []ShardStatus {
	ids := store.ShardIDs()
	out := make([]ShardStatus, 0, len(ids))
	for _, id := range ids {
		sh := store.Shard(id)
		if sh == nil {
			continue
		}
		out = append(out, ShardStatus{ID: id, DiskBytes: sh.DiskSize(), Series: sh.SeriesN()})
	}
	return out
}

func (h *handler) serveShards(w http.ResponseWriter, r *http.Request) {
	if !h.operator(w, r, false) {
		return
	}
	var list []ShardStatus
	if h.shards != nil {
		list = h.shards()
	}
	if list == nil {
		list = []ShardStatus{}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(list)
}
