package querytest

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/influxdata/influxql"

	"github.com/strata-db/strata/coordinator/query"
	"github.com/strata-db/strata/tsdb/models"
)

// Store is an in-memory query.Storage. The zero value is not usable; use
// NewStore. It is safe for concurrent use.
type Store struct {
	shardDuration int64

	mu    sync.Mutex
	dbs   map[string]map[string]*measurement // "db\x00rp" → name → measurement
	scans []query.ScanRequest

	// BeforeScan, when set, runs at the start of every Scan; an error
	// fails the scan (tests use it to block or inject faults).
	BeforeScan func(ctx context.Context) error
}

type measurement struct {
	series map[string]*series
}

type series struct {
	key    string
	tags   models.Tags
	fields map[string]*field
}

type field struct {
	typ    models.FieldType
	points []query.Point
}

// NewStore returns an empty Store whose series are split into shards of
// shardDuration (0 means one shard).
func NewStore(shardDuration time.Duration) *Store {
	return &Store{shardDuration: int64(shardDuration), dbs: make(map[string]map[string]*measurement)}
}

// WriteLines parses line protocol (ns precision) into db/rp. A point
// overwrites an older one with the same series, field and time.
func (s *Store) WriteLines(db, rp, lines string) error {
	var p models.Parser
	pts, err := p.Parse([]byte(lines), models.PrecisionNanosecond, time.Now().UnixNano())
	if err != nil {
		return fmt.Errorf("parse lines: %w", err)
	}
	s.WritePoints(db, rp, pts)
	return nil
}

// WritePoints stores points (copied) into db/rp.
func (s *Store) WritePoints(db, rp string, pts []models.Point) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ms := s.dbs[db+"\x00"+rp]
	if ms == nil {
		ms = make(map[string]*measurement)
		s.dbs[db+"\x00"+rp] = ms
	}
	for i := range pts {
		pt := pts[i].Clone()
		m := ms[string(pt.Measurement)]
		if m == nil {
			m = &measurement{series: make(map[string]*series)}
			ms[string(pt.Measurement)] = m
		}
		key := string(pt.AppendSeriesKey(nil))
		sr := m.series[key]
		if sr == nil {
			sr = &series{key: key, tags: pt.Tags, fields: make(map[string]*field)}
			m.series[key] = sr
		}
		for _, f := range pt.Fields {
			fl := sr.fields[string(f.Key)]
			if fl == nil {
				fl = &field{typ: f.Value.Type}
				sr.fields[string(f.Key)] = fl
			}
			if fl.typ != f.Value.Type {
				continue
			}
			i := sort.Search(len(fl.points), func(i int) bool { return fl.points[i].Time >= pt.Time })
			if i < len(fl.points) && fl.points[i].Time == pt.Time {
				fl.points[i].Value = f.Value
				continue
			}
			fl.points = slices.Insert(fl.points, i, query.Point{Time: pt.Time, Value: f.Value})
		}
	}
}

// ScanRequests returns the requests Scan received, in order.
func (s *Store) ScanRequests() []query.ScanRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.scans)
}

func (s *Store) measurements(db, rp string) map[string]*measurement {
	return s.dbs[db+"\x00"+rp]
}

// hasData reports whether sr has a point in [min, max].
func (sr *series) hasData(min, max int64) bool {
	for _, f := range sr.fields {
		i := sort.Search(len(f.points), func(i int) bool { return f.points[i].Time >= min })
		if i < len(f.points) && f.points[i].Time <= max {
			return true
		}
	}
	return false
}

// matching returns the series of m matching cond with data in range,
// sorted by key.
func (m *measurement) matching(cond influxql.Expr, min, max int64) []*series {
	var out []*series
	for _, sr := range m.series {
		if query.MatchTags(cond, sr.tags) && sr.hasData(min, max) {
			out = append(out, sr)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key < out[j].key })
	return out
}

