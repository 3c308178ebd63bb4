package chaos

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/strata-db/strata/coordinator"
	"github.com/strata-db/strata/coordinator/query"
	"github.com/strata-db/strata/meta"
)

// pointKey names one point of one writer.
type pointKey struct {
	writer string
	time   int64
}

// fixedState serves a cluster state read once to the RPC client.
type fixedState struct{ d *meta.Data }

func (s fixedState) Data() *meta.Data { return s.d }

// shardCopy is one shard's points as one owner holds them.
type shardCopy struct {
	shard  uint64
	owner  uint64
	start  int64 // the shard group's time range, [start, end)
	end    int64
	points map[pointKey]float64
}

// scanOwners reads every shard of db on each of its owners alone (the
// scan RPC serves that node's own replica and nothing else) over the time
// range [minT, maxT].
func scanOwners(st *meta.Data, db string, minT, maxT int64) ([]shardCopy, error) {
	di := st.Database(db)
	if di == nil {
		return nil, fmt.Errorf("database %s is not in the cluster state", db)
	}
	rp := di.RetentionPolicy(di.DefaultRetentionPolicy)
	rpc := coordinator.NewRPCClient(coordinator.NewConfig(), fixedState{st}, nil, nil)
	defer rpc.Close()
	var out []shardCopy
	for _, g := range rp.ShardGroups {
		if !g.DeletedAt.IsZero() || g.EndTime.UnixNano() <= minT || g.StartTime.UnixNano() > maxT {
			continue
		}
		for _, sh := range g.Shards {
			for _, owner := range sh.Owners {
				cp := shardCopy{shard: sh.ID, owner: owner, start: g.StartTime.UnixNano(), end: g.EndTime.UnixNano(), points: map[pointKey]float64{}}
				req := &query.ScanRequest{Database: db, RetentionPolicy: rp.Name, Measurement: "m", Fields: []string{"v"}, Min: minT, Max: maxT}
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				err := rpc.ScanShard(ctx, owner, sh.ID, req, func(b *query.SeriesBatch) error {
					w := string(b.Tags.Get([]byte("w")))
					for _, col := range b.Fields {
						for _, p := range col.Points {
							cp.points[pointKey{w, p.Time}] = math.Float64frombits(p.Value.N)
						}
					}
					return nil
				})
				cancel()
				if err != nil {
					return nil, fmt.Errorf("scan shard %d on node %d: %w", sh.ID, owner, err)
				}
				out = append(out, cp)
			}
		}
	}
	return out, nil
}

// dataVerdict is what the data checkers found over one range of points.
type dataVerdict struct {
	// Acked counts the points acknowledged at level one or above;
	// AckedAny those acknowledged at level any.
	Acked, AckedAny int
	// Lost counts (point, owner) pairs where an acknowledged point at
	// level ≥ one is missing or holds another value (owner 0: no replica
	// holds it); LostAny the same for level any (reported, not a failure:
	// the guarantee is for ≥ one).
	Lost, LostAny int
	// Unsent counts points read back that no writer sent with that value.
	Unsent int
	// Examples holds a few violations.
	Examples []string
}

func (v *dataVerdict) example(format string, args ...any) {
	if len(v.Examples) < 10 {
		v.Examples = append(v.Examples, fmt.Sprintf(format, args...))
	}
}

// checkData checks the writers' points from seq fromSeq on against what
// every owner holds.
func checkData(st *meta.Data, writers []*writer, fromSeq int) (dataVerdict, error) {
	var v dataVerdict
	byDB := map[string][]*writer{}
	for _, w := range writers {
		byDB[w.db] = append(byDB[w.db], w)
	}
	for db, ws := range byDB {
		minT, maxT := int64(math.MaxInt64), int64(math.MinInt64)
		var sent []writerSnapshot
		for _, w := range ws {
			b, next := w.snapshot()
			sent = append(sent, writerSnapshot{w, b, next})
			minT, maxT = min(minT, w.pointTime(fromSeq)), max(maxT, w.pointTime(next))
		}
		copies, err := scanOwners(st, db, minT, maxT)
		if err != nil {
			return v, err
		}
		verify(&v, db, copies, sent, fromSeq)
	}
	return v, nil
}

// writerSnapshot is what one writer had sent when the check began.
type writerSnapshot struct {
	w       *writer
	batches []batch
	next    int
}

