package hh

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"

	"github.com/strata-db/strata/internal/durable"
)

// purgedFile, in the Service's dir, lists the shard time ranges that
// purges and refused enqueues kept from a node, for anti-entropy.
const purgedFile = "purged.json"

// PurgedRange is a shard's time range, [MinTime, MaxTime] in unix ns,
// that a node may lack because hinted handoff dropped writes for it (past
// max-age or max-size, or purged by an operator). Ranges of one node and
// shard are merged.
type PurgedRange struct {
	NodeID  uint64 `json:"node_id"`
	ShardID uint64 `json:"shard_id"`
	MinTime int64  `json:"min_time"`
	MaxTime int64  `json:"max_time"`
}

type purgedKey struct{ node, shard uint64 }

// purgedSet is the persistent set of PurgedRanges. Its methods are safe
// for concurrent use.
type purgedSet struct {
	path   string
	saveMu sync.Mutex // serializes save, so an older list never lands last

	mu     sync.Mutex // protects ranges, dirty
	ranges map[purgedKey][2]int64
	dirty  bool
}

// loadPurged reads the set kept at path; a missing file is empty.
func loadPurged(path string) (*purgedSet, error) {
	p := &purgedSet{path: path, ranges: make(map[purgedKey][2]int64)}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return p, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read purged ranges: %w", err)
	}
	var list []PurgedRange
	if err := json.Unmarshal(b, &list); err != nil {
		return nil, fmt.Errorf("%w: purged ranges %s: %w", ErrCorrupt, path, err)
	}
	for _, r := range list {
		p.merge(r)
	}
	return p, nil
}

func (p *purgedSet) merge(r PurgedRange) {
	k := purgedKey{r.NodeID, r.ShardID}
	if old, ok := p.ranges[k]; ok {
		r.MinTime, r.MaxTime = min(r.MinTime, old[0]), max(r.MaxTime, old[1])
		if old == [2]int64{r.MinTime, r.MaxTime} {
			return
		}
	}
	p.ranges[k] = [2]int64{r.MinTime, r.MaxTime}
	p.dirty = true
}

// add merges a range into the set; save persists it.
func (p *purgedSet) add(node, shard uint64, minT, maxT int64) {
	p.mu.Lock()
	p.merge(PurgedRange{NodeID: node, ShardID: shard, MinTime: minT, MaxTime: maxT})
	p.mu.Unlock()
}

// list returns the ranges ordered by node and shard.
func (p *purgedSet) list() []PurgedRange {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]PurgedRange, 0, len(p.ranges))
	for k, r := range p.ranges {
		out = append(out, PurgedRange{NodeID: k.node, ShardID: k.shard, MinTime: r[0], MaxTime: r[1]})
	}
	slices.SortFunc(out, func(a, b PurgedRange) int {
		return cmp.Or(cmp.Compare(a.NodeID, b.NodeID), cmp.Compare(a.ShardID, b.ShardID))
	})
	return out
}

// filter keeps only the ranges keep accepts.
func (p *purgedSet) filter(keep func(PurgedRange) bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, v := range p.ranges {
		if !keep(PurgedRange{NodeID: k.node, ShardID: k.shard, MinTime: v[0], MaxTime: v[1]}) {
			delete(p.ranges, k)
			p.dirty = true
		}
	}
}

// save writes the set atomically if it changed since the last save.
func (p *purgedSet) save() error {
	p.saveMu.Lock()
	defer p.saveMu.Unlock()
	p.mu.Lock()
	dirty := p.dirty
	p.dirty = false
	p.mu.Unlock()
	if !dirty {
		return nil
	}
	b, err := json.MarshalIndent(p.list(), "", "  ")
	if err == nil {
		err = durable.ReplaceFile(p.path, b)
	}
	if err != nil {
		p.mu.Lock()
		p.dirty = true
		p.mu.Unlock()
		return fmt.Errorf("save purged ranges: %w", err)
	}
	return nil
}