// MeasurementNames implements query.Storage.
func (s *Store) MeasurementNames(_ context.Context, db, rp string, cond influxql.Expr, min, max int64) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var names []string
	for name, m := range s.measurements(db, rp) {
		if len(m.matching(cond, min, max)) > 0 {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names, nil
}

// FieldKeys implements query.Storage.
func (s *Store) FieldKeys(_ context.Context, db, rp, name string, min, max int64) ([]query.FieldKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.measurements(db, rp)[name]
	if m == nil {
		return nil, nil
	}
	seen := make(map[query.FieldKey]bool)
	var keys []query.FieldKey
	for _, sr := range m.series {
		for fname, f := range sr.fields {
			k := query.FieldKey{Name: fname, Type: f.typ}
			if !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].Name != keys[j].Name {
			return keys[i].Name < keys[j].Name
		}
		return keys[i].Type < keys[j].Type
	})
	return keys, nil
}

// TagKeys implements query.Storage.
func (s *Store) TagKeys(_ context.Context, db, rp, name string, cond influxql.Expr, min, max int64) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.measurements(db, rp)[name]
	if m == nil {
		return nil, nil
	}
	var keys []string
	for _, sr := range m.matching(cond, min, max) {
		for _, t := range sr.tags {
			keys = append(keys, string(t.Key))
		}
	}
	slices.Sort(keys)
	return slices.Compact(keys), nil
}

// TagValues implements query.Storage.
func (s *Store) TagValues(_ context.Context, db, rp, name, key string, cond influxql.Expr, min, max int64) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.measurements(db, rp)[name]
	if m == nil {
		return nil, nil
	}
	var vals []string
	for _, sr := range m.matching(cond, min, max) {
		if v := sr.tags.Get([]byte(key)); v != nil {
			vals = append(vals, string(v))
		}
	}
	slices.Sort(vals)
	return slices.Compact(vals), nil
}

// SeriesKeys implements query.Storage.
func (s *Store) SeriesKeys(_ context.Context, db, rp, name string, cond influxql.Expr, min, max int64) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.measurements(db, rp)[name]
	if m == nil {
		return nil, nil
	}
	var keys []string
	for _, sr := range m.matching(cond, min, max) {
		keys = append(keys, sr.key)
	}
	return keys, nil
}

// Scan implements query.Storage. Each series is delivered once per shard
// holding data in range, later shards first, so callers cannot rely on
// batch order.
func (s *Store) Scan(ctx context.Context, req query.ScanRequest, fn func(*query.SeriesBatch) error) error {
	if s.BeforeScan != nil {
		if err := s.BeforeScan(ctx); err != nil {
			return err
		}
	}
	s.mu.Lock()
	s.scans = append(s.scans, req)
	m := s.measurements(req.Database, req.RetentionPolicy)[req.Measurement]
	var list []*series
	if m != nil {
		list = m.matching(req.Condition, req.Min, req.Max)
	}
	s.mu.Unlock()
	// Data is never mutated in place after being read under the lock
	// except by overwrites, which tests do not mix with queries.
	for _, sr := range list {
		shards := make(map[int64]*query.SeriesBatch)
		for _, name := range req.Fields {
			f := sr.fields[name]
			if f == nil {
				continue
			}
			lo := sort.Search(len(f.points), func(i int) bool { return f.points[i].Time >= req.Min })
			hi := sort.Search(len(f.points), func(i int) bool { return f.points[i].Time > req.Max })
			for i := lo; i < hi; {
				sh := s.shardOf(f.points[i].Time)
				j := i
				for j < hi && s.shardOf(f.points[j].Time) == sh {
					j++
				}
				b := shards[sh]
				if b == nil {
					b = &query.SeriesBatch{Key: sr.key, Tags: sr.tags}
					shards[sh] = b
				}
				col := query.FieldColumn{Name: name, Type: f.typ}
				if req.Window != nil {
					col.Windows = query.BuildWindows(nil, f.points[i:j], req.Window)
				} else {
					col.Points = f.points[i:j]
				}
				b.Fields = append(b.Fields, col)
				i = j
			}
		}
		ids := make([]int64, 0, len(shards))
		for id := range shards {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		slices.Reverse(ids)
		for _, id := range ids {
			if err := fn(shards[id]); err != nil {
				return err
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) shardOf(t int64) int64 {
	if s.shardDuration <= 0 {
		return 0
	}
	m := t % s.shardDuration
	if m < 0 {
		m += s.shardDuration
	}
	return t - m
}