// verify adds to v what the owners' copies of db's shards show about the
// writers' points from seq fromSeq on: acknowledged points missing from
// an owner or holding another value there, and points no writer sent.
func verify(v *dataVerdict, db string, copies []shardCopy, sent []writerSnapshot, fromSeq int) {
	byName := map[string]writerSnapshot{}
	for _, s := range sent {
		byName[s.w.name] = s
	}
	for _, cp := range copies {
		for k, val := range cp.points {
			s, ok := byName[k.writer]
			if !ok {
				v.Unsent++
				v.example("%s: node %d holds a point of unknown series w=%q at %d", db, cp.owner, k.writer, k.time)
				continue
			}
			off := k.time - s.w.base
			seq := int(off / int64(pointSpacing))
			if off%int64(pointSpacing) != 0 || seq < 0 || seq >= s.next || val != pointValue(s.w.id, seq) {
				v.Unsent++
				v.example("%s: node %d holds w=%s at %d = %v, which no write sent", db, cp.owner, s.w.name, k.time, val)
			}
		}
	}
	for _, s := range sent {
		w := s.w
		for _, b := range s.batches {
			if b.outcome != Acked || b.first < fromSeq {
				continue
			}
			for seq := b.first; seq < b.first+pointsPerBatch; seq++ {
				t := w.pointTime(seq)
				if w.level == "any" {
					v.AckedAny++
				} else {
					v.Acked++
				}
				lost := func(owner uint64, present bool, got float64) {
					if w.level == "any" {
						v.LostAny++
					} else {
						v.Lost++
					}
					v.example("%s: w=%s (consistency %s) point %d acknowledged, on node %d: present=%v value=%v", db, w.name, w.level, seq, owner, present, got)
				}
				// A shard group may hold several shards and a series lives in
				// one of them: the point must be on every owner of each shard
				// of its time where any owner holds it, and there must be one.
				held := map[uint64]bool{}
				for _, cp := range copies {
					if _, ok := cp.points[pointKey{w.name, t}]; ok && t >= cp.start && t < cp.end {
						held[cp.shard] = true
					}
				}
				if len(held) == 0 {
					lost(0, false, 0)
				}
				for _, cp := range copies {
					if !held[cp.shard] {
						continue
					}
					if got, ok := cp.points[pointKey{w.name, t}]; !ok || got != pointValue(w.id, seq) {
						lost(cp.owner, ok, got)
					}
				}
			}
		}
	}
}

// converged reports whether every hinted-handoff queue is empty and
// every shard's owners report one non-empty Merkle root; otherwise why
// not.
func (c *cluster) converged(st *meta.Data, dbs []string) (bool, string) {
	roots := map[uint64]map[uint64]string{}
	for _, d := range c.data {
		n, err := d.queuedRecords()
		if err != nil {
			return false, fmt.Sprintf("%s: hinted-handoff status: %v", d.Name, err)
		}
		if n > 0 {
			return false, fmt.Sprintf("%s keeps %d hinted-handoff records", d.Name, n)
		}
		r, err := d.roots()
		if err != nil {
			return false, fmt.Sprintf("%s: entropy status: %v", d.Name, err)
		}
		roots[d.id] = r
	}
	for _, db := range dbs {
		di := st.Database(db)
		if di == nil {
			return false, "no database " + db
		}
		for _, g := range di.RetentionPolicy(di.DefaultRetentionPolicy).ShardGroups {
			for _, sh := range g.Shards {
				want := roots[sh.Owners[0]][sh.ID]
				for _, o := range sh.Owners {
					if got := roots[o][sh.ID]; got == "" || got != want {
						return false, fmt.Sprintf("shard %d: roots differ across owners %v", sh.ID, sh.Owners)
					}
				}
			}
		}
	}
	return true, ""
}

// logPaths lists every process's log.
func (c *cluster) logPaths() []string {
	var logs []string
	for _, m := range c.metas {
		logs = append(logs, m.LogPath)
	}
	for _, d := range c.data {
		logs = append(logs, d.LogPath)
	}
	return logs
}

// copyLogs copies every process log into dir.
func (c *cluster) copyLogs(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, p := range c.logPaths() {
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(p)), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// logFindings scans every process log for panics, fatal runtime errors
// and race reports.
func (c *cluster) logFindings() []string {
	var found []string
	for _, path := range c.logPaths() {
		f, err := os.Open(path)
		if err != nil {
			found = append(found, err.Error())
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(line, "panic:") || strings.HasPrefix(line, "fatal error:") || strings.Contains(line, "WARNING: DATA RACE") {
				found = append(found, path+": "+line)
			}
		}
		f.Close()
	}
	return found
}
